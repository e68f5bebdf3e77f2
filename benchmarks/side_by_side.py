"""Median / 80th percentile / worst final regret per problem and seed half (0-9, 10-19, 0-19), several strategies side by
side, each a column given as file:strategy, or several joined by "," (a later file's run of a (problem, seed) wins);
"[n=k]" marks a cell with fewer seeds than the half.

  python -m benchmarks.side_by_side --problems branin_noisy,hartmann6_noisy \\
      benchmarks/results/session5_gp_core.json:gp benchmarks/results/s10_noise_edge.json:gp:acquisition=edge
"""
from __future__ import annotations

import argparse

import numpy as np

from benchmarks.s9_ackley_tables import runs, stats


def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--problems", required=True)
  ap.add_argument("columns", nargs="+", help="file:strategy[,file:strategy...] per column")
  args = ap.parse_args(argv)
  cols = [runs(c) for c in args.columns]
  print("| problem | seeds | " + " | ".join(c.split(",")[-1].split(":", 1)[1] for c in args.columns) + " |\n|---|---|" + "---|" * len(cols))
  for p in args.problems.split(","):
    for lo, hi in ((0, 10), (10, 20), (0, 20)):
      cells = []
      for c in cols:
        v = np.array([c[(p, s)]["regret"] for s in range(lo, hi) if (p, s) in c])
        cells.append(stats(v) + ("" if len(v) in (0, hi - lo) else f" [n={len(v)}]"))
      print(f"| {p} | {lo}-{hi - 1} | " + " | ".join(cells) + " |")

if __name__ == "__main__":
  main()
