"""The README's suite table and curves: today's default GP strategy beside every peer, from stored results files.

The default's runs of the suite were made in several runs (a problem is rerun only when a change can alter its runs), so
DEFAULT_RUNS names, per problem, the file and the strategy label that hold today's default's runs of seeds 0-19; each
entry is there because that label gives the same runs as plain `gp` at today's defaults (benchmarks/README.md says
where this was checked). PEER_RUNS names the files of the peers' runs. Both manifests serve peer_bar.py too. The output
is run.report's tables (seeds 0-9, 10-19 and all) with the default shown as `gp`, and run.plot's curves as
results/suite_default_<problem>.png.

  python -m benchmarks.suite_table              # tables to stdout, curves to benchmarks/results
  python -m benchmarks.suite_table --no-plot
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks.run import RESULTS, load_runs, plot, report

# problem -> [(results file, strategy label in it), ...]: a later file's run of a seed replaces an earlier one's. Every
# row is s21_suite_tinybo.json: plain `gp` at 9725478 (today's defaults), run in session 21 on one pinned core of the
# machine where Optuna's columns ran in the same session (s21_optuna_suite.json). That machine repeats session 17's runs
# (s17_suite_machine.json, s17_h6_machine.json) bit for bit on the eight problems no default has changed since, and
# s20_power.json on the three of 10+ parameters. Until session 21 the rows of the other eight were runs of sessions 10-15
# from another machine type, where the same code takes other paths (benchmarks/README.md, issue 11, sessions 17 and 21).
DEFAULT_RUNS: dict[str, list[tuple[str, str]]] = {
  p: [("s21_suite_tinybo.json", "gp")] for p in ("branin", "camel", "hartmann3", "hartmann6", "mixed", "ackley5", "branin_noisy",
                                                 "hartmann6_noisy", "ackley10", "ackley20", "hartmann6_25d")}
# strategy -> results files holding its runs (glob patterns, in order: a later file's run of the same problem and seed
# wins): the peers in their recommended set-up, seeds 0-19 where they were run; skopt and BoTorch ran seeds 0-9 of
# branin, hartmann6 and ackley5 only, before issue 11
PEER_RUNS: dict[str, list[str]] = {
  "random": ["suite20_tinybo.json"],
  "optuna-gp": ["s21_optuna_suite.json"],    # Optuna 5.1 with greenlet, on the machine that repeats the default's stored runs
  "optuna-tpe": ["s21_optuna_suite.json"],
  "hebo": ["session6_hebo_ackley5*.json", "session7_hebo_*.json", "session8_hebo_*.json", "suite20_hebo.json", "s11_hebo_*.json",
           "s13_hebo_*.json", "s14_hebo_*.json", "s15_hebo_*.json", "s16_hebo_*.json", "s18_hebo_*.json"],
  "smac": ["suite20_smac.json", "s11_smac_*.json", "s12_smac_*.json", "s13_smac_*.json", "s17_smac_*.json", "s18_smac_*.json", "s20_smac_*.json",
           "s21_smac_*.json"],
  "skopt": ["combined.json"],
  "botorch": ["combined.json"],
}
STRATEGIES = ["gp", *PEER_RUNS]

def default_runs(results: Path = RESULTS) -> list[dict[str, Any]]:
  """Today's default's runs of every suite problem, relabelled `gp`; an entry whose files do not hold seeds 0-19 is an error."""
  out = []
  for problem, entries in DEFAULT_RUNS.items():
    runs = {r["seed"]: r for name, label in entries for r in json.loads((results / name).read_text())["runs"]
            if r["problem"] == problem and r["strategy"] == label and "regret" in r}
    if sorted(runs) != list(range(20)):
      raise ValueError(f"{entries}: {problem} holds seeds {sorted(runs)}: point DEFAULT_RUNS at files with seeds 0-19")
    out += [{**runs[s], "strategy": "gp"} for s in range(20)]
  return out

def strategy_runs(patterns: list[str], strategy: str, results: Path = RESULTS) -> dict[tuple[str, int], dict[str, Any]]:
  """(problem, seed) -> the finished run of `strategy` in the files matching `patterns`, in order (a later file's run of
  the same problem and seed wins); a pattern that matches no file is an error."""
  out: dict[tuple[str, int], dict[str, Any]] = {}
  for pat in patterns:
    paths = sorted(results.glob(pat))
    if not paths: raise FileNotFoundError(f"{results / pat}: no results file matches; fix the pattern for {strategy!r}")
    for r in load_runs(paths):
      if r["strategy"] == strategy and "regret" in r: out[(r["problem"], r["seed"])] = r
  return out

def peer_runs(results: Path = RESULTS) -> list[dict[str, Any]]:
  """The peers' finished runs of the suite's problems (a pattern that matches no file is an error)."""
  return [r for strategy, patterns in PEER_RUNS.items() for (problem, _), r in strategy_runs(patterns, strategy, results).items()
          if problem in DEFAULT_RUNS]

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--no-plot", action="store_true")
  ap.add_argument("--strategies", default=",".join(STRATEGIES), help="the columns, in order (default: gp and every peer)")
  ap.add_argument("-o", "--out", default=str(RESULTS), help="folder for the curves (default: benchmarks/results)")
  args = ap.parse_args(argv)
  records = default_runs() + peer_runs()
  problems = list(DEFAULT_RUNS)
  unknown = [st for st in args.strategies.split(",") if st not in STRATEGIES]
  if unknown: ap.error(f"--strategies {','.join(unknown)}: use some of {','.join(STRATEGIES)}")
  strategies = [st for st in args.strategies.split(",") if any(r["strategy"] == st for r in records)]
  print(report(records, problems, strategies))
  if not args.no_plot:
    for png in plot(records, problems, strategies, Path(args.out), "suite_default"): print(png)

if __name__ == "__main__":
  main()
