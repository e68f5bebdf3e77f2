"""The GP strategy (`tb.GP`): a scrambled-Sobol initial design, then GP-guided suggestions that maximize an acquisition
function; pending trials are fantasized (Kriging believer); any numerical failure falls back to random with a warning.
Holds: GP, GPFallbackWarning. Imports: strategies (History, Random's helpers), transforms, gp, acquisition (names),
optim_acqf, tree (conditional spaces), sobol, kernels (names), space, trial, numpy.
Glossary: d encoded dimension (space.dim), p searchable parameters; X[n, d] encoded complete trials, y[n] their values
sign-flipped so that larger is better; X_pend[q, d] pending trials and this batch's points, fantasized at the GP mean.
"""
from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence

import numpy as np

from tinybo.acquisition import check_acquisition
from tinybo.gp import GPRegressor, check_prior, posterior
from tinybo.kernels import check_kernel
from tinybo.optim_acqf import optimize_acquisition
from tinybo.sobol import sobol
from tinybo.space import Space
from tinybo.strategies import History, SearchExhausted, history_rng, n_configs, random_configs
from tinybo.transforms import heavy_bad_tail, warp_values
from tinybo.tree import TreeInputs, parent_columns, tree_posterior
from tinybo.trial import Trial


class GPFallbackWarning(RuntimeWarning):
  """The GP strategy could not use its model for a suggestion and used random search instead; the message says why."""

class GP:
  """Gaussian-process Bayesian optimization. `GP(kernel="matern52", acquisition="ucb", n_initial=None, beta=2.0)`.

  The first n_initial suggestions (default max(5, 2p + 1) for p parameters) come from a scrambled Sobol sequence drawn
  from the seed; after that each suggestion maximizes the acquisition ("logei", "ei", "ucb" with `beta`, "pi", "logpi")
  of a Matérn GP fitted to the completed trials. Each fit warm-starts from the previous one.
  UCB with beta = 2 is the default because it measured best on the benchmark suite (benchmarks/README.md).
  `warp`: fit the GP to `warp_values` of the observations (True), to the raw values (False), or decide from the values of
  the initial design ("auto", the default): warp when they have a long tail of bad values (`heavy_bad_tail`).
  `lengthscale_prior`: "unit" (default) or "hvarfner" (see gp.log_prior).
  `conditional`: how the GP sees a conditional space: "tree" (default; tree.py: an inactive parameter adds no noise to
  distances, and the acquisition is optimized per branch) or "flatten" (inactive columns at a fixed fill value).
  """
  def __init__(self, kernel: str = "matern52", acquisition: str = "ucb", n_initial: int | None = None, beta: float = 2.0,
               device: str | None = None, seed: int | None = None, *, n_raw: int = 1024, n_starts: int = 10, n_steps: int = 25,
               warp: bool | str = "auto", lengthscale_prior: str = "unit", conditional: str = "tree"):
    check_acquisition(acquisition)
    if n_initial is not None and n_initial < 1: raise ValueError(f"n_initial={n_initial} must be >= 1 (or None for max(5, 2d+1))")
    if beta < 0: raise ValueError(f"beta={beta} must be >= 0 (the UCB exploration weight)")
    if warp not in (True, False, "auto"): raise ValueError(f"warp={warp!r}: use True, False or 'auto'")
    if conditional not in ("tree", "flatten"): raise ValueError(f"conditional={conditional!r}: use 'tree' or 'flatten'")
    check_kernel(kernel)
    self.kernel, self.acquisition, self.n_initial, self.beta, self.device, self.seed = kernel, acquisition, n_initial, beta, device, seed
    self.n_raw, self.n_starts, self.n_steps, self.warp = n_raw, n_starts, n_steps, warp if warp == "auto" else bool(warp)
    self.lengthscale_prior, self.conditional = check_prior(lengthscale_prior), conditional
    self._model: GPRegressor | None = None  # the last fitted model, the next fit's warm start; the data and space it was fitted on
    self._model_key, self._model_space = b"", ""
    self.last_fallback: str | None = None  # why the last suggestion fell back to random (None: it did not)

  def __repr__(self) -> str:
    names = ("kernel", "acquisition", "n_initial", "beta", "warp", "lengthscale_prior", "conditional")
    return "GP(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in names) + ")"

  def initial_size(self, space: Space) -> int: return self.n_initial or max(5, 2 * len(space.names) + 1)

  # ***** the Strategy protocol *****

  def suggest(self, space: Space, trials: Sequence[Trial], n: int, *, seed: int = 0, minimize: bool = True) -> list[dict]:
    if n < 1: return []
    seed = self.seed if self.seed is not None else seed
    self.last_fallback = None
    h = History.of(space, trials)
    if n_configs(space) <= len(h.taken):
      raise SearchExhausted(f"all {int(n_configs(space))} configurations of the space have been tried; widen the space")
    taken = set(h.taken)
    # the design continues while observations + pending trials are fewer than n_initial, or while there are < 2 values
    n_design = max(0, self.initial_size(space) - len(h.y) - h.n_pending) if len(h.y) >= 2 else n
    out = self._design(space, h, taken, min(n, n_design), seed) if n_design else []
    if len(out) < n: out += self._guided(space, h, taken, out, n - len(out), seed, minimize)
    return out

  # ***** the initial design *****

  def _design(self, space: Space, h: History, taken: set, n: int, seed: int) -> list[dict]:
    """Next n points of the seed's scrambled Sobol sequence that are not taken. The sequence depends on the seed only,
    so trial k of a study gets point k whatever the timing; no point is placed for a benchmark's sake (no centre)."""
    rng = np.random.default_rng([2, 0 if seed is None else int(seed) & 0xFFFFFFFF])
    m = 1 << max(4, int(h.n_trials + n - 1).bit_length() + 1)
    out = []
    for p in space.decode_many(space.round(sobol(m, space.dim, rng)) if space.dim else np.zeros((m, 0))):
      if (k := space.key(p)) in taken: continue
      taken.add(k); out.append(p)
      if len(out) == n: return out
    return out + random_configs(space, history_rng(seed, h.n_trials + len(out), salt=1), taken, n - len(out))

  # ***** GP-guided suggestions *****

  def _fit(self, space: Space, X: np.ndarray, y: np.ndarray, seed: int, categorical: list[slice]) -> GPRegressor:
    key = hashlib.sha1(X.tobytes() + y.tobytes() + self.kernel.encode()).digest()
    sj = space.to_json()
    if self._model is not None and self._model_key == key and self._model_space == sj: return self._model
    model = GPRegressor(self.kernel, device=self.device, lengthscale_prior=self.lengthscale_prior)
    model.fit(X, y, categorical=categorical, seed=int(seed or 0) & 0xFFFFFFFF, warm_start=self._model if self._model_space == sj else None)
    hp = model.hyperparameters
    if not all(np.all(np.isfinite(np.asarray(v, dtype=np.float64))) for v in hp.values()):
      raise FloatingPointError(f"the GP fit returned non-finite hyperparameters {hp}")
    self._model, self._model_key, self._model_space = model, key, sj
    return model

  def _guided(self, space: Space, h: History, taken: set, chosen: list[dict], n: int, seed: int, minimize: bool) -> list[dict]:
    rng = history_rng(seed, h.n_trials, salt=3)
    X_avoid = np.concatenate([h.X, h.X_other])  # every trial that fits the space: never suggest any of them again
    yy = -h.y if minimize else h.y
    if self.warp is True or (self.warp == "auto" and heavy_bad_tail(yy[:self.initial_size(space)])): yy = warp_values(yy)
    out: list[dict] = []
    # a conditional space as a tree (tree.py) or flattened; gx maps space-encoded rows to the GP's inputs
    tree = TreeInputs.of(space) if self.conditional == "tree" and space.conditions else None
    gx = tree if tree is not None else (lambda X: X)
    try:
      model = self._fit(space, gx(h.X), yy, seed, space.cat_groups if tree is None else tree.categorical)
      # failed configurations (crashes, NaN) never enter the fit, but the acquisition must not keep proposing their
      # neighbourhood: condition on them at the worst observed value, with the hyperparameters fitted on real data
      base = model = model.condition(gx(h.X_failed), np.full(len(h.X_failed), yy.min())) if len(h.X_failed) else model
      X_pend = np.concatenate([h.X_pending, space.encode_valid(chosen)])
      if len(X_pend): model = base.condition(gx(X_pend))
    except Exception as e:  # noqa: BLE001 - any failure of the model must degrade to random, loudly
      return self._fallback(space, h, taken, len(chosen), n, seed, f"the GP fit failed ({type(e).__name__}: {e})")
    best = float(np.max(base.y_train))
    X_top = h.X[np.argsort(-yy, kind="stable")[:min(5, len(h.X))]]
    tree_args = {} if tree is None else {"augment": tree.augment, "branches": space.branches(), "fixed": parent_columns(space)}
    for i in range(n):
      try:
        with np.errstate(all="ignore"):
          state, ls = model.posterior_state(), np.asarray(model.hyperparameters["lengthscales"], dtype=np.float64)
          if tree is not None: state, ls = (*state, *tree.tensors(state[0].dtype, state[0].device)), tree.lengthscales(ls)
          x, _ = optimize_acquisition(posterior if tree is None else tree_posterior, state, space, best=best, rng=rng,
                                      acquisition=self.acquisition, beta=self.beta, X_observed=X_avoid, X_pending=X_pend, X_top=X_top,
                                      lengthscales=ls, n_raw=self.n_raw, n_starts=self.n_starts, n_steps=self.n_steps, **tree_args)
        if not np.all(np.isfinite(x)): raise FloatingPointError("the acquisition optimizer returned a non-finite point")
        p = space.decode(x)
        if space.key(p) in taken: raise FloatingPointError("the acquisition optimizer returned a point that is already taken")
      except Exception as e:  # noqa: BLE001
        out += self._fallback(space, h, taken, len(chosen) + len(out), 1, seed, f"the acquisition optimization failed ({type(e).__name__}: {e})")
        continue
      taken.add(space.key(p)); out.append(p)
      if i + 1 < n:  # Kriging believer: fantasize this point at the posterior mean and condition, no refit
        X_pend = np.concatenate([X_pend, x[None]])
        try: model = base.condition(gx(X_pend))
        except Exception as e:  # noqa: BLE001
          return out + self._fallback(space, h, taken, len(chosen) + len(out), n - len(out), seed,
                                      f"conditioning on pending points failed ({type(e).__name__}: {e})")
    return out

  def _fallback(self, space: Space, h: History, taken: set, n_chosen: int, n: int, seed: int, why: str) -> list[dict]:
    """n random configurations that are not taken (n_chosen: those this call chose already), with a warning that says why."""
    self.last_fallback = why
    warnings.warn(f"tinybo GP strategy: {why}; suggesting {n} random configuration(s) instead", GPFallbackWarning, stacklevel=3)
    return random_configs(space, history_rng(seed, h.n_trials + n_chosen, salt=1), taken, n)
