"""What the GP strategy believes about noise along a run: after every suggestion, the fitted noise variance and output
scale (standardized targets) of its kept model, and the last noise test (`noise.noise_evidence`: the n it ran at and its
evidence in nats; the data test noisy above `noise.NOISE_MARGIN`). For telling when, if ever, a noisy problem's data
can be told from a deterministic one's.

  python -m benchmarks.noise_trace --problems hartmann6_noisy,hartmann6 --seeds 0-4 --out benchmarks/results/s32_noise_trace.json

Prints one line per run (the fitted noise at n = 15 ... 50 and every test's (n, evidence)); --out saves every step.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks.functions import PROBLEMS, get_problem
from benchmarks.peer_bar import seed_range
from benchmarks.peers import make_adapter


def trace_run(problem: str, seed: int) -> list[dict[str, Any]]:
  """One run of the default GP: per evaluation n (from the first guided suggestion on), the kept model's noise and
  output scale and the last noise test's (n, evidence)."""
  pr = get_problem(problem)
  ad = make_adapter("gp", pr, seed)
  gp, rows = ad.opt.strategy, []
  for i in range(pr.budget):
    p = ad.ask()
    ad.tell(p, pr.observe(p, seed, i))
    if gp._model is not None:   # a benchmark reads the strategy's kept fit: no public API exposes it
      hp = gp._model.hyperparameters
      rows.append({"n": i + 1, "noise": float(hp["noise"]), "outputscale": float(hp["outputscale"]),
                   "tested_at": gp._noise_test[1], "evidence": gp._noise_test[2]})
  return rows

def summary(problem: str, seed: int, rows: list[dict[str, Any]]) -> str:
  at = {r["n"]: r for r in rows}
  noise = " ".join(f"n{k}:{at[k]['noise']:.1e}" for k in (15, 20, 25, 30, 40, 50) if k in at)
  tests = sorted({(r["tested_at"], round(r["evidence"], 2)) for r in rows})
  return f"{problem} seed {seed}: fitted noise {noise} | tests (n, nats): {tests}"

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--problems", default="hartmann6_noisy,hartmann6")
  ap.add_argument("--seeds", type=seed_range, default=seed_range("0-4"), help="first-last (default 0-4)")
  ap.add_argument("--out", default=None, help="JSON file for every step of every run")
  args = ap.parse_args(argv)
  problems = args.problems.split(",")
  unknown = [p for p in problems if p not in PROBLEMS]
  if unknown: ap.error(f"problems {unknown}: not benchmark problems; use some of {','.join(PROBLEMS)}")
  runs = []
  for p in problems:
    for s in args.seeds:
      rows = trace_run(p, s)
      print(summary(p, s, rows), flush=True)
      runs.append({"problem": p, "seed": s, "steps": rows})
  if args.out: Path(args.out).write_text(json.dumps({"runs": runs}, indent=1))

if __name__ == "__main__":
  main()
