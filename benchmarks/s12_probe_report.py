"""The inward probe (tinybo.bo.inward_probe) against the default's stored runs before it (the first file of each
suite_table.DEFAULT_RUNS entry): per problem and seed half, the default's and the probe's median / 80th percentile /
worst final regret, how many runs the probe changed (values not bit-identical to the default's), and how many of those
end better or worse.

  python -m benchmarks.s12_probe_report --loose benchmarks/results/s12_probe_loose/*.json -- benchmarks/results/s12_probe2*.json

--loose: runs of the first, ungated probe (no stall condition). Where such a run equals the default's bit for bit, the
probe never fired on it; the stalled probe fires only where the ungated one would at the same point, so that run is the
stalled probe's too, and only the others were rerun (the files after --).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks import suite_table
from benchmarks.run import RESULTS


def stats(v: np.ndarray) -> str:
  return f"{np.median(v):.3g} / {np.percentile(v, 80):.3g} / {v.max():.3g}"

def gp_runs(files: list[str]) -> dict[tuple[str, int], dict]:
  return {(r["problem"], r["seed"]): r for f in files for r in json.loads(Path(f).read_text())["runs"] if r["strategy"] == "gp" and "regret" in r}

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--loose", nargs="*", default=[], help="the ungated probe's runs (their unchanged ones stand for the stalled probe's)")
  ap.add_argument("files", nargs="+", help="the stalled probe's runs")
  args = ap.parse_args(argv)
  new, loose = gp_runs(args.files), gp_runs(args.loose)
  print("| problem | seeds | default | with the probe | runs changed | better / worse | changed seeds (default -> probe) |")
  print("|---|---|---|---|---|---|---|")
  for problem, entries in suite_table.DEFAULT_RUNS.items():
    name, label = entries[0]   # the default's runs before the probe
    old = {r["seed"]: r for r in json.loads((RESULTS / name).read_text())["runs"] if r["problem"] == problem and r["strategy"] == label}
    for s, r in old.items():
      if (problem, s) not in new and (problem, s) in loose and loose[(problem, s)]["values"] == r["values"]: new[(problem, s)] = r
    for half in (range(10), range(10, 20)):
      seeds = [s for s in half if (problem, s) in new and s in old]
      if len(seeds) < len(half): continue
      a, b = (np.array([d[s]["regret"] for s in seeds]) for d in (old, {s: new[(problem, s)] for s in seeds}))
      changed = [s for s in seeds if old[s]["values"] != new[(problem, s)]["values"]]
      moves = ", ".join(f"{s}: {old[s]['regret']:.3g} -> {new[(problem, s)]['regret']:.3g}" for s in changed)
      print(f"| {problem} | {half.start}-{half.stop - 1} | {stats(a)} | {stats(b)} | {len(changed)} | {(b < a).sum()} / {(b > a).sum()} | {moves} |")

if __name__ == "__main__":
  main()
