"""Whole warm studies under two values of one tinybo module constant, alternating in one process (so both replay the same
compiled programs, on the same core, under the same load): seconds in `suggest` per study, per value, and the ratio of
the medians. For policy constants that change no number, only time (`gp.SEPARATE_MIN_N`, `gp.N_BUCKETS`).

  DEV=CPU OMP_NUM_THREADS=1 taskset -c 1 python -m benchmarks.paired_setting tinybo.gp.SEPARATE_MIN_N 33 0 --problems branin,camel
  python -m benchmarks.paired_setting tinybo.gp.N_BUCKETS "(8, 16, 24, 32, 48, 64, 80)" "(16, 32, 48, 64, 80)" --problems hartmann6

A and B are Python literals. Seeds 0..reps-1, A then B for each; a first study may compile (a first value's programs),
so compare medians. `gp.N_BUCKETS` is the name gp.py reads (imported from _tinygrad).
"""
from __future__ import annotations

import argparse
import ast
import importlib
import json
import time
from pathlib import Path

import numpy as np


def study_seconds(problem, seed: int) -> float:
  """Seconds spent in suggest over one whole study of the GP strategy on `problem` (its budget)."""
  import tinybo as tb
  opt, total = tb.Optimizer(problem.space, seed=seed), 0.0
  for _ in range(problem.budget):
    t = time.perf_counter()
    trial = opt.suggest()
    total += time.perf_counter() - t
    opt.observe(trial, problem(trial.params))
  return total

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("constant", help="module.NAME, e.g. tinybo.gp.SEPARATE_MIN_N")
  ap.add_argument("a", help="the first value (a Python literal)")
  ap.add_argument("b", help="the second value")
  ap.add_argument("--problems", default="branin,camel,hartmann3,hartmann6,mixed")
  ap.add_argument("--reps", type=int, default=5)
  ap.add_argument("--out", type=Path, default=None)
  args = ap.parse_args(argv)
  from benchmarks.functions import PROBLEMS
  module_name, name = args.constant.rsplit(".", 1)
  module = importlib.import_module(module_name)
  if not hasattr(module, name): raise SystemExit(f"{module_name} has no {name}: name a module constant, e.g. tinybo.gp.SEPARATE_MIN_N")
  values = {"a": ast.literal_eval(args.a), "b": ast.literal_eval(args.b)}
  original, rows = getattr(module, name), {}
  try:
    for p in args.problems.split(","):
      seconds: dict[str, list[float]] = {"a": [], "b": []}
      for seed in range(args.reps):
        for k, v in values.items():
          setattr(module, name, v)
          seconds[k].append(study_seconds(PROBLEMS[p], seed))
      ratio = float(np.median(seconds["b"]) / np.median(seconds["a"]))
      rows[p] = {**seconds, "ratio_b_over_a": ratio}
      print(f"{p}: a {np.round(seconds['a'], 2)}  b {np.round(seconds['b'], 2)}  median b / a {ratio:.3f}", flush=True)
  finally:
    setattr(module, name, original)
  if args.out is not None:
    args.out.write_text(json.dumps({"constant": args.constant, "a": args.a, "b": args.b, "problems": rows}, indent=1))
    print(f"saved {args.out}")

if __name__ == "__main__":
  main()
