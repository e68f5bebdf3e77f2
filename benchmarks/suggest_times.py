"""Seconds per suggestion of two strategies' runs side by side, per problem: run.summarize's suggest_ms (the median over
the second half of every run's suggestions, pooled, as run.report's last table and suite_table's), and the median
whole run. For runs made in one session on one machine, one core each; across machines or loads the ratio means little.

  python -m benchmarks.suggest_times benchmarks/results/s21_suite_tinybo.json:gp benchmarks/results/s21_optuna_suite.json:optuna-gp
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.run import summarize


def runs(spec: str) -> list[dict]:
  """'file.json:strategy' -> that strategy's finished runs with per-suggestion times."""
  path, strategy = spec.rsplit(":", 1)
  return [r for r in json.loads(Path(path).read_text())["runs"] if r["strategy"] == strategy and "regret" in r and r.get("suggest_s")]

def main(argv: list[str] | None = None) -> None:
  a_spec, b_spec = argv or sys.argv[1:]
  (a, an), (b, bn) = ((runs(s), s.rsplit(":", 1)[1]) for s in (a_spec, b_spec))
  sa, sb = summarize(a), summarize(b)
  print(f"| problem | {an} ms | {bn} ms | {bn} / {an} | {an} s per run | {bn} s per run |\n|---|---|---|---|---|---|")
  for p in dict.fromkeys(r["problem"] for r in a):
    if (p, bn) not in sb: continue
    ma, mb = sa[(p, an)]["suggest_ms"], sb[(p, bn)]["suggest_ms"]
    ta, tb = (float(np.median([sum(r["suggest_s"]) for r in x if r["problem"] == p])) for x in (a, b))
    print(f"| {p} | {ma:.0f} | {mb:.0f} | {mb / ma:.2f} | {ta:.1f} | {tb:.1f} |")

if __name__ == "__main__":
  main()
