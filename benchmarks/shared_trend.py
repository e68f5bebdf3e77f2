"""A screen, not in tinybo: the (configuration, step) GP with its values detrended by one curve shape that every curve
shares, each at its own level (`shared_trend`), instead of tinybo's quadratic in z (fidelity.trend).

On curves of one shape (benchmarks/shared_curve.py, 100 steps) it un-sticks the default model: the quadratic cannot
follow 1/step and is fitted across curves (early rows mostly stopped, bad trials; the target step only complete, good
ones), so its misfit makes the step lengthscale short and a stopped trial's first steps say little about its last.
Where curves cross (benchmarks/multifidelity.py) it was no better than the quadratic, worse on curves_branin, and
stalled on curves_branin_long, so it stays out of tinybo (benchmarks/README.md, session 28).

    python -m benchmarks.shared_curve --curves auto,shared ...          (tb.GP() against SharedTrendGP())
    python -m benchmarks.multifidelity --methods gp-asha,gp-shared-asha ...
"""
from __future__ import annotations

import numpy as np

import tinybo as tb

TREND_KNOTS = 32      # at most this many knots of the average curve (the distinct fidelities, or their quantiles)
TREND_SMOOTH = 1e-3   # weight of the curve's squared second differences, per row: decides only what the data leave open

def knots(z: np.ndarray) -> np.ndarray:
  """The fidelities the average curve is linear between: 0 (the target step) and every distinct z of the data, or
  TREND_KNOTS quantiles of them (thinned curves share a few steps, 1, 2, 4, ...: usually every one is a knot)."""
  u = np.unique(np.append(np.asarray(z, dtype=np.float64), 0.0))
  return u if len(u) <= TREND_KNOTS else np.unique(np.append(np.quantile(u, np.linspace(0.0, 1.0, TREND_KNOTS)), 0.0))

def hat_basis(z: np.ndarray, kn: np.ndarray) -> np.ndarray:
  """B[n, K]: linear interpolation between the sorted knots kn[K] (B @ g is the piecewise-linear curve of knot values g
  at each z; constant past either end)."""
  z, B = np.clip(np.asarray(z, dtype=np.float64), kn[0], kn[-1]), np.zeros((np.size(z), len(kn)))
  if len(kn) == 1: B[:, 0] = 1.0; return B
  hi = np.clip(np.searchsorted(kn, z, side="right"), 1, len(kn) - 1)
  w = (z - kn[hi - 1]) / (kn[hi] - kn[hi - 1])
  B[np.arange(len(z)), hi - 1], B[np.arange(len(z)), hi] = 1.0 - w, w
  return B

def shared_trend(z: np.ndarray, y: np.ndarray, ids: np.ndarray, at: np.ndarray | None = None) -> np.ndarray:
  """SharedTrendGP's average learning curve g at each z (or at each fidelity of `at`): one shape shared by every curve, each
  at its own level, y ≈ level[trial] + g(z) by least squares, g piecewise linear between `knots`, g = 0 at the target
  (z = 0). The GP fits y − g: each curve's final level, and how its shape differs from the average.
  The shape is read within curves (a level per trial), never across them: early steps are mostly stopped, worse
  trials and the target step only complete, better ones, so a curve fitted through all the rows at once (`trend`'s
  quadratic) mixes the two and bends; its misfit, the same on every curve, then looks to the GP like a step lengthscale
  too short for a stopped trial's first steps to tell its last (benchmarks/README.md, session 28). Knots no curve spans two of are set by a
  small penalty on the curve's second differences (a straight line through them); with no curve of two rows g = 0."""
  z, y = np.asarray(z, dtype=np.float64), np.asarray(y, dtype=np.float64)
  at = z if at is None else np.asarray(at, dtype=np.float64)
  kn = knots(z)
  if len(kn) == 1: return np.zeros(at.shape)
  _, trial = np.unique(np.asarray(ids), return_inverse=True)
  B = hat_basis(z, kn)
  count = np.bincount(trial).astype(np.float64)
  Bw = B - np.stack([np.bincount(trial, B[:, k]) for k in range(len(kn))], axis=1)[trial] / count[trial, None]   # within each curve
  yw = y - np.bincount(trial, y)[trial] / count[trial]
  slopes = np.diff(np.eye(len(kn)), axis=0) / np.diff(kn)[:, None]   # (K − 1, K): g's slope on each interval
  D = np.diff(slopes, axis=0) * np.mean(np.diff(kn))   # second differences, scaled to the knots' mean spacing
  A, P = Bw[:, 1:], D[:, 1:]   # g(0) = 0: the knot at the target is no unknown
  lhs = A.T @ A + TREND_SMOOTH * len(y) * (P.T @ P) + 1e-12 * len(y) * np.eye(len(kn) - 1)
  g = np.concatenate([[0.0], np.linalg.solve(lhs, A.T @ yw)])
  return hat_basis(at, kn) @ g


class SharedTrendGP(tb.GP):
  """tb.GP whose curve targets are detrended by `shared_trend` (GP._trend is the seam; everything else is tb.GP's)."""

  def _trend(self, z: np.ndarray, y: np.ndarray, ids: np.ndarray, at: np.ndarray | None = None) -> np.ndarray:
    return shared_trend(z, y, ids, at)
