"""Screen: input warping (a Kumaraswamy CDF per input, as BoTorch's `Warp` and HEBO fit it) under the default GP strategy.

Issue 11 names input warping among the remedies for stuck runs; it needs warp parameters in the MAP fit, whose gradients
tinybo writes by hand. Before building that, this screen asks whether it would help at all, outside the library:
- every suggestion, a GP (Matern 5/2, ARD, constant mean, fitted noise) with a Kumaraswamy CDF w_i(u) = 1 - (1 - u^a_i)^b_i
  on each unit-cube input is fitted by MAP in torch (float64, L-BFGS from scipy; priors as BoTorch's Warp: a, b
  log-normal(0, 0.75) and bounded to [0.1, 10]; lengthscales log-normal(sqrt 2 + log(d) / 2, sqrt 3), Hvarfner's);
- a fresh tb.Optimizer on the warped unit cube observes every trial at w(u) and suggests; the suggestion is mapped
  back by the inverse CDF, u = (1 - (1 - w)^(1/b))^(1/a). The same tb.GP object serves every step (its state, caches and
  noise verdicts carry over); during the initial design the warp is the identity.
- `gp-rebuild` is the control: the same rebuilt optimizer each step with the identity warp (the default's behaviour up to
  what a rebuild changes), so the difference of the two is the warp's.
All-Float problems only (the warp is of continuous inputs). Runs are written as benchmarks.run writes them.

  python -m benchmarks.input_warp_screen --problems hartmann6,branin --variants gp-rebuild,gp-kwarp --seeds 0-9 -o DIR --tag T
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.functions import Problem
from benchmarks.run import run_jobs, run_meta

EPS = 1e-7            # inputs squeezed into [EPS, 1 - EPS] before the CDF (BoTorch's Warp does the same)
BOUNDS = (0.1, 10.0)  # a and b


def kumaraswamy(u: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
  u = EPS + (1 - 2 * EPS) * np.clip(u, 0.0, 1.0)
  return 1.0 - (1.0 - u ** a) ** b

def kumaraswamy_inverse(w: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
  u = (1.0 - (1.0 - np.clip(w, 0.0, 1.0)) ** (1.0 / b)) ** (1.0 / a)
  return np.clip((u - EPS) / (1 - 2 * EPS), 0.0, 1.0)

def fit_warp(U: np.ndarray, y: np.ndarray, start: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
  """MAP (a, b) of a Matern-5/2 ARD GP on Kumaraswamy-warped inputs, the GP's own hyperparameters fitted jointly."""
  import torch
  from scipy.optimize import minimize
  n, d = U.shape
  Ut = torch.tensor(EPS + (1 - 2 * EPS) * U, dtype=torch.float64)
  yt = torch.tensor((y - y.mean()) / (y.std() or 1.0), dtype=torch.float64)
  mu_l, sd_l = np.sqrt(2) + np.log(d) / 2, np.sqrt(3)
  lo, hi = np.log(BOUNDS[0]), np.log(BOUNDS[1])

  def nlp(theta: torch.Tensor) -> torch.Tensor:
    log_ls, log_s2, log_sn2 = theta[:d], theta[d], theta[d + 1]
    log_a, log_b, mean = theta[d + 2:2 * d + 2], theta[2 * d + 2:3 * d + 2], theta[3 * d + 2]
    W = 1 - (1 - Ut ** log_a.exp()) ** log_b.exp()
    Z = W / log_ls.exp()
    r = torch.sqrt(((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1) + 1e-12)
    s5 = np.sqrt(5.0) * r
    K = log_s2.exp() * (1 + s5 + s5 ** 2 / 3) * torch.exp(-s5) + (log_sn2.exp() + 1e-6) * torch.eye(n, dtype=torch.float64)
    L = torch.linalg.cholesky(K)
    res = (yt - mean)[:, None]
    alpha = torch.cholesky_solve(res, L)
    nll = 0.5 * (res * alpha).sum() + torch.log(torch.diagonal(L)).sum()
    prior = (((log_ls + np.log(1.0) - mu_l) ** 2) / (2 * sd_l ** 2)).sum()            # log-normal on the lengthscales
    prior = prior + ((log_a ** 2).sum() + (log_b ** 2).sum()) / (2 * 0.75)            # log-normal(0, 0.75) on a, b
    prior = prior + ((log_s2 - 0.0) ** 2) / 2 + ((log_sn2 + 6) ** 2) / 8               # mild, on the variances
    return nll + prior

  def fg(x: np.ndarray) -> tuple[float, np.ndarray]:
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    try: v = nlp(t)
    except RuntimeError: return 1e10, np.zeros_like(x)   # a Cholesky that failed: a wall for L-BFGS
    v.backward()
    g, f = t.grad.numpy(), float(v.detach())
    return (f, g) if np.isfinite(f) and np.all(np.isfinite(g)) else (1e10, np.zeros_like(x))

  bounds = [(np.log(1e-2), np.log(1e2))] * d + [(np.log(1e-2), np.log(1e2)), (np.log(1e-8), np.log(2.0))] \
         + [(lo, hi)] * (2 * d) + [(-3.0, 3.0)]
  def theta0(ab: np.ndarray | None) -> np.ndarray:
    ab = np.zeros(2 * d) if ab is None else np.log(np.clip(ab, *BOUNDS))
    return np.concatenate([np.full(d, np.log(0.5)), [0.0, np.log(1e-3)], ab, [0.0]])
  best = None
  for s in ([None] if start is None else [None, start]):
    r = minimize(fg, theta0(s), jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 200})
    if best is None or r.fun < best.fun: best = r
  ab = np.exp(best.x[d + 2:3 * d + 2])
  return ab[:d], ab[d:]


class WarpedTinybo:
  """The adapter (ask/tell/recommend, as benchmarks.peers'): see the module's docstring."""
  def __init__(self, problem: Problem, seed: int, warp: bool):
    import tinybo as tb
    self.problem, self.seed, self.warp, self.tb = problem, seed, warp, tb
    self.space = problem.space
    if any(type(p).__name__ != "Float" for p in problem.params.values()):
      raise ValueError(f"{problem.name}: the input-warp screen takes all-Float problems only")
    self.d = self.space.dim
    self.inner = tb.Space({f"u{i}": tb.Float(0.0, 1.0) for i in range(self.d)})
    self.strategy = tb.GP()
    self.U: list[np.ndarray] = []
    self.y: list[float] = []
    self.ab: np.ndarray | None = None
    self.asked: tuple[Any, np.ndarray] | None = None
    self.info = {"tinybo": tb.__version__, "warp": "kumaraswamy" if warp else "identity"}

  def ask(self) -> dict[str, Any]:
    d = self.d
    a, b = np.ones(d), np.ones(d)
    if self.warp and len(self.y) >= self.strategy.initial_size(self.inner):
      a, b = fit_warp(np.array(self.U), np.array(self.y), self.ab)
      self.ab = np.concatenate([a, b])
    opt = self.tb.Optimizer(self.inner, strategy=self.strategy, seed=self.seed)
    for u, v in zip(self.U, self.y):
      w = kumaraswamy(u, a, b) if self.warp else u
      opt.observe({f"u{i}": float(w[i]) for i in range(d)}, v)
    t = opt.suggest()
    w = np.array([t.params[f"u{i}"] for i in range(d)])
    u = kumaraswamy_inverse(w, a, b) if self.warp else w
    params = self.space.decode(u)
    # the unit-cube point itself, not encode(decode(u)): that rounds (a float32 product), and the initial design, which
    # avoids taken configurations by key, would then suggest its first point again and again
    self.asked = (self.space.key(params), u)
    return params

  def tell(self, params: dict[str, Any], value: float) -> None:
    key, u = self.asked
    if self.space.key(params) != key: raise ValueError("tell() takes the configuration ask() returned last")
    self.U.append(u)
    self.y.append(float(value))

  def recommend(self) -> dict[str, Any]:   # the noisy problems' recommendation: the best observed (a screen of the search)
    return self.space.decode(self.U[int(np.argmin(self.y))])


def make(strategy: str, problem: Problem, seed: int) -> WarpedTinybo:
  if strategy not in ("gp-rebuild", "gp-kwarp"): raise ValueError(f"unknown variant {strategy!r}; use gp-rebuild or gp-kwarp")
  return WarpedTinybo(problem, seed, warp=strategy == "gp-kwarp")


def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--problems", required=True)
  ap.add_argument("--variants", default="gp-rebuild,gp-kwarp")
  ap.add_argument("--seeds", default="0-9", help="a range lo-hi (inclusive)")
  ap.add_argument("-o", "--out", default="benchmarks/results")
  ap.add_argument("--tag", required=True)
  ap.add_argument("--resume", action="store_true")
  a = ap.parse_args(argv)
  lo, _, hi = a.seeds.partition("-")
  seeds = range(int(lo), int(hi or lo) + 1)
  jobs = [(p, v, s, None) for p in a.problems.split(",") for v in a.variants.split(",") for s in seeds]
  path = Path(a.out) / f"{a.tag}.json"
  path.parent.mkdir(parents=True, exist_ok=True)
  run_jobs(jobs, path, run_meta(sys.argv if argv is None else argv), make=make, resume=a.resume)


if __name__ == "__main__":
  os.environ.setdefault("DEV", "CPU")
  main()
