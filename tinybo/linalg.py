"""Dense linear algebra tinygrad lacks: Cholesky, triangular solves, log-determinant, triangular inverse.

Glossary (shapes; every function also takes a leading batch axis `b`):
  A[n,n]   symmetric positive definite matrix        L[n,n]  lower Cholesky factor, A = L Lᵀ
  B[n,m]   right-hand sides (B[n] is one vector)    X[n,m]  solution
  b        batch of independent matrices (e.g. hyperparameter restarts)

Two implementations behind one `impl` switch:
  "custom": one hand-written kernel per factorization or solve (`Tensor.custom_kernel` with explicit UOp loops). A graph
            of per-column tensor ops launches ~3 kernels per column; one kernel runs the whole loop nest in place.
            Loop bounds may not depend on another loop's index (tinygrad codegen), so the triangles are swept with full
            ranges and masked with `where` (never multiply-by-zero: reused buffers may hold NaN).
  "tensor": plain tinygrad tensor ops column by column; slow, but needs nothing beyond elementwise/reduce support.
A failed factorization (matrix not positive definite) shows up as NaN in L; callers check the diagonal and add jitter.
Imports: tinygrad.
"""
from __future__ import annotations

from tinygrad import Tensor
from tinygrad.uop.ops import AxisType, KernelInfo, UOp

IMPLS = ("custom", "tensor")

# ***** custom kernels (UOp programs) *****

def _cholesky_kernel(L:UOp, S:UOp, A:UOp) -> UOp:
  # right-looking, in place in L: for each pivot k, scale column k into the scratch row S (zero at and above k), subtract
  # the rank-1 update S Sᵀ from the trailing block (S is zero elsewhere, so the full sweep only touches rows/cols > k),
  # then write column k. The strict upper triangle is zeroed at the end.
  nb, n = A.shape[0], A.shape[1]
  b = UOp.range(nb, 0)
  i, j = UOp.range(n, 1), UOp.range(n, 2)
  L = L[b, i, j].set(A[b, i, j], end=(i, j))
  k = UOp.range(n, 3, AxisType.LOOP)
  Lk = L.after(k)
  d = Lk[b, k, k].sqrt()
  i2 = UOp.range(n, 4)
  S = S[b, i2].set((i2 > k).where(Lk[b, i2, k] / d, 0.0), end=i2)
  i3, j3 = UOp.range(n, 5), UOp.range(n, 6)
  L = L.after(S)[b, i3, j3].set(L.after(S)[b, i3, j3] - S[b, i3] * S[b, j3], end=(i3, j3))
  i4 = UOp.range(n, 7)
  L = L[b, i4, k].set((i4 > k).where(S[b, i4], i4.eq(k).where(d, 0.0)), end=(i4, k))
  i5, j5 = UOp.range(n, 8), UOp.range(n, 9)
  L = L[b, i5, j5].set((j5 > i5).where(0.0, L[b, i5, j5]), end=(i5, j5))
  return L.end(b).sink(arg=KernelInfo(name=f"cholesky_{nb}_{n}", opts_to_apply=()))

def _trsm_kernel(X:UOp, T:UOp, B:UOp, lower:bool) -> UOp:
  # forward (lower) or backward (upper) substitution for all right-hand sides at once, row by row: X[r] = B[r], then
  # X[r] -= T[r,c] X[c] for the already-solved rows c (axpy form, the inner loop runs along a contiguous row), X[r] /= T[r,r]
  nb, n, m = B.shape[0], B.shape[1], B.shape[2]
  b = UOp.range(nb, 0)
  i, j = UOp.range(n, 1), UOp.range(m, 2)
  X = X[b, i, j].set(B[b, i, j], end=(i, j))
  s = UOp.range(n, 3, AxisType.LOOP)
  r = s if lower else n - 1 - s
  c_ = UOp.range(n, 4, AxisType.LOOP)
  c = c_ if lower else n - 1 - c_
  j2 = UOp.range(m, 5)
  Xs = X.after(s, c_)
  # the coefficient is masked, not the row: a plain axpy inner loop vectorizes. Unsolved rows c still hold B (finite),
  # so multiplying them by 0 is safe.
  coeff = ((c < r) if lower else (c > r)).where(T[b, r, c], 0.0)
  X = Xs[b, r, j2].set(Xs[b, r, j2] - coeff * Xs[b, c, j2], end=(j2, c_))
  j3 = UOp.range(m, 6)
  X = X[b, r, j3].set(X[b, r, j3] / T[b, r, r], end=(j3, s))
  return X.end(b).sink(arg=KernelInfo(name=f"trsm_{'l' if lower else 'u'}_{nb}_{n}_{m}", opts_to_apply=()))

# ***** tensor-op fallbacks *****

def _cholesky_tensor(A:Tensor) -> Tensor:
  # column j of L from A[:, j] minus the already-known columns (columns >= j of L are still zero), one realize per column
  nb, n = A.shape[0], A.shape[-1]
  idx = Tensor.arange(n)
  L = Tensor.zeros(nb, n, n, dtype=A.dtype, device=A.device).contiguous()
  for j in range(n):
    v = A[:, :, j] - (L * L[:, j:j+1, :]).sum(-1)
    d = v[:, j:j+1].sqrt()
    col = (idx > j).where(v / d, (idx == j).where(d, 0.0))
    L = (idx == j).where(col.unsqueeze(-1), L).realize()
  return L

def _trsm_tensor(T:Tensor, B:Tensor, lower:bool) -> Tensor:
  n = T.shape[-1]
  idx = Tensor.arange(n)
  X = B.contiguous()
  for s in range(n):
    r = s if lower else n - 1 - s
    solved = (idx < r) if lower else (idx > r)
    x = (B[:, r, :] - solved.unsqueeze(-1).where(T[:, r, :].unsqueeze(-1) * X, 0.0).sum(1)) / T[:, r, r:r+1]
    X = (idx == r).unsqueeze(-1).where(x.unsqueeze(1), X).realize()
  return X

# ***** public API *****

def eye_like(A:Tensor) -> Tensor:
  """Identity of A's trailing size, dtype and device (Tensor.eye takes no device)."""
  if A.shape[-1] == 1: return Tensor.ones(1, 1, dtype=A.dtype, device=A.device)  # the comparison form trips a 1x1 const fold
  idx = Tensor.arange(A.shape[-1])
  return (idx.unsqueeze(-1) == idx).cast(A.dtype)

def _batched(A:Tensor) -> tuple[Tensor, bool]: return (A, True) if A.ndim == 3 else (A.unsqueeze(0), False)

def cholesky(A:Tensor, impl:str="custom") -> Tensor:
  """Lower Cholesky factor of SPD `A[n,n]` or `A[b,n,n]`. Not positive definite -> NaN entries (check the diagonal)."""
  A3, batched = _batched(A)
  if impl == "custom":
    nb, n = A3.shape[0], A3.shape[1]
    L = Tensor.empty(nb, n, n, dtype=A.dtype, device=A.device)
    S = Tensor.empty(nb, n, dtype=A.dtype, device=A.device)
    L = Tensor.custom_kernel(L, S, A3.contiguous(), fxn=_cholesky_kernel)[0]
  elif impl == "tensor": L = _cholesky_tensor(A3)
  else: raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
  return L if batched else L[0]

def solve_triangular(T:Tensor, B:Tensor, lower:bool=True, impl:str="custom") -> Tensor:
  """Solve `T X = B` for triangular `T[n,n]` (lower or upper), `B[n]` or `B[n,m]`; batched `T[b,n,n]`, `B[b,n(,m)]`."""
  T3, batched = _batched(T)
  vec = B.ndim == T.ndim - 1
  B3 = B.unsqueeze(-1) if vec else B
  if not batched: B3 = B3.unsqueeze(0)
  B3 = B3.expand(T3.shape[0], *B3.shape[1:])
  if impl == "custom":
    X = Tensor.empty(*B3.shape, dtype=B.dtype, device=B.device)
    X = Tensor.custom_kernel(X, T3.contiguous(), B3.contiguous(), fxn=lambda x, t, b: _trsm_kernel(x, t, b, lower))[0]
  elif impl == "tensor": X = _trsm_tensor(T3, B3, lower)
  else: raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
  if not batched: X = X[0]
  return X[..., 0] if vec else X

def cho_solve(L:Tensor, B:Tensor, impl:str="custom") -> Tensor:
  """Solve `A X = B` given the lower Cholesky factor `L` of `A`."""
  return solve_triangular(L.transpose(-1, -2), solve_triangular(L, B, lower=True, impl=impl), lower=False, impl=impl)

def logdet_from_cholesky(L:Tensor) -> Tensor:
  """log det A = 2 Σ log diag(L); shape [] or [b]."""
  return L.diagonal(dim1=-2, dim2=-1).log().sum(-1) * 2

def triangular_inverse(L:Tensor, lower:bool=True, impl:str="custom") -> Tensor:
  """Inverse of a triangular matrix (one substitution kernel against the identity)."""
  eye = eye_like(L)
  return solve_triangular(L, eye.expand(*L.shape) if L.ndim == 3 else eye, lower=lower, impl=impl)

__all__ = ["cholesky", "solve_triangular", "cho_solve", "logdet_from_cholesky", "triangular_inverse"]
