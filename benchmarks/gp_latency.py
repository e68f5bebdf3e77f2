"""GP latency: tinybo (tinygrad) against a numpy/LAPACK implementation of the same model, in the same run.

  python -m benchmarks.gp_latency [--sizes 50,100,200,500,1000] [--cpu 1] [--out benchmarks/results/gp_latency.json]
  python -m benchmarks.gp_latency --device CUDA --dtype float32 --ns 100,200,500,1000,2000,5000 --no-numpy   # a GPU

Same model on both sides (Matérn-5/2 ARD, the tinybo priors, the same batched L-BFGS driver, the same starts), so the
ratio measures the linear algebra and the framework, not the optimizer. The last column times the posterior's one
unavoidable product, Kq[M,n] @ L⁻ᵀ[n,n], alone in the reference's BLAS: a floor for any exact posterior. Timings are
medians; other work on the machine makes absolute numbers noisy, the ratios within one run much less so. Pin to one core with --cpu (or taskset -c 1).
Cold start runs fresh processes: first fit with empty caches (tinygrad's compile cache and tinybo's capture cache
pointed at empty temporary locations), then again with those caches warm.
--device / --dtype run tinybo's side on any tinygrad device (default: Device.DEFAULT, float64 where the device has it);
the numpy reference stays float64 on the host (--no-numpy skips it: its cold fits take minutes at n = 5,000).
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# one core: single-threaded BLAS for the reference (set before numpy loads it)
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"): os.environ.setdefault(_v, "1")
import numpy as np  # noqa: E402

D = 6
M = 2048

def objective(X:np.ndarray) -> np.ndarray:
  return np.sin(3 * X[:, 0]) + (X[:, 1] - 0.5) ** 2 + 0.3 * np.cos(5 * X[:, 2] * X[:, 3]) + 0.1 * X[:, 4:].sum(1)

# ***** the numpy/LAPACK reference: same model and optimizer as tinybo.gp *****

try:  # LAPACK's triangular routines through scipy when it is there (the strongest reference); numpy's LU otherwise
  from scipy.linalg import solve_triangular as _trsm
  from scipy.linalg.lapack import dtrtri as _dtrtri
  def tri_inv(L): return _dtrtri(L, lower=1)[0]
except ImportError:
  _trsm = None
  def tri_inv(L): return np.linalg.inv(L)

class NumpyGP:
  """Matérn-5/2 ARD GP in numpy: squared distances by the matmul expansion, Cholesky and triangular inverse in LAPACK."""
  def __init__(self): self.phi, self.history = None, None

  @staticmethod
  def _K(X1, X2, ls, sf2):
    A, B = X1 / ls, X2 / ls
    r2 = np.maximum((A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2 * A @ B.T, 0)
    s = np.sqrt(5 * r2)
    e = np.exp(-s)
    return sf2 * (1 + s + s * s / 3) * e, s, e

  def nll_grad(self, phi:np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from tinybo.gp import log_prior
    X, y, n, d = self.X, self.y, len(self.y), self.X.shape[1]
    f, g = np.empty(len(phi)), np.empty_like(phi)
    for r, p in enumerate(phi):
      ls, sf2, sn2 = np.exp(p[:d]), math.exp(p[d]), math.exp(p[d + 1])
      Kf, s, e = self._K(X, X, ls, sf2)
      K = Kf + (sn2 + 1e-9) * np.eye(n)
      try: L = np.linalg.cholesky(K)
      except np.linalg.LinAlgError: f[r], g[r] = np.inf, 0; continue
      Linv = tri_inv(L)
      Kinv = Linv.T @ Linv
      a = Kinv @ y
      f[r] = 0.5 * y @ a + np.log(np.diag(L)).sum() + 0.5 * n * math.log(2 * math.pi)
      W = Kinv - np.outer(a, a)
      Mw = W * (sf2 * (5 / 3) * (1 + s) * e)  # dK/dlog ℓ_k = sf2 (5/3)(1+s) e^-s (x_ik - x_jk)²/ℓ_k²
      Xs = X / ls
      g[r, :d] = 0.5 * ((Mw.sum(0) + Mw.sum(1)) @ (Xs * Xs) - 2 * (Xs * (Mw @ Xs)).sum(0))
      g[r, d], g[r, d + 1] = 0.5 * (W * Kf).sum(), 0.5 * np.trace(W) * sn2
    lp, glp = log_prior(phi, d)
    return f - lp, g - glp

  def fit(self, X, y, cold:bool):
    from tinybo.lbfgs import lbfgs
    self.X, self.y = X, (y - y.mean()) / y.std()
    d = X.shape[1]
    lower = np.array([math.log(1e-3)] * d + [math.log(1e-3), math.log(1e-6)])
    upper = np.array([math.log(1e3)] * d + [math.log(1e3), math.log(10.0)])
    if cold or self.phi is None:
      from tinybo._tinygrad import N_BUCKETS, bucket
      from tinybo.gp import default_restarts
      b = default_restarts(bucket(len(y), N_BUCKETS))  # as many starts as tinybo batches
      rng = np.random.default_rng([0, len(y), d])
      starts = np.zeros((b, d + 2)); starts[:, :d] = np.log(0.5 * math.sqrt(d)); starts[:, d + 1] = math.log(1e-2)
      mu, sd = math.sqrt(2) + 0.5 * math.log(d), math.sqrt(3)
      starts[1:, :d] = rng.normal(mu - 1.5, sd / 2, size=(b - 1, d))
      starts[1:, d + 1] = rng.uniform(math.log(1e-6), math.log(0.1), size=b - 1)
      hist = None
    else: starts, hist = self.phi[None].copy(), self.history
    phi, f, h = lbfgs(self.nll_grad, starts, lower, upper, max_evals=200 if hist is None else 50, history=hist,
                      ftol=1e-8 if hist is None else 1e-5)
    best = int(np.argmin(f))
    self.phi, self.history, self.objective = phi[best], h.row(best), f[best]
    ls, sf2, sn2 = np.exp(self.phi[:d]), math.exp(self.phi[d]), math.exp(self.phi[d + 1])
    L = np.linalg.cholesky(self._K(X, X, ls, sf2)[0] + (sn2 + 1e-9) * np.eye(len(y)))
    self.Linv = tri_inv(L)
    self.alpha = self.Linv.T @ (self.Linv @ self.y)
    self.ls, self.sf2 = ls, sf2
    return self

  def posterior(self, Xq):
    Kq = self._K(Xq, self.X, self.ls, self.sf2)[0]
    v = Kq @ self.Linv.T
    return Kq @ self.alpha, self.sf2 - (v * v).sum(1)

# ***** timing *****

def median_time(fn, repeats:int) -> float:
  ts = []
  for _ in range(repeats):
    t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
  return statistics.median(ts)

def bench_size(n:int, repeats:int, device:str|None=None, dtype:str|None=None, numpy_ref:bool=True) -> dict:
  from tinygrad import dtypes

  from tinybo._tinygrad import download, upload
  from tinybo.gp import GPRegressor as Surrogate
  from tinybo.gp import _posterior_contiguous, captured
  def GPRegressor(): return Surrogate(device=device, dtype=None if dtype is None else getattr(dtypes, dtype))
  rng = np.random.default_rng(n)
  X = rng.uniform(size=(n + 8, D)); y = objective(X) + 0.01 * rng.standard_normal(n + 8)
  Xq = rng.uniform(size=(M, D))
  res: dict = {"n": n}
  # tinybo. Warm-up compiles every program at this bucket (n-1, n, n+1 share one): cold batch, warm start, posterior.
  b0 = GPRegressor().fit(X[:n - 1], y[:n - 1]); b1 = GPRegressor().fit(X[:n], y[:n], warm_start=b0); b1.predict(Xq)
  res["tinybo_cold_fit_s"] = median_time(lambda: GPRegressor().fit(X[:n], y[:n]), 1 if n > 300 else max(1, repeats // 3))
  warm, bases = [], [b0, b1]
  for k in range(repeats):  # the BO loop: one more observation, refit warm-started from the previous optimum
    t = time.perf_counter(); GPRegressor().fit(X[:n + (k % 2)], y[:n + (k % 2)], warm_start=bases[k % 2]); warm.append(time.perf_counter() - t)
  res["tinybo_warm_fit_s"] = statistics.median(warm)
  gp = bases[1]
  state = gp.posterior_state()
  post = captured("posterior", _posterior_contiguous, gp.N, gp.D, M, gp.dtype, gp.device)
  Xq_t = upload(np.pad(Xq, ((0, 0), (0, gp.D - D))), gp.dtype, gp.device)
  for _ in range(3): post(*state, Xq_t)
  res["tinybo_posterior_s"] = median_time(lambda: download(post(*state, Xq_t)[1]), repeats * 3)
  res["tinybo_predict_s"] = median_time(lambda: gp.predict(Xq), repeats)
  m_tb = gp.predict(Xq)[0]
  res["device"], res["dtype"] = gp.device, str(gp.dtype)
  if not numpy_ref: return res
  # numpy reference, the same protocol
  b0 = NumpyGP().fit(X[:n - 1], y[:n - 1], cold=True); b1 = copy.copy(b0).fit(X[:n], y[:n], cold=False)
  res["numpy_cold_fit_s"] = median_time(lambda: NumpyGP().fit(X[:n], y[:n], cold=True), 1 if n > 300 else max(1, repeats // 3))
  warm, bases = [], [b0, b1]
  for k in range(repeats):
    base = copy.copy(bases[k % 2])
    t = time.perf_counter(); base.fit(X[:n + (k % 2)], y[:n + (k % 2)], cold=False); warm.append(time.perf_counter() - t)
  res["numpy_warm_fit_s"] = statistics.median(warm)
  ref = bases[1]
  res["numpy_posterior_s"] = median_time(lambda: ref.posterior(Xq), repeats * 3)
  # the floor for an exact variance: its one unavoidable product Kq[M,n] @ L⁻ᵀ[n,n], alone, in OpenBLAS/MKL float64
  Kq = ref._K(Xq, ref.X, ref.ls, ref.sf2)[0]
  res["numpy_posterior_gemm_s"] = median_time(lambda: Kq @ ref.Linv.T, repeats * 3)
  res["objective_tinybo"], res["objective_numpy"] = gp.objective, float(ref.objective)
  m_np = ref.posterior(Xq)[0] * y[:n].std() + y[:n].mean()
  res["posterior_mean_max_abs_diff"] = float(np.abs(m_tb - m_np).max())
  for k in ("cold_fit", "warm_fit", "posterior"): res[f"ratio_{k}"] = res[f"tinybo_{k}_s"] / res[f"numpy_{k}_s"]
  return res

COLD_SCRIPT = """
import sys, time; t0 = time.perf_counter()
import numpy as np
from tinygrad import dtypes
from tinybo.gp import GPRegressor
t1 = time.perf_counter()
rng = np.random.default_rng(0); X = rng.uniform(size=(50, 6)); y = np.sin(3 * X[:, 0]) + X[:, 1]
device, dtype = sys.argv[1] or None, sys.argv[2] or None
gp = GPRegressor(device=device, dtype=None if dtype is None else getattr(dtypes, dtype)).fit(X, y); t2 = time.perf_counter()
gp.predict(rng.uniform(size=(2048, 6))); t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""

def cold_start(cpu:int|None, device:str|None=None, dtype:str|None=None) -> dict:
  out = {}
  with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, CACHEDB=os.path.join(tmp, "tinygrad.db"), TINYBO_CACHE_DIR=os.path.join(tmp, "jit"), PARALLEL="0")
    cmd = ([] if cpu is None else ["taskset", "-c", str(cpu)]) + [sys.executable, "-c", COLD_SCRIPT, device or "", dtype or ""]
    root = str(Path(__file__).resolve().parent.parent)
    for label, extra in (("empty_cache", {}), ("warm_cache", {}), ("warm_cache_DEV=CPU", {"DEV": "CPU"}))[:3 if device in (None, "CPU") else 2]:
      t = time.perf_counter()
      r = subprocess.run(cmd, env=dict(env, **extra), capture_output=True, text=True, cwd=root)
      total = time.perf_counter() - t
      if r.returncode != 0: out[label] = {"error": r.stderr[-2000:]}; continue
      imp, fit, pred = map(float, r.stdout.split()[-3:])
      out[label] = {"process_s": total, "import_s": imp, "first_fit_s": fit, "first_predict_2048_s": pred}
  return out

def main():
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--sizes", "--ns", default="50,100,200,500,1000", help="n values (e.g. 100,200,500,1000,2000,5000)")
  ap.add_argument("--device", default=None, help="tinygrad device of tinybo's side, e.g. CUDA, CL, METAL (default: Device.DEFAULT)")
  ap.add_argument("--dtype", choices=("float32", "float64"), default=None, help="default: float64 where the device has it")
  ap.add_argument("--no-numpy", action="store_true", help="skip the numpy/LAPACK reference (its ratios too)")
  ap.add_argument("--repeats", type=int, default=7)
  ap.add_argument("--cpu", type=int, default=None, help="pin this process (and the cold-start children) to one core")
  ap.add_argument("--no-cold-start", action="store_true")
  ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "gp_latency.json"))
  args = ap.parse_args()
  os.environ.setdefault("PARALLEL", "0")
  if args.cpu is not None and hasattr(os, "sched_setaffinity"): os.sched_setaffinity(0, {args.cpu})
  sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
  from importlib.metadata import version
  meta = {"machine": platform.machine(), "processor": platform.processor(), "python": platform.python_version(),
          "numpy": np.__version__, "tinygrad": version("tinygrad"), "d": D, "m": M, "pinned_cpu": args.cpu,
          "device": args.device, "dtype": args.dtype,
          "loadavg_start": os.getloadavg() if hasattr(os, "getloadavg") else None}
  rows = []
  if args.no_numpy: print(f"{'n':>5} | {'warm fit':>10} | {'cold fit':>10} | {'posterior 2048':>14} | predict | device, dtype")
  else: print(f"{'n':>5} | {'warm fit (tb / np)':>24} | {'cold fit (tb / np)':>24} | {'posterior 2048 (tb / np)':>28} | predict | BLAS gemm floor")
  for n in map(int, args.sizes.split(",")):
    r = bench_size(n, args.repeats if n <= 500 else max(3, args.repeats // 2), args.device, args.dtype, numpy_ref=not args.no_numpy)
    rows.append(r)
    if args.no_numpy:
      print(f"{n:>5} | {r['tinybo_warm_fit_s']*1e3:7.1f} ms | {r['tinybo_cold_fit_s']*1e3:7.1f} ms | {r['tinybo_posterior_s']*1e3:11.2f} ms |"
            f" {r['tinybo_predict_s']*1e3:.1f} ms | {r['device']}, {r['dtype']}", flush=True)
      continue
    print(f"{n:>5} | {r['tinybo_warm_fit_s']*1e3:8.1f} / {r['numpy_warm_fit_s']*1e3:7.1f} ms {r['ratio_warm_fit']:4.1f}x |"
          f" {r['tinybo_cold_fit_s']*1e3:8.1f} / {r['numpy_cold_fit_s']*1e3:7.1f} ms {r['ratio_cold_fit']:4.1f}x |"
          f" {r['tinybo_posterior_s']*1e3:8.2f} / {r['numpy_posterior_s']*1e3:8.2f} ms {r['ratio_posterior']:5.2f}x |"
          f" {r['tinybo_predict_s']*1e3:.1f} ms | {r['numpy_posterior_gemm_s']*1e3:.2f} ms", flush=True)
  cold = {} if args.no_cold_start else cold_start(args.cpu, args.device, args.dtype)
  for k, v in cold.items(): print(f"cold start, {k}: {v}")
  meta["loadavg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
  Path(args.out).parent.mkdir(parents=True, exist_ok=True)
  Path(args.out).write_text(json.dumps({"meta": meta, "sizes": rows, "cold_start": cold}, indent=1))
  print(f"saved {args.out}")

if __name__ == "__main__":
  main()
