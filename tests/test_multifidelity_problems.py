"""The multi-fidelity benchmark's problems (benchmarks/multifidelity.py): every curve ends at its final value, the declared
optimum is the final value's minimum (scipy from random starts never goes below it), the curves cross (the ranking at an
early step is not the ranking at the end), and the regret trace is read as the benchmark reports it."""
import math

import numpy as np
import pytest
from scipy.optimize import minimize

from benchmarks.multifidelity import PROBLEMS, complete_within, median_steps, regret_at, seeds_of, steps_to_reach


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
  early = np.array([problem.value(p, 3) for p in ps])
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
