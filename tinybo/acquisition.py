"""Acquisition functions on tinygrad Tensors, a scrambled Sobol sequence, and the acquisition optimizer.

Glossary (shapes in brackets; all acquisition values are to be MAXIMIZED, the strategy flips the sign of a minimized objective):
  m        number of query points; d encoded dimension of the space (every column in [0, 1])
  mean[m]  posterior mean, standardized units;  var[m] posterior variance (>= 0), standardized units;  sigma = sqrt(var)
  best     incumbent: the best standardized value observed so far (a 0-d or [1] Tensor, never a python float under jit)
  z[m]     (mean - best) / sigma, the standardized improvement
  phi, Phi standard normal pdf and cdf;  h(z) = phi(z) + z Phi(z) = E[max(0, Z + z)], so EI = sigma h(z)
  erfcx(x) exp(x^2) erfc(x), the scaled complementary error function (smooth, ~1/(x sqrt(pi)) for large x)
  state    the GP's posterior_state() tensors; posterior(*state, X[m, d]) -> (mean[m], var[m])
  S        number of gradient starts; K number of gradient steps; n_raw number of raw (space-filling) candidates

Why the care: EI underflows to 0 for z below about -38 (float64), and tinygrad's erf is a 1.4e-7-absolute approximation,
so log(EI) computed naively is -inf or garbage exactly where the optimizer needs a gradient (Ament et al. 2023,
"Unexpected improvements to expected improvement"). We compute log erfcx with a Chebyshev fit that has ~1e-14 relative
error on [0, inf), and log h(z) in three branches: direct (z > -1), factored through erfcx (-20 < z <= -1), and the
asymptotic series (z <= -20). Every branch is evaluated on inputs clamped into its own range, so no branch ever makes an
inf or NaN that a `where` would multiply by 0 in the backward pass.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from tinygrad import Tensor, TinyJit
from tinygrad.engine.jit import _prepare_jit_inputs

_LOG_2 = math.log(2.0)
_SQRT_HALF = math.sqrt(0.5)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_SQRT_HALF_PI = math.sqrt(0.5 * math.pi)
_VAR_MIN = 1e-12  # posterior variance floor: sqrt and log stay finite with a finite gradient at observed points

# Chebyshev coefficients of g(u) = log(erfcx(x)) - log(t), t = 2 / (2 + x), u = 2t - 1, x in [0, inf) -> u in (-1, 1].
# Fit at 25 Chebyshev nodes against scipy.special.erfcx (float64); max error 5e-15 in g, i.e. relative error in erfcx.
_ERFCX_CHEB = (-0.6513268598908547, 0.6419697923564904, 0.019476473204185732, -0.009561514786808733, -0.0009465953444819882,
               0.00036683949785273304, 4.252332480683599e-05, -2.0278578112516678e-05, -1.6242900047734635e-06,
               1.3036558357612426e-06, 1.5626441596224436e-08, -8.523809574563642e-08, 6.529054319158806e-09, 5.059343627061324e-09,
               -9.913644406430886e-10, -2.27364926137736e-10, 9.646744636774579e-11, 2.394437464372292e-12, -6.886393126510791e-12,
               8.948537917555945e-13, 3.131692869422797e-13, -1.13318477331635e-13, 1.140517282155906e-15, 6.116386986194114e-15,
               -6.551909892495235e-16)

# ***** special functions *****

def log_erfcx(x: Tensor) -> Tensor:
  """log(exp(x^2) erfc(x)) for x >= 0 (callers clamp), relative error ~1e-14 in float64, no under/overflow for any x >= 0."""
  t = 2.0 / (2.0 + x)
  u = 2.0 * t - 1.0
  # Clenshaw recurrence: b_k = c_k + 2u b_{k+1} - b_{k+2}; sum = c_0 + u b_1 - b_2
  b1, b2 = x * 0.0, x * 0.0
  for c in _ERFCX_CHEB[:0:-1]: b1, b2 = c + 2.0 * u * b1 - b2, b1
  return _ERFCX_CHEB[0] + u * b1 - b2 + t.log()

def log_ndtr(z: Tensor) -> Tensor:
  """log Phi(z) with relative accuracy in both tails (Phi(z) = erfc(-z/sqrt2)/2)."""
  xa = (z <= 0).where(-z, z) * _SQRT_HALF  # |z|/sqrt2 through a where: abs() has a zero gradient at 0
  log_erfc = log_erfcx(xa) - xa * xa      # log erfc(|z|/sqrt2) <= 0
  lower = log_erfc - _LOG_2               # z <= 0: Phi = erfc(|z|/sqrt2)/2
  # z > 0: Phi = 1 - q, q = erfc(|z|/sqrt2)/2 <= 0.5; log(1 - q) by its series when q is small (log1p accuracy)
  q = 0.5 * log_erfc.exp()
  upper = (q < 1e-4).where(-q * (1.0 + q * (0.5 + q / 3.0)), (1.0 - q.minimum(0.5)).log())
  return (z <= 0).where(lower, upper)

def ndtr(z: Tensor) -> Tensor: return log_ndtr(z).exp()

# asymptotic series of h(z) z^2 / phi(z) = sum_k (-1)^k (2k+1)!! / z^(2k), truncated where the next term is < 3e-15 at |z| = 20
_ASYM = tuple((-1) ** k * math.prod(range(1, 2 * k + 2, 2)) for k in range(9))

def log_h(z: Tensor) -> Tensor:
  """log(phi(z) + z Phi(z)), finite and monotone for every finite z, with a finite gradient everywhere."""
  # one Chebyshev evaluation serves both erfc branches (it dominates the compile time of the jitted steps)
  x = (z <= 0).where(-z, z) * _SQRT_HALF
  le = log_erfcx(x)                       # finite for every x >= 0
  q = 0.5 * (le - x * x).exp()            # Phi(-|z|)
  phi = (-0.5 * z * z - _LOG_SQRT_2PI).exp()
  # direct (z > -1, no cancellation worth worrying about: h(-1) = 0.083); the argument is replaced by 1 elsewhere so
  # that neither log nor its gradient sees a 0 (a `where` multiplies the unused branch's gradient by 0, and 0 * inf = NaN)
  upper = z > -1.0
  direct = upper.where(phi + z * (z <= 0).where(q, 1.0 - q), 1.0).log()
  # middle (-20 < z <= -1): h = phi(z) (1 + z sqrt(pi/2) erfcx(-z/sqrt2)); the bracket loses ~z^2 eps, <= 1e-13 here
  mid = (z > -20.0) & ~upper
  middle = -0.5 * z * z - _LOG_SQRT_2PI + mid.where(1.0 + z * _SQRT_HALF_PI * le.exp(), 1.0).log()
  # tail (z <= -20): h = phi(z)/z^2 * series(1/z^2)
  z3 = z.minimum(-20.0)
  w = 1.0 / (z3 * z3)
  series = w * 0.0
  for c in _ASYM[::-1]: series = series * w + c
  tail = -0.5 * z3 * z3 - _LOG_SQRT_2PI + w.log() + series.log()
  return upper.where(direct, mid.where(middle, tail))

# ***** acquisition functions: mean[m], var[m] -> value[m] (maximize) *****

def _z_sigma(mean: Tensor, var: Tensor, best: Tensor | float) -> tuple[Tensor, Tensor]:
  sigma = var.maximum(_VAR_MIN).sqrt()
  return (mean - best) / sigma, sigma

def log_expected_improvement(mean: Tensor, var: Tensor, best: Tensor | float) -> Tensor:
  """log E[max(0, f - best)], f ~ N(mean, var): finite far into the tail where EI itself underflows."""
  z, sigma = _z_sigma(mean, var, best)
  return log_h(z) + sigma.log()

def expected_improvement(mean: Tensor, var: Tensor, best: Tensor | float) -> Tensor:
  z, sigma = _z_sigma(mean, var, best)
  return sigma * log_h(z).exp()

def upper_confidence_bound(mean: Tensor, var: Tensor, beta: Tensor | float = 2.0) -> Tensor:
  """mean + sqrt(beta) sigma (beta as in BoTorch's UpperConfidenceBound)."""
  return mean + (beta ** 0.5 if isinstance(beta, (int, float)) else beta.sqrt()) * var.maximum(0.0).sqrt()

def probability_of_improvement(mean: Tensor, var: Tensor, best: Tensor | float) -> Tensor:
  return ndtr(_z_sigma(mean, var, best)[0])

def log_probability_of_improvement(mean: Tensor, var: Tensor, best: Tensor | float) -> Tensor:
  return log_ndtr(_z_sigma(mean, var, best)[0])

ACQUISITIONS = ("logei", "ei", "ucb", "pi", "logpi")

def acquisition_value(kind: str, mean: Tensor, var: Tensor, params: Tensor) -> Tensor:
  """params[2] = (best, beta) as a Tensor so that a captured TinyJit sees new values on replay."""
  best, beta = params[0], params[1]
  if kind == "logei": return log_expected_improvement(mean, var, best)
  if kind == "ei": return expected_improvement(mean, var, best)
  if kind == "ucb": return upper_confidence_bound(mean, var, beta)
  if kind == "pi": return probability_of_improvement(mean, var, best)
  if kind == "logpi": return log_probability_of_improvement(mean, var, best)
  raise ValueError(f"unknown acquisition {kind!r}: use one of {', '.join(ACQUISITIONS)}")

# ***** scrambled Sobol sequence (numpy) *****

# Joe & Kuo (2008) new-joe-kuo-6.21201 for dimensions 2..40: (primitive polynomial with both end bits, initial m_1..m_s).
# Dimension 1 is van der Corput (all m = 1). Beyond 40 we continue with the next primitive polynomials and odd m_k from a
# fixed generator: still a valid Sobol construction (Bratley & Fox 1988), with weaker low-dimensional projections.
_JOE_KUO = ((3, (1,)), (7, (1, 3)), (11, (1, 3, 1)), (13, (1, 1, 1)), (19, (1, 1, 3, 3)), (25, (1, 3, 5, 13)), (37, (1, 1, 5, 5, 17)),
            (41, (1, 1, 5, 5, 5)), (47, (1, 1, 7, 11, 19)), (55, (1, 1, 5, 1, 1)), (59, (1, 1, 1, 3, 11)), (61, (1, 3, 5, 5, 31)),
            (67, (1, 3, 3, 9, 7, 49)), (91, (1, 1, 1, 15, 21, 21)), (97, (1, 3, 1, 13, 27, 49)), (103, (1, 1, 1, 15, 7, 5)),
            (109, (1, 3, 1, 15, 13, 25)), (115, (1, 1, 5, 5, 19, 61)), (131, (1, 3, 7, 11, 23, 15, 103)), (137, (1, 3, 7, 13, 13, 15, 69)),
            (143, (1, 1, 3, 13, 7, 35, 63)), (145, (1, 3, 5, 9, 1, 25, 53)), (157, (1, 3, 1, 13, 9, 35, 107)),
            (167, (1, 3, 1, 5, 27, 61, 31)), (171, (1, 1, 5, 11, 19, 41, 61)), (185, (1, 3, 5, 3, 3, 13, 69)),
            (191, (1, 1, 7, 13, 1, 19, 1)), (193, (1, 3, 7, 5, 13, 19, 59)), (203, (1, 1, 3, 9, 25, 29, 41)),
            (211, (1, 3, 5, 13, 23, 1, 55)), (213, (1, 3, 7, 3, 13, 59, 17)), (229, (1, 3, 1, 3, 5, 53, 69)),
            (239, (1, 1, 5, 5, 23, 33, 13)), (241, (1, 1, 7, 7, 1, 61, 123)), (247, (1, 1, 7, 9, 13, 61, 49)),
            (253, (1, 3, 3, 5, 3, 55, 33)), (285, (1, 3, 1, 15, 31, 13, 49, 245)), (299, (1, 3, 5, 15, 31, 59, 63, 97)),
            (301, (1, 3, 1, 11, 11, 11, 77, 249)))
_BITS = 30

def _is_primitive(p: int) -> bool:
  s = p.bit_length() - 1
  order = (1 << s) - 1
  def mulmod(a: int, b: int) -> int:
    r = 0
    while b:
      if b & 1: r ^= a
      b >>= 1; a <<= 1
      if a >> s & 1: a ^= p
    return r
  def powmod(e: int) -> int:
    r, a = 1, 2
    while e:
      if e & 1: r = mulmod(r, a)
      a = mulmod(a, a); e >>= 1
    return r
  if powmod(order) != 1: return False
  primes, n, q = [], order, 2
  while q * q <= n:
    if n % q == 0:
      primes.append(q)
      while n % q == 0: n //= q
    q += 1
  if n > 1: primes.append(n)
  return all(powmod(order // q) != 1 for q in primes)

_DIRECTIONS: dict[int, np.ndarray] = {}

def _direction_numbers(d: int) -> np.ndarray:
  """[d, _BITS] direction integers v_k = m_k << (_BITS - 1 - k)."""
  if d in _DIRECTIONS: return _DIRECTIONS[d]
  table = list(_JOE_KUO[:max(d - 1, 0)])
  p, gen = _JOE_KUO[-1][0], np.random.default_rng(20080101)
  while len(table) < d - 1:
    p += 2
    if _is_primitive(p):
      s = p.bit_length() - 1
      table.append((p, tuple(int(gen.integers(0, 1 << k)) * 2 + 1 for k in range(s))))  # odd m_k < 2^(k+1)
  V = np.zeros((d, _BITS), dtype=np.int64)
  V[0] = 1 << np.arange(_BITS - 1, -1, -1)
  for j, (p, m) in enumerate(table, start=1):
    s = p.bit_length() - 1
    a = (p >> 1) & ((1 << (s - 1)) - 1)
    for k in range(min(s, _BITS)): V[j, k] = m[k] << (_BITS - 1 - k)
    for k in range(s, _BITS):
      v = V[j, k - s] ^ (V[j, k - s] >> s)
      for i in range(1, s):
        if (a >> (s - 1 - i)) & 1: v ^= V[j, k - i]
      V[j, k] = v
  _DIRECTIONS[d] = V
  return V

def sobol(n: int, d: int, rng: np.random.Generator | None = None) -> np.ndarray:
  """First n points of a d-dimensional Sobol sequence in [0, 1)^d; scrambled (linear matrix scramble + digital shift) when
  rng is given, so each seed gives a different randomized low-discrepancy set that is still uniformly distributed."""
  V = _direction_numbers(d)
  if rng is not None:
    # LMS: v' = L v over GF(2) with L random lower-triangular (unit diagonal) per dimension; bits MSB-first
    bits = (V[:, :, None] >> np.arange(_BITS - 1, -1, -1)) & 1                                  # [d, K, B]
    L = np.tril(rng.integers(0, 2, size=(d, _BITS, _BITS)), -1) + np.eye(_BITS, dtype=np.int64)  # [d, B, B]
    bits = np.einsum("jkc,jbc->jkb", bits, L) & 1
    V = (bits << np.arange(_BITS - 1, -1, -1)).sum(-1)
  idx = np.arange(n, dtype=np.int64)
  gray = idx ^ (idx >> 1)
  X = np.zeros((n, d), dtype=np.int64)
  for k in range(max(int(n - 1).bit_length(), 1)): X ^= ((gray >> k) & 1)[:, None] * V[:, k][None, :]
  if rng is not None: X ^= rng.integers(0, 1 << _BITS, size=d)
  return (X.astype(np.float64) + (0.5 if rng is not None else 0.0)) / float(1 << _BITS)

# ***** the acquisition optimizer *****

_JITS: dict[tuple, TinyJit] = {}
_BUFFERS: dict[tuple, tuple[Tensor, np.ndarray | None]] = {}  # persistent jit input buffers by (shape, dtype, device)

def _input_buffer(shape: tuple, dtype: Any, device: str) -> tuple[Tensor, np.ndarray | None]:
  key = (tuple(shape), dtype, device)
  if key not in _BUFFERS:
    t = Tensor.zeros(*shape, dtype=dtype, device=device).contiguous().realize()
    _BUFFERS[key] = (t, _host_view(t))
  return _BUFFERS[key]

def _acquisition_fn(posterior: Callable, kind: str, n_state: int, shapes: tuple, grad: bool) -> TinyJit:
  """One captured program per (posterior, acquisition, shapes): the value [M], or with grad the packed [S, 1 + d] of
  value and gradient (one output: one read)."""
  key = (grad, posterior, kind, shapes)
  if key not in _JITS:
    def step(*args: Tensor) -> Tensor:
      state, params, X = args[:n_state], args[n_state], args[n_state + 1]
      mean, var = posterior(*state, X)
      a = acquisition_value(kind, mean, var, params)
      if not grad: return a.contiguous().realize()
      (g,) = a.sum().gradient(X)  # starts are independent, so the gradient of the sum is each start's own gradient
      return a.unsqueeze(-1).cat(g, dim=-1).contiguous().realize()
    _JITS[key] = TinyJit(step)
  return _JITS[key]

def _host_view(t: Tensor) -> np.ndarray | None:
  """A numpy array aliasing the memory of a realized Tensor where the device allows it (CPU), else None. Reading and writing
  small jit inputs/outputs through it costs ~1 µs instead of the ~0.3 ms of Tensor(...)/numpy() (each schedules a graph)."""
  try:
    buf = t.uop.base.buffer
    if buf.size != t.numel() or not hasattr(buf.allocator, "_as_buffer"): return None
    from tinygrad.dtype import _to_np_dtype
    return np.frombuffer(buf.ensure_allocated().as_memoryview(force_zero_copy=True), dtype=_to_np_dtype(buf.dtype)).reshape(t.shape)
  except Exception: return None  # noqa: BLE001 - any device without zero-copy takes the slow, general path

def _read(t: Tensor) -> np.ndarray:
  v = _host_view(t)
  if v is not None: t.uop.base.buffer.allocator.dev.synchronize()
  return (v.copy() if v is not None else t.numpy()).astype(np.float64)

class AcquisitionEvaluator:
  """Evaluates one acquisition on one posterior, at padded fixed shapes so every call replays a captured TinyJit.
  Inputs live in persistent realized buffers that are overwritten in place between calls (TinyJit tracks buffers)."""
  def __init__(self, posterior: Callable, state: Sequence[Tensor], kind: str, best: float, beta: float = 2.0):
    self.posterior, self.state, self.kind = posterior, tuple(state), kind
    self.dtype, self.device = self.state[0].dtype, self.state[0].device
    self.best_beta = (best, beta)
    self.params, self._params_view = _input_buffer((2,), self.dtype, self.device)
    if self._params_view is None: self.params = Tensor([best, beta], dtype=self.dtype, device=self.device).realize()
    self.shapes = tuple(t.shape for t in self.state)
    self.n_evals = 0
    self._fast: dict[tuple, list] = {}

  def _call(self, fn: TinyJit, X: Tensor) -> Tensor:
    """Replay a captured jit. TinyJit.__call__ re-derives its input buffers from the argument Tensors on every call (graph
    rewrites, ~0.5 ms); ours are the same persistent buffers each time, so after capture we derive them once and replay the
    captured program directly. Any surprise from tinygrad's internals falls back to the ordinary call."""
    if self._params_view is not None: self._params_view[:] = self.best_beta  # the buffer is shared: write it every call
    args = (*self.state, self.params, X)
    if fn.cnt >= 2 and fn.captured is not None and X is _BUFFERS.get((tuple(X.shape), self.dtype, self.device), (None,))[0]:
      try:
        key = (id(fn), id(X))
        if key not in self._fast: self._fast[key] = _prepare_jit_inputs(args, {})[0]
        return fn.captured(self._fast[key], {})
      except Exception: pass  # noqa: BLE001
    return fn(*args)

  def _tensor(self, X: np.ndarray) -> Tensor:
    t, view = _input_buffer(X.shape, self.dtype, self.device)
    if view is not None:
      view[...] = X
      return t
    return Tensor(np.ascontiguousarray(X), dtype=self.dtype, device=self.device).realize()

  def values(self, X: np.ndarray, bucket: int = 1024) -> np.ndarray:
    """acquisition at X[m, d] (no gradient), in chunks padded to `bucket` rows: one compiled program per bucket size, so
    callers use one size (the raw-candidate count) for everything: a compile costs seconds, a padded row microseconds."""
    m = len(X)
    if m == 0: return np.zeros(0)
    fn = _acquisition_fn(self.posterior, self.kind, len(self.state), self.shapes + ((bucket, X.shape[1]),), grad=False)
    out = np.empty(m)
    for i in range(0, m, bucket):
      chunk = X[i:i + bucket]
      if len(chunk) < bucket: chunk = np.concatenate([chunk, np.repeat(chunk[:1], bucket - len(chunk), 0)])
      out[i:i + bucket] = _read(self._call(fn, self._tensor(chunk)))[:min(bucket, m - i)]
    self.n_evals += m
    return np.where(np.isfinite(out), out, -np.inf)

  def values_and_grads(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    fn = _acquisition_fn(self.posterior, self.kind, len(self.state), self.shapes + (X.shape,), grad=True)
    out = _read(self._call(fn, self._tensor(X)))  # a copy: the jit reuses its output buffer
    a, g = out[:, 0], out[:, 1:]
    bad = ~np.isfinite(a) | ~np.isfinite(g).all(1)
    a[bad], g[bad] = -np.inf, 0.0
    return a, g

_HASH = np.random.default_rng(12345).integers(1, 2**61, size=4096, dtype=np.int64)

def _match_rows(A: np.ndarray, B: np.ndarray) -> np.ndarray:
  """for each row of A, whether it equals some row of B on the 1e-9 grid (points are space.round-ed, so equal
  configurations have equal encodings). Rows become exact integer keys, hashed by an integer random projection (exact,
  wrapping arithmetic): O((|A| + |B|) d), not O(|A| |B| d). A float projection is not exact: its last bits depend on
  the summation order the BLAS kernel picks for a matrix shape, and equal rows of different matrices were missed."""
  if len(A) == 0 or len(B) == 0: return np.zeros(len(A), dtype=bool)
  d = A.shape[1]
  r = _HASH[:d] if d <= len(_HASH) else np.random.default_rng(12345).integers(1, 2**61, size=d, dtype=np.int64)
  ka, kb = np.rint(np.asarray(A) * 1e9).astype(np.int64), np.rint(np.asarray(B) * 1e9).astype(np.int64)
  hit = np.isin(ka @ r, kb @ r)
  if hit.any():  # confirm the (few) hash hits exactly
    idx = np.flatnonzero(hit)
    hit[idx] = (ka[idx, None, :] == kb[None, :, :]).all(-1).any(1)
  return hit

def _adam_ascent(ev: AcquisitionEvaluator, X0: np.ndarray, movable: np.ndarray, steps: int, lr: float, lr_final: float,
                 scale: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Projected Adam ascent on all starts at once; returns the best iterate (and value) each start visited. Steps are taken in
  z = x / scale (scale ~ the GP lengthscales, as in Optuna's preconditioning), which equalizes curvature across columns."""
  X = X0.copy()
  m, v = np.zeros_like(X), np.zeros_like(X)
  best_X, best_a = X0.copy(), np.full(len(X0), -np.inf)
  b1, b2, eps = 0.9, 0.999, 1e-8
  for t in range(1, steps + 2):
    a, g = ev.values_and_grads(X)
    improved = a > best_a
    best_X[improved], best_a[improved] = X[improved], a[improved]
    if t == steps + 1: break
    g = g * movable * scale  # gradient with respect to z
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    # cosine-decayed step: coarse moves first, then a fine polish near the optimum
    step = lr_final + 0.5 * (lr - lr_final) * (1 + math.cos(math.pi * (t - 1) / max(steps - 1, 1)))
    dz = step * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    X = np.clip(X + dz * scale, lo, hi)
  return best_X, best_a

def batched_lbfgs(fg: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], x0: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                  max_evals: int = 25, memory: int = 8, gtol: float = 1e-7, ftol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
  """Minimize b independent box-constrained problems in lock-step, every numpy operation vectorized over the rows (a
  per-row Python loop costs more than the jitted evaluation it drives). fg(x[b, p]) -> (f[b], g[b, p]) is one batched
  evaluation. Projected L-BFGS directions on the free variables, Armijo backtracking on the projected path.
  Returns (x[b, p], f[b]), the best point each row accepted."""
  b, p = x0.shape
  x = np.clip(x0, lower, upper)
  f, g = fg(x)
  f = np.where(np.isfinite(f), f, np.inf)
  S, Y, rho = np.zeros((memory, b, p)), np.zeros((memory, b, p)), np.zeros((memory, b))  # ring buffer, newest at head - 1
  head, evals = 0, 1
  done = ~np.isfinite(f)
  t = np.ones(b)
  def direction() -> tuple[np.ndarray, np.ndarray]:
    free = ~(((x <= lower) & (g > 0)) | ((x >= upper) & (g < 0)))
    pg = np.where(free, g, 0.0)
    q, alphas = pg.copy(), []
    for k in range(memory):  # newest to oldest; rho = 0 marks an empty slot, a no-op
      j = (head - 1 - k) % memory
      if not rho[j].any(): continue
      a = rho[j] * (S[j] * free * q).sum(1)
      alphas.append((j, a)); q -= a[:, None] * Y[j] * free
    jn = (head - 1) % memory
    yy = ((Y[jn] * free) ** 2).sum(1)
    gamma = np.where((rho[jn] > 0) & (yy > 0), 1.0 / np.maximum(rho[jn] * yy, 1e-300), 1.0)
    q *= gamma[:, None]
    for j, a in reversed(alphas):
      bcoef = rho[j] * (Y[j] * free * q).sum(1)
      q += (a - bcoef)[:, None] * S[j] * free
    d = -np.where(free, q, 0.0)
    bad = (d * pg).sum(1) >= 0  # lost descent: steepest descent, forget the curvature pairs
    d[bad] = -pg[bad]
    rho[:, bad] = 0.0
    return d, pg
  d, pg = direction()
  first = rho.max(0) == 0
  t = np.where(first, np.minimum(1.0, 1.0 / np.maximum(np.abs(pg).max(1), 1e-12)), 1.0)
  done |= np.abs(pg).max(1) <= gtol
  while evals < max_evals and not done.all():
    x_try = np.where(done[:, None], x, np.clip(x + t[:, None] * d, lower, upper))
    f_try, g_try = fg(x_try)
    evals += 1
    f_try = np.where(np.isfinite(f_try), f_try, np.inf)
    step = x_try - x
    ok = ~done & (f_try <= f + 1e-4 * np.minimum((g * step).sum(1), 0.0)) & np.isfinite(f_try)
    if ok.any():
      yv = g_try - g
      sy = (step * yv).sum(1)
      keep = ok & (sy > 1e-12 * np.sqrt((step * step).sum(1) * (yv * yv).sum(1)))
      if keep.any():
        S[head, keep], Y[head, keep], rho[head, keep] = step[keep], yv[keep], 1.0 / sy[keep]
        rho[head, ~keep] = 0.0
        head = (head + 1) % memory
      converged = ok & (f - f_try <= ftol * np.maximum(1.0, np.abs(f_try)))
      x, f, g = np.where(ok[:, None], x_try, x), np.where(ok, f_try, f), np.where(ok[:, None], g_try, g)
      done |= converged
    d_new, pg = direction()
    d = np.where(ok[:, None], d_new, d)
    done |= ok & (np.abs(pg).max(1) <= gtol)
    t = np.where(ok, 1.0, t * np.where(np.isfinite(f_try), 0.5, 0.1))
    done |= ~ok & (t * np.abs(d).max(1) < 1e-10)
  return x, f

def _lbfgs_ascent(ev: AcquisitionEvaluator, X0: np.ndarray, movable: np.ndarray, max_evals: int, scale: np.ndarray,
                  lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Batched box-constrained L-BFGS over the starts on the movable columns, in z = x / scale coordinates (Optuna's
  preconditioning by the lengthscales), within [lo, hi]. Returns the best point (and value) each start visited."""
  cols = np.flatnonzero(movable)
  s = scale[cols]
  best_X, best_a = X0.copy(), np.full(len(X0), -np.inf)
  def fg(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = X0.copy()
    X[:, cols] = np.clip(z * s, lo[cols], hi[cols])
    a, g = ev.values_and_grads(X)
    better = a > best_a
    best_X[better], best_a[better] = X[better], a[better]
    return -a, -g[:, cols] * s  # minimize -a; d(-a)/dz = -grad_x * scale
  batched_lbfgs(fg, X0[:, cols] / s, lo[cols] / s, hi[cols] / s, max_evals=max_evals)
  return best_X, best_a

def _local_search(ev: AcquisitionEvaluator, space: Any, X: np.ndarray, a: np.ndarray, avoid: np.ndarray, bucket: int, max_iter: int = 20
                  ) -> tuple[np.ndarray, np.ndarray]:
  """Greedy discrete hill climbing over space.neighbors (int +-1, category switches), all starts batched per round.
  A start whose point is already observed still moves to its best neighbor, so a duplicate can escape."""
  X, a = X.copy(), a.copy()
  active = np.ones(len(X), dtype=bool)
  for _ in range(max_iter):
    idx = np.flatnonzero(active)
    if len(idx) == 0: break
    nbrs = [space.neighbors(X[i]) for i in idx]
    counts = [len(n) for n in nbrs]
    if sum(counts) == 0: break
    vals = ev.values(np.concatenate([n for n in nbrs if len(n)]), bucket=bucket)
    off = 0
    for i, nb, c in zip(idx, nbrs, counts):
      if c == 0: active[i] = False; continue
      vv = vals[off:off + c]; off += c
      vv = np.where(_match_rows(nb, avoid), -np.inf, vv)
      j = int(np.argmax(vv))
      dup = _match_rows(X[i:i + 1], avoid)[0]
      if vv[j] > a[i] or (dup and np.isfinite(vv[j])): X[i], a[i] = nb[j], vv[j]
      else: active[i] = False
  return X, a

def optimize_acquisition(posterior: Callable, state: Sequence[Tensor], space: Any, *, best: float, rng: np.random.Generator,
                         acquisition: str = "logei", beta: float = 2.0, X_observed: np.ndarray | None = None,
                         X_pending: np.ndarray | None = None, X_top: np.ndarray | None = None, lengthscales: np.ndarray | None = None,
                         n_raw: int = 1024, n_starts: int = 10, n_steps: int = 25, method: str = "lbfgs", lr: float = 0.1,
                         lr_final: float = 0.003) -> tuple[np.ndarray, float]:
  """Maximize the acquisition over the space; returns (x[d] encoded and valid, acquisition value).

  1. n_raw candidates: scrambled Sobol points (rounded to valid configurations) plus Gaussian perturbations of the best
     observed points X_top (scaled by the lengthscales: local refinement is where BO earns its last digits).
  2. One no-gradient evaluation of all of them; starts = the best few plus a Boltzmann draw over the rest (diversity).
  3. Gradient ascent on all starts at once over the float and int columns (ints relaxed to the continuum), each evaluation
     one replay of a TinyJit-captured value-and-gradient step: batched box-constrained L-BFGS (method="lbfgs", default,
     at most n_steps evaluations) or projected Adam (method="adam", n_steps steps).
  4. space.round, then greedy discrete local search over space.neighbors scored by the same acquisition.
  5. The best result that is neither observed nor pending; falling back through the ranked candidates, then random points.
  """
  d = space.dim
  avoid = np.concatenate([np.zeros((0, d))] + [np.asarray(A, dtype=np.float64).reshape(-1, d) for A in (X_observed, X_pending)
                                                if A is not None])
  avoid = space.round(avoid) if len(avoid) else avoid
  kinds = np.asarray(space.kinds)
  movable = (kinds != 2).astype(np.float64)
  # a single-valued column is constant: nothing to move
  cand0 = space.round(sobol(max(n_raw, 2), d, rng))
  movable[np.ptp(cand0, axis=0) == 0] = 0.0
  # the relaxed box: floats [0, 1]; an int column only between the encodings of its lowest and highest value, or the
  # ascent walks past them into extrapolation and every relaxed int optimum rounds to a bound
  lo, hi = np.zeros(d), np.ones(d)
  lo[kinds == 1], hi[kinds == 1] = cand0[:, kinds == 1].min(0), cand0[:, kinds == 1].max(0)
  ls = np.ones(d) if lengthscales is None else np.clip(np.asarray(lengthscales, dtype=np.float64).reshape(-1)[:d], 1e-3, 1.0)
  ev = AcquisitionEvaluator(posterior, state, acquisition, best, beta)

  n_local = 0 if X_top is None or len(X_top) == 0 else min(n_raw // 4, 32 * len(X_top))
  cand = cand0[:n_raw - n_local]
  if n_local:
    src = np.asarray(X_top, dtype=np.float64)[rng.integers(0, len(X_top), n_local)]
    # three radii: a polish around the incumbents, a neighborhood, and a wider jump
    radius = np.array([0.02, 0.1, 0.3])[rng.integers(0, 3, n_local)][:, None] * ls[None, :]
    local = np.clip(src + rng.standard_normal(src.shape) * radius * movable, 0.0, 1.0)
    # categorical columns of a perturbed point: occasionally redraw them from a random valid point
    flip = rng.random(n_local) < 0.2
    if flip.any() and (kinds == 2).any(): local[np.ix_(flip, kinds == 2)] = cand0[rng.integers(0, len(cand0), flip.sum())][:, kinds == 2]
    cand = np.concatenate([cand, space.round(local)])
  bucket = len(cand)
  vals = ev.values(cand, bucket=bucket)
  vals_ranked = np.where(_match_rows(cand, avoid), -np.inf, vals)

  # starts: the top few by value, then a Boltzmann (roulette) draw over the rest in proportion to exp(a - a_max)
  order = np.argsort(-vals_ranked, kind="stable")
  n_top = max(1, n_starts // 2)
  chosen = list(order[:n_top])
  rest = order[n_top:]
  fin = rest[np.isfinite(vals_ranked[rest])]
  if len(fin) and n_starts > n_top:
    w = np.exp(np.clip(vals_ranked[fin] - vals_ranked[fin].max(), -50, 0)) + 1e-12
    chosen += list(rng.choice(fin, size=min(n_starts - n_top, len(fin)), replace=False, p=w / w.sum()))
  while len(chosen) < n_starts: chosen.append(order[len(chosen) % len(order)])
  starts = cand[np.array(chosen)]

  if movable.any() and n_steps > 0 and method == "lbfgs": Xs, As = _lbfgs_ascent(ev, starts, movable, n_steps, ls, lo, hi)
  elif movable.any() and n_steps > 0: Xs, As = _adam_ascent(ev, starts, movable, n_steps, lr, lr_final, ls, lo, hi)
  else: Xs, As = starts, vals[np.array(chosen)]
  Xr = space.round(Xs)
  changed = np.abs(Xr - Xs).max(1) > 0
  Ar = As.copy()
  if changed.any(): Ar[changed] = ev.values(Xr[changed], bucket=bucket)
  if (kinds != 0).any(): Xr, Ar = _local_search(ev, space, Xr, Ar, avoid, bucket)

  # rank everything we scored; return the best point that is new
  pool_X = np.concatenate([Xr, cand])
  pool_a = np.concatenate([Ar, vals])
  for i in np.argsort(-pool_a, kind="stable"):
    if not np.isfinite(pool_a[i]) and i >= len(Xr): break
    if not _match_rows(pool_X[i:i + 1], avoid)[0]: return pool_X[i], float(pool_a[i])
  # everything scored is taken (a tiny discrete space): any new valid point will do
  for _ in range(8):
    R = space.round(space.sample(rng, 256))
    new = ~_match_rows(R, avoid)
    if new.any(): return R[np.argmax(new)], float("-inf")
  return pool_X[int(np.argmax(pool_a))], float(np.max(pool_a))
