"""The GP learning from learning curves (tinybo/fidelity.py and its use in tb.GP): the (configuration, step) data built
from trials and reports, the target step, stopped trials counted and used, and suggestions bit-identical to the plain GP
for studies without reports."""
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinybo as tb
from tinybo.fidelity import at_target, curve_data, fidelity, target_step, thin, trend
from tinybo.gp import GPRegressor
from tinybo.optimizer import takes_reports
from tinybo.trial import Report, Trial, TrialState

SPACE = tb.Space({"x": tb.Float(0.0, 1.0), "n": tb.Int(1, 4)})

def reports(*pairs):
  return [Report(s, float(v), False, 0.0) for s, v in pairs]

def trial(i, x, state, value=None, last_step=None):
  return Trial(i, {"x": x, "n": 2}, TrialState(state), value, last_step=last_step)

# ***** the pure pieces *****

def test_thin_keeps_the_first_report_past_each_power_of_two_and_the_last():
  steps = lambda curve: [r.step for r in thin(curve)]
  assert steps(reports(*[(s, 0) for s in range(1, 28)])) == [1, 2, 4, 8, 16, 27]
  assert steps(reports(*[(s, 0) for s in range(0, 4)])) == [0, 1, 2, 3]
  assert steps(reports((5, 0), (6, 0), (7, 0), (10, 0), (30, 0))) == [5, 10, 30]   # 5 passes 1, 2, 4; 10 passes 8
  assert steps(reports((3, 0))) == [3] and thin([]) == []

@given(st.lists(st.integers(0, 5000), min_size=1, max_size=60, unique=True))
@settings(max_examples=60, deadline=None)
def test_thin_is_a_short_subsequence_with_the_last_report(raw):
  curve = reports(*[(s, s) for s in sorted(raw)])
  kept = thin(curve)
  assert kept[-1] == curve[-1] and all(k in curve for k in kept) and [r.step for r in kept] == sorted(r.step for r in kept)
  assert len(kept) <= math.floor(math.log2(max(curve[-1].step, 1))) + 3   # one per power of two (and step 0) plus the last

def test_fidelity_is_a_log_scale_from_step_zero_to_the_target():
  s = np.array([0, 1, 3, 9, 27])
  np.testing.assert_allclose(fidelity(s, 27), 1 - np.log(s + 1) / np.log(28), rtol=0, atol=1e-15)
  assert fidelity(27, 27) == 0.0 and fidelity(0, 27) == 1.0 and np.all(np.diff(fidelity(s, 27)) < 0)
  assert np.all(fidelity(s, 0) == 0.0)

def test_target_step_is_the_longest_complete_run():
  ts = [trial(0, 0.1, "complete", 1.0), trial(1, 0.2, "stopped", 2.0), trial(2, 0.3, "pending"), trial(3, 0.4, "failed")]
  curves = {0: reports((1, 3), (9, 1)), 1: reports((1, 2), (20, 2)), 2: reports((30, 0)), 3: reports((50, 0))}
  assert target_step(ts, curves) == 9                                     # complete trials decide, whoever ran longer
  assert target_step(ts[1:], curves) == 30                                # none complete: the longest usable curve
  assert target_step(ts, {3: curves[3]}) is None and target_step(ts, {}) is None   # a failed trial's curve is no data
  # a complete trial that never reported ended at a step nobody knows: not at a running trial's last step
  assert target_step(ts, {1: curves[1], 2: curves[2]}) is None and curve_data(SPACE, ts, {1: curves[1], 2: curves[2]}) is None

def test_trend_is_the_least_squares_polynomial():
  rng = np.random.default_rng(0)
  z, y = rng.random(30), rng.random(30)
  np.testing.assert_allclose(trend(z, y), np.polynomial.Polynomial.fit(z, y, 2)(z), atol=1e-12)
  np.testing.assert_allclose(trend(z[:10], y[:10], at=z), np.polynomial.Polynomial.fit(z[:10], y[:10], 2)(z), atol=1e-12)
  np.testing.assert_allclose(trend(np.full(3, 0.5), np.arange(3.0), at=z[:4]), 1.0)   # one distinct z: the mean, at every point
  np.testing.assert_allclose(trend(np.full(4, 0.5), np.arange(4.0)), 1.5)
  np.testing.assert_allclose(trend(np.array([0.0, 1.0, 0.0]), np.array([1.0, 3.0, 2.0])), [1.5, 3.0, 1.5])

# ***** the data *****

def test_curve_data_rows_by_hand():
  ts = [trial(0, 0.1, "complete", 0.5, last_step=8),     # full curve; its own value replaces the report at its last step
        trial(1, 0.3, "stopped", 4.0, last_step=3),       # a partial curve: every thinned report
        trial(2, 0.5, "pending", last_step=2),            # running: its reports are data too
        trial(3, 0.7, "failed", last_step=1),             # failed: no data
        trial(4, 0.9, "complete", 2.0)]                   # a result from elsewhere, no reports: at the target
  curves = {0: reports((1, 9), (2, 7), (3, 6), (4, 5), (8, 0.4)), 1: reports((1, 8), (2, 6), (3, 4)), 2: reports((1, 7), (2, 5)),
            3: reports((1, 1))}
  cd = curve_data(SPACE, ts, curves)
  assert cd.target == 8
  rows = [(0.1, 1, 9), (0.1, 2, 7), (0.1, 4, 5), (0.1, 8, 0.5), (0.3, 1, 8), (0.3, 2, 6), (0.3, 3, 4), (0.5, 1, 7), (0.5, 2, 5), (0.9, 8, 2.0)]
  X = np.array([[*SPACE.encode({"x": x, "n": 2}), 1 - math.log1p(s) / math.log1p(8)] for x, s, _ in rows])
  np.testing.assert_allclose(cd.X, X, atol=1e-15)
  np.testing.assert_array_equal(cd.y, [v for *_, v in rows])
  np.testing.assert_array_equal(cd.final, [s == 8 for _, s, _ in rows])
  np.testing.assert_allclose(cd.configs, SPACE.encode_many([{"x": x, "n": 2} for x in (0.1, 0.3, 0.9)]))
  np.testing.assert_array_equal(cd.last, [0.5, 4, 2.0])
  np.testing.assert_allclose(cd.stopped, SPACE.encode_many([{"x": 0.3, "n": 2}]))
  assert curve_data(SPACE, ts, {}) is None and curve_data(SPACE, ts, {3: curves[3]}) is None

def test_reports_past_the_target_are_left_out_and_a_short_complete_run_ends_where_it_ended():
  ts = [trial(0, 0.1, "complete", 1.0, last_step=4), trial(1, 0.2, "complete", 3.0, last_step=2), trial(2, 0.3, "pending", last_step=9)]
  cd = curve_data(SPACE, ts, {0: reports((2, 2), (4, 1.5)), 1: reports((1, 4), (2, 3.5)), 2: reports((1, 5), (4, 3), (9, 1))})
  steps = np.rint(np.expm1((1 - cd.X[:, -1]) * math.log1p(4))).astype(int)
  assert cd.target == 4 and list(zip(steps, cd.y)) == [(2, 2), (4, 1.0), (1, 4), (2, 3.0), (1, 5), (4, 3)]

def test_at_target_appends_a_zero_step_column():
  X = np.random.default_rng(1).random((3, 2))
  np.testing.assert_array_equal(at_target(X), np.c_[X, np.zeros(3)])

# ***** the GP strategy *****

def curve_value(x, step, T=9):
  return (x - 0.35) ** 2 + (1 - step / T) ** 2   # every curve falls to its final value (x - 0.35)^2 at step T

def run_study(gp, stopped_at=None, n=8, T=9, seed=0):
  """n trials of the curve problem; those listed in stopped_at {index: step} stop there, the others run to T."""
  opt = tb.Optimizer(tb.Space({"x": tb.Float(0.0, 1.0)}), strategy=gp, seed=seed)
  for i in range(n):
    t = opt.suggest()
    for s in range(1, (stopped_at or {}).get(i, T) + 1): opt.report(t, curve_value(t.params["x"], s, T), s)
    if i in (stopped_at or {}): opt.stop(t)
    else: opt.observe(t, curve_value(t.params["x"], T, T))
  return opt

def test_stopped_trials_count_toward_the_initial_design():
  # 5 design points: 3 complete + 2 stopped. The 6th suggestion comes from a fitted model, with or without curves
  for curves in ("auto", False):
    gp = tb.GP(n_initial=5, curves=curves)
    run_study(gp, stopped_at={1: 2, 3: 1}, n=5)
    assert gp._model is None
    opt = run_study(gp := tb.GP(n_initial=5, curves=curves), stopped_at={1: 2, 3: 1}, n=6)
    assert gp._model is not None and len(opt.trials) == 6
    assert gp._model.d == (2 if curves == "auto" else 1)   # with curves the model has the step column

def test_the_prediction_at_the_target_moves_when_a_stopped_curve_is_added():
  # the same complete trials, plus or minus one stopped trial whose partial curve is far better than theirs at the same
  # steps: the GP fitted to the curve data predicts a better final value there (raw values, no strategy transforms)
  space = tb.Space({"x": tb.Float(0.0, 1.0)})
  ts = [Trial(i, {"x": x}, TrialState.COMPLETE, curve_value(x, 9), last_step=9) for i, x in enumerate((0.1, 0.5, 0.9))]
  curves = {i: reports(*[(s, curve_value(t.params["x"], s)) for s in range(1, 10)]) for i, t in enumerate(ts)}
  xs = np.array([[0.3]])
  def predicted(with_stopped):
    tt, cc = list(ts), dict(curves)
    if with_stopped:
      tt.append(Trial(3, {"x": 0.3}, TrialState.STOPPED, -1.0, last_step=2)); cc[3] = reports((1, -0.5), (2, -1.0))
    cd = curve_data(space, tt, cc)
    return GPRegressor().fit(cd.X, cd.y).predict(at_target(xs))[0][0]
  without, with_ = predicted(False), predicted(True)
  assert with_ < without - 0.05   # its final value is predicted lower (better): the partial curve informed the target

def test_suggestions_are_bit_identical_without_reports():
  # a study that never reports: the default GP (curves="auto"), GP(curves=False) and the strategy called without the
  # reports keyword (the protocol before curves) suggest exactly the same points, batches and failures included
  space = tb.Space({"x": tb.Float(-2.0, 2.0), "k": tb.Int(1, 5), "c": tb.Categorical(["a", "b"])})
  f = lambda p: (p["x"] - 0.4) ** 2 + 0.1 * p["k"] + (p["c"] == "b")
  def study(gp, keyword):
    opt = tb.Optimizer(space, strategy=gp, seed=7)
    out = []
    for i in range(12):
      if keyword is None: ts = [opt.enqueue(p) for p in gp.suggest(space, opt.trials, 2 if i % 4 == 3 else 1, seed=7)]
      else: ts = opt.suggest(2) if i % 4 == 3 else [opt.suggest()]
      for t in ts:
        out.append(t.params)
        if i == 5: opt.fail(t)
        else: opt.observe(t, f(t.params))
    return out
  a, b, c = study(tb.GP(), "auto"), study(tb.GP(curves=False), "auto"), study(tb.GP(), None)
  assert a == b == c
  assert len({space.key(p) for p in a}) == len(a) == 15

def test_learning_from_curves_pulls_the_suggestion_to_a_good_partial_curve():
  # complete trials far from the optimum; one stopped trial near it with a much better partial curve. Learning from
  # curves, the GP suggests near the stopped trial; without, it cannot know (its suggestion stays elsewhere)
  space = tb.Space({"x": tb.Float(0.0, 1.0)})
  def study(gp):
    opt = tb.Optimizer(space, strategy=gp, seed=1)
    for x in (0.05, 0.6, 0.8, 0.95):
      t = opt.enqueue({"x": x}); opt.suggest()
      for s in range(1, 10): opt.report(t, curve_value(x, s), s)
      opt.observe(t, curve_value(x, 9))
    t = opt.enqueue({"x": 0.3}); opt.suggest()
    for s in (1, 2, 3): opt.report(t, curve_value(0.3, s) - 0.3, s)
    opt.stop(t)
    with warnings.catch_warnings():
      warnings.simplefilter("error")
      return opt.suggest().params["x"]
  near, blind = study(tb.GP(n_initial=4)), study(tb.GP(n_initial=4, curves=False))
  assert abs(near - 0.3) < 0.12 and abs(near - 0.3) < abs(blind - 0.3)

def test_batches_with_curves_fantasize_at_the_target():
  gp = tb.GP(n_initial=4)
  opt = run_study(gp, stopped_at={2: 1, 4: 3}, n=6)
  pend = opt.suggest()
  opt.report(pend, curve_value(pend.params["x"], 1), 1)   # a running trial with a partial curve
  with warnings.catch_warnings():
    warnings.simplefilter("error")   # no fallback to random: pending and chosen points are lifted to the model's columns
    batch = opt.suggest(3)
  keys = {opt.space.key(t.params) for t in opt.trials}
  assert len(batch) == 3 and len(keys) == len(opt.trials) == 10 and gp._model.d == 2

def test_only_strategies_that_declare_reports_get_them():
  seen = []
  class Plain:
    def suggest(self, space, trials, n, *, seed, minimize): seen.append("plain"); return tb.Random().suggest(space, trials, n, seed=seed)
  class Curious:
    def suggest(self, space, trials, n, *, seed, minimize, reports=None):
      seen.append(dict(reports)); return tb.Random().suggest(space, trials, n, seed=seed)
  assert not takes_reports(Plain()) and takes_reports(Curious()) and takes_reports(tb.GP()) and not takes_reports(tb.Random())
  for strategy in (Plain(), Curious()):
    opt = tb.Optimizer(SPACE, strategy=strategy)
    t = opt.suggest(); opt.report(t, 1.0, 1); opt.report(t, 0.5, 2); opt.stop(t)
    opt.suggest()
  assert seen[:2] == ["plain", "plain"] and seen[2] == {} and [(r.step, r.value) for r in next(iter(seen[3].values()))] == [(1, 1.0), (2, 0.5)]

def test_curves_option_is_checked():
  with pytest.raises(ValueError, match="curves="): tb.GP(curves="yes")
  assert tb.GP(curves=True).curves == "auto" and "curves=False" in repr(tb.GP(curves=False))
