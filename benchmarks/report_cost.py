"""The cost of `report()` with a stopping rule in a large SQLite study: every rule decides inside the study's write
transaction, so its time is time every other worker waits for the lock.

  python -m benchmarks.report_cost [--trials 5000] [--reports 10] [--out benchmarks/results/report_cost.json]

Builds (once, in a temporary folder) a study of `--trials` complete trials with `--reports` reports each (steps 1..R),
then a new trial reports steps 1..R under each rule: the reports that cross a rung (ASHA's and Hyperband's 1, 3, 9) replay
every other trial's reports; the others return at once. Prints the median milliseconds of the crossing reports and of
the rest, per rule.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import tinybo as tb


def build(path: str, n: int, r: int) -> None:
  opt = tb.Optimizer(tb.Space({"x": tb.Float(0, 1)}), strategy="random", storage=f"sqlite:///{path}", name="s", seed=0)
  rng = np.random.default_rng(0)
  for _ in range(n):
    t = opt.suggest()
    for s in range(1, r + 1): opt.report(t, float(rng.random()), s)
    opt.observe(t, float(rng.random()))

def time_reports(path: str, rule, r: int) -> list[float]:
  # a rule that asks the model (keep_chance, ModelStopping) needs the GP strategy; the others run under random search
  strategy = tb.GP() if getattr(rule, "uses_model", False) else "random"
  opt = tb.Optimizer(tb.Space({"x": tb.Float(0, 1)}), strategy=strategy, storage=f"sqlite:///{path}", name="s", seed=0, stopping=rule)
  t, out = opt.suggest(), []
  for s in range(1, r + 1):
    a = time.perf_counter()
    opt.report(t, 0.0, s)   # the best value: never stopped, so every step reports
    out.append(time.perf_counter() - a)
  opt.observe(t, 0.0)
  return out

def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--trials", type=int, default=5000)
  ap.add_argument("--reports", type=int, default=10)
  ap.add_argument("--out", default=None)
  ap.add_argument("--db", default=None, help="keep the built study here and reuse it when it exists (to time two versions of tinybo)")
  args = ap.parse_args()
  rules = {"ASHA(1, 27, 3)": lambda: tb.ASHA(1, 27, 3), "Hyperband(1, 27, 3)": lambda: tb.Hyperband(1, 27, 3),
           "MedianStopping()": lambda: tb.MedianStopping(), "ASHA(1, 27, 3, keep_chance=0.5)": lambda: tb.ASHA(1, 27, 3, keep_chance=0.5)}
  crossing = {1, 3, 9}
  res: dict = {"trials": args.trials, "reports": args.reports, "rules": {}}
  with tempfile.TemporaryDirectory() as d:
    path = args.db or str(Path(d) / "study.db")
    if not Path(path).exists():
      t = time.perf_counter()
      build(path, args.trials, args.reports)
      print(f"built {args.trials} trials x {args.reports} reports in {time.perf_counter() - t:.0f} s")
    path = str(Path(d) / "copy.db")   # each rule's new trial goes into a copy: the built study stays as it was
    Path(path).write_bytes(Path(args.db or str(Path(d) / "study.db")).read_bytes())
    print("| rule | ms per report at steps 1, 3, 9 (ASHA's rungs) | ms per other report |\n|---|---|---|")
    for name, make in rules.items():
      ts = time_reports(path, make(), args.reports)   # each rule's trial joins the study: 5,001 trials, then 5,002
      cross = [1e3 * x for s, x in enumerate(ts, 1) if s in crossing]
      rest = [1e3 * x for s, x in enumerate(ts, 1) if s not in crossing]
      res["rules"][name] = {"ms": [1e3 * x for x in ts]}
      print(f"| {name} | {statistics.median(cross):.1f} | {statistics.median(rest):.1f} |")
  if args.out: Path(args.out).write_text(json.dumps(res, indent=1))

if __name__ == "__main__":
  main()
