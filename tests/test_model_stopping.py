"""tb.ModelStopping: the GP strategy's own learning-curve model stops a trial whose final value is unlikely to beat the
incumbent. The probability (tb.GP.final_chance) against a numpy posterior from the same kernel and hyperparameters; a
clearly hopeless curve stops and a clearly winning one continues; bad arguments; through report()/stop(), optimize() and a
resumed SQLite study (a fresh process reaches the same verdicts)."""
import math
import warnings

import curve_scripts
import numpy as np
import pytest
from curve_scripts import play_enqueued, reporting_objective

import tinybo as tb
from tinybo.bo import GPFallbackWarning
from tinybo.fidelity import curve_data
from tinybo.stopping import History
from tinybo.transforms import YTransform
from tinybo.trial import TrialState

SPACE = tb.Space({"x": tb.Float(0.0, 1.0)})
T = 9

def curve_value(x, step):
  """Curves that cross: the final value (x - 0.35)^2 at step T, reached fast for large x (they look good early)."""
  return (x - 0.35) ** 2 + 0.5 * (1 - step / T) ** (0.5 + 4 * x)

def finished_study(xs, stopping=None):
  """One complete trial of curve_value, run to T, per x; then an Optimizer with the rule `stopping` on that study."""
  return curve_scripts.finished_study(xs, curve_value, T, stopping)

XS = [0.05, 0.2, 0.5, 0.7, 0.9]

def numpy_chance(model, X, y, x_query, best):
  """P(f(x_query, z=0) > best) from a Matérn-5/2 GP written out in numpy, with the model's hyperparameters and its
  standardization of y (the GP's units: larger is better)."""
  hp, (mu, sc) = model.hyperparameters, model.transform.affine
  ls, sf2, sn2 = np.asarray(hp["lengthscales"]), hp["outputscale"], hp["noise"] + model.jitter
  def k(A, B):
    r = np.sqrt((((A[:, None, :] - B[None, :, :]) / ls) ** 2).sum(-1))
    return sf2 * (1 + math.sqrt(5) * r + 5 / 3 * r ** 2) * np.exp(-math.sqrt(5) * r)
  ys = (y - mu) / sc
  K = k(X, X) + sn2 * np.eye(len(X))
  kq = k(x_query, X)[0]
  mean = mu + sc * kq @ np.linalg.solve(K, ys)
  var = sc ** 2 * (sf2 - kq @ np.linalg.solve(K, kq))
  return 0.5 * math.erfc((best - mean) / math.sqrt(2 * var))

def test_final_chance_is_the_numpy_posterior_probability():
  opt = finished_study(XS)
  t = opt.suggest()
  for s in (1, 2, 3): opt.report(t, curve_value(t.params["x"], s), s)
  gp, trials, curves = opt.strategy, opt.trials, opt.curves
  p = gp.final_chance(SPACE, trials, curves, t.id, seed=opt.seed, minimize=True)
  # independently: the values to maximize less the finished curves' quadratic trend, the same data rows, the fitted
  # hyperparameters, standardized as the finished rows were (the running trial's reports move neither)
  cd = curve_data(SPACE, trials, curves)
  z, done = cd.X[:, -1], cd.ids != t.id
  yy = -cd.y - np.polyval(np.polyfit(z[done], -cd.y[done], 2), z)
  best = max(yy[i] for i in range(len(yy)) if cd.final[i])   # the best complete trial's final value, detrended
  model = gp.chance_model(SPACE, trials, curves, seed=opt.seed)
  x_query = np.array([[t.params["x"], 0.0]])
  ref_model = type("M", (), {"hyperparameters": model.hyperparameters, "transform": YTransform.fit(yy[done])[0], "jitter": model.jitter})
  assert p == pytest.approx(numpy_chance(ref_model, cd.X, yy, x_query, best), abs=1e-6)
  assert 0.0 < p < 1.0

def np_matern52(A, B, ls):
  r = np.sqrt((((A[:, None, :] - B[None, :, :]) / ls) ** 2).sum(-1))
  return (1 + math.sqrt(5) * r + 5 / 3 * r ** 2) * np.exp(-math.sqrt(5) * r)

def test_final_chance_with_the_additive_curve_kernel_is_the_numpy_posterior_probability():
  """curves="additive": the probability is the posterior of σ_f² k(x, x') + z z' σ_g² k((x, z), (x', z')) at z = 0,
  where only the asymptote's kernel is left (the gap vanishes at the target step), written out in numpy."""
  storage = tb.InMemoryStorage()
  opt = tb.Optimizer(SPACE, strategy=tb.GP(warp=False, curves="additive"), storage=storage)
  for x in XS:
    opt.enqueue({"x": x})
    t = opt.suggest()
    for s in range(1, T + 1): opt.report(t, curve_value(x, s), s)
    opt.observe(t, curve_value(x, T))
  opt.enqueue({"x": 0.3})
  t = opt.suggest()
  for s in (1, 2, 3): opt.report(t, curve_value(0.3, s), s)
  gp, trials, curves = opt.strategy, opt.trials, opt.curves
  p = gp.final_chance(SPACE, trials, curves, t.id, seed=opt.seed, minimize=True)
  cd = curve_data(SPACE, trials, curves)
  z, done = cd.X[:, -1], cd.ids != t.id
  yy = -cd.y - np.polyval(np.polyfit(z[done], -cd.y[done], 2), z)
  best = max(yy[i] for i in range(len(yy)) if cd.final[i])
  model = gp.chance_model(SPACE, trials, curves, seed=opt.seed)
  hp, (mu, sc) = model.hyperparameters, YTransform.fit(yy[done])[0].affine
  assert model.structure == "additive"
  lf, lg, sf2, sg2 = hp["lengthscales"][:-1], hp["gap_lengthscales"], hp["outputscale"], hp["gap_outputscale"]
  K = sf2 * np_matern52(cd.X[:, :-1], cd.X[:, :-1], lf) + np.outer(z, z) * sg2 * np_matern52(cd.X, cd.X, lg)
  K += (hp["noise"] + model.jitter) * np.eye(len(z))
  kq = sf2 * np_matern52(np.array([[0.3]]), cd.X[:, :-1], lf)[0]
  mean = mu + sc * kq @ np.linalg.solve(K, (yy - mu) / sc)
  var = sc ** 2 * (sf2 - kq @ np.linalg.solve(K, kq))
  assert p == pytest.approx(0.5 * math.erfc((best - mean) / math.sqrt(2 * var)), abs=1e-6)
  assert 0.0 < p < 1.0

def test_a_hopeless_curve_stops_and_a_winning_one_continues():
  opt = finished_study(XS, stopping=tb.ModelStopping(min_step=2, max_step=T, threshold=0.05))
  # between two trials that finished far worse than the best, a curve far above every other (3.0: the others start
  # below 1): hopeless
  opt.enqueue({"x": 0.8})
  bad = opt.suggest()
  verdicts = [opt.report(bad, 3.0, s) for s in (1, 2, 3)]
  assert verdicts == [False, True, True]   # step 1 is below min_step; stopped at step 2, and the verdict sticks
  assert opt.stop(bad).state == TrialState.STOPPED
  # the best configuration's own curve: never stopped, completes
  opt.enqueue({"x": 0.35})
  good = opt.suggest()
  assert not any(opt.report(good, curve_value(0.35, s), s) for s in range(1, T + 1))
  assert opt.observe(good, curve_value(0.35, T)).state == TrialState.COMPLETE
  p_good = opt.strategy.final_chance(SPACE, opt.trials, opt.curves, good.id, seed=opt.seed)
  p_bad = opt.strategy.final_chance(SPACE, opt.trials, opt.curves, bad.id, seed=opt.seed)
  assert p_bad < 0.05 < p_good

def test_nothing_stops_before_two_finished_curves_nor_at_max_step():
  rule = tb.ModelStopping(min_step=1, max_step=T, threshold=0.5)
  opt = finished_study([0.1], stopping=rule)   # one finished curve: the model does not judge yet
  t = opt.suggest()
  assert not any(opt.report(t, 5.0, s) for s in range(1, T + 1))
  opt.observe(t, 5.0)
  t = opt.suggest()
  assert opt.report(t, 5.0, 1)   # now two finished curves: judged
  assert opt.strategy.final_chance(SPACE, opt.trials, opt.curves, t.id) < 0.5
  # at or past max_step it never stops, however bad
  assert not rule.should_stop(t.id, T, 5.0, History("study", True, {t.id: TrialState.PENDING}, opt.curves, lambda i: 0.0))

def test_results_observed_without_reports_never_judge_a_curve_against_its_early_steps():
  # earlier full runs recorded as results only (observe(params, value)): their step is unknown, so the model has no
  # target to read a running curve at; the best configuration's curve, high early, is never stopped
  opt = tb.Optimizer(SPACE, strategy=tb.GP(warp=False), stopping=tb.ModelStopping(max_step=T, threshold=0.2))
  for x in XS: opt.observe({"x": x}, curve_value(x, T))
  opt.enqueue({"x": 0.35})
  t = opt.suggest()
  assert not any(opt.report(t, curve_value(0.35, s), s) for s in range(1, T + 1))
  assert opt.strategy.final_chance(SPACE, opt.trials, opt.curves, t.id, seed=opt.seed) is None

def test_a_worse_running_curve_never_gets_a_better_chance():
  # the running trial's own reports must not rescale the model that judges it: the further its flat curve sits above
  # every other (up to a diverged run's 1e6), the smaller its chance; the diverged run is stopped at its first report
  chances, first = [], []
  for level in (1.0, 3.0, 10.0, 1e3, 1e6):
    opt = finished_study(XS, stopping=tb.ModelStopping(min_step=1, max_step=T, threshold=0.2))
    opt.enqueue({"x": 0.6})
    t = opt.suggest()
    first.append(opt.report(t, level, 1))
    for s in (2, 3): opt.report(t, level, s)
    chances.append(opt.strategy.final_chance(SPACE, opt.trials, opt.curves, t.id, seed=opt.seed))
  assert all(a > b for a, b in zip(chances, chances[1:])), chances
  assert first[-1] and chances[-1] < 0.2

def test_a_stopped_diverged_run_leaves_the_curve_model_as_it_was():
  # one finished trial whose curve lies far below the design's (a diverged run stopped at 10 or 1e6, where every curve
  # lies within 0-1) is fitted as a failed trial: the chances of running trials and the next suggestion are the ones
  # without it (before: chances 0.99 / 0.0 -> 0.41-0.51 / 0.1-0.6, and the next suggestion moved from x ~0.35 to ~0.6)
  def outlook(bad):
    opt = finished_study(XS)
    if bad is not None:
      opt.enqueue({"x": 0.95}); t = opt.suggest()
      for s in (1, 2): opt.report(t, bad, s)
      opt.stop(t)
    chances = []
    for x in (0.3, 0.8):
      opt.enqueue({"x": x}); t = opt.suggest()
      for s in (1, 2, 3): opt.report(t, curve_value(x, s), s)
      chances.append(opt.strategy.final_chance(SPACE, opt.trials, opt.curves, t.id, seed=opt.seed))
      opt.stop(t)
    return chances, opt.suggest().params["x"]
  (clean, x_clean) = outlook(None)
  assert clean[0] > 0.9 and clean[1] < 0.05
  for bad in (10.0, 1e6):
    chances, x = outlook(bad)
    np.testing.assert_allclose(chances, clean, atol=1e-6)
    assert abs(x - x_clean) < 0.02 and abs(x - 0.35) < 0.05

def test_interval_checks_only_at_checkpoints():
  rule = tb.ModelStopping(min_step=2, interval=3)
  calls = []
  def chance(i):
    calls.append(i)
    return 0.0
  def h(steps): return History("s", True, {0: TrialState.PENDING}, {0: [tb.Report(s, 1.0, False, 0.0) for s in steps]}, chance)
  assert [rule.should_stop(0, s, 1.0, h(range(1, s + 1))) for s in range(1, 9)] == [False, True, False, False, True, False, False, True]
  assert len(calls) == 3   # the model is asked at the checkpoints 2, 5, 8 only
  assert rule.should_stop(0, 7, 1.0, h([1, 3, 7]))   # checkpoint 5 was skipped over: checked at the next report

@pytest.mark.parametrize("kwargs, match", [
  ({"threshold": 0}, r"threshold=0; use a probability in \(0, 1\)"), ({"threshold": 1.0}, r"threshold=1.0"),
  ({"threshold": -0.1}, r"threshold=-0.1"), ({"threshold": True}, r"threshold=True"), ({"threshold": "0.1"}, r"threshold='0.1'"),
  ({"threshold": math.nan}, r"threshold=nan"), ({"min_step": -1}, r"min_step=-1; use an int >= 0"), ({"min_step": 1.5}, r"min_step=1.5"),
  ({"interval": 0}, r"interval=0; use an int >= 1"), ({"min_step": 5, "max_step": 5}, r"max_step=5 <= min_step=5"),
])
def test_bad_parameters_are_one_line_errors(kwargs, match):
  with pytest.raises(ValueError, match=match) as e: tb.ModelStopping(**kwargs)
  assert "\n" not in str(e.value)

@pytest.mark.parametrize("strategy", [tb.Random(), tb.Grid(), tb.GP(curves=False), "random"])
def test_a_strategy_without_a_curve_model_is_refused(strategy):
  with pytest.raises(ValueError, match=r"needs a strategy with a learning-curve model.*use strategy=tb.GP\(\)") as e:
    tb.Optimizer(SPACE, strategy=strategy, stopping=tb.ModelStopping())
  assert "\n" not in str(e.value) and " object at 0x" not in str(e.value)   # the strategy named as written, not by its address

def test_a_history_without_the_model_is_a_clear_error():
  h = History("s", True, {0: TrialState.PENDING}, {0: [tb.Report(3, 1.0, False, 0.0)]})
  with pytest.raises(ValueError, match=r"needs the strategy's learning-curve model; use it through tb.Optimizer\(strategy=tb.GP\(\)"):
    tb.ModelStopping().should_stop(0, 3, 1.0, h)

def test_optimize_with_a_trial_handle_stops_hopeless_curves():
  opt = tb.Optimizer(SPACE, strategy=tb.GP(warp=False, n_initial=4), stopping=tb.ModelStopping(min_step=2, max_step=T, threshold=0.2))
  best = opt.optimize(reporting_objective(curve_value, T), n_trials=10, progress=False)
  states = [t.state for t in opt.trials]
  assert states.count(TrialState.STOPPED) >= 1 and all(s in (TrialState.COMPLETE, TrialState.STOPPED) for s in states)
  for t in opt.trials:   # every stopped trial stopped at a checkpoint below max_step, with its last value
    if t.state == TrialState.STOPPED: assert 2 <= t.last_step < T and t.value == opt.curves[t.id][-1].value
  assert best.value == min(t.value for t in opt.trials if t.state == TrialState.COMPLETE)

def test_a_resumed_sqlite_study_reaches_the_same_verdicts(tmp_path):
  """The same reports through one Optimizer, and through Optimizers reopened on the file mid-study and mid-trial (a new
  process: no fitted model in memory), give the same verdicts."""
  xs = [0.05, 0.2, 0.5, 0.7, 0.9, 0.8, 0.3, 0.95, 0.6]
  def play(path, reopen_at):
    rule = tb.ModelStopping(min_step=2, max_step=T, threshold=0.3)
    return play_enqueued(lambda: tb.Optimizer(SPACE, strategy=tb.GP(warp=False), storage=str(path), stopping=rule), xs, curve_value, T, reopen_at)
  straight = play(tmp_path / "a.db", set())
  resumed = play(tmp_path / "b.db", {30, 47, 48, 56})
  assert straight == resumed and True in straight[0]

def test_a_study_over_max_points_judges_on_a_subset_with_the_trial_own_rows():
  opt = finished_study(XS + [0.3, 0.4])   # 7 full curves, 35 rows: above max_points=16
  gp = tb.GP(warp=False, max_points=16)
  for x, hopeless in ((0.8, True), (0.35, False)):
    opt.enqueue({"x": x})
    t = opt.suggest()
    for s in (1, 2, 3): opt.report(t, 3.0 if hopeless else curve_value(x, s), s)
    p = gp.final_chance(SPACE, opt.trials, opt.curves, t.id, seed=opt.seed)
    assert len(gp.chance_model(SPACE, opt.trials, opt.curves, seed=opt.seed).y_train) == 16 and (p < 0.05 if hopeless else p > 0.2)
    opt.stop(t)

def test_the_refit_runs_outside_the_report_write_transaction(tmp_path, monkeypatch):
  """A refit (a second or more) must not hold the SQLite write lock that every other worker's writes wait for: the
  Optimizer fits before the transaction, and the decision inside finds the fit cached."""
  from tinybo.gp import GPRegressor
  from tinybo.storage import SQLiteStorage
  storage = SQLiteStorage(str(tmp_path / "s.db"))
  in_tx, fits_inside, fits = [False], [], []
  report, fit = storage.report, GPRegressor.fit
  def report_marked(*a, **k):
    in_tx[0] = True
    try: return report(*a, **k)
    finally: in_tx[0] = False
  def fit_watched(self, *a, **k):
    (fits_inside if in_tx[0] else fits).append(1)
    return fit(self, *a, **k)
  monkeypatch.setattr(storage, "report", report_marked)
  monkeypatch.setattr(GPRegressor, "fit", fit_watched)
  opt = tb.Optimizer(SPACE, strategy=tb.GP(warp=False, n_initial=3), storage=storage, stopping=tb.ModelStopping(min_step=1, max_step=T))
  for x in (0.1, 0.5, 0.9, 0.3):
    opt.enqueue({"x": x})
    t = opt.suggest()
    for s in range(1, T + 1):
      if opt.report(t, curve_value(x, s), s): opt.stop(t); break
    else: opt.observe(t, curve_value(x, T))
  assert len(fits) >= 2 and not fits_inside

# ***** session 24's review *****

def curves_study(space, configs):
  """One complete trial per configuration, each with a 5-step curve, values by position only (so two spaces whose
  configurations encode alike have the same curve data)."""
  opt = tb.Optimizer(space, strategy="random", seed=0)
  for i, c in enumerate(configs):
    opt.enqueue(c)
    t = opt.suggest()
    for s in range(1, 6): opt.report(t, 1.0 + 0.3 * i + 1.0 / s, s)
    opt.observe(t, 1.2 + 0.3 * i)
  return opt

def test_the_chance_model_of_one_space_is_never_reused_for_another():
  # the cache was keyed by the finished rows only: a 2-choice Categorical's one-hot columns and two Floats at 0 and 1
  # encode alike, so one GP object judging a second study reused the first study's fit (its categorical groups)
  cat = tb.Space({"a": tb.Categorical(["p", "q"])})
  floats = tb.Space({"u": tb.Float(0.0, 1.0), "v": tb.Float(0.0, 1.0)})
  a = curves_study(cat, [{"a": "p"}, {"a": "q"}])
  b = curves_study(floats, [{"u": 1.0, "v": 0.0}, {"u": 0.0, "v": 1.0}])
  assert np.array_equal(curve_data(cat, a.trials, a.curves).X, curve_data(floats, b.trials, b.curves).X)   # the collision
  shared = tb.GP(warp=False)
  shared.chance_model(cat, a.trials, a.curves)
  got = shared.chance_model(floats, b.trials, b.curves)
  ref = tb.GP(warp=False).chance_model(floats, b.trials, b.curves)   # a fresh GP that never saw the first study
  assert got.categorical == ref.categorical == []
  for k, v in ref.hyperparameters.items(): np.testing.assert_allclose(got.hyperparameters[k], v, rtol=1e-12, err_msg=k)
  assert shared.chance_model(floats, b.trials, b.curves) is got   # the same study's fit is still kept

def test_a_fit_with_non_finite_hyperparameters_is_a_failed_fit_warned_once(monkeypatch):
  # chance_model kept such a fit as if it were good, and every final_chance call then failed inside with_data, warning
  # again on each report of each running trial; it is a failed fit: None, one GPFallbackWarning per finished set
  opt = finished_study(XS)
  t = opt.suggest()
  for s in (1, 2, 3): opt.report(t, curve_value(t.params["x"], s), s)
  fit = tb.GP._fit_kernels
  def nan_fit(self, *a, **k):
    model = fit(self, *a, **k)
    model.phi = np.full_like(model.phi, np.nan)
    model.hyperparameters = {n: np.full_like(np.asarray(v, dtype=np.float64), np.nan) for n, v in model.hyperparameters.items()}
    return model
  monkeypatch.setattr(tb.GP, "_fit_kernels", nan_fit)
  gp = tb.GP(warp=False)
  with pytest.warns(GPFallbackWarning) as w:
    assert gp.final_chance(SPACE, opt.trials, opt.curves, t.id, seed=opt.seed) is None
  said = [str(x.message) for x in w if issubclass(x.category, GPFallbackWarning)]
  with warnings.catch_warnings():
    warnings.simplefilter("error")   # the same finished curves: the failed fit is kept, nothing is refitted or warned again
    assert gp.chance_model(SPACE, opt.trials, opt.curves, seed=opt.seed) is None
    assert gp.final_chance(SPACE, opt.trials, opt.curves, t.id, seed=opt.seed) is None
  assert len(said) == 1 and "could not be fitted (FloatingPointError: the GP fit returned non-finite hyperparameters" in said[0], said
