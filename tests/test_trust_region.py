"""GP(trust_region=True): TuRBO-1's side-length rule replayed over the values, its box, the acquisition optimizer kept
inside a box, and a study whose every other guided suggestion lies in the box around the incumbent."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinybo as tb
from tinybo.gp import GPRegressor, posterior
from tinybo.optim_acqf import optimize_acquisition
from tinybo.space import Categorical, Float, Int, Space
from tinybo.trust_region import LENGTH_INIT, LENGTH_MAX, LENGTH_MIN, failure_tolerance, local_turn, trust_box, trust_length


def turbo_reference(y, n0, d):
  """TuRBO-1's update (Eriksson et al.'s reference code, turbo_1.py `_adjust_length`, for minimization of f = -y),
  written independently: one call per evaluation after the design."""
  length, succ, fail = 0.8, 0, 0
  fail_tol, succ_tol = int(np.ceil(max(4.0, float(d)))), 3
  f = -np.asarray(y, dtype=np.float64)
  for i in range(n0, len(f)):
    f_best = f[:i].min()
    if f[i] < f_best - 1e-3 * abs(f_best): succ, fail = succ + 1, 0
    else: succ, fail = 0, fail + 1
    if succ == succ_tol: length, succ = min(2.0 * length, 1.6), 0
    elif fail == fail_tol: length, fail = length / 2.0, 0
    if length < 0.5 ** 7: length = 0.8   # TuRBO restarts its region here
  return length

@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-100, 100), min_size=1, max_size=60), st.integers(1, 12), st.integers(1, 30))
def test_trust_length_replays_turbos_rule(values, n0, d):
  assert trust_length(np.array(values), n0, d) == pytest.approx(turbo_reference(values, n0, d), rel=1e-12)

def test_trust_length_halves_after_failures_and_doubles_after_successes():
  d = 6
  flat = np.r_[np.zeros(4), -np.ones(3 * failure_tolerance(d))]
  assert trust_length(flat, 4, d) == LENGTH_INIT / 8
  rising = np.r_[np.zeros(4), np.arange(1.0, 7.0)]   # six successes in a row: doubled twice, capped
  assert trust_length(rising, 4, d) == LENGTH_MAX
  assert trust_length(np.zeros(3), 4, d) == LENGTH_INIT    # still in the design
  stuck = np.r_[np.zeros(4), -np.ones(7 * failure_tolerance(d))]
  assert trust_length(stuck, 4, d) == LENGTH_INIT    # below LENGTH_MIN after the 7th halving: a fresh region
  assert LENGTH_INIT / 2 ** 7 < LENGTH_MIN <= LENGTH_INIT / 2 ** 6

@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=3, max_size=3), st.lists(st.floats(1e-3, 10), min_size=3, max_size=3), st.floats(1e-3, 1.6))
def test_trust_box_holds_the_centre_with_sides_in_proportion_to_the_lengthscales(center, ls, length):
  c, ls = np.array(center), np.array(ls)
  movable = np.array([True, True, False])
  lo, hi = trust_box(c, ls, length, movable)
  assert (lo[:2] <= c[:2]).all() and (c[:2] <= hi[:2]).all() and (lo >= 0).all() and (hi <= 1).all()
  assert (lo[2], hi[2]) == (0.0, 1.0)          # a column the ascent does not move keeps the whole range
  w = ls[:2] / np.exp(np.mean(np.log(ls[:2])))   # geometric mean 1 over the movable columns
  unclipped = (c[:2] - length * w / 2 >= 0) & (c[:2] + length * w / 2 <= 1)
  np.testing.assert_allclose((hi - lo)[:2][unclipped], (length * w)[unclipped], rtol=1e-9)

def test_local_turn_alternates_from_the_second_guided_suggestion():
  assert [local_turn(n, 5) for n in range(3, 10)] == [False, False, False, True, False, True, False]

def test_the_acquisition_optimizer_stays_in_the_box():
  rng = np.random.default_rng(0)
  space = Space({"a": Float(0, 1), "b": Float(-2, 2), "k": Int(0, 20), "c": Categorical(["x", "y", "z"])})
  X = space.encode_valid(space.decode_many(space.sample(rng, 20)))
  y = -((X[:, 0] - 0.9) ** 2 + (X[:, 1] - 0.1) ** 2) + X[:, 3]   # a best far from the box
  m = GPRegressor("matern52").fit(X, y, categorical=space.cat_groups, seed=0)
  lo, hi = np.zeros(space.dim), np.ones(space.dim)
  lo[:3], hi[:3] = [0.2, 0.4, 0.3], [0.3, 0.5, 0.6]
  for seed in range(3):
    x, _ = optimize_acquisition(posterior, m.posterior_state(), space, best=float(y.max()), rng=np.random.default_rng(seed),
                                acquisition="ucb", X_observed=X, X_top=X[np.argsort(-y)[:5]], n_raw=128, box=(lo, hi))
    assert (x[:3] >= lo[:3] - 1e-12).all() and (x[:3] <= hi[:3] + 1e-12).all()
    assert space.validate(space.decode(x))   # a valid configuration, its categorical free

def run(strategy, space, f, n, seed=0):
  opt = tb.Optimizer(space, strategy=strategy, seed=seed)
  for _ in range(n):
    t = opt.suggest()
    opt.observe(t, f(t.params))
  return opt

def test_where_the_evidence_keeps_matern52_the_study_is_the_one_without_trust_region():
  space = Space({f"x{i}": Float(-5, 5) for i in range(3)})
  f = lambda p: float(sum((p[k] - 1.3) ** 2 for k in p))   # noqa: E731 - a smooth bowl: Matérn-5/2 explains it best
  gp, off = tb.GP(n_initial=6), tb.GP(n_initial=6, trust_region=False)   # trust_region=True is the default
  a, b = run(gp, space, f, 16), run(off, space, f, 16)
  assert gp._local_model is not None and gp._local_model.kernel == "matern52"   # the local model was fitted, and kept 5/2
  assert off._local_model is None   # trust_region=False fits no local model
  assert [t.value for t in a.trials] == [t.value for t in b.trials]

def test_a_small_discrete_space_scored_whole_fits_no_local_model_and_suggests_what_it_would_without_trust_region(monkeypatch):
  space = Space({"a": Int(0, 24), "b": Int(0, 3)})   # 100 configurations: every suggestion scores all of them
  f = lambda p: float((p["a"] - 17) ** 2 / 40 + abs(p["b"] - 2) + np.sin(p["a"]))   # noqa: E731 - rough along a
  local_fits = []
  monkeypatch.setattr(tb.GP, "_fit_local", lambda self, *a, **k: local_fits.append(a) or None)
  a, b = run(tb.GP(n_initial=5), space, f, 25), run(tb.GP(n_initial=5, trust_region=False), space, f, 25)
  assert local_fits == []   # the box could never be searched: no fit for it
  assert [t.params for t in a.trials] == [t.params for t in b.trials]

def ackley(p):
  x = np.array([p[k] for k in sorted(p)])
  return float(-20 * np.exp(-0.2 * np.sqrt(np.mean(x ** 2))) - np.exp(np.mean(np.cos(2 * np.pi * x))) + 20 + np.e)

@pytest.mark.slow
def test_local_turns_with_a_rougher_kernel_search_the_box_around_the_incumbent():
  space = Space({f"x{i}": Float(-32.768, 32.768) for i in range(2)})
  gp = tb.GP(trust_region=True, n_initial=5)
  opt = tb.Optimizer(space, strategy=gp, seed=1)
  inside, kernels = [], []
  for _ in range(40):
    done = [t for t in opt.trials if t.value is not None]
    t = opt.suggest()
    if len(done) >= 5 and local_turn(len(done), 5):
      local = gp._local_model   # fitted by this suggestion
      kernels.append(local.kernel)
      if local.kernel != "matern52":
        ys = np.array([-u.value for u in done])
        center = space.encode(done[int(np.argmax(ys))].params)
        lo, hi = trust_box(center, np.asarray(local.hyperparameters["lengthscales"]), trust_length(ys, 5, 2), np.ones(2, dtype=bool))
        x = space.encode(t.params)
        inside.append(bool((x >= lo - 1e-9).all() and (x <= hi + 1e-9).all()))
    opt.observe(t, ackley(t.params))
  assert len(inside) >= 3 and all(inside), kernels       # Ackley's ripple: the evidence leaves Matérn-5/2 for the local turns
