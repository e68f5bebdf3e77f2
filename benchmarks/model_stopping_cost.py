"""Per-report cost of tb.ModelStopping's model (tb.GP.final_chance) on curves_branin.

A study of 20 finished trials (random search, 27 reported steps each), then `--trials` more trials whose 27 reports are
each judged and timed. The first report after a trial finished refits the hyperparameters (cold, from the seed); every
other report re-standardizes the data, factors once and predicts one point. The first trials also compile the captured
programs of new row buckets (seconds, once per bucket and process, then in the disk cache): read the later trials.

    PYTHONPATH=$PWD DEV=CPU OMP_NUM_THREADS=1 taskset -c 1 python -m benchmarks.model_stopping_cost --trials 6
"""
from __future__ import annotations

import argparse
import statistics
import time

import tinybo as tb
from benchmarks.multifidelity import PROBLEMS


def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--trials", type=int, default=6, help="judged trials after the 20 finished ones")
  a = ap.parse_args()
  p = PROBLEMS["curves_branin"]
  T = p.max_step
  opt = tb.Optimizer(p.space(), strategy="random", seed=0)
  for _ in range(20):
    t = opt.suggest()
    for s in range(1, T + 1): opt.report(t, p.value(t.params, s), s)
    opt.observe(t, p.value(t.params, T))
  gp = tb.GP()
  for k in range(a.trials):
    t, times = opt.suggest(), []
    for s in range(1, T + 1):
      opt.report(t, p.value(t.params, s), s)
      t0 = time.perf_counter()
      gp.final_chance(opt.space, opt.trials, opt.curves, t.id, seed=0)
      times.append(time.perf_counter() - t0)
    opt.observe(t, p.value(t.params, T))
    print(f"trial {k}: first report (refit) {1000 * times[0]:.0f} ms; the other {T - 1}: median {1000 * statistics.median(times[1:]):.1f} ms, "
          f"max {1000 * max(times[1:]):.1f} ms", flush=True)

if __name__ == "__main__":
  main()
