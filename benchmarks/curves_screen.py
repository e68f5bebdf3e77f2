"""Screen of strategies and stopping rules on the synthetic learning curves (benchmarks/multifidelity.py): each variant is
a (tb.GP, stopping rule) pair built by name, run through `multifidelity.run_loop`, so its runs are read as the other
methods' runs are (a run's regret after s steps: the best complete trial within s steps). Runs go to a JSON file in
multifidelity's format (`method` = the variant's name), written after every run; `--table` prints median / p80 / worst
regret at 1/3, 2/3 and all of the full-run budget and the per-seed regret at 1/3.

  python -m benchmarks.curves_screen --variants add-asha,add-model --problems curves_branin --seeds 0-9 --out results/x.json
  python -m benchmarks.curves_screen --table results/x.json benchmarks/results/s9_fid_asha_branin.json --seeds 0-9
"""
from __future__ import annotations

import argparse
import json
import math
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.multifidelity import PROBLEMS, low_floor_gp, regret_at, run_loop, seeds_of, stats


class AshaOrModel:
  """Stop where tb.ASHA stops, and also where the strategy's model gives the trial's final value less than `threshold`
  chance of beating the incumbent (tb.ModelStopping's test), from `from_step` on: ASHA's cheap early cuts, and the
  model's cut of a curve that survives its rungs but cannot win (a complete run far from the optimum costs max_step)."""
  uses_model = True

  def __init__(self, min_step: int, max_step: int, reduction_factor: int = 3, threshold: float = 0.2, from_step: int = 1):
    import tinybo as tb
    self.asha, self.threshold, self.from_step, self.max_step = tb.ASHA(min_step, max_step, reduction_factor), threshold, from_step, max_step

  def should_stop(self, trial_id: int, step: int, value: float, history: Any) -> bool:
    if self.asha.should_stop(trial_id, step, value, history): return True
    if step < self.from_step or step >= self.max_step: return False
    p = history.chance(trial_id)
    return p is not None and p < self.threshold

def predicted_incumbent_gp(curves: str = "additive") -> Any:
  """tb.GP whose final_chance measures a running trial against the best final value the model predicts for any finished
  trial (complete or stopped), not the best complete trial's: while the complete trials are poor (the first ones, the
  initial design's), a curve that only beats them is stopped when a stopped curve is predicted to end better."""
  import math
  import warnings

  import numpy as np

  import tinybo as tb
  from tinybo.bo import GPFallbackWarning, _rows_in_state
  from tinybo.fidelity import at_target, curve_data
  from tinybo.trial import TrialState

  class PredictedIncumbentGP(tb.GP):
    def final_chance(self, space, trials, reports, trial_id, *, seed=0, minimize=True):   # noqa: ANN001, ANN202
      if self.curves is False or not reports or not reports.get(trial_id): return None
      cd = curve_data(space, trials, reports)
      if cd is None or not (mine := cd.ids == trial_id).any(): return None
      done = _rows_in_state(cd, trials, (TrialState.COMPLETE, TrialState.STOPPED))
      try:
        fitted = self._chance_fitted(space, cd, done, seed, minimize)
        if fitted is None: return None
        model = fitted.with_data(cd.X, self._detrended(space, cd, cd.X, cd.y, minimize))
        others = np.unique(cd.X[done & ~mine][:, :-1], axis=0)
        if not len(others): return None
        best = float(np.max(model.predict(at_target(others))[0]))
        mean, var = model.predict(at_target(cd.X[mine][:1, :-1]))
      except Exception as e:  # noqa: BLE001
        warnings.warn(f"final_chance failed ({type(e).__name__}: {e})", GPFallbackWarning, stacklevel=2)
        return None
      sd = math.sqrt(max(float(var[0]), 0.0))
      if sd == 0.0: return float(mean[0] > best)
      return 0.5 * math.erfc((best - float(mean[0])) / (sd * math.sqrt(2)))
  return PredictedIncumbentGP(curves=curves)

def _gp(curves: str = "additive", **kw: Any) -> Callable[[], Any]:
  import tinybo as tb
  return lambda: tb.GP(curves=curves, **kw)

def _asha(rf: int = 3, min_step: int = 1) -> Callable[[int], Any]:
  import tinybo as tb
  return lambda T: tb.ASHA(min_step=min_step, max_step=T, reduction_factor=rf)

def _model(threshold: float = 0.2, min_step: int = 1) -> Callable[[int], Any]:
  import tinybo as tb
  return lambda T: tb.ModelStopping(min_step=min_step, max_step=T, threshold=threshold)

def _asha_or_model(threshold: float = 0.2, from_step: int = 1, rf: int = 3) -> Callable[[int], Any]:
  return lambda T: AshaOrModel(1, T, rf, threshold, from_step)

# name -> (strategy factory, rule factory of max_step)
VARIANTS: dict[str, tuple[Callable[[], Any], Callable[[int], Any]]] = {
  "prod-asha": (_gp("auto"), _asha()),                    # = multifidelity's gp-asha
  "add-asha": (_gp(), _asha()),                           # = gp-additive-asha
  "add-model": (_gp(), _model(0.2)),
  "add-model0.1": (_gp(), _model(0.1)),
  "add-model0.5": (_gp(), _model(0.5)),                   # keep a trial only while it is more likely than not to beat the incumbent
  "add-asha+model": (_gp(), _asha_or_model(0.2)),
  "add-asha+model0.05": (_gp(), _asha_or_model(0.05)),
  "add-asha+model0.1@3": (_gp(), _asha_or_model(0.1, 3)),
  "add-asha-init4": (_gp(n_initial=4), _asha()),
  "add-asha-init3": (_gp(n_initial=3), _asha()),
  "add-asha-rf2": (_gp(), _asha(2)),
  "add-asha-rf4": (_gp(), _asha(4)),
  "add-asha-beta1": (_gp(beta=1.0), _asha()),
  "addfloor-asha": (lambda: low_floor_gp("additive"), _asha()),
  "addfloor-model": (lambda: low_floor_gp("additive"), _model(0.2)),
  "prod-model": (_gp("auto"), _model(0.2)),                # = multifidelity's gp-model
  "add-model-predinc": (predicted_incumbent_gp, _model(0.2)),
}

def run_variant(pname: str, variant: str, seed: int, budget: int) -> dict:
  make_strategy, make_rule = VARIANTS[variant]
  problem = PROBLEMS[pname]
  return run_loop(problem, make_strategy(), make_rule(problem.max_step), seed, budget)

def table(runs: list[dict]) -> str:
  out, seen = [], set()
  runs = [r for r in runs if not ((k := (r["problem"], r["method"], r["seed"])) in seen or seen.add(k))]
  for pname in dict.fromkeys(r["problem"] for r in runs):
    problem = PROBLEMS[pname]
    full = problem.full_trials * problem.max_step
    out.append(f"\n{pname} (full budget {full} steps)\n| method | seeds | at 1/3 | at 2/3 | at full | per seed at 1/3 |\n|---|---|---|---|---|---|")
    for m in dict.fromkeys(r["method"] for r in runs if r["problem"] == pname):
      rs = sorted((r for r in runs if r["problem"] == pname and r["method"] == m), key=lambda r: r["seed"])
      cols = [stats([regret_at(r["trace"], f * full) if r["trace"][-1][0] >= f * full else math.nan for r in rs]) for f in (1 / 3, 2 / 3, 1.0)]
      per = " ".join(f"{regret_at(r['trace'], full / 3):.2g}" for r in rs)
      out.append(f"| {m} | {len(rs)} | " + " | ".join(cols) + f" | {per} |")
  return "\n".join(out)

def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--variants", default="add-asha")
  ap.add_argument("--problems", default="curves_branin")
  ap.add_argument("--seeds", default="0-9")
  ap.add_argument("--stop-fraction", type=float, default=0.34)
  ap.add_argument("--out")
  ap.add_argument("--table", nargs="*")
  a = ap.parse_args()
  keep = set(seeds_of(a.seeds))
  if a.table is not None:
    print(table([r for f in a.table for r in json.loads(Path(f).read_text())["runs"] if r["seed"] in keep]))
    return
  data = json.loads(Path(a.out).read_text()) if a.out and Path(a.out).exists() else {"runs": []}
  data["machine"] = {"python": platform.python_version(), "platform": platform.platform()}
  done = {(r["problem"], r["method"], r["seed"]) for r in data["runs"]}
  variants = a.variants.split(",")
  if bad := [v for v in variants if v not in VARIANTS]: raise SystemExit(f"unknown variant {bad[0]!r}; use {tuple(VARIANTS)}")
  for pname in a.problems.split(","):
    problem = PROBLEMS[pname]
    budget = int(math.ceil(a.stop_fraction * problem.full_trials * problem.max_step))
    for seed in sorted(keep):
      for v in variants:
        if (pname, v, seed) in done: continue
        run = run_variant(pname, v, seed, budget)
        run.pop("predicted", None)
        data["runs"].append({"problem": pname, "method": v, "seed": seed, **run})
        print(f"{pname} {v} seed {seed}: {run['n_trials']} trials ({run['n_stopped']} stopped), regret {run['trace'][-1][1]:.4g} "
              f"after {run['trace'][-1][0]} steps, {run['seconds']:.0f} s", flush=True)
        if a.out: Path(a.out).write_text(json.dumps(data))
  print(table(data["runs"]))

if __name__ == "__main__":
  main()
