"""Where one evaluation of the GP fit's objective spends its time on a device: each kernel of `gp.nll_grad_factor`
(uncaptured, run once to compile, then once under tinygrad's DEBUG=2, which times every kernel), and the custom
linear-algebra kernels alone (medians of 5 after 2 warm-ups, synchronized).

  python -m benchmarks.gpu_kernel_times --device CUDA --ns 256,1000 --out kernel_times.txt
"""
from __future__ import annotations

import argparse
import contextlib
import io
import re
import statistics
import time

import numpy as np
from tinygrad import Device, Tensor, dtypes
from tinygrad.helpers import Context

from benchmarks.device_cases import objective_inputs
from tinybo.gp import nll_grad_factor
from tinybo.linalg import cholesky, solve_triangular, triangular_inverse

D = 6

def inputs(n:int, b:int, device:str) -> tuple[Tensor, Tensor]:
  """data[n, D+2] = [X | y | mask], params[b, D+7] = [log ℓ | log σ_f² | log σ_n² | jitter | coef] as gp.unpack reads them."""
  rng = np.random.default_rng(0)
  X = rng.random((n, D))
  data, params = objective_inputs(X, np.sin(3 * X[:, 0]) + X[:, 1] ** 2, np.full(D, 0.5), 1e-4, b=b)
  return Tensor(data, dtype=dtypes.float64, device=device).realize(), Tensor(params, dtype=dtypes.float64, device=device).realize()

def timed(fn, device:str, reps:int=5, warmup:int=2) -> float:
  out = []
  for i in range(warmup + reps):
    Device[device].synchronize()
    t = time.perf_counter()
    fn()
    Device[device].synchronize()
    if i >= warmup: out.append(time.perf_counter() - t)
  return statistics.median(out)

def linalg_times(n:int, data:Tensor, params:Tensor, device:str) -> dict[str, float]:
  """Seconds of each custom linear-algebra kernel alone on an n x n SPD matrix, and of one uncaptured objective evaluation."""
  rng = np.random.default_rng(1)
  B = rng.standard_normal((n, n))
  A = Tensor((B @ B.T / n + np.eye(n))[None], dtype=dtypes.float64, device=device).realize()
  L = cholesky(A).realize()
  Linv = triangular_inverse(L).realize()
  return {"cholesky": timed(lambda: cholesky(A).realize(), device),
          "triangular_inverse": timed(lambda: triangular_inverse(L).realize(), device),
          "solve L^T X = Linv": timed(lambda: solve_triangular(L.transpose(-1, -2), Linv, lower=False).realize(), device),
          "nll_grad_factor (uncaptured)": timed(lambda: [t.realize() for t in nll_grad_factor(data, params)], device)}

def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--device", default=Device.DEFAULT)
  ap.add_argument("--ns", default="256,1000")
  ap.add_argument("--out", help="also write the report here")
  a = ap.parse_args()
  lines = []
  for n in map(int, a.ns.split(",")):
    data, params = inputs(n, 1, a.device)
    for t in nll_grad_factor(data, params): t.realize()   # compile
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), Context(DEBUG=2):
      for t in nll_grad_factor(data, params): t.realize()
    lines.append(f"== n={n}: nll_grad_factor, one evaluation, DEBUG=2\n" + re.sub(r"\x1b\[[0-9;]*m", "", buf.getvalue()))
    row = linalg_times(n, data, params, a.device)
    lines.append(f"== n={n}: ms " + ", ".join(f"{k} {1e3 * v:.2f}" for k, v in row.items()))
  text = "\n".join(lines)
  print(text)
  if a.out:
    with open(a.out, "w") as f: f.write(text + "\n")

if __name__ == "__main__": main()
