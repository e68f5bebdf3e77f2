"""When a study has stopped making progress, and where an exploratory suggestion may go: a pure function of the history,
so a study stays deterministic given its seed and trials.
Holds: `evaluations_since_progress`, `explore_now`, `explore_radius`. Imports: numpy.
Glossary: y[n] observed values to maximize in trial order; n_design the initial design's size; p searchable parameters.
"""
from __future__ import annotations

import numpy as np

PROGRESS = 1e-3  # a gain counts as progress when it exceeds this fraction of the initial design's range of values

def evaluations_since_progress(y: np.ndarray, n_design: int) -> int:
  """How many values after the design came since the best last rose by more than PROGRESS × the design's range
  (0 while the design runs). Scale- and shift-free: polishing an optimum in its last digits is not progress."""
  y = np.asarray(y, dtype=np.float64)
  if len(y) <= n_design or n_design < 2: return 0
  tol = PROGRESS * float(np.ptp(y[:n_design]) / 2) * 2
  if not tol > 0: return len(y) - n_design
  best, last = float(np.max(y[:n_design])), n_design - 1
  for i in range(n_design, len(y)):
    if y[i] > best + tol: last = i
    best = max(best, float(y[i]))
  return len(y) - 1 - last

def explore_now(y: np.ndarray, n_design: int, p: int) -> bool:
  """Whether the next suggestion explores: after every max(4, p) evaluations without progress (TuRBO counts failures the
  same way before it shrinks or restarts its trust region)."""
  k = max(4, p)
  m = evaluations_since_progress(y, n_design)
  return m >= k and m % k == 0

def explore_radius(n: int, p: int) -> float:
  """Max-norm radius around each of n observed points that an exploratory suggestion keeps out of: n cubes of side 2r
  cover at most half of the unit cube, r = ½ (½ / n)^(1/p), so the model's best guess away from everything seen is left."""
  return 0.5 * (0.5 / max(n, 1)) ** (1.0 / max(p, 1))
