"""Session 40's driver: a whole warm study's seconds in suggest with the row buckets (16, 32, 48, 64, ...) against the same
without 48, alternating in one process, seeds 0-4. DEV=CPU OMP_NUM_THREADS=1 taskset -c 1 python bucket48_time.py hartmann6"""
import sys
import time

import numpy as np

import tinybo as tb
import tinybo.gp as gpm
from benchmarks.functions import PROBLEMS

OLD = gpm.N_BUCKETS
NEW = tuple(b for b in OLD if b != 48)
for name in sys.argv[1:]:
  p = PROBLEMS[name]
  res: dict[str, list[float]] = {"old": [], "new": []}
  for rep in range(5):
    for label, buckets in (("old", OLD), ("new", NEW)):
      gpm.N_BUCKETS = buckets
      opt, tot = tb.Optimizer(p.space, seed=rep), 0.0
      for _ in range(p.budget):
        a = time.perf_counter()
        t = opt.suggest()
        tot += time.perf_counter() - a
        opt.observe(t, p(t.params))
      res[label].append(tot)
  print(name, "old", np.round(res["old"], 2), "new", np.round(res["new"], 2),
        f"ratio of medians {np.median(res['new']) / np.median(res['old']):.3f}", flush=True)
