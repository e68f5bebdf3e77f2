"""The computations that check a tinygrad device against numpy and the CPU backend: the linear algebra (Cholesky, both
triangular solves, the triangular inverse, in the serial and the work-group forms), a GP's fit, posterior and gradient,
and a short GP study through the public API. One copy for both users: tests/test_opencl.py (pocl's CL in a child
process) and benchmarks/device_check.py (a GPU, where CI never runs).
Imports: tinybo (inside the functions: the caller picks the device first), numpy.
"""
from __future__ import annotations

import math

import numpy as np

# ***** the surrogate, named in ONE place *****

def surrogate(device:str, dtype_name:str|None=None):
  from tinygrad import dtypes

  from tinybo.gp import GPRegressor
  return GPRegressor(device=device, dtype=None if dtype_name is None else getattr(dtypes, dtype_name))

def posterior_fn():
  from tinybo.gp import posterior
  return posterior

# ***** the computations, the same code on either device *****

N_LINALG = 6                      # small: every shape is a pocl compile
N_WORK_ITEMS = (6, 64, 257)       # 257: more rows than a block (linalg.BLOCK = 128): blocks of 128, 128 and 1, the trailing updates
                                  # and the blocked solves; more columns than work-items in the solves (spare ones gated off)
rng0 = np.random.default_rng(14)
X_GP = rng0.uniform(size=(30, 3))  # the shapes of tests/test_gp.py (bucket N = 32, D = 4): the CPU side is compiled already
Y_GP = np.sin(5 * X_GP[:, 0]) + (X_GP[:, 1] - 0.3) ** 2 + 0.5 * X_GP[:, 2]
XQ_GP = rng0.uniform(size=(5, 3))
STUDY_TRIALS = 12

def spd(n:int, batch:int, seed:int) -> np.ndarray:
  rng = np.random.default_rng(seed)
  Q, _ = np.linalg.qr(rng.standard_normal((batch, n, n)))
  A = (Q * np.exp(rng.uniform(-np.log(1e3), 0, size=(batch, n)))[:, None, :]) @ Q.transpose(0, 2, 1)
  return (A + A.transpose(0, 2, 1)) / 2

def linalg_case(device:str, dtype_name:str, form:str, batch:int|None, n:int=N_LINALG) -> dict:
  """Cholesky, both triangular solves and the triangular inverse of one random SPD matrix (or a batch of 2)."""
  from tinygrad import Tensor, dtypes

  from tinybo.linalg import cholesky, solve_triangular, triangular_inverse
  dt = getattr(dtypes, dtype_name)
  A = spd(n, batch or 1, seed=n)
  B = np.random.default_rng(n + 1).standard_normal((batch or 1, n, 3))
  if batch is None: A, B = A[0], B[0]
  def T(a): return Tensor(a, dtype=dt, device=device)
  L = cholesky(T(A), impl=form).numpy()
  L_ref = np.linalg.cholesky(A)
  return {"L": L.tolist(), "X_lower": solve_triangular(T(L_ref), T(B), impl=form).numpy().tolist(),
          "X_upper": solve_triangular(T(np.swapaxes(L_ref, -1, -2)), T(B), lower=False, impl=form).numpy().tolist(),
          "L_inv": triangular_inverse(T(L_ref), impl=form).numpy().tolist()}

def gp_case(device:str, dtype_name:str|None) -> dict:
  """Fit, predict and the gradient of the posterior mean + variance in the query points (tinygrad autograd)."""
  from tinygrad import Tensor
  gp = surrogate(device, dtype_name).fit(X_GP, Y_GP)
  mean, var = gp.predict(XQ_GP)
  Xq = Tensor(XQ_GP, dtype=gp.dtype, device=device)
  m, v = posterior_fn()(*gp.posterior_state(), Xq)
  grad = (m.sum() + v.sum()).gradient(Xq)[0].numpy()
  return {"mean": mean.tolist(), "var": var.tolist(), "grad": grad.tolist(), "device": m.device, "dtype": str(gp.dtype),
          "lengthscales": np.asarray(gp.hyperparameters["lengthscales"]).tolist()}

def objective_inputs(X:np.ndarray, y:np.ndarray, lengthscales, noise:float, kernel:str="matern52", b:int=1) -> tuple[np.ndarray, np.ndarray]:
  """The fit objective's packed inputs as `gp.unpack` reads them, y standardized, every row real: data[n, d+2] =
  [X | y | mask], params[b, d+7] = [log ℓ | log σ_f² = 0 | log σ_n² | jitter 1e-9 | the kernel's coef]."""
  from tinybo.kernels import KERNEL_COEFS
  data = np.concatenate([X, ((y - y.mean()) / y.std())[:, None], np.ones((len(X), 1))], 1)
  params = np.concatenate([np.log(lengthscales), [0.0, np.log(noise), 1e-9], list(KERNEL_COEFS[kernel])])
  return data, np.tile(params, (b, 1))

def objective_case(device:str, dtype_name:str, n:int=N_WORK_ITEMS[-1], kernel:str="matern52") -> dict:
  """One evaluation of the fit's objective (`gp.nll_grad_factor`: NLL, its gradient, L⁻¹ and α) on n points, uncaptured:
  at n = 257 every blocked path of the fit at once, and the reductions after it as the device schedules them. Matérn-1/2
  (the trust region's roughest kernel): its dk/du = −k/(2r) is exact only where K's diagonal has u = 0 exactly."""
  from tinygrad import Tensor, dtypes

  from tinybo.gp import nll_grad_factor
  rng = np.random.default_rng(n)
  X = rng.uniform(size=(n, 3))
  data, params = objective_inputs(X, np.sin(4 * X[:, 0]) + X[:, 1] ** 2, [0.3, 0.5, 2.0], 1e-3, kernel)
  dt = getattr(dtypes, dtype_name)
  out, Linv, alpha = [t.numpy() for t in nll_grad_factor(Tensor(data, dtype=dt, device=device), Tensor(params, dtype=dt, device=device))]
  return {"out": out.tolist(), "Linv": Linv.tolist(), "alpha": alpha.tolist()}

def branin(x1:float, x2:float) -> float:
  return (x2 - 5.1 / (4 * math.pi ** 2) * x1 ** 2 + 5 / math.pi * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10

def study_case(device:str, n_trials:int=STUDY_TRIALS) -> dict:
  """A short GP study on Branin through the public API; any fallback to random is recorded (it must not happen)."""
  import warnings

  import tinybo as tb
  space = tb.Space({"x1": tb.Float(-5, 10), "x2": tb.Float(0, 15)})
  strategy = tb.GP(device=device)
  opt = tb.Optimizer(space, strategy=strategy, seed=0)
  fallbacks = []
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for _ in range(n_trials):
      trial = opt.suggest()
      opt.observe(trial, branin(**trial.params))
      if strategy.last_fallback: fallbacks.append(strategy.last_fallback[:300])
  fallbacks += [str(w.message)[:300] for w in caught if "GP strategy" in str(w.message)]
  return {"trials": [[t.params["x1"], t.params["x2"], t.value] for t in opt.trials], "fallbacks": fallbacks}
