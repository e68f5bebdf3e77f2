"""Where a GP strategy's suggestion spends its time, part by part, beside another strategy on the same history: the main
model's fit (the warm-start chain), the noisy refit of the raw values (edge/auto where the values are warped), the noise
test's second fit, the trust region's local fit, each acquisition optimization by kind (UCB, LogEI, UCB in the trust box)
and, inside them, the replays of the captured acquisition programs. One process pinned to one core, single-threaded BLAS;
the strategies advance in alternating steps (suggest_latency.alternating_steps), so a busy machine slows them alike.

  PYTHONPATH=$PWD DEV=CPU python -m benchmarks.suggest_profile --problem branin_noisy --history random --ns 50,100
  PYTHONPATH=$PWD DEV=CPU python -m benchmarks.suggest_profile --problem ackley5 --history study --ns 30,60

Histories as trust_latency.history ("random", "found", "study"). Reported per strategy and part: the median and the mean
milliseconds per timed step (a part a step does not run counts 0) and how many times per step it ran. The rest of a step
(History, the posterior state, decoding) is total minus the parts. The first strategy is the reference.
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

from benchmarks.peers import tinybo_strategy  # noqa: E402
from benchmarks.suggest_latency import _pin, alternating_steps  # noqa: E402
from benchmarks.trust_latency import history  # noqa: E402

PARTS = ("fit", "raw_refit", "noise_test", "local_fit", "acq_ucb", "acq_logei", "acq_ucb_box", "acq_other", "replays")

def clocked(clock: dict[str, list[float]], label: Callable[..., str], fn: Callable) -> Callable:
  """fn, with the seconds of each call added to clock[label(*args, **kwargs)] as [seconds, calls]."""
  def timed(*a: Any, **k: Any) -> Any:
    t = time.perf_counter()
    try: return fn(*a, **k)
    finally:
      c = clock.setdefault(label(*a, **k), [0.0, 0])
      c[0] += time.perf_counter() - t; c[1] += 1
  return timed

def acq_label(*a: Any, **k: Any) -> str:
  name = f"acq_{k.get('acquisition')}" + ("_box" if k.get("box") is not None else "")
  return name if name in PARTS else "acq_other"

def profile(problem: str, n: int, kind: str, strategies: list[str], reps: int, warmup: int, seed: int = 0) -> dict[str, dict]:
  import tinybo.bo as bo
  import tinybo.optim_acqf as oa
  clock: dict[str, list[float]] = {}
  saved = {(bo.GP, "_fit"): bo.GP._fit, (bo.GP, "_fit_local"): bo.GP._fit_local, (bo, "noise_evidence"): bo.noise_evidence,
           (bo, "optimize_acquisition"): bo.optimize_acquisition, (oa.AcquisitionEvaluator, "_call"): oa.AcquisitionEvaluator._call}
  bo.GP._fit = clocked(clock, lambda *a, **k: "fit" if k.get("keep", True) else "raw_refit", saved[(bo.GP, "_fit")])
  bo.GP._fit_local = clocked(clock, lambda *a, **k: "local_fit", saved[(bo.GP, "_fit_local")])
  bo.noise_evidence = clocked(clock, lambda *a, **k: "noise_test", saved[(bo, "noise_evidence")])
  bo.optimize_acquisition = clocked(clock, acq_label, saved[(bo, "optimize_acquisition")])
  oa.AcquisitionEvaluator._call = clocked(clock, lambda *a, **k: "replays", saved[(oa.AcquisitionEvaluator, "_call")])
  steps: dict[str, list[dict[str, list[float]]]] = {s: [] for s in strategies}
  def after(s: str, dt: float, timed: bool, trials: list, strategy: Any) -> None:
    if timed: steps[s].append({"total": [dt, 1], **{k: list(v) for k, v in clock.items()}})
    clock.clear()
  try: alternating_steps(problem, history(problem, n, kind, seed), {s: tinybo_strategy(s) for s in strategies}, reps, warmup, seed, after)
  finally:
    for (owner, name), fn in saved.items(): setattr(owner, name, fn)
  return {s: {k: summary([st.get(k, [0.0, 0]) for st in steps[s]]) for k in ("total", *PARTS)} for s in strategies}

def summary(cells: list[list[float]]) -> dict[str, float]:
  """[seconds, calls] per step -> median and mean milliseconds per step, mean calls per step."""
  sec = [c[0] for c in cells]
  return {"median_ms": 1e3 * float(np.median(sec)), "mean_ms": 1e3 * float(np.mean(sec)), "calls": float(np.mean([c[1] for c in cells]))}

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--problem", default="branin_noisy")
  ap.add_argument("--history", default="random", help="random, found or study (trust_latency.history)")
  ap.add_argument("--strategies", default="gp:acquisition=ucb;trust_region=False,gp:acquisition=edge;trust_region=True",
                  help="the first is the reference")
  ap.add_argument("--ns", default="50,100")
  ap.add_argument("--reps", type=int, default=10)
  ap.add_argument("--warmup", type=int, default=2)
  ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "suggest_profile.json"))
  args = ap.parse_args(argv)
  pin, strategies = _pin(), args.strategies.split(",")
  rows = []
  print(f"{args.problem}, {args.history} history: median / mean ms per timed step (calls per step), {args.reps} alternating steps after "
        f"{args.warmup}, {pin}", flush=True)
  print("| n | strategy | total | " + " | ".join(PARTS) + " |\n|---|---|---|" + "---|" * len(PARTS))
  for n in (int(v) for v in args.ns.split(",")):
    r = profile(args.problem, n, args.history, strategies, args.reps, args.warmup)
    rows.append({"problem": args.problem, "history": args.history, "n": n, **r})
    for s in strategies:
      cells = (f"{r[s][k]['median_ms']:.0f} / {r[s][k]['mean_ms']:.0f} ({r[s][k]['calls']:.1f})" for k in ("total", *PARTS))
      print(f"| {n} | {s} | " + " | ".join(cells) + " |", flush=True)
  Path(args.out).parent.mkdir(parents=True, exist_ok=True)
  Path(args.out).write_text(json.dumps({"pin": pin, "reps": args.reps, "warmup": args.warmup, "argv": sys.argv[1:], "rows": rows}, indent=1))
  print(f"\nsaved {args.out}", file=sys.stderr)

if __name__ == "__main__":
  main()
