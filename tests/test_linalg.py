"""tinybo.linalg against numpy/LAPACK on random SPD matrices, every implementation, float32 and float64.

The parallel (work-group) form of the custom kernels runs on tinygrad's PYTHON device here: an emulator of a GPU with
work-groups, local memory and barriers, so it is tested on any machine (slowly: small sizes). tests/test_opencl.py runs it
on a real OpenCL runtime (pocl)."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tinygrad import Tensor, dtypes
from tinygrad.helpers import Context

import tinybo.linalg as linalg
from tinybo.linalg import cho_solve, cholesky, kernel_form, logdet_from_cholesky, solve_triangular, triangular_inverse


@pytest.fixture(autouse=True)
def _fast_compile():
  # tests compile many small shapes: skipping kernel optimization makes that ~3x faster
  with Context(NOOPT=1): yield

# a few sizes only: every distinct shape compiles a new kernel
SIZES = {"custom": [1, 5, 17], "tensor": [1, 4], "parallel": [1, 4]}
# where each implementation runs: the parallel form needs work-groups, which the CPU backend does not have
DEVICE = {"custom": "CPU", "tensor": "CPU", "parallel": "PYTHON"}
TOL = {dtypes.float32: 2e-4, dtypes.float64: 1e-10}
DT = [dtypes.float32, dtypes.float64]

def spd(rng:np.random.Generator, n:int, batch:int|None, cond:float) -> np.ndarray:
  # eigenvalues spread over [1/cond, 1] in a random basis: a controlled condition number
  shape = (batch or 1, n, n)
  Q, _ = np.linalg.qr(rng.standard_normal(shape))
  ev = np.exp(rng.uniform(-np.log(cond), 0, size=shape[:2]))
  A = (Q * ev[:, None, :]) @ Q.transpose(0, 2, 1)
  A = (A + A.transpose(0, 2, 1)) / 2
  return A if batch else A[0]

def rel(a, b): return np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)

cases = st.tuples(st.sampled_from(["custom", "tensor", "parallel"]), st.sampled_from(DT), st.sampled_from([None, 2]), st.integers(0, 2**31 - 1))

@settings(max_examples=16, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases, st.data())
def test_cholesky_solves_logdet(case, data):
  impl, dt, batch, seed = case
  n = data.draw(st.sampled_from(SIZES[impl]))
  rng = np.random.default_rng(seed)
  A = spd(rng, n, batch, cond=1e3 if dt == dtypes.float32 else 1e6)
  tol = TOL[dt] * (10 if dt == dtypes.float32 else 1e3)
  def T(a): return Tensor(a, dtype=dt, device=DEVICE[impl])
  L_ref = np.linalg.cholesky(A)
  L = cholesky(T(A), impl=impl).numpy()
  assert rel(L, L_ref) < tol
  assert np.all(np.triu(L, 1) == 0)
  Lt = T(L_ref)
  B = rng.standard_normal(A.shape[:-1] + (3,))
  np.testing.assert_allclose(solve_triangular(Lt, T(B), impl=impl).numpy(), np.linalg.solve(L_ref, B),
                             atol=tol * np.abs(np.linalg.solve(L_ref, B)).max())
  U = np.swapaxes(L_ref, -1, -2)
  np.testing.assert_allclose(solve_triangular(T(U), T(B), lower=False, impl=impl).numpy(),
                             np.linalg.solve(U, B), atol=tol * np.abs(np.linalg.solve(U, B)).max())
  x_ref = np.linalg.solve(A, B)[..., 0]
  x = cho_solve(Lt, T(B[..., 0]), impl=impl).numpy()
  assert x.shape == x_ref.shape and rel(x, x_ref) < tol * 100
  np.testing.assert_allclose(logdet_from_cholesky(Lt).numpy(), np.linalg.slogdet(A)[1], atol=tol * n * 10)
  Linv = triangular_inverse(Lt, impl=impl)
  assert Linv.device == DEVICE[impl]  # the identity it solves against is stored on L's device, not Device.DEFAULT
  assert rel(Linv.numpy(), np.linalg.inv(L_ref)) < tol * 10

@pytest.mark.parametrize("dt", DT)
def test_parallel_form_equals_serial_form(dt, monkeypatch):
  # 3 work-items for n = 7 (the cap lowered from 256): each owns up to 3 columns and the last one's spare column is gated
  # off, the path n > 256 takes on a GPU; the serial form on the CPU is the reference, to rounding
  monkeypatch.setattr(linalg, "MAX_WORK_ITEMS", 3)
  assert linalg.work_split(7) == (3, 3)
  rng = np.random.default_rng(7)
  A = spd(rng, 7, 2, cond=1e3)
  B = rng.standard_normal((2, 7, 7))
  tol = 1e-5 if dt == dtypes.float32 else 1e-13
  def both(fn, *arrays):
    par = fn(*[Tensor(a, dtype=dt, device="PYTHON") for a in arrays], impl="parallel").numpy()
    ser = fn(*[Tensor(a, dtype=dt, device="CPU") for a in arrays], impl="serial").numpy()
    return par, ser
  L, L_ser = both(cholesky, A)
  assert rel(L, L_ser) < tol and rel(L, np.linalg.cholesky(A)) < tol * 10 and np.all(np.triu(L, 1) == 0)
  L_ref = np.linalg.cholesky(A)
  for lower, T in ((True, L_ref), (False, np.swapaxes(L_ref, -1, -2))):
    X, X_ser = both(lambda t, b, impl, lower=lower: solve_triangular(t, b, lower=lower, impl=impl), T, B)
    assert rel(X, X_ser) < tol and rel(X, np.linalg.solve(T, B)) < tol * 10

@pytest.mark.parametrize("dt", DT)
@pytest.mark.parametrize("batch", [None, 2])
def test_blocked_parallel_form_equals_numpy(dt, batch, monkeypatch):
  # the parallel form above BLOCK rows goes by blocks (the path n > 256 takes on a GPU), lowered here to blocks of 3 over
  # n = 8 (blocks 3, 3, 2) with 2 work-items per work-group (a diagonal block's spare column gated off): the factor, both
  # solves and the inverse against numpy, and the blocked paths are the ones taken
  monkeypatch.setattr(linalg, "BLOCK", 3)
  monkeypatch.setattr(linalg, "MAX_WORK_ITEMS", 2)
  calls = {"cholesky": 0, "trsm": 0}
  def counted(name, fn):
    def wrapped(*a):
      calls[name] += 1
      return fn(*a)
    return wrapped
  monkeypatch.setattr(linalg, "_cholesky_blocked", counted("cholesky", linalg._cholesky_blocked))
  monkeypatch.setattr(linalg, "_trsm_blocked", counted("trsm", linalg._trsm_blocked))
  rng = np.random.default_rng(11)
  A = spd(rng, 8, batch, cond=1e3)
  B = rng.standard_normal(A.shape[:-1] + (5,))
  tol = 1e-5 if dt == dtypes.float32 else 1e-12
  def T(a): return Tensor(a, dtype=dt, device="PYTHON")
  L = cholesky(T(A), impl="parallel").numpy()
  L_ref = np.linalg.cholesky(A)
  assert L.shape == A.shape and rel(L, L_ref) < tol * 10 and np.all(np.triu(L, 1) == 0)
  U_ref = np.swapaxes(L_ref, -1, -2)
  assert rel(solve_triangular(T(L_ref), T(B), impl="parallel").numpy(), np.linalg.solve(L_ref, B)) < tol * 10
  assert rel(solve_triangular(T(U_ref), T(B), lower=False, impl="parallel").numpy(), np.linalg.solve(U_ref, B)) < tol * 10
  assert rel(triangular_inverse(T(L_ref), impl="parallel").numpy(), np.linalg.inv(L_ref)) < tol * 10
  assert calls["cholesky"] == 1 and calls["trsm"] >= 3

def test_a_matrix_whose_pivot_row_exceeds_local_memory_still_takes_the_blocked_parallel_form(monkeypatch):
  # local memory holds one block's pivot row, not the whole matrix's: with room for 4 values and blocks of 3, n = 8 runs
  # the work-group kernels by blocks rather than falling back to the serial loop (one work-item per matrix on a GPU)
  from tinygrad import Device
  monkeypatch.setattr(linalg, "BLOCK", 3)
  monkeypatch.setattr(Device["PYTHON"].renderer, "shared_max", 4 * 8)
  seen, blocked = [], linalg._cholesky_blocked
  monkeypatch.setattr(linalg, "_cholesky_blocked", lambda *a: seen.append(1) or blocked(*a))
  A = spd(np.random.default_rng(3), 8, None, cond=1e2)
  L = cholesky(Tensor(A, device="PYTHON")).numpy()
  assert seen and rel(L, np.linalg.cholesky(A)) < 1e-12

def test_blocked_cholesky_of_a_matrix_that_is_not_positive_definite_has_nan_on_its_diagonal(monkeypatch):
  # the failure shows where callers look for it (the diagonal), also when it happens in a later block
  monkeypatch.setattr(linalg, "BLOCK", 3)
  A = np.eye(8)
  A[6, 6] = -1.0
  L = cholesky(Tensor(A, device="PYTHON"), impl="parallel").numpy()
  assert np.isnan(np.diag(L)).any() and np.allclose(np.diag(L)[:6], 1.0)

def test_kernel_form_is_chosen_by_device():
  assert kernel_form("CPU") == "serial"  # no work-groups: one loop nest per matrix
  assert kernel_form("PYTHON") == "parallel"
  assert kernel_form("PYTHON", local_bytes=10**9) == "serial"  # a pivot row that would not fit in local memory
  with pytest.raises(ValueError, match="parallel"): cholesky(Tensor(np.eye(2)), impl="parallel")

@pytest.mark.parametrize("impl", ["custom", "tensor", "parallel"])
def test_not_positive_definite_gives_nan(impl):
  A = np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
  L = cholesky(Tensor(A, dtype=dtypes.float64, device=DEVICE[impl]), impl=impl).numpy()
  assert not np.isfinite(np.diag(L)).all()

def test_padded_matrix_factors_blockwise():
  # the GP pads K to [[K, 0], [0, I]]: its factor must be [[L, 0], [0, I]]
  rng = np.random.default_rng(0)
  A = spd(rng, 5, None, 10.0)
  P = np.eye(8); P[:5, :5] = A
  L = cholesky(Tensor(P, dtype=dtypes.float64)).numpy()
  np.testing.assert_allclose(L[:5, :5], np.linalg.cholesky(A), atol=1e-12)
  np.testing.assert_array_equal(L[5:, 5:], np.eye(3)); np.testing.assert_array_equal(L[5:, :5], 0)

def test_unknown_impl():
  with pytest.raises(ValueError, match="impl"): cholesky(Tensor(np.eye(2)), impl="lapack")
