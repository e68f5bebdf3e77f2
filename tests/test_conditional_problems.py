"""The conditional benchmark problems: each declared optimum is attained at its declared minimizer and is the minimum,
checked by scipy on every branch of the tree (ints relaxed to reals: a lower bound of the discrete problem)."""
import itertools
import math

import numpy as np
import pytest

from benchmarks.conditional_problems import CONDITIONAL_PROBLEMS, get_conditional_problem
from benchmarks.functions import Problem
from tinybo.space import Categorical

scipy_optimize = pytest.importorskip("scipy.optimize")

def b_values_of(space) -> set:
  """The parents that branches fix (never relaxed)."""
  return {q for b in space.branches() for q in b.values}

def ax_jenatton(x1=None, x2=None, x3=None, x4=None, x5=None, x6=None, x7=None, r8=None, r9=None) -> float:
  """The published definition as Ax writes it (absent parameters are None), written out again as the reference."""
  if x1 == 0:
    if x2 == 0: return x4 ** 2 + 0.1 + r8
    return x5 ** 2 + 0.2 + r8
  if x3 == 0: return x6 ** 2 + 0.3 + r9
  return x7 ** 2 + 0.4 + r9

@pytest.mark.parametrize("name", list(CONDITIONAL_PROBLEMS))
def test_declared_minimizers_attain_the_optimum(name):
  prob = get_conditional_problem(name)
  assert isinstance(prob, Problem) and prob.space.conditions
  for m in prob.info["minimizers"]:
    assert prob.space.validate(m) == {k: m[k] for k in prob.space.order if k in m}   # exactly the active parameters
    assert prob(m) == pytest.approx(prob.optimum, abs=1e-12)

@pytest.mark.parametrize("name", list(CONDITIONAL_PROBLEMS))
def test_no_sampled_or_neighbouring_configuration_beats_the_optimum(name):
  prob = get_conditional_problem(name)
  space = prob.space
  values = [prob(p) for p in space.decode_many(space.sample(np.random.default_rng(0), 20000))]
  assert min(values) >= prob.optimum - 1e-12
  for m in prob.info["minimizers"]:
    x = space.encode(m)
    steps = [np.clip(x + d * np.eye(space.dim)[i], 0, 1) for i in range(space.dim) for d in (-1e-3, 1e-3) if space.active_mask(x[None])[0, i]]
    for p in space.decode_many(np.concatenate([space.neighbors(x), space.round(np.array(steps))])):
      assert prob(p) >= prob.optimum - 1e-12, p

@pytest.mark.slow
@pytest.mark.parametrize("name", list(CONDITIONAL_PROBLEMS))
def test_scipy_finds_nothing_below_the_optimum_on_any_branch(name):
  """On each branch, fix the parents to each of their values there and minimize over the other active parameters with
  L-BFGS-B from random starts (log parameters in log space, ints relaxed); the best over branches is the optimum, at the
  declared minimizer."""
  prob = get_conditional_problem(name)
  space, rng = prob.space, np.random.default_rng(1)
  best = (math.inf, None)
  for b in space.branches():
    free = [k for k in space.names if k in b.active and k not in b.values]
    p_ = [space.params[k] for k in free]
    lo = np.array([math.log(p.low) if p.log else p.low for p in p_])
    hi = np.array([math.log(p.high) if p.log else p.high for p in p_])
    for parents in itertools.product(*b.values.values()):
      fixed = dict(zip(b.values, parents))
      def f(z, fixed=fixed, free=free, p_=p_):
        return prob({**fixed, **{k: math.exp(v) if p.log else v for k, p, v in zip(free, p_, z)}, **space.constants})
      for _ in range(3):
        r = scipy_optimize.minimize(f, rng.uniform(lo, hi), method="L-BFGS-B", bounds=list(zip(lo, hi)))
        if r.fun < best[0]: best = (r.fun, {**fixed, **{k: math.exp(v) if p.log else v for k, p, v in zip(free, p_, r.x)}})
  assert best[0] == pytest.approx(prob.optimum, abs=1e-7)
  (m,) = prob.info["minimizers"]
  assert set(best[1]) == set(m)
  for k in m:  # ints were relaxed to reals: they land on the integer minimizer to within the optimizer's tolerance
    exact = isinstance(space.params[k], Categorical) or k in b_values_of(space)
    assert best[1][k] == (m[k] if exact else pytest.approx(m[k], rel=1e-3, abs=1e-3)), (k, best[1][k], m[k])

def test_jenatton_is_the_published_function():
  prob = get_conditional_problem("jenatton")
  ps = prob.space.decode_many(prob.space.sample(np.random.default_rng(2), 2000))
  assert [prob(p) for p in ps] == [ax_jenatton(**p) for p in ps]
  assert {frozenset(b.active) for b in prob.space.branches()} == {frozenset(s.split()) for s in
                                                                   ("x1 x2 x4 r8", "x1 x2 x5 r8", "x1 x3 x6 r9", "x1 x3 x7 r9")}
  assert get_conditional_problem("jenatton_pm1").space.params["x4"].low == -1.0
  with pytest.raises(ValueError, match="unknown conditional problem 'nope'"): get_conditional_problem("nope")

def test_training_recipe_optimum_is_interior_and_away_from_the_fill():
  """The problem that separates the tree from flattening: each active float/int value of the minimizer (the parents
  aside) encodes at least 0.1 from both bounds and from the fill an inactive column holds; branches differ in their
  number of active parameters; every optimizer and every depth is within 0.35 of the optimum at its best."""
  prob = get_conditional_problem("training_recipe")
  space, (m,) = prob.space, prob.info["minimizers"]
  x, mask = space.encode(m), space.active_mask(space.encode(m)[None])[0]
  parents = {q for conds in space.conditions.values() for q in conds}
  for k in m:
    if k in parents or isinstance(space.params[k], Categorical): continue
    c = space.columns[k].start
    assert mask[c] and min(x[c], 1 - x[c], abs(x[c] - space.inactive_fill[c])) >= 0.1, (k, x[c])
  assert len({len(b.active) for b in space.branches()}) >= 3 and len(space.branches()) >= 10
  lr = {"sgd": {"sgd_lr": 0.05, "momentum": 0.75}, "adam": {"adam_lr": 3e-4, "beta1": 0.9}, "rmsprop": {"rmsprop_lr": 3e-3}}
  widths = {1: (512,), 2: (256, 64), 3: (256, 64, 32), 4: (256, 64, 32, 32)}
  for opt, extra in lr.items():
    for depth, ws in widths.items():
      p = space.validate({"optimizer": opt, **extra, "n_layers": depth, **{f"width_{i}": w for i, w in enumerate(ws, 1)}})
      assert prob.optimum <= prob(p) <= 0.35 + 0.1 + 1e-9
