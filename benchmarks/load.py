"""Load: worker processes share one SQLite study and run a cheap objective through suggest/observe; reports trials lost
or duplicated and how long the calls waited.

  nice -n 10 python -m benchmarks.load --workers 8 --trials 400 --strategy gp --tag load

Each worker runs trials/workers rounds of suggest() -> objective -> observe(), timing both calls, and appends every
result it has committed to its own side file. Afterwards: lost = a committed result that is missing from the study or
differs there; duplicated = a configuration (or a trial id) handed out twice; pending = trials no worker finished.
observe() only writes one row, so its longest wait measures how long a worker can be held up by another worker's
suggestion (a GP fit runs outside every lock); suggest() times include the fit and any retry after a collision.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"

class Counting:
  """A strategy that counts its proposals: more than one per trial means a proposal was redone (another worker took
  its point, or reserved while it was being computed)."""
  def __init__(self, inner: Any): self.inner, self.calls = inner, 0
  def suggest(self, space: Any, trials: Any, n: int, *, seed: int, minimize: bool) -> list[dict]:
    self.calls += 1
    return self.inner.suggest(space, trials, n, seed=seed, minimize=minimize)

def worker(path: str, problem: str, strategy: str, rounds: int, side: str, q: Any) -> None:
  try:
    import tinybo as tb
    from benchmarks.functions import get_problem
    from tinybo.strategies import resolve_strategy
    prob = get_problem(problem)
    counting = Counting(resolve_strategy(strategy))
    opt = tb.Optimizer(prob.space, strategy=counting, storage=path, name="load", seed=0)
    suggest_s, observe_s = [], []
    with open(side, "a") as f:
      for _ in range(rounds):
        t0 = time.perf_counter()
        trial = opt.suggest()
        t1 = time.perf_counter()
        value = prob(trial.params)
        t2 = time.perf_counter()
        opt.observe(trial, value)
        t3 = time.perf_counter()
        suggest_s.append(t1 - t0); observe_s.append(t3 - t2)
        f.write(f"{trial.id} {value!r}\n"); f.flush()
    q.put(("ok", os.getpid(), suggest_s, observe_s, counting.calls))
  except BaseException as e:  # reported, not raised: the parent counts a dead worker's trials as pending
    q.put(("error", os.getpid(), repr(e), [], 0))

def run(workers: int, trials: int, problem: str, strategy: str, folder: Path) -> dict[str, Any]:
  import tinybo as tb
  from benchmarks.functions import get_problem
  from tinybo.trial import TrialState
  path = str(folder / "load.db")
  tb.Optimizer(get_problem(problem).space, strategy=strategy, storage=path, name="load", seed=0)  # create the study once, then race
  rounds = -(-trials // workers)
  ctx = mp.get_context("spawn")
  q = ctx.Queue()
  sides = [str(folder / f"side{i}.txt") for i in range(workers)]
  procs = [ctx.Process(target=worker, args=(path, problem, strategy, rounds, sides[i], q)) for i in range(workers)]
  t0 = time.monotonic()
  for p in procs: p.start()
  results = [q.get() for _ in procs]
  for p in procs: p.join()
  wall = time.monotonic() - t0
  errors = [r[2] for r in results if r[0] != "ok"]
  suggest_s = [x for r in results if r[0] == "ok" for x in r[2]]
  observe_s = [x for r in results if r[0] == "ok" for x in r[3]]
  committed = {}
  for s in sides:
    if os.path.exists(s):
      for line in Path(s).read_text().splitlines(): i, v = line.split(); committed[int(i)] = float(v)
  ts = tb.Optimizer(get_problem(problem).space, strategy="random", storage=path, name="load").trials
  by_id = {t.id: t for t in ts}
  space = get_problem(problem).space
  keys = [space.key(t.params) for t in ts]
  lost = [i for i, v in committed.items() if i not in by_id or by_id[i].state != TrialState.COMPLETE or by_id[i].value != v]
  q99 = lambda xs: float(np.quantile(xs, 0.99)) if xs else None  # noqa: E731
  # each worker's first rounds overlap the other workers' start-up (imports, first compilations) on a small machine
  warm = [x for r in results if r[0] == "ok" for x in r[3][2:]]
  return {"workers": workers, "trials": len(ts), "rounds_per_worker": rounds, "problem": problem, "strategy": strategy,
          "lost": len(lost), "duplicated_configs": len(keys) - len(set(keys)), "duplicated_ids": len(ts) - len(by_id),
          "pending_left": sum(t.state == TrialState.PENDING for t in ts), "worker_errors": errors,
          "observe_max_s": max(observe_s, default=None), "observe_p99_s": q99(observe_s), "observe_median_s": float(np.median(observe_s)),
          "observe_max_after_two_rounds_s": max(warm, default=None),
          "suggest_max_s": max(suggest_s, default=None), "suggest_p99_s": q99(suggest_s), "suggest_median_s": float(np.median(suggest_s)),
          "proposals_per_trial": sum(r[4] for r in results) / max(1, len(suggest_s)), "wall_s": wall}

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--workers", type=int, default=8)
  ap.add_argument("--trials", type=int, default=400)
  ap.add_argument("--problem", default="hartmann6")
  ap.add_argument("--strategy", default="gp")
  ap.add_argument("--tag", default="load", help="results file name: benchmarks/results/<tag>.json")
  ap.add_argument("-o", "--out", default=str(RESULTS), help="folder for the results JSON")
  args = ap.parse_args(argv)
  with tempfile.TemporaryDirectory() as d:
    out = run(args.workers, args.trials, args.problem, args.strategy, Path(d))
  out["machine"] = {"cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "nice": os.nice(0)}
  Path(args.out).mkdir(parents=True, exist_ok=True)
  path = Path(args.out) / f"{args.tag}.json"
  path.write_text(json.dumps(out, indent=1))
  print(json.dumps(out, indent=1))
  print(f"{out['workers']} workers, {out['trials']} trials ({out['strategy']}): lost {out['lost']}, duplicated {out['duplicated_configs']}, "
        f"pending {out['pending_left']}, longest observe() {out['observe_max_s']:.3f} s, longest suggest() {out['suggest_max_s']:.2f} s, "
        f"{out['proposals_per_trial']:.2f} proposals a trial, wall {out['wall_s']:.0f} s; {path}")

if __name__ == "__main__":
  main()
