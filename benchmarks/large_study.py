"""Suggestion time as one study grows to thousands of trials: the cost curve of tinybo's GP strategy (n vs seconds).

  nice -n 10 taskset -c 1 python -m benchmarks.large_study                       # n = 100 ... 5000, tb.GP() defaults
  nice -n 10 taskset -c 1 python -m benchmarks.large_study --ns 200,500,1000 --max-points none --tag large_study_exact

Protocol: one Hartmann6 study and one `tb.GP` strategy for the whole run (its compiled programs and warm start carry over,
as in a long-running study: "warm caches"). For each n in --ns, ascending, the study is topped up to n complete trials
with uniform random points (growing it to 5,000 trials by suggestions would take hours and would time the same
shapes), then `warmup + reps` suggest-observe steps run, each adding the suggested trial. We report, per n, the median and
the largest time of the timed steps, and the first step after the top-up (it carries the fit from the last n, so it may
refit). `--max-points none` is the exact GP on every trial (its cost grows as n³: at n = 2000 a suggestion took minutes).
The process is pinned to one core (the last allowed; run it under `taskset -c K`) and every thread pool to one thread.
Glossary: n complete trials when a step starts; fit_s / acq_s the step's model fit (with the subset choice) vs the
acquisition optimization, measured by wrapping the latter; cpu_s the process's CPU time for the step (what a busy
machine inflates least: wall-clock there counts the time other jobs held the core).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"): os.environ.setdefault(var, "1")
os.environ.setdefault("PARALLEL", "0")

import numpy as np  # noqa: E402

from benchmarks.functions import PROBLEMS  # noqa: E402
from benchmarks.suggest_latency import _pin, acquisition_clock  # noqa: E402

LIMIT_S = 10.0  # what a warm suggestion at n = 1,000, 2,000 and 5,000 must stay under on one core

def grow(max_points: int | None, ns: list[int], reps: int, warmup: int, seed: int = 0) -> list[dict]:
  import tinybo.bo as bo
  from tinybo.trial import Trial, TrialState
  prob = PROBLEMS["hartmann6"]
  space = prob.space
  rng = np.random.default_rng(seed)
  strategy = bo.GP(seed=seed, max_points=max_points)
  trials: list = []
  split, restore = acquisition_clock()
  rows = []
  try:
    for n in ns:
      if n > len(trials):
        new = space.decode_many(space.sample(rng, n - len(trials)))
        trials += [Trial(len(trials) + i, p, TrialState.COMPLETE, prob(p)) for i, p in enumerate(new)]
      steps = []
      for _ in range(warmup + reps):
        split["acq"] = 0.0
        t, c = time.perf_counter(), time.process_time()
        p = strategy.suggest(space, trials, 1, seed=seed)[0]
        steps.append((time.perf_counter() - t, split["acq"], time.process_time() - c))
        trials.append(Trial(len(trials), p, TrialState.COMPLETE, prob(p)))
        if strategy.last_fallback: print(f"  fallback at n={len(trials)}: {strategy.last_fallback}", file=sys.stderr)
      timed_s = np.array([s for s, _, _ in steps[warmup:]])
      acq_s = np.array([a for _, a, _ in steps[warmup:]])
      row = {"n": n, "median_s": float(np.median(timed_s)), "max_s": float(timed_s.max()), "first_s": steps[0][0],
             "fit_s": float(np.median(timed_s - acq_s)), "acq_s": float(np.median(acq_s)),
             "cpu_s": float(np.median([c for _, _, c in steps[warmup:]])), "steps_s": [s for s, _, _ in steps],
             "fitted_on": min(n, max_points) if max_points else n, "fallbacks": strategy.last_fallback is not None}
      rows.append(row)
      print(f"n={n}: median {row['median_s']:.2f} s (fit {row['fit_s']:.2f} + acquisition {row['acq_s']:.2f}; CPU {row['cpu_s']:.2f} s), "
            f"max {row['max_s']:.2f} s, first after the top-up {row['first_s']:.2f} s, fitted on {row['fitted_on']}", flush=True)
  finally: restore()
  return rows

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--ns", default="100,200,512,1000,2000,3000,5000")
  ap.add_argument("--reps", type=int, default=5)
  ap.add_argument("--warmup", type=int, default=3)
  ap.add_argument("--max-points", default="default", help="tb.GP(max_points=...): an int, 'none' (the exact GP) or 'default'")
  ap.add_argument("--tag", default="large_study")
  ap.add_argument("-o", "--out", default=str(Path(__file__).resolve().parent / "results"))
  args = ap.parse_args(argv)
  from tinybo.subset import DEFAULT_MAX_POINTS
  mp = DEFAULT_MAX_POINTS if args.max_points == "default" else None if args.max_points.lower() == "none" else int(args.max_points)
  ns = sorted(int(v) for v in args.ns.split(","))
  pin = _pin()
  print(f"Hartmann6, one study grown to {ns[-1]} trials, tb.GP(max_points={mp}), median of {args.reps} after {args.warmup} "
        f"warm-up steps per n, {pin}", flush=True)
  t0 = time.perf_counter()
  rows = grow(mp, ns, args.reps, args.warmup)
  print("\n| n | median suggestion (s) | fit + acquisition (s) | max (s) | CPU (s) | fitted on |\n|---|---|---|---|---|---|")
  for r in rows:
    print(f"| {r['n']} | {r['median_s']:.2f} | {r['fit_s']:.2f} + {r['acq_s']:.2f} | {r['max_s']:.2f} | {r['cpu_s']:.2f} | {r['fitted_on']} |")
  over = [r["n"] for r in rows if r["n"] in (1000, 2000, 5000) and r["max_s"] >= LIMIT_S]
  print(f"\nn = 1,000 / 2,000 / 5,000 under {LIMIT_S:.0f} s: {'yes' if not over else 'NO at n = ' + ', '.join(map(str, over))}")
  out = Path(args.out) / f"{args.tag}.json"
  out.parent.mkdir(parents=True, exist_ok=True)
  out.write_text(json.dumps({"pin": pin, "max_points": mp, "reps": args.reps, "warmup": args.warmup, "load_avg": os.getloadavg(),
                             "wall_s": time.perf_counter() - t0, "rows": rows}, indent=1))
  print(f"saved {out}", file=sys.stderr)

if __name__ == "__main__":
  main()
