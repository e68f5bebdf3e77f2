"""Box-constrained L-BFGS for b independent problems in lock-step, in numpy: the GP's hyperparameter fit and the
acquisition's gradient ascent both drive it. TEMPORARY: the two former implementations, moved here unchanged, until
they are unified.

Imports: numpy.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np


def lbfgs(fg, x0:np.ndarray, lower:np.ndarray, upper:np.ndarray, max_evals:int=100, memory:int=10, gtol:float=1e-6,
          ftol:float=1e-9, history:list|None=None) -> tuple[np.ndarray, np.ndarray, list]:
  """Minimize b independent box-constrained problems in lock-step: fg(x[b,p]) -> (f[b], g[b,p]) is one batched
  evaluation. Each row runs L-BFGS on its free variables (those not held at a bound by the gradient) with projected
  backtracking; a row whose value is non-finite backtracks harder. `history` (per row: (S, Y) curvature pairs) seeds
  the inverse-Hessian model, e.g. from the previous fit of a warm start; it is returned updated.
  Returns (x[b,p], f[b], history); rows that never had a finite value keep f = inf."""
  x = np.clip(x0, lower, upper)
  f, g = fg(x)
  b = x.shape[0]
  done = ~np.isfinite(f)
  f = np.where(done, np.inf, f)
  hist = [(list(S), list(Y)) for S, Y in history] if history is not None else [([], []) for _ in range(b)]
  p, t = np.zeros_like(x), np.ones(b)
  def direction(r:int):
    free = ~(((x[r] <= lower) & (g[r] > 0)) | ((x[r] >= upper) & (g[r] < 0)))
    pg = np.where(free, g[r], 0.0)
    if np.abs(pg).max() <= gtol * max(1.0, abs(f[r])): return None
    d = _two_loop(pg, *hist[r], free)
    if d @ pg >= 0: hist[r][0].clear(); hist[r][1].clear(); d = -pg  # lost descent: restart from steepest descent
    # the quasi-Newton model predicts a decrease of ½|gᵀd|: below ftol, stepping is not worth an evaluation (a warm
    # start whose history still fits the new data stops after its first evaluation)
    if hist[r][0] and -0.5 * (d @ pg) <= ftol * max(1.0, abs(f[r])): return None
    return d, (1.0 if hist[r][0] else min(1.0, 1.0 / np.abs(pg).max()))
  for r in np.flatnonzero(~done):
    if (dt := direction(r)) is None: done[r] = True
    else: p[r], t[r] = dt
  evals = 1
  while not done.all() and evals < max_evals:
    x_try = np.where(done[:, None], x, np.clip(x + t[:, None] * p, lower, upper))
    f_try, g_try = fg(x_try)
    evals += 1
    for r in np.flatnonzero(~done):
      step = x_try[r] - x[r]
      if np.isfinite(f_try[r]) and f_try[r] <= f[r] + 1e-4 * min(g[r] @ step, 0.0):
        yv = g_try[r] - g[r]
        if step @ yv > 1e-12 * np.sqrt((step @ step) * (yv @ yv)):
          hist[r][0].append(step); hist[r][1].append(yv)
          if len(hist[r][0]) > memory: hist[r][0].pop(0); hist[r][1].pop(0)
        converged = f[r] - f_try[r] <= ftol * max(1.0, abs(f_try[r]))
        x[r], f[r], g[r] = x_try[r], f_try[r], g_try[r]
        if converged or (dt := direction(r)) is None: done[r] = True
        else: p[r], t[r] = dt
      else:
        t[r] *= 0.1 if not np.isfinite(f_try[r]) else 0.5
        if t[r] * np.abs(p[r]).max() < 1e-10: done[r] = True
  return x, f, hist

def _two_loop(g:np.ndarray, S:list[np.ndarray], Y:list[np.ndarray], free:np.ndarray) -> np.ndarray:
  # the inverse-Hessian model acts on the free variables only (pairs restricted to them)
  S = [np.where(free, s, 0.0) for s in S]; Y = [np.where(free, yv, 0.0) for yv in Y]
  q, alphas = g.copy(), []
  for s, yv in zip(reversed(S), reversed(Y)):
    sy = s @ yv
    a = (s @ q) / sy if sy > 0 else 0.0
    alphas.append(a); q -= a * yv
  if S and (Y[-1] @ Y[-1]) > 0 and (S[-1] @ Y[-1]) > 0: q *= (S[-1] @ Y[-1]) / (Y[-1] @ Y[-1])
  for (s, yv), a in zip(zip(S, Y), reversed(alphas)):
    sy = s @ yv
    if sy > 0: q += (a - (yv @ q) / sy) * s
  return -np.where(free, q, 0.0)

def batched_lbfgs(fg: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], x0: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                  max_evals: int = 25, memory: int = 8, gtol: float = 1e-7, ftol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
  """Minimize b independent box-constrained problems in lock-step, every numpy operation vectorized over the rows (a
  per-row Python loop costs more than the jitted evaluation it drives). fg(x[b, p]) -> (f[b], g[b, p]) is one batched
  evaluation. Projected L-BFGS directions on the free variables, Armijo backtracking on the projected path.
  Returns (x[b, p], f[b]), the best point each row accepted."""
  b, p = x0.shape
  x = np.clip(x0, lower, upper)
  f, g = fg(x)
  f = np.where(np.isfinite(f), f, np.inf)
  S, Y, rho = np.zeros((memory, b, p)), np.zeros((memory, b, p)), np.zeros((memory, b))  # ring buffer, newest at head - 1
  head, evals = 0, 1
  done = ~np.isfinite(f)
  t = np.ones(b)
  def direction() -> tuple[np.ndarray, np.ndarray]:
    free = ~(((x <= lower) & (g > 0)) | ((x >= upper) & (g < 0)))
    pg = np.where(free, g, 0.0)
    q, alphas = pg.copy(), []
    for k in range(memory):  # newest to oldest; rho = 0 marks an empty slot, a no-op
      j = (head - 1 - k) % memory
      if not rho[j].any(): continue
      a = rho[j] * (S[j] * free * q).sum(1)
      alphas.append((j, a)); q -= a[:, None] * Y[j] * free
    jn = (head - 1) % memory
    yy = ((Y[jn] * free) ** 2).sum(1)
    gamma = np.where((rho[jn] > 0) & (yy > 0), 1.0 / np.maximum(rho[jn] * yy, 1e-300), 1.0)
    q *= gamma[:, None]
    for j, a in reversed(alphas):
      bcoef = rho[j] * (Y[j] * free * q).sum(1)
      q += (a - bcoef)[:, None] * S[j] * free
    d = -np.where(free, q, 0.0)
    bad = (d * pg).sum(1) >= 0  # lost descent: steepest descent, forget the curvature pairs
    d[bad] = -pg[bad]
    rho[:, bad] = 0.0
    return d, pg
  d, pg = direction()
  first = rho.max(0) == 0
  t = np.where(first, np.minimum(1.0, 1.0 / np.maximum(np.abs(pg).max(1), 1e-12)), 1.0)
  done |= np.abs(pg).max(1) <= gtol
  while evals < max_evals and not done.all():
    x_try = np.where(done[:, None], x, np.clip(x + t[:, None] * d, lower, upper))
    f_try, g_try = fg(x_try)
    evals += 1
    f_try = np.where(np.isfinite(f_try), f_try, np.inf)
    step = x_try - x
    ok = ~done & (f_try <= f + 1e-4 * np.minimum((g * step).sum(1), 0.0)) & np.isfinite(f_try)
    if ok.any():
      yv = g_try - g
      sy = (step * yv).sum(1)
      keep = ok & (sy > 1e-12 * np.sqrt((step * step).sum(1) * (yv * yv).sum(1)))
      if keep.any():
        S[head, keep], Y[head, keep], rho[head, keep] = step[keep], yv[keep], 1.0 / sy[keep]
        rho[head, ~keep] = 0.0
        head = (head + 1) % memory
      converged = ok & (f - f_try <= ftol * np.maximum(1.0, np.abs(f_try)))
      x, f, g = np.where(ok[:, None], x_try, x), np.where(ok, f_try, f), np.where(ok[:, None], g_try, g)
      done |= converged
    d_new, pg = direction()
    d = np.where(ok[:, None], d_new, d)
    done |= ok & (np.abs(pg).max(1) <= gtol)
    t = np.where(ok, 1.0, t * np.where(np.isfinite(f_try), 0.5, 0.1))
    done |= ~ok & (t * np.abs(d).max(1) < 1e-10)
  return x, f
