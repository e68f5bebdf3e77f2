"""How well the GP predicts a conditional problem from random configurations, with the tree modelled (the arc embedding
of tree.py at several angles) or flattened: the surrogate's accuracy alone, without the acquisition. For each seed, n
random valid configurations to fit on and 1,000 to test on; the GP is tinybo's (Matérn-5/2, MAP fit), fitted on -f.
Reports the mean over seeds of the test RMSE, Spearman's rank correlation on all test points and on the best 20% (the
ranking BO needs near the optimum), and the median negative log predictive density.

  PYTHONPATH=$PWD DEV=CPU python -m benchmarks.conditional_model --problems training_recipe,ml_conditional --n 30,60 --radians 1,2,3
"""
from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from benchmarks.conditional_problems import CONDITIONAL_PROBLEMS, get_conditional_problem
from benchmarks.run import RESULTS
from tinybo.gp import GPRegressor
from tinybo.tree import TreeInputs


def spearman(a: np.ndarray, b: np.ndarray) -> float:
  """Rank correlation (ties broken by order: the test values are continuous)."""
  ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
  return float(np.corrcoef(ra, rb)[0, 1])

def scores(problem_name: str, n: int, seed: int, modes: list[str]) -> dict[str, tuple[float, float, float, float]]:
  """mode ("flatten" or "radians=r") -> (rmse, spearman, spearman on the best 20%, mean nlpd) for one seed."""
  prob = get_conditional_problem(problem_name)
  space, rng = prob.space, np.random.default_rng(seed)
  X, Xt = space.round(space.sample(rng, n)), space.round(space.sample(rng, 1000))
  y, yt = (-np.array([prob(p) for p in space.decode_many(A)]) for A in (X, Xt))
  top = yt >= np.quantile(yt, 0.8)
  out = {}
  for mode in modes:
    tree = None if mode == "flatten" else TreeInputs.of(space, float(mode.split("=")[1]))
    g, cats = (lambda A: A, space.cat_groups) if tree is None else (tree, tree.categorical)
    mu, var = GPRegressor("matern52").fit(g(X), y, categorical=cats, seed=seed).predict(g(Xt))
    nlpd = float(np.mean(0.5 * np.log(2 * np.pi * var) + 0.5 * (mu - yt) ** 2 / var))
    out[mode] = (math.sqrt(float(np.mean((mu - yt) ** 2))), spearman(mu, yt), spearman(mu[top], yt[top]), nlpd)
  return out

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--problems", default=",".join(CONDITIONAL_PROBLEMS))
  ap.add_argument("--n", default="30,60", help="training set sizes")
  ap.add_argument("--radians", default="1,2,3", help="angles of the tree GP's arc embedding (tree.ARC is the default)")
  ap.add_argument("--seeds", type=int, default=10)
  ap.add_argument("--tag", default=None, help="results file name in benchmarks/results (default: none written)")
  args = ap.parse_args(argv)
  modes = ["flatten"] + [f"radians={float(r):g}" for r in args.radians.split(",")]
  rows = []
  print("| problem | n | model | RMSE | Spearman | Spearman, best 20% | NLPD (median) |\n|---|---|---|---|---|---|---|")
  for p in args.problems.split(","):
    for n in (int(v) for v in args.n.split(",")):
      per_seed = [scores(p, n, s, modes) for s in range(args.seeds)]
      for mode in modes:
        v = np.array([s[mode] for s in per_seed])
        rows.append({"problem": p, "n": n, "model": mode, "rmse": v[:, 0].tolist(), "spearman": v[:, 1].tolist(),
                     "spearman_top": v[:, 2].tolist(), "nlpd": v[:, 3].tolist()})
        print(f"| {p} | {n} | {mode} | {v[:, 0].mean():.3f} | {v[:, 1].mean():.3f} | {v[:, 2].mean():.3f} | {np.median(v[:, 3]):.2f} |", flush=True)
  if args.tag:
    (RESULTS / f"{args.tag}.json").write_text(json.dumps({"meta": {"argv": argv, "time": time.strftime("%Y-%m-%d %H:%M:%S")}, "rows": rows}))

if __name__ == "__main__":
  main()
