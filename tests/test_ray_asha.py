"""The Ray Tune ASHA + random search peer of the multi-fidelity benchmarks (benchmarks/ray_asha.py), against the real Ray:
a run spends its step budget and no more than the trial that crosses it, the trace is monotone and counts every reported
step, a trial ASHA stopped never counts as complete, the same seed gives the same run; the trace built from reported
results checked on a hand-made sequence."""
import math

import pytest

from benchmarks.multifidelity import PROBLEMS, run_ray
from benchmarks.ray_asha import trace_of

ray = pytest.importorskip("ray")

def test_trace_of_counts_every_step_and_only_complete_trials():
  # a: complete (3 of max_t 3), b: stopped at step 1, c: stopped at 2 with the best value so far, d: complete
  results = [("a", 1, 5.0), ("a", 2, 4.0), ("a", 3, 3.0), ("b", 1, 9.0), ("c", 1, 1.0), ("c", 2, 0.5), ("d", 1, 2.0), ("d", 2, 2.0), ("d", 3, 2.5)]
  configs = {"a": {"x": 3.0}, "b": {"x": 9.0}, "c": {"x": 0.0}, "d": {"x": 2.5}}
  run = trace_of(results, configs, max_t=3, score=lambda c, v: c["x"] - v)   # score from both: config and final value
  assert run["trace"] == [[3, 0.0], [4, 0.0], [6, 0.0], [9, 0.0]] and run["n_trials"] == 4 and run["n_stopped"] == 2
  run = trace_of(results, configs, max_t=3, score=lambda c, v: v)
  assert run["trace"] == [[3, 3.0], [4, 3.0], [6, 3.0], [9, 2.5]]   # c's 0.5 is a stopped trial's: never the best
  assert [t["complete"] for t in run["trials"]] == [True, False, False, True] and run["trials"][2]["curve"] == [1.0, 0.5]
  with pytest.raises(RuntimeError, match="concurrently"):
    trace_of(results[:2] + results[3:4] + results[2:3], configs, 3, lambda c, v: v)
  with pytest.raises(RuntimeError, match="not 1, 2"):
    trace_of([("a", 1, 1.0), ("a", 3, 1.0)], configs, 3, lambda c, v: v)

@pytest.fixture(scope="module")
def ray_runs():
  problem = PROBLEMS["curves_branin"]
  runs = [run_ray(problem, "ray-asha-random", seed, budget=90) for seed in (0, 0)]
  yield problem, runs
  ray.shutdown()

@pytest.mark.slow
@pytest.mark.ray
def test_ray_asha_spends_the_budget_and_counts_only_complete_trials(ray_runs):
  problem, runs = ray_runs
  T = problem.max_step
  for run in runs:
    steps = [s for s, _ in run["trace"]]
    bests = [b for _, b in run["trace"]]
    # the budget is spent, and past it only by the rest of the trial that crossed it
    assert steps[-2] < 90 <= steps[-1] <= 90 + T - 1
    assert all(a < b for a, b in zip(steps, steps[1:])) and all(a >= b for a, b in zip(bests, bests[1:]))
    trials = run["trials"]
    assert [len(t["curve"]) for t in trials] == [b - a for a, b in zip([0] + steps, steps)]
    # every curve is the problem's curve at steps 1, 2, ...; complete exactly when it reached T
    for t in trials:
      assert t["curve"] == pytest.approx([problem.value(t["params"], s) for s in range(1, len(t["curve"]) + 1)])
      assert t["complete"] == (len(t["curve"]) == T)
    assert run["n_stopped"] == sum(len(t["curve"]) < T for t in trials) >= 1 and any(t["complete"] for t in trials)
    # the trace's best is the best final regret of the complete trials so far, never a stopped one's
    best = math.inf
    for t, (_, b) in zip(trials, run["trace"]):
      if len(t["curve"]) == T: best = min(best, problem.regret(t["params"]))
      assert b == best
  assert runs[0]["trials"] == runs[1]["trials"]   # one trial at a time: the seed decides the whole run
