"""Ray Tune's ASHA with random search as a multi-fidelity peer: one trial at a time until a budget of total steps is spent.

Tune's default search (BasicVariantGenerator, seeded: random search), ASHAScheduler(time_attr="training_iteration",
max_t, grace_period=1, reduction_factor=3), max_concurrent=1 (so the order of trials is deterministic and every
method spends its steps the same way), reuse_actors=True (one worker process for every trial: its imports and compiled
kernels are paid once). A Stopper counts every reported result; once the budget is reached, the trial that crossed it
runs on until it ends (ASHA stops it or it completes, as the other methods' last trial does), and the next trial's first
result stops the experiment (that result is not counted). The trace is built from the reported results in step order:
(steps so far, score of the best complete trial), one entry per trial; a trial is complete when it reported max_t, never
when ASHA stopped it earlier. Ray's ASHA is its own: a trial continues at a rung when it is at least as good as the
(1 - 1/rf) percentile (interpolated) of the trials recorded there before it, so with an empty rung it always continues.

  from benchmarks.ray_asha import run_ray_asha
  run = run_ray_asha({"x": tune.uniform(0, 1)}, curve=lambda c: (c["x"] / t for t in range(1, 10)), score=lambda c, v: v,
                     max_t=9, budget=30, seed=0)
"""
from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def init_ray() -> None:
  """A local Ray on one CPU (one trial at a time needs no more), no dashboard; a no-op when Ray is up already."""
  import ray
  if not ray.is_initialized():
    ray.init(num_cpus=1, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False, configure_logging=False)

def make_stopper(budget: int) -> Any:
  from ray.tune import Stopper

  class StepBudget(Stopper):
    """Records every reported result; stops the experiment at the first result of a trial started after the budget."""
    def __init__(self, budget: int):
      self.budget, self.steps, self.crossing, self.done = budget, 0, None, False
      self.results: list[tuple[str, int, float]] = []   # (trial_id, training_iteration, value), in the order Tune saw them
      self.configs: dict[str, dict] = {}                   # trial_id -> its config

    def __call__(self, trial_id: str, result: dict) -> bool:
      if self.done or (self.crossing is not None and trial_id != self.crossing):
        self.done = True
        return True
      self.results.append((trial_id, int(result["training_iteration"]), float(result["value"])))
      self.configs.setdefault(trial_id, dict(result["config"]))
      self.steps += 1
      if self.steps >= self.budget and self.crossing is None: self.crossing = trial_id
      return False

    def stop_all(self) -> bool: return self.done

  return StepBudget(budget)

def trace_of(results: list[tuple[str, int, float]], configs: Mapping[str, dict], max_t: int, score: Callable[[dict, float], float]) -> dict:
  """Reported results (one trial at a time) -> the trace (steps so far, best complete trial's score) per trial in order,
  and each trial's config, reported values and whether it is complete (reported max_t)."""
  order = list(dict.fromkeys(tid for tid, _, _ in results))
  if [tid for tid, _, _ in results] != [tid for tid in order for t, _, _ in results if t == tid]:
    raise RuntimeError("trials ran concurrently: run_ray_asha needs one trial at a time")
  steps, best, trace, trials = 0, math.inf, [], []
  for tid in order:
    curve = [(it, v) for t, it, v in results if t == tid]
    if [it for it, _ in curve] != list(range(1, len(curve) + 1)): raise RuntimeError(f"trial {tid}: iterations {curve} are not 1, 2, ...")
    steps += len(curve)
    complete = curve[-1][0] >= max_t
    if complete: best = min(best, score(configs[tid], curve[-1][1]))
    trace.append([steps, best])
    trials.append({"params": configs[tid], "curve": [v for _, v in curve], "complete": complete})
  return {"trace": trace, "n_trials": len(trace), "n_stopped": sum(not t["complete"] for t in trials), "trials": trials}

def run_ray_asha(param_space: Mapping[str, Any], curve: Callable[[dict], Iterable[float]], score: Callable[[dict, float], float], max_t: int,
                 budget: int, seed: int, storage: str | None = None) -> dict:
  """One run of random search + ASHA. param_space: Ray Tune domains (tune.uniform, ...); curve(config) yields the value
  to minimize after each step 1..max_t (it runs in a Ray worker, sent there by cloudpickle); score(config, final value) is what the
  trace records for a complete trial (a regret, a validation error)."""
  # no per-trial result files (the Stopper keeps every result), and Tune creates one pending trial at a time, not hundreds
  os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
  os.environ.setdefault("TUNE_MAX_PENDING_TRIALS_PG", "1")
  import ray
  from ray import tune
  from ray.tune.schedulers import ASHAScheduler
  from ray.tune.search import BasicVariantGenerator
  init_ray()
  logging.getLogger("ray.tune").setLevel(logging.ERROR)   # the result grid warns about the trials the budget never started

  def trainable(config: dict) -> None:
    for v in curve(config): tune.report({"value": float(v)})

  stopper = make_stopper(budget)
  t0 = time.perf_counter()
  with tempfile.TemporaryDirectory(prefix="ray_asha_") as tmp:
    tuner = tune.Tuner(
      trainable, param_space=dict(param_space),
      tune_config=tune.TuneConfig(metric="value", mode="min", num_samples=100_000, reuse_actors=True,
                                  search_alg=BasicVariantGenerator(random_state=seed, max_concurrent=1),
                                  scheduler=ASHAScheduler(time_attr="training_iteration", max_t=max_t, grace_period=1, reduction_factor=3)),
      run_config=tune.RunConfig(storage_path=storage or tmp, name="asha", verbose=0, stop=stopper))
    tuner.fit()
  run = trace_of(stopper.results, stopper.configs, max_t, score)
  return {**run, "seconds": time.perf_counter() - t0, "ray": ray.__version__}
