"""Load on one study (issue 15, item 16): a suggestion is proposed outside every lock, so observe() in another process or
thread never waits behind a slow strategy, and workers racing for the same configuration never share it.
(The full figures, 8 GP workers x 400 trials: benchmarks/load.py.)"""
import json
import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import tinybo as tb
from tinybo.storage import InMemoryStorage
from tinybo.trial import TrialState

ROOT = Path(__file__).resolve().parent.parent
SPACE = {"x": tb.Float(0.0, 1.0)}

class SlowRandom:
  """Random search that takes `seconds` to propose, like a GP fit; `started` is set when a proposal begins."""
  def __init__(self, seconds: float, started: threading.Event | None = None):
    self.seconds, self.started, self.inner = seconds, started, tb.Random()
  def suggest(self, space, trials, n, *, seed, minimize):
    if self.started is not None: self.started.set()
    time.sleep(self.seconds)
    return self.inner.suggest(space, trials, n, seed=seed, minimize=minimize)

SLOW_CHILD = """
import sys, time, tinybo as tb
class Slow:
  def __init__(self): self.inner = tb.Random()
  def suggest(self, space, trials, n, *, seed, minimize):
    open(sys.argv[2], "a").write("proposing\\n")
    time.sleep(2.0)
    return self.inner.suggest(space, trials, n, seed=seed, minimize=minimize)
opt = tb.Optimizer({"x": tb.Float(0.0, 1.0)}, strategy=Slow(), storage=sys.argv[1], name="s")
t = opt.suggest()
opt.observe(t, 0.5)
print(t.id)
"""

def test_observe_never_waits_behind_a_suggestion_in_another_process(tmp_path):
  db, mark = tmp_path / "s.db", tmp_path / "proposing.txt"
  opt = tb.Optimizer(SPACE, strategy="random", storage=db, name="s")
  mine = opt.suggest(3)
  child = subprocess.Popen([sys.executable, "-c", SLOW_CHILD, str(db), str(mark)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  deadline = time.monotonic() + 120
  while not mark.exists() and time.monotonic() < deadline and child.poll() is None: time.sleep(0.01)
  assert mark.exists(), child.stderr.read() if child.poll() is not None else "the child never started proposing"
  waits = []
  for t in mine:                       # the child is asleep inside its strategy's suggest for 2 s
    t0 = time.monotonic()
    opt.observe(t, 1.0)
    waits.append(time.monotonic() - t0)
  t0 = time.monotonic()
  extra = opt.suggest()                 # a fast strategy's suggestion does not wait either
  waits.append(time.monotonic() - t0)
  out, err = child.communicate(timeout=120)
  assert child.returncode == 0, err
  assert max(waits) < 0.5, waits
  ts = {t.id: t for t in opt.trials}
  assert ts[int(out)].state == TrialState.COMPLETE and ts[int(out)].value == 0.5 and extra.id in ts
  assert len({t.params["x"] for t in ts.values()}) == len(ts) == 5

def test_observe_never_waits_behind_a_suggestion_in_another_thread():
  storage, started = InMemoryStorage(), threading.Event()
  fast = tb.Optimizer(SPACE, strategy="random", storage=storage)
  slow = tb.Optimizer(SPACE, strategy=SlowRandom(2.0, started), storage=storage)
  t = fast.suggest()
  th = threading.Thread(target=slow.suggest)
  th.start()
  assert started.wait(30)
  t0 = time.monotonic()
  fast.observe(t, 1.0)
  wait = time.monotonic() - t0
  th.join()
  assert wait < 0.5 and [x.state for x in fast.trials] == [TrialState.COMPLETE, TrialState.PENDING]

# ***** racing workers *****

RACE_SPACE = {"i": tb.Int(0, 59), "tag": "race"}

class SlowGrid:
  """The first free grid point after a pause: every worker proposes the same point at once, only one may get it."""
  def __init__(self): self.inner = tb.Grid(points_per_float=60)
  def suggest(self, space, trials, n, *, seed, minimize):
    time.sleep(0.02)
    return self.inner.suggest(space, trials, n, seed=seed, minimize=minimize)

def race_worker(path: str, rounds: int, q) -> None:
  try:
    opt = tb.Optimizer(RACE_SPACE, strategy=SlowGrid(), storage=path, name="race")
    got = []
    for _ in range(rounds):
      t = opt.suggest()
      opt.observe(t, t.params["i"] * 0.5)
      got.append((t.id, t.params["i"]))
    q.put(("ok", got))
  except BaseException as e:
    q.put(("error", repr(e)))

def test_workers_racing_for_the_same_point_never_share_it(tmp_path):
  path, workers, rounds = str(tmp_path / "race.db"), 4, 15
  opt = tb.Optimizer(RACE_SPACE, strategy="random", storage=path, name="race")
  queued = [opt.enqueue({"i": i}) for i in (59, 58)]        # queued trials are handed out before any proposal
  ctx = mp.get_context("spawn")
  q = ctx.Queue()
  procs = [ctx.Process(target=race_worker, args=(path, rounds, q)) for _ in range(workers)]
  for p in procs: p.start()
  results = [q.get(timeout=300) for _ in procs]
  for p in procs: p.join(60)
  assert [r[0] for r in results] == ["ok"] * workers, results
  got = [x for r in results for x in r[1]]
  ts = opt.trials
  assert len(ts) == len(got) == workers * rounds and len({t.id for t in ts}) == len(ts)          # nothing lost, ids unique
  assert sorted(t.params["i"] for t in ts) == list(range(60))                                     # every point once: none twice
  assert all(t.state == TrialState.COMPLETE and t.value == t.params["i"] * 0.5 for t in ts)
  assert {q.id for q in queued} <= {i for i, _ in got}
  print("\nrace: " + json.dumps({"workers": workers, "trials": len(ts), "distinct": len({t.params["i"] for t in ts})}))
