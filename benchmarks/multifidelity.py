"""Multi-fidelity benchmark: synthetic learning curves that cross, budgets in total training steps.

A problem is a final value f(x) with a known minimum and a learning curve that reaches it at the last step T:
    value(x, t) = f(x) + A · (1 − t/T)^k(x),
where the convergence speed k(x) grows with a learning-rate-like column: fast configurations look good early and finish
worse than slow ones, so the ranking at an early step is not the ranking at the end (the curves cross). Every curve is
deterministic; a run's regret after s steps is the final value of the best complete trial finished within s steps minus
the minimum (a stopped trial has no final value: nobody deploys a half-trained model).

Methods (each one run per seed; steps = every reported step of every trial):
  gp-full           tinybo GP, every trial run to T (the full-training reference)
  gp-asha           tinybo GP learning from curves (tb.GP(), the default) + tb.ASHA(1, T, 3)
  gp-nocurves-asha  tinybo GP on complete trials only (tb.GP(curves=False)) + tb.ASHA(1, T, 3)
  gp-additive-asha  tb.GP(curves="additive"): the additive curve kernel (gp.GPRegressor structure="additive") + tb.ASHA(1, T, 3)
  gp-shared-asha    benchmarks/shared_trend.py's SharedTrendGP: values detrended by a shared curve shape + tb.ASHA(1, T, 3)
  gp-floor-asha     tinybo GP learning from curves, its noise floor lowered to gp.LOWEST_NOISE (LowFloorGP, below) + tb.ASHA
  gp-additivefloor-asha  both
  gp-model          tinybo GP learning from curves + tb.ModelStopping(1, T, threshold=0.2): its own model stops a curve
  gp-additive-model      tb.GP(curves="additive") + tb.ModelStopping(1, T, threshold=0.2)
  gp-additivefloor-model the same, its noise floor lowered (LowFloorGP, below)
  gp-modelasha      tinybo GP learning from curves + ModelASHA(1, T, 3, threshold=0.2) (below; tried, not in tinybo): ASHA,
                    but a trial the model gives >= 0.2 chance of beating the incumbent continues past its rung
  gp-modelasha50    the same at threshold=0.5 (session 30): differs from gp-keepasha only where the model cannot say yet
  gp-keepasha       tinybo GP learning from curves + tb.ASHA(1, T, 3, keep_chance=0.5): a trial ASHA would stop continues
                    while the model believes it more likely than not to beat the incumbent (session 30)
  gp-additive-keepasha   tb.GP(curves="additive") + tb.ASHA(1, T, 3, keep_chance=0.5)
  random-asha       tinybo random search + tb.ASHA(1, T, 3)
  random-full       tinybo random search, every trial run to T
  optuna-tpe-hyperband  Optuna TPESampler + HyperbandPruner(1, T, 3)          (peers venv)
  optuna-gp-median      Optuna GPSampler + MedianPruner()                      (peers venv, greenlet, torch on one thread)
  ray-asha-random       Ray Tune random search + ASHAScheduler(grace 1, max_t T, rf 3), one trial at a time (benchmarks/ray_asha.py)

    PYTHONPATH=$PWD DEV=CPU python -m benchmarks.multifidelity --methods gp-full,gp-asha --seeds 0-9 --out results/x.json
    python -m benchmarks.multifidelity --summary benchmarks/results/multifidelity_*.json --seeds 0-9
The full-run methods spend `full_trials · T` steps; the others stop at `stop_fraction` of that budget.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


def branin(x0: float, x1: float) -> float:
  a, b, c, r, s, t = 1.0, 5.1 / (4 * math.pi ** 2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
  return a * (x1 - b * x0 ** 2 + c * x0 - r) ** 2 + s * (1 - t) * math.cos(x0) + s

HARTMANN3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
HARTMANN3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]])
HARTMANN3_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
HARTMANN3_MIN = -3.862779787332663   # at (0.114589, 0.555649, 0.852547), benchmarks/README.md

def hartmann3(x: np.ndarray) -> float:
  return float(-np.sum(HARTMANN3_ALPHA * np.exp(-np.sum(HARTMANN3_A * (x - HARTMANN3_P) ** 2, axis=1))))

@dataclass(frozen=True)
class CurveProblem:
  """value(params, step) = final(params) + amplitude · (1 − step/max_step)^speed(params); `optimum` = min of final."""
  name: str
  params: dict[str, tuple[float, float, bool]]   # name -> (low, high, log)
  final: Callable[[dict], float]
  speed: Callable[[dict], float]
  optimum: float
  amplitude: float
  max_step: int = 27
  full_trials: int = 30        # the full-training reference: this many trials run to max_step

  def value(self, p: dict, step: int) -> float:
    return self.final(p) + self.amplitude * (1.0 - step / self.max_step) ** self.speed(p)

  def regret(self, p: dict) -> float: return self.final(p) - self.optimum

  def space(self) -> Any:
    import tinybo as tb
    return tb.Space({k: tb.Float(lo, hi, log=log) for k, (lo, hi, log) in self.params.items()})

def _lr_speed(p: dict) -> float: return math.exp(3.0 * (math.log10(p["lr"]) + 2.0) / 2.0)   # lr 1e-4 .. 1: speed e^-3 .. e^3

# the best lr is 10^-1.2: a faster lr (bigger speed) looks better up to step ~T/3 and finishes worse
PROBLEMS = {
  "curves_branin": CurveProblem(
    "curves_branin", {"x0": (-5.0, 10.0, False), "x1": (0.0, 15.0, False), "lr": (1e-4, 1.0, True)},
    final=lambda p: branin(p["x0"], p["x1"]) / 20 + 0.5 * (math.log10(p["lr"]) + 1.2) ** 2,
    speed=_lr_speed, optimum=5 / (4 * math.pi) / 20, amplitude=1.0),
  "curves_hartmann3": CurveProblem(
    "curves_hartmann3", {"x0": (0.0, 1.0, False), "x1": (0.0, 1.0, False), "x2": (0.0, 1.0, False), "lr": (1e-4, 1.0, True)},
    final=lambda p: hartmann3(np.array([p["x0"], p["x1"], p["x2"]])) + 0.5 * (math.log10(p["lr"]) + 1.2) ** 2,
    speed=_lr_speed, optimum=HARTMANN3_MIN, amplitude=1.0, full_trials=40),
}

# long curves (a report every step of 243, ASHA's rungs 1, 3, ..., 81): the same problems; the curve model then sees
# ~10 thinned reports per curve, and each of many stopped trials shows only its first steps
for _name in ("curves_branin", "curves_hartmann3"):
  PROBLEMS[_name + "_long"] = dataclasses.replace(PROBLEMS[_name], name=_name + "_long", max_step=243)

TINYBO_METHODS = ("gp-model", "gp-additive-model", "gp-additivefloor-model", "gp-modelasha", "gp-modelasha50", "gp-keepasha", "gp-additive-keepasha",
                  "gp-asha", "gp-nocurves-asha", "gp-additive-asha",
                  "gp-shared-asha", "gp-floor-asha", "gp-additivefloor-asha", "random-asha", "gp-full", "random-full")
OPTUNA_METHODS = ("optuna-tpe-hyperband", "optuna-gp-median")
RAY_METHODS = ("ray-asha-random",)

class ModelASHA:
  """ASHA whose rung decisions the strategy's learning-curve model overrules in one direction: a trial that tb.ASHA would
  stop at a rung continues when the model (tb.GP.final_chance, bound by the Optimizer for a rule with uses_model) gives
  its final value at least `threshold` probability of beating the incumbent, or cannot say yet. The hypothesis: where
  curves cross, ASHA's intermediate values favour fast starters and stop slow curves near the optimum. Measured on
  both problems and not kept in tinybo (benchmarks/README.md): no stopped trial would have beaten the run's final
  incumbent, and the trials it rescued were mostly bad ones the model could not yet rule out."""
  uses_model = True

  def __init__(self, min_step: int = 1, max_step: int | None = None, reduction_factor: int = 3, threshold: float = 0.2):
    import tinybo as tb
    self.asha, self.threshold = tb.ASHA(min_step, max_step, reduction_factor), float(threshold)

  def should_stop(self, trial_id: int, step: int, value: float, history: Any) -> bool:
    if not self.asha.should_stop(trial_id, step, value, history): return False
    p = history.chance(trial_id)
    return p is not None and p < self.threshold

def low_floor_gp(curves: str) -> Any:
  """tb.GP whose (configuration, step) fits take the noise floor down to gp.LOWEST_NOISE (floor_scale 1e-4: 1e-6 -> 1e-10
  in float64; suggest fits detrended curves at floor_scale 1). The floor limits how precisely the model can read a final
  value (benchmarks/fidelity_kernel_check.py): its sd is the floor's, ~1e-3 of the values' spread."""
  import tinybo as tb

  class LowFloorGP(tb.GP):
    curve_floor_scale = 1e-4

    def _fit(self, space, X, y, seed, categorical, keep=True, floor_scale=1.0, curves=False):   # noqa: ANN001, ANN202
      return super()._fit(space, X, y, seed, categorical, keep, self.curve_floor_scale if curves else floor_scale, curves)
  return LowFloorGP(curves=curves)

# ***** one run: trials until the step budget is spent; the trace is (steps so far, regret of the best complete trial) *****

def shared_trend_gp() -> Any:
  from benchmarks.shared_trend import SharedTrendGP
  return SharedTrendGP()

def run_tinybo(problem: CurveProblem, method: str, seed: int, budget: int) -> dict:
  import tinybo as tb
  strategy = {"gp": tb.GP, "gp-nocurves": lambda: tb.GP(curves=False), "gp-additive": lambda: tb.GP(curves="additive"),
              "gp-shared": shared_trend_gp,
              "gp-floor": lambda: low_floor_gp("auto"), "gp-additivefloor": lambda: low_floor_gp("additive"),
              "random": tb.Random}[method.rsplit("-", 1)[0]]()
  T = problem.max_step
  stopping = tb.ASHA(min_step=1, max_step=T, reduction_factor=3) if method.endswith("-asha") else None
  if method.endswith("-model"): stopping = tb.ModelStopping(min_step=1, max_step=T, threshold=0.2)
  if method.endswith("-modelasha"): stopping = ModelASHA(min_step=1, max_step=T, reduction_factor=3, threshold=0.2)
  if method.endswith("-modelasha50"): stopping = ModelASHA(min_step=1, max_step=T, reduction_factor=3, threshold=0.5)
  if method.endswith("-keepasha"): stopping = tb.ASHA(min_step=1, max_step=T, reduction_factor=3, keep_chance=0.5)
  return run_loop(problem, strategy, stopping, seed, budget)

def run_loop(problem: CurveProblem, strategy: Any, stopping: Any, seed: int, budget: int) -> dict:
  """One run of `strategy` with the rule `stopping`: trials until `budget` steps are spent (run_tinybo's loop, for a
  screen that builds its own strategy and rule)."""
  import tinybo as tb
  T = problem.max_step
  opt = tb.Optimizer(problem.space(), strategy=strategy, seed=seed, stopping=stopping)
  steps, best, trace, n_stopped, t0, t_report, ran = 0, math.inf, [], 0, time.perf_counter(), 0.0, []
  while steps < budget:
    trial = opt.suggest()
    for t in range(1, T + 1):
      v = problem.value(trial.params, t)
      steps += 1
      t1 = time.perf_counter()
      stop = opt.report(trial, v, t)
      t_report += time.perf_counter() - t1
      if stop and t < T: opt.stop(trial); n_stopped += 1; break
    else:
      opt.observe(trial, v)
      best = min(best, problem.regret(trial.params))
    trace.append([steps, best])
    ran.append([t, problem.regret(trial.params)])   # its last step, and the regret it would have had at T (stopped ones too)
  out = {"trace": trace, "n_trials": len(trace), "n_stopped": n_stopped, "seconds": time.perf_counter() - t0, "report_seconds": t_report,
         "trials": ran}
  if isinstance(strategy, tb.GP) and strategy.curves is not False and n_stopped: out["predicted"] = predicted_finals(problem, opt, seed)
  return out

def predicted_finals(problem: CurveProblem, opt: Any, seed: int) -> list:
  """For every trial of a finished run, in order: [the regret the GP's (configuration, step) model predicts for it at the
  last step, half the width of its ±1 sd interval]. The model is the one suggest fits at the end of the run (the same
  targets: sign flip, the log warp where suggest warps, minus the average curve), fitted cold, and its prediction is
  mapped back to the problem's units: how well the stopped curves determine final(x). [] when the targets are neither
  the raw values nor their log warp (a warp this function cannot invert)."""
  from tinybo.fidelity import at_target, curve_data
  from tinybo.gp import GPRegressor
  from tinybo.transforms import unwarp_values, warp_scale
  space, gp, trials = opt.space, opt.strategy, opt.trials
  cd = curve_data(space, trials, opt.curves)
  yy = gp._targets(space, cd.y, cd.last, True)
  if np.allclose(yy, -cd.y): back = lambda w: w
  else:
    ymax, sc = float(np.max(-cd.y)), warp_scale(-cd.y, gp.initial_size(space))
    back = lambda w: unwarp_values(w, ymax, sc)
    if not np.allclose(back(yy), -cd.y): return []
  z = cd.X[:, -1]
  model = GPRegressor(gp.kernel, structure="additive" if gp.curves == "additive" else "product").fit(
    cd.X, yy - gp._trend(z, yy, cd.ids), seed=seed, floor_scale=getattr(gp, "curve_floor_scale", 1.0))
  mean, var = model.predict(at_target(space.encode_many([t.params for t in trials])))
  mean, sd = mean + gp._trend(z, yy, cd.ids, at=np.zeros(1))[0], np.sqrt(np.maximum(var, 0.0))
  with np.errstate(over="ignore"):   # a far extrapolation through the log warp's inverse: inf, not a warning per run
    lo, mid, hi = -back(mean + sd), -back(mean), -back(mean - sd)   # in the problem's units (to minimize)
  return [[float(m - problem.optimum), float((h - lw) / 2)] for m, lw, h in zip(mid, lo, hi)]

def run_optuna(problem: CurveProblem, method: str, seed: int, budget: int) -> dict:
  import optuna
  optuna.logging.set_verbosity(optuna.logging.ERROR)
  T = problem.max_step
  if method == "optuna-gp-median":
    import greenlet  # noqa: F401  GPSampler silently takes a slower path without it
    import torch
    torch.set_num_threads(1)
    sampler, pruner = optuna.samplers.GPSampler(seed=seed), optuna.pruners.MedianPruner()
  else: sampler, pruner = optuna.samplers.TPESampler(seed=seed), optuna.pruners.HyperbandPruner(min_resource=1, max_resource=T, reduction_factor=3)
  study = optuna.create_study(sampler=sampler, pruner=pruner, direction="minimize")
  dists = {k: optuna.distributions.FloatDistribution(lo, hi, log=log) for k, (lo, hi, log) in problem.params.items()}
  steps, best, trace, n_stopped, t0 = 0, math.inf, [], 0, time.perf_counter()
  while steps < budget:
    trial = study.ask(dists)
    for t in range(1, T + 1):
      v = problem.value(trial.params, t)
      steps += 1
      trial.report(v, t)
      if t < T and trial.should_prune():
        study.tell(trial, state=optuna.trial.TrialState.PRUNED); n_stopped += 1; break
    else:
      study.tell(trial, v)
      best = min(best, problem.regret(trial.params))
    trace.append([steps, best])
  return {"trace": trace, "n_trials": len(trace), "n_stopped": n_stopped, "seconds": time.perf_counter() - t0, "optuna": optuna.__version__}

def run_ray(problem: CurveProblem, method: str, seed: int, budget: int) -> dict:
  from ray import tune

  from benchmarks.ray_asha import run_ray_asha
  T = problem.max_step
  space = {k: (tune.loguniform if log else tune.uniform)(lo, hi) for k, (lo, hi, log) in problem.params.items()}
  return run_ray_asha(space, curve=lambda c: (problem.value(c, t) for t in range(1, T + 1)), score=lambda c, v: problem.regret(c),
                      max_t=T, budget=budget, seed=seed)

RUNNERS = {**dict.fromkeys(TINYBO_METHODS, run_tinybo), **dict.fromkeys(OPTUNA_METHODS, run_optuna), **dict.fromkeys(RAY_METHODS, run_ray)}

def budget_of(problem: CurveProblem, method: str, stop_fraction: float) -> int:
  full = problem.full_trials * problem.max_step
  return full if method.endswith("-full") else int(math.ceil(stop_fraction * full))

def regret_at(trace: list, steps: float) -> float:
  """The regret of the best complete trial among those finished within `steps` (inf before the first)."""
  best = math.inf
  for s, r in trace:
    if s > steps: break
    best = r
  return best

def steps_to_reach(trace: list, target: float) -> float:
  """The steps after which the run's best complete trial has regret <= target (inf if it never does within its run)."""
  return next((s for s, r in trace if r <= target), math.inf)

def complete_within(trace: list, steps: float, max_step: int) -> int:
  """How many trials ran all max_step steps (complete) and finished within `steps`: a trace row per trial, in order."""
  return sum(1 for (s0, _), (s1, _) in zip([[0, math.inf], *trace], trace) if s1 - s0 == max_step and s1 <= steps)

def median_steps(values: list[float]) -> float:
  """The median of steps-to-reach values, where a run that never reached the target counts as infinitely many steps
  (so the median is inf when half the runs or more never reached it)."""
  v = np.sort(np.array(values, dtype=np.float64))
  n = len(v)
  return float(v[n // 2]) if n % 2 else float(0.5 * (v[n // 2 - 1] + v[n // 2]))

REACH_FRACTIONS = (1 / 6, 1 / 3, 1 / 2, 2 / 3, 5 / 6, 1.0)

def reach_table(runs: list[dict], pname: str) -> list[str]:
  """The criterion at every budget: gp-full's median regret after b steps, b a fraction of the full budget, and the median
  over seeds of the steps each method needs to reach it ("-": not reached by half the runs within their budget); and the
  complete trials each method has within a third of the full budget."""
  problem = PROBLEMS[pname]
  full = problem.full_trials * problem.max_step
  budgets = [round(f * full) for f in REACH_FRACTIONS]
  ref = [r for r in runs if r["problem"] == pname and r["method"] == "gp-full"]
  if not ref: return []
  targets = [float(np.median([regret_at(r["trace"], b) for r in ref])) for b in budgets]
  out = [f"\n{pname}: steps to reach gp-full's median regret after b steps (median over seeds; '-': half the runs or more never reach it)",
         "| method | complete trials within 1/3 | " + " | ".join(f"b = {b} ({t:.3g})" for b, t in zip(budgets, targets)) + " |",
         "|---|---|" + "---|" * len(budgets)]
  for m in sorted(dict.fromkeys(r["method"] for r in runs if r["problem"] == pname), key=tuple(RUNNERS).index):
    rs = [r for r in runs if r["problem"] == pname and r["method"] == m]
    nc = [complete_within(r["trace"], full / 3, problem.max_step) for r in rs]
    cols = [median_steps([steps_to_reach(r["trace"], t) for r in rs]) for t in targets]
    out.append(f"| {m} | {int(np.median(nc))} ({min(nc)}-{max(nc)}) | " + " | ".join(f"{c:.0f}" if math.isfinite(c) else "-" for c in cols) + " |")
  return out

def stop_table(runs: list[dict], pname: str, steps: float) -> list[str]:
  """Where the stopping methods' steps went, from the runs that recorded their trials, within `steps`: complete and
  stopped trials, complete ones with regret > 0.1 (a full run on a poor configuration), stopped ones whose final value
  would have beaten the run's best complete one at `steps` (a wrong stop), and how well the model at the end of the run
  predicts the final value of the stopped trials near the optimum (regret < 0.01): median |predicted − true| and
  median posterior sd, against the complete trials' sd."""
  T = PROBLEMS[pname].max_step
  out = [f"\n{pname}: the trials of the first {steps:.0f} steps (medians over runs; wrong stops: total over runs)",
         "| method | runs | complete | stopped (at steps 1 / 3 / 9) | complete with regret > 0.1 | wrong stops | "
         "stopped near the optimum: |error| / sd of the prediction | complete: sd |", "|---|---|---|---|---|---|---|---|"]
  stopping = [r for r in runs if r["problem"] == pname and "trials" in r and not r["method"].endswith("-full")]
  for m in sorted(dict.fromkeys(r["method"] for r in stopping), key=tuple(RUNNERS).index):
    rs = [r for r in stopping if r["method"] == m]
    n_c, n_s, rungs, poor, wrong, err, sd_s, sd_c = [], [], [], [], 0, [], [], []
    for r in rs:
      ends = np.cumsum([t for t, _ in r["trials"]])
      ts = [(t, g, i) for i, ((t, g), e) in enumerate(zip(r["trials"], ends)) if e <= steps]
      best = regret_at(r["trace"], steps)
      n_c.append(sum(t == T for t, _, _ in ts)); n_s.append(sum(t < T for t, _, _ in ts))
      rungs.append([sum(t == k for t, _, _ in ts) for k in (1, 3, 9)])
      poor.append(sum(t == T and g > 0.1 for t, g, _ in ts)); wrong += sum(t < T and g < best for t, g, _ in ts)
      for t, g, i in ts:
        if not r.get("predicted"): break
        pm, psd = r["predicted"][i]
        if t < T and g < 0.01: err.append(abs(pm - g)); sd_s.append(psd)
        if t == T: sd_c.append(psd)
    pred = f"{np.median(err):.2g} / {np.median(sd_s):.2g} ({len(err)} trials)" if err else "-"
    rung = " / ".join(f"{v:.0f}" for v in np.median(np.array(rungs), axis=0))
    out.append(f"| {m} | {len(rs)} | {np.median(n_c):.0f} | {np.median(n_s):.0f} ({rung}) | {np.median(poor):.0f} | {wrong} | {pred} | "
               + (f"{np.median(sd_c):.2g} |" if sd_c else "- |"))
  return out if len(out) > 3 else []

# ***** the summary *****

def stats(values: list[float]) -> str:
  """median / p80 / worst; "-" when a run did not spend that many steps."""
  v = np.array(values)
  if np.isnan(v).any(): return "-"
  return f"{np.median(v):.4g} / {np.quantile(v, 0.8):.4g} / {v.max():.4g}"

def summary(runs: list[dict]) -> str:
  """Per problem and method: median / p80 / worst regret at 1/3, 1/2, 2/3 and all of the full-run budget, and the steps
  each run needed to reach the full-training reference (gp-full's median final regret); then `reach_table` and
  `stop_table`."""
  out, seen = [], set()
  runs = [r for r in runs if not ((k := (r["problem"], r["method"], r["seed"])) in seen or seen.add(k))]   # a run in two files counts once
  for pname in dict.fromkeys(r["problem"] for r in runs):
    problem = PROBLEMS[pname]
    full = problem.full_trials * problem.max_step
    ref = [regret_at(r["trace"], full) for r in runs if r["problem"] == pname and r["method"] == "gp-full"]
    target = float(np.median(ref)) if ref else math.nan
    out.append(f"\n{pname}: full budget {full} steps ({problem.full_trials} trials x {problem.max_step}); gp-full median final regret {target:.4g}")
    out.append("| method | seeds | trials | regret median / p80 / worst at 1/3 budget | at 1/2 | at 2/3 | at full | steps to gp-full's median |")
    out.append("|---|---|---|---|---|---|---|---|")
    order = tuple(RUNNERS)
    for m in sorted(dict.fromkeys(r["method"] for r in runs if r["problem"] == pname), key=order.index):
      rs = [r for r in runs if r["problem"] == pname and r["method"] == m]
      cols = [stats([regret_at(r["trace"], f * full) if r["trace"][-1][0] >= f * full else math.nan for r in rs]) for f in (1 / 3, 1 / 2, 2 / 3, 1.0)]
      reach = float(np.median([next((s for s, g in r["trace"] if g <= target), math.inf) for r in rs]))
      steps = f"{reach:.0f} ({reach / full:.2f} of full)" if math.isfinite(reach) else "not within the budget"
      out.append(f"| {m} | {len(rs)} | {int(np.median([r['n_trials'] for r in rs]))} | " + " | ".join(cols) + f" | {steps} |")
    out += reach_table(runs, pname)
    out += stop_table(runs, pname, full / 3)
  return "\n".join(out)

def seeds_of(s: str) -> list[int]:
  out = []
  for part in s.split(","):
    lo, _, hi = part.partition("-")
    out += list(range(int(lo), int(hi or lo) + 1))
  return out

def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--problems", default=",".join(PROBLEMS))
  ap.add_argument("--methods", default="gp-full,gp-asha,gp-nocurves-asha,random-asha")
  ap.add_argument("--seeds", default="0-9")
  ap.add_argument("--stop-fraction", type=float, default=0.5, help="the stopping methods' budget, a fraction of the full-run budget")
  ap.add_argument("--out", help="JSON file: runs are appended (a run already there, same problem/method/seed, is skipped)")
  ap.add_argument("--summary", nargs="*", help="print the table of these JSON files (the runs of --seeds) and exit")
  a = ap.parse_args()
  if a.summary is not None:
    keep = set(seeds_of(a.seeds))
    print(summary([r for f in a.summary for r in json.loads(Path(f).read_text())["runs"] if r["seed"] in keep]))
    return
  data = json.loads(Path(a.out).read_text()) if a.out and Path(a.out).exists() else {"runs": []}
  data["machine"] = {"python": platform.python_version(), "platform": platform.platform()}
  done = {(r["problem"], r["method"], r["seed"]) for r in data["runs"]}
  methods = a.methods.split(",")
  if bad := [m for m in methods if m not in RUNNERS]: raise SystemExit(f"unknown method {bad[0]!r}; use {tuple(RUNNERS)}")
  for pname in a.problems.split(","):
    problem = PROBLEMS[pname]
    for seed in seeds_of(a.seeds):   # seeds outermost: a run cut short still has every method on its first seeds
      for method in methods:
        if (pname, method, seed) in done: continue
        run = RUNNERS[method](problem, method, seed, budget_of(problem, method, a.stop_fraction))
        data["runs"].append({"problem": pname, "method": method, "seed": seed, **run})
        print(f"{pname} {method} seed {seed}: {run['n_trials']} trials ({run['n_stopped']} stopped), regret {run['trace'][-1][1]:.4g} "
              f"after {run['trace'][-1][0]} steps, {run['seconds']:.0f} s", flush=True)
        if a.out: Path(a.out).write_text(json.dumps(data))
  print(summary(data["runs"]))

if __name__ == "__main__":
  main()
