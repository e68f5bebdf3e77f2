"""Seconds per suggestion on conditional spaces with a wide encoding (the tree GP, tb.GP(conditional="tree")), against the
same parameters without their conditions (the plain GP) in the same run: the ratio is what the tree costs.

  DEV=CPU taskset -c 0 python benchmarks/conditional_latency.py [--cases wide,deep] [--trials 40] [--out benchmarks/results/x.json]

Cases: `wide`, 5 parameters with a 300-choice categorical (304 encoded columns), its float and the categorical each
active for a few values of an int parent; `deep`, a tree six levels deep whose deepest leaf is a 200-choice categorical.
Each study first runs once untimed (the captured programs compile, or load from the disk cache), then again timed: the
median and worst seconds of its GP suggestions (after the initial design). Runs as a file, so `PYTHONPATH` picks the
tinybo it measures (another checkout: the code before a change, in the same run's conditions).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import time
import warnings
from pathlib import Path
from typing import Any


def wide(conditional: bool) -> Any:
  import tinybo as tb
  when = (lambda w: w) if conditional else (lambda w: None)
  return tb.Space({"n": tb.Int(0, 10**6), "m": tb.Int(0, 1000), "c": tb.Float(0, 1, when=when({"n": [0, 1, 2, 5000]})),
                   "d": tb.Categorical([f"v{i}" for i in range(300)], when=when({"m": list(range(0, 1000, 10))})), "x": tb.Float(0, 1)})

def deep(conditional: bool) -> Any:
  import tinybo as tb
  when = (lambda w: w) if conditional else (lambda w: None)
  d: dict[str, Any] = {"root": tb.Categorical(["a", "b", "c"]), "n": tb.Int(0, 5)}
  d["l1"] = tb.Categorical(["x", "y"], when=when({"root": ["a", "b"]}))
  d["l1i"] = tb.Int(0, 4, when=when({"root": "c", "n": [1, 2, 3]}))
  d["l2"] = tb.Categorical(["u", "v", "w"], when=when({"l1": "x", "n": [0, 1, 2, 3]}))
  d["l2f"] = tb.Float(0, 1, when=when({"l1i": [0, 1]}))
  d["l3"] = tb.Int(1, 3, when=when({"l2": ["u", "v"]}))
  d["l4"] = tb.Categorical(["p", "q"], when=when({"l3": [2, 3], "root": "a"}))
  d["l5"] = tb.Float(1e-3, 1, log=True, when=when({"l4": "q"}))
  d["l6"] = tb.Categorical([f"k{i}" for i in range(200)], when=when({"l4": "p", "l3": 3}))
  d["l6b"] = tb.Int(0, 10**9, when=when({"l4": "q", "l1": "x"}))
  d["x"] = tb.Float(-5, 5)
  return tb.Space(d)

CASES = {"wide": wide, "deep": deep}

def objective(p: dict[str, Any]) -> float:
  # a sum of small terms over every active parameter: a surface the GP can fit, whatever the branch
  s = 0.0
  for _, v in sorted(p.items()):
    if isinstance(v, str): s += (sum(map(ord, v)) % 7) / 7
    elif isinstance(v, (int, float)): s += (math.log10(abs(v) + 1.0) / 10) ** 2 if abs(v) > 1e3 else float(v - 0.3) ** 2 * 1e-3
  return s

def study(space: Any, trials: int, seed: int) -> list[float]:
  """Seconds of each GP suggestion (those after the initial design) of one sequential study."""
  import tinybo as tb
  opt, times = tb.Optimizer(space, seed=seed), []
  n0 = opt.strategy.initial_size(space)
  for i in range(trials):
    t0 = time.perf_counter(); trial = opt.suggest(); dt = time.perf_counter() - t0
    if i >= n0: times.append(dt)
    opt.observe(trial, objective(trial.params))
  return times

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--cases", default="wide,deep")
  ap.add_argument("--trials", type=int, default=40)
  ap.add_argument("--seed", type=int, default=0)
  ap.add_argument("--out", default=None)
  args = ap.parse_args(argv)
  import tinybo as tb
  warnings.simplefilter("ignore")
  rows = []
  for case in args.cases.split(","):
    for conditional in (False, True):
      space = CASES[case](conditional)
      study(space, args.trials, args.seed)   # untimed: compiles or loads every program the timed study replays
      times = study(space, args.trials, args.seed)
      rows.append({"case": case, "conditional": conditional, "trials": args.trials, "median_s": statistics.median(times),
                   "worst_s": max(times), "suggestions": len(times)})
      print(f"{case:5s} {'tree' if conditional else 'plain':5s} median {rows[-1]['median_s']:.3f} s  worst {rows[-1]['worst_s']:.3f} s "
            f"({len(times)} GP suggestions)", flush=True)
    plain, tree = rows[-2], rows[-1]
    print(f"{case:5s} tree / plain: median {tree['median_s'] / plain['median_s']:.2f}x, worst {tree['worst_s'] / plain['worst_s']:.2f}x", flush=True)
  if args.out:
    Path(args.out).write_text(json.dumps({"tinybo": tb.__version__, "file": tb.__file__, "rows": rows}, indent=1))

if __name__ == "__main__":
  main()
