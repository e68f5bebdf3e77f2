"""Gaussian-process surrogate on tinygrad: MAP fit of the hyperparameters, posterior, Kriging-believer conditioning.

Glossary (shapes; N and D are bucket sizes, n ≤ N real observations, d ≤ D real columns):
  X[N,D]     training inputs in the unit cube, zero-padded (zero columns add zero distance, padded rows are masked)
  mask[N]    1 for real rows, 0 for padding;   y[N]  standardized targets, 0 on padding
  θ[b,P]     log hyperparameters of b restarts at once, P = D + 2: [log ℓ (D), log σ_f², log σ_n²]
  φ[b,G+2]   the optimizer's parameters: one log ℓ per group (a continuous column, or a one-hot block sharing one ℓ),
             log σ_f², log σ_n²; θ = expand(φ)
  K[b,N,N]   padded covariance [[σ_f² k(X,X) + (σ_n² + jitter) I, 0], [0, I]], factors to [[L, 0], [0, I]]
  L, Linv    Cholesky factor of K and its inverse (Linv0: the same with the padded block zeroed)
  α[N]       K⁻¹ y;   coef[4]  kernel shape (c, p1, p2, q): k(r) = (1 + p1 s + p2 s²) exp(−s − q r²), s = c r
NLL(θ) = ½ yᵀα + Σ log diag L + (n/2) log 2π, and dNLL/dθ = ½ tr((K⁻¹ − ααᵀ) ∂K/∂θ): the factorization runs in custom
kernels (no autograd through it), ∂K/∂θ is the kernel's analytic derivative (checked against tinygrad autograd in the
tests). One jitted step evaluates NLL, gradient and factors for b restarts; a numpy L-BFGS drives it. The posterior is
plain tensor ops, differentiable in the query points by autograd.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import math
import os
import pickle
import platform
import sys
import time
from pathlib import Path

import numpy as np
from tinygrad import Device, Tensor, TinyJit, dtypes
from tinygrad.dtype import DType
from tinygrad.helpers import NOOPT, Context

from tinybo.kernels import KERNELS, column_weights, scaled_sqdist
from tinybo.linalg import cho_solve, cholesky, eye_like, solve_triangular, triangular_inverse


class GPFitError(RuntimeError):
  """The GP could not be fitted (non-finite data, or no hyperparameters gave a positive-definite kernel matrix)."""

# ***** shapes: buckets so that jitted functions are reused as observations arrive *****

N_BUCKETS = (8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 160, 208, 256, 320, 416, 512, 640, 832, 1024, 1280, 1664, 2048)
D_BUCKETS = (2, 4, 8, 12, 16, 24, 32, 48, 64)

def bucket(n:int, buckets:tuple[int, ...]) -> int:
  for b in buckets:
    if n <= b: return b
  step = buckets[-1] // 4
  return -(-n // step) * step

# ***** kernel shapes as coefficients, so one compiled program serves every kernel *****

KERNEL_COEFS = {"matern12": (1.0, 0.0, 0.0, 0.0), "matern32": (math.sqrt(3), 1.0, 0.0, 0.0), "matern52": (math.sqrt(5), 1.0, 1 / 3, 0.0),
                "rbf": (0.0, 0.0, 0.0, 0.5)}

def stationary(X1:Tensor, X2:Tensor, lengthscales:Tensor, outputscale:Tensor, coef:Tensor) -> Tensor:
  """σ_f² (1 + p1 s + p2 s²) exp(−s − q r²), s = c r: Matérn 1/2, 3/2, 5/2 and RBF by coefficients (KERNEL_COEFS)."""
  r2 = scaled_sqdist(X1, X2, lengthscales)
  pos = r2 > 0
  s = pos.where(pos.where(r2, 1.0).sqrt(), 0.0) * coef[0]  # √ through a double where: zero gradient at r = 0
  k = (1 + s * coef[1] + s.square() * coef[2]) * (-s - r2 * coef[3]).exp()
  return k * (outputscale.reshape(*outputscale.shape, 1, 1) if outputscale.ndim else outputscale)

# ***** priors (numpy, in φ space; cheap, so they stay out of the jitted step) *****

NOISE_FLOOR = {dtypes.float64: 1e-6, dtypes.float32: 1e-4}

LENGTHSCALE_PRIORS = ("unit", "hvarfner")

def log_prior(phi:np.ndarray, n_groups:int, kind:str="unit") -> tuple[np.ndarray, np.ndarray]:
  """Log prior density of φ[b, G+2] (up to a constant) and its gradient. Lengthscales, by `kind`:
  "unit": −0.1 (ℓ² + ℓ⁻²) per lengthscale (Optuna's GPSampler): mode ℓ = 1, large ℓ cost quadratically, so the model
  keeps believing that every input matters and keeps exploring. "hvarfner": log ℓ ~ N(√2 + ½ log G, √3) (Hvarfner et al.
  2024, BoTorch's default): the expected lengthscale grows like √d, with a heavy tail towards irrelevant inputs.
  Measured (benchmarks/, 10 seeds): Hartmann6 after 60 evaluations, median regret 0.125 with "hvarfner" against the
  numbers in the README with "unit": the long lengthscales "hvarfner" allows extrapolate too confidently into corners.
  log σ_f² ~ N(0, 1.5); σ_n² ~ Gamma(1.1, rate 30) as a function of log σ_n² without the Jacobian (as Optuna's GP):
  0.1 log σ_n² − 30 σ_n², which favours small noise."""
  ls, sf, sn = phi[:, :n_groups], phi[:, n_groups], phi[:, n_groups + 1]
  if kind == "unit":
    e2 = np.exp(2 * ls)
    lval, lgrad = -0.1 * (e2 + 1 / e2), -0.2 * (e2 - 1 / e2)
  else:
    mu, sd = math.sqrt(2) + 0.5 * math.log(max(n_groups, 1)), math.sqrt(3)
    lval, lgrad = -0.5 * ((ls - mu) / sd) ** 2, -(ls - mu) / sd ** 2
  val = lval.sum(1) - 0.5 * (sf / 1.5) ** 2 + 0.1 * sn - 30 * np.exp(sn)
  grad = np.concatenate([lgrad, (-sf / 1.5 ** 2)[:, None], (0.1 - 30 * np.exp(sn))[:, None]], axis=1)
  return val, grad

# ***** jitted programs *****

def _unpack(data:Tensor, params:Tensor):
  # inputs are packed (each jit input costs a launch-sized overhead): data[N, D+2] = [X | y | mask],
  # params[b, D+7] = [θ (D+2) | jitter | coef (4)]
  D = data.shape[1] - 2
  return data[:, :D], data[:, D], data[:, D + 1], params[:, :D + 2], params[:, D + 2], params[0, D + 3:D + 7]

def _nll_grad_factor(data:Tensor, params:Tensor) -> tuple[Tensor, Tensor, Tensor]:
  """Per restart: [NLL | dNLL/dθ] [b, 1+P], Linv0 [b,N,N] and α [b,N] (NaN rows: the factorization failed).
  The gradient is the trace identity with the kernel's analytic derivative in u = r²,
    dk/du = σ_f² e^(−s−q u) [(p1 + 2 p2 s − poly) c/(2r) − q poly],  poly = 1 + p1 s + p2 s²,
  so dNLL/dlog ℓ_k = −Σ_ij M_ij (a_ik − a_jk)² with M = (K⁻¹ − ααᵀ) ⊙ dk/du and a = X/ℓ: two matmuls, no [N,N,D] tensor."""
  X, y, mask, theta, jitter, coef = _unpack(data, params)
  D = X.shape[1]
  sf2, sn2 = theta[:, D].exp(), theta[:, D + 1].exp()
  A = X / theta[:, :D].exp().unsqueeze(1)                                   # [b,N,D]
  u = (A.unsqueeze(-2) - A.unsqueeze(-3)).square().sum(-1)                   # [b,N,N]
  pos = u > 0
  r = pos.where(pos.where(u, 1.0).sqrt(), 0.0)
  s = r * coef[0]
  poly = 1 + s * coef[1] + s.square() * coef[2]
  e = (-s - u * coef[3]).exp() * sf2.reshape(-1, 1, 1)
  m2 = mask.unsqueeze(-1) * mask
  eye = eye_like(u)
  Kf = (poly * e * m2).contiguous()
  K = Kf + (mask * (sn2 + jitter).unsqueeze(-1) + (1 - mask)).unsqueeze(-1) * eye
  L = cholesky(K)
  Linv = triangular_inverse(L)
  # K⁻¹ = L⁻ᵀ L⁻¹ by a second substitution kernel: measured 1-3x faster than tinygrad's float64 matmul here
  Kinv = solve_triangular(L.transpose(-1, -2), Linv, lower=False)
  alpha = (Kinv @ y.unsqueeze(-1))[..., 0]
  nll = 0.5 * (y * alpha).sum(-1) + L.diagonal(dim1=-2, dim2=-1).log().sum(-1) + 0.5 * math.log(2 * math.pi) * mask.sum()
  W = Kinv - alpha.unsqueeze(-1) * alpha.unsqueeze(-2)
  dkdu = e * ((coef[1] + 2 * coef[2] * s - poly) * pos.where(coef[0] / (2 * pos.where(r, 1.0)), 0.0) - coef[3] * poly)
  M = (W * dkdu * m2).contiguous()
  g_ls = -2 * ((M.sum(-1).unsqueeze(-1) * A.square()).sum(1) - (A * (M @ A)).sum(1))
  g_sf = 0.5 * (W * Kf).sum((-2, -1))
  g_sn = 0.5 * (W.diagonal(dim1=-2, dim2=-1) * mask).sum(-1) * sn2
  out = nll.unsqueeze(-1).cat(g_ls, g_sf.unsqueeze(-1), g_sn.unsqueeze(-1), dim=1)
  return out.contiguous(), (Linv * m2).contiguous(), alpha.contiguous()

def nll_and_grad_autograd(data:Tensor, params:Tensor) -> Tensor:
  """Reference for tests: the same [NLL | dNLL/dθ] with the gradient by tinygrad autograd through the kernel matrix."""
  X, y, mask, theta, jitter, coef = _unpack(data, params)
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

# ***** host <-> device: straight buffer copies (a scheduled copy costs ~0.3-3 ms, these ~10 µs) *****

def upload(a:np.ndarray, dtype:DType, device:str, out:Tensor|None=None) -> Tensor:
  """a as a realized Tensor; into `out`'s buffer when given (same shape), else a new one."""
  a = np.ascontiguousarray(a, dtype=_np_dtype(dtype))
  if out is None: out = Tensor.empty(*a.shape, dtype=dtype, device=device).realize()
  try:
    buf = out.uop.base.buffer.ensure_allocated()
    Device[buf.device].synchronize()
    Device[buf.device].allocator._copyin(buf._buf, memoryview(a).cast("B"))
  except Exception:  # a backend without the raw copy path: the public (slower) one
    out.assign(Tensor(a, dtype=dtype, device=device)).realize()
  return out

def download(t:Tensor) -> np.ndarray:
  try:
    buf = t.uop.base.buffer
    out = np.empty(t.shape, dtype=_np_dtype(t.dtype))
    Device[buf.device].synchronize()
    Device[buf.device].allocator._copyout(memoryview(out).cast("B"), buf._buf)
    return out
  except Exception: return t.numpy()

def _np_dtype(dtype:DType): return np.float64 if dtype == dtypes.float64 else np.float32

# ***** captured programs: one TinyJit per (function, bucket shape), kept on disk across processes *****
# A fresh process pays seconds per shape to schedule and generate code (tinygrad's own disk cache only holds compiler
# output). A captured TinyJit pickles with its compiled programs and replays in a new process, so captures are saved
# under a key of everything that could change the program: tinygrad version, this code, the CPU, the context.

_JITS: dict[tuple, _CachedJit] = {}

def jit_cache_dir() -> Path|None:
  """TINYBO_CACHE_DIR (default ~/.cache/tinybo/jit); TINYBO_CACHE_DIR=0 or '' disables the disk cache."""
  d = os.environ.get("TINYBO_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "tinybo", "jit"))
  return Path(d) if d not in ("", "0") else None

@functools.cache
def _fingerprint() -> str:
  h = hashlib.sha256()
  try: h.update(importlib.metadata.version("tinygrad").encode())
  except importlib.metadata.PackageNotFoundError: pass
  for mod in ("gp.py", "linalg.py", "kernels.py"): h.update((Path(__file__).parent / mod).read_bytes())
  h.update(f"{sys.version_info[:2]} {platform.machine()} {platform.node() if os.environ.get('TINYBO_CACHE_PER_HOST') else ''}".encode())
  try: h.update(b"".join(ln for ln in Path("/proc/cpuinfo").read_bytes().splitlines() if ln.startswith((b"model name", b"flags")))[:4096])
  except OSError: pass
  return h.hexdigest()[:16]

@functools.cache
def _prune(d:Path, max_age_days:float=7.0):
  # captures of other code versions or machines pile up (~0.1-1 MB each): drop those unused for a week, once a process
  now = time.time()
  for f in d.glob("*.pkl"):
    try:
      if not f.name.startswith(_fingerprint()) and now - f.stat().st_atime > max_age_days * 86400: f.unlink()
    except OSError: pass

class _CachedJit:
  """TinyJit that captures on its first call (no eager run) and loads/saves its capture from/to the disk cache."""
  def __init__(self, fxn, key:tuple, noopt:bool, disk:bool=True):
    # small shapes compile without kernel optimization: ~3x faster to capture, and their run time is launch-bound anyway
    self.noopt = noopt or bool(NOOPT.value)
    self.path: Path|None = None
    if disk and (d := jit_cache_dir()) is not None:
      self.path = d / (f"{_fingerprint()}-{int(self.noopt)}-" + "-".join(str(k).replace("dtypes.", "") for k in key) + ".pkl")
    self.jit: TinyJit|None = None
    if self.path is not None and self.path.exists():
      try: self.jit = pickle.loads(self.path.read_bytes())
      except Exception: self.jit = None  # a stale or truncated file: recapture
    self.saved = self.jit is not None
    if self.jit is None:
      self.jit = TinyJit(fxn)
      self.jit.cnt = 1  # capture on the first call: the eager run would schedule everything a second time

  def __call__(self, *args):
    if self.jit.captured is None:
      with Context(NOOPT=int(self.noopt)): ret = self.jit(*args)
    else: ret = self.jit(*args)
    if not self.saved and self.path is not None and self.jit.captured is not None:
      self.saved = True
      try:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _prune(self.path.parent)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(self.jit)); os.replace(tmp, self.path)
      except Exception: pass  # a read-only or full disk only costs the next process its compile time
    return ret

NOOPT_MAX_N = 128
DISK_MAX_N2B, DISK_MAX_NM = 128 * 128, 128 * 2048

def _jit(name:str, fxn, N:int, *key) -> _CachedJit:
  key = (N,) + key
  # the fit step compiles ~15 kernels per bucket: without kernel optimization below NOOPT_MAX_N; the posterior (a few
  # kernels, matmul-bound over many query points) always optimized
  # on disk only small shapes: a capture pickles its buffers too (~N²·b·8 bytes, 60 MB at N=1024), and the first fits of
  # a study, whose start-up the cache is for, are small
  disk = N * N * key[2] <= DISK_MAX_N2B if name == "nll" else N * key[2] <= DISK_MAX_NM  # key = (N, D, batch or M, ...)
  if (name,) + key not in _JITS:
    _JITS[(name,) + key] = _CachedJit(fxn, (name,) + key, noopt=name == "nll" and N <= NOOPT_MAX_N, disk=disk)
  return _JITS[(name,) + key]

# ***** the posterior: a pure function of the state, differentiable in Xq *****

def posterior(X:Tensor, alpha:Tensor, Linv0:Tensor, hyper:Tensor, Xq:Tensor) -> tuple[Tensor, Tensor]:
  """Posterior mean and latent variance at Xq[..., M, d ≤ D] in standardized units. State = GP.posterior_state():
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

# ***** optimizer: batched lock-step L-BFGS with projected backtracking (numpy) *****

def lbfgs(fg, x0:np.ndarray, lower:np.ndarray, upper:np.ndarray, max_evals:int=100, memory:int=10, gtol:float=1e-6,
          ftol:float=1e-9, history:list|None=None) -> tuple[np.ndarray, np.ndarray, list]:
  """Minimize b independent box-constrained problems in lock-step: fg(x[b,p]) -> (f[b], g[b,p]) is one batched
  evaluation. Each row runs L-BFGS on its free variables (those not held at a bound by the gradient) with projected
  backtracking; a row whose value is non-finite backtracks harder. `history` (per row: (S, Y) curvature pairs) seeds
  the inverse-Hessian model, e.g. from the previous fit of a warm start; it is returned updated.
  Returns (x[b,p], f[b], history); rows that never had a finite value keep f = inf."""
  x = np.clip(x0, lower, upper)
  f, g = fg(x)
  b = x.shape[0]
  done = ~np.isfinite(f)
  f = np.where(done, np.inf, f)
  hist = [(list(S), list(Y)) for S, Y in history] if history is not None else [([], []) for _ in range(b)]
  p, t = np.zeros_like(x), np.ones(b)
  def direction(r:int):
    free = ~(((x[r] <= lower) & (g[r] > 0)) | ((x[r] >= upper) & (g[r] < 0)))
    pg = np.where(free, g[r], 0.0)
    if np.abs(pg).max() <= gtol * max(1.0, abs(f[r])): return None
    d = _two_loop(pg, *hist[r], free)
    if d @ pg >= 0: hist[r][0].clear(); hist[r][1].clear(); d = -pg  # lost descent: restart from steepest descent
    # the quasi-Newton model predicts a decrease of ½|gᵀd|: below ftol, stepping is not worth an evaluation (a warm
    # start whose history still fits the new data stops after its first evaluation)
    if hist[r][0] and -0.5 * (d @ pg) <= ftol * max(1.0, abs(f[r])): return None
    return d, (1.0 if hist[r][0] else min(1.0, 1.0 / np.abs(pg).max()))
  for r in np.flatnonzero(~done):
    if (dt := direction(r)) is None: done[r] = True
    else: p[r], t[r] = dt
  evals = 1
  while not done.all() and evals < max_evals:
    x_try = np.where(done[:, None], x, np.clip(x + t[:, None] * p, lower, upper))
    f_try, g_try = fg(x_try)
    evals += 1
    for r in np.flatnonzero(~done):
      step = x_try[r] - x[r]
      if np.isfinite(f_try[r]) and f_try[r] <= f[r] + 1e-4 * min(g[r] @ step, 0.0):
        yv = g_try[r] - g[r]
        if step @ yv > 1e-12 * np.sqrt((step @ step) * (yv @ yv)):
          hist[r][0].append(step); hist[r][1].append(yv)
          if len(hist[r][0]) > memory: hist[r][0].pop(0); hist[r][1].pop(0)
        converged = f[r] - f_try[r] <= ftol * max(1.0, abs(f_try[r]))
        x[r], f[r], g[r] = x_try[r], f_try[r], g_try[r]
        if converged or (dt := direction(r)) is None: done[r] = True
        else: p[r], t[r] = dt
      else:
        t[r] *= 0.1 if not np.isfinite(f_try[r]) else 0.5
        if t[r] * np.abs(p[r]).max() < 1e-10: done[r] = True
  return x, f, hist

def _two_loop(g:np.ndarray, S:list[np.ndarray], Y:list[np.ndarray], free:np.ndarray) -> np.ndarray:
  # the inverse-Hessian model acts on the free variables only (pairs restricted to them)
  S = [np.where(free, s, 0.0) for s in S]; Y = [np.where(free, yv, 0.0) for yv in Y]
  q, alphas = g.copy(), []
  for s, yv in zip(reversed(S), reversed(Y)):
    sy = s @ yv
    a = (s @ q) / sy if sy > 0 else 0.0
    alphas.append(a); q -= a * yv
  if S and (Y[-1] @ Y[-1]) > 0 and (S[-1] @ Y[-1]) > 0: q *= (S[-1] @ Y[-1]) / (Y[-1] @ Y[-1])
  for (s, yv), a in zip(zip(S, Y), reversed(alphas)):
    sy = s @ yv
    if sy > 0: q += (a - (yv @ q) / sy) * s
  return -np.where(free, q, 0.0)

# ***** y transform: standardize, and squash extreme spreads so the kernel matrix stays well conditioned *****

SQUASH = 20.0  # robust z-scores beyond ±SQUASH grow logarithmically

def _squash(z:np.ndarray) -> np.ndarray:
  a = np.abs(z)
  return np.where(a > SQUASH, np.sign(z) * (SQUASH + np.log1p(np.maximum(a - SQUASH, 0))), z)

def _unsquash(u:np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """inverse and its derivative (for the variance by the delta method)."""
  a = np.abs(u)
  big = a > SQUASH
  ex = np.expm1(np.minimum(np.maximum(a - SQUASH, 0), 700))
  return np.where(big, np.sign(u) * (SQUASH + ex), u), np.where(big, ex + 1, 1.0)

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

class GP:
  """Gaussian process with MAP-fitted hyperparameters (contract in docs/DESIGN.md).
  Units: the model works on standardized targets y_train; `hyperparameters` (outputscale, noise) are in those units,
  `posterior` returns them; `predict` and `to_y_units` map back to y (y ≈ y_mean + y_scale · standardized).
  `posterior_state()` tensors stay valid until the next `fit` of this object (`condition` returns a new object)."""
  def __init__(self, kernel:str="matern52", device:str|None=None, dtype:DType|None=None, lengthscale_prior:str="unit"):
    if kernel not in KERNELS: raise ValueError(f"unknown kernel {kernel!r}: choose one of {sorted(KERNELS)}")
    if lengthscale_prior not in LENGTHSCALE_PRIORS: raise ValueError(f"lengthscale_prior={lengthscale_prior!r}; use one of {LENGTHSCALE_PRIORS}")
    self.lengthscale_prior = lengthscale_prior
    self.kernel, self.device = kernel, Device.canonicalize(device) if device else Device.DEFAULT
    self.dtype: DType = dtype or default_dtype(self.device)
    self._phi: np.ndarray|None = None
    self._n_cold = self._n_refit = 0
    self.n, self.d = 0, 0

  # ----- data -----
  def _transform_y(self, y:np.ndarray) -> np.ndarray:
    finite = np.isfinite(y)
    if not finite.any(): raise GPFitError("no finite y values to fit")
    # ±inf are clipped to the extremes seen; NaN becomes the minimum (the strategies maximize: NaN is the worst)
    y = np.where(np.isnan(y), y[finite].min(), np.clip(y, y[finite].min(), y[finite].max()))
    self._center = float(np.median(y))
    with np.errstate(over="ignore", invalid="ignore"):
      dev = np.abs(y / 2 - self._center / 2) * 2  # halves: no overflow near ±1.8e308
      scale = float(np.median(dev)) * 1.4826
      if not np.isfinite(scale) or scale <= 0: scale = float(np.mean(dev))
      if not np.isfinite(scale) or scale <= 0: scale = 1.0
      self._spread = scale
      z = np.clip((y / 2 - self._center / 2) / scale * 2, -1e300, 1e300)
    u = _squash(np.nan_to_num(z))
    self._u_mean, self._u_scale = float(u.mean()), float(u.std()) or 1.0
    # the affine map standardized -> y units (exact unless squashed; then valid in the central range, see to_y_units)
    with np.errstate(over="ignore"):
      self.y_mean = float(np.nan_to_num(self._center + self._spread * self._u_mean))
      self.y_scale = float(np.nan_to_num(self._spread * self._u_scale))
    self.y_squashed = bool((np.abs(z) > SQUASH).any())
    return (u - self._u_mean) / self._u_scale

  def to_y_units(self, mean:np.ndarray, var:np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standardized posterior (mean, var) -> units of y. Affine (y_mean + y_scale·mean, y_scale²·var) unless the fit
    squashed an extreme spread of y (y_squashed), then the inverse squash with the delta-method variance."""
    u = self._u_mean + self._u_scale * np.asarray(mean, dtype=np.float64)
    z, dz = _unsquash(u)
    with np.errstate(over="ignore"):
      y = self._center + self._spread * z
      v = np.asarray(var, dtype=np.float64) * (self._u_scale * self._spread * dz) ** 2
    return np.nan_to_num(y), np.nan_to_num(np.maximum(v, 0.0), posinf=np.finfo(np.float64).max)

  def _set_data(self, X:np.ndarray, y_std:np.ndarray, categorical:list[slice]|None):
    n, d = X.shape
    self.n, self.d, self.categorical = n, d, list(categorical or [])
    self.N, self.D = bucket(n, N_BUCKETS), bucket(d, D_BUCKETS)
    self.X, self.y_train = X, y_std
    # groups: each continuous column alone, each one-hot block shares a lengthscale
    group = -np.ones(d, dtype=np.int64)
    for gi, block in enumerate(self.categorical): group[list(range(*block.indices(d)))] = gi
    groups = [list(np.flatnonzero(group == gi)) for gi in range(len(self.categorical))]
    groups += [[c] for c in range(d) if group[c] < 0]
    self._groups = sorted(groups, key=lambda cols: cols[0])
    self._expand = np.zeros((len(self._groups), self.D))
    for gi, cols in enumerate(self._groups): self._expand[gi, cols] = 1.0
    w = np.array(column_weights(d, self.categorical))
    self._w = w
    self._ls_offset = np.zeros(self.D); self._ls_offset[:d] = -0.5 * np.log(w)  # the ½ weight of one-hot columns: ℓ_eff = ℓ/√w
    data = np.zeros((self.N, self.D + 2)); data[:n, :d] = X; data[:n, self.D] = y_std; data[:n, self.D + 1] = 1.0
    self._data = upload(data, self.dtype, self.device)
    self._Xt = upload(data[:, :self.D], self.dtype, self.device)
    self._params: dict[int, Tensor] = {}  # per batch size: the optimizer's input buffer, rewritten in place every step

  def _theta(self, phi:np.ndarray) -> np.ndarray:
    G = len(self._groups)
    return np.concatenate([phi[:, :G] @ self._expand + self._ls_offset, phi[:, G:]], axis=1)

  def _pack(self, phi:np.ndarray, jitter:np.ndarray) -> Tensor:
    b = phi.shape[0]
    params = np.concatenate([self._theta(phi), jitter[:, None], np.tile(KERNEL_COEFS[self.kernel], (b, 1))], axis=1)
    self._params[b] = upload(params, self.dtype, self.device, self._params.get(b))
    return self._params[b]

  # ----- fit -----
  def fit(self, X, y, categorical:list[slice]|None=None, *, restarts:int|None=None, seed:int=0) -> GP:
    """MAP fit of log hyperparameters on X[n,d] (unit cube) and raw y[n]. Warm-starts from the previous fit when the
    shape of the problem is unchanged (one start); cold fits (no previous fit, or n grew 1.5x since the last cold fit)
    batch `restarts` starts (default: 4 up to 256 rows, then 2, then 1). Raises GPFitError if no start gives a finite objective."""
    X = np.asarray(X.numpy() if isinstance(X, Tensor) else X, dtype=np.float64)
    y = np.asarray(y.numpy() if isinstance(y, Tensor) else y, dtype=np.float64).reshape(-1)
    if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[0] == 0: raise ValueError(f"need X[n,d] and y[n] with n > 0, got {X.shape}, {y.shape}")
    if not np.isfinite(X).all(): raise GPFitError("X has non-finite values")
    prev = self._phi if (self._phi is not None and self.d == X.shape[1] and list(categorical or []) == getattr(self, "categorical", None)) else None
    self._set_data(X, self._transform_y(y), categorical)
    G = len(self._groups)
    floor = NOISE_FLOOR.get(self.dtype, 1e-4)
    lower = np.array([math.log(1e-3)] * G + [math.log(1e-3), math.log(floor)])
    upper = np.array([math.log(1e3)] * G + [math.log(1e3), math.log(10.0)])
    # periodic cold refits (as n grows 1.5x) are there to escape a stale optimum through restarts: with one start
    # (large buckets) they would only repeat the warm start at a higher price
    cold = prev is None or restarts is not None or (self.n >= 1.5 * self._n_cold and default_restarts(self.N) > 1)
    if cold:
      rng = np.random.default_rng([seed, self.n, self.d])
      b = restarts or default_restarts(self.N)
      starts = np.zeros((b, G + 2))
      starts[:, :G] = np.log(0.5 * math.sqrt(G))  # a moderate lengthscale: the prior median (~4√d) is flat for BO
      starts[:, G], starts[:, G + 1] = 0.0, math.log(1e-2)
      if b > 1: starts[1:, :G] = starts[0, :G] + rng.normal(0.0, 0.75, size=(b - 1, G))  # lengthscales spread ~2x either way
      if b > 1: starts[1:, G + 1] = rng.uniform(math.log(floor), math.log(0.1), size=b - 1)
      if prev is not None: starts[-1] = prev
    else: starts = prev[None, :].copy()
    jitter0 = 1e-9 if self.dtype == dtypes.float64 else 1e-6
    jitter = np.full(starts.shape[0], jitter0)
    step = _jit("nll", _nll_grad_factor, self.N, self.D, starts.shape[0], self.dtype, self.device)
    last: dict = {}

    def fg(phi:np.ndarray) -> tuple[np.ndarray, np.ndarray]:
      outs = step(self._data, self._pack(phi, jitter))
      out = download(outs[0])
      # a failed factorization: grow that row's jitter and retry before giving the optimizer an inf
      while (bad := ~np.isfinite(out[:, 0])).any() and jitter[bad].max() < 1e-3:
        jitter[bad] *= 100
        outs = step(self._data, self._pack(phi, jitter))
        out[bad] = download(outs[0])[bad]
        if (~bad).any(): outs = None  # rows come from two calls: the factors of this call are not all current
      last.update(phi=phi.copy(), jitter=jitter.copy(), outs=outs)
      nll, gtheta = out[:, 0], out[:, 1:]
      gphi = np.concatenate([gtheta[:, :self.D] @ self._expand.T, gtheta[:, self.D:]], axis=1)
      lp, glp = log_prior(phi, G, self.lengthscale_prior)
      f = nll - lp
      ok = np.isfinite(f) & np.isfinite(gphi).all(1)
      return np.where(ok, f, np.inf), np.where(ok[:, None], gphi - glp, 0.0)

    history = [self._history] if not cold and getattr(self, "_history", None) else None
    # warm fits stop at a relative improvement of 1e-5 per step: the next observation moves the optimum more than that
    refit = cold or self.N <= 640 or self.n >= 1.1 * self._n_refit
    warm_evals = warm_fit_evals(self.N, refit)
    phi, f, hist = lbfgs(fg, starts, lower, upper, max_evals=200 if cold else warm_evals, history=history, ftol=1e-8 if cold else 1e-5)
    if not np.isfinite(f).any(): raise GPFitError(f"no hyperparameters gave a positive-definite kernel matrix (n={self.n}, d={self.d})")
    best = int(np.argmin(f))
    self._phi, self._jitter, self.objective, self._history = phi[best].copy(), float(jitter[best]), float(f[best]), hist[best]
    if cold: self._n_cold = self.n
    if refit: self._n_refit = self.n
    if last["outs"] is not None and np.array_equal(last["phi"][best], self._phi) and last["jitter"][best] == self._jitter:
      # the last evaluation was at the optimum: its factors are the posterior state, no refactorization
      self._set_posterior(download(last["outs"][1])[best], download(last["outs"][2])[best])
    else: self._refactor()
    return self

  def _refactor(self):
    """Factor K at the fitted hyperparameters (one more evaluation, batch of one) for the posterior state."""
    step = _jit("nll", _nll_grad_factor, self.N, self.D, 1, self.dtype, self.device)
    for _ in range(8):
      out, Linv0, alpha = (download(t)[0] for t in step(self._data, self._pack(self._phi[None], np.array([self._jitter]))))
      if np.isfinite(alpha).all() and np.isfinite(Linv0).all(): break
      self._jitter *= 100
    else: raise GPFitError("kernel matrix not positive definite even with jitter 1e-3")
    self._set_posterior(Linv0, alpha)

  def _set_posterior(self, Linv0:np.ndarray, alpha:np.ndarray):
    self._Linv0, self._alpha = upload(Linv0, self.dtype, self.device), upload(alpha, self.dtype, self.device)
    theta = self._theta(self._phi[None])
    G = len(self._groups)
    ls = np.ones(self.D); ls[:self.d] = np.exp(theta[0, :self.d])
    self._hyper = upload(np.concatenate([ls, [math.exp(self._phi[G])], KERNEL_COEFS[self.kernel]]), self.dtype, self.device)
    self.hyperparameters = {"lengthscales": np.exp(self._phi[:G] @ self._expand[:, :self.d]), "outputscale": math.exp(self._phi[G]),
                            "noise": math.exp(self._phi[G + 1])}

  # ----- posterior -----
  def posterior_state(self) -> tuple[Tensor, ...]:
    """(X[N,D], α[N], Linv0[N,N], hyper[D+5]): realized tensors at a fixed bucket shape, the arguments of `posterior`."""
    if self._phi is None: raise RuntimeError("GP is not fitted: call fit(X, y) first")
    return self._Xt, self._alpha, self._Linv0, self._hyper

  def predict(self, X) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and latent variance at X[m,d], numpy, in the units of y; var >= 0, never NaN."""
    Xq = np.asarray(X.numpy() if isinstance(X, Tensor) else X, dtype=np.float64)
    if Xq.ndim == 1: Xq = Xq[None]
    mean, var = self._posterior_np(Xq)
    return self.to_y_units(np.nan_to_num(mean), np.maximum(np.nan_to_num(var), 0.0))

  def _posterior_np(self, Xq:np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # query rows padded to a bucket too, so a new number of points reuses the compiled program
    m = Xq.shape[0]
    M = bucket(m, N_BUCKETS)
    Xp = np.zeros((M, self.D)); Xp[:m, :self.d] = Xq
    fn = _jit("posterior", _posterior_contiguous, self.N, self.D, M, self.dtype, self.device)
    mean, var = fn(*self.posterior_state(), upload(Xp, self.dtype, self.device))
    return download(mean)[:m].astype(np.float64), download(var)[:m].astype(np.float64)

  def condition(self, X_new, y_new=None) -> GP:
    """A new GP with the same hyperparameters and y transform, conditioned on extra points (no refit). y_new in the
    units of y; None uses the posterior mean (Kriging believer, for pending trials)."""
    Xn = np.asarray(X_new.numpy() if isinstance(X_new, Tensor) else X_new, dtype=np.float64).reshape(-1, self.d)
    if y_new is None: y_std = self._std_mean(Xn)
    else:
      z = (np.asarray(y_new, dtype=np.float64).reshape(-1) - self._center) / self._spread
      y_std = (_squash(z) - self._u_mean) / self._u_scale
    gp = GP.__new__(GP)
    gp.__dict__.update({k: v for k, v in self.__dict__.items()})
    gp._set_data(np.concatenate([self.X, Xn]), np.concatenate([self.y_train, y_std]), self.categorical)
    gp._refactor()
    return gp

  def _std_mean(self, Xq:np.ndarray) -> np.ndarray: return self._posterior_np(Xq)[0]
