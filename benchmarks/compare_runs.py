"""Two benchmark result files side by side: per (problem, strategy, seed), are the `values` sequences bit-identical (and
where does each differing run first depart), then per (problem, strategy) the median and 80th-percentile final regret of
the seeds both files hold, and how many seeds got better, stayed the same or got worse.

  python -m benchmarks.compare_runs benchmarks/results/refactor_before.json benchmarks/results/refactor_after2.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def first_difference(u: list[float], v: list[float]) -> str:
  """Where two value sequences part: the first evaluation whose values differ, or, where one is a prefix of the other
  (a run cut short, or another budget), the lengths; a run of either length is not bit-identical to the other."""
  i = next((i for i, (x, y) in enumerate(zip(u, v)) if x != y), None)
  if i is not None: return f"first differs at evaluation {i + 1}" + ("" if len(u) == len(v) else f" (lengths {len(u)} and {len(v)})")
  return f"equal for {min(len(u), len(v))} evaluations, then lengths differ ({len(u)} and {len(v)})"

def main(argv: list[str] | None = None) -> None:
  a, b = ({(r["problem"], r["strategy"], r["seed"]): r for r in json.loads(Path(f).read_text())["runs"] if "values" in r}
          for f in (argv or sys.argv[1:]))
  both = sorted(set(a) & set(b))
  same = [k for k in both if a[k]["values"] == b[k]["values"]]
  print(f"{len(same)} / {len(a)} runs bit-identical ({len(both)} in both files)")
  for k in both:
    if k in same: continue
    print(f"  {k}: {first_difference(a[k]['values'], b[k]['values'])}")
  print("\n| problem | strategy | seeds | median before | median after | p80 before | p80 after | better / same / worse |")
  print("|---|---|---|---|---|---|---|---|")
  for p, st in dict.fromkeys(k[:2] for k in both):
    x, y = (np.array([d[k]["regret"] for k in both if k[:2] == (p, st)]) for d in (a, b))
    print(f"| {p} | {st} | {len(x)} | {np.median(x):.3g} | {np.median(y):.3g} | {np.percentile(x, 80):.3g} | {np.percentile(y, 80):.3g} | "
          f"{(y < x).sum()} / {(y == x).sum()} / {(y > x).sum()} |")

if __name__ == "__main__":
  main()
