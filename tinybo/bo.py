"""The GP strategy (`tb.GP`): a scrambled-Sobol initial design, then GP-guided suggestions that maximize an acquisition
function; pending trials are fantasized (Kriging believer); any numerical failure falls back to random with a warning.

Glossary (shapes in brackets):
  d            encoded dimension (space.dim);  p = len(space.names) searchable parameters
  X[n, d]      encoded completed configurations;  y[n] their values, sign-flipped so that larger is better
  X_pend[q, d] encoded pending configurations (and the points already chosen in this batch), fantasized at the GP mean
  n_initial    size of the space-filling design: max(5, 2p + 1) unless given
"""
from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinybo.acquisition import ACQUISITIONS, optimize_acquisition, sobol
from tinybo.space import Space
from tinybo.strategies import Random, SearchExhausted, history_rng, n_configs, taken_keys
from tinybo.trial import Trial, TrialState


class GPFallbackWarning(RuntimeWarning):
  """The GP strategy could not use its model for a suggestion and used random search instead; the message says why."""

def _finite_value(t: Trial) -> float | None:
  """The value of a complete trial when it is a finite number, else None (pending, failed, NaN or not a number)."""
  if t.state != TrialState.COMPLETE or t.value is None: return None
  try: v = float(t.value)
  except (TypeError, ValueError): return None
  return v if math.isfinite(v) else None

def _finite_complete(space: Space, trials: Sequence[Trial]) -> tuple[list[dict], np.ndarray]:
  params, values = [], []
  for t in trials:
    if (v := _finite_value(t)) is None: continue
    try: params.append(space.validate(t.params))
    except (ValueError, TypeError): continue  # a trial from an edited space: not usable as data
    values.append(v)
  return params, np.array(values, dtype=np.float64)

def warp_values(y: np.ndarray) -> np.ndarray:
  """Values to maximize -> a monotone warp the GP fits better: the distance below the best, d >= 0, becomes log1p(d / s)
  with s the median distance. Far-off bad values (a corner 100x worse than the rest) are compressed logarithmically, so
  they neither dominate the standardization nor drown the small differences near the optimum that decide the last digits.
  The best point maps to 0; the order of the values never changes."""
  d = np.max(y) / 2 - y / 2   # halves: a spread near 1.8e308 would overflow; the warp is scale-free
  pos = d[d > 0]
  if len(pos) == 0: return np.zeros_like(y)
  s = float(np.median(d))
  if not s > 0: s = float(np.median(pos))
  return -np.log1p(d / s)

def heavy_bad_tail(y: np.ndarray) -> bool:
  """Whether values to maximize have a long tail of bad values (a few far below the rest: Branin's corners), measured
  as a negative skewness. Called on the space-filling initial design, an unbiased sample of the objective over the
  space: later suggestions crowd the optimum and would make any objective look skewed this way."""
  if len(y) < 3 or not np.ptp(y / 2) > 0: return False
  z = y / np.max(np.abs(y))   # unit scale first: the moments of values near ±1e300 would overflow
  z = z - np.mean(z)
  return bool(np.std(z) > 0 and np.mean(z ** 3) < 0)

class GP:
  """Gaussian-process Bayesian optimization. `GP(kernel="matern52", acquisition="ucb", n_initial=None, beta=2.0)`.

  The first n_initial suggestions (default max(5, 2p + 1) for p parameters) come from a scrambled Sobol sequence drawn
  from the seed; after that each suggestion maximizes the acquisition ("logei", "ei", "ucb" with `beta`, "pi", "logpi")
  of a Matérn GP fitted to the completed trials. The fitted GP is kept between calls and warm-starts the next fit.
  UCB with beta = 2 is the default because it measured best here: 10 seeds on Ackley-5 after 60 evaluations, median
  regret 4.6 (LogEI: 4.9), with Hartmann6 and Branin on target either way (benchmarks/README.md).
  `warp`: fit the GP to `warp_values` of the observations (True), to the raw values (False), or decide from the values of
  the initial design ("auto", the default): warp when they have a long tail of bad values (`heavy_bad_tail`).
  """
  def __init__(self, kernel: str = "matern52", acquisition: str = "ucb", n_initial: int | None = None, beta: float = 2.0,
               device: str | None = None, seed: int | None = None, *, n_raw: int = 1024, n_starts: int = 10, n_steps: int = 25,
               warp: bool | str = "auto"):
    if acquisition not in ACQUISITIONS: raise ValueError(f"unknown acquisition {acquisition!r}: use one of {', '.join(ACQUISITIONS)}")
    if n_initial is not None and n_initial < 1: raise ValueError(f"n_initial={n_initial} must be >= 1 (or None for max(5, 2d+1))")
    if beta < 0: raise ValueError(f"beta={beta} must be >= 0 (the UCB exploration weight)")
    if warp not in (True, False, "auto"): raise ValueError(f"warp={warp!r}: use True, False or 'auto'")
    from tinybo.kernels import KERNELS
    if kernel not in KERNELS: raise ValueError(f"unknown kernel {kernel!r}: choose one of {sorted(KERNELS)}")
    self.kernel, self.acquisition, self.n_initial, self.beta, self.device, self.seed = kernel, acquisition, n_initial, beta, device, seed
    self.n_raw, self.n_starts, self.n_steps, self.warp = n_raw, n_starts, n_steps, warp if warp == "auto" else bool(warp)
    self._model: Any = None            # the last fitted tinybo.gp.GP (warm start for the next fit)
    self._model_key: bytes | None = None
    self._model_space: str | None = None
    self.last_fallback: str | None = None  # why the last suggestion fell back to random (None: it did not)

  def __repr__(self) -> str:
    return f"GP(kernel={self.kernel!r}, acquisition={self.acquisition!r}, n_initial={self.n_initial}, beta={self.beta}, warp={self.warp!r})"

  def initial_size(self, space: Space) -> int: return self.n_initial or max(5, 2 * len(space.names) + 1)

  # ***** the Strategy protocol *****

  def suggest(self, space: Space, trials: Sequence[Trial], n: int, *, seed: int = 0, minimize: bool = True) -> list[dict]:
    if n < 1: return []
    seed = self.seed if self.seed is not None else seed
    self.last_fallback = None
    taken = taken_keys(space, trials)
    if n_configs(space) <= len(taken):
      raise SearchExhausted(f"all {int(n_configs(space))} configurations of the space have been tried; widen the space")
    params, y = _finite_complete(space, trials)
    pending = [t.params for t in trials if t.state == TrialState.PENDING]
    out: list[dict] = []
    # the design continues while observations + pending trials are fewer than n_initial, or while there are < 2 values
    n_design = max(0, self.initial_size(space) - len(params) - len(pending)) if len(params) >= 2 else n
    if n_design: out += self._design(space, trials, taken, min(n, n_design), seed)
    if len(out) < n:
      out += self._guided(space, trials, taken | {space.key(p) for p in out}, params, y, pending + out, n - len(out), seed, minimize)
    return out

  # ***** the initial design *****

  def _design(self, space: Space, trials: Sequence[Trial], taken: set, n: int, seed: int) -> list[dict]:
    """Next n points of the seed's scrambled Sobol sequence that are not taken. The sequence depends on the seed only,
    so trial k of a study gets point k whatever the timing; no point is placed for a benchmark's sake (no centre)."""
    rng = np.random.default_rng([2, 0 if seed is None else int(seed) & 0xFFFFFFFF])
    m = 1 << max(4, int(len(trials) + n - 1).bit_length() + 1)
    out = []
    for p in space.decode_many(space.round(sobol(m, space.dim, rng)) if space.dim else np.zeros((m, 0))):
      if (k := space.key(p)) in taken: continue
      taken.add(k); out.append(p)
      if len(out) == n: return out
    return out + Random(seed).suggest(space, list(trials) + [Trial(-1, p) for p in out], n - len(out), seed=seed)

  # ***** GP-guided suggestions *****

  def _fit(self, space: Space, X: np.ndarray, y: np.ndarray, seed: int) -> Any:
    from tinybo.gp import GP as Surrogate
    key = hashlib.sha1(X.tobytes() + y.tobytes() + self.kernel.encode()).digest()
    sj = space.to_json()
    if self._model is not None and self._model_key == key and self._model_space == sj: return self._model
    model = self._model if self._model is not None and self._model_space == sj else Surrogate(self.kernel, device=self.device)
    model.fit(X, y, categorical=space.cat_groups, seed=int(seed or 0) & 0xFFFFFFFF)
    hp = model.hyperparameters
    if not all(np.all(np.isfinite(np.asarray(v, dtype=np.float64))) for v in hp.values()):
      raise FloatingPointError(f"the GP fit returned non-finite hyperparameters {hp}")
    self._model, self._model_key, self._model_space = model, key, sj
    return model

  def _guided(self, space: Space, trials: Sequence[Trial], taken: set, params: list[dict], y: np.ndarray, pending: list[dict], n: int,
              seed: int, minimize: bool) -> list[dict]:
    rng = history_rng(seed, trials, salt=3)
    X = space.encode_many(params)   # params: checked by _finite_complete
    # every other trial that fits the space too (failed, pending, NaN): never suggest any of them again
    X_obs_all = np.concatenate([X, space.encode_fitting([t.params for t in trials if _finite_value(t) is None])])
    yy = -y if minimize else y
    if self.warp is True or (self.warp == "auto" and heavy_bad_tail(yy[:self.initial_size(space)])): yy = warp_values(yy)
    out: list[dict] = []
    X_failed = space.encode_fitting([t.params for t in trials if t.state == TrialState.FAILED])
    try:
      model = self._fit(space, X, yy, seed)
      # failed configurations (crashes, NaN) never enter the fit, but the acquisition must not keep proposing their
      # neighbourhood: condition on them at the worst observed value, with the hyperparameters fitted on real data
      base = model = model.condition(X_failed, np.full(len(X_failed), yy.min())) if len(X_failed) else model
      X_pend = space.encode_fitting(pending)
      if len(X_pend): model = base.condition(X_pend)
    except Exception as e:  # noqa: BLE001 - any failure of the model must degrade to random, loudly
      return self._fallback(space, trials, pending, taken, n, seed, f"the GP fit failed ({type(e).__name__}: {e})")
    from tinybo.gp import posterior
    best = float(np.max(base.y_train))
    order = np.argsort(-yy, kind="stable")
    X_top = X[order[:min(5, len(X))]]
    for i in range(n):
      try:
        with np.errstate(all="ignore"):
          x, _ = optimize_acquisition(posterior, model.posterior_state(), space, best=best, rng=rng, acquisition=self.acquisition,
                                      beta=self.beta, X_observed=X_obs_all, X_pending=X_pend, X_top=X_top,
                                      lengthscales=np.asarray(model.hyperparameters["lengthscales"], dtype=np.float64),
                                      n_raw=self.n_raw, n_starts=self.n_starts, n_steps=self.n_steps)
        if not np.all(np.isfinite(x)): raise FloatingPointError("the acquisition optimizer returned a non-finite point")
        p = space.decode(x)
        if space.key(p) in taken: raise FloatingPointError("the acquisition optimizer returned a point that is already taken")
      except Exception as e:  # noqa: BLE001
        out += self._fallback(space, trials, pending + out, taken, 1, seed,
                              f"the acquisition optimization failed ({type(e).__name__}: {e})")
        continue
      taken.add(space.key(p)); out.append(p)
      if i + 1 < n:  # Kriging believer: fantasize this point at the posterior mean and condition, no refit
        X_pend = np.concatenate([X_pend, x[None]])
        try: model = base.condition(X_pend)
        except Exception as e:  # noqa: BLE001
          rest = n - len(out)
          return out + self._fallback(space, trials, pending + out, taken, rest, seed,
                                      f"conditioning on pending points failed ({type(e).__name__}: {e})")
    return out

  def _fallback(self, space: Space, trials: Sequence[Trial], chosen: list[dict], taken: set, n: int, seed: int, why: str) -> list[dict]:
    self.last_fallback = why
    warnings.warn(f"tinybo GP strategy: {why}; suggesting {n} random configuration(s) instead", GPFallbackWarning, stacklevel=3)
    out = Random(seed).suggest(space, list(trials) + [Trial(-1, p) for p in chosen], n, seed=seed)
    for p in out: taken.add(space.key(p))
    return out
