"""Special functions on tinygrad Tensors, accurate in the tails: `log_erfcx`, `log_ndtr`, `ndtr`, `log_h`. Imports: tinygrad.
Glossary: phi, Phi the standard normal pdf and cdf; erfcx(x) = exp(x²) erfc(x) (~1/(x √π) for large x);
h(z) = phi(z) + z Phi(z) = E[max(0, Z + z)], so EI = σ h(z).
Why: EI underflows to 0 below z ≈ -38 (float64) and tinygrad's erf is a 1.4e-7-absolute approximation, so a naive log(EI)
is -inf or garbage where the optimizer needs a gradient (Ament et al. 2023). log h has three branches, direct (z > -1),
through erfcx (-20 < z <= -1) and an asymptotic series, each evaluated on inputs clamped into its own range: no branch
makes an inf or NaN that a `where` would multiply by 0 in the backward pass.
"""
from __future__ import annotations

import math

from tinygrad import Tensor

_LOG_2 = math.log(2.0)
_SQRT_HALF = math.sqrt(0.5)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_SQRT_HALF_PI = math.sqrt(0.5 * math.pi)

# Chebyshev coefficients of g(u) = log(erfcx(x)) - log(t), t = 2 / (2 + x), u = 2t - 1, x in [0, inf) -> u in (-1, 1].
# Fit at 25 Chebyshev nodes against scipy.special.erfcx (float64); max error 5e-15 in g, i.e. relative error in erfcx.
_ERFCX_CHEB = (-0.6513268598908547, 0.6419697923564904, 0.019476473204185732, -0.009561514786808733, -0.0009465953444819882,
               0.00036683949785273304, 4.252332480683599e-05, -2.0278578112516678e-05, -1.6242900047734635e-06,
               1.3036558357612426e-06, 1.5626441596224436e-08, -8.523809574563642e-08, 6.529054319158806e-09, 5.059343627061324e-09,
               -9.913644406430886e-10, -2.27364926137736e-10, 9.646744636774579e-11, 2.394437464372292e-12, -6.886393126510791e-12,
               8.948537917555945e-13, 3.131692869422797e-13, -1.13318477331635e-13, 1.140517282155906e-15, 6.116386986194114e-15,
               -6.551909892495235e-16)

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
  """log(phi(z) + z Phi(z)), finite and monotone with a finite gradient wherever z*z is finite (|z| below ~1e154 in
  float64, ~1.8e19 in float32: the acquisitions' variance floor keeps z far inside)."""
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
  z3 = (z <= -20.0).where(z, -20.0)     # z itself at -20 too (minimum would split its gradient with the constant)
  w = 1.0 / (z3 * z3)
  series = w * 0.0
  for c in _ASYM[::-1]: series = series * w + c
  tail = -0.5 * z3 * z3 - _LOG_SQRT_2PI + w.log() + series.log()
  return upper.where(direct, mid.where(middle, tail))
