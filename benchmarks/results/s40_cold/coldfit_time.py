"""Session 40's driver: a cold fit of 4 restarts, row by row (SEPARATE_MIN_N = 0) against batched, alternating in one
process (warm programs), median of 10 after 2. DEV=CPU OMP_NUM_THREADS=1 taskset -c 1 python coldfit_time.py"""
import time

import numpy as np

import tinybo.gp as gpm
from tinybo.gp import GPRegressor

for n, d in [(12, 2), (20, 6), (30, 6), (40, 6), (60, 6)]:
  rng = np.random.default_rng(0)
  X = rng.random((n, d))
  y = np.sin(5 * X).sum(1)
  t: dict[int, list[float]] = {0: [], 1 << 30: []}
  for rep in range(12):
    for sep in (0, 1 << 30):
      gpm.SEPARATE_MIN_N = sep
      a = time.perf_counter()
      GPRegressor().fit(X, y, restarts=4, seed=rep)
      t[sep].append(time.perf_counter() - a)
  print(n, d, f"row by row {1e3 * np.median(t[0][2:]):.1f} ms", f"batched {1e3 * np.median(t[1 << 30][2:]):.1f} ms", flush=True)
