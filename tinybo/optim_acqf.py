"""The acquisition optimizer: the best new point of a space under an acquisition of a GP posterior.
Holds: `optimize_acquisition`, a driver over its steps (`candidates`, `pick_starts`, `ascend`, `local_search`,
`pick_new`), and `AcquisitionEvaluator`, which replays one captured value (or value-and-gradient) program per shape.
Imports: acquisition, lbfgs, seen, sobol, space (column kinds), _tinygrad, tinygrad, numpy.
Glossary: d encoded dimension (every column in [0, 1]); state the GP's posterior_state(), posterior(*state, X[m, d]) ->
(mean[m], var[m]); n_raw raw (space-filling) candidates; avoid[k, d] encoded rows observed or pending (never returned).
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from tinygrad import Tensor

from tinybo._tinygrad import download, program, replay, staged
from tinybo.acquisition import acquisition_value
from tinybo.lbfgs import lbfgs
from tinybo.seen import SeenChoices
from tinybo.sobol import sobol
from tinybo.space import CAT, FLOAT, INT


def _acquisition_step(posterior: Callable, kind: str, grad: bool, n_state: int, *args: Tensor) -> Tensor:
  """The value [M], or with grad the packed [S, 1 + d] of value and gradient (one output: one read)."""
  state, params, X = args[:n_state], args[n_state], args[n_state + 1]
  mean, var = posterior(*state, X)
  a = acquisition_value(kind, mean, var, params)
  if not grad: return a.contiguous().realize()
  (g,) = a.sum().gradient(X)  # starts are independent, so the gradient of the sum is each start's own gradient
  return a.unsqueeze(-1).cat(g, dim=-1).contiguous().realize()

# up to this many training rows the steps compile without kernel optimization: 2-5x faster to capture (the first suggestion
# of a fresh process waits for it) at the same run time; past it, the unoptimized [M, N] matmul replays many times slower
# (measured at N = 64 and 128: benchmarks/README.md, Cold start)
NOOPT_MAX_N = 32

class AcquisitionEvaluator:
  """Evaluates one acquisition on one posterior at padded fixed shapes, so every call replays a captured program. Its
  inputs (the state, (best, beta), the points) are persistent buffers, rewritten in place between calls."""
  def __init__(self, posterior: Callable, state: Sequence[Tensor], kind: str, best: float, beta: float = 2.0,
               augment: Callable[[np.ndarray], np.ndarray] | None = None, pull: Callable[[np.ndarray], np.ndarray] | None = None):
    self.posterior, self.state, self.kind, self.augment, self.pull = posterior, tuple(state), kind, augment, pull
    self.dtype, self.device = self.state[0].dtype, self.state[0].device
    self.best_beta = np.array([best, beta])
    self._shapes, self._prepared = tuple(t.shape for t in self.state), {}  # _prepared: the replay's derived input buffers

  def _call(self, X: np.ndarray, grad: bool) -> np.ndarray:
    d = X.shape[1]
    if self.augment is not None: X = self.augment(X)  # columns the posterior needs besides the point (tree.py: activity)
    key = ("acquisition", self.posterior, self.kind, grad, self._shapes, X.shape, self.dtype, self.device)
    N = self._shapes[0][0]
    prog = program(key, functools.partial(_acquisition_step, self.posterior, self.kind, grad, len(self.state)), device=self.device,
                   noopt=N <= NOOPT_MAX_N, disk=True)
    args = (*self.state, staged(self.best_beta, self.dtype, self.device), staged(X, self.dtype, self.device))
    out = download(replay(prog, args, self._prepared)).astype(np.float64)  # a copy: the program reuses its output buffer
    if not grad: return out
    # the gradient with respect to the point: the posterior input's first d columns, or pulled back through the map
    return out[:, :1 + d] if self.pull is None else np.concatenate([out[:, :1], self.pull(out[:, 1:])], axis=1)

  def values(self, X: np.ndarray, bucket: int = 1024) -> np.ndarray:
    """acquisition at X[m, d] (no gradient), in chunks padded to `bucket` rows: one compiled program per bucket size, so
    callers use one size (the raw-candidate count) for everything: a compile costs seconds, a padded row microseconds."""
    m = len(X)
    if m == 0: return np.zeros(0)
    out = np.empty(m)
    for i in range(0, m, bucket):
      chunk = X[i:i + bucket]
      if len(chunk) < bucket: chunk = np.concatenate([chunk, np.repeat(chunk[:1], bucket - len(chunk), 0)])
      out[i:i + bucket] = self._call(chunk, grad=False)[:min(bucket, m - i)]
    return np.where(np.isfinite(out), out, -np.inf)

  def values_and_grads(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, g = (out := self._call(X, grad=True))[:, 0], out[:, 1:]
    bad = ~np.isfinite(a) | ~np.isfinite(g).all(1)
    a[bad], g[bad] = -np.inf, 0.0
    return a, g

_HASH = np.random.default_rng(12345).integers(1, 2**61, size=4096, dtype=np.int64)

def match_rows(A: np.ndarray, B: np.ndarray) -> np.ndarray:
  """for each row of A, whether it equals some row of B on the 1e-9 grid (points are space.round-ed, so equal
  configurations have equal encodings). Rows become exact integer keys, hashed by an integer random projection (exact,
  wrapping arithmetic): O((|A| + |B|) d), not O(|A| |B| d). A float projection is not exact: its last bits depend on
  the summation order the BLAS kernel picks for a matrix shape, and equal rows of different matrices were missed."""
  if len(A) == 0 or len(B) == 0: return np.zeros(len(A), dtype=bool)
  d = A.shape[1]
  r = _HASH[:d] if d <= len(_HASH) else np.random.default_rng(12345).integers(1, 2**61, size=d, dtype=np.int64)
  ka, kb = np.rint(np.asarray(A) * 1e9).astype(np.int64), np.rint(np.asarray(B) * 1e9).astype(np.int64)
  hit = np.isin(ka @ r, kb @ r)
  if hit.any():  # confirm the (few) hash hits exactly
    idx = np.flatnonzero(hit)
    hit[idx] = (ka[idx, None, :] == kb[None, :, :]).all(-1).any(1)
  return hit

# ***** the steps *****

def relaxed_box(space: Any, cand0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(movable[d], lo[d], hi[d]): the columns the ascent moves (floats, and ints relaxed to the continuum; neither one-hot
  nor single-valued columns) and their box: [0, 1]; for an int, between the encodings of its lowest and highest value (past
  them the ascent walks into extrapolation, and every relaxed optimum rounds to a bound)."""
  kinds = np.asarray(space.kinds)
  movable = (kinds != CAT).astype(np.float64)
  movable[np.ptp(cand0, axis=0) == 0] = 0.0
  lo, hi = np.zeros(space.dim), np.ones(space.dim)
  lo[kinds == INT], hi[kinds == INT] = cand0[:, kinds == INT].min(0), cand0[:, kinds == INT].max(0)
  return movable, lo, hi

def candidates(space: Any, rng: np.random.Generator, cand0: np.ndarray, X_top: np.ndarray | None, n_raw: int, ls: np.ndarray,
               movable: np.ndarray) -> np.ndarray:
  """n_raw candidates: the Sobol points cand0 (valid configurations), the last quarter at most replaced by Gaussian
  perturbations of the best observed points X_top, scaled by the lengthscales: local refinement is where BO earns its
  last digits."""
  kinds = np.asarray(space.kinds)
  n_local = 0 if X_top is None or len(X_top) == 0 else min(n_raw // 4, 32 * len(X_top))
  cand = cand0[:n_raw - n_local]
  if not n_local: return cand
  src = np.asarray(X_top, dtype=np.float64)[rng.integers(0, len(X_top), n_local)]
  # three radii: a polish around the incumbents, a neighborhood, and a wider jump
  radius = np.array([0.02, 0.1, 0.3])[rng.integers(0, 3, n_local)][:, None] * ls[None, :]
  local = np.clip(src + rng.standard_normal(src.shape) * radius * movable, 0.0, 1.0)
  # categorical columns of a perturbed point: occasionally redraw them from a random valid point
  flip = rng.random(n_local) < 0.2
  if flip.any() and (kinds == CAT).any(): local[np.ix_(flip, kinds == CAT)] = cand0[rng.integers(0, len(cand0), flip.sum())][:, kinds == CAT]
  return np.concatenate([cand, space.round(local)])

def sobol_configs(space: Any, n: int, rng: np.random.Generator, wide: Sequence[str] = ()) -> np.ndarray:
  """n scrambled Sobol points rounded to valid configurations (`sobol_points`)."""
  return space.round(sobol_points(space, n, rng, wide))

def sobol_points(space: Any, n: int, rng: np.random.Generator, wide: Sequence[str] = ()) -> np.ndarray:
  """n scrambled Sobol points [n, d], not rounded. A categorical takes its block's K columns (its choice the argmax); one
  named in `wide` takes one column u instead (its block one-hot at ⌊u K⌋): the same uniform choice, for 1 dimension of
  the sequence instead of K (a 1,000-choice one made the points' construction the largest cost of a suggestion)."""
  if not wide: return sobol(n, space.dim, rng)
  narrow = [k for k in space.params if k not in wide]
  width = {k: space.columns[k].stop - space.columns[k].start for k in narrow}
  S, X, i = sobol(n, sum(width.values()) + len(wide), rng), np.zeros((n, space.dim)), 0
  for k in space.params:
    c = space.columns[k]
    if k in wide:
      X[np.arange(n), c.start + np.minimum((S[:, i] * (c.stop - c.start)).astype(np.int64), c.stop - c.start - 1)] = 1.0
      i += 1
    else: X[:, c], i = S[:, i:i + width[k]], i + width[k]
  return X

def pick_starts(vals: np.ndarray, rng: np.random.Generator, n_starts: int) -> np.ndarray:
  """Indices of n_starts candidates: the top half by value, then a Boltzmann (roulette) draw over the rest in proportion
  to exp(a - a_max), for diversity."""
  order = np.argsort(-vals, kind="stable")
  n_top = max(1, n_starts // 2)
  chosen = list(order[:n_top])
  rest = order[n_top:]
  fin = rest[np.isfinite(vals[rest])]
  if len(fin) and n_starts > n_top:
    w = np.exp(np.clip(vals[fin] - vals[fin].max(), -50, 0)) + 1e-12
    chosen += list(rng.choice(fin, size=min(n_starts - n_top, len(fin)), replace=False, p=w / w.sum()))
  while len(chosen) < n_starts: chosen.append(order[len(chosen) % len(order)])
  return np.array(chosen)

def ascend(ev: AcquisitionEvaluator, X0: np.ndarray, movable: np.ndarray, max_evals: int, scale: np.ndarray, lo: np.ndarray,
           hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Batched box-constrained L-BFGS over the starts on the movable columns, in z = x / scale coordinates (Optuna's
  preconditioning by the lengthscales), within [lo, hi]. Returns the best point (and value) each start visited."""
  cols = np.flatnonzero(movable)
  s = scale[cols]
  best_X, best_a = X0.copy(), np.full(len(X0), -np.inf)
  def fg(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = X0.copy()
    X[:, cols] = np.clip(z * s, lo[cols], hi[cols])
    a, g = ev.values_and_grads(X)
    better = a > best_a
    best_X[better], best_a[better] = X[better], a[better]
    return -a, -g[:, cols] * s  # minimize -a; d(-a)/dz = -grad_x * scale
  lbfgs(fg, X0[:, cols] / s, lo[cols] / s, hi[cols] / s, max_evals=max_evals, memory=8, gtol=1e-7, ftol=1e-12)
  return best_X, best_a

# the local search steps an int by one only when it has at most this many values: one step of a wider one moves less than
# 1e-4 of its range, below what a lengthscale resolves (the ascent moves it along its relaxed column), and each such step
# scored every other neighbour again (all choices of a categorical), up to 20 rounds a suggestion
UNIT_STEP_MAX_VALUES = 10_000

def local_search(ev: AcquisitionEvaluator, space: Any, X: np.ndarray, a: np.ndarray, avoid: np.ndarray, bucket: int, max_iter: int = 20,
                 box: tuple[np.ndarray, np.ndarray] | None = None,
                 switch: Callable[[], dict[str, np.ndarray]] | None = None) -> tuple[np.ndarray, np.ndarray]:
  """Greedy discrete hill climbing over space.neighbors (int +-1 up to UNIT_STEP_MAX_VALUES values, category switches),
  all starts batched per round.
  A start whose point is already observed still moves to its best neighbor, so a duplicate can escape. box (lo, hi): no
  step leaves it. switch(): per categorical, the choices a switch may take, drawn per start and round (seen.py: a wide
  categorical's unheld choices are one to the model, so one of them stands for all)."""
  X, a = X.copy(), a.copy()
  active = np.ones(len(X), dtype=bool)
  for _ in range(max_iter):
    idx = np.flatnonzero(active)
    if len(idx) == 0: break
    nbrs = [space.neighbors(X[i], UNIT_STEP_MAX_VALUES, None if switch is None else switch()) for i in idx]
    counts = [len(n) for n in nbrs]
    if sum(counts) == 0: break
    vals = ev.values(np.concatenate([n for n in nbrs if len(n)]), bucket=bucket)
    off = 0
    for i, nb, c in zip(idx, nbrs, counts):
      if c == 0: active[i] = False; continue
      vv = vals[off:off + c]; off += c
      vv = np.where(match_rows(nb, avoid), -np.inf, vv)
      if box is not None: vv = np.where(((nb >= box[0] - 1e-12) & (nb <= box[1] + 1e-12)).all(1), vv, -np.inf)
      j = int(np.argmax(vv))
      dup = match_rows(X[i:i + 1], avoid)[0]
      if vv[j] > a[i] or (dup and np.isfinite(vv[j])): X[i], a[i] = nb[j], vv[j]
      else: active[i] = False
  return X, a

def _distance(diff: np.ndarray, radius: float | np.ndarray) -> tuple[np.ndarray, float]:
  """The max-norm of diff[..., d] and the bound a repeat lies below: against a float radius the distance itself; against
  per column radii (`Space.repeat_radius`) the distance in the radii's units, against 1."""
  if np.ndim(radius) == 0: return np.abs(diff).max(-1), radius
  return (np.abs(diff) / radius).max(-1), 1.0

def near_rows(A: np.ndarray, B: np.ndarray, radius: float | np.ndarray) -> np.ndarray:
  """for each row of A, whether some row of B lies closer than `radius` in max-norm (radius 0: never; per column
  radii: closer than each column's in every column)."""
  out = np.zeros(len(A), dtype=bool)
  if np.max(radius) <= 0 or len(A) == 0 or len(B) == 0: return out
  step = max(1, 2**20 // max(1, B.size))  # rows of A per chunk: the [chunk, |B|, d] difference stays near 8 MB
  for i in range(0, len(A), step):
    dist, limit = _distance(A[i:i + step, None, :] - B[None], radius)
    out[i:i + step] = (dist < limit).any(1)
  return out

def push_out(X: np.ndarray, avoid: np.ndarray, radius: float | np.ndarray, movable: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
  """Each row of X that lies within `radius` (max-norm) of a row of `avoid`, moved along the line from that nearest row
  through it to just beyond max-norm distance `radius` on the movable columns (rows exactly on an avoided row stay). When
  the acquisition peaks beside an observed point, the pushed point lies beyond the peak, radius minus the peak's distance
  from it: the search keeps refining at the minimum distance instead of jumping to a far candidate."""
  out = X.copy()
  if np.max(radius) <= 0 or len(X) == 0 or len(avoid) == 0: return out
  diff = X[:, None, :] - avoid[None]                                        # [m, k, d]
  dist, limit = _distance(diff, radius)
  j = np.argmin(dist, axis=1)
  for i in np.flatnonzero(dist[np.arange(len(X)), j] < limit):
    v = diff[i, j[i]] * movable
    if not np.abs(v).max() > 0: continue
    out[i] = np.where(movable > 0, np.clip(avoid[j[i]] + v * (limit * (1 + 1e-6) / _distance(v, radius)[0]), lo, hi), X[i])
  return out

def pick_new(space: Any, rng: np.random.Generator, X: np.ndarray, a: np.ndarray, n_ascended: int, avoid: np.ndarray,
             min_distance: float | np.ndarray = 0.0) -> tuple[np.ndarray, float]:
  """The best scored point (the ascended ones first, then the candidates) that is neither observed nor pending nor within
  min_distance (max-norm) of such a point; in a tiny discrete space where every scored point is taken, any new valid point."""
  order = np.argsort(-a, kind="stable")
  order = order[np.isfinite(a[order]) | (order < n_ascended)]
  for k in range(0, len(order), 64):  # in chunks: the winner is almost always among the first few
    idx = order[k:k + 64]
    ok = ~match_rows(X[idx], avoid) & ~near_rows(X[idx], avoid, min_distance)
    if ok.any(): return X[idx[np.argmax(ok)]], float(a[idx[np.argmax(ok)]])
  for radius in (min_distance, 0.0) if np.max(min_distance) > 0 else (0.0,):  # a new point far enough from the others, else any new point
    for _ in range(8):
      R = space.round(space.sample(rng, 256))
      new = ~match_rows(R, avoid) & ~near_rows(R, avoid, radius)
      if new.any(): return R[np.argmax(new)], float("-inf")
  return X[int(np.argmax(a))], float(np.max(a))

def in_box(X: np.ndarray, space: Any, box: tuple[np.ndarray, np.ndarray], scale: bool = True) -> np.ndarray:
  """Rows of X with their float and int columns mapped from [0, 1] into box = (lo, hi) (scale=True: Sobol points
  spread over the box) or clipped into it (scale=False: perturbations of the best points); categorical columns unchanged."""
  num = np.asarray(space.kinds) != CAT
  lo, hi = np.asarray(box[0], dtype=np.float64), np.asarray(box[1], dtype=np.float64)
  out = np.array(X, dtype=np.float64)
  out[:, num] = lo[num] + (hi[num] - lo[num]) * out[:, num] if scale else np.clip(out[:, num], lo[num], hi[num])
  return out

def branch_candidates(space: Any, rng: np.random.Generator, n: int, branches: Sequence[Any], wide: Sequence[str] = ()) -> np.ndarray:
  """n Sobol points spread evenly over the branches of a conditional space (point i on branch i mod B, its parents'
  columns drawn from that branch's values), rounded to valid configurations: a branch that random trees rarely reach
  (a deep one, behind several choices) gets as many candidates as the others. wide: see `sobol_points`."""
  S = sobol_points(space, n, rng, wide)
  of = np.arange(n) % len(branches)
  for b, br in enumerate(branches):
    rows = np.flatnonzero(of == b)
    if len(rows) == 0 or not br.values: continue
    cols = np.concatenate([np.arange(space.dim)[space.columns[q]] for q in br.values])
    S[np.ix_(rows, cols)] = space.sample(rng, len(rows), branch=br)[:, cols]
  return space.round(S)

def branch_leads(space: Any, vals: np.ndarray, cand: np.ndarray) -> list[int]:
  """Per set of active parameters among the candidates, the index of its best one (a finite value only). The sets are
  told apart by each parameter's first column (its columns share its activity: the same groups, in the same order, as
  every column's, without sorting rows K wide)."""
  first = np.array(sorted(space.columns[k].start for k in space.params))
  _, group = np.unique(space.active_mask(cand)[:, first], axis=0, return_inverse=True)
  group = group.reshape(-1)
  out = []
  for g in range(group.max() + 1):
    v = np.where(group == g, vals, -np.inf)
    if np.isfinite(v).any(): out.append(int(np.argmax(v)))
  return out

def optimize_acquisition(posterior: Callable, state: Sequence[Tensor], space: Any, *, best: float, rng: np.random.Generator,
                         acquisition: str = "logei", beta: float = 2.0, X_observed: np.ndarray | None = None, X_pending: np.ndarray | None = None,
                         X_top: np.ndarray | None = None, lengthscales: np.ndarray | None = None, n_raw: int = 1024, n_starts: int = 10,
                         n_steps: int = 25, min_distance: float = 0.0, augment: Callable[[np.ndarray], np.ndarray] | None = None,
                         branches: Sequence[Any] | None = None, fixed: np.ndarray | None = None,
                         box: tuple[np.ndarray, np.ndarray] | None = None, seen: SeenChoices | None = None) -> tuple[np.ndarray, float]:
  """Maximize the acquisition over the space; returns (x[d] encoded and valid, acquisition value).
  augment: extra query columns the posterior takes (tree.py); branches (space.branches()): candidates spread over them,
  and each branch's best among the starts when they are no more than n_starts; fixed[d]: columns the ascent never moves
  (a conditional space's parents: moving one would change the branch in the middle of a continuous ascent).
  box (lo[d], hi[d]): a region of the unit cube (a trust region, trust_region.py) the candidates, their perturbations and
  the ascent stay in on the float and int columns; the random fallback of `pick_new` ignores it.
  seen: the GP's inputs are `seen`'s map of the points (a wide categorical's unheld choices as one column, seen.py): the
  points are mapped before the posterior, its gradient pulled back, and the local search scores one of the unheld choices.
  With augment too (a tree on seen's layout, tree.py) the augment maps the points, and the gradient is pulled back.
  1. `candidates`: n_raw scrambled Sobol points (rounded to valid configurations) and perturbations of X_top.
  2. One no-gradient evaluation of all of them; `pick_starts` among those not taken.
  3. `ascend` on all starts at once over the float and int columns, at most n_steps evaluations, each one replay of a
     captured value-and-gradient step.
  4. space.round, then `local_search` over space.neighbors scored by the same acquisition.
  5. `push_out` ascended points that lie within min_distance of an observed or pending point to that distance, rescored.
  6. `pick_new`: the best result that is neither observed nor pending nor within min_distance (max-norm) of one."""
  d = space.dim
  min_distance = space.repeat_radius(min_distance)
  avoid = np.concatenate([np.zeros((0, d))] + [np.asarray(A, dtype=np.float64).reshape(-1, d) for A in (X_observed, X_pending) if A is not None])
  avoid = space.round(avoid) if len(avoid) else avoid
  per_branch = branches is not None and len(branches) > 1
  cand0 = branch_candidates(space, rng, max(n_raw, 2), branches, () if seen is None else seen.names) if per_branch else \
    sobol_configs(space, max(n_raw, 2), rng, () if seen is None else seen.names)
  if box is not None: cand0 = space.round(in_box(cand0, space, box))
  movable, lo, hi = relaxed_box(space, cand0)
  if fixed is not None: movable[np.asarray(fixed, dtype=bool)] = 0.0
  ls = np.ones(d) if lengthscales is None else np.clip(np.asarray(lengthscales, dtype=np.float64).reshape(-1)[:d], 1e-3, 1.0)
  if seen is not None and augment is None: augment = seen.to_width(state[0].shape[-1])   # X[N, D]: the posterior's padded inputs
  ev = AcquisitionEvaluator(posterior, state, acquisition, best, beta, augment, None if seen is None else seen.pull)
  switch = None if seen is None else lambda: seen.switches(rng)
  cand = candidates(space, rng, cand0, X_top, n_raw, ls, movable)
  if box is not None:
    cand = space.round(in_box(cand, space, box, scale=False))
    num = np.asarray(space.kinds) != CAT
    lo, hi = np.where(num, np.maximum(lo, box[0]), lo), np.where(num, np.minimum(hi, box[1]), hi)
  vals = ev.values(cand, bucket=len(cand))
  open_vals = np.where(match_rows(cand, avoid), -np.inf, vals)
  chosen = pick_starts(open_vals, rng, n_starts)
  if per_branch and len(branches) <= n_starts:
    leads = branch_leads(space, open_vals, cand)
    chosen = np.array(list(dict.fromkeys(leads + [int(i) for i in chosen]))[:max(n_starts, len(leads))])
    if len(chosen) < n_starts: chosen = np.resize(chosen, n_starts)  # one batch shape: one captured ascent program
  if movable.any() and n_steps > 0: Xs, As = ascend(ev, cand[chosen], movable, n_steps, ls, lo, hi)
  else: Xs, As = cand[chosen], vals[chosen]
  Xr = space.round(Xs)
  changed = np.abs(Xr - Xs).max(1) > 0
  Ar = As.copy()
  if changed.any(): Ar[changed] = ev.values(Xr[changed], bucket=len(cand))
  if (np.asarray(space.kinds) != FLOAT).any(): Xr, Ar = local_search(ev, space, Xr, Ar, avoid, len(cand), box=box, switch=switch)
  Xp = space.round(push_out(Xr, avoid, min_distance, movable, lo, hi))
  if (pushed := np.abs(Xp - Xr).max(1) > 0).any():
    Xr, Ar = np.concatenate([Xr, Xp[pushed]]), np.concatenate([Ar, ev.values(Xp[pushed], bucket=len(cand))])
  return pick_new(space, rng, np.concatenate([Xr, cand]), np.concatenate([Ar, vals]), len(Xr), avoid, min_distance)
