"""Reports and stopped trials: the ask/tell API, optimize() with a trial handle, bad use that changes nothing, the reports
table shared by processes, a SIGKILLed worker that loses no acknowledged report, resumed studies that decide the same
way, old study files, and what the GP strategy does with stopped trials."""
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from curve_scripts import interleaved_curves
from workers import trial_failures

import tinybo as tb
from tinybo.optimizer import TrialFailedWarning, takes_trial
from tinybo.storage import InMemoryStorage, SQLiteStorage
from tinybo.trial import TrialState

ROOT = Path(__file__).resolve().parent.parent
SPACE = tb.Space({"x": tb.Float(-5.0, 5.0), "n": tb.Int(1, 8), "c": tb.Categorical(["a", "b"]), "k": 3})

@pytest.fixture(params=["memory", "sqlite"])
def storage(request, tmp_path):
  return InMemoryStorage() if request.param == "memory" else SQLiteStorage(tmp_path / "s.db")

def snapshot(opt):
  return opt.trials, opt.curves

# ***** the ask/tell loop *****

def test_report_stop_observe_loop(storage):
  opt = tb.Optimizer(SPACE, strategy="random", storage=storage, stopping=tb.ASHA(min_step=1, max_step=9, reduction_factor=3))
  a, b, c = opt.suggest(3)
  assert opt.report(a, 1.0, 1) is False and opt.report(a, 0.5, 3) is False   # alone at rungs 1 and 3
  assert opt.report(b, 2.0, 1) is True                                        # rung 1: [1.0, 2.0] -> top 1 is a
  assert opt.should_stop(b) and not opt.should_stop(a) and not opt.should_stop(c)   # c never reported: False
  assert opt.report(b, 0.1, 2) is True                                        # told once, told always (sticky)
  s = opt.stop(b)
  assert (s.state, s.value, s.last_step) == (TrialState.STOPPED, 0.1, 2)      # its last reported value and step
  done = opt.observe(a, 0.25)
  assert (done.state, done.value, done.last_step) == (TrialState.COMPLETE, 0.25, 3)
  assert opt.best.id == a.id   # the stopped trial's 0.1 is lower, but at step 2: best never counts stopped trials
  assert {t.id: (t.state, t.last_step) for t in opt.trials} == {a.id: ("complete", 3), b.id: ("stopped", 2), c.id: ("pending", None)}
  assert [(r.step, r.value, r.stop) for r in opt.curves[b.id]] == [(1, 2.0, True), (2, 0.1, True)]
  assert opt.curves.keys() == {a.id, b.id}

def test_reports_without_a_rule_are_recorded_and_never_stop(storage):
  opt = tb.Optimizer(SPACE, strategy="random", storage=storage)
  t = opt.suggest()
  assert [opt.report(t, v, s) for s, v in [(0, 9.0), (2, 8.0), (7, np.float32(1.5))]] == [False] * 3
  assert [(r.step, r.value) for r in opt.curves[t.id]] == [(0, 9.0), (2, 8.0), (7, 1.5)] and opt.trials[0].last_step == 7
  assert opt.stop(t).value == 1.5 and opt.best is None   # a study of stopped trials has no best

def test_maximize_is_direction_aware():
  opt = tb.Optimizer(SPACE, strategy="random", direction="maximize", stopping=tb.ASHA(min_step=1, reduction_factor=2))
  a, b, c = opt.suggest(3)
  assert not opt.report(a, 0.5, 1) and opt.report(b, 0.4, 1) and not opt.report(c, 0.9, 1)   # higher is better
  opt.observe(a, 0.7)
  opt.stop(b)
  opt.observe(c, 0.6)
  assert opt.best.id == a.id

@pytest.mark.parametrize("value", [float("nan"), float("inf"), -np.inf])
def test_nonfinite_report_fails_the_trial(storage, value):
  opt = tb.Optimizer(SPACE, strategy="random", storage=storage, stopping=tb.MedianStopping())
  t = opt.suggest()
  opt.report(t, 1.0, 0)
  with pytest.warns(TrialFailedWarning, match=f"trial {t.id} reported {value} at step 1; recorded as failed"):
    assert opt.report(t, value, 1) is True
  assert opt.trials[0].state == TrialState.FAILED and [r.step for r in opt.curves[t.id]] == [0]   # the bad value is not stored
  with pytest.raises(ValueError, match="already failed; report only to a pending trial"): opt.report(t, 1.0, 2)

def test_readme_loop_survives_a_nan_report(storage):
  # the README's loop: `if opt.report(...): opt.stop(trial)`. A NaN report fails the trial and returns True; stop() then
  # leaves it failed (as fail() of a failed trial does) instead of raising in the middle of the user's training loop
  opt = tb.Optimizer(SPACE, strategy="random", storage=storage, stopping=tb.ASHA(min_step=1, max_step=9))
  t = opt.suggest()
  opt.report(t, 1.0, 1)
  with pytest.warns(TrialFailedWarning): assert opt.report(t, float("nan"), 2) is True
  before = snapshot(opt)
  s = opt.stop(t)
  assert (s.id, s.state, s.value) == (t.id, TrialState.FAILED, None) and snapshot(opt) == before
  failed = opt.suggest(); opt.fail(failed)                    # a trial failed by fail(), with or without reports: the same
  assert opt.stop(failed).state == TrialState.FAILED and opt.trials[-1].state == TrialState.FAILED

# ***** bad use: one line, nothing changes *****

def _stopped(o, ts):
  t = o.suggest(); o.report(t, 1.0, 1); return o.stop(t)

BAD = {
  "report_unknown": (lambda o, ts: o.report(10_000, 1.0, 1), ValueError, "no trial 10000 in study 'study'; report to a pending trial"),
  "report_complete": (lambda o, ts: o.report(ts["done"], 1.0, 5), ValueError, "is already complete; report only to a pending trial"),
  "report_failed": (lambda o, ts: o.report(ts["failed"], 1.0, 5), ValueError, "is already failed; report only to a pending trial"),
  "report_stopped": (lambda o, ts: o.report(ts["stopped"], 1.0, 5), ValueError, "is already stopped; report only to a pending trial"),
  "report_same_step": (lambda o, ts: o.report(ts["pending"], 1.0, 2), ValueError,
                       "step=2 for trial .* already reported step 2; report each step once"),
  "report_lower_step": (lambda o, ts: o.report(ts["pending"], 1.0, 1), ValueError, "already reported step 2"),
  "report_nan_at_lower_step": (lambda o, ts: o.report(ts["pending"], float("nan"), 1), ValueError, "already reported step 2"),
  "report_float_step": (lambda o, ts: o.report(ts["pending"], 1.0, 3.0), TypeError, "step=3.0 is a float; use an int >= 0"),
  "report_str_step": (lambda o, ts: o.report(ts["pending"], 1.0, "3"), TypeError, "step='3' is a str; use an int >= 0"),
  "report_bool_step": (lambda o, ts: o.report(ts["pending"], 1.0, True), TypeError, "step=True is a bool"),
  "report_negative_step": (lambda o, ts: o.report(ts["pending"], 1.0, -1), ValueError, "step=-1; use an int >= 0"),
  "report_huge_step": (lambda o, ts: o.report(ts["pending"], 1.0, 2**63), ValueError, "step=9223372036854775808; use an int in \\[0, 2\\*\\*63\\)"),
  "report_none": (lambda o, ts: o.report(ts["pending"], None, 3), TypeError, "reported value None is a NoneType, not a number; report a float"),
  "report_str": (lambda o, ts: o.report(ts["pending"], "0.5", 3), TypeError, "reported value '0.5' is a str"),
  "report_array": (lambda o, ts: o.report(ts["pending"], np.ones(2), 3), TypeError, "reported value has shape \\(2,\\); report a single number"),
  "report_params_dict": (lambda o, ts: o.report({"x": 0.0, "n": 1, "c": "a"}, 1.0, 3), TypeError, "report needs a pending trial"),
  "stop_without_reports": (lambda o, ts: o.stop(ts["fresh"]), ValueError, "has no reports to stop at; report\\(trial, value, step\\) first"),
  "stop_complete": (lambda o, ts: o.stop(ts["done"]), ValueError, "already complete \\(value 1.0\\); cannot stop it — suggest"),
  "stop_stopped": (lambda o, ts: o.stop(ts["stopped"]), ValueError, "already stopped \\(value 1.0 at step 1\\); cannot stop it again"),
  "stop_unknown": (lambda o, ts: o.stop(10_000), ValueError, "no trial 10000"),
  "observe_stopped": (lambda o, ts: o.observe(ts["stopped"], 0.5), ValueError, "already stopped \\(value 1.0 at step 1\\); cannot observe it —"),
  "fail_stopped": (lambda o, ts: o.fail(ts["stopped"]), ValueError, "already stopped .*cannot fail it"),
  "requeue_stopped": (lambda o, ts: o.requeue(ts["stopped"]), ValueError, "already stopped"),
  "should_stop_unknown": (lambda o, ts: o.should_stop(10_000), ValueError, "no trial 10000 in study 'study'"),
  "rule_raises": (lambda o, ts: tb.Optimizer(SPACE, strategy="random", storage=o.storage, stopping=Broken()).report(ts["pending"], 1.0, 3),
                  ZeroDivisionError, "a broken rule"),
}

class Broken:
  def should_stop(self, trial_id, step, value, history): raise ZeroDivisionError("a broken rule")

@pytest.mark.parametrize("name", list(BAD))
def test_bad_use_is_one_line_and_changes_nothing(storage, name):
  opt = tb.Optimizer(SPACE, strategy="random", storage=storage, stopping=tb.MedianStopping(warmup_trials=0))
  done = opt.suggest(); opt.report(done, 1.0, 1); opt.observe(done, 1.0)
  failed = opt.suggest(); opt.fail(failed)
  pending = opt.suggest(); opt.report(pending, 2.0, 2)
  ts = {"done": done, "failed": failed, "pending": pending, "stopped": _stopped(opt, {}), "fresh": opt.suggest()}
  call, exc, match = BAD[name]
  before = snapshot(opt)
  with pytest.raises(exc, match=match) as e: call(opt, ts)
  assert "\n" not in str(e.value) and snapshot(opt) == before

# ***** optimize(): objective(params, trial) *****

def curve(params, step):
  # a learning curve that flattens at a level set by x: bad x are visible from the first steps
  return abs(params["x"]) + 4.0 / step

def test_optimize_with_a_trial_handle_stops_bad_curves(storage):
  opt = tb.Optimizer(SPACE, strategy="random", storage=storage, stopping=tb.ASHA(min_step=1, max_step=27, reduction_factor=3))
  seen = []
  def objective(params, trial):
    assert isinstance(trial, tb.TrialHandle) and trial.params == params
    for step in range(1, 28):
      v = curve(params, step)
      if trial.report(v, step):
        assert trial.should_stop()
        raise tb.StopTrial()
    seen.append(trial.id)
    return v
  best = opt.optimize(objective, n_trials=20, progress=False)
  ts = {t.id: t for t in opt.trials}
  stopped = [t for t in ts.values() if t.state == TrialState.STOPPED]
  assert len(stopped) >= 8 and sorted(seen) == sorted(i for i, t in ts.items() if t.state == TrialState.COMPLETE)
  assert all(t.value == curve(t.params, t.last_step) and t.last_step in (1, 3, 9) for t in stopped)   # stopped at a rung
  assert best.id == min((t for t in ts.values() if t.state == TrialState.COMPLETE), key=lambda t: t.value).id
  spent = sum(t.last_step for t in ts.values())
  assert spent < 0.6 * 27 * 20   # the point of it all: far fewer steps than 20 full runs

def test_objective_signatures():
  assert not takes_trial(lambda p: 0.0) and takes_trial(lambda p, t: 0.0) and not takes_trial(lambda p, t=None: 0.0)
  assert not takes_trial(abs) and not takes_trial(lambda *a: 0.0)
  class Obj:
    def __call__(self, params, trial): return 0.0
  assert takes_trial(Obj()) and not takes_trial(print)

def test_optimize_classic_objective_still_works_and_a_useless_rule_warns():
  opt = tb.Optimizer(SPACE, strategy="random", stopping=tb.MedianStopping())
  with pytest.warns(UserWarning, match="never acts on objective\\(params\\)"): opt.optimize(lambda p: p["x"] ** 2, n_trials=3, progress=False)
  assert [t.state for t in opt.trials] == [TrialState.COMPLETE] * 3

def test_stop_trial_edge_cases():
  opt = tb.Optimizer(SPACE, strategy="random")
  def early(params, trial): raise tb.StopTrial()                      # before any report: nothing to stop at
  def diverges(params, trial): trial.report(float("nan"), 1); return 1.0   # NaN report, then returns anyway
  def nan_then_stop(params, trial):
    trial.report(1.0, 0)
    if trial.report(float("inf"), 1): raise tb.StopTrial()
  for f in (early, diverges, nan_then_stop):
    with pytest.warns(TrialFailedWarning): opt.optimize(f, n_trials=1, progress=False)
  assert [t.state for t in opt.trials] == [TrialState.FAILED] * 3 and opt.best is None

def test_a_trial_stopped_elsewhere_ends_its_run_and_optimize_goes_on(storage):
  # a supervisor (another process, another handle) stops a running trial: should_stop() said False, the run's next report
  # raised, its fail() raised "already stopped; cannot fail it", and that error ended optimize() after one trial
  opt = tb.Optimizer(SPACE, strategy="random", storage=storage, stopping=tb.MedianStopping())
  supervisor = tb.Optimizer(SPACE, strategy="random", storage=storage, stopping=tb.MedianStopping())
  seen = []
  def heeds(params, trial):    # the README's loop: stops when told
    for epoch in range(1, 5):
      if epoch == 3 and trial.id == first: supervisor.stop(trial.id)
      seen.append(trial.should_stop())
      if seen[-1] or trial.report(float(epoch), epoch): raise tb.StopTrial()
    return 0.0
  def ignores(params, trial):  # keeps reporting, or returns a result, after the stop
    assert trial.report(1.0, 1) is False
    supervisor.stop(trial.id)
    if trial.id % 2: trial.report(2.0, 2)   # raises: already stopped
    return 0.5
  gone = opt.suggest(); opt.fail(gone)
  first = gone.id + 1   # the next trial optimize() runs (ids are the storage's: SQLite's start at 1)
  with warnings.catch_warnings():
    warnings.simplefilter("error")   # the trial that heeded the stop lost nothing: no warning
    opt.optimize(heeds, n_trials=2, progress=False)
  assert seen == [False, False, True, False, False, False, False]
  with pytest.warns(TrialFailedWarning, match="was ended elsewhere as stopped \\(value 1.0 at step 1\\) while its objective ran; its ") as w:
    opt.optimize(ignores, n_trials=3, progress=False)
  kinds = {"error" if "its error (ValueError: trial" in str(x.message) else "result" if "its result 0.5 is not" in str(x.message) else "?"
           for x in trial_failures(w)}
  assert kinds == {"error", "result"} and len(trial_failures(w)) == 3
  assert [(t.state, t.value) for t in opt.trials] == [(TrialState.FAILED, None), (TrialState.STOPPED, 2.0), (TrialState.COMPLETE, 0.0)] + \
    [(TrialState.STOPPED, 1.0)] * 3
  assert opt.should_stop(first) is True

# ***** the reports table across processes *****

SHARED = """
import sys, tinybo as tb
space = tb.Space({"x": tb.Float(-5.0, 5.0), "n": tb.Int(1, 8), "c": tb.Categorical(["a", "b"]), "k": 3})
rule = tb.ASHA(min_step=1, max_step=9, reduction_factor=3) if sys.argv[2] == "asha" else None
opt = tb.Optimizer(space, strategy="random", storage=sys.argv[1], name="shared", stopping=rule)
for v in map(float, sys.argv[3:]):
  t = opt.suggest()
  stop = opt.report(t, v, 1)
  print(t.id, int(stop), flush=True)
  if stop: opt.stop(t)
  else: opt.observe(t, v)
"""

def run_child(*args):
  env = {**os.environ, "PYTHONPATH": str(ROOT)}
  p = subprocess.run([sys.executable, "-c", SHARED, *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
  assert p.returncode == 0, p.stderr
  return [tuple(map(int, line.split())) for line in p.stdout.splitlines()]

def test_a_rule_in_one_process_sees_the_reports_of_another(tmp_path):
  db = tmp_path / "shared.db"
  assert [s for _, s in run_child(db, "none", 1.0, 2.0, 3.0)] == [0, 0, 0]   # process 1: no rule, three runs reach step 1
  # process 2, ASHA: rung 1 holds [1, 2, 3] from process 1; 2.5 -> n=4, top 1 -> stop; 0.5 -> best -> go on.
  # Alone (a fresh study) the first would be alone at the rung and go on.
  assert [s for _, s in run_child(db, "asha", 2.5, 0.5)] == [1, 0]
  assert [s for _, s in run_child(tmp_path / "fresh.db", "asha", 2.5, 0.5)] == [0, 0]

def test_reports_read_in_parts_equal_the_table_after_interleaved_writers(tmp_path):
  # a SQLite storage keeps the reports it has read and reads only newer rows: after writes by another storage object (as
  # another process), by another thread and by itself, in every order, each read equals the table read afresh
  import threading
  db = tmp_path / "s.db"
  a, b = (tb.Optimizer(SPACE, strategy="random", storage=str(db), name="s", seed=0) for _ in range(2))
  other = tb.Optimizer(SPACE, strategy="random", storage=str(db), name="other", seed=2)   # a second study in the file
  def table():
    with sqlite3.connect(db) as c:
      rows = c.execute("SELECT trial, step, value FROM reports WHERE study = 's' ORDER BY trial, step").fetchall()
    out = {}
    for i, st, v in rows: out.setdefault(i, []).append((st, v))
    return out
  def seen(opt): return {i: [(r.step, r.value) for r in c] for i, c in opt.storage.reports("s").items()}
  rng = random.Random(0)
  trials = [(rng.choice([a, b]), t) for t in [a.suggest(), b.suggest(), a.suggest(), b.suggest()]]
  threaded = a.suggest()
  for step in range(1, 16):
    for opt, t in rng.sample(trials, len(trials)):
      if rng.random() < 0.7: (opt if rng.random() < 0.5 else b).report(t, rng.random(), step)
    if step % 3 == 0: other.report(other.suggest(), 1.0, step)
    if step % 4 == 0:   # another thread of `a`'s storage: its own connection and what it has read
      th = threading.Thread(target=a.report, args=(threaded, rng.random(), step))
      th.start(); th.join()
    curves = a.storage.reports("s")
    curves[next(iter(curves))].append("mutated by the caller")   # a caller's change must not reach the next read
    assert seen(a) == seen(b) == table() and seen(a)
  assert sum(map(len, table().values())) > 30

RACE = """
import sys, tinybo as tb
space = tb.Space({"x": tb.Float(-5.0, 5.0), "n": tb.Int(1, 8), "c": tb.Categorical(["a", "b"]), "k": 3})
opt = tb.Optimizer(space, strategy="random", storage=sys.argv[1], name="race", stopping=tb.MedianStopping(warmup_trials=0))
tid, me = int(sys.argv[2]), sys.argv[3]
for step in range(150):
  try: opt.report(tid, float(step), step); print(step, flush=True)
  except ValueError as e: assert "report each step once, in increasing order" in str(e), e
"""

def test_two_processes_reporting_for_one_trial_cannot_interleave(tmp_path):
  db = tmp_path / "race.db"
  t = tb.Optimizer(SPACE, strategy="random", storage=db, name="race").suggest()
  env = {**os.environ, "PYTHONPATH": str(ROOT)}
  procs = [subprocess.Popen([sys.executable, "-c", RACE, str(db), str(t.id), str(i)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
           for i in range(2)]
  acked = [sorted(int(x) for x in p.communicate(timeout=120)[0].split()) for p in procs]
  assert all(p.returncode == 0 for p in procs)
  rows = sqlite3.connect(db).execute("SELECT step FROM reports WHERE trial = ? ORDER BY rowid", (t.id,)).fetchall()
  steps = [r[0] for r in rows]
  assert steps == sorted(set(steps))                      # in commit order, every step higher than the one before
  assert sorted(acked[0] + acked[1]) == steps             # each stored step acknowledged to exactly one process
  assert acked[0] and acked[1] or len(steps) == 150       # (one process may win every race; then it wrote them all)

CRASH = """
import sys, time, tinybo as tb
space = tb.Space({"x": tb.Float(-5.0, 5.0), "n": tb.Int(1, 8), "c": tb.Categorical(["a", "b"]), "k": 3})
opt = tb.Optimizer(space, strategy="random", storage=sys.argv[1], name="crash", stopping=tb.MedianStopping(warmup_trials=2))
with open(sys.argv[2], "a") as side:
  while True:
    t = opt.suggest()
    for step in range(1, 40):
      v = abs(t.params["x"]) + 3.0 / step
      stop = opt.report(t, v, step)            # committed: from here on this report must survive anything
      side.write(f"{t.id} {step} {v!r} {int(stop)}\\n"); side.flush()
      time.sleep(0.001)
      if stop: opt.stop(t); break
    else: opt.observe(t, v)
"""

def test_sigkill_mid_trial_loses_no_acknowledged_report(tmp_path):
  db, side, kills = tmp_path / "crash.db", tmp_path / "acked.txt", 3
  env = {**os.environ, "PYTHONPATH": str(ROOT)}
  rng = random.Random(0)
  lines = lambda: side.read_text().splitlines() if side.exists() else []
  for _ in range(kills):
    n0 = len(lines())
    p = subprocess.Popen([sys.executable, "-c", CRASH, str(db), str(side)], cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while len(lines()) < n0 + 60 and p.poll() is None and time.monotonic() < deadline: time.sleep(0.01)
    time.sleep(rng.uniform(0, 0.05))   # the kill lands anywhere in the report / stop / observe / suggest loop
    assert p.poll() is None, "the worker died on its own"
    os.kill(p.pid, signal.SIGKILL)
    assert p.wait() == -signal.SIGKILL
  assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
  opt = tb.Optimizer(SPACE, strategy="random", storage=db, name="crash")
  curves = {tid: {r.step: (r.value, r.stop) for r in c} for tid, c in opt.curves.items()}
  acked = [line.split() for line in lines()]
  lost = [a for a in acked if curves.get(int(a[0]), {}).get(int(a[1])) != (float(a[2]), bool(int(a[3])))]
  assert lost == [] and len(acked) >= 60 * kills
  assert any(bool(int(a[3])) for a in acked) and sum(t.state == TrialState.STOPPED for t in opt.trials) >= 1
  pending = [t for t in opt.trials if t.state == TrialState.PENDING]
  assert len(pending) <= kills and all(t.last_step == max(curves[t.id]) for t in pending if t.id in curves)
  for t in pending:   # a dead worker's trial ends at its last durable report, or fails when it never reported
    ended = opt.stop(t) if t.id in curves else opt.fail(t)
    assert ended.state == TrialState.FAILED or ended.value == curves[t.id][t.last_step][0]

# ***** resume: reopened studies decide exactly the same way *****

def scenario(seed=0, n_trials=10, max_step=9, concurrency=3):
  """A fixed interleaving of reports of crossing curves, as (trial index, step, value) and (trial index, "done")."""
  return interleaved_curves(seed, n_trials, max_step, concurrency)

RULE_MAKERS = {"median": lambda: tb.MedianStopping(warmup_trials=2), "asha": lambda: tb.ASHA(min_step=1, max_step=9),
               "hyperband": lambda: tb.Hyperband(min_step=1, max_step=9)}

def replay(events, open_opt, reopen_every=None):
  """Play the events (skipping those of trials already ended) through an Optimizer from open_opt(); with reopen_every,
  close it and open a new one (new storage handle, new rule object) every that many events. Returns the verdicts."""
  opt, out = open_opt(), []
  for i, ev in enumerate(events):
    if reopen_every and i and i % reopen_every == 0:
      if hasattr(opt.storage, "close"): opt.storage.close()
      opt = open_opt()
    ts = opt.trials
    while len(ts) <= ev[0]: opt.suggest(); ts = opt.trials
    t = ts[ev[0]]
    if t.state != TrialState.PENDING: continue
    if ev[1] == "done": opt.observe(t.id, opt.curves[t.id][-1].value); continue
    stop = opt.report(t.id, ev[2], ev[1])
    out.append((ev[0], ev[1], stop))
    if stop: opt.stop(t.id)
  return out

RESUME_CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
import tinybo as tb
from test_reports import RULE_MAKERS, SPACE, replay, scenario
events = scenario()[:int(sys.argv[4])]
print(json.dumps(replay(events, lambda: tb.Optimizer(SPACE, strategy="random", storage=sys.argv[2], name="r", stopping=RULE_MAKERS[sys.argv[3]]()))))
"""

@pytest.mark.parametrize("rule", list(RULE_MAKERS))
def test_resume_continues_the_same_decisions(rule, tmp_path):
  events = scenario()
  make = lambda storage: (lambda: tb.Optimizer(SPACE, strategy="random", storage=storage, name="r", stopping=RULE_MAKERS[rule]()))
  straight = replay(events, make(InMemoryStorage()))
  assert any(s for *_, s in straight) and not all(s for *_, s in straight)
  assert replay(events, make(tmp_path / "a.db")) == straight
  assert replay(events, make(tmp_path / "b.db"), reopen_every=5) == straight
  mem = InMemoryStorage()   # reopening an in-memory study: a new Optimizer on the same storage object
  assert replay(events, make(mem), reopen_every=7) == straight
  # the first half in another process, killed off by its end; the second half here, on the same file
  half = len(events) // 2
  env = {**os.environ, "PYTHONPATH": str(ROOT)}
  p = subprocess.run([sys.executable, "-c", RESUME_CHILD, str(ROOT / "tests"), str(tmp_path / "c.db"), rule, str(half)],
                     cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
  assert p.returncode == 0, p.stderr
  first = [tuple(v) for v in json.loads(p.stdout)]
  assert first + replay(events[half:], make(tmp_path / "c.db")) == straight

# ***** old study files *****

def test_a_study_file_from_before_reports_opens_and_gains_the_table(tmp_path):
  db = tmp_path / "old.db"
  opt = tb.Optimizer(SPACE, strategy="random", storage=db, name="old")
  opt.observe(opt.suggest(), 1.0)
  opt.storage.close()
  with sqlite3.connect(db) as c: c.execute("DROP TABLE reports")   # the schema before reports existed
  ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True)              # a reader that cannot create it still reads the trials
  store = SQLiteStorage.__new__(SQLiteStorage)
  store.__setstate__({})   # no __init__ (it would create the table), but a thread-local slot as unpickling gives
  assert store._last_steps(ro, "old") == {} and store._reports(ro, "old") == {}
  again = tb.Optimizer(SPACE, strategy="random", storage=db, name="old", stopping=tb.MedianStopping())
  assert [(t.state, t.value, t.last_step) for t in again.trials] == [(TrialState.COMPLETE, 1.0, None)] and again.curves == {}
  t = again.suggest()
  assert again.report(t, 2.0, 1) is False and again.curves[t.id][0].value == 2.0

def test_reports_are_written_durably(tmp_path):
  db = tmp_path / "d.db"
  opt = tb.Optimizer(SPACE, strategy="random", storage=db)
  opt.report(opt.suggest(), 1.0, 1)
  c = opt.storage._conn()
  assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal" and c.execute("PRAGMA synchronous").fetchone()[0] == 2   # FULL
  fresh = sqlite3.connect(db)   # committed: another connection sees it at once
  assert fresh.execute("SELECT step, value, stop FROM reports").fetchall() == [(1, 1.0, 0)]

# ***** threads share a study: every report lands, ids and steps stay consistent *****

def test_threads_report_concurrently(tmp_path):
  opt = tb.Optimizer(SPACE, strategy="random", storage=tmp_path / "t.db", stopping=tb.ASHA(min_step=1, max_step=27))
  def objective(params, trial):
    for step in range(1, 10):
      if trial.report(curve(params, step), step): raise tb.StopTrial()
    return curve(params, 9)
  opt.optimize(objective, n_trials=16, n_jobs=4, progress=False)
  ts, curves = opt.trials, opt.curves
  assert len(ts) == 16 and all(t.state in (TrialState.COMPLETE, TrialState.STOPPED) for t in ts)
  assert all([r.step for r in curves[t.id]] == list(range(1, t.last_step + 1)) for t in ts)

# ***** the GP strategy with stopped trials (learning from their curves: tests/test_fidelity.py) *****

def test_gp_strategy_never_suggests_a_stopped_configuration_again():
  # 12 configurations; 6 complete (more than the 5-point design, so the GP-guided path runs), 4 stopped early
  space = tb.Space({"i": tb.Int(0, 5), "c": tb.Categorical(["a", "b"])})
  opt = tb.Optimizer(space, strategy=tb.GP(), seed=0)
  for k in range(10):
    t = opt.suggest()
    opt.report(t, float(t.params["i"]), 1)
    if k < 6: opt.observe(t, float(t.params["i"]))
    else: opt.stop(t)
  with warnings.catch_warnings():
    warnings.simplefilter("error")   # no fallback to random: the model ran
    rest = opt.suggest(2)
  keys = [space.key(t.params) for t in opt.trials]
  assert len(rest) == 2 and len(set(keys)) == 12                  # the last two are the two configurations left
  with pytest.raises(tb.SearchExhausted): opt.suggest()

def test_gp_without_curves_ignores_stopped_values_as_data():
  # GP(curves=False): a stopped trial with an absurd partial value must not move the GP's suggestion: the same suggestion
  # with or without it; the same value as a complete trial pulls the suggestion to it
  space = tb.Space({"x": tb.Float(0.0, 1.0)})
  def study(extra):
    opt = tb.Optimizer(space, strategy=tb.GP(curves=False), seed=3)
    for x in (0.1, 0.3, 0.5, 0.7, 0.9):
      opt.observe({"x": x}, (x - 0.62) ** 2)
    if extra == "stopped":
      t = opt.enqueue({"x": 0.2}); opt.suggest(); opt.report(t, -1.0, 1); opt.stop(t)
    if extra == "complete": opt.observe({"x": 0.2}, -1.0)
    return opt
  a, b, c = study(None), study("stopped"), study("complete")
  assert b.trials[-1].state == TrialState.STOPPED
  xa, xb, xc = (o.suggest().params["x"] for o in (a, b, c))
  assert xb == pytest.approx(xa, abs=1e-6) and abs(xa - 0.62) < 0.05 and abs(xc - 0.2) < 0.05
