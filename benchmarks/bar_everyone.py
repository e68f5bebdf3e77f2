"""Issue 11's bar turned on every optimizer, and how firm each verdict is. The bar (`peer_bar.py`) asks tinybo's median
and 80th percentile of final regret to be at most the best peer's, on every problem and seed half. Here each optimizer
is judged the same way against all the others (tinybo's default among them, and without it), and each of tinybo's
verdicts gets the chance that it passes when every strategy's seeds of that half are drawn again with replacement (a
bootstrap): a verdict near 0.5 is decided by which seeds were run, not by the method.

  python -m benchmarks.bar_everyone                          # seeds 0-9, 10-19 and 0-19; every stored run (peer_bar's manifests)
  python -m benchmarks.bar_everyone --draws 20000 --seed 1   # another bootstrap

A strategy is judged only in the (problem, half) cells where it has every seed, against the strategies that have every
seed there too; skopt and BoTorch ran 10 seeds of 3 problems, so they count only in those cells.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks import suite_table
from benchmarks.peer_bar import PEER_RUNS, PROBLEMS, seed_range
from benchmarks.run import RESULTS

STATS = {"median": lambda v: np.median(v, axis=-1), "p80": lambda v: np.percentile(v, 80, axis=-1)}   # numpy's interpolation, as run.py
TINYBO = "tinybo"

def final_regrets(root: Path = RESULTS) -> dict[str, dict[tuple[str, int], float]]:
  """strategy -> (problem, seed) -> final regret: tinybo's default (suite_table's manifest) and every peer's stored runs."""
  out = {TINYBO: {(r["problem"], r["seed"]): r["regret"] for r in suite_table.default_runs(root)}}
  for k, pats in PEER_RUNS.items(): out[k] = {key: r["regret"] for key, r in suite_table.strategy_runs(pats, k, root).items()}
  return out

def cell_values(regrets: dict[str, dict[tuple[str, int], float]], problem: str, seeds: range) -> dict[str, np.ndarray]:
  """The strategies that ran every seed of `seeds` on `problem`, each with its final regrets in seed order."""
  out = {}
  for k, runs in regrets.items():
    if all((problem, s) in runs for s in seeds): out[k] = np.array([runs[(problem, s)] for s in seeds])
  return out

def failures(regrets: dict[str, dict[tuple[str, int], float]], judged: str, problems: list[str], halves: list[range],
             without: tuple[str, ...] = ()) -> tuple[int, list[str]]:
  """(cells judged, the failed ones as 'problem seeds statistic'): `judged`'s median and p80 against the best of the other
  strategies (leaving out `without`) in every (problem, half) where it and at least one other have every seed."""
  n, failed = 0, []
  for p in problems:
    for h in halves:
      vals = cell_values(regrets, p, h)
      others = {k: v for k, v in vals.items() if k != judged and k not in without}
      if judged not in vals or not others: continue
      for name, stat in STATS.items():
        n += 1
        if stat(vals[judged]) > min(stat(v) for v in others.values()): failed.append(f"{p} {h.start}-{h.stop - 1} {name}")
  return n, failed

def pass_chance(judged: np.ndarray, others: list[np.ndarray], stat: str, draws: int, rng: np.random.Generator) -> float:
  """The fraction of bootstrap draws (each strategy's seeds resampled with replacement, independently) in which
  `judged`'s statistic is at most the best of the others'."""
  f = STATS[stat]
  boot = lambda v: f(v[rng.integers(0, len(v), (draws, len(v)))])  # noqa: E731
  return float(np.mean(boot(judged) <= np.min([boot(v) for v in others], axis=0)))

def everyone_table(regrets: dict[str, dict[tuple[str, int], float]], problems: list[str], halves: list[range]) -> str:
  lines = ["| optimizer | cells judged | failed against all the others | failed against the others but tinybo |", "|---|---|---|---|"]
  for k in regrets:
    n, failed = failures(regrets, k, problems, halves)
    n2, failed2 = failures(regrets, k, problems, halves, without=(TINYBO,))
    if n: lines.append(f"| {k} | {n} | {len(failed)} | {'' if k == TINYBO else f'{len(failed2)} of {n2}'} |")
  return "\n".join(lines)

def firmness_table(regrets: dict[str, dict[tuple[str, int], float]], problems: list[str], halves: list[range], draws: int, seed: int) -> str:
  """tinybo's verdict per (problem, half, statistic) and its bootstrap chance of passing."""
  rng = np.random.default_rng(seed)
  lines = ["| problem | seeds | statistic | tinybo | best peer | verdict | chance of passing, seeds redrawn |", "|---|---|---|---|---|---|---|"]
  for p in problems:
    for h in halves:
      vals = cell_values(regrets, p, h)
      others = {k: v for k, v in vals.items() if k != TINYBO}
      if TINYBO not in vals or not others: continue
      for name, stat in STATS.items():
        best = min(others, key=lambda k: stat(others[k]))
        mine, theirs = float(stat(vals[TINYBO])), float(stat(others[best]))
        chance = pass_chance(vals[TINYBO], list(others.values()), name, draws, rng)
        verdict = "pass" if mine <= theirs else "FAIL"
        lines.append(f"| {p} | {h.start}-{h.stop - 1} | {name} | {mine:.3g} | {theirs:.3g} ({best}) | {verdict} | {chance:.2f} |")
  return "\n".join(lines)

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--problems", default=",".join(PROBLEMS))
  ap.add_argument("--halves", default="0-9,10-19,0-19", help="seed ranges, each first-last (default 0-9,10-19,0-19)")
  ap.add_argument("--root", default=str(RESULTS), help="folder of the results files (default benchmarks/results)")
  ap.add_argument("--draws", type=int, default=4000, help="bootstrap draws per verdict (default 4000)")
  ap.add_argument("--seed", type=int, default=0, help="the bootstrap's random seed (default 0)")
  args = ap.parse_args(argv)
  problems = args.problems.split(",")
  unknown = [p for p in problems if p not in PROBLEMS]
  if unknown: ap.error(f"problems {unknown}: no stored runs of tinybo's default; use some of {','.join(PROBLEMS)}")
  if args.draws < 1: ap.error(f"--draws {args.draws}: use a positive number of bootstrap draws, e.g. 4000")
  regrets, halves = final_regrets(Path(args.root)), [seed_range(h) for h in args.halves.split(",")]
  print("### issue 11's bar for every optimizer: median and p80 cells where it is above the best of the others\n")
  print(everyone_table(regrets, problems, halves))
  print(f"\n### tinybo's verdicts, and the chance each passes with every strategy's seeds redrawn ({args.draws} draws)\n")
  print(firmness_table(regrets, problems, halves, args.draws, args.seed))

if __name__ == "__main__":
  main()
