"""The additive learning-curve kernel (GPRegressor(structure="additive")) against a plain numpy GP: its likelihood, the
gradient (finite differences), the prior with two output scales, and the posterior at the target step (z = 0)."""
import math

import numpy as np
import pytest
from tinygrad.helpers import Context

from tinybo._tinygrad import download
from tinybo.gp import FAR, GPRegressor, log_prior, nll_grad_factor_additive


@pytest.fixture(autouse=True)
def _fast_compile():
  with Context(NOOPT=1): yield

def np_matern52(A, B, ls):
  r = np.sqrt((((A[:, None, :] - B[None, :, :]) / ls) ** 2).sum(-1))
  return (1 + math.sqrt(5) * r + 5 / 3 * r ** 2) * np.exp(-math.sqrt(5) * r)

def np_kernel(A, B, lf, lg, sf2, sg2):
  """σ_f² k(x, x'; ℓ_f) + z z' σ_g² k((x, z), (x', z'); ℓ_g), z the last column: written out independently."""
  return sf2 * np_matern52(A[:, :-1], B[:, :-1], lf) + np.outer(A[:, -1], B[:, -1]) * sg2 * np_matern52(A, B, lg)

def curves(n_configs=8, seed=0):
  """Curves value = final(x) + gap(x, z), z in {1, 0.6, 0.3, 0}: configurations x in [0, 1]², the last one's curve stops at z = 0.6."""
  rng = np.random.default_rng(seed)
  xs = rng.uniform(size=(n_configs, 2))
  rows = [(x, z) for i, x in enumerate(xs) for z in ((1.0, 0.6) if i == n_configs - 1 else (1.0, 0.6, 0.3, 0.0))]
  X = np.array([[*x, z] for x, z in rows])
  y = np.sin(4 * X[:, 0]) + X[:, 1] ** 2 + X[:, 2] ** 2 * (1 + X[:, 0])
  return X, y, xs

def phi_of(rng, b):
  # φ = [log ℓ_f (2) | log ℓ_g (3) | log σ_f², log σ_g² | log σ_n²]
  return np.c_[rng.normal(-0.5, 0.3, size=(b, 5)), rng.normal(0, 0.3, size=(b, 2)), np.full(b, -4.0)]

def test_likelihood_matches_numpy_and_gradient_matches_finite_differences():
  X, y, _ = curves()
  gp = GPRegressor(structure="additive")
  y_std = (y - y.mean()) / y.std()
  gp._set_data(X, y_std, None)   # 30 of 32 rows and 3 of 4 columns real: the padding the fit step sees
  phi, jitter = phi_of(np.random.default_rng(3), 2), np.array([1e-9, 1e-9])
  out = download(nll_grad_factor_additive(gp._data, gp._pack(phi, jitter))[0])
  for b in range(2):
    lf, lg, (sf2, sg2, sn2) = np.exp(phi[b, :2]), np.exp(phi[b, 2:5]), np.exp(phi[b, 5:])
    K = np_kernel(X, X, lf, lg, sf2, sg2) + (sn2 + 1e-9) * np.eye(len(X))
    nll = 0.5 * y_std @ np.linalg.solve(K, y_std) + 0.5 * np.linalg.slogdet(K)[1] + 0.5 * len(X) * math.log(2 * math.pi)
    assert out[b, 0] == pytest.approx(nll, rel=1e-10)
  # dNLL/dθ for every θ column: θ = [log ℓ_f (D = 4) | log ℓ_g (4) | log σ_f², log σ_g², log σ_n²]
  theta = gp._theta(phi)
  eps = 1e-6
  for j in range(theta.shape[1]):
    E = np.zeros_like(theta); E[:, j] = eps
    f = [download(nll_grad_factor_additive(gp._data, gp._pack_theta(t, jitter))[0])[:, 0] for t in (theta + E, theta - E)]
    np.testing.assert_allclose(out[:, 1 + j], (f[0] - f[1]) / (2 * eps), rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(out[:, 1 + np.array([3, 7])], 0.0)   # padded columns
  assert np.abs(out[:, 1 + 2]).max() < 1e-12   # k_f never sees z (its lengthscale there is e^FAR)

def test_prior_with_two_output_scales_matches_finite_differences():
  phi = np.random.default_rng(0).normal(size=(3, 8))
  val, grad = log_prior(phi, 3, "unit", n_scales=2)
  for j in range(8):
    e = np.zeros(8); e[j] = 1e-6
    np.testing.assert_allclose((log_prior(phi + e, 3, "unit", 2)[0] - log_prior(phi - e, 3, "unit", 2)[0]) / 2e-6, grad[:, j], rtol=1e-6, atol=1e-8)
  # two output scales: each N(0, 1.5) in log σ², so the second one's term is the first one's
  one = log_prior(phi[:, [0, 1, 2, 3, 4, 5, 7]], 3, "unit")[0]
  assert np.allclose(val - one, -0.5 * (phi[:, 6] / 1.5) ** 2)

def test_fit_and_posterior_at_the_target_step_match_numpy():
  X, y, xs = curves()
  gp = GPRegressor(structure="additive").fit(X, y)
  assert gp.phi.shape == (8,) and set(gp.hyperparameters) >= {"lengthscales", "gap_lengthscales", "gap_outputscale"}
  L = len(gp._expand)
  lf, lg = np.exp(gp._theta(gp.phi[None])[0, [0, 1]]), np.exp(gp._theta(gp.phi[None])[0, 4:7])
  sf2, sg2, sn2 = np.exp(gp.phi[L:])
  y_std = gp.transform(y)
  K = np_kernel(X, X, lf, lg, sf2, sg2) + (sn2 + gp.jitter) * np.eye(len(X))
  Xq = np.c_[np.random.default_rng(5).uniform(size=(6, 2)), np.zeros(6)]
  Kq = np_kernel(Xq, X, lf, lg, sf2, sg2)
  mean, var = Kq @ np.linalg.solve(K, y_std), sf2 - np.einsum("ij,ji->i", Kq, np.linalg.solve(K, Kq.T))
  m, v = gp.predict(Xq)
  np.testing.assert_allclose(m, gp.to_y_units(mean, var)[0], rtol=1e-7, atol=1e-9)
  np.testing.assert_allclose(v, gp.to_y_units(mean, var)[1], rtol=1e-6, atol=1e-12)
  # a complete configuration's final is (nearly) its observed one; the stopped one's (its curve ends at z = 0.6) is read
  # from its curve: within 3 sd of the truth, and 5x closer than the product kernel reads it from the same data
  done = X[:, -1] == 0
  np.testing.assert_allclose(gp.predict(X[done])[0], y[done], atol=1e-3)
  q, true = np.c_[xs[-1:], [[0.0]]], np.sin(4 * xs[-1, 0]) + xs[-1, 1] ** 2
  (m,), (v,) = gp.predict(q)
  assert abs(m - true) < 3 * math.sqrt(v)
  assert 5 * abs(m - true) < abs(GPRegressor().fit(X, y).predict(q)[0][0] - true)

def test_warm_start_conditioning_and_errors():
  X, y, _ = curves()
  gp = GPRegressor(structure="additive").fit(X, y)
  product = GPRegressor().fit(X, y)
  again = GPRegressor(structure="additive").fit(X, y + 0.01, warm_start=gp)   # a warm start of the same structure continues
  assert again.n_cold == gp.n_cold and again.phi.shape == gp.phi.shape
  assert GPRegressor(structure="additive").fit(X, y, warm_start=product).phi.shape == (8,)   # another structure: a cold fit
  Xn = np.array([[0.5, 0.5, 0.0]])
  c = gp.condition(Xn, [1.0])
  assert c.structure == "additive" and c.predict(Xn)[0][0] == pytest.approx(1.0, abs=1e-3)
  with pytest.raises(ValueError, match="structure"): GPRegressor(structure="sum")
  with pytest.raises(ValueError, match="fidelity"): GPRegressor(structure="additive").fit(X[:, :1], y)
  before = gp.predict(Xn)
  with pytest.raises(ValueError, match="fidelity"): gp.fit(X[:, :1], 1000 * y)   # refused: the fitted model stays as it was
  assert gp.n == len(y) and np.array_equal(gp.predict(Xn), before)
  assert FAR > 30

# ***** the GP strategy with curves="additive" *****

def test_strategy_with_the_additive_curve_kernel_learns_from_a_stopped_curve():
  import warnings

  import tinybo as tb
  def value(x, step): return (x - 0.35) ** 2 + (1 - step / 9) ** 2   # every curve falls to its final value at step 9
  def study(gp):
    opt = tb.Optimizer(tb.Space({"x": tb.Float(0.0, 1.0)}), strategy=gp, seed=1)
    for x in (0.05, 0.6, 0.8, 0.95):
      t = opt.enqueue({"x": x}); opt.suggest()
      for s in range(1, 10): opt.report(t, value(x, s), s)
      opt.observe(t, value(x, 9))
    t = opt.enqueue({"x": 0.3}); opt.suggest()
    for s in (1, 2, 3): opt.report(t, value(0.3, s) - 0.3, s)   # a stopped curve far better than the others at its steps
    opt.stop(t)
    with warnings.catch_warnings():
      warnings.simplefilter("error")   # no fallback to random, for one suggestion or a batch
      first = opt.suggest().params["x"]
      assert len(opt.suggest(2)) == 2
    return first, opt
  (near, opt), (blind, _) = study(gp := tb.GP(n_initial=4, curves="additive")), study(tb.GP(n_initial=4, curves=False))
  assert gp._model.structure == "additive" and gp._model.d == 2 and "gap_outputscale" in gp._model.hyperparameters
  assert abs(near - 0.3) < 0.12 and abs(near - 0.3) < abs(blind - 0.3)
  # the model a stopping rule asks is the additive one too; recommend models the complete trials' values alone
  assert gp.chance_model(opt.space, opt.trials, opt.curves, seed=0).structure == "additive"
  assert opt.recommend() is not None
  with pytest.raises(ValueError, match="additive"): tb.GP(curves="sum")
