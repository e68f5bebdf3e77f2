"""The multi-fidelity benchmark's problems (benchmarks/multifidelity.py): every curve ends at its final value, the declared
optimum is the final value's minimum (scipy from random starts never goes below it), the curves cross (the ranking at an
early step is not the ranking at the end), and the regret trace is read as the benchmark reports it."""
import math

import numpy as np
import pytest
from scipy.optimize import minimize

import tinybo as tb
from benchmarks.multifidelity import PROBLEMS, ModelASHA, complete_within, median_steps, regret_at, seeds_of, steps_to_reach
from tinybo.stopping import History
from tinybo.trial import TrialState


def random_params(problem, rng, n):
  out = []
  for _ in range(n):
    p = {}
    for k, (lo, hi, log) in problem.params.items():
      p[k] = float(math.exp(rng.uniform(math.log(lo), math.log(hi))) if log else rng.uniform(lo, hi))
    out.append(p)
  return out

@pytest.mark.parametrize("name", list(PROBLEMS))
def test_curves_end_at_the_final_value_and_cross(name):
  problem, rng = PROBLEMS[name], np.random.default_rng(0)
  ps = random_params(problem, rng, 200)
  T = problem.max_step
  assert all(problem.value(p, T) == problem.final(p) for p in ps)
  early = np.array([problem.value(p, T // 9) for p in ps])   # step 3 of 27; 27 of the long problems' 243
  final = np.array([problem.final(p) for p in ps])
  order = lambda v: np.argsort(np.argsort(v))
  disagree = np.mean(np.sign(early[:, None] - early[None]) != np.sign(final[:, None] - final[None]))
  assert 0.02 < disagree < 0.5            # the curves cross for some pairs, but an early step still says something
  assert np.corrcoef(order(early), order(final))[0, 1] > 0.3

@pytest.mark.parametrize("name", list(PROBLEMS))
def test_the_optimum_is_the_minimum_of_the_final_value(name):
  problem, rng = PROBLEMS[name], np.random.default_rng(1)
  keys = list(problem.params)
  lo = np.array([math.log10(problem.params[k][0]) if problem.params[k][2] else problem.params[k][0] for k in keys])
  hi = np.array([math.log10(problem.params[k][1]) if problem.params[k][2] else problem.params[k][1] for k in keys])
  def f(u):
    return problem.final({k: 10 ** v if problem.params[k][2] else v for k, v in zip(keys, u)})
  best = min(minimize(f, rng.uniform(lo, hi), method="L-BFGS-B", bounds=list(zip(lo, hi))).fun for _ in range(30))
  assert best >= problem.optimum - 1e-9 and best - problem.optimum < 1e-6

def test_regret_at_reads_the_trace_at_a_step_budget():
  trace = [[27, 5.0], [30, 5.0], [57, 2.0], [60, 2.0], [87, 0.5]]
  assert regret_at(trace, 26) == math.inf and regret_at(trace, 27) == 5.0 and regret_at(trace, 59) == 2.0 and regret_at(trace, 1e9) == 0.5
  assert seeds_of("0-3,7") == [0, 1, 2, 3, 7]

def test_steps_to_reach_complete_trials_and_the_median_with_runs_that_never_reach():
  # T = 27: trials of 27, 3, 27, 3, 27 steps; the 1st, 3rd and 5th complete
  trace = [[27, 5.0], [30, 5.0], [57, 2.0], [60, 2.0], [87, 0.5]]
  assert steps_to_reach(trace, 5.0) == 27 and steps_to_reach(trace, 2.0) == 57 and steps_to_reach(trace, 0.4) == math.inf
  assert [complete_within(trace, s, 27) for s in (26, 27, 59, 87)] == [0, 1, 2, 3]
  assert median_steps([3.0, 1.0, 2.0]) == 2.0 and median_steps([1.0, 4.0, 2.0, 3.0]) == 2.5
  assert median_steps([1.0, math.inf]) == math.inf and median_steps([1.0, 2.0, math.inf]) == 2.0   # half never reached: inf

# ModelASHA(min_step=1, max_step=27, reduction_factor=3, threshold=0.2): rungs 1, 3, 9, ASHA's verdict at each (top
# max(1, n // 3) of the n trials at the rung continue); where ASHA says stop, the model's chance decides: >= 0.2 or
# None (the model cannot say) continues, < 0.2 stops. The chance is asked only where ASHA says stop.
MODEL_ASHA_SCRIPT = [   # (trial, step, value, the model's chance if asked, verdict)
  ("A", 1, 5.0, None, False), ("A", 3, 4.0, None, False), ("A", 9, 3.0, None, False),   # alone at every rung: never asked
  ("B", 1, 6.0, 0.5, False),    # rung 1: [5, 6], top 1 -> ASHA stops; chance 0.5 -> continues
  ("B", 3, 3.0, None, False),   # rung 3: [4, 3] -> best, not asked
  ("B", 9, 3.5, 0.1, True),     # rung 9: [3, 3.5] -> ASHA stops; chance 0.1 < 0.2 -> stops
  ("C", 1, 7.0, None, False),   # rung 1: [5, 6, 7] -> ASHA stops; the model cannot say -> continues
  ("C", 3, 5.0, 0.2, False),    # rung 3: [4, 3, 5], top 1 -> ASHA stops; chance 0.2 is not below 0.2 -> continues
  ("C", 9, 2.0, None, False),   # rung 9: [3, 3.5, 2] -> best, not asked
  ("D", 1, 8.0, 0.19, True),    # rung 1: n = 4, top 1 (5) -> ASHA stops; 0.19 < 0.2 -> stops
  ("D", 2, 1.0, None, False),   # no new rung at step 2: not judged again (keeping the stop sticky is the storage's job)
]

@pytest.mark.parametrize("minimize", [True, False])
def test_model_asha_hand_example(minimize):
  rule, sign = ModelASHA(min_step=1, max_step=27, reduction_factor=3, threshold=0.2), 1.0 if minimize else -1.0
  ids, curves, asked, out = {"A": 0, "B": 1, "C": 2, "D": 3}, {}, [], []
  names = {i: n for n, i in ids.items()}
  for name, step, value, p, _ in MODEL_ASHA_SCRIPT:
    curves.setdefault(ids[name], []).append(tb.Report(step, sign * value, False, 0.0))
    def chance(i, p=p, step=step):
      asked.append((names[i], step))
      return p
    h = History("s", minimize, dict.fromkeys(curves, TrialState.PENDING), curves, chance)
    out.append(rule.should_stop(ids[name], step, sign * value, h))
  assert out == [e[-1] for e in MODEL_ASHA_SCRIPT]
  assert asked == [("B", 1), ("B", 9), ("C", 1), ("C", 3), ("D", 1)]

@pytest.mark.slow
def test_a_run_records_each_trial_and_the_model_prediction_of_its_final_value():
  from benchmarks.multifidelity import run_tinybo
  problem = PROBLEMS["curves_branin"]
  r = run_tinybo(problem, "gp-asha", 3, 110)
  trials, predicted = np.array(r["trials"]), np.array(r["predicted"])
  assert len(trials) == len(predicted) == r["n_trials"] and np.sum(trials[:, 0] < problem.max_step) == r["n_stopped"]
  assert r["trace"][-1][1] == min(g for s, g in trials if s == problem.max_step)   # the regret is the best complete trial's
  done = trials[:, 0] == problem.max_step
  # a complete trial's final value is data: predicted to within its small sd; a stopped one's only from its curve
  assert np.all(np.abs(predicted[done, 0] - trials[done, 1]) <= 0.01 + 3 * predicted[done, 1])
  assert np.median(predicted[~done, 1]) > 10 * np.median(predicted[done, 1])
