"""Stationary covariance kernels over tinygrad Tensors, with ARD lengthscales and an output scale.

Glossary (shapes):
  X1[..., n, d], X2[..., m, d]  inputs (unit cube); leading axes broadcast (a batch of hyperparameter restarts)
  lengthscales[..., d]          ARD lengthscales ℓ (> 0);   outputscale[...]  signal variance σ_f² (> 0)
  r2[..., n, m]                 squared scaled distance Σ_c w_c (x1_c − x2_c)² / ℓ_c²;   r = √r2
  categorical                   list of slices, the one-hot column blocks; their columns get weight w_c = ½, so two
                                different categories of one block are at squared distance exactly 1/ℓ² (a Hamming
                                distance per block when the block shares one lengthscale, as the GP fit ties them)
Every kernel is k(X1, X2, lengthscales, outputscale) -> [..., n, m] and is safe at r = 0: √ is taken through a double
`where`, so the gradient there is 0 instead of NaN (d r/d r2 is infinite at 0, d r2/dx is 0, and 0·∞ = NaN).
"""
from __future__ import annotations

import math

from tinygrad import Tensor


def column_weights(d:int, categorical:list[slice]|None) -> list[float]:
  """w_c: 1 for continuous columns, ½ for one-hot columns (two flipped bits = one category change)."""
  w = [1.0] * d
  for block in categorical or []:
    for c in range(*block.indices(d)): w[c] = 0.5
  return w

def effective_lengthscales(lengthscales:Tensor, categorical:list[slice]|None) -> Tensor:
  """Fold the column weights into the lengthscales: w_c (Δx)²/ℓ² = (Δx)²/(ℓ/√w_c)²."""
  if not categorical: return lengthscales
  w = column_weights(lengthscales.shape[-1], categorical)
  return lengthscales * Tensor([1 / math.sqrt(x) for x in w], dtype=lengthscales.dtype, device=lengthscales.device)

def scaled_sqdist(X1:Tensor, X2:Tensor, lengthscales:Tensor) -> Tensor:
  """r2[..., n, m]; differences, not the |a|²+|b|²−2ab expansion: no cancellation, and it fuses into one reduce."""
  ls = lengthscales.unsqueeze(-2)
  diff = (X1 / ls).unsqueeze(-2) - (X2 / ls).unsqueeze(-3)
  return diff.square().sum(-1)

def _safe_sqrt(r2:Tensor) -> Tensor:
  pos = r2 > 0
  return pos.where(pos.where(r2, 1.0).sqrt(), 0.0)

def _outputscale(k:Tensor, outputscale:Tensor|float) -> Tensor:
  return k * (outputscale.unsqueeze(-1).unsqueeze(-1) if isinstance(outputscale, Tensor) and outputscale.ndim else outputscale)

def rbf(X1:Tensor, X2:Tensor, lengthscales:Tensor, outputscale:Tensor|float=1.0, categorical:list[slice]|None=None) -> Tensor:
  """σ_f² exp(−r²/2)."""
  r2 = scaled_sqdist(X1, X2, effective_lengthscales(lengthscales, categorical))
  return _outputscale((r2 * -0.5).exp(), outputscale)

def matern12(X1:Tensor, X2:Tensor, lengthscales:Tensor, outputscale:Tensor|float=1.0, categorical:list[slice]|None=None) -> Tensor:
  """σ_f² exp(−r)."""
  r = _safe_sqrt(scaled_sqdist(X1, X2, effective_lengthscales(lengthscales, categorical)))
  return _outputscale((-r).exp(), outputscale)

def matern32(X1:Tensor, X2:Tensor, lengthscales:Tensor, outputscale:Tensor|float=1.0, categorical:list[slice]|None=None) -> Tensor:
  """σ_f² (1 + √3 r) exp(−√3 r)."""
  s = _safe_sqrt(scaled_sqdist(X1, X2, effective_lengthscales(lengthscales, categorical))) * math.sqrt(3)
  return _outputscale((1 + s) * (-s).exp(), outputscale)

def matern52(X1:Tensor, X2:Tensor, lengthscales:Tensor, outputscale:Tensor|float=1.0, categorical:list[slice]|None=None) -> Tensor:
  """σ_f² (1 + √5 r + 5r²/3) exp(−√5 r)."""
  r2 = scaled_sqdist(X1, X2, effective_lengthscales(lengthscales, categorical))
  s = _safe_sqrt(r2 * 5)
  return _outputscale((1 + s + r2 * (5 / 3)) * (-s).exp(), outputscale)

KERNELS = {"rbf": rbf, "matern12": matern12, "matern32": matern32, "matern52": matern52}

def get_kernel(name:str):
  """Kernel function by name; the error lists the choices."""
  if name not in KERNELS: raise ValueError(f"unknown kernel {name!r}: choose one of {sorted(KERNELS)}")
  return KERNELS[name]
