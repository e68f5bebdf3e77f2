"""Curves of one shape: value(x, step) = |x - 0.3|² + 1/step on [0, 1]³, every configuration the same learning curve
shifted by its final value (the curves never cross), a report at every step up to --steps, tb.ASHA(1, steps, 3), 30 trials.

    python -m benchmarks.shared_curve --steps 100 --seeds 0-3 --curves auto,additive,shared [--out results/x.json]

Per run: the true final value of the best complete trial, the spread (max-norm, unit cube) of the last 10 suggestions
around their mean, and the step each of them ended at (0: complete). A run whose last suggestions crowd one spot far
from the optimum, each stopped at the first rungs, is the trap this script shows: the (configuration, step) model reads
a stopped trial's first steps as saying little about its last (benchmarks/README.md, session 27).
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np


def final(x: np.ndarray) -> float: return float(((x - 0.3) ** 2).sum())

def run(steps: int, seed: int, curves: str, n_trials: int = 30) -> dict:
  import tinybo as tb
  space = tb.Space({f"x{i}": tb.Float(0.0, 1.0) for i in range(3)})
  if curves == "shared":   # not a tb.GP option: the screen of benchmarks/shared_trend.py
    from benchmarks.shared_trend import SharedTrendGP
    strategy = SharedTrendGP()
  else: strategy = tb.GP(curves=curves)
  opt = tb.Optimizer(space, strategy=strategy, stopping=tb.ASHA(min_step=1, max_step=steps), seed=seed)
  points, ends, t0 = [], [], time.perf_counter()
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    for _ in range(n_trials):
      trial = opt.suggest()
      x = np.array([trial.params[f"x{i}"] for i in range(3)])
      points.append(x); end = 0
      for s in range(1, steps + 1):
        if opt.report(trial, final(x) + 1.0 / s, s): opt.stop(trial); end = s; break
      else: opt.observe(trial, final(x) + 1.0 / steps)
      ends.append(end)
  last = np.array(points[-10:])
  best = min(final(p) for p, e in zip(points, ends) if e == 0)
  return {"steps": steps, "seed": seed, "curves": curves, "best_final": best, "last10_spread": float(np.abs(last - last.mean(0)).max()),
          "last10_ends": ends[-10:], "seconds": time.perf_counter() - t0}

def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--steps", type=int, default=100)
  ap.add_argument("--seeds", default="0-3", help="a range lo-hi")
  ap.add_argument("--curves", default="auto,additive", help="tb.GP(curves=...) values, comma-separated; 'shared': benchmarks/shared_trend.py")
  ap.add_argument("--out", help="JSON file of the runs")
  a = ap.parse_args()
  lo, _, hi = a.seeds.partition("-")
  runs = []
  for seed in range(int(lo), int(hi or lo) + 1):
    for curves in a.curves.split(","):
      runs.append(r := run(a.steps, seed, curves))
      print(f"steps {a.steps} seed {seed} curves={curves}: best final {r['best_final']:.4g}, last 10 spread {r['last10_spread']:.3f}, "
            f"ended at {r['last10_ends']}, {r['seconds']:.0f} s", flush=True)
  if a.out: Path(a.out).write_text(json.dumps({"runs": runs}))

if __name__ == "__main__":
  main()
