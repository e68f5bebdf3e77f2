"""The GP surrogate against a plain numpy GP and a scipy reference optimizer (scipy only here, never in tinybo/)."""
import math
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tinygrad import Tensor, TinyJit, dtypes
from tinygrad.helpers import Context

from benchmarks.functions import six_hump_camel
from tinybo._tinygrad import download
from tinybo.gp import LOWEST_NOISE, NOISE_FLOOR, GPFitError, GPRegressor, log_prior, lone_mover, nll_grad_factor, posterior, unpack
from tinybo.kernels import KERNEL_COEFS, stationary
from tinybo.linalg import cho_solve, cholesky, eye_like
from tinybo.transforms import YTransform


# every test stays at N = 32 rows, D = 4 columns (d = 3 or 4): one compiled program per (function, shape)
def f_true(X): return np.sin(5 * X[:, 0]) + (X[:, 1] - 0.3) ** 2 + 0.5 * X[:, 2]

@pytest.fixture(autouse=True)
def _fast_compile():
  with Context(NOOPT=1): yield

@pytest.fixture(scope="module")
def data():
  rng = np.random.default_rng(1)
  X = rng.uniform(size=(30, 3))
  return X, f_true(X) + 0.01 * rng.standard_normal(30)

@pytest.fixture(scope="module")
def gp(data):
  with Context(NOOPT=1): return GPRegressor("matern52").fit(*data)

def np_kernel(X1, X2, ls, sf2):
  r = np.sqrt((((X1[:, None, :] - X2[None, :, :]) / ls) ** 2).sum(-1))
  return sf2 * (1 + math.sqrt(5) * r + 5 / 3 * r ** 2) * np.exp(-math.sqrt(5) * r)

def np_posterior(X, y, ls, sf2, noise, Xq):
  K = np_kernel(X, X, ls, sf2) + noise * np.eye(len(X))
  Kq = np_kernel(Xq, X, ls, sf2)
  mean = Kq @ np.linalg.solve(K, y)
  var = sf2 - np.einsum("ij,ji->i", Kq, np.linalg.solve(K, Kq.T))
  return mean, var

def np_objective(phi, X, y, jitter):
  # NLL + the GP's prior (a modeling choice, reused), φ = [log ℓ (d), log σ_f², log σ_n²]
  d = X.shape[1]
  ls, sf2, sn2 = np.exp(phi[:d]), math.exp(phi[d]), math.exp(phi[d + 1])
  K = np_kernel(X, X, ls, sf2) + (sn2 + jitter) * np.eye(len(X))
  L = np.linalg.cholesky(K)
  a = np.linalg.solve(K, y)
  nll = 0.5 * y @ a + np.log(np.diag(L)).sum() + 0.5 * len(X) * math.log(2 * math.pi)
  return nll - log_prior(phi[None], d)[0][0]

def nll_and_grad_autograd(data:Tensor, params:Tensor) -> Tensor:
  """The reference: the same [NLL | dNLL/dθ] as nll_grad_factor, the gradient by tinygrad autograd through the kernel matrix."""
  X, y, mask, theta, jitter, coef = unpack(data, params)
  D = X.shape[1]
  K = stationary(X, X, theta[:, :D].exp(), theta[:, D].exp(), coef)
  K = (mask.unsqueeze(-1) * mask) * K + (mask * ((theta[:, D + 1].exp() + jitter).unsqueeze(-1)) + (1 - mask)).unsqueeze(-1) * eye_like(K)
  L = cholesky(K.detach())
  Kinv = cho_solve(L, eye_like(K).expand(*K.shape))
  alpha = (Kinv @ y.unsqueeze(-1))[..., 0]
  nll = 0.5 * (y * alpha).sum(-1) + L.diagonal(dim1=-2, dim2=-1).log().sum(-1) + 0.5 * math.log(2 * math.pi) * mask.sum()
  W = (Kinv - alpha.unsqueeze(-1) * alpha.unsqueeze(-2)).detach()
  grad = (0.5 * (W * K).sum()).gradient(params)[0][:, :theta.shape[1]]
  return nll.unsqueeze(-1).cat(grad, dim=1)

def test_posterior_matches_numpy(gp, data):
  X, _ = data
  hp = gp.hyperparameters
  Xq = np.random.default_rng(2).uniform(size=(50, 3))
  m_ref, v_ref = np_posterior(X, gp.y_train, hp["lengthscales"], hp["outputscale"], hp["noise"] + gp.jitter, Xq)
  m, v = posterior(*gp.posterior_state(), Tensor(Xq, dtype=gp.dtype))
  np.testing.assert_allclose(m.numpy(), m_ref, atol=1e-8)
  np.testing.assert_allclose(v.numpy(), v_ref, atol=1e-8)
  # predict is the same posterior in the units of y: an affine map of the mean, the square of its slope on the variance
  my, vy = gp.predict(Xq)
  slope, icpt = np.polyfit(m_ref, my, 1)
  np.testing.assert_allclose(my, slope * m_ref + icpt, atol=1e-8)
  np.testing.assert_allclose(vy, slope ** 2 * v_ref, rtol=1e-6, atol=1e-12)
  assert slope == pytest.approx(gp.y_scale, rel=1e-9) and icpt == pytest.approx(gp.y_mean, rel=1e-9, abs=1e-9)

def test_map_objective_matches_reference_optimizer(gp, data):
  from scipy.optimize import minimize
  X, _ = data
  y = gp.y_train
  ours = np_objective(np.r_[np.log(gp.hyperparameters["lengthscales"]), math.log(gp.hyperparameters["outputscale"]),
                            math.log(gp.hyperparameters["noise"])], X, y, gp.jitter)
  assert ours == pytest.approx(gp.objective, rel=1e-7, abs=1e-7)
  bounds = [(math.log(1e-3), math.log(1e3))] * 4 + [(math.log(1e-6), math.log(10.0))]
  rng = np.random.default_rng(0)
  best = np.inf
  for _ in range(8):
    x0 = np.r_[rng.uniform(-3, 2, 3), rng.uniform(-2, 2), rng.uniform(-13, -2)]
    res = minimize(np_objective, x0, args=(X, y, gp.jitter), method="L-BFGS-B", bounds=bounds)
    best = min(best, res.fun)
  assert ours <= best + 1e-3 * abs(best)

def test_interpolates_noise_free_data_and_reverts_to_prior():
  rng = np.random.default_rng(3)
  X = rng.uniform(size=(28, 3)); y = f_true(X)
  gp = GPRegressor().fit(X, y)
  m, v = gp.predict(X)
  np.testing.assert_allclose(m, y, atol=1e-3 * y.std())
  assert v.max() < 1e-4 * y.var()
  mf, vf = gp.predict(np.full((2, 3), 40.0))
  np.testing.assert_allclose(mf, y.mean(), rtol=1e-6)
  np.testing.assert_allclose(vf, gp.hyperparameters["outputscale"] * y.var(), rtol=1e-6)

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.floats(-3, 4), min_size=3, max_size=3), min_size=1, max_size=6))
def test_variance_nonnegative_and_finite(gp, data, pts):
  Xq = np.concatenate([np.array(pts), data[0][:2]])  # arbitrary points plus training points (variance ~ 0 there)
  m, v = gp.predict(Xq)
  assert np.isfinite(m).all() and np.isfinite(v).all() and (v >= 0).all()

def test_posterior_is_differentiable_and_jittable(gp, data):
  X, _ = data
  state = gp.posterior_state()
  Xq = Tensor(np.random.default_rng(4).uniform(size=(8, 3)), dtype=gp.dtype)
  m, v = posterior(*state, Xq)
  gm, gv = m.sum().gradient(Xq)[0], v.sum().gradient(Xq)[0]
  hp = gp.hyperparameters
  args = (X, gp.y_train, hp["lengthscales"], hp["outputscale"], hp["noise"] + gp.jitter)
  x0, eps = Xq.numpy(), 1e-6
  for j in range(3):
    E = np.zeros_like(x0); E[:, j] = eps
    mp, vp = np_posterior(*args, x0 + E); mm, vm = np_posterior(*args, x0 - E)
    np.testing.assert_allclose(gm.numpy()[:, j], (mp - mm) / (2 * eps), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gv.numpy()[:, j], (vp - vm) / (2 * eps), rtol=1e-4, atol=1e-6)
  # state passed as arguments: TinyJit replays with new values
  step = TinyJit(lambda *a: [t.contiguous() for t in posterior(*a)])
  for seed in range(4):
    q = np.random.default_rng(seed).uniform(size=(8, 3))
    mj, vj = step(*state, Tensor(q, dtype=gp.dtype).realize())
    m_ref, v_ref = np_posterior(*args, q)
    np.testing.assert_allclose(mj.numpy(), m_ref, atol=1e-8); np.testing.assert_allclose(vj.numpy(), v_ref, atol=1e-8)

def test_condition_kriging_believer_and_observed(gp):
  Xn = np.array([[0.1, 0.9, 0.5], [0.8, 0.2, 0.3]])
  m0, v0 = gp.predict(Xn)
  kb = gp.condition(Xn)
  assert kb.n == gp.n + 2 and gp.n == 30
  for k, v in gp.hyperparameters.items(): np.testing.assert_array_equal(kb.hyperparameters[k], v)
  m1, v1 = kb.predict(Xn)
  np.testing.assert_allclose(m1, m0, atol=1e-6 * abs(m0).max())
  assert (v1 < 0.1 * v0).all()
  ob = gp.condition(Xn, np.array([5.0, -5.0]))
  m2, _ = ob.predict(Xn)
  assert (np.abs(m2 - [5.0, -5.0]) < 0.05 * np.abs(m0 - [5.0, -5.0])).all()  # pulled to the observations (up to noise)
  # the original is untouched
  np.testing.assert_allclose(gp.predict(Xn)[0], m0)

def test_a_fitted_model_pickles_and_predicts_the_same(gp, data):
  # a fitted model held device buffers, which do not pickle (a GP sampler or Optimizer sent to another process, deepcopy)
  copy = pickle.loads(pickle.dumps(gp))
  Xq = np.random.default_rng(2).uniform(size=(9, 3))
  for a, b in zip(copy.predict(Xq), gp.predict(Xq)): np.testing.assert_array_equal(a, b)
  for a, b in zip(copy.condition(Xq[:2]).predict(Xq), gp.condition(Xq[:2]).predict(Xq)): np.testing.assert_array_equal(a, b)
  X, y = data
  again = lambda warm: GPRegressor("matern52").fit(X[:25], y[:25], warm_start=warm).phi   # noqa: E731
  np.testing.assert_array_equal(again(copy), again(gp))

def test_warm_start_reaches_the_cold_optimum(data):
  X, y = data
  gp = GPRegressor().fit(X[:28], y[:28])
  warm = GPRegressor().fit(X[:29], y[:29], warm_start=gp)  # one start from the previous optimum, with its L-BFGS memory
  assert warm.n_cold == 28 and gp.n == 28  # it was warm, and the warm start is left as it was
  cold = GPRegressor().fit(X[:29], y[:29])
  assert warm.objective <= cold.objective + 1e-3 * abs(cold.objective)

def test_extreme_spread_of_y_stays_well_conditioned():
  rng = np.random.default_rng(5)
  X = rng.uniform(size=(26, 3))
  y = f_true(X)
  y[:3] = [1e300, -1e300, 1e-300]
  y[3] = np.inf
  gp = GPRegressor().fit(X, y)
  m, v = gp.predict(np.concatenate([X, rng.uniform(size=(20, 3))]))
  assert np.isfinite(m).all() and np.isfinite(v).all() and (v >= 0).all()
  assert m[0] > 1e100 and m[1] < -1e100  # the order of the extremes survives

def test_standardized_targets_are_scale_free_up_to_the_float_range():
  # values near 1e308: the median of an even count averages the two middle ones, whose sum overflows unless halved;
  # the standardization is scale-free, so the same values scaled by a power of two are the reference
  rng = np.random.default_rng(6)
  y = 1e308 + 1e306 * f_true(rng.uniform(size=(26, 3)))
  y[0] = -1.7e308
  t, ys = YTransform.fit(y)
  assert math.isfinite(t.center)
  np.testing.assert_allclose(ys, YTransform.fit(y * 2.0 ** -600)[1], rtol=1e-12, atol=1e-12)

def test_values_near_the_float_range_map_both_ways_and_condition():
  # a center near +1e308 and a value at -1.7e308: their difference overflows unless taken in halves, as the fit takes it
  rng = np.random.default_rng(6)
  X = rng.uniform(size=(26, 3))
  y = 1e308 + 1e306 * f_true(X)
  y[0] = -1.7e308
  t, ys = YTransform.fit(y)
  np.testing.assert_array_equal(t(y), ys)   # new values map as the fit mapped the same ones
  np.testing.assert_allclose(t.to_y_units(ys, np.ones_like(ys))[0], y, rtol=1e-9)
  gp = GPRegressor().fit(X, y)
  m, v = gp.condition(rng.uniform(size=(1, 3)), [y.min()]).predict(X[:3])  # what bo.py does for a failed trial
  assert np.isfinite(m).all() and np.isfinite(v).all() and -1.8e308 < m[0] < -1.6e308

def test_float32_path_is_stable_and_close(gp, data):
  X, y = data
  gp32 = GPRegressor(dtype=dtypes.float32).fit(X, y)
  Xq = np.random.default_rng(6).uniform(size=(40, 3))
  m32, v32 = gp32.predict(Xq)
  m64, _ = gp.predict(Xq)
  assert np.isfinite(m32).all() and (v32 >= 0).all()
  np.testing.assert_allclose(m32, m64, atol=0.05 * y.std())

@pytest.mark.parametrize("floor_scale", [1.0, 1e-6])
@pytest.mark.parametrize("n", [30, 60, 120])
def test_float32_posterior_mean_resolves_a_converging_run(n, floor_scale):
  # what a device without float64 fits late in a study: half a design, half a crowd around the minimizer, values spanning
  # 160 against differences of 1e-2 near the best. At float32's noise floor and at its lowest (floor_scale clamped to
  # LOWEST_NOISE, as warp_floor asks) the posterior mean (float32 state) must agree with float64 numpy at the same
  # hyperparameters well below the mean's spread near the best, or the acquisition ranks rounding noise there
  rng = np.random.default_rng(n)
  X = np.concatenate([rng.uniform(size=(n // 2, 2)), np.clip(0.515 + 0.02 * rng.standard_normal((n - n // 2, 2)), 0, 1)])
  gp32 = GPRegressor(dtype=dtypes.float32).fit(X, six_hump_camel(np.stack([6 * X[:, 0] - 3, 4 * X[:, 1] - 2])), seed=0, floor_scale=floor_scale)
  hp = gp32.hyperparameters
  # near the floor: the hard case
  assert LOWEST_NOISE[dtypes.float32] * (1 - 1e-5) <= hp["noise"] <= 1.5 * NOISE_FLOOR[dtypes.float32]
  Xq = np.concatenate([rng.uniform(size=(50, 2)), np.clip(0.515 + 0.01 * rng.standard_normal((50, 2)), 0, 1)])
  m_ref, v_ref = np_posterior(X, np.asarray(gp32.y_train, dtype=np.float64), hp["lengthscales"], hp["outputscale"], hp["noise"] + gp32.jitter, Xq)
  m, v = (t.numpy().astype(np.float64) for t in posterior(*gp32.posterior_state(), Tensor(Xq, dtype=dtypes.float32)))
  near_spread = np.ptp(m_ref[50:])
  assert near_spread > 1e-2 and (v >= 0).all() and np.isfinite(m).all()
  assert np.abs(m - m_ref)[50:].max() < 0.02 * near_spread and np.abs(m - m_ref).max() < 0.05 * near_spread
  np.testing.assert_allclose(v, v_ref, atol=1e-3)   # float32 rounding of L⁻¹ at κ(K) ~ 1e6

def test_categorical_block_shares_a_lengthscale():
  rng = np.random.default_rng(7)
  cat = rng.integers(0, 3, size=30)
  X = np.concatenate([rng.uniform(size=(30, 1)), np.eye(3)[cat]], axis=1)
  y = np.sin(4 * X[:, 0]) + np.array([0.0, 1.0, -1.0])[cat]
  gp = GPRegressor().fit(X, y, categorical=[slice(1, 4)])
  ls = gp.hyperparameters["lengthscales"]
  assert ls.shape == (4,) and ls[1] == ls[2] == ls[3]
  m, _ = gp.predict(X)
  np.testing.assert_allclose(m, y, atol=0.1)

def test_errors():
  with pytest.raises(GPFitError): GPRegressor().fit(np.zeros((3, 3)), np.full(3, np.nan))
  with pytest.raises(ValueError): GPRegressor().fit(np.zeros((3, 3)), np.zeros(4))
  with pytest.raises(ValueError, match="matern52"): GPRegressor("cosine")
  with pytest.raises(RuntimeError): GPRegressor().posterior_state()

@pytest.mark.parametrize("bad", [{"noise": -1.0}, {"noise": "det"}, {"floor_scale": 2.0}, {"restarts": -1}, {"restarts": 2.0}, {"seed": -1}])
def test_a_refused_refit_leaves_the_fitted_model_as_it_was(data, bad):
  X, y = data
  gp = GPRegressor().fit(X, y)
  Xq = np.random.default_rng(3).uniform(size=(5, 3))
  before = gp.predict(Xq)
  with pytest.raises(ValueError, match=next(iter(bad))): gp.fit(X[:10], 1000 * y[:10], **bad)
  assert gp.n == len(y) and np.array_equal(gp.X, X)
  np.testing.assert_array_equal(gp.predict(Xq), before)

@pytest.mark.parametrize("kernel", sorted(KERNEL_COEFS))
def test_analytic_gradient_matches_autograd_and_finite_differences(kernel, data):
  # padded rows (27 of 32) and a padded column (3 of 4): the packed inputs the fit step sees
  X, y = data[0][:27], data[1][:27]
  gp = GPRegressor(kernel); gp._set_data(X, (y - y.mean()) / y.std(), None)
  rng = np.random.default_rng(8)
  phi = np.c_[rng.normal(-0.5, 0.3, size=(2, 3)), rng.normal(0, 0.3, size=2), [-3.0, -5.0]]
  jitter = np.array([1e-9, 1e-9])
  out = download(nll_grad_factor(gp._data, gp._pack(phi, jitter))[0])
  ref = nll_and_grad_autograd(gp._data, gp._pack(phi, jitter)).numpy()
  np.testing.assert_allclose(out, ref, rtol=1e-8, atol=1e-8)
  eps = 1e-6
  for j in [0, 2, 3, 4]:  # φ: two lengthscales, σ_f², σ_n² (θ column 3, the padded lengthscale, has gradient 0)
    E = np.zeros_like(phi); E[:, j] = eps
    col = j if j < 3 else j + 1
    fp = download(nll_grad_factor(gp._data, gp._pack(phi + E, jitter))[0])[:, 0]
    fm = download(nll_grad_factor(gp._data, gp._pack(phi - E, jitter))[0])[:, 0]
    np.testing.assert_allclose(out[:, 1 + col], (fp - fm) / (2 * eps), rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(out[:, 4], 0.0)

def test_captured_programs_replay_from_the_disk_cache(tmp_path, monkeypatch):
  from tinybo._tinygrad import CachedJit, upload
  monkeypatch.setenv("TINYBO_CACHE_DIR", str(tmp_path))
  def fxn(a, b): return ((a * b).sum(-1) + 1).contiguous()
  first = CachedJit(fxn, ("test", 4, 3), noopt=True)
  A, B = (upload(np.random.default_rng(i).uniform(size=(4, 3)), dtypes.float64, "CPU") for i in (0, 1))
  ref = (A.numpy() * B.numpy()).sum(-1) + 1
  np.testing.assert_allclose(first(A, B).numpy(), ref)
  assert first.saved and len(list(tmp_path.glob("*.tbjit"))) == 1
  again = CachedJit(fxn, ("test", 4, 3), noopt=True)  # what a fresh process does: load, replay with new values
  assert again.jit.captured is not None
  C = upload(np.full((4, 3), 2.0), dtypes.float64, "CPU")
  np.testing.assert_allclose(again(A, C).numpy(), 2 * A.numpy().sum(-1) + 1)

@pytest.mark.parametrize("kind", ["unit", "hvarfner"])
def test_log_prior_gradient_matches_finite_differences(kind):
  phi = np.random.default_rng(0).normal(size=(3, 5))
  val, grad = log_prior(phi, 3, kind)
  eps = 1e-6
  for j in range(5):
    e = np.zeros(5); e[j] = eps
    np.testing.assert_allclose((log_prior(phi + e, 3, kind)[0] - log_prior(phi - e, 3, kind)[0]) / (2 * eps), grad[:, j], rtol=1e-6, atol=1e-8)
  # "unit" peaks at ℓ = 1 in every lengthscale; "hvarfner" at BoTorch's MAP mode ℓ = exp(μ − σ²), μ = √2 + ½ log 3, σ² = 3
  best = np.zeros((1, 5)); best[0, 3], best[0, 4] = 0.0, math.log(0.1 / 30)
  assert np.allclose(log_prior(best, 3, "unit")[1], 0, atol=1e-12)
  best[0, :3] = math.sqrt(2) + 0.5 * math.log(3) - 3
  assert np.allclose(log_prior(best, 3, "hvarfner")[1], 0, atol=1e-12)

def test_hvarfner_prior_is_the_lognormal_density_of_the_lengthscales():
  from scipy.stats import lognorm
  phi = np.random.default_rng(1).normal(size=(6, 6))
  phi[:, 4:] = 0.0  # the same outputscale and noise terms in every row: differences are the lengthscales' alone
  ref = lognorm(s=math.sqrt(3), scale=math.exp(math.sqrt(2) + 0.5 * math.log(4))).logpdf(np.exp(phi[:, :4])).sum(1)
  val = log_prior(phi, 4, "hvarfner")[0]
  np.testing.assert_allclose(val - val[0], ref - ref[0], rtol=1e-10, atol=1e-10)
  with pytest.raises(ValueError, match="lengthscale_prior"): GPRegressor(lengthscale_prior="flat")

def test_hvarfner_lengthscales_keep_botorchs_lower_bound(monkeypatch):
  # a sinusoid of period 1/15 sampled 60 times: resolvable, so the lognormal prior's tail lets the fit explain it as signal
  # with a lengthscale near 0.014; BoTorch bounds the lengthscales of this prior at 0.025 (GreaterThan(2.5e-2) in
  # get_covar_module_with_dim_scaled_prior), below which no fit may go. The "unit" prior treats the ripple as noise.
  import tinybo.gp as gp
  X = np.linspace(0, 1, 60)[:, None]
  y = np.sin(2 * np.pi * 15 * X[:, 0])
  assert gp.MIN_LENGTHSCALE["hvarfner"] == 0.025
  bounded = GPRegressor(lengthscale_prior="hvarfner").fit(X, y, seed=0).hyperparameters
  assert bounded["lengthscales"][0] >= 0.025 * (1 - 1e-12)
  monkeypatch.setitem(gp.MIN_LENGTHSCALE, "hvarfner", 1e-3)  # the bound is what keeps it there
  assert GPRegressor(lengthscale_prior="hvarfner").fit(X, y, seed=0).hyperparameters["lengthscales"][0] < 0.02
  unit = GPRegressor(lengthscale_prior="unit").fit(X, y, seed=0).hyperparameters
  assert unit["lengthscales"][0] > 1 and unit["noise"] > 0.3

def test_warm_fit_budget_shrinks_only_for_large_buckets():
  from tinybo.gp import warm_fit_evals
  assert warm_fit_evals(128, refit=False) == warm_fit_evals(256, refit=True) == 50
  assert warm_fit_evals(512, refit=True) == warm_fit_evals(1024, refit=True) == 12
  assert warm_fit_evals(1024, refit=False) == 1  # hyperparameters kept between refits: one evaluation, new factors

def test_condition_and_predict_refuse_points_they_cannot_use():
  # condition reshaped an X_new of the wrong width into other points (d=1 given [2, 3]: six new rows), a non-finite y_new
  # ended in "did not factor, even with jitter 1e+05", and predict at a NaN row answered the mean with variance 0
  rng = np.random.default_rng(0)
  gp = GPRegressor().fit(rng.random((6, 2)), rng.random(6))
  with pytest.raises(ValueError, match=r"X_new\[k,2\]"): gp.condition(rng.random((1, 4)), [1.0])
  for bad in (float("nan"), float("inf")):
    with pytest.raises(ValueError, match="finite y_new"): gp.condition(rng.random((1, 2)), [bad])
  with pytest.raises(ValueError, match="1 finite y_new"): gp.condition(rng.random((1, 2)), [1.0, 2.0])
  with pytest.raises(ValueError, match="non-finite"): gp.predict(np.array([[0.5, float("nan")]]))
  with pytest.raises(ValueError, match=r"X\[m,2\]"): gp.predict(rng.random((3, 3)))
  assert gp.condition(rng.random((2, 2)), [0.1, 0.2]).n == 8 and gp.condition(rng.random(2)).n == 7   # one point as a vector
  one = GPRegressor().fit(rng.random((5, 1)), rng.random(5))
  assert one.condition(np.array([0.1, 0.9])).n == 7   # d = 1: a vector is points
  # predict reads it the same way (it refused a d = 1 grid given as a vector)
  grid = np.linspace(0, 1, 4)
  assert all(np.array_equal(a, b) for a, b in zip(one.predict(grid), one.predict(grid[:, None]))) and one.predict(grid)[0].shape == (4,)

@pytest.mark.parametrize("n,d", [(20, 3), (130, 5)])   # a bucket compiled without kernel optimization (N <= 32) and one with
def test_the_step_of_one_row_computes_each_row_as_the_batched_step(n, d):
  # a cold fit evaluates its last moving start alone through the step of one row (gp.lone_mover): the same numbers (bit
  # for bit where measured; a CPU whose compiler vectorizes the two programs differently may part in the last bits)
  rng = np.random.default_rng(n)
  X = rng.random((n, d))
  gp = GPRegressor().fit(X, np.sin(6 * X).sum(1) + 0.1 * rng.standard_normal(n), restarts=1)
  phi, jitter = gp.phi[None] + rng.normal(0.0, 0.3, (4, len(gp.phi))), np.full(4, 1e-9)
  batched = [download(t) for t in gp._run(gp._step(4), phi, jitter)]
  for r in range(4):
    alone = [download(t) for t in gp._run(gp._step(1), phi[r:r + 1], jitter[r:r + 1])]
    for a, b in zip(batched, alone): np.testing.assert_allclose(a[r], b[0], rtol=1e-12, atol=1e-300)

def test_a_cold_fit_evaluates_a_lone_moving_start_alone():
  last = {"phi": np.zeros((3, 2)), "jitter": np.full(3, 1e-9), "out": np.zeros((3, 4))}
  still, one = np.zeros((3, 2)), np.zeros((3, 2))
  one[1, 0] = 0.5
  assert lone_mover(still, np.full(3, 1e-9), last) is None   # nothing moved: the batch (L-BFGS never asks for that)
  assert lone_mover(one, np.full(3, 1e-9), last) == 1
  assert lone_mover(one, np.array([1e-7, 1e-9, 1e-9]), last) is None   # more jitter on another row: it moved too
  last["out"][2, 0] = np.inf
  assert lone_mover(one, np.full(3, 1e-9), last) is None   # a failed row is evaluated again (with more jitter)
  assert lone_mover(one, np.full(3, 1e-9), {}) is None and lone_mover(one[:1], np.full(1, 1e-9), last) is None

@pytest.mark.parametrize("own_kernel", [True, False])
def test_lengthscale_gradient_kernel_against_its_sum_in_numpy(own_kernel):
  # both forms (the product step's own kernel, the additive step's fused one) are −2 Σ_ij M_ij (a_ik − a_jk)² per column
  from tinybo.gp import _lengthscale_grad
  rng = np.random.default_rng(3)
  b, N, D = 3, 32, 4
  M, A = rng.normal(size=(b, N, N)), rng.random((b, N, D))
  M = M + M.transpose(0, 2, 1)   # symmetric, as W ⊙ dk/du is
  expect = -(M[..., None] * (A[:, :, None, :] - A[:, None, :, :]) ** 2).sum((1, 2))
  got = TinyJit(lambda m, a: _lengthscale_grad(m, a, own_kernel).realize())
  for _ in range(3): out = got(Tensor(M, dtype=dtypes.float64).realize(), Tensor(A, dtype=dtypes.float64).realize()).numpy()
  np.testing.assert_allclose(out, expect, rtol=1e-10, atol=1e-10)

@pytest.mark.parametrize("n", [20, 40])   # a row bucket compiled without kernel optimization (N <= NOOPT_MAX_N), one with
def test_a_cold_fit_row_by_row_finds_what_the_batched_fit_finds(monkeypatch, n):
  # a batch of restarts is evaluated row by row (SEPARATE_MIN_N): the same fit as the batch's. Both steps made here,
  # as a study makes them (kernel optimization from NOOPT_MAX_N rows, not this file's NOOPT=1): a step another test made
  # under another policy sums in another order
  import tinybo._tinygrad as tg
  import tinybo.gp as gpm
  monkeypatch.setattr(tg, "_PROGRAMS", {})
  monkeypatch.setattr(tg.NOOPT, "value", 0)
  rng = np.random.default_rng(3)
  X = rng.random((n, 4))
  y = np.sin(5 * X).sum(1) + 0.05 * rng.standard_normal(n)
  separate = GPRegressor().fit(X, y, restarts=4, seed=1)
  assert separate.N >= gpm.SEPARATE_MIN_N and (separate.N <= gpm.NOOPT_MAX_N) == (n == 20)
  monkeypatch.setattr(gpm, "SEPARATE_MIN_N", 1 << 30)
  batched = GPRegressor().fit(X, y, restarts=4, seed=1)
  np.testing.assert_allclose(separate.phi, batched.phi, rtol=1e-10, atol=1e-12)
  assert separate.objective == pytest.approx(batched.objective, rel=1e-12)
  Q = rng.random((16, 4))
  np.testing.assert_allclose(separate.predict(Q)[0], batched.predict(Q)[0], rtol=1e-10, atol=1e-12)

def test_padding_to_a_larger_row_bucket_changes_no_number_of_the_fit(monkeypatch):
  # why the row buckets up to 32 rows can be few (_tinygrad.N_BUCKETS: 16, 32): a padded row is masked to exact zeros
  # after the real rows, so the same data fitted at 24 or 32 rows gives the same hyperparameters and objective, bit for
  # bit, and the same predictions to 1e-12. The programs are made here as a study makes them (an empty registry, NOOPT
  # off), not under this file's NOOPT=1
  import tinybo._tinygrad as tg
  import tinybo.gp as gpm
  monkeypatch.setattr(tg, "_PROGRAMS", {})
  monkeypatch.setattr(tg.NOOPT, "value", 0)
  rng = np.random.default_rng(7)
  X = rng.random((20, 3))
  y = np.sin(4 * X).sum(1) + 0.05 * rng.standard_normal(20)
  Q = rng.random((10, 3))
  fits = []
  for first in (24, 32):
    monkeypatch.setattr(gpm, "N_BUCKETS", (first, 32, 48))
    gp = GPRegressor().fit(X, y, restarts=4, seed=2)
    fits.append((gp.N, gp.phi, gp.objective, *gp.predict(Q)))
  (n24, phi24, obj24, *pred24), (n32, phi32, obj32, *pred32) = fits
  assert (n24, n32) == (24, 32)
  np.testing.assert_array_equal(phi24, phi32)
  assert obj24 == obj32
  for u, v in zip(pred24, pred32): np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-14)

def test_a_cold_fit_compiles_only_the_step_of_one_row(monkeypatch):
  # the batched step would be one more program per row bucket for a fresh process to compile: a cold fit of 4 restarts
  # at 28 rows (bucket 32, compiled without kernel optimization) asks for the one-row step alone
  import tinybo._tinygrad as tg
  asked = []
  real = tg.program
  monkeypatch.setattr("tinybo.gp.program", lambda key, *a, **k: asked.append(key) or real(key, *a, **k))
  rng = np.random.default_rng(5)
  X = rng.random((28, 3))
  gp = GPRegressor().fit(X, np.cos(4 * X).sum(1), restarts=4, seed=0)
  fit_steps = {key[3] for key in asked if key[0] == "nll"}
  assert gp.N == 32 and fit_steps == {1}

def test_a_row_by_row_cold_fit_evaluates_no_row_twice_at_the_same_point(monkeypatch):
  # rows that L-BFGS holds still keep their last value (SEPARATE_MIN_N): no (φ, jitter) goes through the one-row step
  # twice, but for the factorization of the optimum at the end
  calls = []
  real = GPRegressor._run
  def run(self, step, phi, jitter):
    if len(phi) == 1: calls.append(phi[0].tobytes() + jitter.tobytes())
    return real(self, step, phi, jitter)
  monkeypatch.setattr(GPRegressor, "_run", run)
  rng = np.random.default_rng(4)
  X = rng.random((40, 3))
  gp = GPRegressor().fit(X, np.cos(4 * X).sum(1), restarts=4, seed=2)
  assert len(calls) > 8 and len(calls) - len(set(calls)) <= 1
  assert np.isfinite(gp.objective)
