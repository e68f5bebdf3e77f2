"""Reliability, storage/optimizer side: bad values, bad calls leave the study unchanged, SIGKILLed workers lose nothing,
8 processes share one SQLite study, and a stateful fuzz test against a dict model of the study."""
import math
import multiprocessing as mp
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from workers import trial_failures

import tinybo as tb
from tinybo import strategies
from tinybo.optimizer import TrialFailedWarning
from tinybo.storage import InMemoryStorage, SQLiteStorage
from tinybo.trial import TrialState

ROOT = Path(__file__).resolve().parent.parent
SPACE = tb.Space({"x": tb.Float(-5.0, 5.0), "n": tb.Int(1, 8), "c": tb.Categorical(["a", "b"]), "k": 3})

@pytest.fixture(params=["memory", "sqlite"])
def opt(request, tmp_path):
  storage = InMemoryStorage() if request.param == "memory" else SQLiteStorage(tmp_path / "s.db")
  o = tb.Optimizer(SPACE, strategy="random", storage=storage)
  o.observe(o.suggest(), 1.0)
  o.fail(o.suggest())
  return o

# ***** bad values *****

@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), np.float64("nan"), np.float32("inf")],
                         ids=["nan", "+inf", "-inf", "np.nan", "np.inf32"])
def test_nonfinite_value_fails_the_trial_with_a_warning(opt, value):
  t = opt.suggest()
  with pytest.warns(TrialFailedWarning, match=f"trial {t.id} returned .*recorded as failed, never fed to the model"): out = opt.observe(t, value)
  assert out.state == TrialState.FAILED and out.value is None and opt.trials[-1] == out and opt.best.value == 1.0

@pytest.mark.parametrize("value, match", [(None, "None is a NoneType, not a number"), ("0.5", "'0.5' is a str, not a number"),
                                          (True, "True is a bool"), (np.array([1.0, 2.0]), "shape \\(2,\\); observe a single number"),
                                          ([0.5], "is a list")],
                         ids=["None", "str", "bool", "array", "list"])
def test_non_number_value_is_a_type_error_and_changes_nothing(opt, value, match):
  t = opt.suggest()
  before = opt.trials
  with pytest.raises(TypeError, match=match) as e: opt.observe(t, value)
  assert "\n" not in str(e.value) and opt.trials == before

def tensor_0d():
  from tinygrad import Tensor
  return Tensor(0.375)

@pytest.mark.parametrize("make, expect", [(lambda: np.float32(0.25), 0.25), (lambda: np.int64(3), 3.0), (lambda: np.float64(-2.5), -2.5),
                                          (lambda: np.array(0.5), 0.5), (tensor_0d, 0.375), (lambda: 1e300, 1e300), (lambda: 1e-300, 1e-300),
                                          (lambda: -1e300, -1e300), (lambda: 7, 7.0)],
                         ids=["np.float32", "np.int64", "np.float64", "np.0d-array", "tinygrad-0d", "1e300", "1e-300", "-1e300", "int"])
def test_numeric_values_are_accepted_as_floats(opt, make, expect):
  t = opt.suggest()
  out = opt.observe(t, make())
  stored = opt.trials[-1]
  assert out.state == stored.state == TrialState.COMPLETE and stored.value == expect and type(stored.value) is float

# ***** bad calls leave the study unchanged *****

BAD_CALLS = {
  "observe_unknown_id": (lambda o, ts: o.observe(10_000, 1.0), ValueError, "no trial 10000 in study 'study'"),
  "observe_complete_again": (lambda o, ts: o.observe(ts["done"], 2.0), ValueError, "already complete .*cannot observe it again"),
  "fail_complete": (lambda o, ts: o.fail(ts["done"]), ValueError, "already complete .*cannot fail it"),
  "observe_wrong_handle": (lambda o, ts: o.observe("3", 1.0), TypeError, "not a Trial or trial id"),
  "observe_params_unknown_name": (lambda o, ts: o.observe({"x": 0.0, "n": 1, "c": "a", "zz": 1}, 1.0), ValueError, "unknown parameter 'zz'"),
  "observe_params_missing_name": (lambda o, ts: o.observe({"x": 0.0, "c": "a"}, 1.0), ValueError, "missing parameter 'n'"),
  "observe_params_out_of_bounds": (lambda o, ts: o.observe({"x": 9.0, "n": 1, "c": "a"}, 1.0), ValueError, "'x': 9.0 is outside \\[-5.0, 5.0\\]"),
  "observe_params_bad_choice": (lambda o, ts: o.observe({"x": 0.0, "n": 1, "c": "q"}, 1.0), ValueError, "'c': 'q' is not one of the choices"),
  "observe_params_none_value": (lambda o, ts: o.observe({"x": 0.0, "n": 1, "c": "a"}, None), TypeError, "not a number"),
  "observe_pending_string_value": (lambda o, ts: o.observe(ts["pending"], "nan"), TypeError, "'nan' is a str"),
  "suggest_zero": (lambda o, ts: o.suggest(0), ValueError, "suggest\\(n=0\\); use None or an int >= 1"),
  "suggest_float": (lambda o, ts: o.suggest(2.5), ValueError, "suggest\\(n=2.5\\)"),
  "optimize_n_jobs_zero": (lambda o, ts: o.optimize(lambda p: 0.0, n_jobs=0), ValueError, "n_jobs=0; use an int >= 1"),
  "optimize_negative_trials": (lambda o, ts: o.optimize(lambda p: 0.0, n_trials=-1), ValueError, "n_trials=-1"),
  "optimize_negative_timeout": (lambda o, ts: o.optimize(lambda p: 0.0, timeout=-1), ValueError, "timeout=-1"),
  "fail_pending_negative_age": (lambda o, ts: o.fail_pending(older_than=-5), ValueError, "older_than=-5"),
  # True is 1 to Python: it was taken as one second
  "optimize_bool_timeout": (lambda o, ts: o.optimize(lambda p: 0.0, timeout=True), ValueError, "timeout=True; use seconds"),
  "fail_pending_bool_age": (lambda o, ts: o.fail_pending(older_than=True), ValueError, "older_than=True; use seconds"),
}

@pytest.mark.parametrize("name", list(BAD_CALLS))
def test_bad_call_leaves_study_unchanged(opt, name):
  call, exc, match = BAD_CALLS[name]
  ts = {"done": next(t for t in opt.trials if t.state == TrialState.COMPLETE), "pending": opt.suggest()}
  before = opt.trials
  with pytest.raises(exc, match=match) as e: call(opt, ts)
  assert "\n" not in str(e.value) and opt.trials == before

def test_bad_construction_is_clear(tmp_path):
  for kw, match in [({"direction": "up"}, "direction='up'"), ({"seed": "1"}, "seed='1'; use an int"), ({"name": ""}, "name=''"),
                    ({"strategy": "bayes"}, "unknown strategy 'bayes'")]:
    with pytest.raises((ValueError, TypeError), match=match): tb.Optimizer(SPACE, **{"strategy": "random", **kw})

# ***** crashes: SIGKILL a worker mid-run, repeatedly *****

CHILD = """
import sys, time, tinybo as tb
space = tb.Space({"x": tb.Float(-5.0, 5.0), "n": tb.Int(1, 8), "c": tb.Categorical(["a", "b"]), "k": 3})
opt = tb.Optimizer(space, strategy="random", storage=sys.argv[1], name="crash")
with open(sys.argv[2], "a") as side:
  while True:
    t = opt.suggest()
    time.sleep(0.002)
    v = t.params["x"] ** 2 + t.params["n"]
    opt.observe(t, v)                      # committed: from here on this result must survive anything
    side.write(f"{t.id} {v!r}\\n"); side.flush()
"""

def side_lines(path):
  return path.read_text().splitlines() if path.exists() else []

def test_sigkill_mid_run_loses_nothing(tmp_path):
  db, side, kills = tmp_path / "crash.db", tmp_path / "completed.txt", 4
  env = {**os.environ, "PYTHONPATH": str(ROOT)}
  rng = random.Random(0)
  for _ in range(kills):
    n0 = len(side_lines(side))
    p = subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(side)], cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while len(side_lines(side)) < n0 + 10 and p.poll() is None and time.monotonic() < deadline: time.sleep(0.01)
    time.sleep(rng.uniform(0, 0.03))  # land the kill at a random point of the suggest/observe loop
    assert p.poll() is None, "the worker died on its own"
    os.kill(p.pid, signal.SIGKILL)
    assert p.wait() == -signal.SIGKILL
  opt = tb.Optimizer(SPACE, strategy="random", storage=db, name="crash")
  recorded = {int(i): float(v) for i, v in (line.split() for line in side_lines(side))}
  trials = {t.id: t for t in opt.trials}
  lost = [i for i, v in recorded.items() if i not in trials or trials[i].state != TrialState.COMPLETE or trials[i].value != v]
  pending = [t for t in trials.values() if t.state == TrialState.PENDING]
  assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
  assert lost == [] and len(recorded) >= 10 * kills and len(pending) <= kills  # each dead worker held at most one trial
  assert all(t.worker and t.worker.split(":")[1].isdigit() for t in pending)  # listed with the dead worker's pid
  failed = opt.fail_pending()
  assert sorted(t.id for t in failed) == sorted(t.id for t in pending) and not any(t.state == TrialState.PENDING for t in opt.trials)
  assert opt.fail_pending() == []
  again = opt.requeue(failed[0]) if failed else opt.enqueue(opt.trials[0].params)  # a failed trial can be run again
  assert opt.suggest().id == again.id
  done = sum(t.state == TrialState.COMPLETE for t in opt.trials)
  print(f"\ncrash test: kills survived={kills}, completed trials={done} (side file {len(recorded)}), pending left by dead workers={len(pending)}, "
        f"trials lost={len(lost)}")

KILLED_CHILD = """
import os, signal, sys, tinybo as tb
opt = tb.Optimizer({"x": tb.Float(0, 1)}, strategy="random", storage=sys.argv[1], name="s")
handed = opt.suggest()                     # an ask/tell trial (a scheduler may have handed it to a job): never requeued
def objective(p):                          # optimize()'s run is killed mid-run (the OOM killer, SIGKILL)
  t = next(t for t in opt.trials if t.state == "pending" and t.id != handed.id)
  print(t.id, t.params["x"], handed.id, flush=True)
  os.kill(os.getpid(), signal.SIGKILL)
opt.optimize(objective, n_trials=1, progress=False)
"""

def test_optimize_requeues_what_a_killed_process_of_this_host_left_pending(tmp_path):
  db = tmp_path / "s.db"
  env = {**os.environ, "PYTHONPATH": str(ROOT)}
  killed = subprocess.run([sys.executable, "-c", KILLED_CHILD, str(db)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
  assert killed.returncode == -signal.SIGKILL
  dead_id, dead_x, handed = killed.stdout.split()
  opt = tb.Optimizer({"x": tb.Float(0, 1)}, strategy="random", storage=db, name="s")
  live = opt.storage.add(opt.name, {"x": 0.75}, TrialState.PENDING, None, f"{socket.gethostname()}:{os.getpid()}:MainThread")   # this process's
  elsewhere = opt.storage.add(opt.name, {"x": 0.5}, TrialState.PENDING, None, "another-host:1:MainThread")   # not this host's
  sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
  try:
    alive = opt.storage.add(opt.name, {"x": 0.25}, TrialState.PENDING, None, f"{socket.gethostname()}:{sleeper.pid}:MainThread")
    seen = []
    with pytest.warns(tb.TrialFailedWarning, match=rf"^trial {dead_id} was left pending by process \d+ of this host, which has ended"):
      opt.optimize(lambda p: seen.append(p["x"]) or 1.0, n_trials=1, progress=False)
  finally: sleeper.kill()
  ts = {t.id: t for t in opt.trials}
  assert ts[int(dead_id)].state == TrialState.FAILED and seen == [float(dead_x)]   # its configuration ran first
  assert [ts[i].state for i in (live.id, elsewhere.id, alive.id, int(handed))] == [TrialState.PENDING] * 4
  assert strategies.History.of(opt.space, opt.trials).X_failed.shape[0] == 0       # run again: no "bad here"

def test_a_resumed_ask_tell_loop_runs_a_killed_processs_trial_first(tmp_path):
  # an ask/tell loop started after optimize() was OOM-killed: its first suggest() hands out the dead run's configuration
  db = tmp_path / "s.db"
  killed = subprocess.run([sys.executable, "-c", KILLED_CHILD, str(db)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
  dead_id, dead_x, handed = killed.stdout.split()
  opt = tb.Optimizer({"x": tb.Float(0, 1)}, strategy="random", storage=db, name="s")
  with pytest.warns(tb.TrialFailedWarning, match=rf"^trial {dead_id} was left pending"): t = opt.suggest()
  assert t.params["x"] == float(dead_x) and t.id != int(dead_id)
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    assert opt.suggest().params["x"] != float(dead_x)             # once per Optimizer: nothing left to say
  assert {t.id: t.state for t in opt.trials}[int(handed)] == TrialState.PENDING   # the dead process's ask/tell trial: maybe running elsewhere

# ***** 8 processes share one study *****

CONC_SPACE = tb.Space({"i": tb.Int(0, 199), "tag": "shared"})  # exactly 200 configurations: any duplicate or lost trial shows

def conc_worker(path, n, q):
  try:
    opt = tb.Optimizer(CONC_SPACE, strategy="random", storage=path, name="shared")
    rng = random.Random(os.getpid())
    with warnings.catch_warnings(record=True) as w:
      warnings.simplefilter("always")
      opt.optimize(lambda p: time.sleep(rng.uniform(0, 0.004)) or p["i"] * 0.5, n_trials=n, progress=False)
    q.put(("ok", os.getpid(), [str(x.message) for x in w]))
  except BaseException as e:
    q.put(("error", os.getpid(), [repr(e)]))

def test_eight_processes_share_one_study(tmp_path):
  path, workers, per = str(tmp_path / "shared.db"), 8, 25
  tb.Optimizer(CONC_SPACE, strategy="random", storage=path, name="shared")  # create the file once, then race
  ctx = mp.get_context("spawn")
  q = ctx.Queue()
  procs = [ctx.Process(target=conc_worker, args=(path, per, q)) for _ in range(workers)]
  t0 = time.monotonic()
  for p in procs: p.start()
  results = [q.get(timeout=120) for _ in procs]
  for p in procs: p.join(30)
  elapsed = time.monotonic() - t0
  assert [r[0] for r in results] == ["ok"] * workers, results
  assert not any("locked" in m for r in results for m in r[2]) and all(p.exitcode == 0 for p in procs)
  ts = tb.Optimizer(CONC_SPACE, strategy="random", storage=path, name="shared").trials
  ids, values = [t.id for t in ts], sorted(t.params["i"] for t in ts)
  assert len(ts) == workers * per and len(set(ids)) == len(ids)        # unique ids, nothing lost
  assert values == list(range(200))                                      # no duplicated configuration: pending trials were seen
  assert all(t.state == TrialState.COMPLETE and t.value == t.params["i"] * 0.5 for t in ts)  # no result attached to the wrong trial
  assert len({t.worker.split(":")[1] for t in ts}) == workers            # every process contributed
  print(f"\nconcurrency test: workers={workers}, trials={len(ts)}, unique ids={len(set(ids))}, duplicated configs=0, lost=0, "
        f"lock errors=0, {elapsed:.1f} s")

# ***** fuzz: random sequences of suggest / observe / fail / reopen against a dict model *****

VALUES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1e300, 1e-300, None, "x"]),
                   st.floats(-1e6, 1e6).map(np.float32), st.integers(-10**6, 10**6).map(np.int64))

class StudyMachine(RuleBasedStateMachine):
  def __init__(self):
    super().__init__()
    self.dir = tempfile.mkdtemp()
    self.path = os.path.join(self.dir, "fuzz.db")
    self.opt = self.open()
    self.model: dict[int, tuple[dict, str, float | None]] = {}
    self.queued: list[int] = []  # enqueued trials not yet handed out by suggest, oldest first
    self.curves: dict[int, list[tuple[int, float]]] = {}  # every trial's reports (step, value)

  def open(self):
    return tb.Optimizer(SPACE, strategy="random", storage=self.path, name="fuzz")

  def pick(self, i):
    return sorted(self.model)[i % len(self.model)] if self.model and i < 900 else 10**6 + i  # sometimes an unknown id

  @rule(n=st.integers(1, 3))
  def suggest(self, n):
    self.queued = [q for q in self.queued if self.model[q][1] == "pending"]
    ts, m = self.opt.suggest(n), min(n, len(self.queued))
    assert [t.id for t in ts[:m]] == self.queued[:m]  # queued trials first, oldest first
    self.queued = self.queued[m:]
    for t in ts[m:]:
      assert t.id not in self.model and SPACE.validate(t.params) == t.params
      self.model[t.id] = (t.params, "pending", None)

  @rule(x=st.floats(-5, 5))
  def enqueue(self, x):
    t = self.opt.enqueue({"x": x, "n": 1, "c": "a"})
    self.model[t.id] = ({"x": x, "n": 1, "c": "a", "k": 3}, "pending", None)
    self.queued.append(t.id)

  @rule(i=st.integers(0, 1000))
  def requeue(self, i):
    tid = self.pick(i)
    if tid not in self.model or self.model[tid][1] in ("complete", "stopped"):
      with pytest.raises(ValueError): self.opt.requeue(tid)
      return
    params, state = self.model[tid][0], self.model[tid][1]
    again = [k for k in sorted(self.model) if k > tid and self.model[k][1] != "failed" and self.model[k][0] == params]
    t = self.opt.requeue(tid)
    if state == "failed" and again:   # its configuration is held by a later trial already (a requeue before): that one, no copy
      assert t.id == again[0]
      return
    assert t.params == params and t.state == TrialState.PENDING and t.id not in self.model
    self.model[tid] = (self.model[tid][0], "failed", None)
    self.model[t.id] = (t.params, "pending", None)
    self.queued.append(t.id)

  @rule(i=st.integers(0, 1000), value=VALUES)
  def observe(self, i, value):
    tid = self.pick(i)
    with warnings.catch_warnings(record=True) as w:
      warnings.simplefilter("always")
      if value is None or isinstance(value, str):
        with pytest.raises(TypeError): self.opt.observe(tid, value)
      elif tid not in self.model or self.model[tid][1] in ("complete", "stopped"):
        with pytest.raises(ValueError): self.opt.observe(tid, value)
      else:
        self.opt.observe(tid, value)
        v = float(value)
        self.model[tid] = (self.model[tid][0], "complete", v) if math.isfinite(v) else (self.model[tid][0], "failed", None)
        assert len(trial_failures(w)) == (not math.isfinite(v))

  @rule(i=st.integers(0, 1000), step=st.integers(-1, 6), value=VALUES)
  def report(self, i, step, value):
    tid = self.pick(i)
    with warnings.catch_warnings(record=True) as w:
      warnings.simplefilter("always")
      if value is None or isinstance(value, str):
        with pytest.raises(TypeError): self.opt.report(tid, value, step)
      elif step < 0 or tid not in self.model or self.model[tid][1] != "pending" or step <= max((s for s, _ in self.curves.get(tid, [])), default=-1):
        with pytest.raises(ValueError): self.opt.report(tid, value, step)
      else:
        stop = self.opt.report(tid, value, step)
        v = float(value)
        if math.isfinite(v): self.curves.setdefault(tid, []).append((step, v)); assert stop is False   # no rule: never told to stop
        else: self.model[tid] = (self.model[tid][0], "failed", None); assert stop is True and len(trial_failures(w)) == 1

  @rule(i=st.integers(0, 1000))
  def stop(self, i):
    tid = self.pick(i)
    if tid in self.model and self.model[tid][1] == "failed": assert self.opt.stop(tid).state == TrialState.FAILED   # stays failed
    elif tid not in self.model or self.model[tid][1] != "pending" or not self.curves.get(tid):
      with pytest.raises(ValueError): self.opt.stop(tid)
    else:
      self.opt.stop(tid)
      self.model[tid] = (self.model[tid][0], "stopped", self.curves[tid][-1][1])

  @rule(i=st.integers(0, 1000))
  def fail(self, i):
    tid = self.pick(i)
    if tid not in self.model or self.model[tid][1] in ("complete", "stopped"):
      with pytest.raises(ValueError): self.opt.fail(tid)
    else:
      self.opt.fail(tid)
      self.model[tid] = (self.model[tid][0], "failed", None)

  @rule(x=st.floats(-5, 5), value=st.floats(-100, 100))
  def warm_start(self, x, value):
    t = self.opt.observe({"x": x, "n": 2, "c": "b", "k": 3}, value)
    self.model[t.id] = ({"x": x, "n": 2, "c": "b", "k": 3}, "complete", value)

  @rule()
  def fail_pending(self):
    ids = sorted(t.id for t in self.opt.fail_pending())   # the pending trials a worker took: queued ones wait
    assert ids == sorted(k for k, v in self.model.items() if v[1] == "pending" and k not in self.queued)
    for k in ids: self.model[k] = (self.model[k][0], "failed", None)

  @rule()
  def reopen(self):
    if hasattr(self.opt.storage, "close"): self.opt.storage.close()
    self.opt = self.open()

  @invariant()
  def study_matches_model(self):
    ts = self.opt.trials
    assert [t.id for t in ts] == sorted(self.model)
    assert {t.id: (t.params, str(t.state), t.value) for t in ts} == self.model
    queued = [q for q in self.queued if self.model[q][1] == "pending"]
    assert [t.id for t in ts if t.state == TrialState.PENDING and t.worker is None] == queued
    done = [(v[2], k) for k, v in self.model.items() if v[1] == "complete"]   # stopped trials never count for best
    assert (self.opt.best.id if done else None) == (min(done)[1] if done else None)
    assert {k: [(r.step, r.value) for r in c] for k, c in self.opt.curves.items()} == self.curves
    assert {t.id: t.last_step for t in ts} == {k: (self.curves[k][-1][0] if k in self.curves else None) for k in self.model}

  def teardown(self):
    if hasattr(self.opt.storage, "close"): self.opt.storage.close()
    shutil.rmtree(self.dir, ignore_errors=True)

class MemoryStudyMachine(StudyMachine):
  def open(self):  # reopen = a new Optimizer on the same InMemoryStorage object
    self.mem = getattr(self, "mem", None) or InMemoryStorage()
    return tb.Optimizer(SPACE, strategy="random", storage=self.mem, name="fuzz")

TestStudyFuzz = StudyMachine.TestCase
TestStudyFuzz.settings = settings(max_examples=30, stateful_step_count=25, deadline=None)
TestMemoryStudyFuzz = MemoryStudyMachine.TestCase
TestMemoryStudyFuzz.settings = settings(max_examples=30, stateful_step_count=25, deadline=None)
