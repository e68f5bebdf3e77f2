"""The inward probe: where a deterministic study keeps refining its best point along a face of the box (a float
parameter on its bound, or an integer at the first or last of its values), one observation just inside settles whether
the optimum is in there (the GP strategy's "edge"/"auto" rule; see GP in bo.py). Also `new_int_end`: whether a suggestion
takes an integer to an end of its range where the best point is not (the same rule answers it with LogEI near the best).
Holds pure numpy functions. Imports: space (the column kinds, n_values), numpy.
Glossary: x[d] an encoded point (unit cube), kinds the space's column kinds, incumbent the best observed point.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinybo.space import FLOAT, INT, Space, n_values


def on_float_bound(x: np.ndarray, kinds: Sequence[int]) -> bool:
  """Whether the encoded point x[d] (unit cube) lies on the bound (0 or 1) of any float column."""
  f = np.asarray(kinds) == FLOAT
  return bool(np.any((x[f] <= 0.0) | (x[f] >= 1.0)))

# the inward probe's distance from the face, in the unit cube: a coarse step, far past any refinement along the face
INWARD_STEP = 0.05
# evaluations in a row that refine the best point along its face before the probe is taken: a study that has stalled there
INWARD_STALL = 3

def shared_bounds(X: np.ndarray, incumbent: np.ndarray, kinds: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
  """Per entry of X (encoded, unit cube): whether it lies on its float column's lower / upper bound as the incumbent does."""
  f = np.asarray(kinds) == FLOAT
  return f & (X <= 0.0) & (incumbent <= 0.0), f & (X >= 1.0) & (incumbent >= 1.0)

def refines_on_face(X: np.ndarray, incumbent: np.ndarray, kinds: Sequence[int], step: float = INWARD_STEP) -> np.ndarray:
  """Per row of X (encoded, unit cube): whether it lies on a float bound that the incumbent lies on too, within 2 step of
  the incumbent (max-norm): a refinement of the best point along its face."""
  lo, hi = shared_bounds(X, incumbent, kinds)
  return (lo | hi).any(axis=-1) & (np.max(np.abs(X - incumbent), axis=-1) <= 2 * step)

def inward_probe(x: np.ndarray, incumbent: np.ndarray, kinds: Sequence[int], X_recent: np.ndarray, X_seen: np.ndarray,
                 step: float = INWARD_STEP) -> np.ndarray | None:
  """Where x and the last INWARD_STALL evaluations X_recent all refine the incumbent along its face (refines_on_face),
  the incumbent moved `step` inward on the bound columns x shares with it; else None, and None too where an observed or
  pending point (X_seen) already lies within step / 2 of the probe (max-norm).
  Why: a GP-BO study whose best point is on a face can keep refining it along that face (Siivola et al. 2018, boundary
  over-exploration): the model, fitted mostly there, extrapolates its slope through the unobserved inside. One real
  observation just inside settles whether the optimum is in there; it is taken once per stretch of the face, as later
  incumbents within step / 2 of it along the face find it observed. A study that only passes a face (one or two
  evaluations there) is left alone: probing at every face incumbent changed most Hartmann runs for the worse."""
  if len(X_recent) < INWARD_STALL or not refines_on_face(np.vstack([X_recent, x]), incumbent, kinds, step).all(): return None
  lo, hi = shared_bounds(x, incumbent, kinds)
  probe = incumbent.astype(np.float64, copy=True)
  probe[lo], probe[hi] = step, 1.0 - step
  if len(X_seen) and float(np.min(np.max(np.abs(X_seen - probe), axis=1))) < step / 2: return None
  return probe

def int_cells(space: Space) -> np.ndarray:
  """Per encoded column of `space`: how many values its integer parameter takes, where the inward probe may move it (an
  Int or stepped Float with at least 3 values, not log-scaled: its encoding gives each value a cell of width 1 / that
  count); 0 elsewhere."""
  cells = np.zeros(space.dim, dtype=np.int64)
  for k, p in space.params.items():
    if space.kinds[space.columns[k].start] == INT and not p.log and n_values(p) >= 3: cells[space.columns[k].start] = n_values(p)
  return cells

def int_inward_probe(x: np.ndarray, incumbent: np.ndarray, kinds: Sequence[int], cells: np.ndarray, X_recent: np.ndarray,
                     step: float = INWARD_STEP) -> np.ndarray | None:
  """Where x, the incumbent and the last INWARD_STALL evaluations X_recent all hold an integer column (cells > 0, see
  int_cells) at the same end of its values, the first or the last, with every float column within 2 step of the
  incumbent's: the incumbent with those integers one value inside (the centre of that value's cell); else None. The
  caller skips a probe that is already taken. Why: as on a float's face (inward_probe), a model fitted at the end of an
  integer's range extrapolates its slope through the values inside, which a study that refines its floats there never
  observes."""
  if len(X_recent) < INWARD_STALL: return None
  rows = np.vstack([X_recent, x])
  f = np.asarray(kinds) == FLOAT
  if f.any() and np.max(np.abs(rows[:, f] - incumbent[f])) > 2 * step: return None
  c = np.flatnonzero(cells)
  width = 1.0 / cells[c]
  held = np.vstack([rows[:, c], incumbent[c]])   # the recent points, the suggestion and the incumbent, on those columns
  low, high = (held < width).all(axis=0), (held > 1.0 - width).all(axis=0)
  if not (low | high).any(): return None
  probe = incumbent.astype(np.float64, copy=True)
  probe[c[low]], probe[c[high]] = 1.5 * width[low], 1.0 - 1.5 * width[high]
  return probe

def new_int_end(x: np.ndarray, incumbent: np.ndarray, cells: np.ndarray) -> bool:
  """Whether the encoded point x holds an integer column (cells > 0, see int_cells) at the first or last of its values
  where the incumbent holds another value of it. Why: UCB's variance bonus is largest at the ends of an integer's range
  (the model has data on one side only, and the relaxed ascent stops at the end of the last value's cell), and a study
  that follows it spends its evaluations there, trying the other parameters at the end values one after another."""
  c = np.flatnonzero(cells)
  if len(c) == 0: return False
  k, n = np.clip(np.floor(x[c] * cells[c]), 0, cells[c] - 1), cells[c]
  at_end = (k == 0) | (k == n - 1)
  return bool(np.any(at_end & (k != np.clip(np.floor(incumbent[c] * n), 0, n - 1))))
