"""Anytime regret of the conditional benchmark's runs (benchmarks/conditional_bench.py): the best-so-far regret after k
evaluations, at every k from the end of the initial design to the budget, and the evaluations each run needs to reach a
regret below a tolerance. No strategy is told its budget, so the first k evaluations of a run are the run of budget k:
one file of 40-evaluation runs holds the runs of every smaller budget. Reads the results JSONs, runs nothing.

  python -m benchmarks.conditional_anytime --report a.json,b.json [--problems jenatton,ml_conditional] [--tol 1e-6,0.1] [--out t.md]

Where two files hold the same (problem, strategy, seed, budget), the later one wins (benchmarks.run.load_runs).
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.conditional_problems import get_conditional_problem
from benchmarks.run import load_runs, run_key
from tinybo.bo import default_initial_size

STRATEGIES = "gp,gp:conditional=flatten,optuna-tpe-tree,random"
HALVES = (("seeds 0-9", range(0, 10)), ("seeds 10-19", range(10, 20)), ("seeds 0-19", range(0, 20)))

def load(spec: str) -> list[dict[str, Any]]:
  """Comma-separated results JSONs, each optionally followed by '#old=new' relabels of its strategies
  ('cond13_jen_r2.json#gp=gp@no-bonus': the runs of an earlier default under a name of their own; the old name holds no
  '=', the new one may); a later file wins."""
  records = []
  for item in spec.split(","):
    path, *renames = item.split("#")
    rename = dict(r.split("=", 1) for r in renames if "=" in r)
    if len(rename) != len(renames): raise SystemExit(f"--report item {item!r}: relabel as path#old=new")
    records += [{**r, "strategy": rename.get(r["strategy"], r["strategy"])} for r in load_runs([path])]
  merged = {run_key(r): r for r in records}
  return list(merged.values())

def regret_trace(values: list[float], optimum: float) -> np.ndarray:
  """[budget]: the best-so-far regret after k = 1.. evaluations."""
  return np.minimum.accumulate(np.asarray(values, dtype=np.float64)) - optimum

def evaluations_to(trace: np.ndarray, tol: float) -> float:
  """The fewest evaluations after which the best-so-far regret is below tol; inf when the run never gets there."""
  hit = np.flatnonzero(np.asarray(trace) < tol)
  return float(hit[0] + 1) if len(hit) else math.inf

def percentile(a: list[float] | np.ndarray, q: float) -> float:
  """numpy's linearly interpolated percentile, with inf allowed (a run that never reached the tolerance): inf when the
  interpolation touches an inf value."""
  s = np.sort(np.asarray(a, dtype=np.float64))
  if len(s) == 0: raise ValueError("percentile of no runs: give at least one")
  pos = q / 100 * (len(s) - 1)
  lo, hi = int(math.floor(pos)), int(math.ceil(pos))
  frac = pos - lo
  if math.isinf(s[lo]) or (frac > 0 and math.isinf(s[hi])): return math.inf
  return float(s[lo] + (s[hi] - s[lo]) * frac)

def summary(x: list[float] | np.ndarray) -> tuple[float, float, float]:
  """(median, 80th percentile, worst)."""
  return percentile(x, 50), percentile(x, 80), float(np.max(x))

def traces(records: list[dict[str, Any]], problem: str, strategy: str, seeds: range) -> dict[int, np.ndarray]:
  """seed -> regret trace, for the finished runs of (problem, strategy) at the problem's budget among these seeds."""
  prob = get_conditional_problem(problem)
  return {r["seed"]: regret_trace(r["values"], prob.optimum) for r in records
          if r["problem"] == problem and r["strategy"] == strategy and r["seed"] in seeds and r.get("budget") == prob.budget
          and len(r.get("values", ())) == prob.budget}

def initial_size(problem: str) -> int:
  space = get_conditional_problem(problem).space
  return default_initial_size(len(space.names), bool(space.conditions))

def shared_design(records: list[dict[str, Any]], problem: str, a: str, b: str) -> tuple[int, int, str]:
  """(seeds where a's and b's initial designs are the same, seeds both ran, what was compared): the configurations where
  both runs recorded them (`params`), else the values of the design's evaluations (older files)."""
  n0 = initial_size(problem)
  runs = {(r["strategy"], r["seed"]): r for r in records if r["problem"] == problem and "values" in r}
  seeds = sorted({s for (st, s) in runs if st == a} & {s for (st, s) in runs if st == b})
  key = "params" if all("params" in runs[(st, s)] for s in seeds for st in (a, b)) else "values"
  return sum(runs[(a, s)][key][:n0] == runs[(b, s)][key][:n0] for s in seeds), len(seeds), key

def compare(tree: tuple[float, float], other: tuple[float, float]) -> str:
  """How (median, p80) of the tree compares with another method's: 'ahead' (no worse at both, better at one), 'tie'
  (equal at both), 'behind' (no better at both, worse at one), 'mixed'."""
  if tree == other: return "tie"
  if tree[0] <= other[0] and tree[1] <= other[1]: return "ahead"
  if tree[0] >= other[0] and tree[1] >= other[1]: return "behind"
  return "mixed"

def fmt(v: float) -> str:
  return "0" if v == 0 else f"{v:.3g}"

def fmt_evals(v: float, budget: int) -> str:
  return f"> {budget}" if math.isinf(v) else f"{v:g}"

def anytime_table(records: list[dict[str, Any]], problem: str, strategies: list[str], seeds: range) -> str:
  """Markdown: a row per k from the end of the initial design to the budget, median / p80 / worst regret per strategy,
  and how strategies[0] (the tree GP) compares with each other one at the median and the p80."""
  prob, n0 = get_conditional_problem(problem), initial_size(problem)
  T = {st: traces(records, problem, st, seeds) for st in strategies}
  present = [st for st in strategies if T[st]]
  if not present: return f"(no runs of {problem} in these files)"
  head = "| k | " + " | ".join(f"{st} (n={len(T[st])})" for st in present) + " | " + " | ".join(f"{present[0]} vs {st}" for st in present[1:]) + " |"
  rows = [head, "|" + "---|" * (1 + 2 * len(present) - 1)]
  for k in range(n0, prob.budget + 1):
    s = {st: summary([t[k - 1] for t in T[st].values()]) for st in present}
    cells = [" / ".join(fmt(v) for v in s[st]) for st in present]
    rows.append(f"| {k} | " + " | ".join(cells) + " | " + " | ".join(compare(s[present[0]][:2], s[st][:2]) for st in present[1:]) + " |")
  return "\n".join(rows)

def leads(records: list[dict[str, Any]], problem: str, tree: str, other: str) -> dict[str, list[int]]:
  """half label -> the k (from the design's end to the budget) where the tree is 'ahead' of other at median and p80."""
  prob, n0 = get_conditional_problem(problem), initial_size(problem)
  out = {}
  for label, seeds in HALVES:
    a, b = traces(records, problem, tree, seeds), traces(records, problem, other, seeds)
    if not a or not b: continue
    out[label] = [k for k in range(n0, prob.budget + 1)
                  if compare(summary([t[k - 1] for t in a.values()])[:2], summary([t[k - 1] for t in b.values()])[:2]) == "ahead"]
  return out

def reach_table(records: list[dict[str, Any]], problems: list[str], strategies: list[str], tol: float) -> str:
  """Markdown: per problem and half, the evaluations to reach regret < tol, median / p80, and how many runs got there."""
  rows = ["| problem (budget) | seeds | " + " | ".join(strategies) + " |", "|" + "---|" * (2 + len(strategies))]
  for p in problems:
    budget = get_conditional_problem(p).budget
    for label, seeds in HALVES:
      cells = []
      for st in strategies:
        ev = [evaluations_to(t, tol) for t in traces(records, p, st, seeds).values()]
        cells.append("-" if not ev else f"{fmt_evals(percentile(ev, 50), budget)} / {fmt_evals(percentile(ev, 80), budget)} "
                     f"({sum(map(math.isfinite, ev))} of {len(ev)})")
      rows.append(f"| {p} ({budget}) | {label} | " + " | ".join(cells) + " |")
  return "\n".join(rows)

def ranges(ks: list[int]) -> str:
  """[21, 22, 23, 30] -> '21-23, 30'."""
  if not ks: return "none"
  out, start = [], ks[0]
  for a, b in zip(ks, ks[1:] + [None]):
    if b != a + 1: out.append(f"{start}" if start == a else f"{start}-{a}"); start = b
  return ", ".join(out)

def report(records: list[dict[str, Any]], problems: list[str], strategies: list[str], tol: dict[str, float]) -> str:
  """Markdown: per problem, the evaluations to reach its tolerance (tol[problem]), then the anytime tables per half."""
  out = []
  for p, t in tol.items():
    out += [f"### {p}: evaluations to reach regret < {t:g}: median / 80th percentile (runs that reached it)\n",
            reach_table(records, [p], strategies, t), ""]
  for p in problems:
    out.append(f"### {p}: best-so-far regret after k evaluations, median / p80 / worst\n")
    if len(strategies) > 1:
      same, n, key = shared_design(records, p, strategies[0], strategies[1])
      out.append(f"Initial design: {initial_size(p)} evaluations; the same for {strategies[0]} and {strategies[1]} in {same} of {n} "
                 f"seeds (compared: {'the configurations' if key == 'params' else 'their values'}).\n")
    for other in strategies[1:]:
      ahead = leads(records, p, strategies[0], other)
      if ahead: out.append(f"- {strategies[0]} ahead of {other} at median and p80: " + "; ".join(f"{h}: k = {ranges(ks)}" for h, ks in ahead.items()))
    for label, seeds in HALVES:
      out += ["", f"#### {p}, {label}\n", anytime_table(records, p, strategies, seeds)]
    out.append("")
  return "\n".join(out)

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--report", required=True, help="results JSONs, comma-separated, each with optional #old=new relabels (a later file wins)")
  ap.add_argument("--problems", default="jenatton,jenatton_pm1,training_recipe,ml_conditional")
  ap.add_argument("--strategies", default=STRATEGIES, help="the first is compared with each other one")
  ap.add_argument("--tol", default="1e-6", help="regret tolerance, one for all problems or one per problem (1e-6,1e-6,0.01,0.1)")
  ap.add_argument("--out", default=None, help="also write the markdown here")
  args = ap.parse_args(argv)
  problems, tols = args.problems.split(","), [float(t) for t in args.tol.split(",")]
  if len(tols) not in (1, len(problems)): raise SystemExit(f"--tol={args.tol!r}: give one tolerance or one per problem ({len(problems)})")
  text = report(load(args.report), problems, args.strategies.split(","), dict(zip(problems, tols * len(problems))))
  print(text)
  if args.out: Path(args.out).write_text(text + "\n")

if __name__ == "__main__":
  main()
