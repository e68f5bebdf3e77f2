"""Whether two benchmark result files hold the same suggestions: per (problem, strategy, seed), are the `values`
sequences bit-identical? Prints the count, and the first evaluation where each differing run departs.

  python -m benchmarks.compare_runs benchmarks/results/refactor_before.json benchmarks/results/refactor_same.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
  a, b = ({(r["problem"], r["strategy"], r["seed"]): r.get("values") for r in json.loads(Path(f).read_text())["runs"]}
          for f in (argv or sys.argv[1:]))
  same = [k for k in a if k in b and a[k] is not None and a[k] == b[k]]
  print(f"{len(same)} / {len(a)} runs bit-identical ({len(set(a) & set(b))} in both files)")
  for k in sorted(set(a) & set(b)):
    if k in same or a[k] is None or b[k] is None: continue
    i = next((i for i, (u, v) in enumerate(zip(a[k], b[k])) if u != v), min(len(a[k]), len(b[k])))
    print(f"  {k}: first differs at evaluation {i + 1}")

if __name__ == "__main__":
  main()
