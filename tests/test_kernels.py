"""Covariance kernels: closed forms in numpy, gradients against finite differences, safety at distance zero."""
import math

import numpy as np
import pytest
from tinygrad import Tensor, dtypes
from tinygrad.helpers import Context

from tinybo.kernels import KERNEL_COEFS, KERNELS, check_kernel, dk_du, profile, stationary


@pytest.fixture(autouse=True)
def _fast_compile():
  # tests compile many small shapes: skipping kernel optimization makes that ~3x faster
  with Context(NOOPT=1): yield

def np_of_r(name, r):
  if name == "rbf": return np.exp(-r ** 2 / 2)
  if name == "matern12": return np.exp(-r)
  if name == "matern32": return (1 + math.sqrt(3) * r) * np.exp(-math.sqrt(3) * r)
  return (1 + math.sqrt(5) * r + 5 / 3 * r ** 2) * np.exp(-math.sqrt(5) * r)

def np_kernel(name, X1, X2, ls, sf2, w=None):
  w = np.ones(X1.shape[1]) if w is None else w
  return sf2 * np_of_r(name, np.sqrt(((((X1[:, None, :] - X2[None, :, :]) / ls) ** 2) * w).sum(-1)))

rng = np.random.default_rng(0)
X1, X2 = rng.uniform(size=(5, 3)), rng.uniform(size=(4, 3))
LS, SF2 = np.array([0.3, 0.7, 1.5]), 1.7

def T(a): return Tensor(np.asarray(a, dtype=np.float64), dtype=dtypes.float64)

@pytest.mark.parametrize("name", sorted(KERNELS))
def test_values_and_generic_form(name):
  ref = np_kernel(name, X1, X2, LS, SF2)
  np.testing.assert_allclose(KERNELS[name](T(X1), T(X2), T(LS), SF2).numpy(), ref, rtol=1e-12)
  np.testing.assert_allclose(stationary(T(X1), T(X2), T(LS), T(SF2), T(KERNEL_COEFS[name])).numpy(), ref, rtol=1e-12)

@pytest.mark.parametrize("name", sorted(KERNELS))
def test_derivative_in_u_matches_autograd_and_the_closed_form(name):
  # dk/du (u = r²), which the marginal-likelihood gradient uses, against tinygrad autograd through the same kernel and
  # against finite differences of the numpy closed form; finite at u = 0, where the NLL multiplies it by (Δx)² = 0
  uu = np.concatenate([[0.0], np.geomspace(1e-6, 30.0, 60)])
  u, coef = T(uu), T(KERNEL_COEFS[name])
  pos, r, s, poly, ex = profile(u, coef)
  ours = dk_du(pos, r, s, poly, ex * SF2, coef).numpy()
  (auto,) = (poly * ex * SF2).sum().gradient(u)
  np.testing.assert_allclose(ours[1:], auto.numpy()[1:], rtol=1e-10, atol=1e-300)
  h = 1e-4 * uu[1:]
  fd = SF2 * (np_of_r(name, np.sqrt(uu[1:] + h)) - np_of_r(name, np.sqrt(uu[1:] - h))) / (2 * h)
  np.testing.assert_allclose(ours[1:], fd, rtol=1e-6, atol=1e-12)
  assert np.isfinite(ours[0])

@pytest.mark.parametrize("name", sorted(KERNELS))
def test_gradients_match_finite_differences(name):
  # d/d(lengthscales) and d/d(X1) of a weighted sum of the kernel matrix
  W = rng.standard_normal((5, 4))
  ls, x1 = T(LS), T(X1)
  val = (KERNELS[name](x1, T(X2), ls, SF2) * T(W)).sum()
  g_ls, g_x = val.gradient(ls, x1)
  def f(X1_, ls_): return (np_kernel(name, X1_, X2, ls_, SF2) * W).sum()
  eps = 1e-6
  fd_ls = np.array([(f(X1, LS + eps * e) - f(X1, LS - eps * e)) / (2 * eps) for e in np.eye(3)])
  np.testing.assert_allclose(g_ls.numpy(), fd_ls, rtol=1e-6, atol=1e-8)
  fd_x = np.zeros_like(X1)
  for i in range(5):
    for j in range(3):
      E = np.zeros_like(X1); E[i, j] = eps
      fd_x[i, j] = (f(X1 + E, LS) - f(X1 - E, LS)) / (2 * eps)
  np.testing.assert_allclose(g_x.numpy(), fd_x, rtol=1e-5, atol=1e-7)

@pytest.mark.parametrize("name", sorted(KERNELS))
@pytest.mark.parametrize("dt", [dtypes.float32, dtypes.float64])
def test_no_nan_gradient_at_distance_zero(name, dt):
  X = Tensor(X1, dtype=dt)
  ls, sf2 = Tensor(LS, dtype=dt), Tensor(SF2, dtype=dt)
  K = KERNELS[name](X, X, ls, sf2)
  g_x, g_ls, g_sf = K.sum().gradient(X, ls, sf2)
  for g in (K, g_x, g_ls, g_sf): assert np.isfinite(g.numpy()).all()
  np.testing.assert_allclose(np.diag(K.numpy()), SF2, rtol=1e-6)

def test_batched_hyperparameters_broadcast():
  ls = T(np.stack([LS, 2 * LS])); sf2 = T([1.0, 3.0])
  K = KERNELS["matern52"](T(X1), T(X2), ls, sf2).numpy()
  assert K.shape == (2, 5, 4)
  np.testing.assert_allclose(K[1], np_kernel("matern52", X1, X2, 2 * LS, 3.0), rtol=1e-12)

def test_categorical_block_is_hamming():
  # columns 1..3 one-hot: two different categories are at squared distance 1/ℓ², whatever the pair
  A = np.array([[0.2, 1, 0, 0], [0.2, 0, 1, 0], [0.2, 0, 0, 1], [0.2, 1, 0, 0]])
  ls = np.array([0.5, 0.8, 0.8, 0.8])
  K = KERNELS["rbf"](T(A), T(A), T(ls), 1.0, categorical=[slice(1, 4)]).numpy()
  off = math.exp(-0.5 / 0.8 ** 2)
  np.testing.assert_allclose(K, np.where(np.arange(4)[:, None] % 3 == np.arange(4) % 3, 1.0, off), rtol=1e-12)

def test_unknown_kernel():
  with pytest.raises(ValueError, match="matern52"): check_kernel("cosine")
