"""Runs benchmark jobs in order in ONE process and compares each run with its recorded run: a check that a run does not
depend on what ran before it in the process (tests/test_process_history.py asserts the same for two small studies).
Jobs are problem/strategy/seed (benchmarks.run's problems or benchmarks.conditional_problems'); a job without a record is
run only for its history.

  PYTHONPATH=$PWD DEV=CPU python -m benchmarks.process_history --records benchmarks/results/session7_noisy_auto.json \
    --jobs "branin_noisy/gp:warp=power/0,branin_noisy/gp:acquisition=auto/0"
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def run_job(problem: str, strategy: str, seed: int) -> dict[str, Any]:
  from benchmarks import conditional_bench, run
  from benchmarks.conditional_problems import CONDITIONAL_PROBLEMS
  return conditional_bench.run_one(problem, strategy, seed) if problem in CONDITIONAL_PROBLEMS else run.run_one(problem, strategy, seed)

def first_departure(a: list[float], b: list[float]) -> int | None:
  """The 1-based evaluation where two value sequences first differ (None: bit-identical, a shorter one a prefix)."""
  return next((i + 1 for i, (u, v) in enumerate(zip(a, b)) if u != v), None)

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--records", required=True, help="results JSONs with the recorded runs, comma-separated")
  ap.add_argument("--jobs", required=True, help="problem/strategy/seed,... run in this order in this process")
  args = ap.parse_args(argv)
  records = {(r["problem"], r["strategy"], r["seed"]): r for f in args.records.split(",")
             for r in json.loads(Path(f).read_text())["runs"] if "values" in r}
  for job in args.jobs.split(","):
    problem, strategy, seed = job.rsplit("/", 2) if job.count("/") >= 2 else (None, None, None)
    if problem is None: ap.error(f"job {job!r}: use problem/strategy/seed")
    r = run_job(problem, strategy, int(seed))
    rec = records.get((problem, strategy, int(seed)))
    if "values" not in r: print(f"{job}: ERROR {r.get('error', '')[-200:]}", flush=True)
    elif rec is None: print(f"{job}: no record (history only)", flush=True)
    else:
      d = first_departure(r["values"], rec["values"])
      print(f"{job}: {'bit-identical to its record' if d is None else f'departs from its record at evaluation {d}'}", flush=True)

if __name__ == "__main__":
  main()
