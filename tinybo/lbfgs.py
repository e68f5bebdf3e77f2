"""Box-constrained L-BFGS for b independent problems in lock-step, vectorized over the rows (a per-row Python loop costs
more than the batched evaluation it drives): the GP's hyperparameter fit and the acquisition's ascent both use it.
Holds: `lbfgs` and `Curvature` (the memory a warm start carries from one call to the next). Imports: numpy.
Glossary: x[b, p] the rows' points; f[b], g[b, p] values and gradients, one batched call fg(x); free[b, p] the variables
not held at a bound by their gradient; s = Δx, y = Δg the pairs of accepted steps. The two-loop recursion over the last m
pairs (on the free variables) gives the direction; the step is projected onto the box and backtracked (Armijo).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class Curvature:
  """The L-BFGS memory of b rows: S[b, m, p] steps and Y[b, m, p] gradient changes, oldest first; row r holds its newest
  n[r] pairs in the last n[r] slots."""
  S: np.ndarray
  Y: np.ndarray
  n: np.ndarray

  @staticmethod
  def empty(b:int, m:int, p:int) -> Curvature: return Curvature(np.zeros((b, m, p)), np.zeros((b, m, p)), np.zeros(b, dtype=np.int64))
  def row(self, r:int) -> Curvature: return Curvature(self.S[r:r + 1].copy(), self.Y[r:r + 1].copy(), self.n[r:r + 1].copy())

  def push(self, rows:np.ndarray, s:np.ndarray, y:np.ndarray):
    self.S[rows], self.Y[rows] = np.roll(self.S[rows], -1, axis=1), np.roll(self.Y[rows], -1, axis=1)
    self.S[rows, -1], self.Y[rows, -1], self.n[rows] = s[rows], y[rows], np.minimum(self.n[rows] + 1, self.S.shape[1])

  def clear(self, rows:np.ndarray): self.S[rows], self.Y[rows], self.n[rows] = 0.0, 0.0, 0

  def direction(self, pg:np.ndarray, free:np.ndarray) -> np.ndarray:
    """−H·pg by the two-loop recursion, H the inverse-Hessian model of the pairs restricted to the free variables."""
    m = self.S.shape[1]
    S, Y = self.S * free[:, None, :], self.Y * free[:, None, :]
    sy = (S * Y).sum(2)
    use = (np.arange(m) >= m - self.n[:, None]) & (sy > 0)
    rho = np.where(use, 1.0 / np.where(use, sy, 1.0), 0.0)
    q, a = pg.copy(), np.zeros(rho.shape)
    for j in range(m - 1, -1, -1):
      a[:, j] = rho[:, j] * (S[:, j] * q).sum(1)
      q -= a[:, j, None] * Y[:, j]
    yy = (Y[:, -1] * Y[:, -1]).sum(1)
    q *= np.where((self.n > 0) & (yy > 0) & (sy[:, -1] > 0), sy[:, -1] / np.where(yy > 0, yy, 1.0), 1.0)[:, None]
    for j in range(m):
      q += (a[:, j] - rho[:, j] * (Y[:, j] * q).sum(1))[:, None] * S[:, j]
    return -np.where(free, q, 0.0)

def lbfgs(fg:Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], x0:np.ndarray, lower:np.ndarray, upper:np.ndarray, *, max_evals:int=100,
          memory:int=10, gtol:float=1e-6, ftol:float=1e-9, history:Curvature|None=None) -> tuple[np.ndarray, np.ndarray, Curvature]:
  """Minimize b box-constrained problems from x0[b, p]; fg(x[b, p]) -> (f[b], g[b, p]) is one batched evaluation, at
  most max_evals of them. A row stops when its projected gradient is below gtol · max(1, |f|), when an accepted step
  improves f by at most ftol · max(1, |f|), when the model predicts a decrease of at most that (a warm start whose
  memory still fits stops after its first evaluation), or when backtracking shrinks the step below 1e-10.
  `history` (the Curvature an earlier call returned, its memory size wins over `memory`) seeds the inverse-Hessian model.
  Returns (x[b, p], f[b], Curvature): the best point of each row (f = inf for a row that never had a finite value)."""
  x = np.clip(x0, lower, upper)
  f, g = fg(x)
  b, p = x.shape
  done = ~np.isfinite(f)
  f = np.where(done, np.inf, f)
  H = Curvature.empty(b, memory, p) if history is None else Curvature(history.S.copy(), history.Y.copy(), history.n.copy())
  if H.S.shape[0] != b or H.S.shape[2] != p: raise ValueError(f"history of shape {H.S.shape} for {b} rows of {p} variables")
  d, t = np.zeros_like(x), np.ones(b)

  def step_from(rows:np.ndarray) -> np.ndarray:
    """New direction and first step for `rows` at their current point; returns the rows that stop instead."""
    free = ~(((x <= lower) & (g > 0)) | ((x >= upper) & (g < 0)))
    pg = np.where(free, g, 0.0)
    gmax, scale = np.abs(pg).max(1), ftol * np.maximum(1.0, np.abs(f))
    stop = gmax <= gtol * np.maximum(1.0, np.abs(f))
    dn = H.direction(pg, free)
    lost = rows & ~stop & ((dn * pg).sum(1) >= 0)  # lost descent: steepest descent, forget the pairs
    H.clear(lost)
    dn[lost] = -pg[lost]
    stop |= (H.n > 0) & (-0.5 * (dn * pg).sum(1) <= scale)  # the model's predicted decrease is not worth an evaluation
    go = rows & ~stop
    d[go], t[go] = dn[go], np.where(H.n > 0, 1.0, np.minimum(1.0, 1.0 / np.maximum(gmax, 1e-300)))[go]
    return rows & stop

  done |= step_from(~done)
  evals = 1
  while not done.all() and evals < max_evals:
    x_try = np.where(done[:, None], x, np.clip(x + t[:, None] * d, lower, upper))
    f_try, g_try = fg(x_try)
    evals += 1
    s = x_try - x
    ok = ~done & np.isfinite(f_try) & (f_try <= f + 1e-4 * np.minimum((g * s).sum(1), 0.0))
    y = g_try - g
    H.push(ok & ((s * y).sum(1) > 1e-12 * np.sqrt((s * s).sum(1) * (y * y).sum(1))), s, y)
    converged = ok & (f - np.where(ok, f_try, 0.0) <= ftol * np.maximum(1.0, np.abs(f_try)))
    x, f, g = np.where(ok[:, None], x_try, x), np.where(ok, f_try, f), np.where(ok[:, None], g_try, g)
    done |= converged | step_from(ok & ~converged)
    back = ~done & ~ok
    t[back] *= np.where(np.isfinite(f_try), 0.5, 0.1)[back]
    done |= back & (t * np.abs(d).max(1) < 1e-10)
  return x, f, H
