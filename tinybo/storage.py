"""Where trials live: InMemoryStorage, and SQLiteStorage (one file shared by many processes, nothing lost on a crash).

A study is (storage, name) with its space JSON, direction and seed. Both storages implement the same methods and the
same state rules, so the optimizer never knows which one it talks to:
  open_study(name, space_json, direction, seed) -> int
                                              create, or check that an existing study matches; returns the study's seed
                                              (seed None: the recorded one; a new study records a new random one)
  trials(name) -> list[Trial]                 every trial, by id
  trial(name, id) -> Trial | None             one trial (None: no such trial in the study), without reading the others
  reserve(name, propose, worker)              call propose(trials) -> list[params] on a snapshot, outside any lock, then
                                              insert them as pending in one short transaction, proposing again when
                                              another worker took one of them meanwhile: concurrent workers never get
                                              the same point, and nobody waits behind a proposal
  add(name, params, state, value, worker)     insert a finished trial (a result from elsewhere)
  finish(name, id, state, value)              pending/failed -> complete/failed; errors on unknown, complete or stopped trials
  fail_pending(name, before)                  fail every pending trial a worker took before `before` (a time.time());
                                              queued ones (worker None) wait for a worker instead
  claim(name, n, worker)                      give up to n queued trials (pending, worker None: see add) to a worker;
                                              a claimed trial's `created` becomes the claim's time (when its run began)
  release(name, ids, worker)                  hand claimed trials back to the queue (worker None), those of `ids` still
                                              pending and held by `worker`: the suggest() that claimed them failed
  report(name, id, step, value, decide)       atomically: check the trial is pending and step > its last step, then
                                              record value at step with decide(states, reports)'s stop verdict
                                              (a non-finite value fails the trial instead); returns (trial, stop)
  reports(name, id=None) -> {id: [Report]}    every trial's reports (or one trial's), by step
  last_report(name, id) -> Report | None      a trial's last report alone (should_stop every step of a long curve)
  stop(name, id)                              pending -> stopped, its value the last reported one (failed stays failed)
  requeue(name, id) -> Trial                  in one transaction: a failed trial whose configuration a later trial
                                              already holds -> that trial; else pending -> failed, and its
                                              configuration queued (worker None) as a new trial, returned
Each storage also has `location`, a string naming where its studies live (a trial remembers it: see Optimizer).
Imports: space (canonical_json, to compare a stored space with a given one), trial, sqlite3.
"""
from __future__ import annotations

import json
import math
import os
import random
import secrets
import sqlite3
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from tinybo.space import canonical_json
from tinybo.trial import Report, Trial, TrialState

Propose = Callable[[list[Trial]], list[dict]]
# a stopping decision, made inside the report's write transaction: (state of every trial of the study by id, every
# trial's reports by id, the new report included) -> stop?
Decide = Callable[[dict[int, TrialState], dict[int, list[Report]]], bool]

class Storage(Protocol):
  location: str
  def open_study(self, name: str, space_json: str, direction: str, seed: int | None = None) -> int: ...
  def trials(self, name: str) -> list[Trial]: ...
  def trial(self, name: str, trial_id: int) -> Trial | None: ...
  def reserve(self, name: str, propose: Propose, worker: str | None) -> list[Trial]: ...
  def add(self, name: str, params: dict, state: TrialState, value: float | None, worker: str | None) -> Trial: ...
  def finish(self, name: str, trial_id: int, state: TrialState, value: float | None) -> Trial: ...
  def fail_pending(self, name: str, before: float | None = None) -> list[Trial]: ...
  def claim(self, name: str, n: int, worker: str) -> list[Trial]: ...
  def release(self, name: str, trial_ids: list[int], worker: str) -> None: ...
  def report(self, name: str, trial_id: int, step: int, value: float, decide: Decide | None = None) -> tuple[Trial, bool]: ...
  def reports(self, name: str, trial_id: int | None = None) -> dict[int, list[Report]]: ...
  def last_report(self, name: str, trial_id: int) -> Report | None: ...
  def stop(self, name: str, trial_id: int) -> Trial: ...
  def requeue(self, name: str, trial_id: int) -> Trial: ...
  def withdraw(self, name: str, trial_ids: list[int]) -> list[int]: ...

class StorageBusyError(RuntimeError):
  """The SQLite file stayed locked through every retry (another process holds a write lock for minutes)."""

def new_seed() -> int:
  """A fresh random seed for a study created with seed=None (recorded, so a resumed study continues the same way)."""
  return secrets.randbelow(2**31)

def finished_state(t: Trial) -> str:
  """How a complete or stopped trial ended, for its errors: 'complete (value 1.0)', 'stopped (value 2.0 at step 3)'."""
  at = f" at step {t.last_step}" if t.state == TrialState.STOPPED else ""
  return f"{t.state} (value {t.value}{at})"

def check_transition(name: str, t: Trial | None, trial_id: int, state: TrialState) -> bool:
  """The one rule set for finishing a trial. Returns False for a no-op (failing or stopping a failed trial: a NaN report
  fails a trial and report() then says stop), raises on misuse. A failed trial may still be observed: a late result from
  a worker that was presumed dead is kept, not lost."""
  if t is None: raise ValueError(f"no trial {trial_id} in study '{name}'; use a trial from suggest() (observe also takes a params dict, "
                                 "for an outside result)")
  if t.state in (TrialState.COMPLETE, TrialState.STOPPED):   # both final: a stopped trial was judged, its result is kept
    verb = {TrialState.COMPLETE: "observe", TrialState.FAILED: "fail", TrialState.STOPPED: "stop"}[state]
    again = " again" if state == t.state else ""
    raise ValueError(f"trial {trial_id} is already {finished_state(t)}; cannot {verb} it{again} — suggest() a new trial instead")
  return not (t.state == TrialState.FAILED and state in (TrialState.FAILED, TrialState.STOPPED))

def check_report(name: str, t: Trial | None, trial_id: int, step: int) -> None:
  """The rules for a report: to a pending trial, at a step above every step it reported before."""
  if t is None: raise ValueError(f"no trial {trial_id} in study '{name}'; report to a pending trial from suggest()")
  if t.state != TrialState.PENDING:
    raise ValueError(f"trial {trial_id} is already {t.state}; report only to a pending trial (suggest() a new one)")
  if t.last_step is not None and step <= t.last_step:
    raise ValueError(f"step={step} for trial {trial_id}, which already reported step {t.last_step}; report each step once, in increasing order")

def check_stop(name: str, t: Trial | None, trial_id: int, last: Report | None) -> bool:
  """Whether stopping the trial changes it (False: it has failed, and stays failed); raises on misuse."""
  if not check_transition(name, t, trial_id, TrialState.STOPPED): return False
  if last is None: raise ValueError(f"trial {trial_id} has no reports to stop at; report(trial, value, step) first, or fail(trial)")
  return True

def check_requeue(name: str, t: Trial | None, trial_id: int, later: Callable[[], list[Trial]]) -> Trial | None:
  """The rules for requeueing a trial: an unknown, complete or stopped one raises; a failed one whose configuration a
  later, not failed trial (`later()`: the trials after it) already holds gives that trial, so two processes recovering
  from one crash run it once; None: fail it if pending, and queue its configuration."""
  if t is None: raise ValueError(f"no trial {trial_id} in study '{name}'; use a trial from suggest()")
  if t.state in (TrialState.COMPLETE, TrialState.STOPPED):
    raise ValueError(f"trial {trial_id} is already {finished_state(t)}; cannot requeue it — enqueue(trial.params) to run its "
                     "configuration again")
  if t.state != TrialState.FAILED: return None
  return next((u for u in later() if u.id > trial_id and u.state != TrialState.FAILED and u.params == t.params), None)

def _check_study(name: str, where: str, stored: tuple[str, str, int | None], given: tuple[str, str, int | None]) -> None:
  if stored[1] != given[1]:
    raise ValueError(f"study '{name}' in {where} has direction '{stored[1]}', not '{given[1]}'; pass direction='{stored[1]}' or a new name=")
  if stored[0] != given[0] and canonical_json(stored[0]) != canonical_json(given[0]):
    a, b = json.loads(canonical_json(stored[0])), json.loads(canonical_json(given[0]))
    diff = sorted(k for k in set(a["params"]) | set(b["params"]) if a["params"].get(k) != b["params"].get(k))
    if not diff and a.get("constants") != b.get("constants"): diff = ["constants"]
    if not diff:  # the same parameters and constants listed in another order: the encoding (and the seeded sequence) differs
      raise ValueError(f"study '{name}' in {where} lists its parameters in another order ({', '.join(a['order'])}, not "
                       f"{', '.join(b['order'])}); list them in the stored order or use a new name=")
    raise ValueError(f"study '{name}' in {where} has a different space (differs in {', '.join(diff)}); use the same space or a new name=")
  if stored[2] is not None and given[2] is not None and stored[2] != given[2]:
    raise ValueError(f"study '{name}' in {where} was created with seed={stored[2]}, not {given[2]}; pass seed={stored[2]} or seed=None "
                     "(the recorded seed), or a new name=")

# ***** optimistic reservation: the proposal (a GP fit: seconds) runs outside every lock *****

_STALE_RETRIES = 1     # propose again this many times when other workers reserved while we proposed, then insert anyway
_MAX_ATTEMPTS = 50     # proposals that collided with another worker's reservation, at most

def reserve_optimistic(read: Callable[[], list[Trial]], propose: Propose,
                       commit: Callable[[list[dict], int, bool], list[Trial] | None]) -> list[Trial]:
  """Propose on a snapshot of the trials, then `commit(params, seen, strict)` in one short write transaction: it inserts
  and returns the trials, or returns None when a trial newer than id `seen` holds one of the proposed configurations
  or, while `strict`, when any trial newer than `seen` exists (the proposal did not know about it). Then propose again."""
  for attempt in range(_MAX_ATTEMPTS):
    trials = read()
    params = propose(trials)
    out = commit(params, max((t.id for t in trials), default=-1), attempt < _STALE_RETRIES)
    if out is not None: return out
  raise StorageBusyError(f"other workers took each of {_MAX_ATTEMPTS} proposals before it could be reserved; are many workers "
                         "sharing a nearly exhausted space?")

def _collides(params: list[dict], newer: list[str], strict: bool) -> bool:
  taken = set(newer)
  return bool(newer) and strict or any(json.dumps(p) in taken for p in params)

class InMemoryStorage:
  """Trials in a dict, guarded by a lock so threads (optimize(n_jobs>1)) can share it. Lost when the process ends."""
  def __init__(self):
    self._lock = threading.RLock()
    self._studies: dict[str, tuple[str, str, int]] = {}
    self._trials: dict[str, dict[int, Trial]] = {}
    self._reports: dict[str, dict[int, list[Report]]] = {}
    self._next_id = 0
    self.location = f"InMemoryStorage@{id(self):#x}"
    self._pid = os.getpid()

  def __getstate__(self) -> dict:  # a copy in another process would record its results where nobody sees them
    raise TypeError("an in-memory study cannot be pickled or copied: a copy would not share its trials; use storage='study.db' "
                    "(SQLite) to share a study between processes")

  def _write_lock(self) -> threading.RLock:
    # a forked child (multiprocessing.Process on Linux) holds a copy, as a pickled one would: what it records is lost
    if os.getpid() != self._pid:
      raise RuntimeError(f"this in-memory study belongs to process {self._pid}; process {os.getpid()} (a fork of it) would record into a "
                         "copy nobody sees; use storage='study.db' (SQLite) to share a study between processes")
    return self._lock

  def open_study(self, name: str, space_json: str, direction: str, seed: int | None = None) -> int:
    with self._write_lock():
      if name in self._studies: _check_study(name, "this InMemoryStorage", self._studies[name], (space_json, direction, seed))
      else: self._studies[name], self._trials[name], self._reports[name] = (space_json, direction, new_seed() if seed is None else seed), {}, {}
      return self._studies[name][2]

  def _study(self, name: str) -> dict[int, Trial]:
    if name not in self._trials: raise ValueError(f"no study '{name}' in this storage; create it with Optimizer(space, storage=..., name='{name}')")
    return self._trials[name]

  def trials(self, name: str) -> list[Trial]:
    # copies: a caller mutating a returned Trial must not change the study
    with self._lock: return [_copy(t) for t in self._study(name).values()]

  def trial(self, name: str, trial_id: int) -> Trial | None:
    with self._lock:
      t = self._study(name).get(trial_id)
      return None if t is None else _copy(t)

  def _insert(self, name: str, params: dict, state: TrialState, value: float | None, worker: str | None) -> Trial:
    now = time.time()
    t = Trial(self._next_id, dict(params), state, value, now, None if state == TrialState.PENDING else now, worker)
    self._next_id += 1
    self._study(name)[t.id] = t
    return _copy(t)

  def reserve(self, name: str, propose: Propose, worker: str | None) -> list[Trial]:
    def commit(params: list[dict], seen: int, strict: bool) -> list[Trial] | None:
      with self._write_lock():
        newer = [json.dumps(t.params) for t in self._study(name).values() if t.id > seen]
        if _collides(params, newer, strict): return None
        return [self._insert(name, p, TrialState.PENDING, None, worker) for p in params]
    return reserve_optimistic(lambda: self.trials(name), propose, commit)

  def add(self, name: str, params: dict, state: TrialState, value: float | None, worker: str | None) -> Trial:
    with self._write_lock(): return self._insert(name, params, state, value, worker)

  def finish(self, name: str, trial_id: int, state: TrialState, value: float | None) -> Trial:
    with self._write_lock():
      t = self._study(name).get(trial_id)
      if check_transition(name, t, trial_id, state): t.state, t.value, t.finished = state, value, time.time()
      return _copy(t)

  def fail_pending(self, name: str, before: float | None = None) -> list[Trial]:
    with self._write_lock():
      out, now = [], time.time()
      for t in self._study(name).values():
        if t.state == TrialState.PENDING and t.worker is not None and (before is None or t.created < before):
          t.state, t.finished = TrialState.FAILED, now
          out.append(_copy(t))
      return out

  def claim(self, name: str, n: int, worker: str) -> list[Trial]:
    with self._write_lock():
      out, now = [t for t in self._study(name).values() if t.state == TrialState.PENDING and t.worker is None][:n], time.time()
      for t in out: t.worker, t.created = worker, now
      return [_copy(t) for t in out]

  def release(self, name: str, trial_ids: list[int], worker: str) -> None:
    with self._write_lock():
      for i in trial_ids:
        t = self._study(name).get(i)
        if t is not None and t.state == TrialState.PENDING and t.worker == worker: t.worker = None

  def report(self, name: str, trial_id: int, step: int, value: float, decide: Decide | None = None) -> tuple[Trial, bool]:
    with self._write_lock():
      t = self._study(name).get(trial_id)
      check_report(name, t, trial_id, step)
      now = time.time()
      if not math.isfinite(value):
        t.state, t.finished = TrialState.FAILED, now
        return _copy(t), True
      curves = self._reports[name]
      stop = bool(curves.get(trial_id)) and curves[trial_id][-1].stop
      if not stop and decide is not None:
        seen = {**{i: list(c) for i, c in curves.items()}, trial_id: [*curves.get(trial_id, []), Report(step, value, False, now)]}
        stop = bool(decide({i: u.state for i, u in self._trials[name].items()}, seen))  # raises: nothing recorded
      curves.setdefault(trial_id, []).append(Report(step, value, stop, now))
      t.last_step = step
      return _copy(t), stop

  def reports(self, name: str, trial_id: int | None = None) -> dict[int, list[Report]]:
    with self._lock:
      self._study(name)
      curves = self._reports[name]
      if trial_id is not None: return {trial_id: list(curves[trial_id])} if trial_id in curves else {}
      return {i: list(c) for i, c in curves.items()}

  def last_report(self, name: str, trial_id: int) -> Report | None:
    with self._lock:
      self._study(name)
      curve = self._reports[name].get(trial_id)
      return curve[-1] if curve else None

  def stop(self, name: str, trial_id: int) -> Trial:
    with self._write_lock():
      t = self._study(name).get(trial_id)
      curve = self._reports[name].get(trial_id) or [None]
      if check_stop(name, t, trial_id, curve[-1]): t.state, t.value, t.finished = TrialState.STOPPED, curve[-1].value, time.time()
      return _copy(t)

  def requeue(self, name: str, trial_id: int) -> Trial:
    with self._write_lock():
      study = self._study(name)
      t = study.get(trial_id)
      again = check_requeue(name, t, trial_id, lambda: list(study.values()))
      if again is not None: return _copy(again)
      if t.state == TrialState.PENDING: t.state, t.finished = TrialState.FAILED, time.time()
      return self._insert(name, t.params, TrialState.PENDING, None, None)

  def withdraw(self, name: str, trial_ids: list[int]) -> list[int]:
    with self._write_lock():
      study, curves = self._study(name), self._reports[name]
      out = [i for i in trial_ids if (t := study.get(i)) is not None and t.state == TrialState.PENDING and t.worker is None
             and not any(j >= i for j in curves)]   # SQLiteStorage.withdraw says why no later trial may have reports
      for i in out: del study[i]
      return out

def _copy(t: Trial) -> Trial: return replace(t, params=dict(t.params))

_SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (name TEXT PRIMARY KEY, space TEXT NOT NULL, direction TEXT NOT NULL, created REAL NOT NULL, seed INTEGER);
CREATE TABLE IF NOT EXISTS trials (id INTEGER PRIMARY KEY AUTOINCREMENT, study TEXT NOT NULL REFERENCES studies(name), params TEXT NOT NULL,
  state TEXT NOT NULL, value REAL, created REAL NOT NULL, finished REAL, worker TEXT);
CREATE INDEX IF NOT EXISTS trials_study ON trials(study, id);
"""
# intermediate values; a study file from before reports existed gains the table when opened for writing
_REPORTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (study TEXT NOT NULL, trial INTEGER NOT NULL REFERENCES trials(id), step INTEGER NOT NULL,
  value REAL NOT NULL, stop INTEGER NOT NULL, time REAL NOT NULL, PRIMARY KEY (trial, step));
CREATE INDEX IF NOT EXISTS reports_study ON reports(study, trial, step);
"""

def _sqlite_uri(path: str, query: dict[str, str]) -> str:
  """A SQLite URI for a file path: '%', '#', '?' in the path are quoted, never read as URI syntax."""
  return "file:" + urllib.request.pathname2url(os.path.abspath(path)) + "?" + urllib.parse.urlencode(query)

_STATES = {x.value: x for x in TrialState}

def _number(v: Any) -> bool: return isinstance(v, (int, float)) and not isinstance(v, bool)

def _row_trial(where: str, row: tuple) -> Trial:
  """A trials row -> Trial; a row tinybo did not write (a damaged or crafted file) is a one-line ValueError naming it."""
  i, p, s, v, cr, f, w = row
  try: params = json.loads(p) if isinstance(p, str) else p
  except (ValueError, RecursionError) as e: params, problem = None, f"params are not JSON: {type(e).__name__}: {str(e)[:120]}"
  else: problem = None if isinstance(params, dict) else f"params are a {type(params).__name__}, not a JSON object"
  state = _STATES.get(s) if isinstance(s, str) else None
  if (problem is None and state is not None and (v is None or _number(v)) and _number(cr) and (f is None or _number(f))
      and (w is None or isinstance(w, str))):
    return Trial(i, params, state, None if v is None else float(v), float(cr), None if f is None else float(f), w)
  problem = problem or next(m for bad, m in [
    (state is None, lambda: f"state {str(s)[:40]!r} is not one of {', '.join(_STATES)}"),
    (v is not None and not _number(v), lambda: f"value {str(v)[:40]!r} is not a number"),
    (True, lambda: "a time or the worker has the wrong type")] if bad)()
  raise ValueError(f"{where}: trial {i} is not a valid tinybo trial ({problem}); the file is damaged or was not written by tinybo")

def file_path(path: str | os.PathLike) -> str:
  """The file a SQLite storage path names: a leading 'sqlite:///' (SQLAlchemy's form, as Optuna takes it) is dropped."""
  return str(os.fspath(path)).removeprefix("sqlite:///")

class SQLiteStorage:
  """A study file any number of processes (and threads) can share. WAL mode so readers never block the writer; every write
  is one short `BEGIN IMMEDIATE` transaction, retried with exponential backoff and jitter when the file is locked, so
  "database is locked" never reaches the user; a proposal (a GP fit) never runs inside one. AUTOINCREMENT ids are
  unique across processes and never reused. synchronous=FULL: a committed result survives a killed process and a power cut.

  `path` is a file path, never a URI: '%', '#' and '?' are ordinary characters. A leading 'sqlite:///' (SQLAlchemy's
  form, as Optuna takes it) is dropped: 'sqlite:///study.db' is 'study.db', 'sqlite:////abs/study.db' is '/abs/study.db'.
  `readonly=True` reads an existing file without writing to it or creating any file next to it (no -wal/-shm): as
  `tinybo show` does, so anyone who may read a study can look at it without locking its owner out."""
  def __init__(self, path: str | os.PathLike, busy_timeout: float = 30.0, max_wait: float = 600.0, readonly: bool = False):
    if not isinstance(path, (str, os.PathLike)): raise TypeError(f"storage path {path!r} is a {type(path).__name__}; pass a str or pathlib.Path")
    self.path = file_path(path)
    if not self.path.strip():
      raise ValueError(f"storage={str(path)!r} is an empty path; pass a file such as 'study.db', or storage=None for in-memory")
    if self.path == ":memory:": raise ValueError("SQLiteStorage(':memory:') gives each thread its own empty database; use storage=None for in-memory")
    if os.path.isdir(self.path):
      raise ValueError(f"storage '{self.path}' is a folder; pass a file inside it, such as '{os.path.join(self.path, 'study.db')}'")
    if not Path(self.path).parent.exists():
      raise ValueError(f"storage '{self.path}': folder '{Path(self.path).parent}' does not exist; create it first")
    if readonly and not os.path.isfile(self.path):
      raise ValueError(f"no such study file '{self.path}'; pass the .db file given to tb.Optimizer(storage=...)")
    for arg, v in (("busy_timeout", busy_timeout), ("max_wait", max_wait)):
      if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < math.inf:
        raise (ValueError if isinstance(v, (int, float)) and not isinstance(v, bool) else TypeError)(
          f"SQLiteStorage({arg}={v!r}): seconds, a finite number >= 0; the study's name goes to tb.Optimizer(name=...)")
    self.busy_timeout, self.max_wait, self.readonly = float(busy_timeout), float(max_wait), readonly
    # every connection opens the file named here, resolved now: a relative path must not follow a later chdir (an
    # objective's, a worker's in another folder) to another file
    self.file = os.path.abspath(self.path)
    self.location = os.path.realpath(self.path)
    self._local = threading.local()
    self._jitter = random.Random()  # own RNG: backoff jitter must not disturb (or depend on) the user's global seed
    if not readonly: self._retry(self._create)

  # pickled: the same file, reopened on first use (connections belong to a thread and cannot be pickled)
  def __getstate__(self) -> dict: return {k: v for k, v in self.__dict__.items() if k != "_local"}
  def __setstate__(self, state: dict) -> None: self.__dict__.update(state, _local=threading.local())

  def _create(self) -> None:
    c = self._conn()
    c.executescript(_SCHEMA)
    c.executescript(_REPORTS_SCHEMA)
    if "seed" not in {r[1] for r in c.execute("PRAGMA table_info(studies)")}:  # a file from before studies had a seed
      try: c.execute("ALTER TABLE studies ADD COLUMN seed INTEGER")
      except sqlite3.OperationalError as e:   # another process opening the file at the same moment added it first
        if "duplicate column name" not in str(e): raise

  def _conn(self) -> sqlite3.Connection:
    # one connection per thread and per process (a forked child must not reuse its parent's connection)
    c = getattr(self._local, "conn", None)
    if c is None or self._local.pid != os.getpid():
      c = sqlite3.connect(_sqlite_uri(self.file, {}), uri=True, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
      c.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
      c.execute("PRAGMA journal_mode = WAL")
      c.execute("PRAGMA synchronous = FULL")
      self._local.conn, self._local.pid = c, os.getpid()
    return c

  def _read_only(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
    """fn(conn) on a connection that writes nothing and creates no file. While a writer is (or was, before a crash)
    connected, the -wal and -shm files exist and mode=ro reads through them; otherwise every committed trial is in the
    main file and immutable=1 reads it without even taking a lock. A writer that appeared during that read: read again."""
    base = self.file
    def live() -> bool: return os.path.exists(base + "-wal") and os.path.exists(base + "-shm")
    was_live = live()
    while True:
      c = sqlite3.connect(_sqlite_uri(self.file, {"mode": "ro"} if was_live else {"immutable": "1"}), uri=True, timeout=self.busy_timeout,
                          isolation_level=None, check_same_thread=False)
      try: out = fn(c)
      finally: c.close()
      if was_live or not live(): return out
      was_live = True

  def _retry(self, fn: Callable[[], Any]) -> Any:
    start, delay = time.monotonic(), 0.002
    while True:
      try: return fn()
      except sqlite3.OperationalError as e:
        if "locked" not in str(e) and "busy" not in str(e): raise self._file_error(e) from e
        if time.monotonic() - start > self.max_wait:
          raise StorageBusyError(f"'{self.path}' stayed locked for {self.max_wait:g} s; is a process stuck holding it? ({e})") from e
        time.sleep(delay * (0.5 + self._jitter.random()))
        delay = min(delay * 2, 0.5)
      except sqlite3.DatabaseError as e: raise self._file_error(e) from e

  def _file_error(self, e: sqlite3.DatabaseError) -> ValueError:
    if "not a database" in str(e): return ValueError(f"'{self.path}' is not a tinybo study file ({e}); pass the .db file given to "
                                                     "tb.Optimizer(storage=...), or a new path")
    if "readonly" in str(e): return ValueError(f"'{self.path}' cannot be written ({e}); check its and its folder's permissions")
    if "unable to open" in str(e):   # the folder and file were checked at construction: permissions, not a damaged file
      return ValueError(f"'{self.path}' cannot be opened for writing ({e}): SQLite creates it and its -wal and -shm files in "
                        f"'{Path(self.file).parent}', so check that folder's permissions; to only read a study, use SQLiteStorage(path, "
                        "readonly=True) or tinybo show")
    return ValueError(f"'{self.path}' is not a usable tinybo study file ({e}); the file is damaged or was not written by tinybo")

  def _tx(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
    """Run fn(conn) in one write transaction; on a lock error the whole transaction is rolled back and rerun."""
    if self.readonly: raise ValueError(f"storage '{self.path}' was opened read-only; open it with SQLiteStorage(path) to change the study")
    def once():
      c = self._conn()
      # only this method opens transactions, and never two at once: one open here was left by an interrupted ROLLBACK
      if c.in_transaction: c.execute("ROLLBACK")
      try:
        # inside the try: a Ctrl-C that lands as BEGIN returns (after waiting seconds for another process's lock) must
        # roll back, or this connection keeps the study's write lock and every process waits for it
        c.execute("BEGIN IMMEDIATE")
        out = fn(c)
        c.execute("COMMIT")
        return out
      except BaseException:
        if c.in_transaction: c.execute("ROLLBACK")
        raise
    return self._retry(once)

  def _query(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
    """A read outside any write transaction."""
    return self._retry(lambda: self._read_only(fn) if self.readonly else fn(self._conn()))

  def studies(self) -> list[tuple[str, str, str, int | None]]:
    """(name, space JSON, direction, seed) of every study in the file, oldest first."""
    def go(c):
      cols = "name, space, direction, seed" if "seed" in {r[1] for r in c.execute("PRAGMA table_info(studies)")} else "name, space, direction, NULL"
      return c.execute(f"SELECT {cols} FROM studies ORDER BY created, name").fetchall()
    rows = self._query(go)
    for r in rows:
      if not (isinstance(r[0], str) and isinstance(r[1], str) and r[2] in ("minimize", "maximize") and (r[3] is None or isinstance(r[3], int))):
        raise ValueError(f"'{self.path}': study row {str(r[0])[:80]!r} is not a valid tinybo study; the file is damaged or was not written by tinybo")
    return rows

  def open_study(self, name: str, space_json: str, direction: str, seed: int | None = None) -> int:
    if self.readonly:
      stored = next((r for r in self.studies() if r[0] == name), None)
      if stored is None: raise ValueError(f"no study '{name}' in '{self.path}'; create it with Optimizer(space, storage=..., name='{name}')")
      _check_study(name, f"'{self.path}'", stored[1:], (space_json, direction, seed))
      return new_seed() if stored[3] is None else stored[3]
    def go(c):
      c.execute("INSERT OR IGNORE INTO studies (name, space, direction, created, seed) VALUES (?, ?, ?, ?, ?)",
                (name, space_json, direction, time.time(), new_seed() if seed is None else seed))
      stored = c.execute("SELECT space, direction, seed FROM studies WHERE name = ?", (name,)).fetchone()
      _check_study(name, f"'{self.path}'", stored, (space_json, direction, seed))
      if stored[2] is not None: return stored[2]
      recorded = new_seed() if seed is None else seed  # a study from before seeds were recorded
      c.execute("UPDATE studies SET seed = ? WHERE name = ?", (recorded, name))
      return recorded
    return self._tx(go)

  def _read(self, c: sqlite3.Connection, name: str, where: str = "", args: tuple = (), limit: int = -1) -> list[Trial]:
    sql = f"SELECT id, params, state, value, created, finished, worker FROM trials WHERE study = ? {where} ORDER BY id LIMIT ?"
    rows = c.execute(sql, (name, *args, limit)).fetchall()
    steps = self._last_steps(c, name, rows[0][0] if len(rows) == 1 else None) if rows else {}
    out = [_row_trial(f"'{self.path}'", r) for r in rows]
    for t in out: t.last_step = steps.get(t.id)
    return out

  def _one(self, c: sqlite3.Connection, name: str, trial_id: int) -> Trial | None:
    """One trial of the study as `_read` gives it (None: no such trial)."""
    return next(iter(self._read(c, name, "AND id = ?", (trial_id,))), None)

  @staticmethod
  def _no_reports_table(e: sqlite3.OperationalError) -> bool:
    # a study file written before reports existed, opened without write access (the table is created on a write open)
    return "no such table: reports" in str(e)

  def _last_steps(self, c: sqlite3.Connection, name: str, trial_id: int | None = None) -> dict[int, int]:
    # one trial: a plain MAX, which SQLite reads off the index's end; with GROUP BY it scanned all the trial's reports
    sql = ("SELECT trial, MAX(step) FROM reports WHERE study = ? GROUP BY trial" if trial_id is None else
           "SELECT ?, MAX(step) FROM reports WHERE study = ? AND trial = ?")
    try: rows = c.execute(sql, (name,) if trial_id is None else (trial_id, name, trial_id)).fetchall()
    except sqlite3.OperationalError as e:
      if self._no_reports_table(e): return {}
      raise
    return {i: st for i, st in rows if st is not None}

  def _reports(self, c: sqlite3.Connection, name: str, trial_id: int | None = None) -> dict[int, list[Report]]:
    if trial_id is None: return self._study_reports(c, name)
    sql = "SELECT trial, step, value, stop, time FROM reports WHERE study = ? AND trial = ? ORDER BY trial, step"
    try: rows = c.execute(sql, (name, trial_id)).fetchall()
    except sqlite3.OperationalError as e:
      if self._no_reports_table(e): return {}
      raise
    out: dict[int, list[Report]] = {}
    for i, st, v, stop, tm in rows: out.setdefault(i, []).append(Report(st, v, bool(stop), tm))
    return out

  def _study_reports(self, c: sqlite3.Connection, name: str) -> dict[int, list[Report]]:
    """Every report of the study, by trial in id order, steps increasing. Reports are only ever inserted, one write
    transaction at a time, so a later report has a larger rowid: each thread keeps what it has read (up to a rowid) and
    reads only the rows past it. A stopping rule reads them all inside the write lock at every report, and 50,000 rows
    rebuilt each time held that lock ~0.1 s (benchmarks/README.md, "Large studies"). Never called after this
    transaction's own insert, so what it keeps is committed."""
    if getattr(self._local, "curves_pid", None) != os.getpid(): self._local.curves, self._local.curves_pid = {}, os.getpid()
    last, curves = self._local.curves.get(name, (0, {}))
    try: rows = c.execute("SELECT rowid, trial, step, value, stop, time FROM reports WHERE study = ? AND rowid > ? ORDER BY rowid",
                          (name, last)).fetchall()
    except sqlite3.OperationalError as e:
      if self._no_reports_table(e): return {}
      raise
    for _, i, st, v, stop, tm in rows: curves.setdefault(i, []).append(Report(st, v, bool(stop), tm))
    if rows: self._local.curves[name] = (rows[-1][0], curves)
    return {i: list(curves[i]) for i in sorted(curves)}   # copies: callers append to them

  def trials(self, name: str) -> list[Trial]:
    return self._query(lambda c: self._read(c, name))

  def trial(self, name: str, trial_id: int) -> Trial | None:
    return self._query(lambda c: self._one(c, name, trial_id))

  def _insert(self, c: sqlite3.Connection, name: str, params: list[dict], state: TrialState, value: float | None, worker: str | None) -> list[Trial]:
    now, out = time.time(), []
    for p in params:
      fin = None if state == TrialState.PENDING else now
      cur = c.execute("INSERT INTO trials (study, params, state, value, created, finished, worker) VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (name, json.dumps(p), str(state), value, now, fin, worker))
      out.append(Trial(cur.lastrowid, json.loads(json.dumps(p)), state, value, now, fin, worker))
    return out

  def reserve(self, name: str, propose: Propose, worker: str | None) -> list[Trial]:
    def commit(params: list[dict], seen: int, strict: bool) -> list[Trial] | None:
      def go(c):
        newer = [r[0] for r in c.execute("SELECT params FROM trials WHERE study = ? AND id > ?", (name, seen))]
        return None if _collides(params, newer, strict) else self._insert(c, name, params, TrialState.PENDING, None, worker)
      return self._tx(go)
    return reserve_optimistic(lambda: self.trials(name), propose, commit)

  def add(self, name: str, params: dict, state: TrialState, value: float | None, worker: str | None) -> Trial:
    return self._tx(lambda c: self._insert(c, name, [params], state, value, worker))[0]

  def finish(self, name: str, trial_id: int, state: TrialState, value: float | None) -> Trial:
    def go(c):
      t = self._one(c, name, trial_id)
      if check_transition(name, t, trial_id, state):
        now = time.time()
        c.execute("UPDATE trials SET state = ?, value = ?, finished = ? WHERE id = ?", (str(state), value, now, trial_id))
        t = replace(t, state=state, value=value, finished=now)
      return t
    return self._tx(go)

  def fail_pending(self, name: str, before: float | None = None) -> list[Trial]:
    def go(c):
      ts = self._read(c, name, "AND state = 'pending' AND worker IS NOT NULL AND created < ?", (math.inf if before is None else before,))
      now = time.time()
      c.executemany("UPDATE trials SET state = 'failed', finished = ? WHERE id = ?", [(now, t.id) for t in ts])
      return [replace(t, state=TrialState.FAILED, finished=now) for t in ts]
    return self._tx(go)

  def claim(self, name: str, n: int, worker: str) -> list[Trial]:
    def go(c):
      ts, now = self._read(c, name, "AND state = 'pending' AND worker IS NULL", (), n), time.time()
      c.executemany("UPDATE trials SET worker = ?, created = ? WHERE id = ?", [(worker, now, t.id) for t in ts])
      return [replace(t, worker=worker, created=now) for t in ts]
    return self._tx(go)

  def release(self, name: str, trial_ids: list[int], worker: str) -> None:
    self._tx(lambda c: c.executemany("UPDATE trials SET worker = NULL WHERE study = ? AND id = ? AND state = 'pending' AND worker = ?",
                                     [(name, i, worker) for i in trial_ids]))

  def report(self, name: str, trial_id: int, step: int, value: float, decide: Decide | None = None) -> tuple[Trial, bool]:
    # the checks, the decision and the insert share one write lock: two processes reporting for one trial cannot
    # interleave, and every decision sees exactly the reports committed before it
    def go(c):
      t = self._one(c, name, trial_id)
      check_report(name, t, trial_id, step)
      now = time.time()
      if not math.isfinite(value):
        c.execute("UPDATE trials SET state = 'failed', finished = ? WHERE id = ?", (now, trial_id))
        return replace(t, state=TrialState.FAILED, finished=now), True
      prev = c.execute("SELECT stop FROM reports WHERE trial = ? ORDER BY step DESC LIMIT 1", (trial_id,)).fetchone()
      stop = bool(prev and prev[0])
      if not stop and decide is not None:
        curves = self._reports(c, name)
        curves.setdefault(trial_id, []).append(Report(step, value, False, now))
        states = {i: TrialState(s) for i, s in c.execute("SELECT id, state FROM trials WHERE study = ?", (name,)).fetchall()}
        stop = bool(decide(states, curves))   # raises: the transaction rolls back, nothing recorded
      c.execute("INSERT INTO reports (study, trial, step, value, stop, time) VALUES (?, ?, ?, ?, ?, ?)",
                (name, trial_id, step, value, int(stop), now))
      return replace(t, last_step=step), stop
    return self._tx(go)

  def reports(self, name: str, trial_id: int | None = None) -> dict[int, list[Report]]:
    return self._query(lambda c: self._reports(c, name, trial_id))

  def last_report(self, name: str, trial_id: int) -> Report | None:
    def go(c):
      sql = "SELECT step, value, stop, time FROM reports WHERE study = ? AND trial = ? ORDER BY step DESC LIMIT 1"
      try: row = c.execute(sql, (name, trial_id)).fetchone()
      except sqlite3.OperationalError as e:
        if self._no_reports_table(e): return None
        raise
      return None if row is None else Report(row[0], row[1], bool(row[2]), row[3])
    return self._query(go)

  def stop(self, name: str, trial_id: int) -> Trial:
    def go(c):
      t = self._one(c, name, trial_id)
      last = (self._reports(c, name, trial_id).get(trial_id) or [None])[-1]
      if not check_stop(name, t, trial_id, last): return t
      now = time.time()
      c.execute("UPDATE trials SET state = 'stopped', value = ?, finished = ? WHERE id = ?", (last.value, now, trial_id))
      return replace(t, state=TrialState.STOPPED, value=last.value, finished=now)
    return self._tx(go)

  def requeue(self, name: str, trial_id: int) -> Trial:
    # one write transaction: two processes requeueing the same trial at once queue it once (the second finds the first's copy)
    def go(c):
      t = self._one(c, name, trial_id)
      again = check_requeue(name, t, trial_id, lambda: self._read(c, name, "AND id > ? AND state != 'failed'", (trial_id,)))
      if again is not None: return again
      if t.state == TrialState.PENDING: c.execute("UPDATE trials SET state = 'failed', finished = ? WHERE id = ?", (time.time(), trial_id))
      return self._insert(c, name, [t.params], TrialState.PENDING, None, None)[0]
    return self._tx(go)

  def withdraw(self, name: str, trial_ids: list[int]) -> list[int]:
    """Remove the queued trials among trial_ids (pending, never taken: no worker, no reports), e.g. a requeue's copy whose
    original run still returned its result; returns the ids removed. A trial taken or ended meanwhile stays as it is.
    Removing a trial moves every later trial's position in the study (Hyperband's trial number, hence its bracket) down
    by one, so a trial stays too while any later trial of the study has reports: a bracket, once a trial has been judged
    in it, never changes. Usually none has (claim() hands out queued trials oldest first), but a trial can be reported to
    without being claimed, or be claimed, released and queued again behind later ones."""
    def go(c):
      gone = [c.execute("DELETE FROM trials WHERE study = ? AND id = ? AND state = 'pending' AND worker IS NULL "
                        "AND NOT EXISTS (SELECT 1 FROM reports WHERE study = ? AND trial >= ?) RETURNING id", (name, i, name, i)).fetchall()
              for i in trial_ids]
      return [int(r[0][0]) for r in gone if r]
    return self._tx(go)

  def close(self) -> None:
    c = getattr(self._local, "conn", None)
    if c is not None: c.close(); self._local.conn = None

def open_storage(storage: None | str | os.PathLike | Storage) -> Storage:
  """None -> a new InMemoryStorage, a path -> SQLiteStorage(path), a storage object -> itself."""
  if storage is None: return InMemoryStorage()
  if isinstance(storage, (str, os.PathLike)): return SQLiteStorage(storage)
  if all(callable(getattr(storage, m, None)) for m in ("open_study", "trials", "reserve", "add", "finish", "fail_pending", "claim")): return storage
  raise TypeError(f"storage={storage!r} is not a path or a storage object; pass None (in memory), 'study.db', or tb.storage.SQLiteStorage(path)")
