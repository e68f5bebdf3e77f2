"""A second basin for some of the GP strategy's suggestions: which suggestions search it, and the observed point that
anchors it. A study settles in the basin of its best observed point; on a landscape with several deep basins the design
often samples the better basin less deeply than a worse one, and every later suggestion then refines the worse one.
A second basin's turns keep climbing the best point that leads elsewhere, so the better basin gets its own evaluations.
Holds pure numpy functions. Imports: numpy.
Glossary: X observed points (unit cube, n x d), y their values to maximize, ls the model's lengthscales (unit cube),
R the scaled distance beyond which two points are in different basins, n0 the initial design's size.
"""
from __future__ import annotations

import numpy as np

# Two points are in different basins beyond BASIN_RADIUS lengthscales (Euclidean, each column divided by its lengthscale):
# there Matérn-5/2's correlation is below 0.3, so the model carries little of one's value to the other
BASIN_RADIUS = 1.5
# A basin's best point anchors a second basin only if it is among the best ANCHOR_QUANTILE of the initial design's values
# (the landscape's, not the refined basin's): the best point of a plateau is not a basin
ANCHOR_QUANTILE = 0.25
# The box around the anchor reaches BASIN_HALF lengthscales to each side: the anchor's basin as the model sees it (a box
# weighted to geometric mean 1, as TuRBO's, shrinks the few relevant inputs of a large space to nothing)
BASIN_HALF = 1.0

def second_turn(n_trials: int, n0: int) -> bool:
  """Whether the suggestion that becomes trial number n_trials (0-based) searches the second basin: one guided
  suggestion in four, offset 2 (trust_region.local_turn takes the odd ones, so the two never coincide)."""
  import os; m = int(os.environ.get('SB_EVERY', '4'))
  return n_trials >= n0 and (n_trials - n0) % m == (2 % m)

def basin_anchor(X: np.ndarray, y: np.ndarray, ls: np.ndarray, n0: int, radius: float = BASIN_RADIUS,
                 quantile: float = ANCHOR_QUANTILE) -> int | None:
  """Index of the observed point that anchors a second basin, or None: the best point that is farther than `radius`
  scaled lengthscales from the best observed point, best within `radius` of itself (the top of its own basin, not the
  flank of the incumbent's), and at least the (1 - quantile) quantile of the first n0 values (the initial design's)."""
  X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
  ok = np.isfinite(y)
  if ok.sum() < 3: return None
  Z = X / np.clip(np.asarray(ls, dtype=np.float64).reshape(-1)[:X.shape[1]], 1e-9, None)
  D = np.sqrt(np.maximum(np.sum(Z * Z, 1)[:, None] + np.sum(Z * Z, 1)[None, :] - 2.0 * Z @ Z.T, 0.0))
  yf = np.where(ok, y, -np.inf)
  inc = int(np.argmax(yf))
  design = y[:max(n0, 1)][np.isfinite(y[:max(n0, 1)])]
  cut = np.quantile(design, 1.0 - quantile) if len(design) else -np.inf
  near_best = np.array([yf[i] >= np.max(yf[D[i] <= radius]) for i in range(len(y))])
  cand = np.flatnonzero(ok & (D[inc] > radius) & near_best & (yf >= cut))
  return int(cand[np.argmax(yf[cand])]) if len(cand) else None

def basin_box(anchor: np.ndarray, ls: np.ndarray, movable: np.ndarray, half: float = BASIN_HALF) -> tuple[np.ndarray, np.ndarray]:
  """(lo[d], hi[d]): `half` lengthscales to each side of the anchor, clipped to the unit cube; columns that are not movable
  (categorical ones) keep [0, 1]."""
  anchor = np.asarray(anchor, dtype=np.float64)
  w = half * np.asarray(ls, dtype=np.float64).reshape(-1)[:len(anchor)]
  mov = np.asarray(movable, dtype=bool)
  return np.where(mov, np.clip(anchor - w, 0.0, 1.0), 0.0), np.where(mov, np.clip(anchor + w, 0.0, 1.0), 1.0)
