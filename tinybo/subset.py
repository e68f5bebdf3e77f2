"""Which observations a large study's GP is fitted on: at most m rows, chosen by a deterministic rule, so that the cost
of a suggestion stops growing with the study (an exact GP costs O(n³) per fit step and O(n) per acquisition point).
Holds: `fit_subset`, `DEFAULT_MAX_POINTS`. Imports: numpy.
Glossary: X[n, d] encoded observations in the unit cube, in trial order (the last row is the most recent); y[n] their
values, larger is better (the GP strategy's sign); m the most rows kept.
"""
from __future__ import annotations

import numpy as np

# a shape bucket (gp.N_BUCKETS) small enough that a suggestion refits the hyperparameters every time (gp.py refits
# models above 640 rows only as n grows, and a subset no longer grows) and that a fresh process's cold fit stays a few
# seconds on one core; large enough to hold the best few hundred trials in detail
DEFAULT_MAX_POINTS = 512

def fit_subset(X: np.ndarray, y: np.ndarray, m: int) -> np.ndarray:
  """Indices (ascending, so trial order is kept) of at most m rows of X to fit the GP on; every row when n <= m.
  Above m, three parts, each deterministic (ties go to the earlier trial; distances are |a|² + |b|² - 2ab, so two equal
  distances can differ in their last bits):
  - the best m/2 by y: the model is exact where the acquisition searches hardest, around the incumbents;
  - the m/8 most recent of the others: each suggestion's outcome enters the next fit, so the model never keeps proposing
    a region whose recent points it does not see;
  - the rest by greedy farthest-point (maximin) selection in the unit cube, starting from the rows already chosen: a
    space-filling cover, so that the model still knows where the bad regions are and keeps its variance low there."""
  X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64).reshape(-1)
  n = len(y)
  if m < 1: raise ValueError(f"max_points={m!r}: use an int >= 1")
  if n <= m: return np.arange(n)
  chosen = np.zeros(n, dtype=bool)
  chosen[np.argsort(-y, kind="stable")[:max(1, m // 2)]] = True
  others = np.flatnonzero(~chosen)
  chosen[others[len(others) - m // 8:] if m // 8 else others[:0]] = True
  k = m - int(chosen.sum())
  if k > 0:
    # squared distance from every row to its nearest chosen row (as |a|² + |b|² − 2ab: one matrix product, not an [n, m, d]
    # tensor), updated as each farthest row joins: O(n d) per pick
    sq = (X * X).sum(1)
    C, sqc = X[chosen], sq[chosen]
    near = np.concatenate([(sq[j:j + 4096, None] + sqc[None] - 2 * X[j:j + 4096] @ C.T).min(1) for j in range(0, n, 4096)])
    near[chosen] = -np.inf
    for _ in range(k):
      i = int(np.argmax(near))  # the first of equal maxima: the earliest trial
      chosen[i] = True
      near = np.minimum(near, sq + sq[i] - 2 * (X @ X[i]))
      near[i] = -np.inf
  return np.flatnonzero(chosen)
