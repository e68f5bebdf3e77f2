"""Candidates for a plateau guard of GP(trust_region=True): a condition under which a rough local turn is not taken.
Default mode: for every stored trust_region run that departs from the default's run (the first evaluation where their
values differ: the first rough local turn), statistics of the values before that evaluation and the change of the final
regret (trust_region minus default). A guard can only keep a run at the default's where it fires, so a useful one fires
on the runs that got worse and not on those that got better.
--probe PROBLEM SEED BUDGET: one trust_region study that prints, at each local-chain fit, the global model's lead of the
best over the median in its noise sd, the chain's cold-fit objectives, and the points in the trust box and its double.

  python -m benchmarks.s10_trust_guard
  PYTHONPATH=$PWD DEV=CPU python -m benchmarks.s10_trust_guard --probe ackley10 2 70

Statistics (values to minimize, y[:t] before the departure, D the initial design y[:n0]):
  z_all    (median y − best) / (1.4826 MAD y)             the incumbent's lead over the bulk in its robust spread
  z_design (median D − best) / (1.4826 MAD D)             ... over the design's (random points') values
  gain     (median D − best) / (median D − min D)         the incumbent's gain in units of the design's own best gain
  L        trust_region.trust_length at the departure     TuRBO's side length (small: the region keeps failing)
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT = (("session5_gp_core.json", "gp"), ("session5_gp_highdim.json", "gp"), ("session7_floor_warped.json", "gp:warp_floor=True"),
           ("session7_camel_floor.json", "gp:warp_floor=True"))
TRUST = ("s9_ackley_trc.json", "s9_ackley_trc_core.json", "s9_ackley_trc_highdim.json", "s9_lead_trc_ackley10_b.json", "s9_lead_trc_ackley20.json")

def _runs(name: str, strategy: str) -> dict[tuple[str, int], dict]:
  return {(r["problem"], r["seed"]): r for r in json.loads((RESULTS / name).read_text())["runs"] if r["strategy"] == strategy and "values" in r}

def table() -> None:
  from benchmarks.functions import PROBLEMS
  from tinybo.bo import default_initial_size
  from tinybo.trust_region import trust_length
  default = {k: v for name, s in DEFAULT for k, v in _runs(name, s).items()}
  trust = {k: v for name in TRUST for k, v in _runs(name, "gp:trust_region=True").items()}
  print("| problem | seed | departs at | best | z_all | z_design | gain | L | regret change |\n|---|---|---|---|---|---|---|---|---|")
  for k in sorted(trust):
    if k not in default: continue
    a, b = np.array(trust[k]["values"]), np.array(default[k]["values"])
    diff = np.nonzero(a[:min(len(a), len(b))] != b[:min(len(a), len(b))])[0]
    if not len(diff): continue
    t, d = int(diff[0]), len(PROBLEMS[k[0]].space.names)
    y = a[:t]
    D = y[:default_initial_size(d)]
    best, mad = y.min(), lambda v: 1.4826 * np.median(np.abs(v - np.median(v)))
    z_all, z_design = (np.median(y) - best) / mad(y), (np.median(D) - best) / mad(D)
    gain = (np.median(D) - best) / (np.median(D) - D.min())
    L = trust_length(-y, default_initial_size(d), d)
    change = trust[k]["regret"] - default[k]["regret"]
    print(f"| {k[0]} | {k[1]} | {t} | {best:.3g} | {z_all:.2f} | {z_design:.1f} | {gain:.2f} | {L:.3g} | {change:+.2f} |")

def probe(problem: str, seed: int, budget: int) -> None:
  import tinybo.bo as bo
  from benchmarks.run import run_one
  from tinybo.gp import GPRegressor
  fit_local, box, fit, state = bo.GP._fit_local, bo.trust_box, GPRegressor.fit, {"on": False, "X": None, "y": None}
  def fit_noted(self, X, y, *args, **kwargs):
    out = fit(self, X, y, *args, **kwargs)
    if state["on"] and self.n_cold == self.n: print(f"  cold fit {self.kernel}: n={self.n} objective {self.objective:.2f}", flush=True)
    return out
  def local_noted(self, space, X, y, *args):
    state["on"] = True
    try: m = fit_local(self, space, X, y, *args)
    finally: state["on"] = False
    g = self._model
    lead = (g.y_train.max() - np.median(g.y_train)) / math.sqrt(g.hyperparameters["noise"])
    print(f"n={len(X)} local kernel {self._local_model.kernel}, rough {m is not None}; global: lead / noise sd {lead:.2f}", flush=True)
    state["X"], state["y"] = X, y
    return m
  def box_noted(center, ls, length, movable):
    lo, hi = box(center, ls, length, movable)
    lo2, hi2 = box(center, ls, 2 * length, movable)
    X = state["X"]
    inside, double = np.all((X >= lo) & (X <= hi), 1).sum(), np.all((X >= lo2) & (X <= hi2), 1).sum()
    print(f"  box L={length:.3g}: {inside} points inside, {double} in the double", flush=True)
    return lo, hi
  bo.GP._fit_local, bo.trust_box, GPRegressor.fit = local_noted, box_noted, fit_noted
  r = run_one(problem, "gp:trust_region=True", seed, budget)
  print(f"best after {budget}: {min(r['values']):.4g}")

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--probe", nargs=3, metavar=("PROBLEM", "SEED", "BUDGET"))
  args = ap.parse_args(argv)
  if args.probe: probe(args.probe[0], int(args.probe[1]), int(args.probe[2]))
  else: table()

if __name__ == "__main__":
  main()
