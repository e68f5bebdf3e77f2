"""Seconds per suggestion of two strategies' runs side by side, per problem: the median over seeds of each run's
second-half median (as run.report's last table), and the median whole run. For runs made in one session on one machine,
one core each; across machines or loads the ratio means little.

  python -m benchmarks.suggest_times benchmarks/results/s21_suite_tinybo.json:gp benchmarks/results/s21_optuna_suite.json:optuna-gp
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def runs(spec: str) -> dict[str, list[dict]]:
  """'file.json:strategy' -> problem -> that strategy's finished runs with per-suggestion times."""
  path, strategy = spec.rsplit(":", 1)
  out: dict[str, list[dict]] = {}
  for r in json.loads(Path(path).read_text())["runs"]:
    if r["strategy"] == strategy and r.get("suggest_s"): out.setdefault(r["problem"], []).append(r)
  return out

def second_half_ms(r: dict) -> float:
  s = r["suggest_s"]
  return 1e3 * float(np.median(s[len(s) // 2:]))

def main(argv: list[str] | None = None) -> None:
  a_spec, b_spec = argv or sys.argv[1:]
  a, b = runs(a_spec), runs(b_spec)
  an, bn = a_spec.rsplit(":", 1)[1], b_spec.rsplit(":", 1)[1]
  print(f"| problem | {an} ms | {bn} ms | {bn} / {an} | {an} s per run | {bn} s per run |\n|---|---|---|---|---|---|")
  for p in (p for p in a if p in b):
    ma, mb = (float(np.median([second_half_ms(r) for r in x[p]])) for x in (a, b))
    ta, tb = (float(np.median([sum(r["suggest_s"]) for r in x[p]])) for x in (a, b))
    print(f"| {p} | {ma:.0f} | {mb:.0f} | {mb / ma:.2f} | {ta:.1f} | {tb:.1f} |")

if __name__ == "__main__":
  main()
