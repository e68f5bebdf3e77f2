"""Runs of GP(trust_region=True) that also record where each run can first differ from the default's: `local_from`, the
first trial whose suggestion maximized the rough local model in the trust box (bo.GP._fit_local returned a model), or
None where the local chain kept Matérn-5/2 all run (the run is then the default's by construction: same fits, same
suggestions). Plain problems run through benchmarks.run.run_one, conditional ones through conditional_bench.run_one;
the records (benchmarks.run's format, plus local_from) go to --out after every run, so s9_ackley_tables reads them.

  PYTHONPATH=$PWD DEV=CPU python -m benchmarks.s10_trust_runs --problems jenatton,training_recipe --seeds 0-19 \
      --out benchmarks/results/s10_trust_cond.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import tinybo.bo as bo
from benchmarks import conditional_bench, run
from benchmarks.conditional_problems import CONDITIONAL_PROBLEMS

_FIT_LOCAL = bo.GP._fit_local
_FIRST_LOCAL: dict[str, int | None] = {"n": None}   # the first trial of the current run whose local model was rough

def _fit_local_noted(self, space, X, y, seed, categorical, floor_scale):
  m = _FIT_LOCAL(self, space, X, y, seed, categorical, floor_scale)
  if m is not None and _FIRST_LOCAL["n"] is None: _FIRST_LOCAL["n"] = len(X)   # sequential studies: X holds every complete trial
  return m

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--problems", required=True)
  ap.add_argument("--seeds", default="0-19", help="a-b, inclusive")
  ap.add_argument("--strategy", default="gp:trust_region=True")
  ap.add_argument("--out", required=True)
  args = ap.parse_args(argv)
  bo.GP._fit_local = _fit_local_noted
  lo, hi = map(int, args.seeds.split("-"))
  out = Path(args.out)
  data = json.loads(out.read_text()) if out.exists() else {"meta": run.run_meta(sys.argv[1:]), "runs": []}
  done = {(r["problem"], r["seed"]) for r in data["runs"] if r["strategy"] == args.strategy and "regret" in r}
  for p in args.problems.split(","):
    run_one = conditional_bench.run_one if p in CONDITIONAL_PROBLEMS else run.run_one
    for seed in range(lo, hi + 1):
      if (p, seed) in done: continue
      _FIRST_LOCAL["n"] = None
      r = run_one(p, args.strategy, seed)
      if "error" in r: raise SystemExit(r["error"])
      r["local_from"] = _FIRST_LOCAL["n"]
      data["runs"].append(r)
      out.write_text(json.dumps(data))
      print(f"{p} seed {seed}: regret {r['regret']:.4g}, local from {r['local_from']}", flush=True)

if __name__ == "__main__":
  main()
