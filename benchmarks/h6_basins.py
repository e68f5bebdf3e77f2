"""Where a Hartmann6 run goes: for each seed, one run of a strategy through benchmarks.run's loop (the same suggestions
as `python -m benchmarks.run`), with every evaluated point kept, then the max-norm distance (unit cube) of the run's
points to the global minimizer and to the local minimizer whose value is 0.119 above it. Hartmann6-25d (--problem): the
same, on the 6 columns Hartmann6 reads.

  python -m benchmarks.h6_basins --strategy gp --seeds 0,9,11,13,14 --out benchmarks/results/s13_h6_basins.json
  python -m benchmarks.h6_basins --landscape --out benchmarks/results/s14_h6_landscape.json
  python -m benchmarks.h6_basins --problem hartmann6_25d --design 26 --seeds 0,1,...,19 --out benchmarks/results/s21_h6_25d_basins.json
  python -m benchmarks.h6_basins --summarize --design 26 --out benchmarks/results/s21_h6_25d_basins.json   # print a stored file's summaries

--landscape: how the cube divides between the two basins: the minimum that scipy's L-BFGS-B reaches from uniform random
starts, and the share of uniform random points below a few values, also by the term (bump) that dominates there.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from benchmarks.functions import _H6_A, _H6_P, _H_ALPHA, H6_25D_ACTIVE, get_problem
from benchmarks.peers import make_adapter

GLOBAL = np.array([0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573])   # f = -3.32237
LOCAL = np.array([0.40465, 0.88244, 0.84610, 0.57399, 0.13893, 0.03850])       # f = -3.20316, regret 0.119

def bump(X: np.ndarray) -> np.ndarray:
  """For each row of X (unit cube), which of Hartmann6's four terms dominates its value, numbered 1-4: the global minimizer
  lies in term 3's bump, the local one in term 4's."""
  return np.argmax(_H_ALPHA * np.exp(-np.sum(_H6_A * (np.asarray(X)[:, None, :] - _H6_P) ** 2, axis=-1)), axis=1) + 1

def run(strategy: str, seed: int, problem_name: str = "hartmann6") -> dict:
  problem = get_problem(problem_name)
  adapter, X, values = make_adapter(strategy, problem, seed), [], []
  for i in range(problem.budget):
    params = adapter.ask()
    v = problem.observe(params, seed, i)
    adapter.tell(params, v)
    x = problem.space.encode(params)
    X.append((x[list(H6_25D_ACTIVE)] if problem_name == "hartmann6_25d" else x).tolist()); values.append(v)
  # hartmann6_25d: X holds the 6 columns Hartmann6 reads, in its order
  return {"seed": seed, "strategy": strategy, "problem": problem_name, "X": X, "values": values, "regret": min(values) - problem.optimum}

def summary(r: dict, n_design: int = 10) -> str:
  X = np.asarray(r["X"])
  to_global, to_local = np.abs(X - GLOBAL).max(1), np.abs(X - LOCAL).max(1)
  near_local = np.flatnonzero(to_local < 0.15)
  v, b = np.asarray(r["values"]), bump(X)
  top = int(np.argmin(v[:n_design]))
  seen = [f"bump {k}: {int(np.sum((b == k) & (v < -0.5)))} point(s), the first at evaluation {np.flatnonzero((b == k) & (v < -0.5))[0] + 1}"
          for k in (3, 4) if np.any((b == k) & (v < -0.5))]
  return (f"seed {r['seed']}: regret {r['regret']:.3g}; the design's best {v[top]:.2f} in bump {b[top]}; "
          f"closest to the global minimizer {to_global.min():.2f} "
          f"(the design's first {n_design}: {to_global[:n_design].min():.2f}); first within 0.15 of the local one: "
          f"{'never' if not len(near_local) else f'evaluation {near_local[0] + 1}'}; below -0.5 in {'; '.join(seen) or 'neither bump'}")

def landscape(n_starts: int = 400, n_points: int = 50000, seed: int = 0) -> dict:
  from scipy.optimize import minimize  # benchmarks only: the library never imports scipy
  problem, rng = get_problem("hartmann6"), np.random.default_rng(seed)
  space = problem.space
  f = lambda x: problem.fn(space.decode(np.clip(x, 0.0, 1.0)))
  ends = [round(float(minimize(f, rng.random(6), bounds=[(0, 1)] * 6, method="L-BFGS-B").fun), 3) for _ in range(n_starts)]
  X = rng.random((n_points, 6))
  values, b = np.array([f(x) for x in X]), bump(X)
  minima = {str(v): ends.count(v) / n_starts for v in sorted(set(ends))}
  below = {str(t): float(np.mean(values < t)) for t in (-0.5, -1.0, -2.0, -3.0)}
  by_bump = {str(t): {str(k): float(np.mean((b == k) & (values < t))) for k in (1, 2, 3, 4)} for t in (-0.5, -1.0)}
  return {"n_starts": n_starts, "n_points": n_points, "seed": seed, "lbfgsb_minimum_share": minima, "share_below": below,
          "share_below_by_bump": by_bump}

def main() -> None:
  ap = argparse.ArgumentParser()
  ap.add_argument("--strategy", default="gp")
  ap.add_argument("--problem", default="hartmann6", choices=("hartmann6", "hartmann6_25d"))
  ap.add_argument("--design", type=int, default=10, help="the initial design's size, for the summary (hartmann6_25d: 26)")
  ap.add_argument("--seeds", default="0,9,11,13,14")
  ap.add_argument("--out", required=True)
  ap.add_argument("--landscape", action="store_true", help="the basins' shares of the cube instead of runs")
  ap.add_argument("--summarize", action="store_true", help="print the summaries of the runs stored in --out instead of running")
  args = ap.parse_args()
  if args.landscape:
    result = landscape()
    with open(args.out, "w") as f: json.dump(result, f)
    print(result); return
  if args.summarize:
    with open(args.out) as f: runs = json.load(f)
  else:
    runs = [run(args.strategy, int(s), args.problem) for s in args.seeds.split(",")]
    with open(args.out, "w") as f: json.dump(runs, f)
  for r in runs: print(summary(r, args.design))

if __name__ == "__main__": main()
