"""Small discrete spaces: the GP strategy scores every untaken configuration, never falls back to random there, beats
random search on a 100-configuration integer space, exhausts integer, categorical and mixed spaces without a warning,
and a batch on a nearly tried space returns what is left."""
import math
import warnings

import numpy as np
import pytest

import tinybo as tb
from tinybo.bo import GP, GPFallbackWarning
from tinybo.discrete import ENUMERATE_MAX, all_configs, best_untaken, enumerable
from tinybo.gp import GPRegressor, posterior
from tinybo.space import Categorical, Float, Int, Space
from tinybo.strategies import SearchExhausted

INT_SPACE = Space({"a": Int(1, 25), "b": Int(1, 4)})

def branin_on_grid(p: dict) -> float:
  """Branin (three global minima, a ridge) sampled on the 25 x 4 grid: a known minimum by enumeration, no easy bowl."""
  x1, x2 = -5 + 15 * (p["a"] - 1) / 24, 15 * (p["b"] - 1) / 3
  return (x2 - 5.1 / (4 * math.pi ** 2) * x1 ** 2 + 5 / math.pi * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10

F_MIN = min(branin_on_grid({"a": a, "b": b}) for a in range(1, 26) for b in range(1, 5))  # every configuration evaluated

def study_regret(strategy, f, n: int, seed: int) -> float:
  opt = tb.Optimizer(INT_SPACE, strategy=strategy, seed=seed)
  for _ in range(n):
    t = opt.suggest()
    opt.observe(t, f(t.params))
  return opt.best.value - F_MIN

def test_enumerable_only_small_discrete_spaces():
  assert enumerable(INT_SPACE) and len(all_configs(INT_SPACE)) == 100
  assert not enumerable(Space({"a": Int(1, 25), "x": Float(0, 1)}))
  assert enumerable(Space({"a": Int(1, ENUMERATE_MAX)})) and not enumerable(Space({"a": Int(1, ENUMERATE_MAX + 1)}))
  X = all_configs(INT_SPACE)  # every configuration exactly once, each the encoding of a valid configuration
  assert len({INT_SPACE.key(p) for p in INT_SPACE.decode_many(X)}) == 100
  np.testing.assert_array_equal(INT_SPACE.round(X), X)
  cond = Space({"kind": Categorical(["a", "b"]), "n": Int(1, 3, when={"kind": "b"})})  # inactive parameters are absent
  assert sorted(map(str, cond.decode_many(all_configs(cond)))) == sorted(map(str, [{"kind": "a"}] + [{"kind": "b", "n": i} for i in (1, 2, 3)]))

def test_best_untaken_is_the_ucb_maximizer_over_untaken_configurations():
  rng = np.random.default_rng(0)
  X_all = all_configs(INT_SPACE)
  obs = rng.choice(100, 12, replace=False)
  y = -np.array([branin_on_grid(p) for p in INT_SPACE.decode_many(X_all[obs])])
  gp = GPRegressor().fit(X_all[obs], y)
  x, a = best_untaken(posterior, gp.posterior_state(), X_all, X_all[obs], best=float(gp.y_train.max()), acquisition="ucb", beta=2.0)
  # the reference: UCB from predict() in numpy (y units: an increasing affine map of the standardized one, same argmax)
  mean, var = gp.predict(X_all)
  ucb = mean + math.sqrt(2.0) * np.sqrt(var)
  ucb[obs] = -np.inf
  np.testing.assert_array_equal(x, X_all[int(np.argmax(ucb))])
  with pytest.raises(SearchExhausted):
    best_untaken(posterior, gp.posterior_state(), X_all, X_all, best=0.0, acquisition="ucb", beta=2.0)

@pytest.mark.slow
def test_100_configuration_integer_space_no_fallback_and_beats_random():
  gp_regret, random_regret = [], []
  with warnings.catch_warnings():
    warnings.simplefilter("error", GPFallbackWarning)  # a fallback is for real failures only: none here
    for seed in range(10):
      gp_regret.append(study_regret(GP(), branin_on_grid, 40, seed))
      random_regret.append(study_regret("random", branin_on_grid, 40, seed))
  assert min(gp_regret) >= 0 and min(random_regret) >= 0
  assert np.median(gp_regret) < np.median(random_regret), (gp_regret, random_regret)
  assert np.median(gp_regret) == 0.0, gp_regret  # the global minimum itself on most seeds

@pytest.mark.parametrize("space", [
  Space({"c": Categorical(["a", "b", "c", "d", "e"]), "d": Categorical([1, 2, 3, 4]), "e": Categorical([True, False])}),
  Space({"n": Int(1, 6), "act": Categorical(["relu", "gelu", "tanh"]), "bn": Categorical([True, False])}),
], ids=["categorical", "mixed"])
def test_small_spaces_are_exhausted_without_a_fallback(space):
  total = int(space.count())
  f = lambda p: sum(hash(str(v)) % 7 for v in p.values())  # any deterministic value
  opt = tb.Optimizer(space, strategy=GP(n_initial=4), seed=0)
  with warnings.catch_warnings():
    warnings.simplefilter("error", GPFallbackWarning)
    for _ in range(total):
      t = opt.suggest()
      opt.observe(t, f(t.params))
  assert len({space.key(t.params) for t in opt.trials}) == total  # every configuration once
  with pytest.raises(SearchExhausted):
    opt.suggest()

def test_a_batch_on_a_nearly_tried_space_returns_what_is_left():
  space = Space({"a": Int(1, 3), "b": Categorical(["x", "y"])})  # 6 configurations
  opt = tb.Optimizer(space, strategy=GP(n_initial=2), seed=0)
  for t in opt.suggest(2): opt.observe(t, t.params["a"])
  with warnings.catch_warnings():
    warnings.simplefilter("error", GPFallbackWarning)
    left = opt.suggest(10)
  assert len(left) == 4 and len({space.key(t.params) for t in opt.trials}) == 6
  with pytest.raises(SearchExhausted):
    opt.suggest(10)
  fresh = tb.Optimizer(space, strategy=GP(), seed=1)
  assert len(fresh.suggest(10)) == 6  # the design alone: all six

# ***** an integer with more values than 1 / min_distance: another integer is never a repeat *****

def test_repeat_radius_keeps_neighbouring_integers_apart():
  md = 1e-3
  assert Space({"x": Float(0, 1), "n": Int(1, 8), "c": Categorical(["a", "b"])}).repeat_radius(md) == md   # one radius: as before
  assert Space({"n": Int(0, 998)}).repeat_radius(md) == md   # 999 values: neighbours 1/999 apart, never within md
  space = Space({"x": Float(0, 1), "n": Int(0, 100_000), "m": Int(1, 10**6, log=True)})
  r = space.repeat_radius(md)
  assert r[0] == md and r[1] == pytest.approx(0.5 / 100_001) and r[2] < md
  from tinybo.optim_acqf import near_rows
  X = space.encode_many([{"x": 0.5, "n": 31415, "m": 999_999}])
  for other, near in (({"x": 0.5002, "n": 31415, "m": 999_999}, True), ({"x": 0.5, "n": 31416, "m": 999_999}, False),
                      ({"x": 0.5, "n": 31415, "m": 999_998}, False)):
    assert near_rows(space.encode_many([other]), X, r)[0] == near, other

def test_the_gp_refines_an_integer_of_a_hundred_thousand_values_to_its_optimum():
  # min_distance (1e-3 of the unit cube) forbade every integer within 100 of a trial: the study circled 31415 ~100 apart
  opt = tb.Optimizer(Space({"i": Int(0, 100_000)}), strategy=GP(), seed=0)
  with warnings.catch_warnings():
    warnings.simplefilter("error", GPFallbackWarning)
    for _ in range(30):
      t = opt.suggest()
      opt.observe(t, float((t.params["i"] - 31415) ** 2))
  assert opt.best.params["i"] == 31415

# ***** floats with a step: every suggestion on a step, the GP finds a minimum that lies on one *****

def test_a_small_stepped_space_is_scored_whole_and_solved_exactly():
  space = Space({"x": Float(0.0, 1.0, step=0.05), "y": Float(-1.0, 1.0, step=0.1)})   # 21 x 21 configurations
  assert enumerable(space) and len(all_configs(space)) == 441
  f = lambda p: (p["x"] - 0.35) ** 2 + (p["y"] + 0.4) ** 2 + 0.3 * math.sin(7 * p["x"])  # noqa: E731
  f_min = min(f({"x": x, "y": y}) for x in tb.space.all_values(space.params["x"]) for y in tb.space.all_values(space.params["y"]))
  with warnings.catch_warnings():
    warnings.simplefilter("error", GPFallbackWarning)
    for seed in range(3):
      opt = tb.Optimizer(space, strategy=GP(), seed=seed)
      for _ in range(30):
        t = opt.suggest()
        assert space.validate(t.params) == t.params   # on a step already: the values a user writes
        opt.observe(t, f(t.params))
      assert opt.best.value == f_min, (seed, opt.best.params)

def test_the_gp_ascent_keeps_a_wide_stepped_space_on_its_steps():
  # 101 ** 3 configurations: no enumeration, the acquisition ascent rounds each column to its steps
  space = Space({k: Float(0.0, 1.0, step=0.01) for k in "abc"})
  assert not enumerable(space)
  target = {"a": 0.27, "b": 0.63, "c": 0.5}
  opt = tb.Optimizer(space, strategy=GP(), seed=0)
  with warnings.catch_warnings():
    warnings.simplefilter("error", GPFallbackWarning)
    for _ in range(40):
      t = opt.suggest()
      assert space.validate(t.params) == t.params and all(round(v * 100) / 100 == v for v in t.params.values())
      opt.observe(t, sum((t.params[k] - v) ** 2 for k, v in target.items()))
  assert opt.best.value < 2e-3, opt.best.params   # within about a step and a half of the target
  assert len({space.key(t.params) for t in opt.trials}) == 40

def test_grid_and_random_search_take_a_stepped_floats_values():
  p = Float(0.0, 1.0, step=0.25)
  space = Space({"x": p, "c": Categorical(["a", "b"])})
  grid = tb.Optimizer(space, strategy=tb.Grid(points_per_float=10), seed=0)
  assert sorted({t.params["x"] for t in grid.suggest(10)}) == [0.0, 0.25, 0.5, 0.75, 1.0]
  with pytest.raises(SearchExhausted): grid.suggest()
  assert sorted({t.params["x"] for t in tb.Optimizer(space, strategy=tb.Grid(points_per_float=3)).suggest(6)}) == [0.0, 0.5, 1.0]
  rand = tb.Optimizer(Space({"x": Float(0.0, 1.0, step=0.1)}), strategy="random", seed=0)
  assert sorted(t.params["x"] for t in rand.suggest(11)) == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]

def test_an_int_with_a_step_is_searched_on_its_steps():
  space = Space({"batch": Int(16, 512, step=16), "opt": Categorical(["sgd", "adam"])})   # 32 x 2 configurations
  f = lambda p: (math.log2(p["batch"]) - math.log2(144)) ** 2 + (0.5 if p["opt"] == "sgd" else 0.0)  # noqa: E731 - best: 144, adam
  opt = tb.Optimizer(space, strategy=GP(), seed=0)
  with warnings.catch_warnings():
    warnings.simplefilter("error", GPFallbackWarning)
    for _ in range(20):
      t = opt.suggest()
      assert t.params["batch"] % 16 == 0 and space.validate(t.params) == t.params
      opt.observe(t, f(t.params))
  assert opt.best.params == {"batch": 144, "opt": "adam"}
