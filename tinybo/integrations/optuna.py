"""tinybo as an Optuna sampler: `optuna.create_study(sampler=TinyBOSampler())`.

Relative sampling: the parameters every finished trial shares (Optuna's IntersectionSearchSpace) become a tinybo Space
and the tinybo strategy (the GP by default) proposes all of them jointly. RUNNING trials are passed to the strategy as
pending, so parallel workers (`n_jobs`, or several processes on one RDB storage) get distinct, spread-out proposals.
Parameters outside the intersection (conditional or dynamic ones, and every parameter of the very first trial) are
sampled independently by `independent_sampler` (RandomSampler by default).

Float, log float, float with step, int, log int, int with step and categorical distributions are supported.
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from typing import Any

try:
  from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
  from optuna.samplers import BaseSampler, RandomSampler
  from optuna.search_space import IntersectionSearchSpace
  from optuna.study import Study, StudyDirection
  from optuna.trial import FrozenTrial, TrialState
except ImportError as e:  # pragma: no cover
  raise ImportError("tinybo.integrations.optuna needs optuna; install it with: pip install 'tinybo[optuna]'") from e

import numpy as np

from tinybo.integrations import Codec, choice_codec, float_codec, grid_codec, int_codec
from tinybo.optimizer import resolve_strategy
from tinybo.space import Space
from tinybo.strategies import Strategy
from tinybo.trial import Trial
from tinybo.trial import TrialState as TBState

_log = logging.getLogger(__name__)
_ATTR = "tinybo:relative_params"   # a RUNNING trial's relative params, so other workers can treat them as pending
_MAX_ATTR = 2045                   # Optuna's RDB storage limits a system attr's length: long JSON is split in chunks

def codec(d: BaseDistribution) -> Codec:
  """An Optuna distribution as a tinybo parameter."""
  if isinstance(d, FloatDistribution):
    return float_codec(d.low, d.high, d.log) if d.step is None else grid_codec(d.low, d.high, d.step, integer=False)
  if isinstance(d, IntDistribution):
    return int_codec(d.low, d.high, d.log) if d.step == 1 else grid_codec(d.low, d.high, d.step, integer=True)
  if isinstance(d, CategoricalDistribution): return choice_codec(d.choices)
  raise TypeError(f"TinyBOSampler cannot model {type(d).__name__}; it is sampled independently")

class TinyBOSampler(BaseSampler):
  """An Optuna sampler driven by a tinybo strategy.

  strategy: "gp" (default), "random", or a tinybo strategy object such as tb.GP(kernel="matern32").
  seed: seeds the strategy and the independent sampler (None: a random seed).
  independent_sampler: samples what the strategy cannot model (default RandomSampler(seed)).
  warn_independent_sampling: log a warning (once per parameter) when a parameter falls back to independent sampling
    after the first trial, which usually means a conditional parameter.
  """
  def __init__(self, strategy: str | Strategy = "gp", seed: int | None = None, independent_sampler: BaseSampler | None = None,
               warn_independent_sampling: bool = True):
    self._strategy = resolve_strategy(strategy)
    self._seed = int(np.random.SeedSequence().entropy % (2**31)) if seed is None else int(seed)
    self._independent = independent_sampler or RandomSampler(seed=seed)
    self._search_space = IntersectionSearchSpace()
    self._warn, self._warned = warn_independent_sampling, set()
    self._unreadable: set[int] = set()   # RUNNING trials whose shared proposal could not be read (warned once each)
    self._lock = threading.Lock()   # study.optimize(n_jobs>1) calls the sampler from several threads; strategies need not be thread-safe

  def reseed_rng(self) -> None:
    self._seed = int(np.random.SeedSequence().entropy % (2**31))
    self._independent.reseed_rng()

  def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
    # single-value distributions carry no information: Optuna fills them in itself
    return {n: d for n, d in self._search_space.calculate(study).items() if not d.single()}

  def sample_relative(self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
    if not search_space: return {}
    if len(study.directions) > 1:
      raise ValueError("TinyBOSampler optimizes a single objective; create the study with direction=..., not directions=[...]")
    codecs = {n: codec(d) for n, d in search_space.items()}
    space = Space({n: c.param for n, c in codecs.items()})
    states = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING, TrialState.FAIL)
    minimize = study.direction == StudyDirection.MINIMIZE
    # read, propose and publish under one lock: a thread of study.optimize(n_jobs>1) must see the other's proposal as
    # pending, or a strategy that is deterministic in (seed, history) proposes the same point twice
    with self._lock:
      history = []
      for t in study.get_trials(deepcopy=False, states=states):
        if t.number == trial.number: continue
        tb = _to_tinybo(t, codecs, space, self._unreadable)
        if tb is not None: history.append(tb)
      proposal = self._strategy.suggest(space, history, 1, seed=self._seed, minimize=minimize)
      if not proposal: return {}
      params = {n: codecs[n].from_tb(proposal[0][n]) for n in search_space}
      _share(study, trial, params)
    return params

  def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution) -> Any:
    if self._warn and param_name not in self._warned and any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
      self._warned.add(param_name)
      _log.warning(f"TinyBOSampler samples '{param_name}' independently with {type(self._independent).__name__} (it is not in every "
                   f"finished trial with one distribution, e.g. a conditional parameter); the GP models only the shared parameters")
    return self._independent.sample_independent(study, trial, param_name, param_distribution)

  def before_trial(self, study: Study, trial: FrozenTrial) -> None: self._independent.before_trial(study, trial)

  def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None) -> None:
    self._independent.after_trial(study, trial, state, values)

def _share(study: Study, trial: FrozenTrial, params: dict[str, Any]) -> None:
  """Store the relative params on the trial: until the objective has called every suggest_*, trial.params lacks some
  of them, and the other workers must still see the whole pending configuration."""
  s = json.dumps(params)
  for i in range(0, len(s), _MAX_ATTR): study._storage.set_trial_system_attr(trial._trial_id, f"{_ATTR}:{i // _MAX_ATTR}", s[i:i + _MAX_ATTR])

def _pending_params(t: FrozenTrial, unreadable: set[int]) -> dict[str, Any]:
  """The whole proposal of a RUNNING trial. The chunks are written one by one: a worker killed between two of them
  leaves a partial JSON behind, and then the trial's own reported params are all that is known (with a warning, once)."""
  chunks, i = [], 0
  while (c := t.system_attrs.get(f"{_ATTR}:{i}")) is not None: chunks.append(c); i += 1
  try:
    shared = json.loads("".join(chunks)) if chunks else {}
    if not isinstance(shared, dict): raise ValueError(f"a {type(shared).__name__}, not an object")
  except (ValueError, TypeError, RecursionError) as e:
    if t.number not in unreadable:
      unreadable.add(t.number)
      _log.warning(f"TinyBOSampler: the proposal stored on running trial {t.number} is unreadable ({type(e).__name__}: {str(e)[:120]}; "
                   "a partial write?); using the parameters the trial has reported instead")
    shared = {}
  return {**shared, **t.params}

def _to_tinybo(t: FrozenTrial, codecs: dict[str, Codec], space: Space, unreadable: set[int]) -> Trial | None:
  """An Optuna trial as a tinybo Trial over `space`, or None when it lacks a parameter or lies outside the space."""
  finished = t.state.is_finished()
  params = t.params if finished else _pending_params(t, unreadable)
  if any(n not in params for n in codecs): return None
  if finished and any(t.distributions.get(n) is None for n in codecs): return None
  try: p = space.validate({n: c.to_tb(params[n]) for n, c in codecs.items()})
  except (ValueError, TypeError): return None
  if t.state == TrialState.COMPLETE:
    if t.value is None or not np.isfinite(t.value): return Trial(t.number, p, TBState.FAILED)
    return Trial(t.number, p, TBState.COMPLETE, float(t.value))
  return Trial(t.number, p, TBState.FAILED if t.state == TrialState.FAIL else TBState.PENDING)

__all__ = ["TinyBOSampler", "codec"]
