"""Acquisition functions: accuracy against float64 references, tail behaviour, gradients, Sobol, and the optimizer."""
import math

import numpy as np
import pytest
from tinygrad import Tensor, dtypes

from tinybo.acquisition import (
  expected_improvement,
  log_expected_improvement,
  log_probability_of_improvement,
  probability_of_improvement,
  upper_confidence_bound,
)
from tinybo.gp import GPRegressor, posterior
from tinybo.optim_acqf import AcquisitionEvaluator, optimize_acquisition
from tinybo.sobol import sobol
from tinybo.space import Categorical, Float, Int, Space
from tinybo.special import log_h, log_ndtr


def T(a) -> Tensor: return Tensor(np.asarray(a, dtype=np.float64), dtype=dtypes.float64)

def ref_log_ndtr(z: float) -> float:  # math.erfc has relative accuracy in the tail; log1p keeps it for z > 0
  return math.log(0.5 * math.erfc(-z / math.sqrt(2))) if z <= 0 else math.log1p(-0.5 * math.erfc(z / math.sqrt(2)))

def ref_h(z: float) -> float:
  """phi(z) + z Phi(z) in float64 from math.erfc; accurate to ~1e-12 relative for z >= -5 (cancellation ~ z^2 eps)."""
  return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) + z * 0.5 * math.erfc(-z / math.sqrt(2))

def test_log_ndtr_matches_erfc_reference():
  z = np.concatenate([np.linspace(-37, 8, 451), [-1e-8, 0.0, 1e-8]])
  got = log_ndtr(T(z)).numpy()
  ref = np.array([ref_log_ndtr(v) for v in z])
  np.testing.assert_allclose(got, ref, rtol=1e-11, atol=1e-300)

def test_log_ndtr_upper_tail_keeps_relative_accuracy():
  z = np.array([5.0, 8.0, 10.0, 20.0])
  got = log_ndtr(T(z)).numpy()
  ref = np.array([-0.5 * math.erfc(v / math.sqrt(2)) for v in z])  # log(1 - q) = -q to first order, q tiny
  np.testing.assert_allclose(got, ref, rtol=1e-6)

def test_logei_equals_log_ei_where_representable():
  rng = np.random.default_rng(0)
  mean, var, best = rng.normal(0, 2, 400), rng.uniform(1e-4, 4.0, 400), 0.7
  z = (mean - best) / np.sqrt(var)
  keep = z > -5
  mean, var, z = mean[keep], var[keep], z[keep]
  ref_ei = np.sqrt(var) * np.array([ref_h(v) for v in z])
  np.testing.assert_allclose(log_expected_improvement(T(mean), T(var), best).numpy(), np.log(ref_ei), rtol=1e-9, atol=1e-11)
  np.testing.assert_allclose(expected_improvement(T(mean), T(var), best).numpy(), ref_ei, rtol=1e-9, atol=1e-300)
  # and log(EI) from our own EI where EI is far from underflow
  ok = z > -20
  np.testing.assert_allclose(log_expected_improvement(T(mean), T(var), best).numpy()[ok],
                             np.log(expected_improvement(T(mean), T(var), best).numpy()[ok]), rtol=1e-12)

def test_logei_finite_and_monotone_far_into_the_tail():
  z = np.sort(np.concatenate([-np.logspace(-4, 12, 400), np.linspace(-60, 40, 2001)]))
  lh = log_h(T(z)).numpy()
  assert np.isfinite(lh).all()
  assert (np.diff(lh) >= 0).all()
  # EI itself underflows to 0 here while LogEI keeps the asymptotic form -z^2/2 - log sqrt(2 pi) - 2 log|z| + log(1 - 3/z^2 + ...)
  zt = np.array([-40.0, -100.0, -1e4, -1e6])
  asym = -0.5 * zt ** 2 - 0.5 * math.log(2 * math.pi) - 2 * np.log(-zt) + np.log(1 - 3 / zt ** 2 + 15 / zt ** 4)
  np.testing.assert_allclose(log_h(T(zt)).numpy(), asym, rtol=1e-12, atol=1e-7)  # the next series term: 105/z^6 < 3e-8
  assert expected_improvement(T([0.0]), T([1.0]), 40.0).numpy()[0] == 0.0  # the reason LogEI exists
  # continuity across the branch points
  for zb in (-1.0, -20.0):
    a, b = log_h(T([zb - 1e-9, zb + 1e-9])).numpy()
    assert abs(a - b) < 1e-7

def test_pi_logpi_ucb():
  mean, var = np.array([0.0, 1.0, -3.0]), np.array([1.0, 4.0, 0.25])
  np.testing.assert_allclose(probability_of_improvement(T(mean), T(var), 0.5).numpy(),
                             [0.5 * math.erfc(-(m - 0.5) / math.sqrt(2 * v)) for m, v in zip(mean, var)], rtol=1e-12)
  np.testing.assert_allclose(log_probability_of_improvement(T(mean), T(var), 0.5).numpy(),
                             [ref_log_ndtr((m - 0.5) / math.sqrt(v)) for m, v in zip(mean, var)], rtol=1e-12)
  np.testing.assert_allclose(upper_confidence_bound(T(mean), T(var), 4.0).numpy(), mean + 2 * np.sqrt(var), rtol=1e-12)

@pytest.mark.parametrize("fn", [log_h, log_ndtr])
def test_special_function_gradients_match_finite_differences(fn):
  z = np.array([-1e3, -45.0, -20.5, -19.5, -7.0, -1.5, -0.5, 0.0, 0.3, 3.0, 9.0])
  x = T(z)
  (g,) = fn(x).sum().gradient(x)
  g = g.numpy()
  assert np.isfinite(g).all() and (g > 0).all()
  h = 1e-6 * np.maximum(1.0, np.abs(z))
  fd = (fn(T(z + h)).numpy() - fn(T(z - h)).numpy()) / (2 * h)
  np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-10)

# ***** on a real GP posterior *****

def _branin(X: np.ndarray) -> np.ndarray:
  x0, x1 = X[:, 0] * 15 - 5, X[:, 1] * 15
  return (x1 - 5.1 / (4 * math.pi ** 2) * x0 ** 2 + 5 / math.pi * x0 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * np.cos(x0) + 10

@pytest.fixture(scope="module")
def fitted():
  rng = np.random.default_rng(0)
  X = rng.random((7, 2))  # 7 points: the GP's smallest row bucket (8), shared with test_bo's shapes
  gp = GPRegressor().fit(X, -_branin(X))
  return gp, posterior, X

@pytest.mark.parametrize("kind", ["logei", "ei", "ucb", "logpi"])
def test_acquisition_gradients_through_the_gp_match_finite_differences(fitted, kind):
  gp, posterior, X = fitted
  ev = AcquisitionEvaluator(posterior, gp.posterior_state(), kind, float(gp.y_train.max()), beta=2.0)
  Q = np.random.default_rng(1).uniform(0.05, 0.95, (8, 2))
  a, g = ev.values_and_grads(Q)
  assert np.isfinite(a).all() and np.isfinite(g).all()
  np.testing.assert_allclose(ev.values(Q), a, rtol=1e-10)
  h = 1e-6
  for j in range(2):
    E = np.zeros_like(Q); E[:, j] = h
    fd = (ev.values(Q + E) - ev.values(Q - E)) / (2 * h)
    np.testing.assert_allclose(g[:, j], fd, rtol=1e-4, atol=1e-6 * max(1.0, np.abs(a).max()))

def test_optimizer_beats_raw_candidates_and_returns_new_valid_points(fitted):
  gp, posterior, X = fitted
  space = Space({"a": Float(0, 1), "b": Float(0, 1)})
  best = float(gp.y_train.max())
  x, val = optimize_acquisition(posterior, gp.posterior_state(), space, best=best, rng=np.random.default_rng(0), X_observed=X,
                                X_top=X[:3], lengthscales=gp.hyperparameters["lengthscales"])
  ev = AcquisitionEvaluator(posterior, gp.posterior_state(), "logei", best)
  raw = ev.values(sobol(1024, 2, np.random.default_rng(5)), bucket=1024)
  assert val >= raw.max() - 1e-9 and np.isfinite(val)
  assert x.shape == (2,) and (0 <= x).all() and (x <= 1).all()
  assert np.abs(X - x).max(1).min() > 0

def test_optimizer_mixed_space_valid_and_avoids_taken(fitted):
  space = Space({"x": Float(0, 1), "k": Int(0, 3), "c": Categorical(["a", "b"])})  # 4 encoded columns
  rng = np.random.default_rng(2)
  X = space.sample(rng, 7)
  y = -((X[:, 0] - 0.5) ** 2) - X[:, 1] + X[:, 2]
  gp = GPRegressor().fit(X, y, categorical=space.cat_groups)
  for seed in range(3):
    x, _ = optimize_acquisition(posterior, gp.posterior_state(), space, best=float(gp.y_train.max()), rng=np.random.default_rng(seed),
                                X_observed=X, X_top=X[:3], lengthscales=gp.hyperparameters["lengthscales"])
    np.testing.assert_array_equal(space.round(x[None])[0], x)
    space.validate(space.decode(x))
    assert np.abs(X - x).max(1).min() > 0

# ***** Sobol *****

def test_sobol_unscrambled_matches_the_reference_sequence():
  qmc = pytest.importorskip("scipy.stats.qmc")
  for d in (1, 6, 40, 45):
    np.testing.assert_array_equal(sobol(128, d)[:, :40], qmc.Sobol(d, scramble=False).random(128)[:, :40])

@pytest.mark.parametrize("d", [2, 7, 50])
def test_scrambled_sobol_is_a_stratified_net(d):
  X = sobol(256, d, np.random.default_rng(d))
  assert X.shape == (256, d) and (X >= 0).all() and (X < 1).all()
  # every one-dimensional projection of the first 2^m points puts exactly one point in each interval [i/2^m, (i+1)/2^m)
  for j in range(d): assert len(np.unique(np.floor(X[:, j] * 256))) == 256
  assert not np.allclose(X, sobol(256, d, np.random.default_rng(d + 1)))
  np.testing.assert_array_equal(X, sobol(256, d, np.random.default_rng(d)))

def test_match_rows_finds_every_equal_row_whatever_the_shapes():
  # the duplicate check must agree with a brute-force comparison for rows taken from matrices of any shape (a float hash
  # through BLAS missed equal rows of differently shaped matrices: their dot products differed in the last bits)
  from tinybo.optim_acqf import match_rows as _match_rows
  rng = np.random.default_rng(0)
  space = Space({"a": Int(1, 25), "b": Int(1, 4), "c": Float(0, 1), "d": Categorical(["x", "y", "z"])})
  for m, n in [(1, 1), (3, 40), (64, 7), (1024, 300), (5, 2000)]:
    B = space.round(space.sample(rng, n))
    A = np.concatenate([B[rng.integers(0, n, m)], space.round(space.sample(rng, m))])
    expect = (np.abs(A[:, None, :] - B[None, :, :]).max(-1) <= 1e-12).any(1)
    assert np.array_equal(_match_rows(A, B), expect)
    assert _match_rows(A[:m], B).all()

def test_log_h_gradient_at_the_tail_boundary():
  # at exactly z = -20 the tail branch took z through minimum(z, -20), which splits its gradient with the constant: half
  from tinybo.special import log_h
  for z0 in (-20.0, -20.5, -19.5, -5.0):
    z = Tensor([z0], dtype=dtypes.float64)
    (g,) = log_h(z).sum().gradient(z)
    eps = 1e-6
    fd = (log_h(Tensor([z0 + eps], dtype=dtypes.float64)).item() - log_h(Tensor([z0 - eps], dtype=dtypes.float64)).item()) / (2 * eps)
    assert g.item() == pytest.approx(fd, rel=1e-5), z0
