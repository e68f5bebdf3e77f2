"""Session 40's driver: a whole warm study's seconds in suggest, cold fits row by row at every bucket (SEPARATE_MIN_N = 0)
against batched below 33 rows (main), seeds 0-4 alternating in one process.
DEV=CPU OMP_NUM_THREADS=1 taskset -c 1 python study_time.py branin camel hartmann6 mixed"""
import sys
import time

import numpy as np

import tinybo as tb
import tinybo.gp as gpm
from benchmarks.functions import PROBLEMS

for name in sys.argv[1:]:
  p = PROBLEMS[name]
  res: dict[int, list[float]] = {0: [], 33: []}
  for rep in range(5):
    for sep in (0, 33):
      gpm.SEPARATE_MIN_N = sep
      opt, tot = tb.Optimizer(p.space, seed=rep), 0.0
      for _ in range(p.budget):
        a = time.perf_counter()
        t = opt.suggest()
        tot += time.perf_counter() - a
        opt.observe(t, p(t.params))
      res[sep].append(tot)
  print(name, "row by row", np.round(res[0], 2), "batched below 33", np.round(res[33], 2),
        f"ratio of medians {np.median(res[0]) / np.median(res[33]):.3f}", flush=True)
