"""Dense linear algebra tinygrad lacks: Cholesky, triangular solves, log-determinant, triangular inverse.

Glossary (shapes; every function also takes a leading batch axis `b`):
  A[n,n]   symmetric positive definite matrix        L[n,n]  lower Cholesky factor, A = L Lᵀ
  B[n,m]   right-hand sides (B[n] is one vector)    X[n,m]  solution
  b        batch of independent matrices (e.g. hyperparameter restarts)
  work-group / work-item: a GPU's block of threads that share local memory and barriers / one of its threads

Implementations behind one `impl` switch:
  "custom":   one hand-written kernel per factorization or solve (`Tensor.custom_kernel` with explicit UOp loops), in the
              form `kernel_form` picks for the device (the ONE place that chooses):
    "serial":   one loop nest per matrix, the batch as the only parallel axis. A CPU runs it fastest: no barriers, and
                tinygrad's CPU backend has no work-groups. A graph of per-column tensor ops launches ~3 kernels per column;
                one kernel runs the whole loop nest in place.
    "parallel": for devices with work-groups (OpenCL, CUDA, Metal, ...): one work-group per matrix whose work-items own
                columns (Cholesky: the pivot loop stays serial, the column scale and the rank-1 update of each pivot run
                over all work-items, the pivot row passes through local memory with a barrier), or one work-item per
                right-hand-side column (triangular solves: no communication at all). Still one kernel per call up
                to BLOCK rows; above it the factorization and the solves go by blocks of BLOCK (`_cholesky_blocked`,
                `_trsm_blocked`): the kernels on the diagonal blocks, the rest as matrix products, which spread over
                the whole device where one work-group would hold the whole O(n³) (one multiprocessor of a GPU).
  "serial" / "parallel" force a form (tests, benchmarks); "tensor": plain tinygrad tensor ops column by column, slow,
  needs nothing beyond elementwise/reduce support.
Loop bounds may not depend on another loop's index (tinygrad codegen), so the triangles are swept with full ranges and
masked with `where` (never multiply-by-zero: reused buffers may hold NaN).
A failed factorization (matrix not positive definite) shows up as NaN in L; callers check the diagonal and add jitter.
Holds: cholesky, solve_triangular, cho_solve, logdet_from_cholesky, triangular_inverse, eye_like, kernel_form, work_split,
IMPLS, MAX_WORK_ITEMS, BLOCK; the kernels (`_cholesky_kernel`, `_trsm_kernel` and their `_parallel` forms), each kernel as
a function of its inputs per form (`_cholesky_call`, `_trsm_call`, what the blocked forms take), the blocked forms
(`_cholesky_blocked`, `_trsm_blocked`; the parallel form above BLOCK rows only: on a CPU core blocks measured no faster)
and the tensor forms.
Imports: tinygrad.
"""
from __future__ import annotations

from tinygrad import Device, Tensor
from tinygrad.dtype import AddrSpace
from tinygrad.uop.ops import AxisType, KernelInfo, Ops, UOp

IMPLS = ("custom", "serial", "parallel", "tensor")
# work-items per work-group of the parallel form: every OpenCL/CUDA/Metal GPU runs 256 (some cap a work-group there)
MAX_WORK_ITEMS = 256
# rows of a diagonal block in the parallel form's blocked factorization and solves: one work-item per column of a block.
# A diagonal block runs in one work-group (its work grows as BLOCK³, a solve's per work-item as BLOCK²), the rest spreads
# over the device; halving the block doubles the launches. 128 measured the fastest fit on a GPU (benchmarks/README.md)
BLOCK = 128

def kernel_form(device:str, local_bytes:int=0) -> str:
  """The form of the custom kernels on `device`: "parallel" where its renderer has work-groups (local memory and
  barriers) and `local_bytes` of local memory fit, "serial" otherwise (the CPU backends)."""
  ren = Device[device].renderer
  return "parallel" if ren.has_local and local_bytes <= ren.shared_max else "serial"

def work_split(n:int) -> tuple[int, int]:
  """(work-items w, items per work-item c) covering n items with w <= MAX_WORK_ITEMS, w·c >= n, as little spare as can be."""
  c = -(-n // MAX_WORK_ITEMS)
  return -(-n // c), c

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

def _cholesky_kernel_parallel(L:UOp, A:UOp) -> UOp:
  # one work-group per matrix (global axis b), w work-items (local axis t), work-item t owns the columns j = c·w + t.
  # The same right-looking steps as the serial form, with every global read and write of a column made by its owner, so
  # work-items share data only through local memory (tinygrad puts a barrier after each local store that a load depends
  # on, and one at the end of each pivot step). The trailing block stays symmetric (to rounding: the code generator may
  # reassociate the update's product), so pivot k's column below the diagonal is its row to the right of it, which each
  # owner reads in its own columns into the local pivot row P; then every owner subtracts the rank-1 update from its
  # columns (rows > k) and the owner of column k writes L's column k. Equal to the serial form to rounding (tests).
  nb, n = A.shape[0], A.shape[1]
  w, cs = work_split(n)
  b, t = UOp.range(nb, 0, AxisType.GLOBAL), UOp.range(w, 1, AxisType.LOCAL)
  P = UOp.placeholder((n,), A.dtype, slot=0, addrspace=AddrSpace.LOCAL)
  def owned(c:UOp) -> tuple[UOp, UOp]:
    j = c * w + t
    return j, j.valid(j < n)  # a gated index: the last work-items' spare columns read nothing and write nothing
  # copy the lower triangle and mirror it (A's upper triangle is never read, as in the serial form and LAPACK)
  c0, i0 = UOp.range(cs, 2), UOp.range(n, 3)
  j0, j0v = owned(c0)
  L = L[b, i0, j0v].set((j0 > i0).where(A[b, j0v, i0], A[b, i0, j0v]), end=(i0, c0))
  k = UOp.range(n, 4, AxisType.LOOP)
  Lk = L.after(k)
  c1 = UOp.range(cs, 5)
  j1, j1v = owned(c1)
  P = P[j1v].set((j1 >= k).where(Lk[b, k, j1v], 0.0), end=c1)
  d = P[k].sqrt()
  c2, i2 = UOp.range(cs, 6), UOp.range(n, 7)
  j2, j2v = owned(c2)
  Lp = Lk.after(P)
  old = Lp[b, i2, j2v]
  si = P[i2] / d
  updated = (i2 > k).where(old - si * (P[j2v] / d), old)
  column = (i2 > k).where(si, i2.eq(k).where(d, old))
  L = Lp[b, i2, j2v].set((j2 > k).where(updated, j2.eq(k).where(column, old)), end=(i2, c2, k))
  c3, i3 = UOp.range(cs, 8), UOp.range(n, 9)
  j3, j3v = owned(c3)
  L = L[b, i3, j3v].set((j3 > i3).where(0.0, L[b, i3, j3v]), end=(i3, c3))
  return L.end(t, b).sink(arg=KernelInfo(name=f"cholesky_par_{nb}_{n}", opts_to_apply=()))

def _trsm_kernel_parallel(X:UOp, T:UOp, B:UOp, lower:bool) -> UOp:
  # one work-item per right-hand-side column (global axes: batch and column groups, local axis: columns in a group), each
  # runs the whole substitution on its own column: nothing is shared, so no barrier. Row r is a masked dot product of
  # T's row r (the same address for every work-item) with the already-solved rows of its column.
  nb, n, m = B.shape[0], B.shape[1], B.shape[2]
  w, groups = work_split(m)
  b, g, t = UOp.range(nb, 0, AxisType.GLOBAL), UOp.range(groups, 1, AxisType.GLOBAL), UOp.range(w, 2, AxisType.LOCAL)
  j = g * w + t
  jv = j.valid(j < m)
  i = UOp.range(n, 3)
  X = X[b, i, jv].set(B[b, i, jv], end=i)
  s = UOp.range(n, 4, AxisType.LOOP)
  r = s if lower else n - 1 - s
  c_ = UOp.range(n, 5, AxisType.REDUCE)
  c = c_ if lower else n - 1 - c_
  Xs = X.after(s)
  solved = ((c < r) if lower else (c > r)).where(T[b, r, c] * Xs[b, c, jv], 0.0)
  # a size-1 range folds to a constant, which a reduce does not take (and n = 1 has nothing solved before row 0)
  solved = solved.reduce(c_, arg=Ops.ADD) if n > 1 else solved.const_like(0.0)
  X = Xs[b, r, jv].set((Xs[b, r, jv] - solved) / T[b, r, r], end=s)
  return X.end(t, g, b).sink(arg=KernelInfo(name=f"trsm_par_{'l' if lower else 'u'}_{nb}_{n}_{m}", opts_to_apply=()))

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

# ***** blocked forms (the parallel form above BLOCK rows) *****

def _cholesky_blocked(A:Tensor, kernel, trsm) -> Tensor:
  # right-looking by column blocks: factor the diagonal block with `kernel`, the panel below it by one triangular solve
  # (L21 = A21 L11⁻ᵀ, as L21ᵀ = L11⁻¹ A21ᵀ), then the trailing block less L21 L21ᵀ as a matrix product. Only lower
  # triangles are read, as in the kernels; a failed block leaves NaN on its diagonal and in everything after it.
  n = A.shape[1]
  panels, S, k = [], A, 0
  while k < n:
    kb = min(BLOCK, n - k)
    L11 = kernel(S[:, :kb, :kb].contiguous())
    if k + kb < n:
      L21 = trsm(L11, S[:, kb:, :kb].transpose(-1, -2).contiguous()).transpose(-1, -2)
      S = (S[:, kb:, kb:] - L21 @ L21.transpose(-1, -2)).contiguous()
      col = L11.cat(L21, dim=1)
    else: col = L11
    panels.append(col.pad(((0, 0), (k, 0), (0, 0))))
    k += kb
  # one buffer: a kernel reading only some blocks of a cat keeps the others as unused arguments, and tinygrad 0.14's CL
  # runtime then passes its arguments to the wrong slots (IndexError at n = 257); the copy is O(n²) against O(n³)
  return panels[0].cat(*panels[1:], dim=2).contiguous()   # n > BLOCK: two panels at least

def _trsm_blocked(T:Tensor, B:Tensor, lower:bool, kernel) -> Tensor:
  # substitution by row blocks: each block of X is the kernel's solve of its diagonal block against B's rows less the
  # already-solved blocks' contribution (a matrix product with the off-diagonal blocks of T's own triangle)
  n = T.shape[1]
  starts = list(range(0, n, BLOCK))
  order = starts if lower else starts[::-1]
  solved: dict[int, Tensor] = {}
  for r in order:
    e = min(r + BLOCK, n)
    R = B[:, r:e]
    if solved:
      lo, hi = (0, r) if lower else (e, n)
      Xdone = Tensor.cat(*[solved[q] for q in sorted(solved)], dim=1)  # rows lo:hi in order
      R = R - T[:, r:e, lo:hi] @ Xdone
    solved[r] = kernel(T[:, r:e, r:e].contiguous(), R.contiguous())
  return Tensor.cat(*[solved[q] for q in starts], dim=1).contiguous()   # n > BLOCK: two blocks at least; one buffer as above

# ***** public API *****

def eye_like(A:Tensor) -> Tensor:
  """Identity of A's trailing size and dtype: a device-less constant expression that takes the device of what it meets
  (Tensor.eye and Tensor.arange take no device; `_on_device` stores it where a kernel needs a buffer)."""
  if A.shape[-1] == 1: return Tensor.ones(1, 1, dtype=A.dtype, device=A.device)  # the comparison form trips a 1x1 const fold
  idx = Tensor.arange(A.shape[-1])
  return (idx.unsqueeze(-1) == idx).cast(A.dtype)

def _on_device(x:Tensor, device:str) -> Tensor:
  # a custom kernel's input must be a buffer; a device-less constant (eye_like) would be realized on Device.DEFAULT, so
  # store it into a buffer of the kernel's device instead (one small kernel there)
  if x.device is None: return Tensor.empty(*x.shape, dtype=x.dtype, device=device).assign(x)
  return x.contiguous()

def _batched(A:Tensor) -> tuple[Tensor, bool]: return (A, True) if A.ndim == 3 else (A.unsqueeze(0), False)

def _form(impl:str, device:str, local_bytes:int=0) -> str:
  if impl not in IMPLS: raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
  if impl == "parallel" and not Device[device].renderer.has_local:
    raise ValueError(f"impl='parallel' needs a device with work-groups (CL, CUDA, METAL, ...), not {device}: use impl='custom'")
  return kernel_form(device, local_bytes) if impl == "custom" else impl

def _cholesky_call(form:str):
  """The factorization kernel of `form` as a function of a contiguous A[b,k,k]."""
  def call(a:Tensor) -> Tensor:
    out = Tensor.empty(*a.shape, dtype=a.dtype, device=a.device)
    if form == "parallel": return Tensor.custom_kernel(out, a, fxn=_cholesky_kernel_parallel)[0]
    scratch = Tensor.empty(*a.shape[:2], dtype=a.dtype, device=a.device)
    return Tensor.custom_kernel(out, scratch, a, fxn=_cholesky_kernel)[0]
  return call

def _trsm_call(form:str, lower:bool):
  """The substitution kernel of `form` as a function of T[b,k,k] and B[b,k,m] (contiguous buffers on T's device)."""
  kernel = _trsm_kernel if form == "serial" else _trsm_kernel_parallel
  def call(t:Tensor, b:Tensor) -> Tensor:
    out = Tensor.empty(*b.shape, dtype=b.dtype, device=t.device)
    return Tensor.custom_kernel(out, t, b, fxn=lambda x, tt, bb: kernel(x, tt, bb, lower))[0]
  return call

def cholesky(A:Tensor, impl:str="custom") -> Tensor:
  """Lower Cholesky factor of SPD `A[n,n]` or `A[b,n,n]`. Not positive definite -> NaN entries (check the diagonal)."""
  A3, batched = _batched(A)
  n = A3.shape[1]
  form = _form(impl, A.device, min(n, BLOCK) * A.dtype.itemsize)  # the parallel form holds one pivot row (of a block) in local memory
  if form == "tensor": L = _cholesky_tensor(A3)
  elif form == "serial" or n <= BLOCK: L = _cholesky_call(form)(A3.contiguous())  # blocks on a CPU measured no faster
  else: L = _cholesky_blocked(A3.contiguous(), _cholesky_call(form), _trsm_call(form, True))
  return L if batched else L[0]

def solve_triangular(T:Tensor, B:Tensor, lower:bool=True, impl:str="custom") -> Tensor:
  """Solve `T X = B` for triangular `T[n,n]` (lower or upper), `B[n]` or `B[n,m]`; batched `T[b,n,n]`, `B[b,n(,m)]`."""
  T3, batched = _batched(T)
  vec = B.ndim == T.ndim - 1
  B3 = B.unsqueeze(-1) if vec else B
  if not batched: B3 = B3.unsqueeze(0)
  B3 = B3.expand(T3.shape[0], *B3.shape[1:])
  form = _form(impl, T.device)
  if form == "tensor": X = _trsm_tensor(T3, B3, lower)
  elif form == "serial" or T3.shape[1] <= BLOCK: X = _trsm_call(form, lower)(T3.contiguous(), _on_device(B3, T.device))
  else: X = _trsm_blocked(T3, _on_device(B3, T.device), lower, _trsm_call(form, lower))
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

__all__ = ["cholesky", "solve_triangular", "cho_solve", "logdet_from_cholesky", "triangular_inverse", "kernel_form"]
