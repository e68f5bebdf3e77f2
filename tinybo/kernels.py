"""The covariance kernel, used by the fit, the posterior and the tests: Matérn 1/2, 3/2, 5/2 and RBF as one coefficient
form with ARD lengthscales and an output scale, and its analytic derivative in u = r² (for the likelihood's gradient).
Holds: KERNEL_COEFS, `check_kernel`, `profile`, `stationary`, `dk_du`, `column_weights`, `scaled_sqdist`, `self_sqdist`, and
the named kernels (KERNELS: thin wrappers). Imports: tinygrad.
Glossary (shapes):
  X1[..., n, d], X2[..., m, d]  inputs (unit cube); leading axes broadcast (a batch of hyperparameter restarts)
  lengthscales[..., d]          ARD lengthscales ℓ (> 0);   outputscale[...]  signal variance σ_f² (> 0)
  u = r²[..., n, m]             squared scaled distance Σ_c w_c (x1_c − x2_c)² / ℓ_c²;   r = √u
  coef[4] = (c, p1, p2, q)      k(r) = σ_f² (1 + p1 s + p2 s²) exp(−s − q r²), s = c r: one compiled program for every kernel
  categorical                   the one-hot column blocks (slices); their columns weigh w_c = ½, so two categories of one
                                block are at squared distance 1/ℓ² (Hamming, as the GP fit ties a block's lengthscales)
Safe at r = 0: √ through a double `where` makes the gradient 0 there, not NaN (dr/du = ∞ times du/dx = 0).
"""
from __future__ import annotations

import math

from tinygrad import Tensor

KERNEL_COEFS = {"matern12": (1.0, 0.0, 0.0, 0.0), "matern32": (math.sqrt(3), 1.0, 0.0, 0.0), "matern52": (math.sqrt(5), 1.0, 1 / 3, 0.0),
                "rbf": (0.0, 0.0, 0.0, 0.5)}

def check_kernel(name:str) -> tuple[float, float, float, float]:
  """The coefficients of a kernel by name; the error lists the choices."""
  if not isinstance(name, str) or name not in KERNEL_COEFS: raise ValueError(f"unknown kernel {name!r}: choose one of {sorted(KERNEL_COEFS)}")
  return KERNEL_COEFS[name]

def column_weights(d:int, categorical:list[slice]|None) -> list[float]:
  """w_c: 1 for continuous columns, ½ for one-hot columns (two flipped bits = one category change)."""
  return [0.5 if any(c in range(*b.indices(d)) for b in categorical or []) else 1.0 for c in range(d)]

def scaled_sqdist(X1:Tensor, X2:Tensor, lengthscales:Tensor) -> Tensor:
  """u[..., n, m]; differences, not the |a|²+|b|²−2ab expansion: no cancellation, and it fuses into one reduce."""
  ls = lengthscales.unsqueeze(-2)
  diff = (X1 / ls).unsqueeze(-2) - (X2 / ls).unsqueeze(-3)
  return diff.square().sum(-1)

def self_sqdist(X:Tensor, lengthscales:Tensor) -> Tensor:
  """`scaled_sqdist(X, X, ℓ)` with u exactly 0 between equal rows (the diagonal, repeated points). x/ℓ − x/ℓ is x·(1/ℓ)
  twice, which a compiler that contracts into fused multiply-adds (pocl's OpenCL, nvrtc) leaves at ~1e-33; there
  Matérn-1/2's dk/du = −k/(2r) is ~1e16 and the fit's lengthscale gradient garbage. Entries of distinct rows keep their
  bits. For the fit's K(X, X) only: the mask costs N²·D comparisons against the fit's O(N³), where the acquisition's
  cross-covariances would pay it on every candidate."""
  same = (X.unsqueeze(-2) == X.unsqueeze(-3)).all(-1)
  return same.where(0.0, scaled_sqdist(X, X, lengthscales))

def profile(u:Tensor, coef:Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
  """The pieces of k/σ_f² at squared distance u: (u > 0, r, s = c r, poly = 1 + p1 s + p2 s², ex = exp(−s − q u));
  k/σ_f² = poly · ex. `dk_du` reuses them."""
  pos = u > 0
  r = pos.where(pos.where(u, 1.0).sqrt(), 0.0)
  s = r * coef[0]
  return pos, r, s, 1 + s * coef[1] + s.square() * coef[2], (-s - u * coef[3]).exp()

def dk_du(pos:Tensor, r:Tensor, s:Tensor, poly:Tensor, e:Tensor, coef:Tensor) -> Tensor:
  """dk/du from `profile`'s pieces, with e = σ_f² ex: σ_f² e^(−s−q u) [(p1 + 2 p2 s − poly) c/(2r) − q poly] (0 at r = 0)."""
  return e * ((coef[1] + 2 * coef[2] * s - poly) * pos.where(coef[0] / (2 * pos.where(r, 1.0)), 0.0) - coef[3] * poly)

def stationary(X1:Tensor, X2:Tensor, lengthscales:Tensor, outputscale:Tensor|float, coef:Tensor) -> Tensor:
  """σ_f² (1 + p1 s + p2 s²) exp(−s − q r²), s = c r: [..., n, m]; a batched outputscale[b] broadcasts over the leading axis."""
  _, _, _, poly, ex = profile(scaled_sqdist(X1, X2, lengthscales), coef)
  return poly * ex * (outputscale.reshape(*outputscale.shape, 1, 1) if isinstance(outputscale, Tensor) and outputscale.ndim else outputscale)

def _named(name:str):
  def kernel(X1:Tensor, X2:Tensor, lengthscales:Tensor, outputscale:Tensor|float=1.0, categorical:list[slice]|None=None) -> Tensor:
    if categorical:  # fold the column weights into the lengthscales: w_c (Δx)²/ℓ² = (Δx)²/(ℓ/√w_c)²
      w = column_weights(lengthscales.shape[-1], categorical)
      lengthscales = lengthscales * Tensor([1 / math.sqrt(x) for x in w], dtype=lengthscales.dtype, device=lengthscales.device)
    return stationary(X1, X2, lengthscales, outputscale, Tensor(KERNEL_COEFS[name], dtype=X1.dtype, device=X1.device))
  kernel.__name__ = kernel.__qualname__ = name
  return kernel

KERNELS = {name: _named(name) for name in KERNEL_COEFS}
rbf, matern12, matern32, matern52 = (KERNELS[k] for k in ("rbf", "matern12", "matern32", "matern52"))
