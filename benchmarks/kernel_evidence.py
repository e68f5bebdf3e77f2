"""What a kernel-choosing GP sees at each cold fit: replays one study of a tinybo strategy (the benchmark's run, value for
value) and, at every cold fit, fits Matérn-5/2, 3/2 and 1/2 independently on the same data and prints their MAP
objectives (negative log marginal likelihood minus log prior: lower is better), median lengthscales (unit cube) and noise
variances (standardized), beside the kernel the strategy kept and the best value so far.

  PYTHONPATH=$PWD DEV=CPU python -m benchmarks.kernel_evidence --problem ackley10 --strategy gp:kernel=auto --seeds 2,12 --budget 75
"""
from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from benchmarks.functions import get_problem
from benchmarks.peers import tinybo_strategy

KERNELS = ("matern52", "matern32", "matern12")

def replay(problem_name: str, strategy: str, seed: int, budget: int | None) -> list[dict[str, Any]]:
  """One study; a row per cold fit: t (the suggestion's index), n, best so far, kept kernel, and per kernel (objective,
  median lengthscale, noise)."""
  import tinybo as tb
  from tinybo import bo
  from tinybo.gp import GPRegressor
  prob, rows = get_problem(problem_name), []
  fit_kernels = bo.GP._fit_kernels
  def logged(gp: bo.GP, X: np.ndarray, y: np.ndarray, categorical: list[slice], s: int, warm_start: Any) -> GPRegressor:
    m = fit_kernels(gp, X, y, categorical, s, warm_start)
    if m.n_cold == m.n:
      fits = {k: GPRegressor(k, device=gp.device, lengthscale_prior=gp.lengthscale_prior).fit(
        X, y, categorical=categorical, seed=int(s or 0) & 0xFFFFFFFF, noise=gp.noise) for k in KERNELS}
      rows.append({"n": len(y), "kept": m.kernel, **{k: (f.objective, float(np.median(np.asarray(f.hyperparameters["lengthscales"]))),
                                                          float(np.asarray(f.hyperparameters["noise"]))) for k, f in fits.items()}})
    return m
  bo.GP._fit_kernels = logged
  try:
    opt, values = tb.Optimizer(prob.space, strategy=tinybo_strategy(strategy), seed=seed), []
    for t in range(budget or prob.budget):
      trial = opt.suggest()
      if rows and "t" not in rows[-1]: rows[-1].update(t=t, best=min(values))
      values.append(prob(trial.params))
      opt.observe(trial, values[-1])
  finally: bo.GP._fit_kernels = fit_kernels
  return rows

def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--problem", default="ackley10")
  ap.add_argument("--strategy", default="gp:kernel=auto")
  ap.add_argument("--seeds", default="2,12")
  ap.add_argument("--budget", type=int, default=None, help="evaluations (default: the problem's budget)")
  args = ap.parse_args()
  for seed in map(int, args.seeds.split(",")):
    print(f"{args.problem} {args.strategy} seed {seed}: t, n, best so far, kept; per kernel: objective, median lengthscale, noise")
    for r in replay(args.problem, args.strategy, seed, args.budget):
      cells = "  ".join(f"{k} {r[k][0]:7.2f} {r[k][1]:.3f} {r[k][2]:.1e}" for k in KERNELS)
      print(f"  {r['t']:4d} {r['n']:4d} {r['best']:8.3f} {r['kept']:9s} {cells}", flush=True)

if __name__ == "__main__":
  main()
