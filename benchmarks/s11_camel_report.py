"""Tables of s11_camel_screen JSON files against the stored runs of today's default: per problem, rule and half (seeds 0-9,
10-19), median / 80th percentile / worst of the final regret, the share of evaluations within 1e-3 (max-norm, unit cube)
of an earlier one, how many runs got better / worse, and the seeds that got worse. The default's runs: session 7's
warp_floor runs for the deterministic core problems (today's default reruns them bit for bit: `edge` never tests noisy
there and the trust region's local chain keeps Matérn-5/2), session 10's `edge` + `trust_region=True` runs
(`s10_lead_edge_trc.json`) for Ackley-5 and the noisy problems. A strategy string's own "none" runs are the baseline
of its rules (for plain "gp" they replace the stored runs, which they rerun bit for bit); a strategy without them has none.

  python -m benchmarks.s11_camel_report benchmarks/results/s11_camel_screen.json
"""
from __future__ import annotations

import json
import sys

import numpy as np

from benchmarks.edge_screen_report import DEFAULT
from benchmarks.run import load_runs

NOISY_DEFAULT = "benchmarks/results/s10_lead_edge_trc.json"

def _g(a: list[float]) -> str: return f"{np.median(a):.3g} / {np.percentile(a, 80):.3g} / {max(a):.3g}"

def _near(run: dict) -> float:
  d = [x for x in run.get("min_dist") or [] if x is not None]
  return float(np.mean(np.array(d) < 1e-3)) if d else 0.0

def main(paths: list[str]) -> None:
  default = {(r["problem"], r["seed"]): r for r in load_runs(DEFAULT) if "regret" in r}
  default.update({(r["problem"], r["seed"]): r for r in json.loads(open(NOISY_DEFAULT).read())["runs"]})
  screens: dict = {}
  for p in paths:
    for label, probs in json.loads(open(p).read()).items():
      for prob, seeds in probs.items(): screens.setdefault(label, {}).setdefault(prob, {}).update({int(s): r for s, r in seeds.items()})
  # each strategy string's "none" runs are its baseline (plain "gp": they replace the stored default's, which they rerun)
  base = {"gp": default}
  for label, probs in screens.items():
    strategy, _, rule = label.partition("|")
    if rule != "none": continue
    b = base.setdefault(strategy, {})
    for prob, seeds in probs.items(): b.update({(prob, s): r for s, r in seeds.items()})
  print("| rule | problem | seeds | default | rule | near-repeats | better / worse | worse seeds (default -> rule) |")
  print("|---|---|---|---|---|---|---|---|")
  for label, probs in screens.items():
    strategy, _, rule = label.partition("|")
    ref = base.get(strategy, {})
    for prob, seeds in probs.items():
      for lo in (0, 10):
        ss = [s for s in range(lo, lo + 10) if s in seeds and (prob, s) in ref]
        if len(ss) < 10: continue
        a, b = [ref[(prob, s)]["regret"] for s in ss], [seeds[s]["regret"] for s in ss]
        worse = [f"{s}: {x:.3g} -> {y:.3g}" for s, x, y in zip(ss, a, b) if y > x]
        near = np.mean([_near(seeds[s]) for s in ss])
        print(f"| `{rule}` ({strategy}) | {prob} | {lo}-{lo + 9} | {_g(a)} | {_g(b)} | {100 * near:.1f}% | "
              f"{sum(y < x for x, y in zip(a, b))} / {len(worse)} | {'; '.join(worse)} |")

if __name__ == "__main__":
  main(sys.argv[1:])
