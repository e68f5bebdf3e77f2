"""Tables of an edge_screen JSON against the stored runs of the default: per problem and rule, median / 80th percentile /
worst of the final regret on seeds 0-9, 10-19 and 0-19, and how many runs changed (better / worse). A seed that a rule
did not run takes the default's run where the rule cannot change it ("minmean" on a design the log warp does not fire
on: the rule acts only on log-warped values); rows lack where a rule did not run every seed of the range.

  python -m benchmarks.edge_screen_report benchmarks/results/s9_camel_screen.json benchmarks/results/s9_camel_cond.json
"""
from __future__ import annotations

import json
import sys

import numpy as np

from benchmarks.run import load_runs
from tinybo.bo import default_initial_size
from tinybo.transforms import heavy_bad_tail

# the default's runs: session 7's warp_floor runs (core problems) and session 8's merged default (conditional problems)
DEFAULT = [f"benchmarks/results/{f}.json" for f in ("session7_camel_floor", "session7_floor_warped", "session7_floor_unwarped",
           "session8_merged_cond_jenatton", "session8_merged_cond_ml_conditional", "session8_merged_cond_training_recipe")]

def _problem(name: str):
  from benchmarks.conditional_problems import CONDITIONAL_PROBLEMS, get_conditional_problem
  from benchmarks.functions import get_problem
  return get_conditional_problem(name) if name in CONDITIONAL_PROBLEMS else get_problem(name)

def warps(name: str, values: list[float]) -> bool:
  """Whether the default GP log-warps this run's values: decided on its initial design (tinybo.bo.GP._warp_kind)."""
  space = _problem(name).space
  return heavy_bad_tail(-np.array(values[:default_initial_size(len(space.names), bool(space.conditions))]))

def _g(a: list[float]) -> str:
  return f"{np.median(a):.3g} / {np.percentile(a, 80):.3g} / {max(a):.3g}"

def main(paths: list[str]) -> None:
  default = {(r["problem"], r["seed"]): r for r in load_runs(DEFAULT) if "regret" in r}
  screens: dict = {}
  for p in paths:
    for label, probs in json.loads(open(p).read()).items():
      for prob, seeds in probs.items(): screens.setdefault(label, {}).setdefault(prob, {}).update(seeds)
  print("| problem | seeds | default | rule | ran | changed: better / worse |\n|---|---|---|---|---|---|")
  for label, probs in screens.items():
    for prob, seeds in probs.items():
      for lo, hi in ((0, 9), (10, 19), (0, 19)):
        d, r, ran, better, worse = [], [], 0, 0, 0
        for s in range(lo, hi + 1):
          base = default[(prob, s)]["regret"]
          if str(s) in seeds: v = seeds[str(s)]["regret"]; ran += 1
          elif label.endswith("|minmean") and not warps(prob, default[(prob, s)]["values"]): v = base
          else: continue
          d.append(base); r.append(v); better += v < base; worse += v > base
        if len(r) == hi - lo + 1 and ran: print(f"| {prob} | {lo}-{hi} | {_g(d)} | {label}: {_g(r)} | {ran} of {len(r)} | {better} / {worse} |")

if __name__ == "__main__":
  main(sys.argv[1:])
