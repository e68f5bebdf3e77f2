"""Suggestion latency with n observations on Hartmann6: tinybo's GP strategy beside Optuna's GPSampler, in one run.

  python -m benchmarks.suggest_latency --ns 50,100,200,1000 --reps 7
  python -m benchmarks.suggest_latency --device CUDA --dtype float32 --ns 100,200,1000,5000 --no-peer   # a GPU

Protocol, the same for both: n observations at random points, then `warmup + reps` suggest-observe steps (each adds one
observation, so every suggestion refits the model on a new history, warm-started as in a real loop); we report the median
of the timed steps. The process is pinned to one core and every thread pool limited to one thread.
Glossary: n observations before the timed steps; fit_ms / acq_ms tinybo's split of one suggestion (model fit vs
acquisition optimization, measured by wrapping them); cpu_ms the process's CPU time (less sensitive to a busy machine).
Without optuna and torch the Optuna column is n/a. --options "acquisition=ucb;trust_region=False": tinybo's GP with these
arguments (as benchmarks.run spells them after "gp:"), to compare settings of one tree in separate processes.
--device runs tinybo's GP on that tinygrad device (`tb.GP(device=...)`; default Device.DEFAULT); --dtype float32|float64
overrides the surrogate's default dtype (float64 where the device has it; the strategy has no dtype option, so the
benchmark swaps the default). Optuna's side always runs on the CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"): os.environ.setdefault(var, "1")
os.environ.setdefault("PARALLEL", "0")

import numpy as np  # noqa: E402

from benchmarks.functions import PROBLEMS  # noqa: E402


def _pin() -> str:
  try:
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[-1]})
    return f"pinned to cpu {cpus[-1]}"
  except (AttributeError, OSError): return "not pinned"

def force_dtype(name: str) -> None:
  """Make the GP surrogate default to this dtype (benchmark-only: tb.GP takes a device but no dtype)."""
  from tinygrad import dtypes

  import tinybo.gp as surrogate
  dt = getattr(dtypes, name)
  surrogate.default_dtype = lambda device: dt

def acquisition_clock() -> tuple[dict[str, float], Callable[[], None]]:
  """Wraps the GP strategy's acquisition optimizer so that clock["acq"] accumulates its seconds (reset it per step);
  restore() puts the original back. The rest of a suggestion is the model fit."""
  import tinybo.bo as bo
  inner, clock = bo.optimize_acquisition, {"acq": 0.0}
  def timed(*a, **k):
    t = time.perf_counter()
    try: return inner(*a, **k)
    finally: clock["acq"] += time.perf_counter() - t
  bo.optimize_acquisition = timed
  return clock, lambda: setattr(bo, "optimize_acquisition", inner)

def alternating_steps(problem: str, start: list[dict], strategies: dict[str, Any], reps: int, warmup: int, seed: int,
                      after: Callable[[str, float, bool, list, Any], None]) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
  """Each named strategy gets its own copy of `start` observed as the benchmark runner observes it, then `warmup + reps`
  suggest-observe steps alternating between the strategies (a busy machine slows them alike). Returns the seconds of the
  timed steps and of the warm-up steps per name; after(name, seconds, timed, trials, strategy) runs after each step."""
  from tinybo.trial import Trial, TrialState
  prob = PROBLEMS[problem]
  studies = {s: ([Trial(i, p, TrialState.COMPLETE, prob.observe(p, seed, i)) for i, p in enumerate(start)], g) for s, g in strategies.items()}
  times: dict[str, list[float]] = {s: [] for s in strategies}
  warm: dict[str, list[float]] = {s: [] for s in strategies}
  for step in range(warmup + reps):
    for s, (trials, strategy) in studies.items():
      t = time.perf_counter()
      p = strategy.suggest(prob.space, trials, 1, seed=seed)[0]
      dt = time.perf_counter() - t
      trials.append(Trial(len(trials), p, TrialState.COMPLETE, prob.observe(p, seed, len(trials))))
      (times if step >= warmup else warm)[s].append(dt)
      after(s, dt, step >= warmup, trials, strategy)
  return times, warm

def tinybo_latency(n: int, reps: int, warmup: int, seed: int = 0, device: str | None = None, options: str = "") -> dict[str, float]:
  """`options`: the GP's non-default arguments as benchmarks.run spells them after "gp:" ("acquisition=ucb;trust_region=False")."""
  import tinybo.bo as bo
  from benchmarks.peers import tinybo_strategy
  from tinybo.trial import Trial, TrialState
  prob = PROBLEMS["hartmann6"]
  space = prob.space
  rng = np.random.default_rng(seed)
  trials = [Trial(i, p, TrialState.COMPLETE, prob(p)) for i, p in enumerate(space.decode_many(space.sample(rng, n)))]
  strategy = tinybo_strategy(f"gp:{options};seed={seed}" + (f";device={device}" if device else "")) if options else bo.GP(seed=seed, device=device)
  split, restore = acquisition_clock()
  totals, acqs, cpus = [], [], []
  try:
    for i in range(warmup + reps):
      split["acq"] = 0.0
      t, c = time.perf_counter(), time.process_time()
      p = strategy.suggest(space, trials, 1, seed=seed)[0]
      dt, dc = time.perf_counter() - t, time.process_time() - c
      trials.append(Trial(len(trials), p, TrialState.COMPLETE, prob(p)))
      if i >= warmup: totals.append(dt); acqs.append(split["acq"]); cpus.append(dc)
  finally: restore()
  return {"ms": 1e3 * float(np.median(totals)), "acq_ms": 1e3 * float(np.median(acqs)),
          "fit_ms": 1e3 * float(np.median(np.array(totals) - np.array(acqs))), "cpu_ms": 1e3 * float(np.median(cpus))}

def optuna_latency(n: int, reps: int, warmup: int, seed: int = 0) -> dict[str, float] | None:
  try:
    import optuna
    import torch
  except ImportError: return None
  torch.set_num_threads(1)
  optuna.logging.set_verbosity(optuna.logging.ERROR)
  from optuna.distributions import FloatDistribution
  prob = PROBLEMS["hartmann6"]
  dists = {k: FloatDistribution(p.low, p.high) for k, p in prob.params.items()}
  study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=seed), direction="minimize")
  rng = np.random.default_rng(seed)
  for x in rng.random((n, 6)):
    params = {f"x{i}": float(v) for i, v in enumerate(x)}
    study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=prob(params)))
  times = []
  for i in range(warmup + reps):
    t = time.perf_counter()
    tr = study.ask(dists)
    dt = time.perf_counter() - t
    study.tell(tr, prob(tr.params))
    if i >= warmup: times.append(dt)
  return {"ms": 1e3 * float(np.median(times))}

TARGET_MS = {50: 50, 100: 60, 200: 120, 1000: 2000}

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--ns", default="50,100,200,1000")
  ap.add_argument("--reps", type=int, default=7)
  ap.add_argument("--warmup", type=int, default=3)
  ap.add_argument("--no-peer", action="store_true", help="skip Optuna's GPSampler")
  ap.add_argument("--options", default="", help="tinybo GP arguments other than the defaults, as after 'gp:' in benchmarks.run: "
                  "\"acquisition=ucb;trust_region=False\" (the former default, for a same-tree comparison in separate processes)")
  ap.add_argument("--device", default=None, help="tinygrad device of tinybo's GP, e.g. CUDA, CL, METAL (default: Device.DEFAULT)")
  ap.add_argument("--dtype", choices=("float32", "float64"), default=None, help="default: float64 where the device has it")
  ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "suggest_latency.json"))
  args = ap.parse_args(argv)
  pin = _pin()
  if args.dtype: force_dtype(args.dtype)
  rows = []
  print(f"Hartmann6 suggestion latency, median of {args.reps} after {args.warmup} warm-up steps, {pin}", flush=True)
  for n in (int(v) for v in args.ns.split(",")):
    t = tinybo_latency(n, args.reps, args.warmup, device=args.device, options=args.options)
    o = None if args.no_peer else optuna_latency(n, max(3, args.reps // 2) if n >= 1000 else args.reps, 1 if n >= 1000 else args.warmup)
    rows.append({"n": n, "tinybo": t, "optuna_gp": o, "target_ms": TARGET_MS.get(n)})
    print(f"n={n}: tinybo {t['ms']:.1f} ms (fit {t['fit_ms']:.1f} + acquisition {t['acq_ms']:.1f})"
          + (f", optuna GPSampler {o['ms']:.1f} ms" if o else ""), flush=True)
  print("\n| n | tinybo GP (ms) | fit + acquisition (ms) | Optuna GPSampler (ms) | target (ms) |\n|---|---|---|---|---|")
  for r in rows:
    t, o = r["tinybo"], r["optuna_gp"]
    peer = "n/a" if o is None else f"{o['ms']:.1f}"
    target = "" if r["target_ms"] is None else f"< {r['target_ms']}"
    print(f"| {r['n']} | {t['ms']:.1f} | {t['fit_ms']:.1f} + {t['acq_ms']:.1f} | {peer} | {target} |")
  Path(args.out).parent.mkdir(parents=True, exist_ok=True)
  Path(args.out).write_text(json.dumps({"pin": pin, "reps": args.reps, "warmup": args.warmup, "device": args.device, "dtype": args.dtype,
                                        "options": args.options, "rows": rows}, indent=1))
  print(f"\nsaved {args.out}", file=sys.stderr)

if __name__ == "__main__":
  main()
