"""Screen of rules for the scale s of the GP strategy's log warp (tinybo.transforms.warp_values): each rule replaces
`tinybo.bo.warp_values` in this process, then the usual `benchmarks.run.run_one` runs the default `gp` on the given
problems and seeds. d = (max y − y) / 2 are the distances below the best of the values to maximize, d[:n0] those of
the initial design, n the number of values. Regrets are appended to a JSON file {rule: {problem: {seed: regret}}}.

  python -m benchmarks.warp_screen --rules all,gain --problems camel,branin,branin_noisy --seeds 0-9 --out results/x.json
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import numpy as np

import tinybo.bo as bo
from tinybo.transforms import warp_scale


def _min_positive(d: np.ndarray) -> float: return float(d[d > 0].min()) if (d > 0).any() else 0.0

RULES: dict[str, Callable[[np.ndarray, int], float]] = {
  "design": lambda d, n0: float(np.median(d[:n0])),                                     # main's rule
  "all": lambda d, n0: float(np.median(d)),                                             # the rule before session 4
  "floor0.1": lambda d, n0: max(float(np.median(d)), 0.1 * float(np.median(d[:n0]))),
  "floor0.03": lambda d, n0: max(float(np.median(d)), 0.03 * float(np.median(d[:n0]))),
  "floorn": lambda d, n0: max(float(np.median(d)), float(np.median(d[:n0])) / len(d)),  # commit b73cd10
  "gain": lambda d, n0: max(float(np.median(d)), float(d[:n0].min())),                  # floored at half the gain over the design's best
  "dmin": lambda d, n0: max(float(np.median(d)), _min_positive(d[:n0])),                # ... or the design's smallest positive distance
  "clamp": lambda d, n0: min(float(np.median(d[:n0])), max(float(np.median(d)), _min_positive(d[:n0]))),
  "clampf0.1": lambda d, n0: min(float(np.median(d[:n0])), max(float(np.median(d)), 0.1 * float(np.median(d[:n0])))),
  "gm": lambda d, n0: float(np.sqrt(np.median(d) * np.median(d[:n0]))),               # geometric mean of design and all
  # session 7: the design's scale until the values crowd the best (their median distance below c times it), then all
  "late0.1": lambda d, n0: _late(d, n0, 0.1),
  "late0.05": lambda d, n0: _late(d, n0, 0.05),
  "late0.2": lambda d, n0: _late(d, n0, 0.2),
}

def _late(d: np.ndarray, n0: int, c: float) -> float:
  s, m = float(np.median(d[:n0])), float(np.median(d))
  return m if m < c * s else s

def patched_warp(rule: Callable[[np.ndarray, int], float]) -> Callable[..., np.ndarray]:
  def warp(y: np.ndarray, n_scale: int | None = None) -> np.ndarray:
    d = np.max(y) / 2 - y / 2
    s = rule(d, n_scale or len(y))
    if not s > 0: s = warp_scale(y, n_scale)
    return -np.log1p(d / s)
  return warp

def _regret(run: dict) -> float: return run["regret"]

def screen(rules: Collection[str], install: Callable[[str], None], label: Callable[[str, str], str], problems: str, doc: str | None,
           record: Callable[[dict], Any] = _regret) -> None:
  """The screening loop the screens share: for each rule named in --rules, `install(rule)` patches tinybo in this process,
  then `benchmarks.run.run_one` (or `benchmarks.conditional_bench.run_one` for a conditional problem) runs the strategy on
  each problem and seed; `record(run)` of each run (default: its regret; a dict holding "regret" otherwise) goes to the
  JSON file --out as {label(rule, strategy): {problem: {seed: record}}}, written after every run."""
  from benchmarks import conditional_bench, run
  from benchmarks.conditional_problems import CONDITIONAL_PROBLEMS
  ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--rules", required=True, help=f"of {','.join(rules)}")
  ap.add_argument("--problems", default=problems)
  ap.add_argument("--seeds", default="0-9", help="a-b, inclusive")
  ap.add_argument("--out", required=True)
  ap.add_argument("--strategy", default="gp", help="the tinybo strategy string (benchmarks.run), e.g. gp:warp_floor=True")
  args = ap.parse_args()
  lo, hi = map(int, args.seeds.split("-"))
  out = Path(args.out)
  res = json.loads(out.read_text()) if out.exists() else {}
  for name in args.rules.split(","):
    install(name)
    name_s = label(name, args.strategy)
    for p in args.problems.split(","):
      run_one = conditional_bench.run_one if p in CONDITIONAL_PROBLEMS else run.run_one
      for seed in range(lo, hi + 1):
        r = run_one(p, args.strategy, seed)
        if "error" in r: raise SystemExit(r["error"])
        res.setdefault(name_s, {}).setdefault(p, {})[str(seed)] = record(r)
        out.write_text(json.dumps(res, indent=1))
      a = np.array([(e["regret"] if isinstance(e, dict) else e) for e in (res[name_s][p][str(s)] for s in range(lo, hi + 1))])
      print(f"{name_s} {p} seeds {lo}-{hi}: {np.median(a):.3g} / {np.percentile(a, 80):.3g} / {a.max():.3g}", flush=True)

def main() -> None:
  def install(name: str) -> None: bo.warp_values = patched_warp(RULES[name])
  screen(RULES, install, lambda name, strategy: name if strategy == "gp" else f"{name}+{strategy}", "camel,branin,branin_noisy", __doc__)

if __name__ == "__main__":
  main()
