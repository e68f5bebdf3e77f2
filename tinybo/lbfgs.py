"""Box-constrained L-BFGS for b independent problems in lock-step, vectorized over the rows (a per-row Python loop costs
more than the batched evaluation it drives): the GP's hyperparameter fit and the acquisition's ascent both use it.
Holds: `lbfgs` and `Curvature` (the memory a warm start carries from one call to the next). Imports: numpy.
Glossary: x[b, p] the rows' points; f[b], g[b, p] values and gradients, one batched call fg(x); free[b, p] the variables
not held at a bound by their gradient; s = Δx, y = Δg the pairs of accepted steps (the quasi-Newton model, on the free
variables, gives the direction); the step is projected onto the box and backtracked (Armijo).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@functools.cache
def _masks(k:int) -> tuple[np.ndarray, np.ndarray, np.ndarray]: return np.arange(k), np.triu(np.ones((k, k))), np.eye(k)

@dataclass
class Curvature:
  """The L-BFGS memory of b rows: S[b, m, p] steps and Y[b, m, p] gradient changes, oldest first; row r holds its newest
  n[r] pairs in the last n[r] slots."""
  S: np.ndarray; Y: np.ndarray; n: np.ndarray

  @staticmethod
  def empty(b:int, m:int, p:int) -> Curvature: return Curvature(np.zeros((b, m, p)), np.zeros((b, m, p)), np.zeros(b, dtype=np.int64))
  def row(self, r:int) -> Curvature: return Curvature(self.S[r:r + 1].copy(), self.Y[r:r + 1].copy(), self.n[r:r + 1].copy())

  def push(self, rows:np.ndarray, s:np.ndarray, y:np.ndarray):
    if not rows.any(): return
    for A, v in ((self.S, s), (self.Y, y)): A[rows, :-1] = A[rows, 1:]; A[rows, -1] = v[rows]
    self.n[rows] = np.minimum(self.n[rows] + 1, self.S.shape[1])

  def clear(self, rows:np.ndarray): self.S[rows], self.Y[rows], self.n[rows] = 0.0, 0.0, 0

  def direction(self, pg:np.ndarray, free:np.ndarray) -> np.ndarray:
    """−H·pg, H the inverse-Hessian model of the pairs restricted to the free variables (those with sᵀy <= 0 left out),
    H₀ = γI scaled by the newest pair, in the compact form of Byrd, Nocedal and Schnabel (1994), which equals the
    two-loop recursion: H g = γg + S u − γY t, t = R⁻¹Sᵀg, u = R⁻ᵀ((D + γYᵀY) t − γYᵀg), R the upper triangle of SᵀY and
    D its diagonal: a few batched k×k products instead of 2k passes over the rows."""
    if (k := int(self.n.max())) == 0: return -pg
    S, Y = self.S[:, -k:], self.Y[:, -k:]
    if not free.all(): S, Y = S * free[:, None, :], Y * free[:, None, :]
    SY = S @ Y.transpose(0, 2, 1)
    sy = SY.diagonal(0, 1, 2)
    slots, triu, eye = _masks(k)
    use = (sy > 0) & (slots >= k - self.n[:, None])
    R = SY * triu
    if not use.all():  # unused pairs drop out: zeros, and a unit diagonal in R
      S, Y, sy, R = S * use[..., None], Y * use[..., None], sy * use, R * (use[..., None] & use[:, None, :]) + eye * ~use[:, None, :]
    yy = (Y[:, -1] * Y[:, -1]).sum(1)
    gamma = (sy[:, -1] / np.where(yy > 0, yy, 1.0) + (yy <= 0))[:, None, None]  # γ = 1 where the newest pair is unused
    Rinv, Yt, g3 = np.linalg.inv(R), Y.transpose(0, 2, 1), pg[..., None]
    t = Rinv @ (S @ g3)
    u = Rinv.transpose(0, 2, 1) @ (sy[..., None] * t + gamma * (Y @ (Yt @ t - g3)))
    return (gamma * (Yt @ t - g3) - S.transpose(0, 2, 1) @ u)[..., 0] * free

def lbfgs(fg:Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], x0:np.ndarray, lower:np.ndarray, upper:np.ndarray, *, max_evals:int=100,
          memory:int=10, gtol:float=1e-6, ftol:float=1e-9, history:Curvature|None=None,
          enough:Callable[[np.ndarray], bool]|None=None) -> tuple[np.ndarray, np.ndarray, Curvature]:
  """Minimize b box-constrained problems from x0[b, p]; fg(x[b, p]) -> (f[b], g[b, p]) is one batched evaluation, at
  most max_evals of them. A row stops when its projected gradient is below gtol · max(1, |f|), when an accepted step
  improves f by at most ftol · max(1, |f|), when the model predicts a decrease of at most that (a warm start whose
  memory still fits stops after its first evaluation), or when backtracking shrinks the step below 1e-10.
  `history` (the Curvature an earlier call returned, its memory size wins over `memory`) seeds the inverse-Hessian model.
  `enough(f[b])`, the rows' best values so far: True stops every row there (a caller that needs to know only whether
  the minimum gets below some level; the values only fall).
  Returns (x[b, p], f[b], Curvature): the best point of each row (f = inf for a row that never had a finite value)."""
  x = np.clip(x0, lower, upper)
  f, g = fg(x)
  (b, p), g = x.shape, np.array(g, dtype=np.float64)
  done = ~np.isfinite(f)
  f = np.where(done, np.inf, f)
  H = Curvature.empty(b, memory, p) if history is None else Curvature(history.S.copy(), history.Y.copy(), history.n.copy())
  if H.S.shape[0] != b or H.S.shape[2] != p: raise ValueError(f"history of shape {H.S.shape} for {b} rows of {p} variables")
  d, t = np.zeros_like(x), np.ones(b)

  def step_from(rows:np.ndarray) -> np.ndarray:
    """New direction and first step for `rows` at their current point; returns the rows that stop instead."""
    free = ~(((x <= lower) & (g > 0)) | ((x >= upper) & (g < 0)))
    pg = np.where(free, g, 0.0)
    gmax, tol = np.abs(pg).max(1), np.maximum(1.0, np.abs(f))
    stop = gmax <= gtol * tol
    dn = H.direction(pg, free)
    dpg = (dn * pg).sum(1)
    if (lost := rows & ~stop & (dpg >= 0)).any():  # lost descent: steepest descent, forget the pairs
      H.clear(lost); dn[lost] = -pg[lost]; dpg[lost] = -(pg[lost] ** 2).sum(1)
    stop |= (H.n > 0) & (-0.5 * dpg <= ftol * tol)  # the model's predicted decrease is not worth an evaluation
    go = rows & ~stop
    d[go], t[go] = dn[go], np.where(H.n > 0, 1.0, np.minimum(1.0, 1.0 / np.maximum(gmax, 1e-300)))[go]
    return rows & stop

  done |= step_from(~done)
  for _ in range(max_evals - 1):
    if done.all() or (enough is not None and enough(f)): break
    x_try = np.where(done[:, None], x, np.clip(x + t[:, None] * d, lower, upper))
    f_try, g_try = fg(x_try)
    s, y = x_try - x, g_try - g
    ok = ~done & np.isfinite(f_try) & (f_try <= f + 1e-4 * np.minimum((g * s).sum(1), 0.0))
    if ok.any():
      H.push(ok & ((s * y).sum(1) > 1e-12 * np.sqrt((s * s).sum(1) * (y * y).sum(1))), s, y)
      converged = ok & (f - np.where(ok, f_try, 0.0) <= ftol * np.maximum(1.0, np.abs(f_try)))
      x[ok], f[ok], g[ok] = x_try[ok], f_try[ok], g_try[ok]
      done |= converged | step_from(ok & ~converged)
    if (back := ~done & ~ok).any():
      t[back] *= np.where(np.isfinite(f_try), 0.5, 0.1)[back]
      done |= back & (t * np.abs(d).max(1) < 1e-10)
  return x, f, H
