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

from benchmarks.functions import PROBLEMS
from benchmarks.run import RESULTS, load_runs, plot, report

# problem -> [(results file, strategy label in it), ...]: a later file's run of a seed replaces an earlier one's. Every
# row is plain `gp` at today's defaults, run in session 24 on one core of the Zen 4 machine (AMD EPYC family 25 model 17)
# where Optuna's columns ran in the same session (s24_zen4_optuna.json): s24_outlier.json at the final code of that
# session; s24_zen4_ld.json and s24_zen4_hd.json (main at c97eaf8) for the problems none of whose runs holds a value far
# below its design (`transforms.far_below`), which that session's rule therefore leaves bit for bit as they were (its
# runs of branin, mixed, hartmann6 and branin_noisy equal s24_zen4_ld's). Other machine types take other paths from the
# same code (benchmarks/README.md, issue 11, sessions 17, 21 and 22); session 21's machine: s21_suite_tinybo.json.
_ZEN4 = {"branin": "s24_outlier.json", "camel": "s24_outlier.json", "hartmann3": "s24_zen4_ld.json", "hartmann6": "s24_outlier.json",
         "mixed": "s24_outlier.json", "ackley5": "s24_zen4_ld.json", "branin_noisy": "s24_outlier.json", "hartmann6_noisy": "s24_zen4_ld.json",
         "ackley10": "s24_zen4_hd.json", "ackley20": "s24_zen4_hd.json", "hartmann6_25d": "s24_zen4_hd.json"}
DEFAULT_RUNS: dict[str, list[tuple[str, str]]] = {p: [(f, "gp")] for p, f in _ZEN4.items()}
# the noisy problems' regret is at the recommendation, since session 34 `opt.recommend(observed=False)`: s34_rec_anywhere.json
# holds the same 40 runs (every observed value equal to s24's, checked) with that recommendation
DEFAULT_RUNS.update({p: [("s34_rec_anywhere.json", "gp")] for p in ("branin_noisy", "hartmann6_noisy")})
# mixed since session 35's integer-end rule (`inward.new_int_end`), the one suite problem it changes (an Int of 3+ values
# on a space that is not scored whole): s35_int_end_mixed.json, run on the Zen 4 machine type of s24's runs (whose other
# problems that session's code repeats bit for bit)
DEFAULT_RUNS["mixed"] = [("s35_int_end_mixed.json", "gp")]
# since session 37 the fit step compiles with kernel optimization from 48 rows (`gp.NOOPT_MAX_N`), which moves the fits'
# last bits there, so every problem of more than 30 evaluations takes other paths: the whole suite rerun at that code on
# the same machine type (s37_noopt_ld.json, s37_noopt_hd.json); Branin, camel and Branin + noise (30 evaluations) repeat
# their s24/s34 runs bit for bit
DEFAULT_RUNS = {p: [(f"s37_noopt/s37_noopt_{'hd' if p in ('ackley10', 'ackley20', 'hartmann6_25d') else 'ld'}.json", "gp")] for p in _ZEN4}
# since session 38 noisy data whose values are warped fit the raw values on a warm-start chain of their own (`GP._raw_model`):
# Branin + noise, Ackley-10 and Ackley-20 take other paths (and Hartmann6 + noise seed 13), the other problems repeat
# session 37's runs bit for bit; the whole suite rerun at that code on the same machine type (s38_raw_ld.json, _hd.json)
DEFAULT_RUNS = {p: [(f"s38_raw/s38_raw_{'hd' if p in ('ackley10', 'ackley20', 'hartmann6_25d') else 'ld'}.json", "gp")] for p in _ZEN4}
# since session 39 `recommend(observed=False)` keeps to the data's support (a point whose posterior variance exceeds every
# trial's is not recommended): the two noisy problems' runs take the same paths, two Hartmann6 + noise recommendations
# change; rerun on the same machine type (s39_parallel/noisy_sequential.json, its paths checked against s38_raw_ld.json)
DEFAULT_RUNS.update({p: [("s39_parallel/noisy_sequential.json", "gp")] for p in ("branin_noisy", "hartmann6_noisy")})
# strategy -> results files holding its runs (glob patterns, in order: a later file's run of the same problem and seed
# wins): the peers in their recommended set-up, seeds 0-19 where they were run; skopt and BoTorch ran seeds 0-9 of
# branin, hartmann6 and ackley5 only, before issue 11
PEER_RUNS: dict[str, list[str]] = {
  "random": ["suite20_tinybo.json"],
  # Optuna 5.1 with greenlet, rerun in session 38 beside the default's runs on their machine type: every run repeats
  # session 24's (s24_zen4_optuna.json) value for value
  "optuna-gp": ["s38_optuna/s38_optuna*.json"],
  "optuna-tpe": ["s38_optuna/s38_optuna*.json"],
  "optuna-gp-det": ["s26_optuna_gp_det*.json"],  # GPSampler(deterministic_objective=True) on the noise-free problems (session 26)
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
            if r["problem"] == problem and r["strategy"] == label and "regret" in r and _at_suite_budget(r, name)}
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
      if r["strategy"] == strategy and "regret" in r: out[(r["problem"], r["seed"])] = _at_suite_budget(r, pat)
  return out

def _at_suite_budget(r: dict[str, Any], where: str) -> dict[str, Any]:
  """r, if it ran its problem's suite budget: runs are keyed by (problem, seed), so a shorter test run in a matched file
  would replace a full run (or stand beside the others) unnoticed."""
  p = PROBLEMS.get(r["problem"])
  if p is not None and r.get("budget", p.budget) != p.budget:   # a record without one (hand-made) is not judged
    raise ValueError(f"{where}: {r['problem']}/{r['strategy']}/seed {r['seed']} ran {r.get('budget')} evaluations, not the suite's {p.budget}")
  return r

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
