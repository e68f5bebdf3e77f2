"""A trust region around the incumbent for some of the GP strategy's suggestions (TuRBO-1, Eriksson et al. 2019, with the
study's one global GP): which suggestions are local, the region's side length, and its box.
Holds pure numpy functions. Imports: numpy.
Glossary: L the side length of the region in the unit cube (for geometric-mean lengthscale weights), y the values to
maximize in trial order, n0 the initial design's size (its values start the count, as TuRBO's own design does).
"""
from __future__ import annotations

import numpy as np

# TuRBO-1's constants (Eriksson et al. 2019, their reference code): initial, smallest and largest side length, the
# successes in a row that double it, and a success: an improvement of the best by more than 1e-3 of its size
LENGTH_INIT, LENGTH_MIN, LENGTH_MAX, SUCCESS_TOL, REL_GAIN = 0.8, 0.5 ** 7, 1.6, 3, 1e-3

def failure_tolerance(d: int) -> int:
  """The failures in a row that halve the side length: max(4, d) (TuRBO-1 with one point per batch)."""
  return max(4, int(d))

def trust_length(y: np.ndarray, n0: int, d: int) -> float:
  """The side length after the values y (to maximize, in trial order), replayed through TuRBO-1's rule from the first
  value after the design: a gain over the best so far by more than REL_GAIN of its size is a success, anything else a
  failure; SUCCESS_TOL successes in a row double L (at most LENGTH_MAX), failure_tolerance(d) failures in a row halve it;
  below LENGTH_MIN it starts again at LENGTH_INIT (TuRBO restarts there). A pure function of the values: a resumed study
  gets the same regions."""
  y = np.asarray(y, dtype=np.float64)
  if len(y) <= n0: return LENGTH_INIT
  length, succ, fail, fail_tol = LENGTH_INIT, 0, 0, failure_tolerance(d)
  best = float(np.max(y[:n0])) if n0 > 0 else -np.inf
  for v in y[n0:]:
    if np.isfinite(best) and v > best + REL_GAIN * abs(best) or not np.isfinite(best) and np.isfinite(v): succ, fail = succ + 1, 0
    else: succ, fail = 0, fail + 1
    if succ == SUCCESS_TOL: length, succ = min(2.0 * length, LENGTH_MAX), 0
    if fail == fail_tol: length, fail = length / 2.0, 0
    if length < LENGTH_MIN: length = LENGTH_INIT
    if np.isfinite(v): best = max(best, float(v))
  return length

def trust_box(center: np.ndarray, lengthscales: np.ndarray, length: float, movable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(lo[d], hi[d]): the box of side length · w_i around center, clipped to the unit cube, with w the lengthscales
  normalized to geometric mean 1 over the movable columns (TuRBO: the region is longer where the model varies slowly);
  columns that are not movable (categorical ones) keep [0, 1]."""
  center = np.asarray(center, dtype=np.float64)
  ls = np.asarray(lengthscales, dtype=np.float64).reshape(-1)[:len(center)]
  mov = np.asarray(movable, dtype=bool)
  w = np.ones(len(center))
  if mov.any():
    lm = np.clip(ls[mov], 1e-6, None)
    w[mov] = lm / np.exp(np.mean(np.log(lm)))
  half = 0.5 * length * w
  lo, hi = np.where(mov, np.clip(center - half, 0.0, 1.0), 0.0), np.where(mov, np.clip(center + half, 0.0, 1.0), 1.0)
  return lo, hi

def in_box(x: np.ndarray, box: tuple[np.ndarray, np.ndarray]) -> bool:
  """Whether the point x (its first len(box[0]) columns) lies in the box (lo, hi), bounds included."""
  lo, hi = box
  x = np.asarray(x, dtype=np.float64)[:len(lo)]
  return bool(np.all((x >= lo) & (x <= hi)))

def local_turn(n_trials: int, n0: int) -> bool:
  """Whether the suggestion that becomes trial number n_trials (0-based) searches the trust region: every other guided
  one, the first guided one global (the region needs an incumbent the model has looked beyond)."""
  return n_trials >= n0 and (n_trials - n0) % 2 == 1
