"""Storage: SQLite persistence and resume, study identity checks, lock retries, shared pending state.
(Several processes on one file: tests/test_reliability.py::test_eight_processes_share_one_study.)"""
import math
import os
import pathlib
import signal
import sqlite3
import threading
import time

import pytest

import tinybo as tb
from tinybo.storage import InMemoryStorage, SQLiteStorage, StorageBusyError
from tinybo.trial import TrialState

SPACE = tb.Space({"x": tb.Float(-5.0, 5.0), "lr": tb.Float(1e-5, 1.0, log=True), "n": tb.Int(1, 8), "c": tb.Categorical(["a", "b"]), "k": 3})

def run(opt, k):
  for _ in range(k):
    t = opt.suggest()
    opt.observe(t, t.params["x"] ** 2 + t.params["lr"])

def test_sqlite_resume_keeps_every_trial(tmp_path):
  path = tmp_path / "study.db"
  a = tb.Optimizer(SPACE, strategy="random", storage=str(path), name="s1")
  run(a, 5)
  a.fail(a.suggest())
  pend = a.suggest(2)
  a.observe({"x": 0.0, "lr": 1e-300 + 1e-5, "n": 1, "c": "b", "k": 3}, 1e-300)
  before = a.trials
  b = tb.Optimizer(SPACE, strategy="random", storage=path, name="s1")  # a pathlib.Path works too
  assert b.trials == before and len(before) == 9
  assert [t.state for t in before].count(TrialState.PENDING) == 2 and {t.id for t in pend} <= {t.id for t in b.trials}
  assert b.best.value == 1e-300 and all(t.params["k"] == 3 for t in b.trials)
  b.observe(pend[0], 2.5)  # a trial suggested by one handle can be finished through another
  assert a.trials[-3].value == 2.5

def test_resumed_study_continues_the_same_way(tmp_path):
  mem = tb.Optimizer(SPACE, strategy="random", seed=7)
  run(mem, 10)
  disk = tb.Optimizer(SPACE, strategy="random", seed=7, storage=tmp_path / "s.db")
  run(disk, 4)
  del disk
  disk = tb.Optimizer(SPACE, strategy="random", seed=7, storage=tmp_path / "s.db")
  run(disk, 6)
  assert [t.params for t in disk.trials] == [t.params for t in mem.trials]
  assert [t.value for t in disk.trials] == [t.value for t in mem.trials]

@pytest.mark.parametrize("make", [lambda p: str(p / "s.db"), lambda p: InMemoryStorage()], ids=["sqlite", "memory"])
def test_reopen_with_other_space_or_direction_is_an_error(tmp_path, make):
  storage = make(tmp_path)
  storage = storage if isinstance(storage, InMemoryStorage) else SQLiteStorage(storage)
  opt = tb.Optimizer(SPACE, strategy="random", storage=storage, name="study")
  run(opt, 3)
  before = opt.trials
  other = tb.Space({**{k: SPACE.params[k] for k in SPACE.names}, "n": tb.Int(1, 9), "k": 3})
  with pytest.raises(ValueError, match="study 'study' .*different space \\(differs in n\\).*same space or a new name="):
    tb.Optimizer(other, strategy="random", storage=storage, name="study")
  with pytest.raises(ValueError, match="direction 'minimize', not 'maximize'"):
    tb.Optimizer(SPACE, strategy="random", storage=storage, name="study", direction="maximize")
  assert tb.Optimizer(SPACE, strategy="random", storage=storage, name="study").trials == before
  tb.Optimizer(other, strategy="random", storage=storage, name="other")  # another name is another study
  assert tb.Optimizer(SPACE, strategy="random", storage=storage, name="study").trials == before

def test_two_handles_see_each_others_pending_trials(tmp_path):
  # two handles on one file behave like two processes: ids unique, and a grid never hands out a point twice
  space = tb.Space({"a": tb.Int(0, 3), "b": tb.Categorical(["x", "y", "z"])})
  h1, h2 = (tb.Optimizer(space, strategy="grid", storage=tmp_path / "g.db") for _ in range(2))
  got = []
  for i in range(6): got += h1.suggest(1) if i % 2 else h2.suggest(1)
  got += h1.suggest(6)
  assert len({t.id for t in got}) == 12 and len({space.key(t.params) for t in got}) == 12
  with pytest.raises(tb.SearchExhausted): h2.suggest()

def test_sqlite_is_wal_and_values_are_exact(tmp_path):
  path = tmp_path / "s.db"
  opt = tb.Optimizer(SPACE, strategy="random", storage=path)
  for v in (1e300, 1e-300, -0.0, 0.1 + 0.2): opt.observe(opt.suggest(), v)
  params = [t.params for t in opt.trials]
  again = tb.Optimizer(SPACE, strategy="random", storage=path).trials
  assert [t.value for t in again] == [1e300, 1e-300, -0.0, 0.1 + 0.2] and [t.params for t in again] == params  # bit-exact floats
  assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"

def hold_write_lock(path, seconds):
  c = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
  c.execute("BEGIN IMMEDIATE")
  def release(): time.sleep(seconds); c.execute("COMMIT"); c.close()
  th = threading.Thread(target=release)
  th.start()
  return th

def test_locked_database_is_retried_not_raised(tmp_path):
  path = tmp_path / "s.db"
  storage = SQLiteStorage(path, busy_timeout=0.01)  # a tiny busy timeout: only the retry loop can save the writes
  opt = tb.Optimizer(SPACE, strategy="random", storage=storage)
  t = opt.suggest()
  th = hold_write_lock(path, 0.5)
  t0 = time.monotonic()
  opt.observe(t, 1.0)
  opt.suggest()
  th.join()
  assert time.monotonic() - t0 > 0.4 and [x.state for x in opt.trials] == [TrialState.COMPLETE, TrialState.PENDING]

def test_lock_held_for_too_long_is_a_clear_error(tmp_path):
  path = tmp_path / "s.db"
  opt = tb.Optimizer(SPACE, strategy="random", storage=SQLiteStorage(path, busy_timeout=0.01, max_wait=0.2))
  t = opt.suggest()
  th = hold_write_lock(path, 1.0)
  # the result exists only in the caller's hands: the error names it and the trial (and the wait as configured, not "0 s")
  with pytest.raises(StorageBusyError, match=r"stayed locked for 0.2 s; is a process stuck holding it\? .*; the value 1.0 of trial "
                     f"{t.id} was not recorded: call observe\\(\\) with it again once the file is free"): opt.observe(t, 1.0)
  assert opt.trials[0].state == TrialState.PENDING
  th.join()
  opt.observe(t, 1.0)
  assert opt.trials[0].state == TrialState.COMPLETE

def test_ctrl_c_while_waiting_for_the_lock_leaves_no_transaction_open(tmp_path):
  # BEGIN IMMEDIATE ran before the try: a Ctrl-C raised as it returned left the connection in a write transaction, so
  # every other process got StorageBusyError and this handle's next write said the file was damaged
  path = tmp_path / "s.db"
  opt = tb.Optimizer(SPACE, strategy="random", storage=SQLiteStorage(path, busy_timeout=10.0))
  t = opt.suggest()
  th = hold_write_lock(path, 1.0)   # another process writes for a second; Ctrl-C comes while this one waits for it
  # Python's own Ctrl-C handler: a Ray Tune run earlier in the session leaves its own, which does not raise
  handler = signal.signal(signal.SIGINT, signal.default_int_handler)
  try:
    threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    with pytest.raises(KeyboardInterrupt): opt.observe(t, 1.0)
  finally: signal.signal(signal.SIGINT, handler)
  th.join()
  assert not opt.storage._conn().in_transaction
  other = tb.Optimizer(SPACE, strategy="random", storage=SQLiteStorage(path, busy_timeout=0.01, max_wait=1.0))
  other.observe(other.suggest(), 2.0)   # another process can write
  opt.observe(t, 1.0)                   # and so can this handle
  assert [(x.state, x.value) for x in opt.trials] == [(TrialState.COMPLETE, 1.0), (TrialState.COMPLETE, 2.0)]

def test_storage_argument_forms(tmp_path):
  assert isinstance(tb.Optimizer(SPACE, strategy="random").storage, InMemoryStorage)
  assert isinstance(tb.Optimizer(SPACE, strategy="random", storage=str(tmp_path / "a.db")).storage, SQLiteStorage)
  assert isinstance(tb.Optimizer(SPACE, strategy="random", storage=pathlib.Path(tmp_path / "b.db")).storage, SQLiteStorage)
  with pytest.raises(TypeError, match="storage=42 is not a path or a storage object"): tb.Optimizer(SPACE, strategy="random", storage=42)
  with pytest.raises(ValueError, match="use storage=None for in-memory"): tb.Optimizer(SPACE, strategy="random", storage=":memory:")
  with pytest.raises(ValueError, match="does not exist; create it first"): tb.Optimizer(SPACE, strategy="random", storage=tmp_path / "no" / "x.db")
  # a study name where Optuna users put one (its RDBStorage takes no name; create_study does) was a TypeError from sqlite3
  with pytest.raises(TypeError, match=r"^SQLiteStorage\(busy_timeout='s'\): seconds, a finite number >= 0; the study's name goes to "
                                      r"tb.Optimizer\(name=...\)$"):
    SQLiteStorage(tmp_path / "c.db", "s")
  for bad in (-1.0, math.nan, math.inf):
    with pytest.raises(ValueError, match=rf"^SQLiteStorage\(max_wait={bad!r}\): seconds"): SQLiteStorage(tmp_path / "c.db", max_wait=bad)
  assert not (tmp_path / "c.db").exists()   # refused before any file is made

def test_memory_storage_is_shared_between_handles():
  mem = InMemoryStorage()
  a = tb.Optimizer(SPACE, strategy="random", storage=mem)
  run(a, 3)
  b = tb.Optimizer(SPACE, strategy="random", storage=mem)
  assert b.trials == a.trials and len(b.trials) == 3
  b.trials[0].params["x"] = 99.0  # returned trials are copies: mutating one does not touch the study
  assert a.trials[0].params["x"] != 99.0

def _forked_worker(opt, q):
  try: opt.observe(opt.suggest(), 1.0); q.put("recorded")
  except RuntimeError as e: q.put(str(e))

def test_a_forked_process_cannot_write_into_a_copy_of_an_in_memory_study():
  # multiprocessing.Process on Linux forks without pickling: the child recorded its trials into its copy and exited 0,
  # and the parent never saw them (a pickled copy, as spawn or a Pool makes, was already refused)
  import multiprocessing
  opt = tb.Optimizer(SPACE, strategy="random")
  run(opt, 2)
  before = opt.trials
  ctx = multiprocessing.get_context("fork")
  q = ctx.Queue()
  p = ctx.Process(target=_forked_worker, args=(opt, q))
  p.start(); msg = q.get(timeout=60); p.join(60)
  assert msg.startswith("this in-memory study belongs to process ") and msg.endswith("use storage='study.db' (SQLite) to share a study "
                                                                                     "between processes")
  assert opt.trials == before
  run(opt, 1)   # the process that made it still writes
  assert len(opt.trials) == 3

def test_threads_on_sqlite(tmp_path):
  opt = tb.Optimizer(tb.Space({"i": tb.Int(0, 23)}), strategy="random", storage=tmp_path / "t.db")
  opt.optimize(lambda p: p["i"] / 2, n_trials=24, n_jobs=4, progress=False)  # one connection per thread, one lock per suggestion
  ts = opt.trials
  assert sorted(t.params["i"] for t in ts) == list(range(24)) and all(t.state == TrialState.COMPLETE and t.value == t.params["i"] / 2 for t in ts)
  assert len({t.worker for t in ts}) > 1

@pytest.mark.parametrize("make", [lambda p: SQLiteStorage(p / "s.db"), lambda p: InMemoryStorage()], ids=["sqlite", "memory"])
def test_one_trial_is_read_alone_and_equals_the_full_read(tmp_path, make):
  storage = make(tmp_path)
  opt = tb.Optimizer(SPACE, strategy="random", storage=storage, name="a", stopping=tb.MedianStopping())
  other = tb.Optimizer(SPACE, strategy="random", storage=storage, name="b")
  run(opt, 2)
  opt.fail(opt.suggest())
  s = opt.suggest(); opt.report(s, 1.0, 3); opt.report(s, 0.5, 7); opt.stop(s)
  r = opt.suggest(); opt.report(r, 2.0, 1)
  opt.suggest(); opt.enqueue({"x": 0.0, "lr": 0.1, "n": 2, "c": "a", "k": 3})
  foreign = other.suggest()
  full = storage.trials("a")
  assert [storage.trial("a", t.id) for t in full] == full and [t.last_step for t in full][3:5] == [7, 1]
  assert storage.trial("a", foreign.id) is None and storage.trial("a", 10**6) is None
  curves = storage.reports("a")
  assert {t.id: storage.last_report("a", t.id) for t in full} == {t.id: curves[t.id][-1] if t.id in curves else None for t in full}
  assert storage.last_report("a", s.id).step == 7 and storage.last_report("b", s.id) is None
  # should_stop, fail, requeue and a stopped objective look one trial up: none of them reads the whole study, and
  # should_stop reads no curve (it is called every step)
  def no_full_read(*args): raise AssertionError("read every trial (or a whole curve) to find one")
  storage.trials = storage.reports = no_full_read
  assert opt.should_stop(r) is False and opt.should_stop(s) is True   # s was stopped
  with pytest.raises(ValueError, match=f"no trial {foreign.id} in study 'a'"): opt.should_stop(foreign.id)
  assert opt.requeue(r).state == TrialState.PENDING and opt.fail(full[-1]).state == TrialState.FAILED

def test_a_storage_object_without_trial_still_works():
  # a user's storage implementing only the older methods: one-trial look-ups fall back to full reads, requeue to steps
  class Plain:
    def __init__(self): self.inner = InMemoryStorage()
    def __getattr__(self, m):
      if m in ("trial", "last_report", "requeue"): raise AttributeError(m)
      return getattr(self.inner, m)
  opt = tb.Optimizer(SPACE, strategy="random", storage=Plain(), stopping=tb.ASHA(min_step=1, max_step=9))
  a, b = opt.suggest(2)
  assert opt.report(a, 1.0, 1) is False and opt.report(b, 2.0, 1) is True and [opt.should_stop(a), opt.should_stop(b)] == [False, True]
  again = opt.requeue(a)
  assert again.state == TrialState.PENDING and opt.requeue(a).id == again.id and opt.should_stop(a) is True
  assert [x.state for x in opt.trials] == [TrialState.FAILED, TrialState.PENDING, TrialState.PENDING]

@pytest.mark.parametrize("make", [lambda p: SQLiteStorage(p / "s.db"), lambda p: InMemoryStorage()], ids=["sqlite", "memory"])
def test_withdraw_removes_only_queued_trials_never_taken(tmp_path, make):
  storage = make(tmp_path)
  opt = tb.Optimizer(SPACE, strategy="random", storage=storage, name="a")
  other = tb.Optimizer(SPACE, strategy="random", storage=storage, name="b")
  p = [{"x": float(i), "lr": 0.1, "n": 2, "c": "a", "k": 3} for i in range(5)]
  taken = opt.enqueue(p[0])
  assert opt.suggest().id == taken.id                                  # handed out: a worker runs it
  reported, failed, queued = opt.enqueue(p[2]), opt.enqueue(p[3]), opt.enqueue(p[1])
  opt.report(reported.id, 1.0, 1)                                      # measured something
  opt.fail(failed)
  foreign = other.enqueue(p[4])
  before = storage.trials("a")
  assert storage.withdraw("a", [taken.id, queued.id, reported.id, failed.id, foreign.id, 10**6]) == [queued.id]
  assert storage.trials("a") == [t for t in before if t.id != queued.id] and [t.id for t in storage.trials("b")] == [foreign.id]
  assert storage.withdraw("a", [queued.id]) == []                      # once
  assert opt.enqueue(p[1]).id > max(t.id for t in before)              # ids are never reused

@pytest.mark.parametrize("make", [lambda p: SQLiteStorage(p / "s.db"), lambda p: InMemoryStorage()], ids=["sqlite", "memory"])
def test_withdraw_keeps_a_queued_trial_while_a_later_trial_has_reports_so_no_hyperband_number_moves(tmp_path, make):
  storage = make(tmp_path)
  opt = tb.Optimizer(SPACE, strategy="random", storage=storage, name="a", seed=0)
  other = tb.Optimizer(SPACE, strategy="random", storage=storage, name="b", seed=0)
  numbers = lambda: {t.id: i for i, t in enumerate(storage.trials("a"))}  # noqa: E731 - Hyperband's trial numbers
  # an interrupted run's queued copy is claimed, a later trial is proposed and reports, then the claim is released
  # (the suggest() that took the copy raised): the copy waits in the queue behind a trial already judged at a rung
  copy = opt.enqueue({"x": 1.0, "lr": 0.1, "n": 2, "c": "a", "k": 3})
  assert opt.suggest().id == copy.id
  later = opt.suggest()
  opt.report(later.id, 1.0, 1)
  storage.release("a", [copy.id], storage.trials("a")[0].worker)
  assert [(t.id, t.state, t.worker) for t in storage.trials("a")][0] == (copy.id, TrialState.PENDING, None)
  before = numbers()
  assert storage.withdraw("a", [copy.id]) == [] and numbers() == before and before[later.id] == 1
  opt.observe(later, 2.0)
  fresh = opt.enqueue({"x": 4.0, "lr": 0.1, "n": 2, "c": "a", "k": 3})   # queued; no later trial of study a has reports
  mine, theirs = other.enqueue({"x": 2.0, "lr": 0.1, "n": 2, "c": "a", "k": 3}), other.enqueue({"x": 3.0, "lr": 0.1, "n": 2, "c": "a", "k": 3})
  other.report(theirs.id, 1.0, 1)                                       # study b's, ids above fresh's
  assert storage.withdraw("b", [mine.id]) == []                         # b's later trial has reports
  assert storage.withdraw("a", [fresh.id]) == [fresh.id]                # positions are per study: b's reports do not hold a's
  assert numbers() == before
