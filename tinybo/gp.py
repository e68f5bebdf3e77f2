"""The Gaussian-process surrogate on tinygrad: the hyperparameter priors, the marginal-likelihood program, the posterior,
and `GPRegressor` (MAP fit with batched restarts or a warm start, prediction, Kriging-believer conditioning).
Imports: kernels, linalg, lbfgs, transforms, _tinygrad (captured programs, copies, buckets), tinygrad, numpy.
Glossary (shapes; N and D are bucket sizes, n ≤ N real observations, d ≤ D real columns):
  X[N,D]     training inputs in the unit cube, zero-padded (zero columns add zero distance, padded rows are masked)
  mask[N]    1 for real rows, 0 for padding;   y[N]  standardized targets, 0 on padding
  θ[b,P]     log hyperparameters of b restarts at once, P = D + 2: [log ℓ (D), log σ_f², log σ_n²]
  φ[b,G+2]   the optimizer's parameters: one log ℓ per group (a continuous column, or a one-hot block sharing one ℓ),
             log σ_f², log σ_n²; θ = expand(φ)
  K[b,N,N]   padded covariance [[σ_f² k(X,X) + (σ_n² + jitter) I, 0], [0, I]], factors to [[L, 0], [0, I]]
  L, Linv    Cholesky factor of K and its inverse (Linv0: the same with the padded block zeroed)
  α[N]       K⁻¹ y;   coef[4]  kernel shape (c, p1, p2, q), see kernels.py
NLL(θ) = ½ yᵀα + Σ log diag L + (n/2) log 2π, dNLL/dθ = ½ tr((K⁻¹ − ααᵀ) ∂K/∂θ): custom kernels factor K (no autograd
through them), ∂K/∂θ comes from `kernels.dk_du`. One captured step gives NLL, gradient and factors for b restarts, driven
by the numpy L-BFGS. The posterior is plain tensor ops, differentiable in the query points by autograd.
structure="additive" (learning curves, the last column the fidelity z): `nll_grad_factor_additive`, φ = [log ℓ_f (G−1) |
log ℓ_g (G) | log σ_f², log σ_g², log σ_n²]; its posterior at z = 0 is `posterior` with ℓ_f and σ_f².
"""
from __future__ import annotations

import math
import sys
from collections.abc import Callable

import numpy as np
from tinygrad import Device, Tensor, dtypes
from tinygrad.dtype import DType

from tinybo._tinygrad import D_BUCKETS, N_BUCKETS, CachedJit, bucket, download, program, replay, upload
from tinybo.kernels import check_kernel, column_weights, dk_du, profile, self_sqdist, stationary
from tinybo.lbfgs import Curvature, lbfgs
from tinybo.linalg import cholesky, eye_like, kernel_form, solve_triangular, triangular_inverse
from tinybo.transforms import YTransform


class GPFitError(RuntimeError):
  """The GP could not be fitted (non-finite data, or no hyperparameters gave a positive-definite kernel matrix)."""

# ***** priors (numpy, in φ space; cheap, so they stay out of the captured step) *****

NOISE_FLOOR, LENGTHSCALE_PRIORS = {dtypes.float64: 1e-6, dtypes.float32: 1e-4}, ("unit", "hvarfner")
STRUCTURES = ("product", "additive")   # GPRegressor's kernel over (configuration, fidelity) columns
FAR = 50.0   # log lengthscale of the additive kernel's k_f on the fidelity column: z/e^50 adds nothing to any distance
# the lowest a fit's `floor_scale` may take the noise floor: in float64 a decade below the 1e-9 jitter, which then keeps
# the diagonal's floor; in float32 a decade below its floor: there the float32 factor (with α = L⁻ᵀ(L⁻¹y), `_factor`) still
# resolves the posterior mean near the best point (tests/test_gp.py), a decade lower factorizations need the jitter's
# escalation and the mean's rounding reaches a tenth of its spread there
LOWEST_NOISE = {dtypes.float64: 1e-10, dtypes.float32: 1e-5}
# the shortest lengthscale (unit cube) a fit may reach under each prior. "unit" needs no bound of its own: its −0.1 ℓ⁻² term
# already rules out short ones. The lognormal's tail does not, and BoTorch bounds it at 0.025 (GreaterThan(2.5e-2) in
# get_covar_module_with_dim_scaled_prior); without the bound a fit can explain a high-frequency ripple (Ackley's cosine,
# period 1/65.5 of the unit cube) as signal with lengthscales near 0.004, and the model reverts to its prior mean
# everywhere else (benchmarks/README.md, Ackley)
MIN_LENGTHSCALE = {"unit": 1e-3, "hvarfner": 2.5e-2}

def log_prior(phi:np.ndarray, n_groups:int, kind:str="unit", n_scales:int=1) -> tuple[np.ndarray, np.ndarray]:
  """Log prior density of φ[b, L + n_scales + 1] = [log ℓ (L) | log σ² (n_scales) | log σ_n²] (up to a constant) and its
  gradient; L = n_groups with one kernel, more with the additive curve kernel (its lengthscales come in two sets, each
  under this prior, with the dimension n_groups). Lengthscales, by `kind`:
  "unit": −0.1 (ℓ² + ℓ⁻²) per lengthscale (Optuna's GPSampler): mode ℓ = 1, large ℓ cost quadratically, so the model
  keeps believing that every input matters and keeps exploring. "hvarfner": ℓ ~ LogNormal(√2 + ½ log G, √3) (Hvarfner et
  al. 2024, BoTorch's default), as BoTorch maximizes it: a density in ℓ, so in φ = log ℓ it carries the Jacobian term −φ
  and its mode is ℓ = exp(μ − σ²) (0.5 for G = 6, 0.9 for G = 20), not exp(μ); the lengthscales grow like √d, with a heavy
  tail towards irrelevant inputs (benchmarks/README.md compares the two).
  each log σ² ~ N(0, 1.5); σ_n² ~ Gamma(1.1, rate 30) as a function of log σ_n² without the Jacobian (as Optuna's GP):
  0.1 log σ_n² − 30 σ_n², which favours small noise."""
  L = phi.shape[1] - n_scales - 1
  ls, sf, sn = phi[:, :L], phi[:, L:L + n_scales], phi[:, -1]
  if kind == "unit":
    e2 = np.exp(2 * ls)
    lval, lgrad = -0.1 * (e2 + 1 / e2), -0.2 * (e2 - 1 / e2)
  else:
    mu, sd = math.sqrt(2) + 0.5 * math.log(max(n_groups, 1)), math.sqrt(3)
    lval, lgrad = -0.5 * ((ls - mu) / sd) ** 2 - ls, -(ls - mu) / sd ** 2 - 1.0
  val = lval.sum(1) - 0.5 * ((sf / 1.5) ** 2).sum(1) + 0.1 * sn - 30 * np.exp(sn)
  grad = np.concatenate([lgrad, -sf / 1.5 ** 2, (0.1 - 30 * np.exp(sn))[:, None]], axis=1)
  return val, grad

def check_noise(noise:float|str|None, name:str="noise") -> float|str|None:
  """None (fitted), "deterministic" (fixed at the numerical floor) or a variance >= 0 in the units of y squared (a floor)."""
  if noise is None or noise == "deterministic": return noise
  if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not math.isfinite(noise) or noise < 0:
    raise ValueError(f"{name}={noise!r}: use None (fitted), 'deterministic', or a finite variance >= 0 (the objective's noise sd squared)")
  return float(noise)

def noise_bounds(noise:float|str|None, floor:float, y_scale:float) -> tuple[float, float]:
  """(lowest, highest) noise variance in standardized units: fitted within [floor, 10], at least the given variance
  (y units squared, divided by y_scale²), or pinned to the floor for a deterministic objective."""
  if noise == "deterministic": return floor, floor
  if noise is None: return min(floor, 10.0), 10.0
  s = max(y_scale, 1e-300)
  # values spread below ~1e-154 (a loss near 1e-200): s² underflows, so divide by s twice (0 stays 0, the rest is huge)
  ratio = float(noise) / s ** 2 if s ** 2 >= sys.float_info.min else float(noise) / s / s
  return min(max(floor, ratio), 10.0), 10.0

def check_prior(kind:str) -> str:
  if not isinstance(kind, str) or kind not in LENGTHSCALE_PRIORS: raise ValueError(f"lengthscale_prior={kind!r}; use one of {LENGTHSCALE_PRIORS}")
  return kind

# ***** the captured programs: the marginal likelihood step and the posterior *****

def unpack(data:Tensor, params:Tensor):
  # inputs are packed (each jit input costs a launch-sized overhead): data[N, D+2] = [X | y | mask],
  # params[b, D+7] = [θ (D+2) | jitter | coef (4)]
  D = data.shape[1] - 2
  return data[:, :D], data[:, D], data[:, D + 1], params[:, :D + 2], params[:, D + 2], params[0, D + 3:D + 7]

def _factor(K:Tensor, y:Tensor, mask:Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
  """NLL[b], Linv[b,N,N], the posterior's α[b,N] and W = K⁻¹ − ααᵀ [b,N,N] (α = K⁻¹y, the NLL's) of a padded covariance K[b,N,N]."""
  L = cholesky(K)
  Linv = triangular_inverse(L)
  # K⁻¹ = L⁻ᵀ L⁻¹ by a second substitution kernel: measured 1-3x faster than tinygrad's float64 matmul here
  Kinv = solve_triangular(L.transpose(-1, -2), Linv, lower=False)
  alpha = (Kinv @ y.unsqueeze(-1))[..., 0]   # the NLL and W from one K⁻¹: the gradient stays the NLL's own
  nll = 0.5 * (y * alpha).sum(-1) + L.diagonal(dim1=-2, dim2=-1).log().sum(-1) + 0.5 * math.log(2 * math.pi) * mask.sum()
  W = Kinv - alpha.unsqueeze(-1) * alpha.unsqueeze(-2)
  if K.dtype != dtypes.float64:
    # float32: the posterior's α = L⁻ᵀ(L⁻¹y). Through the explicit K⁻¹, α's rounding error grows with κ(K)·ε, and at
    # float32's noise floor it exceeds the differences of the posterior mean near the best point; L⁻¹y stays of the data's size
    alpha = (Linv.transpose(-1, -2) @ (Linv @ y.unsqueeze(-1)))[..., 0]
  return nll, Linv, alpha, W

def _spread(t:Tensor) -> Tensor:
  """`t` as its own kernel where the device has work-groups. Fused into the step's last kernel, the reductions behind the
  output's few columns run one work-item each, serially over N² (on a GPU, the largest kernel of a step after the
  factorization); apart, each spreads over the device. A CPU core runs them serially either way: there fusing saves launches."""
  return t.contiguous() if kernel_form(t.device) == "parallel" else t

def _lengthscale_grad(M:Tensor, A:Tensor, own_kernel:bool=True) -> Tensor:
  """dNLL/dlog ℓ [b,D] = −Σ_ij M_ij (a_ik − a_jk)², M = W ⊙ dk/du, a = X/ℓ: two matmuls, no [N,N,D] tensor.
  own_kernel: computed apart from the step's output. Fused into it (a `cat` with the other columns), the CPU's one
  kernel ran the reductions of every column for each of them: 0.71 ms against 0.16 + 0.03 ms at N = 160, D = 24, the
  same values bit for bit. The additive step keeps the fused form (own_kernel=False): there the separate kernel sums in
  another order (differences of 1e-12) and would move the stored learning-curve runs off their paths."""
  g = -2 * ((_spread(M.sum(-1)).unsqueeze(-1) * A.square()).sum(1) - (A * _spread(M @ A)).sum(1))
  return g.contiguous() if own_kernel else _spread(g)

def _noise(K:Tensor, mask:Tensor, sn2:Tensor, jitter:Tensor) -> Tensor:
  """K with the noise on the real rows' diagonal and the identity on the padded block."""
  return K + (mask * (sn2 + jitter).unsqueeze(-1) + (1 - mask)).unsqueeze(-1) * eye_like(K)

def nll_grad_factor(data:Tensor, params:Tensor) -> tuple[Tensor, Tensor, Tensor]:
  """Per restart: [NLL | dNLL/dθ] [b, 1+P], Linv0 [b,N,N] and α [b,N] (NaN rows: the factorization failed).
  The gradient is the trace identity with dk/du (u = r²): dNLL/dlog ℓ_k = −Σ_ij M_ij (a_ik − a_jk)² with
  M = (K⁻¹ − ααᵀ) ⊙ dk/du and a = X/ℓ: two matmuls, no [N,N,D] tensor."""
  X, y, mask, theta, jitter, coef = unpack(data, params)
  D = X.shape[1]
  sf2, sn2 = theta[:, D].exp(), theta[:, D + 1].exp()
  ls = theta[:, :D].exp()
  A = X / ls.unsqueeze(1)                                                    # [b,N,D]
  pos, r, s, poly, ex = profile(self_sqdist(X, ls), coef)
  e = ex * sf2.reshape(-1, 1, 1)
  m2 = mask.unsqueeze(-1) * mask
  Kf = (poly * e * m2).contiguous()
  nll, Linv, alpha, W = _factor(_noise(Kf, mask, sn2, jitter), y, mask)
  g_ls = _lengthscale_grad((W * dk_du(pos, r, s, poly, e, coef) * m2).contiguous(), A)
  g_sf = 0.5 * (W * Kf).sum((-2, -1))
  g_sn = 0.5 * (W.diagonal(dim1=-2, dim2=-1) * mask).sum(-1) * sn2
  out = _spread(nll).unsqueeze(-1).cat(g_ls, _spread(g_sf).unsqueeze(-1), _spread(g_sn).unsqueeze(-1), dim=1)
  return out.contiguous(), (Linv * m2).contiguous(), alpha.contiguous()

def nll_grad_factor_additive(data:Tensor, params:Tensor) -> tuple[Tensor, Tensor, Tensor]:
  """`nll_grad_factor` for the additive learning-curve kernel (structure="additive"):
  k((x, z), (x', z')) = σ_f² k(x, x'; ℓ_f) + w w' σ_g² k((x, z), (x', z'); ℓ_g), w = φ(z) per row, φ(0) = 0: the value
  at the target step (z = 0) is the first process alone, the second (the gap to it) vanishes there. Packed inputs:
  data[N, D+3] = [X | y | mask | w], params[b, 2D+8] = [log ℓ_f (D) | log ℓ_g (D) | log σ_f² | log σ_g² | log σ_n² |
  jitter | coef (4)]; k_f ignores z through a lengthscale of e^FAR there. Out: [NLL | dNLL/dθ] [b, 1+2D+3], Linv0, α."""
  D = data.shape[1] - 3
  X, y, mask, w = data[:, :D], data[:, D], data[:, D + 1], data[:, D + 2]
  theta, jitter, coef = params[:, :2 * D + 3], params[:, 2 * D + 3], params[0, 2 * D + 4:2 * D + 8]
  sf2, sg2, sn2 = theta[:, 2 * D].exp(), theta[:, 2 * D + 1].exp(), theta[:, 2 * D + 2].exp()
  m2 = mask.unsqueeze(-1) * mask
  ww = (w.unsqueeze(-1) * w) * m2
  parts = []
  for ls, scale, weight in ((theta[:, :D].exp(), sf2, m2), (theta[:, D:2 * D].exp(), sg2, ww)):
    pos, r, s, poly, ex = profile(self_sqdist(X, ls), coef)
    e = ex * scale.reshape(-1, 1, 1)
    parts.append((X / ls.unsqueeze(1), (poly * e * weight).contiguous(), (pos, r, s, poly, e, weight)))
  nll, Linv, alpha, W = _factor(_noise(parts[0][1] + parts[1][1], mask, sn2, jitter), y, mask)
  g_ls = [_lengthscale_grad((W * dk_du(pos, r, s, poly, e, coef) * weight).contiguous(), A, own_kernel=False)
          for A, _, (pos, r, s, poly, e, weight) in parts]
  g_sc = [0.5 * (W * Kp).sum((-2, -1)).unsqueeze(-1) for _, Kp, _ in parts]
  g_sn = 0.5 * (W.diagonal(dim1=-2, dim2=-1) * mask).sum(-1) * sn2
  out = _spread(nll).unsqueeze(-1).cat(*g_ls, *[_spread(g) for g in g_sc], _spread(g_sn).unsqueeze(-1), dim=1)
  return out.contiguous(), (Linv * m2).contiguous(), alpha.contiguous()

def posterior(X:Tensor, alpha:Tensor, Linv0:Tensor, hyper:Tensor, Xq:Tensor) -> tuple[Tensor, Tensor]:
  """Posterior mean and latent variance at Xq[..., M, d ≤ D] in standardized units. State = GPRegressor.posterior_state():
  X[N,D] padded training inputs, α[N] (0 on padding), Linv0[N,N] (padded block zeroed), hyper[D+5] =
  [effective lengthscales (D), σ_f², coef (4)]. Pure Tensor ops: differentiable in Xq, capturable by TinyJit."""
  D = X.shape[1]
  if Xq.shape[-1] < D: Xq = Xq.pad(((0, 0),) * (Xq.ndim - 1) + ((0, D - Xq.shape[-1]),))
  sf2 = hyper[D]
  Kq = stationary(Xq, X, hyper[:D], sf2, hyper[D + 1:D + 5]).contiguous()
  mean = Kq @ alpha
  v = Kq @ Linv0.transpose(-1, -2)  # not materialized: the square-sum fused into the matmul loop measured ~10x faster
  var = (sf2 - v.square().sum(-1)).maximum(0.0)
  return mean, var

def _posterior_contiguous(*args): return [t.contiguous() for t in posterior(*args)]

# the fit step compiles without kernel optimization up to this row bucket: there a capture takes ~2 s against 2.5-4 s (one
# restart) and 5-8 s (four), and the first suggestions of a fresh process wait for it; past it the optimized step replays
# 2-8x faster (0.29 against 0.87 ms at N = 64, one restart; 0.91 against 7.5 ms, four), and a study's fits replay it
# thousands of times (benchmarks/README.md, `fit_noopt.py`)
NOOPT_MAX_N = 32

def captured(name:str, fxn, N:int, D:int, m:int, dtype:DType, device:str) -> CachedJit:
  """The program `fxn` at bucket shape (N, D) and batch (restarts or query points) m. The fit step (~15 kernels) compiles
  without kernel optimization up to NOOPT_MAX_N, the posterior (matmul-bound) always with. Every shape goes to the disk
  cache (lean: code and graph, not the buffers' contents), so a fresh process joining a large study loads its programs."""
  return program((name, N, D, m, dtype, device), fxn, device=device, noopt=name == "nll" and N <= NOOPT_MAX_N, disk=True)

# ***** fit policy *****

# a cold fit's batch of restarts is evaluated row by row through the step of one row (the same numbers) at every row
# bucket: the batched step is one more program to compile per bucket (2-2.4 s unoptimized, up to 32 rows; 5-8 s
# optimized), and the first suggestions of a fresh process with empty caches wait for it, while its replay saves
# 0.2-0.3 ms an evaluation up to 32 rows (0.13-0.23 ms against 4 x 0.10-0.12, d = 6), is level up to 80 rows and slower
# from 96 (6.3 against 4 x 0.64 ms at N = 96, d = 20; `benchmarks/fit_noopt.py`). A row that stands still keeps its
# value (`held_still`), so later evaluations go through fewer rows. Rows from SEPARATE_MIN_N: 0, every bucket
SEPARATE_MIN_N = 0

def default_restarts(N:int) -> int:
  """Starts batched in a cold fit: 4 while a step is cheap, fewer when each costs O(N³) (warm starts carry big fits)."""
  return 4 if N <= 256 else 2 if N <= 640 else 1

def warm_fit_evals(N:int, refit:bool) -> int:
  """Objective evaluations a warm-started fit may spend. A warm start moves little with one more observation, and at
  large N each evaluation is an O(N³) factorization: there (N > 640) the hyperparameters are refitted only once n has
  grown 10% since the last refit (`refit`), else kept, and the one evaluation gives the factors for the new data."""
  return 50 if N <= 256 else 12 if refit else 1

def default_dtype(device:str) -> DType:
  """float64 where the backend has it (not Metal / WebGPU, which emulate or lack it)."""
  return dtypes.float32 if device.split(":")[0] in ("METAL", "WEBGPU") else dtypes.float64

def _array(a) -> np.ndarray: return np.asarray(a.numpy() if isinstance(a, Tensor) else a, dtype=np.float64)

def lone_mover(phi:np.ndarray, jitter:np.ndarray, last:dict) -> int|None:
  """The one row of a batched fit's evaluation at φ[b, ·] whose (φ, jitter) differ from the last evaluation's `last`, or
  None (one row, a first evaluation, several rows moved, or a row whose last value was not finite: the fit retries those
  with more jitter). A row that stands still has the value it had, so a batch of restarts whose other rows have stopped
  needs that row alone."""
  if len(phi) < 2 or "out" not in last: return None
  moved = ~held_still(phi, jitter, last)
  return int(np.flatnonzero(moved)[0]) if moved.sum() == 1 else None

def held_still(phi:np.ndarray, jitter:np.ndarray, last:dict) -> np.ndarray:
  """Per row of φ[b, ·], whether it stands where the last evaluation `last` left it (the same φ and jitter, a finite
  value there), so that evaluation's value is its value; all False before a first evaluation."""
  if "out" not in last: return np.zeros(len(phi), dtype=bool)
  return (phi == last["phi"]).all(1) & (jitter == last["jitter"]) & np.isfinite(last["out"][:, 0])

def column_groups(d:int, categorical:list[slice]|None) -> list[list[int]]:
  """The lengthscale groups in column order: each continuous column alone, each one-hot block shares one."""
  blocks = [range(*b.indices(d)) for b in categorical or []]
  return sorted([list(b) for b in blocks] + [[c] for c in range(d) if not any(c in b for b in blocks)])

def regrown_groups(d:int, categorical:list[slice]|None, d_new:int, categorical_new:list[slice]|None) -> bool:
  """Whether the layout (d_new, categorical_new) has the lengthscale groups of (d, categorical), each of the same kind or a
  one-column block that gained columns (a wide categorical whose choices no row held yet, seen.py, once one is held):
  one lengthscale each, of the same meaning."""
  old, new = column_groups(d, categorical), column_groups(d_new, categorical_new)
  single = {b.indices(d)[0] for b in categorical or [] if len(range(*b.indices(d))) == 1}
  return len(old) == len(new) and all((len(a) > 1) == (len(b) > 1) or (len(a) == 1 and a[0] in single) for a, b in zip(old, new))

def group_kinds(d:int, categorical:list[slice]|None) -> tuple[bool, ...]:
  """Per lengthscale group, whether it is a block: two fits with the same kinds have φ of the same meaning."""
  return tuple(len(g) > 1 for g in column_groups(d, categorical))

class GPRegressor:
  """Gaussian process with MAP-fitted hyperparameters (contract in docs/DESIGN.md).
  Units: the model works on standardized targets y_train; `hyperparameters` (outputscale, noise) are in those units,
  `posterior` returns them; `predict` and `to_y_units` map back to y (y ≈ y_mean + y_scale · standardized).
  `posterior_state()` tensors are never overwritten: `fit` and `condition` make new ones.
  `structure`: "product" (one kernel on all columns) or "additive" for learning curves, whose last column is the fidelity z
  (fidelity.py, 0 at the target step): σ_f² k(x, x'; ℓ_f) + z z' σ_g² k((x, z), (x', z'); ℓ_g) (`nll_grad_factor_additive`),
  an asymptote plus a gap that vanishes at the target, as BoTorch's LinearTruncatedFidelityKernel. Its posterior is
  only valid at z = 0, where it is the first process's (the `posterior` program with ℓ_f, and z ignored)."""
  def __init__(self, kernel:str="matern52", device:str|None=None, dtype:DType|None=None, lengthscale_prior:str="unit",
               structure:str="product"):
    self.coef = check_kernel(kernel)
    if structure not in STRUCTURES: raise ValueError(f"structure={structure!r}: use one of {STRUCTURES}")
    self.kernel, self.lengthscale_prior, self.structure = kernel, check_prior(lengthscale_prior), structure
    self.device: str = Device.canonicalize(device) if device else Device.DEFAULT
    self.dtype: DType = dtype or default_dtype(self.device)
    # the data: X[n,d] unit cube, y_train[n] standardized by `transform`; N, D their bucket sizes
    self.n = self.d = self.N = self.D = 0
    self.X, self.y_train, self.categorical, self.transform = np.zeros((0, 0)), np.zeros(0), [], YTransform(0.0, 1.0, 0.0, 1.0)
    # [L, Θ] φ's L lengthscale groups -> θ's Θ log lengthscales (Θ = D, or 2D: ℓ_f then ℓ_g); [Θ] log(1/√w) of ½-weight
    # columns (and FAR at k_f's z column); G the column groups, n_scales the output scales (1 or 2)
    self._expand, self._ls_offset, self.G, self.n_scales = np.zeros((0, 0)), np.zeros(0), 0, 1 if structure == "product" else 2
    self._data: Tensor|None = None        # [N, D+2] packed [X | y | mask]
    self._Xt: Tensor|None = None          # [N, D] X, the posterior's
    self._params: dict[int, Tensor] = {}  # per batch size: the optimizer's input buffer, rewritten in place every step
    self._prepared: dict = {}             # `replay`'s derived input buffers of (program, _data, _params[b]), this data's
    # the fit, and what a warm start from this model continues from: φ[G+2] at the optimum, the L-BFGS memory there,
    # n at the last cold fit and at the last refit of the hyperparameters
    self.phi: np.ndarray|None = None
    self.history: Curvature|None = None
    self.jitter, self.objective, self.n_cold, self.n_refit = 0.0, math.inf, 0, 0
    self._state: tuple[Tensor, ...] = ()  # the posterior state on the device; `hyperparameters` in numpy
    self.hyperparameters: dict = {}

  # pickled (a TinyBOSampler saved to resume a study, an Optimizer sent to a spawned process, a deepcopy): device buffers
  # do not pickle, so the data and the posterior state travel as numpy and are uploaded again; the per-batch input
  # buffers and replay's derived ones are caches, rebuilt on first use
  def __getstate__(self) -> dict:
    state = {k: v for k, v in self.__dict__.items() if k not in ("_data", "_Xt", "_state", "_params", "_prepared")}
    return {**state, "_arrays": [None if t is None else download(t) for t in (self._data, *self._state[1:])]}

  def __setstate__(self, state: dict) -> None:
    arrays = state.pop("_arrays")
    self.__dict__.update(state, _params={}, _prepared={})
    data, *posterior = [None if a is None else upload(a, self.dtype, self.device) for a in arrays]
    self._data = data
    self._Xt = None if data is None else upload(arrays[0][:, :self.D], self.dtype, self.device)
    self._state = (self._Xt, *posterior) if posterior else ()

  y_mean = property(lambda self: self.transform.affine[0])
  y_scale = property(lambda self: self.transform.affine[1])
  def to_y_units(self, mean:np.ndarray, var:np.ndarray) -> tuple[np.ndarray, np.ndarray]: return self.transform.to_y_units(mean, var)

  # ----- data -----
  def _set_data(self, X:np.ndarray, y_std:np.ndarray, categorical:list[slice]|None):
    n, d = X.shape
    groups = column_groups(d, categorical)
    if self.structure == "additive" and (groups[-1] != [d - 1] or d < 2):   # refused before the model takes the data
      raise ValueError(f"structure='additive' needs d >= 2 columns, the last a continuous fidelity, got d={d}")
    self.n, self.d, self.categorical = n, d, list(categorical or [])
    self.N, self.D = bucket(n, N_BUCKETS), bucket(d, D_BUCKETS)
    self.X, self.y_train = X, y_std
    expand = np.zeros((len(groups), self.D))
    for gi, cols in enumerate(groups): expand[gi, cols] = 1.0
    offset = np.zeros(self.D); offset[:d] = -0.5 * np.log(np.array(column_weights(d, self.categorical)))
    self.G, self._expand, self._ls_offset = len(groups), expand, offset
    data = np.zeros((self.N, self.D + 2 + (self.structure == "additive"))); data[:n, :d] = X; data[:n, self.D] = y_std; data[:n, self.D + 1] = 1.0
    if self.structure == "additive":   # ℓ_f on the configuration columns (z: e^FAR) then ℓ_g on all; w = φ(z) = z per row
      self._expand = np.block([[expand[:-1], np.zeros_like(expand[:-1])], [np.zeros_like(expand), expand]])
      far = np.zeros(self.D); far[d - 1] = FAR
      self._ls_offset = np.concatenate([offset + far, offset])
      data[:n, self.D + 2] = X[:, d - 1]
    self._data = upload(data, self.dtype, self.device)
    self._Xt = upload(data[:, :self.D], self.dtype, self.device)
    self._params, self._prepared = {}, {}

  def _theta(self, phi:np.ndarray) -> np.ndarray:
    L = len(self._expand)
    return np.concatenate([phi[:, :L] @ self._expand + self._ls_offset, phi[:, L:]], axis=1)

  def _pack(self, phi:np.ndarray, jitter:np.ndarray) -> Tensor: return self._pack_theta(self._theta(phi), jitter)

  def _run(self, step:CachedJit, phi:np.ndarray, jitter:np.ndarray) -> tuple[Tensor, ...]:
    # the inputs are the same two Tensors call after call (_data, _params[b] rewritten in place): a direct replay skips
    # TinyJit's re-derivation of their buffers, a fit's evaluations are thousands per study
    return replay(step, (self._data, self._pack(phi, jitter)), self._prepared)

  def _pack_theta(self, theta:np.ndarray, jitter:np.ndarray) -> Tensor:
    b = theta.shape[0]
    params = np.concatenate([theta, jitter[:, None], np.tile(self.coef, (b, 1))], axis=1)
    self._params[b] = upload(params, self.dtype, self.device, self._params.get(b))
    return self._params[b]

  # ----- fit -----
  def fit(self, X, y, categorical:list[slice]|None=None, *, restarts:int|None=None, seed:int=0, warm_start:GPRegressor|None=None,
          noise:float|str|None=None, floor_scale:float=1.0, enough:Callable[[float], bool]|None=None) -> GPRegressor:
    """MAP fit of log hyperparameters on X[n,d] (unit cube) and raw y[n]; returns self. `noise` (see `noise_bounds`):
    None fits the noise variance, a float is its lower bound in y units squared, "deterministic" pins it to the
    numerical floor (the posterior mean interpolates the data). `floor_scale` in (0, 1] multiplies that floor
    (NOISE_FLOOR, in standardized units), never below LOWEST_NOISE: for targets whose differences near the best are a
    tiny part of their spread (`transforms.warp_resolution`). `warm_start`: a GPRegressor
    fitted before on the same columns; the fit then continues from its optimum and L-BFGS memory (one start). Cold fits
    (no usable warm start, `restarts` given, or n grew 1.5x since the warm start's last cold fit) batch `restarts`
    starts (default: 4 up to 256 rows, then 2, then 1). Raises GPFitError if no start gives a finite objective.
    `enough(objective)`: True stops the fit at the best objective so far (the objective only falls), for a caller that
    needs to know only whether it gets below some level; the model is then that point's."""
    X, y = _array(X), _array(y).reshape(-1)
    if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[0] == 0: raise ValueError(f"need X[n,d] and y[n] with n > 0, got {X.shape}, {y.shape}")
    if not np.isfinite(X).all(): raise GPFitError("X has non-finite values")
    if not np.isfinite(y).any(): raise GPFitError("no finite y values to fit")
    # every argument is checked before the model takes the new data: a refused refit leaves the fitted model as it was
    noise = check_noise(noise)
    if not 0 < floor_scale <= 1: raise ValueError(f"floor_scale={floor_scale!r}: use a float in (0, 1]")
    if restarts is not None and (isinstance(restarts, bool) or not isinstance(restarts, (int, np.integer)) or restarts < 1):
      raise ValueError(f"restarts={restarts!r}: use an int >= 1, or None (the default for the data's size)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0: raise ValueError(f"seed={seed!r}: use an int >= 0")
    # a warm start needs the same lengthscale groups, not the same columns: a block may change width (seen.py)
    ws = warm_start if warm_start is not None and warm_start.phi is not None and warm_start.structure == self.structure \
      and group_kinds(warm_start.d, warm_start.categorical) == group_kinds(X.shape[1], categorical) else None
    n_cold, n_refit = (ws.n_cold, ws.n_refit) if ws is not None else (0, 0)
    transform, y_std = YTransform.fit(y)
    self._set_data(X, y_std, categorical)
    self.transform = transform
    L, G, ns = len(self._expand), self.G, self.n_scales   # φ = [log ℓ (L) | log σ² (ns) | log σ_n²]
    floor = NOISE_FLOOR.get(self.dtype, 1e-4)
    noise_lo, noise_hi = noise_bounds(noise, max(floor * floor_scale, LOWEST_NOISE.get(self.dtype, 1e-4)), self.y_scale)
    lower = np.array([math.log(MIN_LENGTHSCALE[self.lengthscale_prior])] * L + [math.log(1e-3)] * ns + [math.log(noise_lo)])
    upper = np.array([math.log(1e3)] * L + [math.log(1e3)] * ns + [math.log(noise_hi)])
    # periodic cold refits (as n grows 1.5x) are there to escape a stale optimum through restarts: with one start
    # (large buckets) they would only repeat the warm start at a higher price
    cold = ws is None or restarts is not None or (self.n >= 1.5 * n_cold and default_restarts(self.N) > 1)
    if cold:
      rng = np.random.default_rng([seed, self.n, self.d])
      b = restarts or default_restarts(self.N)
      starts = np.zeros((b, L + ns + 1))
      starts[:, :L] = np.log(0.5 * math.sqrt(G))  # a moderate lengthscale: the prior median (~4√d) is flat for BO
      starts[:, L:L + ns], starts[:, -1] = 0.0, math.log(1e-2)
      if b > 1: starts[1:, :L] = starts[0, :L] + rng.normal(0.0, 0.75, size=(b - 1, L))  # lengthscales spread ~2x either way
      if b > 1: starts[1:, -1] = rng.uniform(math.log(floor), math.log(0.1), size=b - 1)
      if ws is not None: starts[-1] = ws.phi
    else: starts = ws.phi[None, :].copy()
    jitter = np.full(starts.shape[0], 1e-9 if self.dtype == dtypes.float64 else 1e-6)
    last: dict = {}

    def evaluate(phi:np.ndarray, jitter:np.ndarray) -> tuple[np.ndarray, tuple[Tensor, ...]|None, dict[int, int]]:
      # (out[b, 1+P], the outputs holding the rows' factors or None, row -> its index there): the batch through `step`,
      # or from SEPARATE_MIN_N rows each row through the step of one row (the same numbers), whose outputs the next row's
      # call overwrites: none are kept, and the fit factors its optimum once more at the end. There a row that L-BFGS
      # holds still (its φ and jitter as at the last evaluation, its value finite) keeps its last value: the same inputs
      # give the same numbers, and a batch's converged starts wait for the others for many evaluations
      if len(phi) > 1 and self.N >= SEPARATE_MIN_N:
        one, still = self._step(1), held_still(phi, jitter, last)
        return np.concatenate([last["out"][i:i + 1] if still[i] else download(self._run(one, phi[i:i + 1], jitter[i:i + 1])[0])
                               for i in range(len(phi))]), None, {}
      outs = self._run(self._step(len(phi)), phi, jitter)
      return download(outs[0]), outs, {i: i for i in range(len(phi))}

    def fg(phi:np.ndarray) -> tuple[np.ndarray, np.ndarray]:
      if (r := lone_mover(phi, jitter, last)) is not None:
        # one start still moving (the others have stopped, L-BFGS holds them still): that row alone, through the
        # program of one row, which computes each row as the batched one does (tests/test_gp.py); the others as last time
        outs, rows = self._run(self._step(1), phi[r:r + 1], jitter[r:r + 1]), {r: 0}
        out = last["out"].copy()
        out[r] = download(outs[0])[0]
      else: out, outs, rows = evaluate(phi, jitter)
      # a failed factorization: grow that row's jitter and retry before giving the optimizer an inf
      while (bad := ~np.isfinite(out[:, 0])).any() and jitter[bad].max() < 1e-3:
        jitter[bad] *= 100
        again, outs, rows = evaluate(phi, jitter)
        out[bad] = again[bad]
        if (~bad).any(): outs = None  # rows come from two calls: the factors of this call are not all current
      last.update(phi=phi.copy(), jitter=jitter.copy(), outs=outs, out=out.copy(), rows=rows)
      nll, gtheta = out[:, 0], out[:, 1:]
      T = self._expand.shape[1]
      gphi = np.concatenate([gtheta[:, :T] @ self._expand.T, gtheta[:, T:]], axis=1)
      lp, glp = log_prior(phi, G, self.lengthscale_prior, ns)
      f = nll - lp
      ok = np.isfinite(f) & np.isfinite(gphi).all(1)
      return np.where(ok, f, np.inf), np.where(ok[:, None], gphi - glp, 0.0)

    # warm fits stop at a relative improvement of 1e-5 per step: the next observation moves the optimum more than that
    refit = cold or self.N <= 640 or self.n >= 1.1 * n_refit
    phi, f, hist = lbfgs(fg, starts, lower, upper, max_evals=200 if cold else warm_fit_evals(self.N, refit), memory=10, gtol=1e-6,
                         ftol=1e-8 if cold else 1e-5, history=None if cold else ws.history,
                         enough=None if enough is None else lambda f: enough(float(np.min(f))))
    if not np.isfinite(f).any(): raise GPFitError(f"no hyperparameters gave a positive-definite kernel matrix (n={self.n}, d={self.d})")
    best = int(np.argmin(f))
    self.phi, self.jitter, self.objective, self.history = phi[best].copy(), float(jitter[best]), float(f[best]), hist.row(best)
    self.n_cold, self.n_refit = self.n if cold else n_cold, self.n if refit else n_refit
    if last["outs"] is not None and (r := last["rows"].get(best)) is not None and np.array_equal(last["phi"][best], self.phi) \
       and last["jitter"][best] == self.jitter:
      # the last evaluation computed the optimum: its factors are the posterior state, no refactorization
      self._set_posterior(download(last["outs"][1])[r], download(last["outs"][2])[r])
    else: self._refactor()
    return self

  def _refactor(self):
    """Factor K at the fitted hyperparameters (one more evaluation, batch of one) for the posterior state."""
    step = self._step(1)
    for _ in range(8):
      out, Linv0, alpha = (download(t)[0] for t in self._run(step, self.phi[None], np.array([self.jitter])))
      if np.isfinite(alpha).all() and np.isfinite(Linv0).all(): break
      self.jitter *= 100
    else: raise GPFitError(f"the kernel matrix at the fitted hyperparameters did not factor, even with jitter {self.jitter / 100:.0e} "
                           f"(n={self.n}, d={self.d})")
    self._set_posterior(Linv0, alpha)

  def _step(self, b:int) -> CachedJit:
    """The likelihood program of this structure for a batch of b restarts."""
    if self.structure == "additive": return captured("nll_additive", nll_grad_factor_additive, self.N, self.D, b, self.dtype, self.device)
    return captured("nll", nll_grad_factor, self.N, self.D, b, self.dtype, self.device)

  def _set_posterior(self, Linv0:np.ndarray, alpha:np.ndarray):
    # additive: the posterior at z = 0 is k_f's (the gap's weight z z' is 0 there), so its lengthscales (e^FAR at z) and σ_f²
    L, d = len(self._expand), self.d
    ls = np.ones(self.D); ls[:d] = np.exp(self._theta(self.phi[None])[0, :d])
    hyper = np.concatenate([ls, [math.exp(self.phi[L])], self.coef])
    self._state = (self._Xt, upload(alpha, self.dtype, self.device), upload(Linv0, self.dtype, self.device), upload(hyper, self.dtype, self.device))
    group_ls = np.exp(self.phi[:L] @ self._expand)   # without the one-hot offsets, per θ column
    self.hyperparameters = {"lengthscales": group_ls[:d], "outputscale": math.exp(self.phi[L]), "noise": math.exp(self.phi[-1])}
    if self.structure == "additive":   # k_f's lengthscales on the configuration, the gap's on z; then the gap kernel's own
      self.hyperparameters["lengthscales"] = np.append(group_ls[:d - 1], group_ls[self.D + d - 1])
      self.hyperparameters.update(gap_lengthscales=group_ls[self.D:self.D + d], gap_outputscale=math.exp(self.phi[L + 1]))

  # ----- posterior -----
  def posterior_state(self) -> tuple[Tensor, ...]:
    """(X[N,D], α[N], Linv0[N,N], hyper[D+5]): realized tensors at a fixed bucket shape, the arguments of `posterior`."""
    if self.phi is None: raise RuntimeError("GP is not fitted: call fit(X, y) first")
    return self._state

  def predict(self, X) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and latent variance at X[m,d], numpy, in the units of y; var >= 0, never NaN."""
    Xq = _array(X)
    if Xq.ndim == 1: Xq = Xq[:, None] if self.d == 1 else Xq[None]   # as condition reads it: one input, m points; else one point
    if Xq.ndim != 2 or Xq.shape[1] != self.d: raise ValueError(f"need X[m,{self.d}] to predict at, got shape {Xq.shape}")
    if not np.isfinite(Xq).all(): raise ValueError("X has non-finite values; predict at finite points (the unit cube)")
    mean, var = self._posterior_np(Xq)
    return self.to_y_units(np.nan_to_num(mean), np.maximum(np.nan_to_num(var), 0.0))

  def _posterior_np(self, Xq:np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # query rows padded to a bucket too, so a new number of points reuses the compiled program
    m = Xq.shape[0]
    M = bucket(m, N_BUCKETS)
    Xp = np.zeros((M, self.D)); Xp[:m, :self.d] = Xq
    fn = captured("posterior", _posterior_contiguous, self.N, self.D, M, self.dtype, self.device)
    mean, var = fn(*self.posterior_state(), upload(Xp, self.dtype, self.device))
    return download(mean)[:m].astype(np.float64), download(var)[:m].astype(np.float64)

  def with_data(self, X, y, keep_units: bool = False) -> GPRegressor:
    """A new GPRegressor with the same hyperparameters (in standardized units) on other data X[n,d], raw finite y[n],
    standardized afresh, or with keep_units=True by this model's y transform (new values far outside its data, a
    diverged run's, stay far out instead of shrinking the rest and widening every posterior); no refit: one
    factorization. For a model whose data changed a little since its hyperparameters were fitted."""
    X, y = _array(X), _array(y).reshape(-1)
    if X.ndim != 2 or X.shape[1] != self.d or X.shape[0] != y.shape[0] or X.shape[0] == 0:
      raise ValueError(f"need X[n,{self.d}] and y[n] with n > 0, got {X.shape}, {y.shape}")
    transform, y_std = (self.transform, self.transform(y)) if keep_units else YTransform.fit(y)
    return self._with_hyperparameters(X, y_std, self.categorical, transform)

  def with_inputs(self, X, categorical:list[slice]|None) -> GPRegressor:
    """This model on the same rows in another column layout X[n, d'] whose lengthscale groups are of the same kinds (a
    one-hot block that gained a column, seen.py; a one-column block, no choice held yet, that became a block:
    `regrown_groups`): the same hyperparameters, targets and y transform; one factorization."""
    X = _array(X)
    if X.ndim != 2 or X.shape[0] != self.n or not regrown_groups(self.d, self.categorical, X.shape[1], categorical):
      raise ValueError(f"need X[{self.n}, d'] with lengthscale groups like this model's {group_kinds(self.d, self.categorical)}, got shape {X.shape}")
    return self._with_hyperparameters(X, self.y_train, categorical, self.transform)

  def condition(self, X_new, y_new=None) -> GPRegressor:
    """A new GPRegressor with the same hyperparameters and y transform, conditioned on extra points (no refit). y_new in
    the units of y; None uses the posterior mean (Kriging believer, for pending trials)."""
    Xn = _array(X_new)
    if Xn.ndim == 1 and self.d == 1: Xn = Xn[:, None]
    if Xn.ndim == 1: Xn = Xn[None]
    if Xn.ndim != 2 or Xn.shape[1] != self.d or not np.isfinite(Xn).all():
      raise ValueError(f"need finite X_new[k,{self.d}] to condition on, got shape {Xn.shape}")
    if y_new is not None:
      yn = np.asarray(y_new, dtype=np.float64).reshape(-1)
      if len(yn) != len(Xn) or not np.isfinite(yn).all():
        raise ValueError(f"need {len(Xn)} finite y_new to condition on, got {yn.tolist()[:8]}; leave a failed point out, or pass its worst value")
    y_std = self._posterior_np(Xn)[0] if y_new is None else self.transform(yn)
    return self._with_hyperparameters(np.concatenate([self.X, Xn]), np.concatenate([self.y_train, y_std]), self.categorical, self.transform)

  def _with_hyperparameters(self, X:np.ndarray, y_std:np.ndarray, categorical:list[slice], transform:YTransform) -> GPRegressor:
    """A new GPRegressor with this one's hyperparameters on X and standardized targets y_std (under `transform`): one
    factorization, no fit (`with_data`, `with_inputs` and `condition` differ only in the data they give it)."""
    gp = GPRegressor(self.kernel, self.device, self.dtype, self.lengthscale_prior, self.structure)
    gp.transform, gp.phi, gp.jitter, gp.objective = transform, self.phi, self.jitter, self.objective
    gp._set_data(X, y_std, categorical)
    gp._refactor()
    return gp
