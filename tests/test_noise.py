"""Evidence of observation noise (`noise.noise_evidence`), the GP strategy's schedule of it (a test as the data grow
RETEST_GROWTH times, the verdict kept in between), and its acquisitions "auto" (UCB, then LogEI on the raw values once
the data show noise) and "edge" (the default: UCB, then LogEI where UCB goes to a bound), both UCB suggestion for
suggestion on deterministic data."""
import math

import numpy as np
import pytest
import scipy.linalg

import tinybo as tb
import tinybo.bo as bo
from tinybo.gp import GPRegressor, log_prior
from tinybo.noise import NOISE_MARGIN, noise_evidence


def quadratic_data(n: int, sd: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  rng = np.random.default_rng(seed)
  X = rng.uniform(0, 1, (n, 2))
  return X, -((X[:, 0] - 0.3) ** 2 + 2 * (X[:, 1] - 0.6) ** 2) + sd * rng.standard_normal(n)

def map_objective(m: GPRegressor) -> float:
  """The MAP objective of a fitted 2-D Matérn-5/2 GP recomputed in numpy/scipy: ½ yᵀK⁻¹y + ½ log det K + (n/2) log 2π − log prior."""
  ls, sf, sn = m.hyperparameters["lengthscales"], m.hyperparameters["outputscale"], m.hyperparameters["noise"]
  r = np.sqrt((((m.X[:, None, :] - m.X[None, :, :]) / ls) ** 2).sum(-1))
  K = sf * (1 + math.sqrt(5) * r + 5 / 3 * r ** 2) * np.exp(-math.sqrt(5) * r) + (sn + m.jitter) * np.eye(m.n)
  c = scipy.linalg.cho_factor(K, lower=True)
  y = m.y_train
  nll = 0.5 * y @ scipy.linalg.cho_solve(c, y) + np.log(np.diag(c[0])).sum() + 0.5 * m.n * math.log(2 * math.pi)
  return float(nll - log_prior(m.phi[None], 2)[0][0])

def test_the_evidence_is_the_likelihood_ratio_of_the_fitted_noise_against_interpolation():
  X, y = quadratic_data(25, 0.2)
  m = GPRegressor().fit(X, y, seed=0)
  interp = GPRegressor().fit(X, y, seed=0, noise="deterministic")
  assert interp.hyperparameters["noise"] < 2e-6 < m.hyperparameters["noise"]
  ev = noise_evidence(m, y, seed=0)
  assert ev == pytest.approx(map_objective(interp) - map_objective(m), rel=1e-6, abs=1e-6)
  assert ev > NOISE_MARGIN

@pytest.mark.parametrize("seed", range(3))
def test_noise_is_evident_in_noisy_data_and_not_in_smooth_deterministic_data(seed):
  X, y = quadratic_data(20, 0.0, seed)
  m = GPRegressor().fit(X, y, seed=seed)
  assert noise_evidence(m, y, seed=seed) < NOISE_MARGIN
  X, y = quadratic_data(25, 0.2, seed)   # noise sd 0.2 on a spread of ~1
  m = GPRegressor().fit(X, y, seed=seed)
  assert noise_evidence(m, y, seed=seed) > NOISE_MARGIN

@pytest.mark.parametrize("n, sd, seed", [(15, 0.002, 0), (15, 0.005, 0), (20, 0.005, 1), (15, 0.01, 0), (20, 0.005, 2), (25, 0.2, 0)])
def test_a_test_against_the_margin_stops_its_second_fit_and_keeps_the_verdict(monkeypatch, n, sd, seed):
  X, y = quadratic_data(n, sd, seed)
  m = GPRegressor().fit(X, y, seed=seed)
  evals: list[int] = []
  run = GPRegressor._run
  monkeypatch.setattr(GPRegressor, "_run", lambda self, *a: evals.append(1) or run(self, *a))
  full, n_full = noise_evidence(m, y, seed=seed), len(evals)
  bounded = noise_evidence(m, y, seed=seed, margin=NOISE_MARGIN)
  n_bounded = len(evals) - n_full
  assert (bounded > NOISE_MARGIN) == (full > NOISE_MARGIN)
  if full > NOISE_MARGIN: assert bounded == full and n_bounded == n_full   # beyond the margin: the whole fit, the whole ratio
  else: assert bounded <= NOISE_MARGIN and n_bounded < n_full              # within it: stopped once that was sure

def test_negligible_noise_needs_no_second_fit(monkeypatch):
  X, y = quadratic_data(12, 0.0)
  m = GPRegressor().fit(X, y, seed=0, noise="deterministic")
  monkeypatch.setattr(GPRegressor, "fit", lambda *a, **k: pytest.fail("a second fit"))
  assert noise_evidence(m, y) == 0.0

SPACE = tb.Space({"x0": tb.Float(0, 1), "x1": tb.Float(0, 1)})
OPTIMIZE_ACQUISITION = bo.optimize_acquisition

def run(strategy: tb.GP, f, n: int, monkeypatch=None, seen: list | None = None) -> list[dict]:
  if seen is not None:   # record the acquisition of every guided suggestion
    def spy(*a, **k):
      seen.append(k["acquisition"])
      return OPTIMIZE_ACQUISITION(*a, **k)
    monkeypatch.setattr(bo, "optimize_acquisition", spy)
  opt = tb.Optimizer(SPACE, strategy=strategy, seed=3)
  for i in range(n):
    t = opt.suggest()
    opt.observe(t, f(t.params, i))
  return [t.params for t in opt.trials]

def branin_unit(p: dict, i: int = 0) -> float:
  x0, x1 = -5 + 15 * p["x0"], 15 * p["x1"]
  return (x1 - 5.1 / (4 * math.pi ** 2) * x0 ** 2 + 5 / math.pi * x0 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x0) + 10

def test_auto_is_ucb_bit_for_bit_on_a_deterministic_objective(monkeypatch):
  seen: list = []
  auto = run(tb.GP(acquisition="auto"), branin_unit, 20, monkeypatch, seen)
  monkeypatch.undo()
  assert seen == ["ucb"] * 15   # 5 design points, then the model: no evidence of noise in Branin's values
  assert auto == run(tb.GP(acquisition="ucb"), branin_unit, 20)

def test_auto_turns_to_logei_on_the_raw_values_once_the_values_are_noisy(monkeypatch):
  noise = np.random.default_rng(0).standard_normal(40)
  seen: list = []
  run(tb.GP(acquisition="auto"), lambda p, i: branin_unit(p) + 3.0 * noise[i], 25, monkeypatch, seen)
  assert seen[0] == "ucb" and seen[-1] == "logei", seen   # a few points cannot tell noise from signal; 25 can
  # a noise variance given by the user says the objective is noisy from the first model on; "deterministic" that it is not
  seen.clear()
  run(tb.GP(acquisition="auto", noise=1.0), lambda p, i: branin_unit(p) + noise[i], 8, monkeypatch, seen)
  assert seen == ["logei"] * 3
  seen.clear()
  run(tb.GP(acquisition="auto", noise="deterministic"), lambda p, i: branin_unit(p) + 3.0 * noise[i], 12, monkeypatch, seen)
  assert seen == ["ucb"] * 7

def test_auto_fits_and_recommends_on_the_raw_values_when_noisy(monkeypatch):
  noise = np.random.default_rng(1).standard_normal(40)
  opt = tb.Optimizer(SPACE, strategy=tb.GP(acquisition="auto"), seed=3)
  for i in range(25):
    t = opt.suggest()
    opt.observe(t, branin_unit(t.params) + 3.0 * noise[i])
  fitted = []
  inner = bo.GP._fit
  monkeypatch.setattr(bo.GP, "_fit", lambda self, space, X, y, *a, **k: fitted.append(y.copy()) or inner(self, space, X, y, *a, **k))
  opt.recommend()
  raw = -np.array([t.value for t in opt.trials])
  assert any(np.array_equal(y, raw) for y in fitted)   # Branin's values are warped by default: the last fit is of the raw ones
  assert not np.array_equal(fitted[0], raw)

def test_acquisition_auto_is_accepted_and_others_still_checked():
  assert tb.GP(acquisition="auto").acquisition == "auto"
  with pytest.raises(ValueError, match="unknown acquisition"): tb.GP(acquisition="bogus")

def test_on_float_bound_is_any_float_column_at_zero_or_one():
  rng = np.random.default_rng(4)
  for _ in range(200):
    kinds = rng.integers(0, 3, 5)
    x = np.where(rng.random(5) < 0.3, rng.integers(0, 2, 5).astype(float), rng.random(5))
    ref = any(k == 0 and (v == 0.0 or v == 1.0) for k, v in zip(kinds, x))   # space.FLOAT is 0
    assert bo.on_float_bound(x, kinds) == ref

def test_edge_is_the_default_and_ucb_bit_for_bit_on_a_deterministic_objective():
  assert tb.GP().acquisition == "edge"
  assert run(tb.GP(), branin_unit, 20) == run(tb.GP(acquisition="ucb"), branin_unit, 20)

def test_edge_replaces_a_ucb_suggestion_on_the_bound_by_logei_once_the_values_are_noisy(monkeypatch):
  noise = np.random.default_rng(0).standard_normal(40)
  steps: list = []   # (acquisition, proposed point, search box, incumbent, lengthscales) of every acquisition optimization
  def spy(*a, **k):
    x, v = OPTIMIZE_ACQUISITION(*a, **k)
    steps.append((k["acquisition"], x.copy(), k["box"], k["X_top"][0].copy(), np.asarray(k["lengthscales"]).copy()))
    return x, v
  monkeypatch.setattr(bo, "optimize_acquisition", spy)
  params = run(tb.GP(acquisition="edge"), lambda p, i: branin_unit(p) + 3.0 * noise[i], 30)
  kinds = [k for k, *_ in steps]
  assert set(kinds) <= {"ucb", "logei"} and kinds[0] == "ucb"
  # every LogEI follows a UCB proposal on a float bound, and every UCB proposal on a bound once noise is evident is
  # followed by LogEI; the suggestion is the last proposal of its step
  assert all(kinds[i - 1] == "ucb" and bo.on_float_bound(steps[i - 1][1], SPACE.kinds) for i, k in enumerate(kinds) if k == "logei")
  assert "logei" in kinds, "this noisy Branin's UCB goes to the bound at least once"
  # LogEI searches the box around the incumbent: the local turn's own where UCB had one, else EDGE_LENGTH's (TuRBO's box,
  # its side lengthscale-weighted to geometric mean 1 and clipped to the cube)
  for i, (k, x, box, top, ls) in enumerate(steps):
    if k != "logei": continue
    if steps[i - 1][2] is not None: np.testing.assert_array_equal(box, steps[i - 1][2])
    else:
      w = ls / np.exp(np.mean(np.log(ls)))
      np.testing.assert_allclose(box, (np.clip(top - bo.EDGE_LENGTH * w / 2, 0, 1), np.clip(top + bo.EDGE_LENGTH * w / 2, 0, 1)), rtol=1e-12)
    assert np.all(box[0] <= x + 1e-12) and np.all(x <= box[1] + 1e-12)
  assert any(k == "logei" and steps[i - 1][2] is None for i, (k, *_) in enumerate(steps)), "a global turn's LogEI"
  last = [x for i, (k, x, *_) in enumerate(steps) if i + 1 == len(steps) or steps[i + 1][0] == "ucb"]
  np.testing.assert_allclose(np.array([SPACE.encode(p) for p in params[-len(last):]]), np.array(last), atol=1e-12)

def grow(g: tb.GP, X: np.ndarray, y: np.ndarray, ns: range, full: bool = False) -> list[tuple[int, bool, float | None]]:
  """Fit g's model to the first n rows for each n of ns, as suggest does (the warm-start chain), and ask its noise test:
  (n, verdict, the full test's evidence on these data when full)."""
  out = []
  for n in ns:
    model = g._fit(SPACE, X[:n], y[:n], 0, [])
    out.append((n, g._noisy(SPACE, model, y[:n], 0), noise_evidence(model, y[:n], seed=0) if full else None))
  return out

@pytest.mark.parametrize("sd", [0.0, 0.2])
def test_the_noise_test_runs_as_the_data_grow_1_5x_and_keeps_its_verdict_in_between(monkeypatch, sd):
  X, y = quadratic_data(40, sd, seed=1)
  tested: list[int] = []
  inner = bo.noise_evidence
  monkeypatch.setattr(bo, "noise_evidence", lambda m, yy, **k: tested.append(len(yy)) or inner(m, yy, **k))
  g = tb.GP(acquisition="edge")
  steps = grow(g, X, y, range(10, 41))
  # the schedule, replayed: a test at the first n whose model's noise is not negligible, then at the first n >= 1.5x the last
  expect, last = [], None
  for n, _, _ in steps:
    negligible = bo.negligible_noise(g._fit(SPACE, X[:n], y[:n], 0, [], keep=False))
    if not negligible and (last is None or n >= 1.5 * last): expect.append(last := n)
  assert tested == expect
  assert len(tested) <= 5   # 10 -> 15 -> 23 -> 35: four cold second fits for 31 suggestions, not 31
  verdicts = {n: v for n, v, _ in steps}
  for n, v, _ in steps:   # between tests the verdict is the last test's
    at = max((t for t in tested if t <= n), default=None)
    if at is not None: assert v == verdicts[at]

@pytest.mark.parametrize("sd, noisy", [(0.0, False), (0.2, True)])
def test_the_kept_verdict_agrees_with_the_full_test_and_a_numpy_likelihood_ratio(sd, noisy):
  X, y = quadratic_data(36, sd, seed=2)
  g = tb.GP(acquisition="edge")
  steps = grow(g, X, y, range(16, 37), full=True)
  # the kept verdict is the full test's at every step of a clearly deterministic or clearly noisy history
  assert all(v == (ev > NOISE_MARGIN) == noisy for _, v, ev in steps), steps
  # and the full test is the likelihood ratio recomputed in numpy/scipy from the two fits' hyperparameters
  m = GPRegressor().fit(X, y, seed=0)
  interp = GPRegressor().fit(X, y, seed=0, noise="deterministic")
  ev = 0.0 if bo.negligible_noise(m) else map_objective(interp) - map_objective(m)
  assert (max(ev, 0.0) > NOISE_MARGIN) == noisy

def test_recommend_tests_its_own_data_and_leaves_the_kept_verdict(monkeypatch):
  X, y = quadratic_data(30, 0.2, seed=2)
  g = tb.GP(acquisition="edge")
  grow(g, X, y, range(20, 23))
  kept = g._noise_test
  assert kept[1] == 20
  tested: list[int] = []
  inner = bo.noise_evidence
  monkeypatch.setattr(bo, "noise_evidence", lambda m, yy, **k: tested.append(len(yy)) or inner(m, yy, **k))
  model = g._fit(SPACE, X[:22], y[:22], 0, [], keep=False)
  g._noisy(SPACE, model, y[:22], 0, keep=False)
  assert tested == [22]   # recommend: a test of its own, not kept
  assert g._noise_test == kept
  grow(g, X, y, range(12, 13))   # fewer data than the last test: another history, tested at once
  assert tested == [22, 12] and g._noise_test[1] == 12

def test_the_kept_fits_and_verdict_are_keyed_by_the_space_serialized_once_per_space_object(monkeypatch):
  X, y = quadratic_data(30, 0.2, seed=2)
  g = tb.GP(acquisition="edge")
  calls = []
  inner = tb.Space.to_json
  monkeypatch.setattr(tb.Space, "to_json", lambda self: calls.append(self) or inner(self))
  grow(g, X, y, range(20, 24))
  assert g._space_json(SPACE) == inner(SPACE) and calls == [SPACE]   # four fits and tests, one serialization
  tested: list[int] = []
  ev = bo.noise_evidence
  monkeypatch.setattr(bo, "noise_evidence", lambda m, yy, **k: tested.append(len(yy)) or ev(m, yy, **k))
  other = tb.Space({"x0": tb.Float(0, 1), "x1": tb.Float(0, 2)})   # another space: another key, the verdict tested again
  model = g._fit(other, X[:24], y[:24], 0, [])
  assert g._space_json(other) == inner(other) != inner(SPACE)
  g._noisy(other, model, y[:24], 0)
  assert tested == [24] and g._noise_test[0] == inner(other)
  g._noisy(SPACE, g._fit(SPACE, X[:24], y[:24], 0, []), y[:24], 0)   # back to the first space: its key again, tested again
  assert tested == [24, 24] and g._noise_test[0] == inner(SPACE)

def test_noisy_warped_values_keep_a_chain_of_raw_fits_beside_the_warped_one(monkeypatch):
  # noisy Branin's values are log-warped; once they test noisy each suggestion also fits the raw values, warm-started
  # from the last raw fit (a chain of its own), while the warped chain goes on from the warped fit
  noise = np.random.default_rng(1).standard_normal(40)
  g = tb.GP(acquisition="edge")
  opt = tb.Optimizer(SPACE, strategy=g, seed=3)
  started: dict[int, tuple[GPRegressor | None, np.ndarray]] = {}   # fitted model -> (its warm start, its targets)
  inner = GPRegressor.fit
  def spy(self, X, y, *a, warm_start=None, **k):
    started[id(self)] = (warm_start, np.array(y))
    return inner(self, X, y, *a, warm_start=warm_start, **k)
  monkeypatch.setattr(GPRegressor, "fit", spy)
  kept = []   # (n, the warped chain's model, the raw chain's model) after each suggestion
  for i in range(30):
    t = opt.suggest()
    kept.append((len(opt.trials) - 1, g._model, g._raw_model))
    opt.observe(t, branin_unit(t.params) + 3.0 * noise[i])
  raws = [(n, w, r) for n, w, r in kept if r is not None]
  assert len(raws) >= 5, "this noisy Branin tests noisy well before 30 trials"
  values = -np.array([t.value for t in opt.trials])   # minimized: the targets are the negated values
  for (_, w0, r0), (n, w, r) in zip(raws, raws[1:]):
    assert r is not r0 and w is not w0
    assert started[id(r)][0] is r0 and started[id(w)][0] is w0   # each chain continues from its own last fit
    np.testing.assert_array_equal(started[id(r)][1], values[:n])   # the raw values ...
    assert not np.array_equal(started[id(w)][1], values[:n])       # ... beside the warped ones
  n, w, r = raws[0]
  assert started[id(r)][0] is w   # the chain's first fit starts from the warped chain's model of the same data
