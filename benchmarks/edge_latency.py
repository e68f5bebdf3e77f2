"""What acquisition="edge" (or "auto") costs per suggestion beside "ucb": the noise test's second, cold fit (noise.py)
and, under noise, a refit on the raw values and a second acquisition optimization where UCB lands on a bound. One
process pinned to one core; the acquisitions' studies advance in alternating steps, so a busy machine slows both alike
and the ratio (not the milliseconds) is the figure. "edge-old" is "edge" with the noise test's second fit at every
suggestion (GP._noisy with keep=False, what session 9 measured); "edge" tests again only as the data grow (RETEST_GROWTH).

  PYTHONPATH=$PWD DEV=CPU taskset -c 1 python -m benchmarks.edge_latency --problems hartmann6,hartmann6_noisy --ns 50,100,200 \
      --acquisitions ucb,edge,edge-old

Protocol per (problem, n): each acquisition gets its own tb.GP and its own copy of n observations at the same random
points (observed as the benchmark runner observes them, noise included), then `warmup + reps` suggest-observe steps,
alternating between the acquisitions; reported: the median seconds of the timed steps and each median's ratio to the
first acquisition's, how many timed steps the noise test said "noisy" (GP._noisy, wrapped) and how many paid its second
fit (noise_evidence called on a model whose noise is not negligible).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"): os.environ.setdefault(var, "1")
os.environ.setdefault("PARALLEL", "0")

import numpy as np  # noqa: E402

from benchmarks.functions import PROBLEMS  # noqa: E402
from benchmarks.suggest_latency import _pin, alternating_steps  # noqa: E402
from tinybo.bo import GP  # noqa: E402


class EveryStepTest(GP):
  """acquisition="edge" as session 9 measured it: the noise test's second fit at every suggestion (keep=False, nothing kept)."""
  def _noisy(self, space, model, y, seed, keep=True): return super()._noisy(space, model, y, seed, keep=False)

def make_strategy(name: str, seed: int) -> GP:
  """The tb.GP an --acquisitions name stands for: an acquisition name, or "edge-old" (EveryStepTest with "edge")."""
  return EveryStepTest(acquisition="edge", seed=seed) if name == "edge-old" else GP(acquisition=name, seed=seed)

def paired_latency(problem: str, n: int, acquisitions: list[str], reps: int, warmup: int, seed: int = 0) -> dict[str, dict]:
  import tinybo.bo as bo
  from tinybo.noise import negligible_noise
  space = PROBLEMS[problem].space
  start = space.decode_many(space.sample(np.random.default_rng(seed), n))
  fired: dict[str, int] = dict.fromkeys(acquisitions, 0)
  fits: dict[str, int] = dict.fromkeys(acquisitions, 0)
  noisy, evidence, flag = bo.GP._noisy, bo.noise_evidence, {"fired": False, "fits": 0}
  def recorded(self, *args, **kwargs):
    out = noisy(self, *args, **kwargs)
    flag["fired"] |= bool(out)
    return out
  def counted(model, y, **kwargs):
    flag["fits"] += not negligible_noise(model)
    return evidence(model, y, **kwargs)
  def after(a: str, dt: float, timed: bool, trials: list, strategy: GP) -> None:
    if timed: fired[a] += flag["fired"]; fits[a] += flag["fits"]
    flag["fired"], flag["fits"] = False, 0
  bo.GP._noisy, bo.noise_evidence = recorded, counted
  try: times, _ = alternating_steps(problem, start, {a: make_strategy(a, seed) for a in acquisitions}, reps, warmup, seed, after)
  finally: bo.GP._noisy, bo.noise_evidence = noisy, evidence
  base = float(np.median(times[acquisitions[0]]))
  return {a: {"ms": 1e3 * float(np.median(times[a])), "ratio": float(np.median(times[a])) / base, "noisy_steps": fired[a],
              "evidence_fits": fits[a], "mean_ratio": float(np.mean(times[a]) / np.mean(times[acquisitions[0]])),
              "steps_ms": [1e3 * v for v in times[a]]} for a in acquisitions}

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--problems", default="hartmann6,hartmann6_noisy")
  ap.add_argument("--acquisitions", default="ucb,edge,edge-old", help="the first is the reference of the ratios; edge-old: see EveryStepTest")
  ap.add_argument("--ns", default="50,100,200")
  ap.add_argument("--reps", type=int, default=7)
  ap.add_argument("--warmup", type=int, default=2)
  ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "edge_latency.json"))
  args = ap.parse_args(argv)
  pin, acqs = _pin(), args.acquisitions.split(",")
  rows = []
  print(f"suggestion latency by acquisition, median of {args.reps} alternating steps after {args.warmup}, {pin}", flush=True)
  for problem in args.problems.split(","):
    for n in (int(v) for v in args.ns.split(",")):
      r = paired_latency(problem, n, acqs, args.reps, args.warmup)
      rows.append({"problem": problem, "n": n, **r})
      cells = (f"{a} {r[a]['ms']:.0f} ms (x{r[a]['ratio']:.2f}, mean x{r[a]['mean_ratio']:.2f}, noisy {r[a]['noisy_steps']}/{args.reps}, "
               f"fits {r[a]['evidence_fits']})" for a in acqs)
      print(f"{problem} n={n}: " + ", ".join(cells), flush=True)
  print("\n| problem | n | " + " | ".join(f"{a} ms (median ratio, mean ratio, noisy steps, second fits)" for a in acqs) + " |\n|---|---|"
        + "---|" * len(acqs))
  for r in rows:
    cells = (f"{r[a]['ms']:.0f} (x{r[a]['ratio']:.2f}, x{r[a]['mean_ratio']:.2f}, {r[a]['noisy_steps']}/{args.reps}, {r[a]['evidence_fits']})"
             for a in acqs)
    print(f"| {r['problem']} | {r['n']} | " + " | ".join(cells) + " |")
  Path(args.out).parent.mkdir(parents=True, exist_ok=True)
  Path(args.out).write_text(json.dumps({"pin": pin, "reps": args.reps, "warmup": args.warmup, "argv": sys.argv[1:], "rows": rows}, indent=1))
  print(f"\nsaved {args.out}", file=sys.stderr)

if __name__ == "__main__":
  main()
