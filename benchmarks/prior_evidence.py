"""Which lengthscale prior the data favour: runs the default strategy on a problem and, after n evaluations, fits the GP
with the "unit" and the "hvarfner" prior on the same data and scores each by its leave-one-out log predictive density
(Rasmussen and Williams 2006, eq. 5.10-5.12: mean over the points of log N(y_i; mu_-i, var_-i), from the inverse kernel
matrix; higher is better) and by its MAP objective (negative log marginal likelihood minus log prior; lower is better).
A rule that chose the prior by the data would need the favoured prior to be the one that optimizes better.

  PYTHONPATH=$PWD DEV=CPU python -m benchmarks.prior_evidence --problems hartmann6_noisy,hartmann6,ackley6,ackley8 --seeds 6 \
      --at 30,50 --out benchmarks/results/s33_prior_evidence.json
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.functions import get_problem
from benchmarks.peers import make_adapter

PRIORS = ("unit", "hvarfner")

def np_kernel(name: str, X1: np.ndarray, X2: np.ndarray, ls: np.ndarray, sf2: float) -> np.ndarray:
  """The stationary kernels of tinybo.kernels in numpy (unit-cube inputs, every column continuous)."""
  r = np.sqrt((((X1[:, None, :] - X2[None, :, :]) / ls) ** 2).sum(-1))
  if name == "rbf": return sf2 * np.exp(-r ** 2 / 2)
  if name == "matern12": return sf2 * np.exp(-r)
  if name == "matern32": return sf2 * (1 + math.sqrt(3) * r) * np.exp(-math.sqrt(3) * r)
  return sf2 * (1 + math.sqrt(5) * r + 5 / 3 * r ** 2) * np.exp(-math.sqrt(5) * r)

def loo_log_density(model: Any) -> float:
  """Mean leave-one-out log predictive density of a fitted GPRegressor on its own standardized training targets."""
  h, y = model.hyperparameters, model.y_train
  K = np_kernel(model.kernel, model.X, model.X, np.asarray(h["lengthscales"]), h["outputscale"]) + h["noise"] * np.eye(len(y))
  Ki = np.linalg.inv(K)
  var = 1.0 / np.diag(Ki)
  resid = (Ki @ y) * var   # y_i - mu_-i
  return float(np.mean(-0.5 * np.log(2 * math.pi * var) - 0.5 * resid ** 2 / var))

def run(problem_name: str, seed: int, at: list[int]) -> list[dict[str, Any]]:
  from tinybo.gp import GPRegressor
  prob, rows, X, y = get_problem(problem_name), [], [], []
  adapter = make_adapter("gp", prob, seed)
  for i in range(max(at)):
    p = adapter.ask(); v = prob.observe(p, seed, i); adapter.tell(p, v)
    X.append(prob.space.encode(p)); y.append(v)
    if i + 1 in at:
      fits = {k: GPRegressor("matern52", lengthscale_prior=k).fit(np.array(X), -np.array(y), seed=0) for k in PRIORS}
      rows.append({"problem": problem_name, "seed": seed, "n": i + 1, **{k: {"loo": loo_log_density(f), "objective": f.objective}
                                                                           for k, f in fits.items()}})
  return rows

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  ap.add_argument("--problems", default="hartmann6_noisy,hartmann6,ackley6,ackley8")
  ap.add_argument("--seeds", type=int, default=6)
  ap.add_argument("--at", default="30,50", help="evaluation counts at which to fit both priors")
  ap.add_argument("--out", type=Path, default=None)
  a = ap.parse_args(argv)
  at, rows = [int(s) for s in a.at.split(",")], []
  for name in a.problems.split(","):
    for seed in range(a.seeds):
      for r in run(name, seed, at):
        rows.append(r)
        print(f"{name:16s} seed {seed:2d} n {r['n']}: LOO unit {r['unit']['loo']:.3f} hvarfner {r['hvarfner']['loo']:.3f}; "
              f"MAP objective unit {r['unit']['objective']:.2f} hvarfner {r['hvarfner']['objective']:.2f}", flush=True)
  for name in a.problems.split(","):
    mine = [r for r in rows if r["problem"] == name]
    print(f"{name}: LOO favours hvarfner in {sum(r['hvarfner']['loo'] > r['unit']['loo'] for r in mine)} of {len(mine)} fits, "
          f"the MAP objective in {sum(r['hvarfner']['objective'] < r['unit']['objective'] for r in mine)}")
  if a.out: a.out.write_text(json.dumps(rows, indent=1))

if __name__ == "__main__":
  main()
