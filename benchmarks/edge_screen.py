"""Screen of rules against the guided evaluations that the default GP strategy spends on the box's bounds (camel's
corners). Each rule patches tinybo in this process only, then `benchmarks.run.run_one` (core problems) or
`benchmarks.conditional_bench.run_one` (conditional ones) runs the strategy:
- "none": nothing changed (the strategy as it is);
- "logei": the bound rule of acquisition="edge" on every guided suggestion, deterministic data too: a UCB proposal with a
  float parameter on its bound is replaced by LogEI's proposal (the same second call that tinybo.bo.GP makes under noise);
- "ucb_half": the same, but the replacement is UCB with half the weight;
- "minmean": where the fitted values are log-warped, the GP's prior mean is the lowest target instead of their mean (the
  warp fires on a heavy tail of bad values, so far from the data expect the worst seen, not the average); with
  acquisition="edge" or "auto" not once the data show noise (the fit is then of the raw values).
Every call of the acquisition optimizer is watched: each run records how many guided proposals of each acquisition landed
on a float bound ("bound": {kind: [on a bound, proposals]}; "warped": [suggestions on log-warped values, all];
"noisy": [suggestions that `GP._noisy` calls noisy, calls]). Runs are appended to a JSON file {strategy|rule: {problem:
{seed: {"regret", "values", "min_dist", "bound"}}}}, written after every run.

  python -m benchmarks.edge_screen --rule logei --problems camel --seeds 0-9 --out results/x.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import tinybo.bo as bo
import tinybo.transforms as transforms
from benchmarks.conditional_problems import CONDITIONAL_PROBLEMS

RULES = ("none", "logei", "ucb_half", "minmean")
COUNTS: dict[str, list[int]] = {}
WARPED = [False]   # whether the values of the current suggestion are log-warped (set by the patched _targets)

def _count(kind: str, x: np.ndarray, kinds) -> None:
  c = COUNTS.setdefault(kind, [0, 0])
  c[0] += int(bo.on_float_bound(x, kinds)); c[1] += 1

def patch(rule: str) -> None:
  optimize = bo.optimize_acquisition
  def watched(post, state, space, *args, acquisition: str = "ucb", **kwargs):
    out = optimize(post, state, space, *args, acquisition=acquisition, **kwargs)
    _count(acquisition, out[0], space.kinds)
    if rule in ("logei", "ucb_half") and acquisition == "ucb" and bo.on_float_bound(out[0], space.kinds):
      kw = kwargs if rule == "logei" else {**kwargs, "beta": kwargs["beta"] / 2}
      out = optimize(post, state, space, *args, acquisition="logei" if rule == "logei" else "ucb", **kw)
      _count(rule, out[0], space.kinds)
    return out
  bo.optimize_acquisition = watched
  targets = bo.GP._targets
  def warped_targets(self, space, y, design, minimize):
    WARPED[0] = self._warp_kind(space, design, minimize) == "log"
    COUNTS.setdefault("warped", [0, 0])[0] += WARPED[0]; COUNTS["warped"][1] += 1
    return targets(self, space, y, design, minimize)
  bo.GP._targets = warped_targets
  noisy = bo.GP._noisy
  def watched_noisy(self, model, y, seed):
    out = noisy(self, model, y, seed)
    COUNTS.setdefault("noisy", [0, 0])[0] += out; COUNTS["noisy"][1] += 1
    if out: WARPED[0] = False   # "auto"/"edge" on noisy data: the next fit is of the raw values
    return out
  bo.GP._noisy = watched_noisy
  if rule != "minmean": return
  fit = transforms.YTransform.fit
  def fit_minmean(y: np.ndarray):
    t, std = fit(y)
    if not WARPED[0]: return t, std
    low = float(std.min())   # standardized: the prior mean 0 moves to the lowest target
    t = transforms.YTransform(t.center, t.spread, t.u_mean + low * t.u_scale, t.u_scale)
    return t, std - low
  transforms.YTransform.fit = staticmethod(fit_minmean)

def main() -> None:
  from benchmarks import conditional_bench, run
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--rule", default="none", help=f"one of {', '.join(RULES)}")
  ap.add_argument("--strategy", default="gp")
  ap.add_argument("--problems", default="camel")
  ap.add_argument("--seeds", default="0-9", help="a-b, inclusive")
  ap.add_argument("--out", required=True)
  args = ap.parse_args()
  if args.rule not in RULES: raise SystemExit(f"--rule {args.rule!r}: use one of {', '.join(RULES)}")
  patch(args.rule)
  lo, hi = map(int, args.seeds.split("-"))
  out = Path(args.out)
  res = json.loads(out.read_text()) if out.exists() else {}
  label = f"{args.strategy}|{args.rule}"
  for p in args.problems.split(","):
    run_one = conditional_bench.run_one if p in CONDITIONAL_PROBLEMS else run.run_one
    for seed in range(lo, hi + 1):
      COUNTS.clear()
      r = run_one(p, args.strategy, seed)
      if "error" in r: raise SystemExit(r["error"])
      res.setdefault(label, {}).setdefault(p, {})[str(seed)] = {"regret": r["regret"], "values": r["values"], "min_dist": r["min_dist"],
                                                               "bound": dict(COUNTS)}
      out.write_text(json.dumps(res, indent=1))
      print(f"{label} {p} seed {seed}: {r['regret']:.3g} bound {dict(COUNTS)}", flush=True)
    a = np.array([res[label][p][str(s)]["regret"] for s in range(lo, hi + 1)])
    print(f"{label} {p} seeds {lo}-{hi}: {np.median(a):.3g} / {np.percentile(a, 80):.3g} / {a.max():.3g}", flush=True)

if __name__ == "__main__":
  main()
