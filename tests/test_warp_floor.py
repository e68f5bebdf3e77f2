"""GP(warp_floor=True), the default: under the log warp with the design's frozen scale, the GP's noise floor is lowered by
(median distance / scale)², so near-ties of the incumbent stay above the floor; nothing changes where the values are
not warped, float32 goes a decade below its floor at most, and warp_floor=False keeps the fixed floor."""
import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tinygrad import dtypes

from tinybo.bo import GP
from tinybo.gp import LOWEST_NOISE, NOISE_FLOOR, GPRegressor
from tinybo.space import Float, Space
from tinybo.transforms import warp_resolution, warp_values
from tinybo.trial import Trial, TrialState


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=40), st.integers(1, 40))
@example([0.0, 2.5289229907894088e-180, -1.0, -1.0], 1)   # a tiny design scale: the ratio's square overflows a float
def test_warp_resolution_is_the_squared_ratio_of_median_distances(values, n_scale):
  y = np.array(values)
  d = (y.max() - y) / 2                          # the distances below the best, computed here, not by the warp
  s = float(np.median(d[:n_scale]))
  if not s > 0 and (d > 0).any(): s = float(np.median(d[d > 0]))
  if s > 0: s = max(s, float(d.max()) / 1e300, np.finfo(np.float64).tiny)   # warp_scale's contract: a normal float
  r = warp_resolution(warp_values(y, n_scale))
  assert 0 < r <= 1
  if s > 0 and np.median(d) > 0:
    ratio = float(np.median(d)) / s                # can pass 1e154 (a scale of 1e-180): its square overflows a float
    assert r == pytest.approx(1.0 if ratio >= 1 else ratio ** 2, rel=1e-6, abs=1e-300)
  else: assert r == 1.0                          # at least half the values tie the best: nothing to resolve

def test_warp_resolution_of_a_crowded_run_and_of_the_scale_that_follows_the_values():
  rng = np.random.default_rng(0)
  design = -rng.gamma(1.0, 20.0, size=5)
  crowd = design.max() - np.abs(rng.normal(0, 1e-2, size=25))   # later suggestions: near-ties of the incumbent
  y = np.concatenate([design, crowd])
  d = (y.max() - y) / 2
  assert warp_resolution(warp_values(y, 5)) == pytest.approx((np.median(d) / np.median(d[:5])) ** 2, rel=1e-9)
  assert warp_resolution(warp_values(y, 5)) < 1e-4
  assert warp_resolution(warp_values(y)) == pytest.approx(1.0)  # the scale of all values resolves as it is
  assert warp_resolution(np.array([0.0, -np.inf])) == 1.0

def _interpolable(n=20):
  X = np.random.default_rng(1).random((n, 2))
  return X, X[:, 0] + 0.5 * X[:, 1]   # smooth, noise-free and plenty of it: the MAP noise sits at its lower bound

def test_floor_scale_lowers_the_noise_bound_in_float64_only_and_down_to_the_lowest():
  X, y = _interpolable()
  base = GPRegressor("matern52", device="CPU", dtype=dtypes.float64).fit(X, y, seed=0)
  low = GPRegressor("matern52", device="CPU", dtype=dtypes.float64).fit(X, y, seed=0, floor_scale=1e-2)
  assert base.hyperparameters["noise"] == pytest.approx(NOISE_FLOOR[dtypes.float64], rel=1e-3)
  assert low.hyperparameters["noise"] >= 1e-2 * NOISE_FLOOR[dtypes.float64] * (1 - 1e-9)
  assert low.hyperparameters["noise"] < 0.5 * NOISE_FLOOR[dtypes.float64]
  lowest = GPRegressor("matern52", device="CPU", dtype=dtypes.float64).fit(X, y, seed=0, floor_scale=1e-30)
  assert lowest.hyperparameters["noise"] >= LOWEST_NOISE[dtypes.float64] * (1 - 1e-9)
  # the lower floor interpolates more closely: the posterior mean at the data is nearer the data (standardized units)
  err = lambda gp: np.abs(gp._posterior_np(X)[0] - gp.y_train).max()
  assert err(low) < err(base)
  f32 = GPRegressor("matern52", device="CPU", dtype=dtypes.float32).fit(X, y, seed=0, floor_scale=1e-6)
  assert LOWEST_NOISE[dtypes.float32] == pytest.approx(0.1 * NOISE_FLOOR[dtypes.float32])   # float32: a decade, no more
  assert f32.hyperparameters["noise"] >= LOWEST_NOISE[dtypes.float32] * (1 - 1e-5)
  assert f32.hyperparameters["noise"] < 0.5 * NOISE_FLOOR[dtypes.float32]
  assert np.isfinite(f32._posterior_np(X)[0]).all()
  for bad in (0.0, -1.0, 2.0, math.nan):
    with pytest.raises(ValueError, match="floor_scale"): GPRegressor("matern52", device="CPU").fit(X, y, floor_scale=bad)

def _study(f, space, n, strategy):
  trials = []
  for i in range(n):
    p = strategy.suggest(space, trials, 1, seed=3)[0]
    trials.append(Trial(i, p, TrialState.COMPLETE, f(p)))
  return trials

def _camel(p):
  x1, x2 = p["x0"], p["x1"]
  return (4 - 2.1 * x1 ** 2 + x1 ** 4 / 3) * x1 ** 2 + x1 * x2 + (-4 + 4 * x2 ** 2) * x2 ** 2

@pytest.mark.slow
def test_warp_floor_changes_nothing_where_the_values_are_not_warped_and_lowers_the_floor_where_they_are():
  bowl = Space({"x": Float(-1, 1), "y": Float(-1, 1)})
  plain = lambda p: -((p["x"] - 0.3) ** 2 + (p["y"] + 0.2) ** 2)   # to minimize: a long tail of good values, no warp
  a = _study(plain, bowl, 12, GP(warp_floor=False))
  assert GP()._warp_kind(bowl, np.array([t.value for t in a]), True) is None
  b = _study(plain, bowl, 12, GP())
  assert [t.params for t in a] == [t.params for t in b]        # bit for bit
  camel = Space({"x0": Float(-3, 3), "x1": Float(-2, 2)})
  gp = GP()
  assert gp.warp_floor is True
  trials = _study(_camel, camel, 24, gp)
  y = np.array([t.value for t in trials])
  assert gp._warp_kind(camel, y, True) == "log"
  d = (y - y.min()) / 2
  expect = min(1.0, (np.median(d) / np.median(d[:5])) ** 2)      # the design is 5 points for p = 2
  assert gp._floor_scale(camel, gp._targets(camel, y, y, True), y, True) == pytest.approx(expect, rel=1e-9) and expect < 0.1
  assert gp._model.hyperparameters["noise"] >= max(NOISE_FLOOR[dtypes.float64] * expect, LOWEST_NOISE[dtypes.float64]) * (1 - 1e-6)
  off = GP(warp_floor=False)                                       # the opt-out: the same warped values, the fixed floor
  assert off._warp_kind(camel, y, True) == "log" and off._floor_scale(camel, off._targets(camel, y, y, True), y, True) == 1.0
  with pytest.raises(ValueError, match="warp_floor"): GP(warp_floor=1)
