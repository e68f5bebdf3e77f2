"""What GP(trust_region=True) costs per suggestion beside the default (trust_region=False): every other guided
suggestion is a local turn; at the local chain's cold fits (its first, then each time n has grown 1.5x) it fits three
kernels cold, and while its choice is rougher than Matérn-5/2 each local turn fits that kernel warm and optimizes the
acquisition in the trust box. One process pinned to one core, single-threaded BLAS; the strategies' studies advance in
alternating steps, so a busy machine slows both alike and the ratio (not the milliseconds) is the figure.

  PYTHONPATH=$PWD DEV=CPU OMP_NUM_THREADS=1 taskset -c 0 python -m benchmarks.trust_latency --problems ackley5,hartmann6 --ns 50,100,200

Protocol per (problem, history, n): each strategy gets its own tb.GP and its own copy of the same n observations, then
`warmup + reps` suggest-observe steps, alternating between the strategies. Histories: "random" (n uniform points),
"found" (half of them uniform, the other half uniform in a box of side 0.1 around the best of those, clipped to the
cube: a study that has crowded its incumbent) and "study" (the first n trials of a GP(trust_region=True) study of the
problem, grown once per problem to the largest n: the history where its local chain really is rough or not).
Reported per strategy: the median and the mean seconds of the timed steps and their ratios to the first strategy's
(the mean is the price per suggestion: local and global turns alternate), how many timed steps fitted a rough local
model, the seconds of the warm-up's first local turn (the local chain's first, cold fit: three kernels, paid again at
each 1.5x growth of n), and the amortized ratio: each strategy's mean plus its warm-up steps' extra over that mean (its
cold fits: the global model's and, with trust_region, the local chain's) spread over the n / 2 suggestions until the
next cold fits, to the first strategy's.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"): os.environ.setdefault(var, "1")
os.environ.setdefault("PARALLEL", "0")

import numpy as np  # noqa: E402

from benchmarks.functions import PROBLEMS  # noqa: E402
from benchmarks.peers import tinybo_strategy  # noqa: E402
from benchmarks.suggest_latency import _pin, alternating_steps  # noqa: E402

FOUND_SIDE = 0.1   # "found" histories: the side of the box (unit cube) that holds half the points, around the best

_STUDIES: dict[tuple[str, int], list[dict]] = {}   # "study" histories: the configurations of one study per (problem, seed), grown as needed

def history(problem: str, n: int, kind: str, seed: int) -> list[dict]:
  """n configurations of `problem`'s space: "random" uniform, "found" (half uniform, half around the best of those), or
  "study" (the first n of a GP(trust_region=True) study: the history such a study really has at n)."""
  prob, rng = PROBLEMS[problem], np.random.default_rng(seed)
  space = prob.space
  if kind == "random": return space.decode_many(space.sample(rng, n))
  if kind == "study":
    from tinybo.bo import GP
    from tinybo.trial import Trial, TrialState
    done, gp = _STUDIES.setdefault((problem, seed), []), GP(trust_region=True, seed=seed)
    trials = [Trial(i, p, TrialState.COMPLETE, prob.observe(p, seed, i)) for i, p in enumerate(done)]
    while len(done) < n:
      p = gp.suggest(space, trials, 1, seed=seed)[0]
      trials.append(Trial(len(trials), p, TrialState.COMPLETE, prob.observe(p, seed, len(trials)))); done.append(p)
    return done[:n]
  if kind != "found": raise ValueError(f"history={kind!r}: use 'random', 'found' or 'study'")
  U = space.sample(rng, n - n // 2)
  best = U[int(np.argmin([prob(p) for p in space.decode_many(U)]))]
  near = np.clip(best + FOUND_SIDE * (rng.random((n // 2, U.shape[1])) - 0.5), 0.0, 1.0)
  return space.decode_many(np.concatenate([U, near]))

def paired_latency(problem: str, n: int, kind: str, strategies: list[str], reps: int, warmup: int, seed: int = 0) -> dict[str, dict]:
  import tinybo.bo as bo
  space, start = PROBLEMS[problem].space, history(problem, n, kind, seed)
  rough: dict[str, int] = dict.fromkeys(strategies, 0)
  first_local: dict[str, float | None] = dict.fromkeys(strategies)
  fit_local, flag = bo.GP._fit_local, {"local": False, "rough": False}
  def noted(self, *args):
    out = fit_local(self, *args)
    flag["local"], flag["rough"] = True, out is not None
    return out
  def after(s: str, dt: float, timed: bool, trials: list, strategy: Any) -> None:
    if first_local[s] is None and bo.local_turn(len(trials) - 1, strategy.initial_size(space)): first_local[s] = dt
    if timed: rough[s] += flag["rough"]
    flag["local"] = flag["rough"] = False
  bo.GP._fit_local = noted
  # the warm-up steps hold the cold fits of a fresh strategy
  try: times, warm = alternating_steps(problem, start, {s: tinybo_strategy(s) for s in strategies}, reps, warmup, seed, after)
  finally: bo.GP._fit_local = fit_local
  med0, mean0 = float(np.median(times[strategies[0]])), float(np.mean(times[strategies[0]]))
  # the warm-up holds each strategy's cold fits (the global model's, and trust_region's local chain's), which come back each
  # time n has grown 1.5x: spread their extra over the mean across the n / 2 suggestions between two of them
  amortized = {s: float(np.mean(times[s])) + sum(max(0.0, w - float(np.mean(times[s]))) for w in warm[s]) / (n / 2) for s in strategies}
  return {s: {"amortized_ratio": amortized[s] / amortized[strategies[0]],
              "median_ms": 1e3 * float(np.median(times[s])), "mean_ms": 1e3 * float(np.mean(times[s])),
              "median_ratio": float(np.median(times[s])) / med0, "mean_ratio": float(np.mean(times[s])) / mean0,
              "rough_steps": rough[s], "first_local_ms": None if first_local[s] is None else 1e3 * first_local[s],
              "steps_ms": [1e3 * v for v in times[s]]} for s in strategies}

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--problems", default="ackley5,hartmann6")
  ap.add_argument("--histories", default="random,found,study")
  ap.add_argument("--strategies", default="gp:trust_region=False,gp:trust_region=True", help="the first is the reference of the ratios")
  ap.add_argument("--ns", default="50,100,200")
  ap.add_argument("--reps", type=int, default=8, help="timed steps per strategy (even: as many local turns as global ones)")
  ap.add_argument("--warmup", type=int, default=2)
  ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "trust_latency.json"))
  args = ap.parse_args(argv)
  pin, strategies = _pin(), args.strategies.split(",")
  rows = []
  print(f"suggestion latency, median and mean of {args.reps} alternating steps after {args.warmup}, {pin}", flush=True)
  for problem in args.problems.split(","):
    for kind in args.histories.split(","):
      for n in (int(v) for v in args.ns.split(",")):
        r = paired_latency(problem, n, kind, strategies, args.reps, args.warmup)
        rows.append({"problem": problem, "history": kind, "n": n, **r})
        cells = (f"{s} {r[s]['mean_ms']:.0f} ms mean (x{r[s]['mean_ratio']:.2f})" for s in strategies)
        print(f"{problem} {kind} n={n}: " + ", ".join(cells), flush=True)
  head = (f"{s}: median / mean ms (ratios), amortized ratio, rough steps, first local turn ms" for s in strategies)
  print("\n| problem | history | n | " + " | ".join(head)
        + " |\n|---|---|---|" + "---|" * len(strategies))
  for r in rows:
    cells = (f"{r[s]['median_ms']:.0f} / {r[s]['mean_ms']:.0f} (x{r[s]['median_ratio']:.2f} / x{r[s]['mean_ratio']:.2f}), "
             f"x{r[s]['amortized_ratio']:.2f}, {r[s]['rough_steps']}/{args.reps}, {r[s]['first_local_ms'] or 0:.0f}" for s in strategies)
    print(f"| {r['problem']} | {r['history']} | {r['n']} | " + " | ".join(cells) + " |")
  Path(args.out).parent.mkdir(parents=True, exist_ok=True)
  Path(args.out).write_text(json.dumps({"pin": pin, "reps": args.reps, "warmup": args.warmup, "argv": sys.argv[1:], "rows": rows}, indent=1))
  print(f"\nsaved {args.out}", file=sys.stderr)

if __name__ == "__main__":
  main()
