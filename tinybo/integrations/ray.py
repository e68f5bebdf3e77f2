"""tinybo as a Ray Tune search algorithm: `tune.TuneConfig(search_alg=TinyBOSearch(metric="loss", mode="min"))`.

  from ray import tune
  from tinybo.integrations.ray import TinyBOSearch
  search = tune.search.ConcurrencyLimiter(TinyBOSearch(), max_concurrent=4)
  tuner = tune.Tuner(train_fn, param_space={"lr": tune.loguniform(1e-4, 1e-1), "units": tune.randint(16, 257),
                                            "act": tune.choice(["relu", "gelu"])},
                     tune_config=tune.TuneConfig(search_alg=search, metric="loss", mode="min", num_samples=30))

The space is a tinybo Space (or a dict of tb.Float/Int/Categorical and constants) passed to the constructor, or Ray
Tune's own primitives in `param_space`: uniform, loguniform, quniform, qloguniform, randint, lograndint, qrandint,
qlograndint, choice (nested dicts too; randint's upper bound is exclusive, as in Ray, and so is qrandint's and
qlograndint's with q=1). Trials still running are handed to the strategy as pending, so concurrent trials get distinct,
spread-out suggestions. `save`/`restore` keep every observation and every pending trial; the strategy is not saved: it
refits from the history (a new tb.GP's first fit is cold, so a restored search can take another path, as a reopened
study does).

Early stopping: every intermediate result is recorded as a tinybo report at its `training_iteration` (`curves`). A trial
that Ray's scheduler (ASHAScheduler, HyperBandScheduler, a stopper) ends is recorded as STOPPED, with its last reported
value and step, when it ended before the full length of a run: `max_step` (the scheduler's max_t) or, when not given,
the highest step any trial has reported so far (a trial first taken as complete becomes stopped as soon as another one
goes further). Never as complete at full length, which would tell the model a partial result is a final one. A trial
whose trainable returned on its own is complete. Ray shows a searcher the difference: a result that made the scheduler
stop the trial never reaches `on_trial_result`, only `on_trial_complete`; a trial stopped while paused (HyperBandScheduler)
gets `on_trial_complete` with no result, and ends at its last report (before any report: STOPPED without a value,
nothing measured, never "bad here"). "Never reached" is told by the result itself (its
metric and the times, iteration counts and pid Ray adds to every result), not by its step and value: a deterministic run
again that is stopped at the earlier run's last step repeats those. A trial Ray runs again under its trial_id (a
restored experiment, a retry after a failure) reports its steps again: its last run's results replace the earlier ones.
Imports: integrations (the codecs), optimizer (resolve_strategy, takes_reports), strategies, space, trial, ray.
"""
from __future__ import annotations

import copy
import math
import numbers
import pickle
import time
from collections.abc import Collection, Mapping
from typing import Any

try:
  from ray.tune.search import UNDEFINED_METRIC_MODE, UNDEFINED_SEARCH_SPACE, Searcher
  from ray.tune.search.sample import Categorical as RayCategorical
  from ray.tune.search.sample import Domain, Function, LogUniform, Quantized, Uniform
  from ray.tune.search.sample import Float as RayFloat
  from ray.tune.search.sample import Integer as RayInteger
  from ray.tune.search.variant_generator import parse_spec_vars
except ImportError as e:  # pragma: no cover
  raise ImportError("tinybo.integrations.ray needs Ray Tune; install it with: pip install 'tinybo[ray]'") from e

from tinybo.integrations import Codec, choice_codec, float_codec, grid_codec, int_codec, resolve_seed, round_codec
from tinybo.optimizer import resolve_strategy, takes_reports
from tinybo.space import PARAM_TYPES, Space
from tinybo.strategies import SearchExhausted, Strategy
from tinybo.trial import Report, Trial, TrialState

_STATE_VERSION = 2   # 2: reports and scheduler-ended trials; version 1 states (no reports) still load

def _name(path: tuple) -> str: return "/".join(str(p) for p in path)

def domain_codec(name: str, d: Domain) -> Codec:
  """One Ray Tune domain as a tinybo parameter."""
  sampler, q = d.get_sampler(), None
  if isinstance(sampler, Quantized): q, sampler = sampler.q, sampler.get_sampler()
  if isinstance(d, RayCategorical):
    if any(_holds_domain(c) for c in d.categories):   # it would reach the trainable unresolved, a Domain object as a value
      raise ValueError(f"parameter '{name}': a tune.choice whose choices hold tune domains is a nested space TinyBOSearch cannot "
                       "search; pass a tinybo Space with when= conditions, e.g. {'opt': tb.Categorical(['sgd', 'adam']), "
                       "'lr': tb.Float(1e-4, 1e-1, when={'opt': 'sgd'})}")
    return choice_codec(d.categories)
  if isinstance(d, (RayFloat, RayInteger)) and isinstance(sampler, (Uniform, LogUniform)):
    integer, log = isinstance(d, RayInteger), isinstance(sampler, LogUniform)
    # Ray samples ints in [lower, upper): the tinybo Int is inclusive. An int quantized by q=1 (tune.qrandint(1, 10)'s
    # default q) is too; with q > 1 the upper bound is included
    if q is None or (integer and q == 1):
      if integer and d.upper <= d.lower:   # the Int(lower, upper - 1) error would name a bound the user never wrote
        raise ValueError(f"parameter '{name}': the int domain [{d.lower}, {d.upper}) has no value (Ray's upper bound is exclusive); "
                         f"give an upper bound above {d.lower}, e.g. tune.randint({d.lower}, {d.lower + 1}) for {d.lower} alone")
      return int_codec(d.lower, d.upper - 1, log) if integer else float_codec(d.lower, d.upper, log)
    # quantized: multiples of q inside [lower, upper], both ends included, as Ray samples them
    lo, hi = math.ceil(d.lower / q - 1e-9) * q, math.floor(d.upper / q + 1e-9) * q
    if hi < lo: raise ValueError(f"parameter '{name}': no multiple of q={q} lies in [{d.lower}, {d.upper}]; widen the bounds or change q")
    return round_codec(lo, hi, q, integer) if log else grid_codec(lo, hi, q, integer)
  what = "sample_from" if isinstance(d, Function) else f"{type(d).__name__} with {type(sampler).__name__} sampling"
  raise ValueError(f"parameter '{name}': TinyBOSearch cannot search {what}; use tune.uniform/loguniform/quniform/randint/lograndint/"
                   f"qrandint/choice, or pass a tinybo Space")

def _holds_domain(v: Any) -> bool:
  if isinstance(v, Domain): return True
  if isinstance(v, Mapping): return "grid_search" in v or any(_holds_domain(x) for x in v.values())
  return isinstance(v, (list, tuple)) and any(_holds_domain(x) for x in v)

def convert_search_space(config: Mapping) -> tuple[Space, dict[str, Codec], dict[str, tuple]]:
  """A Ray Tune param_space -> (tinybo Space over the searched names, codecs, name -> nested path). Constants are not
  part of the Space: Ray merges them into each trial's config itself."""
  _, domains, grids = parse_spec_vars(dict(config))
  if grids: raise ValueError(f"parameter '{_name(grids[0][0])}' is a tune.grid_search; TinyBOSearch picks values itself: use tune.choice")
  codecs = {_name(p): domain_codec(_name(p), d) for p, d in domains}
  return Space({n: c.param for n, c in codecs.items()}), codecs, {_name(p): tuple(p) for p, _ in domains}

def list_templates(config: Mapping, paths: Mapping[str, tuple]) -> dict[tuple, list]:
  """The lists of a param_space that hold a searched domain, by path (copies). Ray puts a suggestion's list in place of
  the param_space's list, it does not merge them: a suggestion rebuilds each whole list, its constants kept."""
  out: dict[tuple, list] = {}
  for path in paths.values():
    d: Any = config
    for i, k in enumerate(path[:-1]):
      d = d[k]
      if isinstance(d, (list, tuple)) and not any(path[:j] in out for j in range(1, i + 2)): out[path[:i + 1]] = copy.deepcopy(list(d))
  return out

def _nest(flat: Mapping[str, Any], paths: Mapping[str, tuple], lists: Mapping[tuple, list] | None = None) -> dict:
  """{name: value} -> the nested config; a list of the param_space (`lists`, from list_templates) is rebuilt whole."""
  out: dict = {}
  for n, v in flat.items():
    path = paths.get(n, (n,))
    d: Any = out
    for i, k in enumerate(path[:-1]):
      if isinstance(d, dict) and k not in d: d[k] = copy.deepcopy((lists or {}).get(path[:i + 1], {}))
      d = d[k]
    d[path[-1]] = v
  return out

def _flat(config: Mapping, paths: Mapping[str, tuple], optional: Collection[str] = ()) -> dict:
  """Nested config -> {name: value}; a name in `optional` (a conditional parameter, inactive in this config) may be absent."""
  out = {}
  for n, path in paths.items():
    d: Any = config
    for k in path:
      if not (k in d if isinstance(d, Mapping) else isinstance(d, (list, tuple)) and isinstance(k, int) and 0 <= k < len(d)):
        if n in optional: break
        raise ValueError(f"config {dict(config)!r} has no value for parameter '{n}'")
      d = d[k]
    else: out[n] = d
  return out

# what Ray adds to every result (Trainable.train): a run again of a trial gives its results other times (and a new pid),
# however deterministic its step and metric
_RUN_KEYS = ("training_iteration", "time_total_s", "time_since_restore", "iterations_since_restore", "timestamp", "pid")

def _fingerprint(result: Mapping, value: float) -> tuple:
  """One result as on_trial_complete compares it with the last one on_trial_result got: its metric and Ray's own fields
  (a caller that passes none of them, a test, compares step and value alone)."""
  return (value, *(repr(result.get(k)) for k in _RUN_KEYS))

class TinyBOSearch(Searcher):
  """A Ray Tune Searcher driven by a tinybo strategy (the GP by default).

  space: a tinybo Space (or a dict of tb.Float/Int/Categorical and constants); None to take Ray's param_space.
  metric, mode: the reported metric and "min"/"max" (or set them in tune.TuneConfig).
  strategy: "gp", "random", "grid" or a strategy object such as tb.GP(kernel="matern32").
  seed: the strategy's seed (same seed and history -> same suggestions); None: a random one.
  points_to_evaluate: configurations to try first (e.g. a known default).
  evaluated_rewards: the metric values of points_to_evaluate already run (one per point, as Ray's OptunaSearch takes
    them): the points are recorded as complete with these values instead of being run.
  max_step: the training_iteration of a full run (ASHAScheduler's max_t): a trial the scheduler ends before it is
    STOPPED. None (default): the highest training_iteration any trial has reported so far.
  """
  def __init__(self, space: Space | Mapping | None = None, metric: str | None = None, mode: str | None = None, strategy: str | Strategy = "gp",
               seed: int | None = 0, points_to_evaluate: list[dict] | None = None, max_step: int | None = None,
               evaluated_rewards: list[float] | None = None):
    if isinstance(metric, list) or isinstance(mode, list): raise ValueError("TinyBOSearch optimizes one metric; pass metric='name', mode='min'|'max'")
    # before Ray's Searcher, whose assertion names neither the value nor the argument
    if mode is not None and mode not in ("min", "max"): raise ValueError(f"mode={mode!r}; use 'min' or 'max'")
    super().__init__(metric=metric, mode=mode)
    self._strategy = resolve_strategy(strategy)
    self._seed = resolve_seed(seed)
    self._space: Space | None = None
    self._codecs: dict[str, Codec] = {}
    self._paths: dict[str, tuple] = {}
    self._lists: dict[tuple, list] = {}      # the param_space's lists that hold domains (see list_templates)
    self._trials: list[Trial] = []          # every trial ever suggested or added, in order: the strategy's history
    self._live: dict[str, int] = {}         # Ray trial_id -> index into _trials, while it runs
    self._errored: dict[str, int] = {}      # Ray trial_id -> index into _trials, for a trial that errored (resume_errored runs it again)
    pts = points_to_evaluate
    if pts is not None and (isinstance(pts, (Mapping, str)) or not all(isinstance(p, Mapping) for p in pts)):
      raise TypeError(f"points_to_evaluate={points_to_evaluate!r}: pass a list of configurations, e.g. [{{'lr': 0.01}}]")
    self._queue = [dict(p) for p in (points_to_evaluate or [])]
    rewards = evaluated_rewards
    if rewards is not None and (isinstance(rewards, (Mapping, str)) or not isinstance(rewards, Collection) or len(rewards) != len(self._queue)):
      raise ValueError(f"evaluated_rewards={evaluated_rewards!r}: give one metric value per point of points_to_evaluate "
                       f"({len(self._queue)} points), or None to run the points")
    self._rewards = None if rewards is None else list(rewards)
    if max_step is not None and (isinstance(max_step, bool) or not isinstance(max_step, numbers.Integral) or max_step < 1):
      raise ValueError(f"max_step={max_step!r}; use the training_iteration of a full run (an int >= 1, e.g. ASHAScheduler's max_t) or None")
    self._max_step = None if max_step is None else int(max_step)
    self._curves: dict[int, list[Report]] = {}   # index into _trials -> its reports, steps increasing
    self._ended: set[int] = set()                 # trials the scheduler ended (their last result never reached on_trial_result)
    self._seen: dict[int, tuple] = {}             # index into _trials -> the last result on_trial_result got (`_fingerprint`)
    self._top = 0                                 # the highest step any trial has reported
    self._own_space = space is not None      # given to the constructor: Tune passes metric/mode only with a non-empty param_space
    if space is not None: self._set_space(space)

  def _set_space(self, space: Space | Mapping) -> None:
    if isinstance(space, Space) or (isinstance(space, Mapping) and any(isinstance(v, PARAM_TYPES) for v in space.values())):
      self._space = space if isinstance(space, Space) else Space(space)
      self._codecs, self._paths = {}, {n: (n,) for n in self._space.names}
    elif isinstance(space, Mapping):
      self._space, self._codecs, self._paths = convert_search_space(space)
      self._lists = list_templates(space, self._paths)
    else: raise TypeError(f"space={space!r}; pass a tinybo Space, a dict of Ray Tune domains (tune.uniform, ...), or None")
    if not self._space.names: raise ValueError("the search space has no searchable parameter; add tune.uniform(...)/tb.Float(...) entries")
    for i, p in enumerate(self._queue):   # a bad point is an error now, not when its turn comes in the middle of a run
      try: self._to_tb(p)
      except (ValueError, TypeError) as e: raise type(e)(f"points_to_evaluate[{i}]: {e}") from None
    if self._rewards is not None:   # already run: recorded as results, never run again
      for p, r in zip(self._queue, self._rewards): self._add(self._to_tb(p), r)
      self._queue, self._rewards = [], None

  # ***** Searcher API *****

  def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec) -> bool:
    # two answers to one question are a mistake: one was silently dropped (Tune's over a searcher without a space, the
    # searcher's over Tune's with one), and the searcher optimized another metric or direction than Tune ranked by
    for k, mine, theirs in (("metric", self._metric, metric), ("mode", self._mode, mode)):
      if mine and theirs and mine != theirs:
        raise ValueError(f"TinyBOSearch has {k}={mine!r} and tune.TuneConfig {k}={theirs!r}; set metric and mode in one place "
                         "(tune.TuneConfig), or the same in both")
    if self._space is not None:
      # Ray's contract: a space set already wins, and Tune then rejects a param_space with domains. The same space again
      # (a restored searcher given the same param_space) is accepted.
      try: same = bool(self._codecs) and convert_search_space(config) == (self._space, self._codecs, self._paths)
      except (ValueError, TypeError): same = False
      if not same:
        # Tune's metric and mode still apply where the searcher has none (a param_space of constants only)
        self._adopt(metric if not self._metric else None, mode if not self._mode else None)
        return False
    else: self._set_space(config)
    self._adopt(metric, mode)
    return True

  def _adopt(self, metric: str | None, mode: str | None) -> None:
    if metric: self._metric = metric
    if mode: self._mode = mode

  def _check(self) -> None:
    if self._space is None: raise RuntimeError(UNDEFINED_SEARCH_SPACE.format(cls=type(self).__name__, space="space"))
    if not self._metric or not self._mode:
      if not getattr(self, "_own_space", False):   # (a searcher unpickled from an older version has no _own_space)
        raise RuntimeError(UNDEFINED_METRIC_MODE.format(cls=type(self).__name__, metric=self._metric, mode=self._mode))
      # Tune passes TuneConfig's metric and mode along with param_space: an empty param_space passes neither
      raise RuntimeError(f"TinyBOSearch has metric={self._metric!r}, mode={self._mode!r}: a searcher given its own space takes them "
                         "from its constructor, TinyBOSearch(space, metric='loss', mode='min'), not from tune.TuneConfig")
    if self._mode not in ("min", "max"): raise ValueError(f"mode={self._mode!r}; use 'min' or 'max'")

  def _to_tb(self, config: Mapping) -> dict:
    flat = _flat(config, self._paths, optional=self._space.conditions)
    return self._space.validate({n: self._encode(n, v) for n, v in flat.items()})

  def _encode(self, name: str, v: Any) -> Any:
    if name not in self._codecs: return v
    try: return self._codecs[name].to_tb(v)
    except (ValueError, TypeError) as e: raise ValueError(f"parameter '{name}': {e}") from None

  def _to_ray(self, params: Mapping) -> dict:
    flat = {n: (self._codecs[n].from_tb(params[n]) if n in self._codecs else params[n]) for n in self._space.names if n in params}
    return _nest({**flat, **self._space.constants}, self._paths, self._lists)   # a Ray param_space gives no constants: Ray merges its own

  def suggest(self, trial_id: str) -> dict | None:
    self._check()
    if self._queue: params = self._to_tb(self._queue.pop(0))   # checked when the space was set
    else:
      # a strategy that learns from learning curves takes them as reports=; the others see stopped trials as taken
      extra = {"reports": {i: list(c) for i, c in self._curves.items()}} if takes_reports(self._strategy) else {}
      try: out = self._strategy.suggest(self._space, self._trials, 1, seed=self._seed, minimize=self._mode == "min", **extra)
      except SearchExhausted: return Searcher.FINISHED
      if not out: return Searcher.FINISHED
      # what the trial will run, as its recorded value (the codecs' round trip is exact)
      params = self._to_tb(self._to_ray(self._space.validate(out[0])))
    self._live[trial_id] = len(self._trials)
    self._trials.append(Trial(len(self._trials), params))
    return self._to_ray(params)

  def _value(self, result: Mapping | None) -> float | None:
    """The metric of a result as a finite float, else None."""
    v = None if not result else result.get(self._metric)
    if isinstance(v, bool): return None
    try: v = None if v is None else float(v)
    except (TypeError, ValueError): return None
    return v if v is not None and math.isfinite(v) else None

  def _report(self, i: int, step: Any, value: float) -> bool:
    """Record value at step for trial i; False when step is not an int. A step at or below its last report means Ray
    ran the trial again (a restored experiment, a retry after a failure, a paused trial without a checkpoint), from the
    start or from an earlier checkpoint: that run's results replace the earlier run's from this step on, as in Ray's own
    record of the trial (kept, they made one curve of two runs, and a rerun the scheduler stopped looked complete)."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral): return False
    curve = self._curves.setdefault(i, [])
    while curve and curve[-1].step >= step: curve.pop()
    curve.append(Report(int(step), value, False, time.time()))
    self._trials[i].last_step = int(step)
    self._top = max(self._top, int(step))
    return True

  def _relabel(self) -> None:
    """The trials the scheduler ended: STOPPED below the full length (max_step, else the highest step seen), else COMPLETE."""
    full = self._max_step if self._max_step is not None else self._top
    for i in self._ended:
      t, curve = self._trials[i], self._curves[i]
      stopped = curve[-1].step < full
      t.state = TrialState.STOPPED if stopped else TrialState.COMPLETE
      curve[-1] = curve[-1]._replace(stop=stopped)

  def _running(self, trial_id: str) -> int | None:
    """The index of a running trial, or of an errored one that Ray runs again (Tuner.restore(resume_errored=True) keeps
    its trial_id): it is pending again, and its results count. None: not ours."""
    if trial_id not in self._live and trial_id in self._errored:
      i = self._live[trial_id] = self._errored.pop(trial_id)
      self._trials[i].state, self._trials[i].value = TrialState.PENDING, None
    return self._live.get(trial_id)

  def on_trial_result(self, trial_id: str, result: dict) -> None:
    """An intermediate result the scheduler let through: a report at its training_iteration."""
    i = self._running(trial_id)
    v = self._value(result)
    if i is None or v is None: return
    self._seen[i] = _fingerprint(result, v)
    if self._report(i, result.get("training_iteration"), v) and self._ended: self._relabel()

  def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
    i = self._running(trial_id)
    if i is None: return   # not ours (e.g. finished twice, or started before a restore from an older checkpoint)
    del self._live[trial_id]
    seen = self._seen.pop(i, None)   # the last result on_trial_result got; kept no longer than the trial runs
    t = self._trials[i]
    if result is None and not error:
      # Ray stops a PAUSED (or PENDING) trial with no result (HyperBandScheduler ends a paused bracket, PBT): the scheduler
      # ended it at its last report; before any, it measured nothing: stopped without a value, taken but no value (failed,
      # the GP would take it for the worst value there)
      if not self._curves.get(i):
        t.state, t.value = TrialState.STOPPED, None
        return
      t.state, t.value = TrialState.COMPLETE, self._curves[i][-1].value
      self._ended.add(i)
      self._relabel()
      return
    v = None if error else self._value(result)
    if v is None:   # crashed, or no finite metric: never fed to the model
      t.state = TrialState.FAILED
      if error: self._errored[trial_id] = i
      return
    t.state, t.value = TrialState.COMPLETE, v
    # a final result that on_trial_result never saw made the scheduler (or a stopper) end the trial; a trainable that
    # returned on its own repeats its last result. The very result, not its step and value: a deterministic run again
    # (Tuner.restore from a checkpoint) that the scheduler stops at the earlier run's last step repeats those
    curve, step = self._curves.get(i), result.get("training_iteration")
    if seen is not None: repeat = seen == _fingerprint(result, v)
    else: repeat = bool(curve) and (curve[-1].step, curve[-1].value) == (step, v)   # (a state saved before _seen was kept)
    if not repeat and self._report(i, step, v): self._ended.add(i)
    self._relabel()

  def add_evaluated_point(self, parameters: dict, value: float, error: bool = False, pruned: bool = False,
                          intermediate_values: list[float] | None = None) -> None:
    """A result from outside this searcher (warm start). `intermediate_values` become its reports at steps 1, 2, ...;
    a pruned point is STOPPED at the last of them (without them: STOPPED without a value, nothing measured); errored
    points, and a NaN or infinite value, are failed."""
    self._check()
    self._add(self._to_tb(parameters), value, error, pruned, intermediate_values)

  def _add(self, params: dict, value: Any, error: bool = False, pruned: bool = False, intermediate_values: list[float] | None = None) -> None:
    try: v = None if error or value is None else float(value)
    except (TypeError, ValueError): v = None
    curve = [Report(s, float(x), False, time.time()) for s, x in enumerate(intermediate_values or [], 1) if x is not None and math.isfinite(x)]
    if v is not None and not math.isfinite(v): v = None
    # pruned before any report: its value is at no known step, nothing measured (a NaN is a measured failure): stopped
    # without a value, taken but no value, as under Optuna (failed, the GP would take it for the worst value there)
    unmeasured = pruned and not curve and not error and (value is None or v is not None)
    if pruned and not curve: v = None
    state = TrialState.STOPPED if unmeasured else TrialState.FAILED if v is None else TrialState.STOPPED if pruned else TrialState.COMPLETE
    i = len(self._trials)
    self._trials.append(Trial(i, params, state, v, last_step=curve[-1].step if curve else None))
    if curve:
      if state == TrialState.STOPPED: curve[-1] = curve[-1]._replace(stop=True)
      self._curves[i] = curve
      self._top = max(self._top, curve[-1].step)
      if self._ended: self._relabel()

  # ***** state *****

  @property
  def trials(self) -> list[Trial]:
    """Every trial this searcher knows (pending, complete, stopped, failed), as tinybo Trials."""
    return list(self._trials)

  @property
  def curves(self) -> dict[int, list[Report]]:
    """Every trial's reports, {trial id: [Report(step, value, stop, time), ...]} by step (trials that never reported are absent)."""
    return {i: list(c) for i, c in self._curves.items()}

  def get_state(self) -> dict:
    return {"version": _STATE_VERSION, "space": self._space, "codecs": self._codecs,
            "paths": self._paths, "lists": self._lists, "trials": self._trials, "live": self._live, "errored": self._errored,
            "queue": self._queue, "metric": self._metric,
            "mode": self._mode, "seed": self._seed, "curves": self._curves, "ended": self._ended, "top": self._top, "max_step": self._max_step,
            "seen": self._seen}

  def set_state(self, state: dict) -> None:
    if state.get("version") not in (1, _STATE_VERSION):
      raise ValueError(f"searcher state version {state.get('version')!r} is not {_STATE_VERSION}; it was saved by another tinybo version")
    self._space, self._codecs, self._paths, self._queue = state["space"], state["codecs"], state["paths"], state["queue"]
    self._lists = state.get("lists", {})
    self._trials, self._live, self._errored = state["trials"], state["live"], state.get("errored", {})
    self._metric, self._mode, self._seed = state["metric"], state["mode"], state["seed"]
    self._curves, self._ended, self._top = state.get("curves", {}), state.get("ended", set()), state.get("top", 0)
    self._max_step = state.get("max_step", self._max_step)
    self._seen = state.get("seen", {})

  def save(self, checkpoint_path: str) -> None:
    with open(checkpoint_path, "wb") as f: pickle.dump(self.get_state(), f)

  def restore(self, checkpoint_path: str) -> None:
    with open(checkpoint_path, "rb") as f: self.set_state(pickle.load(f))
