"""Runs that must not get stuck: the value warp keeps the scale of the initial design (monotone, invertible, and it does
not collapse when suggestions crowd the incumbent), suggestions keep a minimum distance from every observed point, a
Branin-like problem whose global minimum lies beside a boundary local minimum is solved, and the power transforms."""
import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from tinybo.bo import GP, GPFallbackWarning
from tinybo.optim_acqf import near_rows, pick_new
from tinybo.space import Categorical, Float, Space
from tinybo.transforms import unwarp_values, warp_scale, warp_values
from tinybo.trial import Trial, TrialState

# ***** the value warp *****

@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6) | st.floats(-1.7e308, 1.7e308) | st.floats(-1e-300, 1e-300), min_size=2, max_size=40),
       st.integers(0, 40))
@example([0.0, 0.0, 2.225073858507203e-309, -1.0], 0)   # a subnormal median distance once overflowed d / s
@example([0.0, -1e-310], 2)                              # every distance subnormal: s must still be a normal float
@example([1.7e308, -1.7e308, 0.0], 3)                    # a spread beyond the largest float
@example([0.0, 9.47693134862316e+307, -1.6999999999999997e+308], 0)   # two distances whose sum overflows (the median's mean)
def test_warp_is_monotone_and_invertible(values, n_scale):
  y = np.array(values)
  s = warp_scale(y, n_scale)
  assert math.isfinite(s) and s >= np.finfo(np.float64).tiny                  # never 0, subnormal or inf
  w = warp_values(y, n_scale)
  assert np.isfinite(w).all() and w.max() == 0.0 and w[np.argmax(y)] == 0.0
  order = np.argsort(y, kind="stable")
  assert (np.diff(w[order]) >= 0).all()                                   # never reorders
  back = unwarp_values(w, float(y.max()), s)
  np.testing.assert_allclose(back / 2, y / 2, rtol=1e-9, atol=1e-9 * (1 + np.ptp(y / 2)))  # the inverse recovers every value
  # strictly monotone wherever the values differ by more than rounding: distinct values stay distinct
  gap = np.diff(y[order]) > 1e-9 * (1 + np.abs(y).max())
  assert (np.diff(w[order])[gap] > 0).all()

def test_warp_scale_comes_from_the_design_and_does_not_collapse():
  rng = np.random.default_rng(0)
  design = -rng.gamma(1.0, 20.0, size=13)             # values to maximize: a long tail of bad values
  best = design.max()
  crowd = best - np.abs(rng.normal(0, 1e-3, size=20))  # later points: near-ties of the incumbent, slightly worse
  y = np.concatenate([design, crowd])
  s = warp_scale(y, 13)
  assert s == pytest.approx(np.median((best - design) / 2))
  # with the design's scale the near-ties stay near-ties (a small fraction of the design's warped spread)...
  w = warp_values(y, 13)
  assert np.ptp(w[13:]) < 1e-3 * np.ptp(w[:13])
  # ...while the median over all values (the old rule) shrinks 1000x and blows them up to a sizeable part of the range
  w_all = warp_values(y)
  assert warp_scale(y) < 1e-3 * s and np.ptp(w_all[13:]) > 0.05 * np.ptp(w_all[:13])

# ***** the minimum distance between suggestions *****

@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 6), st.floats(0.0, 0.3))
def test_near_rows_matches_a_chebyshev_distance_oracle(seed, d, radius):
  rng = np.random.default_rng(seed)
  A, B = rng.random((50, d)), rng.random((int(rng.integers(0, 30)), d))
  expect = (cdist(A, B, "chebyshev") < radius).any(1) if len(B) and radius > 0 else np.zeros(50, dtype=bool)
  assert np.array_equal(near_rows(A, B, radius), expect)

def test_pick_new_skips_points_near_observed_ones_while_a_farther_one_is_left():
  space = Space({"x": Float(0, 1), "y": Float(0, 1)})
  avoid = np.array([[0.5, 0.5], [0.2, 0.9]])
  X = np.array([[0.5004, 0.4999], [0.5, 0.5], [0.2003, 0.9], [0.7, 0.1], [0.9, 0.9]])
  a = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
  rng = np.random.default_rng(0)
  x, v = pick_new(space, rng, X, a, 3, avoid, min_distance=1e-3)
  assert np.array_equal(x, [0.7, 0.1]) and v == 2.0
  x, v = pick_new(space, rng, X, a, 3, avoid, min_distance=0.0)   # 0: only exact repeats are refused
  assert np.array_equal(x, [0.5004, 0.4999]) and v == 5.0
  x, v = pick_new(space, rng, X[:3], a[:3], 3, avoid, min_distance=1e-3)  # nothing scored is far: a new random point
  assert cdist(x[None], avoid, "chebyshev").min() >= 1e-3 and v == -math.inf

@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5), st.floats(1e-4, 0.05))
def test_push_out_moves_near_points_along_the_ray_to_the_minimum_distance(seed, d, radius):
  from tinybo.optim_acqf import push_out
  rng = np.random.default_rng(seed)
  avoid = rng.uniform(0.2, 0.8, size=(8, d))
  X = np.concatenate([avoid[:4] + rng.uniform(-radius, radius, size=(4, d)) * 0.9, rng.random((4, d))])
  out = push_out(X, avoid, radius, np.ones(d), np.zeros(d), np.ones(d))
  dist = cdist(X, avoid, "chebyshev")
  for i in range(len(X)):
    j = int(np.argmin(dist[i]))
    if dist[i, j] >= radius or dist[i, j] == 0: assert np.array_equal(out[i], X[i]); continue
    assert np.abs(out[i] - avoid[j]).max() == pytest.approx(radius, rel=1e-5)             # at the minimum distance
    u, w = X[i] - avoid[j], out[i] - avoid[j]
    np.testing.assert_allclose(w, u * (np.abs(w).max() / np.abs(u).max()), atol=1e-12)   # on the ray through x

# ***** Branin-like: the global minimum beside a boundary local minimum *****

def branin(p: dict) -> float:
  x0, x1 = p["x0"], p["x1"]
  b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
  return (x1 - b * x0 ** 2 + c * x0 - 6) ** 2 + 10 * (1 - t) * math.cos(x0) + 10

BRANIN_MIN = 5 / (4 * math.pi)

@pytest.mark.slow
def test_branin_is_solved_on_every_one_of_ten_seeds_without_near_repeats():
  # Branin's minimum (3π, 2.475) lies 0.04 (unit cube) from the boundary point (10, 3), a local minimum of the edge that
  # held 3 of 10 seeds at regret 1.545 for up to 20 evaluations when the warp's scale collapsed
  space = Space({"x0": Float(-5.0, 10.0), "x1": Float(0.0, 15.0)})
  regrets, near = [], 0
  for seed in range(10):
    gp, trials = GP(seed=seed), []
    with warnings.catch_warnings():
      warnings.simplefilter("error", GPFallbackWarning)
      for i in range(30):
        p = gp.suggest(space, trials, 1, seed=seed)[0]
        trials.append(Trial(i, p, TrialState.COMPLETE, branin(p)))
    regrets.append(min(t.value for t in trials) - BRANIN_MIN)
    X = space.encode_many([t.params for t in trials])
    near += sum(cdist(X[i:i + 1], X[:i], "chebyshev").min() < 1e-3 for i in range(1, len(X)))
  # seed 9 refined the face x0 = 10 for 20 evaluations (the model believed the inside beside it worse) until the
  # inward probe (bo.inward_probe) observed the inside of a face where the study stalled
  assert all(r < 0.02 for r in regrets), regrets
  assert near == 0

def test_the_inward_probe_steps_in_from_the_face_where_the_study_stalled_and_only_there():
  from tinybo.inward import INWARD_STALL, INWARD_STEP, inward_probe
  from tinybo.space import FLOAT, INT
  kinds, none, s = [FLOAT, FLOAT, INT], np.zeros((0, 3)), INWARD_STEP
  inc = np.array([1.0, 0.3, 1.0])
  stalled = np.array([[1.0, 0.3 + k * s / 4, 1.0] for k in range(INWARD_STALL)])   # the last evaluations: along the face x0 = 1
  x = np.array([1.0, 0.35, 0.95])
  np.testing.assert_array_equal(inward_probe(x, inc, kinds, stalled, none), [1 - s, 0.3, 1.0])
  # fewer evaluations than INWARD_STALL, or one of them off the face or far from the best point: no stall, no probe
  assert inward_probe(x, inc, kinds, stalled[1:], none) is None
  for bad in ([0.99, 0.3, 1.0], [1.0, 0.3 + 2.01 * s, 1.0]):
    assert inward_probe(x, inc, kinds, np.vstack([stalled[1:], bad]), none) is None
  low = np.zeros(3)   # both float columns at their lower bound: both step in; the int column never does
  np.testing.assert_array_equal(inward_probe(low, low, kinds, np.zeros((INWARD_STALL, 3)), none), [s, s, 0.0])
  assert inward_probe(np.array([1.0, 0.5, 0.5]), np.array([0.0, 0.3, 1.0]), kinds, stalled, none) is None   # other faces
  assert inward_probe(np.array([0.5, 0.3, 1.0]), inc, kinds, stalled, none) is None   # an int column at its bound is no face
  assert inward_probe(np.array([1.0, 0.3 + 2.01 * s, 1.0]), inc, kinds, stalled, none) is None   # on the face, far: no refinement
  # once a point lies within step / 2 of the probe (the probe itself, or one near it) the face is not probed again
  assert inward_probe(x, inc, kinds, stalled, np.array([[1 - s, 0.3 + 0.49 * s, 1.0]])) is None
  assert inward_probe(x, inc, kinds, stalled, np.array([[1 - s, 0.3 + 0.51 * s, 1.0]])) is not None

def test_the_inward_probe_runs_where_a_study_stalls_on_a_face_and_never_in_a_conditional_space_or_on_noisy_data(monkeypatch):
  import tinybo.bo as bo
  probes: list = []
  inner = bo.inward_probe
  monkeypatch.setattr(bo, "inward_probe", lambda *a, **k: probes.append(r := inner(*a, **k)) or r)
  f = lambda p: float((1 - p["a"]) + 0.3 * (p["b"] - 0.4) ** 2)   # noqa: E731 - the best on the face a = 1
  flat = Space({"a": Float(0.0, 1.0), "b": Float(0.0, 1.0)})
  cond = Space({"a": Float(0.0, 1.0), "b": Float(0.0, 1.0), "opt": Categorical(["x", "y"]),
                "m": Float(0.0, 1.0, when={"opt": "x"})})
  def run(space, **kw):
    gp, trials = GP(seed=0, n_initial=5, **kw), []
    with warnings.catch_warnings():
      warnings.simplefilter("error", GPFallbackWarning)
      for i in range(16):
        p = gp.suggest(space, trials, 1, seed=0)[0]
        trials.append(Trial(i, p, TrialState.COMPLETE, f(p)))
    return trials
  trials = run(flat)
  assert any(r is not None for r in probes)   # it stalled on a = 1 and observed the inside once
  assert sum(abs(t.params["a"] - (1 - 0.05)) < 1e-12 for t in trials) >= 1
  probes.clear()
  for conditional in ("tree", "flatten"):   # an inactive column's bound means nothing: never asked
    run(cond, conditional=conditional)
  assert probes == []
  # data that test noisy (a noise variance given: always): the best point is partly a lucky draw, never asked
  run(flat, noise=1e-4)
  assert probes == []

# ***** the power transform (Box-Cox / Yeo-Johnson with a maximum-likelihood λ, as HEBO) *****

@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-50, 50), min_size=2, max_size=30), st.floats(-3, 3))
def test_power_transforms_match_scipy_and_are_monotone_and_invertible(values, lam):
  from scipy.stats import boxcox, yeojohnson

  from tinybo.transforms import box_cox, inv_box_cox, inv_yeo_johnson, yeo_johnson
  x = np.sort(np.array(values))
  t = yeo_johnson(x, lam)
  np.testing.assert_allclose(t, yeojohnson(x, lmbda=lam), rtol=1e-9, atol=1e-12)
  assert (np.diff(t) >= 0).all()
  np.testing.assert_allclose(inv_yeo_johnson(t, lam), x, rtol=1e-8, atol=1e-8)
  xp = np.exp(x / 25)                                  # positive values for Box-Cox
  tp = box_cox(xp, lam)
  np.testing.assert_allclose(tp, boxcox(xp, lmbda=lam), rtol=1e-9, atol=1e-12)
  assert (np.diff(tp) >= 0).all()
  np.testing.assert_allclose(inv_box_cox(tp, lam), xp, rtol=1e-8)

def test_power_lambda_is_scipys_maximum_likelihood_to_the_grid():
  from scipy.stats import boxcox_normmax, yeojohnson_normmax

  from tinybo.transforms import power_lambda
  rng = np.random.default_rng(3)
  for x in (rng.gamma(1.0, 2.0, 40) + 0.1, rng.lognormal(0, 1, 60), 1 + rng.random(30) ** 3):
    assert abs(power_lambda(x, "box-cox") - np.clip(boxcox_normmax(x, method="mle"), -3, 3)) <= 0.026
  for x in (rng.normal(0, 1, 50) ** 3, rng.standard_t(2, 40), -rng.gamma(1.0, 2.0, 40)):
    assert abs(power_lambda(x, "yeo-johnson") - np.clip(yeojohnson_normmax(x), -3, 3)) <= 0.026

@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=3, max_size=40))
def test_power_values_keep_the_order(values):
  from tinybo.transforms import power_values
  y = np.array(values)
  w = power_values(y)
  assert np.isfinite(w).all()
  order = np.argsort(y, kind="stable")
  assert (np.diff(w[order]) >= -1e-12 * (1 + np.abs(w).max())).all()

# ***** the size of the initial design *****

@pytest.mark.parametrize("p, size", [(1, 5), (2, 5), (3, 7), (4, 9), (5, 10), (6, 10), (9, 10), (10, 11), (20, 21), (25, 26), (100, 101)])
def test_default_initial_size_is_2p_plus_1_capped_at_optunas_10_or_hebos_p_plus_1(p, size):
  from tinybo.bo import default_initial_size
  assert default_initial_size(p) == size
  space = Space({f"x{i}": Float(0, 1) for i in range(p)})
  assert GP().initial_size(space) == size and GP(n_initial=3).initial_size(space) == 3

@pytest.mark.parametrize("p", [2, 6, 9, 12])
def test_a_conditional_space_keeps_the_uncapped_2p_plus_1_design(p):
  # the design must reach every branch: a conditional space is not capped (the cap was measured on plain spaces only)
  from tinybo.bo import default_initial_size
  names = {"opt": Categorical(["a", "b"])} | {f"x{i}": Float(0, 1, when={"opt": "a"} if i % 2 else None) for i in range(p - 1)}
  space = Space(names)
  assert default_initial_size(p, conditional=True) == 2 * p + 1 == GP().initial_size(space)

def test_power_values_never_merge_distinct_values():
  # a loss far from 0 against its spread (1e4 + [0, 1]): the rounding chose λ = -2.65, and 20 distinct values became 2
  from tinybo.transforms import power_values
  rng = np.random.default_rng(0)
  for offset, spread in ((1e4, 1.0), (100.0, 1e-3), (0.0, 1.0)):
    y = -(offset + spread * rng.random(20))
    w = power_values(y)
    assert len(np.unique(w)) == 20 and (np.argsort(w, kind="stable") == np.argsort(y, kind="stable")).all(), (offset, spread)

# ***** a far-off bad value after the design (a diverged training run) *****

@given(st.lists(st.floats(-1e6, 1e6), min_size=0, max_size=12), st.lists(st.floats(-1e300, 1e6), min_size=0, max_size=30),
       st.floats(0.5, 100))
@example([0.0, 5e-324], [-1.0], 1.0)   # a subnormal range: halved first, it was 0 and nothing was flagged
@settings(max_examples=300, deadline=None)
def test_far_below_flags_exactly_the_values_past_the_bound_and_never_the_design(design, later, ranges):
  from tinybo.transforms import far_below
  y = np.asarray(design + later, dtype=np.float64)
  mask = far_below(y, len(design), ranges)
  assert mask.dtype == bool and len(mask) == len(y) and not mask[:len(design)].any()
  if len(design) < 2 or np.ptp(design) == 0: assert not mask.any(); return
  bound = min(design) - ranges * np.ptp(design)
  assert np.array_equal(mask[len(design):], np.asarray(later) < bound)

def test_a_diverged_value_after_the_design_does_not_derail_the_gp():
  # 12 trials of a quadratic bowl (values 0-0.6), then one diverged run (1e6, or 10) in a far corner: the next suggestions
  # keep refining the minimum as they do without it (they scattered into the corners: the one value set the spread)
  import tinybo as tb
  space = tb.Space({"x": tb.Float(0.0, 1.0), "y": tb.Float(0.0, 1.0)})
  def f(p): return (p["x"] - 0.35) ** 2 + (p["y"] - 0.6) ** 2
  for bad in (10.0, 1e6):
    opt = tb.Optimizer(space, strategy=tb.GP(), seed=0)
    with warnings.catch_warnings():
      warnings.simplefilter("ignore")
      for _ in range(12):
        t = opt.suggest(); opt.observe(t, f(t.params))
      opt.observe({"x": 0.95, "y": 0.05}, bad)
      near, seen = 0, {(0.95, 0.05)}
      for _ in range(6):
        t = opt.suggest(); opt.observe(t, f(t.params))
        near += f(t.params) < 1e-3
        assert (t.params["x"], t.params["y"]) not in seen   # the outlier's configuration is never suggested again
        seen.add((t.params["x"], t.params["y"]))
    assert near >= 4, bad
    assert opt.strategy.last_fallback is None

def test_recommend_ignores_a_diverged_value():
  # the model recommend() fits leaves the outlier out: the same recommendation as without that trial, never the outlier
  import tinybo as tb
  rng = np.random.default_rng(3)
  space = tb.Space({"x": tb.Float(0.0, 1.0)})
  trials = [Trial(i, {"x": float(x)}, TrialState.COMPLETE, float((x - 0.3) ** 2 + 0.05 * rng.standard_normal()))
            for i, x in enumerate(rng.uniform(size=25))]
  bad = Trial(25, {"x": 0.97}, TrialState.COMPLETE, 1e6)
  gp = tb.GP()
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    assert gp.recommend(space, [*trials, bad]) == tb.GP().recommend(space, trials) != 25

def test_the_design_is_the_trials_suggest_drew_from_it_with_parallel_workers():
  # n0 = 5. A failed trial frees its design slot for the trials created after it failed (sequential: the next trial is
  # a design point again), not for those created before (parallel: they were guided)
  from tinybo.bo import _design_trials
  def trials(fail_at: float | None) -> list:
    out = [Trial(i, {"x": 0.1 * i}, TrialState.COMPLETE, 1.0, created=float(i)) for i in range(8)]
    out[2] = Trial(2, {"x": 0.2}, TrialState.FAILED, created=2.0, finished=fail_at)
    return out
  assert _design_trials(trials(2.5), 5) == [0, 1, 3, 4, 5]   # failed before trial 5 was created: 5 took its place
  assert _design_trials(trials(None), 5) == [0, 1, 3, 4, 5]   # no finish time: as in a sequential study
  # failed after 5 was created (5 was guided) and before 6, which finds five slots held (0, 1, 3, 4 and 5): guided too
  assert _design_trials(trials(5.5), 5) == [0, 1, 3, 4]
  assert _design_trials(trials(99.0), 5) == [0, 1, 3, 4]
  assert _design_trials(trials(99.0)[:3], 5) == [0, 1]

def test_a_diverged_guided_run_that_finished_before_a_design_trial_crashed_is_an_outlier():
  # parallel workers: design trial 3 runs while guided trial 5 diverges (1e6) and finishes; trial 3 then crashes. Trial
  # 5 took part in the design's range (the first five complete values), so it was never flagged and the GP fitted it
  import tinybo as tb
  space = tb.Space({"x": tb.Float(0.0, 1.0), "y": tb.Float(0.0, 1.0)})
  def f(x, y): return (x - 0.35) ** 2 + (y - 0.6) ** 2
  pts = np.random.default_rng(0).uniform(size=(12, 2))
  trials = [Trial(i, {"x": float(a), "y": float(b)}, TrialState.COMPLETE, f(a, b), created=float(i)) for i, (a, b) in enumerate(pts)]
  trials[5] = Trial(5, {"x": 0.95, "y": 0.05}, TrialState.COMPLETE, 1e6, created=5.0)
  running = list(trials)
  running[3] = Trial(3, trials[3].params, TrialState.PENDING, created=3.0)
  trials[3] = Trial(3, trials[3].params, TrialState.FAILED, created=3.0, finished=100.0)
  as_failed = list(trials)
  as_failed[5] = Trial(5, {"x": 0.95, "y": 0.05}, TrialState.FAILED, created=5.0)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    assert tb.GP().suggest(space, trials, 3) == tb.GP().suggest(space, as_failed, 3)
    assert tb.GP().recommend(space, trials) == tb.GP().recommend(space, as_failed)
  # while a design trial runs, the design is not yet a sample of the objective: nothing is flagged
  assert all(m is t for m, t in zip(tb.GP()._outliers_failed(space, running, None, True), running))

def test_recommend_continues_the_studys_fit_with_an_outlier_in_it():
  # recommend() warm-starts from the study's kept fit when the study is the one suggest saw; an outlier, left out of
  # recommend's rows but in suggest's lineage, made every such study look like another one: a cold fit each time
  import tinybo as tb
  space = tb.Space({"x": tb.Float(0.0, 1.0), "y": tb.Float(0.0, 1.0)})
  def f(p): return (p["x"] - 0.35) ** 2 + (p["y"] - 0.6) ** 2
  for bad in (None, 1e6):
    opt = tb.Optimizer(space, strategy=tb.GP(), seed=0)
    with warnings.catch_warnings():
      warnings.simplefilter("ignore")
      for _ in range(9):
        t = opt.suggest(); opt.observe(t, f(t.params))
      if bad is not None: opt.observe({"x": 0.95, "y": 0.05}, bad)
      for _ in range(3):
        t = opt.suggest(); opt.observe(t, f(t.params))
      gp, warm, fit = opt.strategy, [], opt.strategy._fit_kernels
      gp._fit_kernels = lambda *a, w=warm, fit=fit, **k: (w.append(a[4] is not None), fit(*a, **k))[1]
      assert opt.recommend() is not None and opt.recommend().value != bad
    assert warm and all(warm), bad
