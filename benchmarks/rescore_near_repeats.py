"""A run's final regret scored on the evaluations issue 11 allows: those at least --radius (max-norm, unit cube) from every
earlier one. It runs `benchmarks.run.run_one` of whichever checkout is first on PYTHONPATH, so an old commit's runs can
be rescored without changing it (it needs only `Problem.__call__`, `Problem.space.encode` and run_one's `values` and
`regret`, which every version has). The rescored figure is the best value among the allowed points of the same run, not
a rerun that never took the near-repeats: it shows how much of a run's final regret its near-repeats bought.

  # the pre-refactor code's camel runs (issue 10's bar), from a checkout of 4e4e3ef
  git worktree add /tmp/old4e 4e4e3ef
  PYTHONPATH=/tmp/old4e DEV=CPU PARALLEL=0 OMP_NUM_THREADS=1 python benchmarks/rescore_near_repeats.py --problem camel \\
      --seeds 0-19 --out benchmarks/results/s16_camel_4e4e3ef_rescored.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import benchmarks.functions as functions
from benchmarks.run import run_one


def nearest_earlier(X: np.ndarray) -> np.ndarray:
  """Per row, the max-norm distance to the nearest earlier row (inf for the first)."""
  return np.array([np.inf] + [float(np.abs(X[:i] - X[i]).max(axis=1).min()) for i in range(1, len(X))])

def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--problem", required=True)
  ap.add_argument("--strategy", default="gp")
  ap.add_argument("--seeds", default="0-19", help="a-b, inclusive")
  ap.add_argument("--radius", type=float, default=1e-3)
  ap.add_argument("--out", required=True)
  args = ap.parse_args()
  points: list[np.ndarray] = []
  call = functions.Problem.__call__
  def recorded(self, params):   # the point each evaluation was at, in the problem space's own unit-cube encoding
    points.append(np.asarray(self.space.encode(params), dtype=np.float64))
    return call(self, params)
  functions.Problem.__call__ = recorded
  optimum = functions.get_problem(args.problem).optimum
  lo, hi = map(int, args.seeds.split("-"))
  out = {}
  for seed in range(lo, hi + 1):
    points.clear()
    r = run_one(args.problem, args.strategy, seed)
    if "error" in r: raise SystemExit(r["error"])
    values, allowed = np.asarray(r["values"]), nearest_earlier(np.stack(points)) >= args.radius
    out[str(seed)] = {"regret": r["regret"], "regret_allowed": float(values[allowed].min() - optimum),
                      "near_repeats": int((~allowed).sum()), "values": r["values"]}
    print(f"seed {seed}: regret {r['regret']:.3g}, on the allowed points {out[str(seed)]['regret_allowed']:.3g}, "
          f"{out[str(seed)]['near_repeats']} near-repeats of {len(values)}", flush=True)
  Path(args.out).write_text(json.dumps({"problem": args.problem, "strategy": args.strategy, "radius": args.radius, "runs": out}, indent=1))
  for a, b in ((lo, min(hi, lo + 9)), (lo + 10, hi)) if hi - lo >= 10 else ((lo, hi),):
    for key in ("regret", "regret_allowed"):
      v = np.array([out[str(s)][key] for s in range(a, b + 1)])
      print(f"seeds {a}-{b} {key}: {np.median(v):.3g} / {np.percentile(v, 80):.3g} / {v.max():.3g} (median / p80 / worst)")

if __name__ == "__main__":
  main()
