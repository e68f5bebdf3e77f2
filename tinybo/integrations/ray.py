"""tinybo as a Ray Tune search algorithm: `tune.TuneConfig(search_alg=TinyBOSearch(metric="loss", mode="min"))`.

  from ray import tune
  from tinybo.integrations.ray import TinyBOSearch
  search = tune.search.ConcurrencyLimiter(TinyBOSearch(), max_concurrent=4)
  tuner = tune.Tuner(train_fn, param_space={"lr": tune.loguniform(1e-4, 1e-1), "units": tune.randint(16, 257),
                                            "act": tune.choice(["relu", "gelu"])},
                     tune_config=tune.TuneConfig(search_alg=search, metric="loss", mode="min", num_samples=30))

The space is a tinybo Space (or a dict of tb.Float/Int/Categorical and constants) passed to the constructor, or Ray
Tune's own primitives in `param_space`: uniform, loguniform, quniform, qloguniform, randint, lograndint, qrandint,
qlograndint, choice (nested dicts too; randint's upper bound is exclusive, as in Ray). Trials still running are handed
to the strategy as pending, so concurrent trials get distinct, spread-out suggestions. `save`/`restore` keep every
observation and every pending trial; the strategy itself holds no state (it refits from the history).
"""
from __future__ import annotations

import math
import pickle
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

from tinybo.integrations import Codec, choice_codec, float_codec, grid_codec, int_codec, round_codec
from tinybo.optimizer import resolve_strategy
from tinybo.space import PARAM_TYPES, Space
from tinybo.strategies import SearchExhausted, Strategy
from tinybo.trial import Trial, TrialState

_STATE_VERSION = 1

def _name(path: tuple) -> str: return "/".join(str(p) for p in path)

def domain_codec(name: str, d: Domain) -> Codec:
  """One Ray Tune domain as a tinybo parameter."""
  sampler, q = d.get_sampler(), None
  if isinstance(sampler, Quantized): q, sampler = sampler.q, sampler.get_sampler()
  if isinstance(d, RayCategorical): return choice_codec(d.categories)
  if isinstance(d, (RayFloat, RayInteger)) and isinstance(sampler, (Uniform, LogUniform)):
    integer, log = isinstance(d, RayInteger), isinstance(sampler, LogUniform)
    if q is None:  # Ray samples ints in [lower, upper): the tinybo Int is inclusive
      return int_codec(d.lower, d.upper - 1, log) if integer else float_codec(d.lower, d.upper, log)
    # quantized: multiples of q inside [lower, upper], both ends included, as Ray samples them
    lo, hi = math.ceil(d.lower / q - 1e-9) * q, math.floor(d.upper / q + 1e-9) * q
    if hi < lo: raise ValueError(f"parameter '{name}': no multiple of q={q} lies in [{d.lower}, {d.upper}]; widen the bounds or change q")
    return round_codec(lo, hi, q, integer) if log else grid_codec(lo, hi, q, integer)
  what = "sample_from" if isinstance(d, Function) else f"{type(d).__name__} with {type(sampler).__name__} sampling"
  raise ValueError(f"parameter '{name}': TinyBOSearch cannot search {what}; use tune.uniform/loguniform/quniform/randint/lograndint/"
                   f"qrandint/choice, or pass a tinybo Space")

def convert_search_space(config: Mapping) -> tuple[Space, dict[str, Codec], dict[str, tuple]]:
  """A Ray Tune param_space -> (tinybo Space over the searched names, codecs, name -> nested path). Constants are not
  part of the Space: Ray merges them into each trial's config itself."""
  _, domains, grids = parse_spec_vars(dict(config))
  if grids: raise ValueError(f"parameter '{_name(grids[0][0])}' is a tune.grid_search; TinyBOSearch picks values itself: use tune.choice")
  codecs = {_name(p): domain_codec(_name(p), d) for p, d in domains}
  return Space({n: c.param for n, c in codecs.items()}), codecs, {_name(p): tuple(p) for p, _ in domains}

def _nest(flat: Mapping[str, Any], paths: Mapping[str, tuple]) -> dict:
  out: dict = {}
  for n, v in flat.items():
    path = paths.get(n, (n,))
    d = out
    for k in path[:-1]: d = d.setdefault(k, {})
    d[path[-1]] = v
  return out

def _flat(config: Mapping, paths: Mapping[str, tuple], optional: Collection[str] = ()) -> dict:
  """Nested config -> {name: value}; a name in `optional` (a conditional parameter, inactive in this config) may be absent."""
  out = {}
  for n, path in paths.items():
    d: Any = config
    for k in path:
      if not isinstance(d, Mapping) or k not in d:
        if n in optional: break
        raise ValueError(f"config {dict(config)!r} has no value for parameter '{n}'")
      d = d[k]
    else: out[n] = d
  return out

class TinyBOSearch(Searcher):
  """A Ray Tune Searcher driven by a tinybo strategy (the GP by default).

  space: a tinybo Space (or a dict of tb.Float/Int/Categorical and constants); None to take Ray's param_space.
  metric, mode: the reported metric and "min"/"max" (or set them in tune.TuneConfig).
  strategy: "gp", "random", "grid" or a strategy object such as tb.GP(kernel="matern32").
  seed: the strategy's seed (same seed and history -> same suggestions).
  points_to_evaluate: configurations to try first (e.g. a known default).
  """
  def __init__(self, space: Space | Mapping | None = None, metric: str | None = None, mode: str | None = None, strategy: str | Strategy = "gp",
               seed: int = 0, points_to_evaluate: list[dict] | None = None):
    super().__init__(metric=metric, mode=mode)
    if isinstance(metric, list) or isinstance(mode, list): raise ValueError("TinyBOSearch optimizes one metric; pass metric='name', mode='min'|'max'")
    self._strategy = resolve_strategy(strategy)
    self._seed = int(seed)
    self._space: Space | None = None
    self._codecs: dict[str, Codec] = {}
    self._paths: dict[str, tuple] = {}
    self._trials: list[Trial] = []          # every trial ever suggested or added, in order: the strategy's history
    self._live: dict[str, int] = {}         # Ray trial_id -> index into _trials, while it runs
    self._queue = [dict(p) for p in (points_to_evaluate or [])]
    if space is not None: self._set_space(space)

  def _set_space(self, space: Space | Mapping) -> None:
    if isinstance(space, Space) or (isinstance(space, Mapping) and any(isinstance(v, PARAM_TYPES) for v in space.values())):
      self._space = space if isinstance(space, Space) else Space(space)
      self._codecs, self._paths = {}, {n: (n,) for n in self._space.names}
    elif isinstance(space, Mapping):
      self._space, self._codecs, self._paths = convert_search_space(space)
    else: raise TypeError(f"space={space!r}; pass a tinybo Space, a dict of Ray Tune domains (tune.uniform, ...), or None")
    if not self._space.names: raise ValueError("the search space has no searchable parameter; add tune.uniform(...)/tb.Float(...) entries")

  # ***** Searcher API *****

  def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec) -> bool:
    if self._space is not None:
      # Ray's contract: a space set already wins, and Tune then rejects a param_space with domains. The same space again
      # (a restored searcher given the same param_space) is accepted.
      if not self._codecs: return False
      try: same = convert_search_space(config) == (self._space, self._codecs, self._paths)
      except (ValueError, TypeError): same = False
      if not same: return False
    else: self._set_space(config)
    if metric: self._metric = metric
    if mode: self._mode = mode
    return True

  def _check(self) -> None:
    if self._space is None: raise RuntimeError(UNDEFINED_SEARCH_SPACE.format(cls=type(self).__name__, space="space"))
    if not self._metric or not self._mode:
      raise RuntimeError(UNDEFINED_METRIC_MODE.format(cls=type(self).__name__, metric=self._metric, mode=self._mode))
    if self._mode not in ("min", "max"): raise ValueError(f"mode={self._mode!r}; use 'min' or 'max'")

  def _to_tb(self, config: Mapping) -> dict:
    flat = _flat(config, self._paths, optional=self._space.conditions)
    return self._space.validate({n: (self._codecs[n].to_tb(v) if n in self._codecs else v) for n, v in flat.items()})

  def _to_ray(self, params: Mapping) -> dict:
    flat = {n: (self._codecs[n].from_tb(params[n]) if n in self._codecs else params[n]) for n in self._space.names if n in params}
    return _nest({**flat, **self._space.constants}, self._paths)   # a Ray param_space gives no constants: Ray merges its own

  def suggest(self, trial_id: str) -> dict | None:
    self._check()
    if self._queue: params = self._to_tb(self._queue.pop(0))
    else:
      try: out = self._strategy.suggest(self._space, self._trials, 1, seed=self._seed, minimize=self._mode == "min")
      except SearchExhausted: return Searcher.FINISHED
      if not out: return Searcher.FINISHED
      params = self._space.validate(out[0])
    self._live[trial_id] = len(self._trials)
    self._trials.append(Trial(len(self._trials), params))
    return self._to_ray(params)

  def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
    i = self._live.pop(trial_id, None)
    if i is None: return   # not ours (e.g. finished twice, or started before a restore from an older checkpoint)
    t = self._trials[i]
    v = None if (error or not result) else result.get(self._metric)
    try: v = None if v is None else float(v)
    except (TypeError, ValueError): v = None
    if v is not None and math.isfinite(v): t.state, t.value = TrialState.COMPLETE, v
    else: t.state = TrialState.FAILED   # crashed, or no finite metric: never fed to the model

  def add_evaluated_point(self, parameters: dict, value: float, error: bool = False, pruned: bool = False,
                          intermediate_values: list[float] | None = None) -> None:
    """A result from outside this searcher (warm start). Errored or pruned points are kept out of the model."""
    self._check()
    params = self._to_tb(parameters)
    ok = not error and not pruned and value is not None and math.isfinite(float(value))
    self._trials.append(Trial(len(self._trials), params, TrialState.COMPLETE if ok else TrialState.FAILED, float(value) if ok else None))

  # ***** state *****

  @property
  def trials(self) -> list[Trial]:
    """Every trial this searcher knows (pending, complete, failed), as tinybo Trials."""
    return list(self._trials)

  def get_state(self) -> dict:
    return {"version": _STATE_VERSION, "space": self._space, "codecs": self._codecs,
            "paths": self._paths, "trials": self._trials, "live": self._live, "queue": self._queue, "metric": self._metric,
            "mode": self._mode, "seed": self._seed}

  def set_state(self, state: dict) -> None:
    if state.get("version") != _STATE_VERSION:
      raise ValueError(f"searcher state version {state.get('version')!r} is not {_STATE_VERSION}; it was saved by another tinybo version")
    self._space, self._codecs, self._paths, self._queue = state["space"], state["codecs"], state["paths"], state["queue"]
    self._trials, self._live = state["trials"], state["live"]
    self._metric, self._mode, self._seed = state["metric"], state["mode"], state["seed"]

  def save(self, checkpoint_path: str) -> None:
    with open(checkpoint_path, "wb") as f: pickle.dump(self.get_state(), f)

  def restore(self, checkpoint_path: str) -> None:
    with open(checkpoint_path, "rb") as f: self.set_state(pickle.load(f))
