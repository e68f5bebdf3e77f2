"""Issue 11's bar from the stored runs: per problem and seed half (0-9, 10-19), the final regret's median / 80th
percentile / worst of tinybo's current default beside every peer, whether tinybo's median and 80th percentile are at
most the best peer's, and each peer's seconds per suggestion.

  python -m benchmarks.peer_bar                      # the default's files and every stored peer run (lists below)
  python -m benchmarks.peer_bar --problems branin,camel --halves 0-9,10-19,0-19
  python -m benchmarks.peer_bar --candidate 's31_follow*.json' --halves 0-9,10-19,0-19   # a change's runs in the default's place

A column is one or more results files (glob patterns, relative to benchmarks/results) and the strategy name to take from
them; where two files hold the same (problem, seed), the later one wins. A peer is ranked in a half only where it has
every seed of that half (shown with [n=k] otherwise); the verdict compares tinybo with the best ranked peer on each
statistic separately (the best median and the best 80th percentile may be two different peers).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import suite_table
from benchmarks.run import RESULTS

# the manifests of benchmarks/suite_table.py: tinybo's default per problem and the peers' files
PEER_RUNS: dict[str, list[str]] = {k: v for k, v in suite_table.PEER_RUNS.items() if k != "random"}
PROBLEMS = tuple(suite_table.DEFAULT_RUNS)

def half_stats(runs: dict[tuple[str, int], dict[str, Any]], problem: str, seeds: range) -> dict[str, float] | None:
  """Median, 80th percentile (numpy's linear interpolation, as benchmarks.run) and worst final regret over the seeds that ran."""
  v = np.array([runs[(problem, s)]["regret"] for s in seeds if (problem, s) in runs])
  if not len(v): return None
  return {"n": len(v), "median": float(np.median(v)), "p80": float(np.percentile(v, 80)), "worst": float(v.max())}

def cell(s: dict[str, float] | None, full: int) -> str:
  if s is None: return ""
  return f"{s['median']:.3g} / {s['p80']:.3g} / {s['worst']:.3g}" + ("" if s["n"] == full else f" [n={s['n']}]")

def verdict(tb: dict[str, float] | None, peers: dict[str, dict[str, float] | None], full: int) -> str:
  """'yes, no (optuna-gp, hebo)': tinybo's median <= the best full peer's median, its p80 <= the best p80; which peers hold those."""
  ranked = {k: s for k, s in peers.items() if s is not None and s["n"] == full}
  if tb is None or tb["n"] != full or not ranked: return ""
  med = min(ranked, key=lambda k: ranked[k]["median"])
  p80 = min(ranked, key=lambda k: ranked[k]["p80"])
  yes = lambda a, b: "yes" if a <= b else "no"  # noqa: E731
  return f"{yes(tb['median'], ranked[med]['median'])}, {yes(tb['p80'], ranked[p80]['p80'])} ({med}, {p80})"

def bar_table(problems: list[str], halves: list[range], root: Path = RESULTS, candidate: tuple[list[str], str] | None = None) -> str:
  """The bar's table; `candidate` = (file patterns, strategy): those runs replace the default's seeds they hold (a change
  measured on some problems is judged beside the default's runs of the others)."""
  default = {(r["problem"], r["seed"]): r for r in suite_table.default_runs(root)}
  if candidate is not None: default.update(suite_table.strategy_runs(*candidate, root))
  tb_runs = {p: {k: r for k, r in default.items() if k[0] == p} for p in problems}
  peer_runs = {k: suite_table.strategy_runs(pats, k, root) for k, pats in PEER_RUNS.items()}
  head = ["problem", "seeds", "tinybo default" if candidate is None else "tinybo candidate"] + list(peer_runs) + \
    ["tinybo ≤ best peer: median, p80 (best peers)"]
  lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
  for p in problems:
    budget = next((r["budget"] for r in tb_runs[p].values()), None)
    for h in halves:
      tb = half_stats(tb_runs[p], p, h)
      peers = {k: half_stats(runs, p, h) for k, runs in peer_runs.items()}
      cells = [cell(tb, len(h))] + [cell(s, len(h)) for s in peers.values()] + [verdict(tb, peers, len(h))]
      lines.append(f"| {p} ({budget}) | {h.start}-{h.stop - 1} | " + " | ".join(cells) + " |")
  return "\n".join(lines)

def speed_table(problems: list[str], root: Path = RESULTS, files: str | None = None) -> str:
  """Per peer and problem: runs, median seconds per suggestion (all suggestions; the last ten) and the median run's total;
  files: a glob pattern to take the runs from instead of each peer's files (e.g. one session's runs)."""
  lines = ["| peer | problem | runs | s per suggestion: median (last 10) | s per run (median) |", "|---|---|---|---|---|"]
  for k, pats in PEER_RUNS.items():
    runs = suite_table.strategy_runs(pats if files is None else [files], k, root)
    for p in problems:
      rs = [r for (q, _), r in runs.items() if q == p and "suggest_s" in r]
      if not rs: continue
      all_s = [t for r in rs for t in r["suggest_s"]]
      last = [t for r in rs for t in r["suggest_s"][-10:]]
      total = np.median([sum(r["suggest_s"]) for r in rs])
      lines.append(f"| {k} | {p} | {len(rs)} | {np.median(all_s):.2f} ({np.median(last):.2f}) | {total:.0f} |")
  return "\n".join(lines)

def seed_range(text: str) -> range:
  lo, _, hi = text.partition("-")
  if not lo.isdigit() or not hi.isdigit() or int(hi) < int(lo): raise argparse.ArgumentTypeError(f"half {text!r}: use first-last, e.g. 0-9")
  return range(int(lo), int(hi) + 1)

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--problems", default=",".join(PROBLEMS))
  ap.add_argument("--halves", default="0-9,10-19", help="seed ranges, each first-last (default 0-9,10-19)")
  ap.add_argument("--root", default=str(RESULTS), help="folder of the results files (default benchmarks/results)")
  ap.add_argument("--speed-files", default=None, help="glob pattern: the speed table from these files only (default: every peer's files)")
  ap.add_argument("--candidate", default=None, help="glob patterns[:strategy] (default strategy gp): runs that replace the default's "
                  "seeds they hold, e.g. a change measured on part of the suite")
  args = ap.parse_args(argv)
  problems, root = args.problems.split(","), Path(args.root)
  unknown = [p for p in problems if p not in PROBLEMS]
  if unknown: ap.error(f"problems {unknown}: no stored runs of tinybo's default; use some of {','.join(PROBLEMS)}")
  print("### final regret: median / 80th percentile / worst ([n=k]: fewer seeds than the half; not ranked)\n")
  candidate = None
  if args.candidate is not None:
    pats, _, strategy = args.candidate.partition(":")
    candidate = (pats.split(","), strategy or "gp")
  print(bar_table(problems, [seed_range(h) for h in args.halves.split(",")], root, candidate))
  print("\n### peers' seconds per suggestion (ask + tell, one thread; the machine's load varied between runs)\n")
  print(speed_table(problems, root, args.speed_files))

if __name__ == "__main__":
  main()
