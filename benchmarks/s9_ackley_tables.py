"""Median / 80th percentile / worst final regret per problem and seed half (0-9, 10-19, 0-19) of one strategy in one file
against another (the default), run by run: how many runs are bit-identical (the same value sequence) and how many end
lower / higher. Each side is file:strategy, or several joined by "," (a later file's run of a (problem, seed) wins).

  python -m benchmarks.s9_ackley_tables benchmarks/results/session5_gp_core.json:gp benchmarks/results/s9_ackley_trc_core.json:gp:trust_region=True
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def runs(specs: str) -> dict[tuple[str, int], dict]:
  out: dict[tuple[str, int], dict] = {}
  for spec in specs.split(","):
    path, _, strategy = spec.partition(":")
    out.update({(r["problem"], r["seed"]): r for r in json.loads(Path(path).read_text())["runs"] if r["strategy"] == strategy and "regret" in r})
  return out

def stats(v: np.ndarray) -> str:
  return f"{np.median(v):.3g} / {np.percentile(v, 80):.3g} / {v.max():.3g}" if len(v) else ""

def main(argv: list[str] | None = None) -> None:
  argv = argv or sys.argv[1:]
  a, b = runs(argv[0]), runs(argv[1])
  print("| problem | seeds | before | after | runs bit-identical | lower / higher |\n|---|---|---|---|---|---|")
  for p in dict.fromkeys(k[0] for k in sorted(b)):
    for lo, hi in ((0, 10), (10, 20), (0, 20)):
      keys = [(p, s) for s in range(lo, hi) if (p, s) in a and (p, s) in b]
      if not keys: continue
      x, y = (np.array([d[k]["regret"] for k in keys]) for d in (a, b))
      same = sum(a[k]["values"] == b[k]["values"] for k in keys)
      print(f"| {p} | {lo}-{hi - 1} ({len(keys)}) | {stats(x)} | {stats(y)} | {same} of {len(keys)} | {(y < x).sum()} / {(y > x).sum()} |")

if __name__ == "__main__":
  main()
