"""Where a Hartmann6 run goes: for each seed, one run of a strategy through benchmarks.run's loop (the same suggestions
as `python -m benchmarks.run`), with every evaluated point kept, then the max-norm distance (unit cube) of the run's
points to the global minimizer and to the local minimizer whose value is 0.119 above it.

  python -m benchmarks.h6_basins --strategy gp --seeds 0,9,11,13,14 --out benchmarks/results/s13_h6_basins.json
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from benchmarks.functions import get_problem
from benchmarks.peers import make_adapter

GLOBAL = np.array([0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573])   # f = -3.32237
LOCAL = np.array([0.40465, 0.88244, 0.84610, 0.57399, 0.13893, 0.03850])       # f = -3.20316, regret 0.119

def run(strategy: str, seed: int) -> dict:
  problem = get_problem("hartmann6")
  adapter, X, values = make_adapter(strategy, problem, seed), [], []
  for i in range(problem.budget):
    params = adapter.ask()
    v = problem.observe(params, seed, i)
    adapter.tell(params, v)
    X.append(problem.space.encode(params).tolist()); values.append(v)
  return {"seed": seed, "strategy": strategy, "X": X, "values": values, "regret": min(values) - problem.optimum}

def summary(r: dict, n_design: int = 10) -> str:
  X = np.asarray(r["X"])
  to_global, to_local = np.abs(X - GLOBAL).max(1), np.abs(X - LOCAL).max(1)
  near_local = np.flatnonzero(to_local < 0.15)
  return (f"seed {r['seed']}: regret {r['regret']:.3g}; closest to the global minimizer {to_global.min():.2f} "
          f"(the design's first {n_design}: {to_global[:n_design].min():.2f}); first within 0.15 of the local one: "
          f"{'never' if not len(near_local) else f'evaluation {near_local[0] + 1}'}")

def main() -> None:
  ap = argparse.ArgumentParser()
  ap.add_argument("--strategy", default="gp")
  ap.add_argument("--seeds", default="0,9,11,13,14")
  ap.add_argument("--out", required=True)
  args = ap.parse_args()
  runs = [run(args.strategy, int(s)) for s in args.seeds.split(",")]
  with open(args.out, "w") as f: json.dump(runs, f)
  for r in runs: print(summary(r))

if __name__ == "__main__": main()
