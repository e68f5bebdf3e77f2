"""Issue 15: what an attacker or a hurried user found. Read commands that never write, CSV formulas and terminal escapes
neutralized, paths that are never URIs, foreign trials refused, overflowing and interrupted objectives, definitions that
would crash later, one-line errors on crafted files, and the small CLI slips. Each test failed on the code before the fix."""
import csv
import io
import json
import logging
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

import tinybo as tb
from tinybo.cli import main
from tinybo.optimizer import TrialFailedWarning
from tinybo.storage import InMemoryStorage, SQLiteStorage
from tinybo.trial import TrialState

ROOT = Path(__file__).resolve().parent.parent
SPACE = tb.Space({"x": tb.Float(-5.0, 5.0), "c": tb.Categorical(["a", "b"])})

def cli(capsys, *argv) -> tuple[int, str, str]:
  rc = main([str(a) for a in argv])
  out = capsys.readouterr()
  return rc, out.out, out.err

def one_line_error(capsys, *argv) -> str:
  rc, out, err = cli(capsys, *argv)
  assert rc == 1 and out == "" and err.startswith("tinybo: error: ") and err.count("\n") == 1, (rc, out, err)
  return err

def closed_study(path: Path, n: int = 3, space: tb.Space = SPACE, values=None) -> tb.Optimizer:
  """A study with n complete trials whose connection is closed again (no -wal/-shm left, as after its process ended)."""
  opt = tb.Optimizer(space, strategy="random", storage=path, name="s")
  for i in range(n): opt.observe(opt.suggest(), float(i) if values is None else values[i])
  opt.storage.close()
  return opt

# ***** 3: looking at a study never writes, never creates a file, never locks its owner out *****

def test_read_commands_create_no_file(tmp_path, capsys):
  db = tmp_path / "s.db"
  closed_study(db)
  assert sorted(os.listdir(tmp_path)) == ["s.db"]
  before = db.read_bytes()
  for argv in (["show", db], ["export", db, "--format", "csv"], ["export", db, "--format", "json"]):
    rc, out, _ = cli(capsys, *argv)
    assert rc == 0 and out
    assert sorted(os.listdir(tmp_path)) == ["s.db"], argv     # no -wal, no -shm
  rc, _, _ = cli(capsys, "plot", db, "--kind", "history", "-o", tmp_path / "plots" / "h.png")
  assert rc == 0 and sorted(os.listdir(tmp_path)) == ["plots", "s.db"] and db.read_bytes() == before

def test_read_only_storage_refuses_every_write(tmp_path):
  db = tmp_path / "s.db"
  closed_study(db)
  ro = tb.Optimizer(SPACE, strategy="random", storage=SQLiteStorage(db, readonly=True), name="s", seed=None)
  before = ro.trials
  for call in (lambda: ro.suggest(), lambda: ro.observe(before[0].id, 1.0), lambda: ro.observe({"x": 0.0, "c": "a"}, 1.0),
               lambda: ro.fail_pending(), lambda: ro.enqueue({"x": 0.0, "c": "a"})):
    with pytest.raises(ValueError, match="was opened read-only; open it with SQLiteStorage\\(path\\) to change the study"): call()
  with pytest.raises(ValueError, match="no study 'other'"):
    tb.Optimizer(SPACE, strategy="random", storage=SQLiteStorage(db, readonly=True), name="other")
  assert ro.trials == before and sorted(os.listdir(tmp_path)) == ["s.db"]

OWNER = """
import sys, tinybo as tb
opt = tb.Optimizer({"x": tb.Float(0, 1)}, strategy="random", storage=sys.argv[1], name="s")
for line in sys.stdin:
  if line.strip() == "add": opt.observe(opt.suggest(), 1.0); print("added", len(opt.trials), flush=True)
  if line.strip() == "close": opt.storage.close(); print("closed", flush=True)
"""

def as_user(uid: int, argv: list[str], home: str, **kw) -> subprocess.Popen:
  env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "DEV": "CPU", "HOME": home, "TINYBO_CACHE_DIR": "0",
         "MPLCONFIGDIR": os.path.join(home, f"mpl{uid}"), "XDG_CACHE_HOME": os.path.join(home, f"cache{uid}")}
  return subprocess.Popen(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", sys.executable, *argv], env=env, text=True,
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)

def owners(folder: str) -> dict[str, int]: return {f: os.stat(os.path.join(folder, f)).st_uid for f in os.listdir(folder)}

@pytest.mark.slow
@pytest.mark.parametrize("folder_mode, live", [(0o1777, False), (0o1777, True), (0o755, False), (0o755, True)],
                         ids=["sticky-closed", "sticky-live-writer", "private-closed", "private-live-writer"])
def test_another_user_reads_a_study_without_locking_its_owner_out(folder_mode, live):
  if os.geteuid() != 0 or not shutil.which("setpriv"):
    pytest.skip("needs root and setpriv to run the owner and the viewer as two other users (test_read_commands_create_no_file covers one user)")
  owner, viewer = 47001, 47002   # two unprivileged uids: root would bypass every permission check
  base = tempfile.mkdtemp(dir="/tmp")
  try:
    os.chmod(base, 0o755)
    home = os.path.join(base, "home"); os.mkdir(home); os.chmod(home, 0o1777)
    folder = os.path.join(base, "studies"); os.mkdir(folder)
    os.chown(folder, owner, owner); os.chmod(folder, folder_mode)
    db = os.path.join(folder, "s.db")
    own = as_user(owner, ["-c", OWNER, db], home)
    own.stdin.write("add\nadd\n" + ("" if live else "close\n")); own.stdin.flush()
    assert [own.stdout.readline().strip() for _ in range(2 if live else 3)][-1] == ("added 2" if live else "closed")
    files = owners(folder)
    assert set(files) == ({"s.db", "s.db-wal", "s.db-shm"} if live else {"s.db"}) and set(files.values()) == {owner}
    for argv in (["show", db], ["export", db, "--format", "json"]):
      p = as_user(viewer, ["-m", "tinybo.cli", *argv], home)
      out, err = p.communicate(timeout=120)
      assert p.returncode == 0, err
      assert ("2 trials, 2 complete" in out) if argv[0] == "show" else len(json.loads(out)["trials"]) == 2
      assert owners(folder) == files, argv                   # nothing created, nothing handed to the viewer
    own.stdin.write("add\n"); own.stdin.flush()
    assert own.stdout.readline().strip() == "added 3", own.stderr.read() if own.poll() is not None else ""
    own.stdin.close(); assert own.wait(60) == 0
  finally:
    shutil.rmtree(base, ignore_errors=True)

# ***** 4: CSV export neutralizes spreadsheet formulas; numbers stay numbers *****

def test_csv_export_neutralizes_formulas(tmp_path, capsys):
  evil = ['=HYPERLINK("http://x.example/?"&A1,"click")', "@SUM(1+1)*cmd|' /C calc'!A0", "+1+cmd", "-2+3", "\tcell", "\rcell", "-1.5", "plain"]
  space = tb.Space({"x": tb.Float(-5.0, 5.0), "c": tb.Categorical(evil)})
  db = tmp_path / "s.db"
  opt = tb.Optimizer(space, strategy="random", storage=db, name="s")
  for i, c in enumerate(evil): opt.observe({"x": -0.25 - 0.5 * i, "c": c}, -0.5 * i)
  rc, out, _ = cli(capsys, "export", db, "--format", "csv")
  rows = list(csv.DictReader(io.StringIO(out, newline="")))
  assert rc == 0 and [r["c"] for r in rows] == ["'" + c for c in evil[:6]] + ["-1.5", "plain"]
  assert [float(r["x"]) for r in rows] == [-0.25 - 0.5 * i for i in range(8)] and [float(r["value"]) for r in rows] == [-0.5 * i for i in range(8)]
  assert all(not r[k].startswith(("=", "+", "@", "\t", "\r")) for r in rows for k in r)
  rc, out, _ = cli(capsys, "export", db, "--format", "json")    # JSON is data, not a spreadsheet: values unchanged
  assert [t["params"]["c"] for t in json.loads(out)["trials"]] == evil

# ***** 5: show escapes terminal control characters from the study file *****

def test_show_escapes_control_characters(tmp_path, capsys):
  fake = "\x1b[2J\x1b[H\nbest: trial 0, value -999\u202e"
  db = tmp_path / "s.db"
  opt = tb.Optimizer({"x": tb.Float(0.0, 1.0), "c\x1b[31m": tb.Categorical(["ok", fake])}, strategy="random", storage=db, name="s\x07")
  opt.observe({"x": 0.5, "c\x1b[31m": fake}, 1.0)
  opt.observe({"x": 0.25, "c\x1b[31m": "ok"}, 2.0)
  rc, out, _ = cli(capsys, "show", db)
  assert rc == 0 and "\x1b" not in out and "\x07" not in out and "\u202e" not in out
  best = [line for line in out.splitlines() if line.startswith("best:")]
  assert best == [r"best: trial 1, value 1: x=0.5, c\x1b[31m=\x1b[2J\x1b[H\nbest: trial 0, value -999\u202e"]
  assert out.startswith(r"study 's\x07' (minimize): 2 trials")
  err = one_line_error(capsys, "show", db, "--name", "zz")       # names quoted in errors are escaped too
  assert r"it holds: s\x07" in err and "\x07" not in err

# ***** 6, 7: storage paths: never empty, never a URI *****

@pytest.mark.parametrize("path", ["", "   ", "sqlite:///"])
def test_empty_storage_path_is_an_error(tmp_path, monkeypatch, path):
  monkeypatch.chdir(tmp_path)
  with pytest.raises(ValueError, match="is an empty path; pass a file such as 'study.db', or storage=None for in-memory") as e:
    tb.Optimizer(SPACE, strategy="random", storage=path)
  assert "\n" not in str(e.value) and os.listdir(tmp_path) == []

def test_paths_are_file_paths_never_uris(tmp_path, monkeypatch, capsys):
  monkeypatch.chdir(tmp_path)
  closed_study(Path("runA.db"), 2)
  a_bytes = Path("runA.db").read_bytes()
  for name in ("run%41.db", "a#b.db", "we?ird.db", "x%2Fy.db"):
    opt = tb.Optimizer(SPACE, strategy="random", storage=name, name="s")
    assert opt.trials == []                                    # a new study, not runA.db's
    opt.observe(opt.suggest(), 7.0)
    opt.storage.close()
    rc, out, _ = cli(capsys, "show", name)
    assert rc == 0 and "study 's' (minimize): 1 trials" in out and "value 7" in out
  assert sorted(os.listdir(".")) == sorted(["runA.db", "run%41.db", "a#b.db", "we?ird.db", "x%2Fy.db"])   # no stray 'a', 'we'
  assert Path("runA.db").read_bytes() == a_bytes
  rc, out, _ = cli(capsys, "show", "runA.db")
  assert rc == 0 and "2 trials" in out
  # SQLAlchemy's prefix (as Optuna takes it) is accepted: sqlite:///rel.db is rel.db, sqlite:////abs.db is /abs.db
  assert SQLiteStorage("sqlite:///runA.db").path == "runA.db" and SQLiteStorage(f"sqlite:///{tmp_path}/runA.db").path == f"{tmp_path}/runA.db"

# ***** 8: a trial belongs to its study *****

def test_foreign_trial_is_an_error_naming_both_studies(tmp_path):
  a = tb.Optimizer(SPACE, strategy="random", storage=tmp_path / "a.db", name="a")
  b = tb.Optimizer(SPACE, strategy="random", storage=tmp_path / "b.db", name="b")
  c = tb.Optimizer(SPACE, strategy="random", storage=tmp_path / "a.db", name="c")   # same file, another study
  m1, m2 = (tb.Optimizer(SPACE, strategy="random", storage=InMemoryStorage()) for _ in range(2))
  for opt in (a, b, c, m1, m2): opt.suggest()
  ta, tm = a.suggest(), m1.suggest()
  where = os.path.realpath(tmp_path / "a.db")
  for other, t, src in ((b, ta, f"'a' in {where}"), (c, ta, f"'a' in {where}"), (m2, tm, "'study' in InMemoryStorage@")):
    before = other.trials
    for call in (lambda o=other, t=t: o.observe(t, 1.0), lambda o=other, t=t: o.fail(t), lambda o=other, t=t: o.requeue(t)):
      with pytest.raises(ValueError, match="belongs to study") as e: call()
      msg = str(e.value)
      assert "\n" not in msg and src in msg and f"not to this optimizer's study {other.study}" in msg and "record it with the optimizer" in msg
    assert other.trials == before
  assert [x.state for x in a.trials] == [TrialState.PENDING] * 2
  # the same (file, name) is the same study: another handle, through another path to the file, may finish the trial
  (tmp_path / "link").symlink_to(tmp_path)
  same = tb.Optimizer(SPACE, strategy="random", storage=tmp_path / "link" / "a.db", name="a")
  assert same.observe(ta, 2.0).value == 2.0 and a.trials[-1].value == 2.0 and same.trials == a.trials

# ***** 9: an objective that returns an int too large for a float *****

def test_overflowing_int_value_is_a_failed_trial_with_a_warning(tmp_path):
  opt = tb.Optimizer(SPACE, strategy="random", storage=tmp_path / "s.db")
  with pytest.warns(TrialFailedWarning, match="returned an int of 3170 bits \\(too large for a float\\); recorded as failed"):
    best = opt.optimize(lambda p: 3 ** 2000 if p["c"] == "a" else -(3 ** 2000) if p["x"] < 0 else 1.0, n_trials=12, progress=False)
  states = [t.state for t in opt.trials]
  assert len(states) == 12 and TrialState.PENDING not in states and TrialState.FAILED in states
  assert all(t.value is None for t in opt.trials if t.state == TrialState.FAILED) and (best is None or best.value == 1.0)
  t = opt.suggest()
  with pytest.warns(TrialFailedWarning): assert opt.observe(t, -(7 ** 5000)).state == TrialState.FAILED

# ***** 10: Ctrl-C during optimize(n_jobs=4) fails every running trial (and queues it again) *****

SIGINT_CHILD = """
import os, sys, time, tinybo as tb
opt = tb.Optimizer({"x": tb.Float(0, 1)}, strategy="random", storage=sys.argv[1], name="s")
def objective(p):
  with open(sys.argv[2], "a") as f: f.write("started\\n")
  time.sleep(60)
  return 1.0
opt.optimize(objective, n_trials=8, n_jobs=4, progress=False)
"""

def test_ctrl_c_with_threads_fails_and_queues_every_running_trial(tmp_path):
  db, marks = tmp_path / "s.db", tmp_path / "started.txt"
  p = subprocess.Popen([sys.executable, "-c", SIGINT_CHILD, str(db), str(marks)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                       stderr=subprocess.PIPE, text=True)
  deadline = time.monotonic() + 120
  while (not marks.exists() or len(marks.read_text().splitlines()) < 4) and time.monotonic() < deadline and p.poll() is None: time.sleep(0.05)
  assert p.poll() is None and len(marks.read_text().splitlines()) == 4
  p.send_signal(signal.SIGINT)
  err = p.communicate(timeout=60)[1]
  assert p.returncode != 0 and "KeyboardInterrupt" in err
  ts = tb.Optimizer({"x": tb.Float(0, 1)}, strategy="random", storage=db, name="s").trials
  # none left pending with the dead process: each failed, its configuration queued again for a resumed study
  assert len(ts) == 8 and [t.state for t in ts[:4]] == [TrialState.FAILED] * 4
  assert [(t.state, t.worker) for t in ts[4:]] == [(TrialState.PENDING, None)] * 4
  assert sorted(t.params["x"] for t in ts[4:]) == sorted(t.params["x"] for t in ts[:4])

@pytest.mark.parametrize("n_jobs", [1, 3])
def test_sigterm_fails_and_queues_every_running_trial_and_a_resumed_study_runs_them_first(tmp_path, n_jobs):
  # a scheduler preempting the job sends SIGTERM before it kills: the process died at once, its trials pending with a
  # dead worker until someone called fail_pending(); now they are failed and queued again, as after Ctrl-C
  db, marks = tmp_path / "s.db", tmp_path / "started.txt"
  child = SIGINT_CHILD.replace("n_jobs=4", f"n_jobs={n_jobs}") + "import signal; print(signal.getsignal(signal.SIGTERM))\n"
  child = child.replace("opt.optimize(", "try: opt.optimize(")
  child = child.replace("progress=False)", "progress=False)\nfinally: print('finally ran', flush=True)")
  p = subprocess.Popen([sys.executable, "-c", child, str(db), str(marks)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  deadline = time.monotonic() + 120
  while (not marks.exists() or len(marks.read_text().splitlines()) < n_jobs) and time.monotonic() < deadline and p.poll() is None: time.sleep(0.05)
  assert p.poll() is None and len(marks.read_text().splitlines()) == n_jobs
  p.send_signal(signal.SIGTERM)
  out, err = p.communicate(timeout=60)
  assert p.returncode != 0 and "tinybo.terminate.Terminated: SIGTERM" in err and "finally ran" in out   # the caller's cleanup ran
  opt = tb.Optimizer({"x": tb.Float(0, 1)}, strategy="random", storage=db, name="s")
  ts = opt.trials
  assert [t.state for t in ts] == [TrialState.FAILED] * n_jobs + [TrialState.PENDING] * n_jobs
  assert sorted(t.params["x"] for t in ts[n_jobs:]) == sorted(t.params["x"] for t in ts[:n_jobs]) and all(t.worker is None for t in ts[n_jobs:])
  ran = []
  opt.optimize(lambda p: ran.append(p["x"]) or 1.0, n_trials=n_jobs, progress=False)
  assert sorted(ran) == sorted(t.params["x"] for t in ts[:n_jobs])

def test_sigterm_handler_is_installed_only_during_optimize_and_never_over_another():
  import signal as sg
  earlier = sg.signal(sg.SIGTERM, sg.SIG_DFL)                          # (ray.init, in an earlier test, installs its own)
  try:
    seen = []
    opt = tb.Optimizer({"x": tb.Float(0, 1)}, strategy="random")
    opt.optimize(lambda p: seen.append(sg.getsignal(sg.SIGTERM)) or 1.0, n_trials=1, progress=False)
    assert seen[0] not in (sg.SIG_DFL, None) and sg.getsignal(sg.SIGTERM) is sg.SIG_DFL
    mine = lambda signum, frame: None                                   # noqa: E731 - a user's (or a framework's) own handler
    sg.signal(sg.SIGTERM, mine)
    opt.optimize(lambda p: seen.append(sg.getsignal(sg.SIGTERM)) or 1.0, n_trials=1, progress=False)
    assert seen[1] is mine and sg.getsignal(sg.SIGTERM) is mine
  finally: sg.signal(sg.SIGTERM, earlier)

# ***** 12: a half-written Optuna sampler state is rebuilt from the trials *****

def test_optuna_partial_shared_state_is_rebuilt_with_a_warning(caplog):
  optuna = pytest.importorskip("optuna")
  from tinybo.integrations.optuna import TinyBOSampler
  optuna.logging.set_verbosity(optuna.logging.WARNING)
  study = optuna.create_study(sampler=TinyBOSampler("random", seed=0))
  objective = lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2 + (t.suggest_categorical("c", ["a", "b"]) == "b")  # noqa: E731
  study.optimize(objective, n_trials=3)
  stuck = study.ask()                                                   # a RUNNING trial whose worker died mid-write
  study._storage.set_trial_system_attr(stuck._trial_id, "tinybo:proposal:0", '{"x": 0.25, "c')
  with caplog.at_level(logging.WARNING, logger="tinybo.integrations.optuna"):
    study.optimize(objective, n_trials=4)
    study.optimize(objective, n_trials=2)
  done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
  warned = [r.getMessage() for r in caplog.records if "unreadable" in r.getMessage()]
  assert len(done) == 9 and len(warned) == 1 and f"running trial {stuck.number}" in warned[0] and "JSONDecodeError" in warned[0]

# ***** 13: definitions that were accepted, then crashed or were silently misread *****

@pytest.mark.parametrize("make, exc, match", [
  (lambda: tb.Space({"c": tb.Categorical(["a", float("nan")])}), ValueError, "'c': choice nan can never be matched"),
  (lambda: tb.Space({"n": tb.Int(2**63 - 10, 2**63 + 10)}), ValueError, "'n': Int bounds must lie within ±\\(2\\*\\*52 - 1\\)"),
  # up to 2**53 was accepted, and above 2**52 every other value came back as its neighbour (v ± 0.5 is not a float there)
  (lambda: tb.Space({"n": tb.Int(2**52 + 5, 2**52 + 15)}), ValueError, "'n': Int bounds must lie within ±\\(2\\*\\*52 - 1\\)"),
  (lambda: tb.Space({"n": tb.Int(-(2**60), 0)}), ValueError, "'n': Int bounds must lie within"),
  (lambda: tb.Space({"x": tb.Float(0, 10**400)}), ValueError, "'x': Float bounds must be finite, got 0.0, inf"),
  (lambda: tb.Space({"x": tb.Float(-1e308, 1e308)}), ValueError, "'x': Float range 1e\\+308 - -1e\\+308 is beyond a float's range; rescale"),
  (lambda: tb.Space.from_dict({"x": {"type": "float", "min": 1e-3, "max": 1.0, "log": "false"}}), TypeError, "'x': log='false'; use True or False"),
  (lambda: tb.Space({"x": tb.Float(1.0, 2.0, log="yes")}), TypeError, "log='yes'"),
  (lambda: tb.Space.from_dict({"x": {"typ": "float", "min": 0, "max": 1}}), ValueError, "'x': unknown keys \\['typ'\\]"),
  (lambda: tb.Space.from_dict({"x": {"min": 0, "max": 1}}), ValueError, "'x': no 'type' in"),
  (lambda: tb.Space.from_dict({"x": {"values": ["a", "b"]}}), ValueError, "'x': no 'type' in"),
  (lambda: tb.Space({"x": tb.Float}), TypeError, "'x': Float is the class; give an instance such as Float\\(low, high\\)"),
  (lambda: tb.Space({"c": tb.Categorical}), TypeError, "'c': Categorical is the class"),
], ids=["nan-choice", "int64-overflow", "int-beyond-2**52", "int-just-beyond-2**52", "float-bound-overflow", "float-range-overflow",
        "log-string-false", "log-string",
        "misspelt-type", "missing-type", "missing-type-categorical", "Float-class", "Categorical-class"])
def test_bad_definition_is_a_clear_error_at_definition(make, exc, match):
  with pytest.raises(exc, match=match) as e: make()
  assert "\n" not in str(e.value)

def test_good_definitions_still_work():
  s = tb.Space.from_dict({"x": {"type": "float", "min": 1e-3, "max": 1.0, "log": False}, "cfg": {"betas": [0.9, 0.99]},
                          "n": {"type": "int", "min": 0, "max": 2**52 - 1}})
  assert s.names == ["x", "n"] and s.constants == {"cfg": {"betas": [0.9, 0.99]}}   # a dict with none of the keys stays a constant
  assert tb.Space({"c": tb.Categorical(["a", float("inf"), None])}).key({"c": float("inf")})

# ***** 14: one-line errors instead of tracebacks *****

CRAFTED = {
  "space-without-params": ("UPDATE studies SET space = ?", '{"order": ["x"]}', "has an unreadable space \\(KeyError: 'params'\\)"),
  "space-params-a-list": ("UPDATE studies SET space = ?", '{"params": [1], "constants": {}, "order": []}',
                          "has an unreadable space \\(AttributeError"),
  "space-deeply-nested": ("UPDATE studies SET space = ?", "[" * 100_000 + "]" * 100_000, "has an unreadable space \\(RecursionError"),
  "space-huge-bound": ("UPDATE studies SET space = ?", json.dumps({"params": {"x": {"type": "float", "min": 0, "max": 10**400}}, "constants": {},
                                                                   "order": ["x"]}), "has an unreadable space .*Float bounds must be finite"),
  "params-deeply-nested": ("UPDATE trials SET params = ?", "[" * 100_000 + "]" * 100_000,
                           "trial 1 is not a valid tinybo trial \\(params are not JSON: RecursionError"),
  "params-a-list": ("UPDATE trials SET params = ?", "[1]", "trial 1 is not a valid tinybo trial \\(params are a list, not a JSON object\\)"),
  "value-text": ("UPDATE trials SET value = ?", "abc", "trial 1 is not a valid tinybo trial \\(value 'abc' is not a number\\)"),
  "state-unknown": ("UPDATE trials SET state = ?", "weird", "state 'weird' is not one of pending, complete, failed"),
  "no-worker-column": ("ALTER TABLE trials DROP COLUMN worker", None, "is not a usable tinybo study file \\(no such column: worker\\)"),
  "direction-unknown": ("UPDATE studies SET direction = ?", "sideways", "study row 's' is not a valid tinybo study"),
}

@pytest.mark.parametrize("case", list(CRAFTED))
@pytest.mark.parametrize("cmd", [["show"], ["export", "--format", "csv"], ["export", "--format", "json"]], ids=["show", "csv", "json"])
def test_crafted_database_is_a_one_line_error(tmp_path, capsys, case, cmd):
  db = tmp_path / "s.db"
  closed_study(db)
  sql, arg, match = CRAFTED[case]
  with sqlite3.connect(db) as c: c.execute(sql, () if arg is None else (arg,))
  err = one_line_error(capsys, cmd[0], db, *cmd[1:])
  assert re.search(match, err) and "the file is damaged or was not written by tinybo" in err, err

def test_impossible_timestamp_is_exported_as_a_number(tmp_path, capsys):
  db = tmp_path / "s.db"
  closed_study(db, 1)
  with sqlite3.connect(db) as c: c.execute("UPDATE trials SET created = 1e300, finished = -1e300")
  rc, out, _ = cli(capsys, "export", db, "--format", "csv")
  row = next(csv.DictReader(io.StringIO(out)))
  assert rc == 0 and row["created"] == "1e+300" and row["finished"] == "-1e+300"   # a number, so no apostrophe
  rc, out, _ = cli(capsys, "export", db, "--format", "json")
  assert rc == 0 and json.loads(out)["trials"][0]["created"] == "1e+300"

def test_locked_study_file_is_still_shown_not_called_foreign(tmp_path, capsys):
  db = tmp_path / "s.db"
  closed_study(db, 2)
  holder = sqlite3.connect(db, isolation_level=None)      # a process holding an exclusive lock (locking_mode=EXCLUSIVE)
  holder.execute("PRAGMA locking_mode = EXCLUSIVE"); holder.execute("BEGIN EXCLUSIVE")
  holder.execute("UPDATE trials SET value = 99")         # not committed: must not be shown
  try:
    t0 = time.monotonic()
    rc, out, err = cli(capsys, "show", db)
    assert rc == 0 and "2 trials, 2 complete" in out and "value 0:" in out and not re.search(r"complete +99 ", out) and time.monotonic() - t0 < 5, err
  finally: holder.execute("ROLLBACK"); holder.close()

def test_show_does_not_wait_behind_a_writer(tmp_path, capsys):
  db = tmp_path / "s.db"
  opt = closed_study(db, 2)
  opt.suggest()                                           # the study is live: -wal and -shm exist
  holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
  holder.execute("BEGIN IMMEDIATE"); holder.execute("UPDATE trials SET value = 99")   # a writer in the middle of a transaction
  release = threading.Timer(4.0, lambda: (holder.execute("ROLLBACK"), holder.close()))
  release.start()
  t0 = time.monotonic()
  rc, out, err = cli(capsys, "show", db)
  took = time.monotonic() - t0
  release.join()
  assert rc == 0 and "3 trials, 2 complete, 0 stopped, 1 pending" in out and not re.search(r"complete +99 ", out) and took < 2.0, (took, err)

def test_export_into_a_missing_folder_is_a_one_line_error(tmp_path, capsys):
  db = tmp_path / "s.db"
  closed_study(db)
  err = one_line_error(capsys, "export", db, "-o", tmp_path / "missing" / "t.csv")
  assert f"cannot write '{tmp_path / 'missing' / 't.csv'}' (No such file or directory); create its folder first" in err

def test_api_storage_that_is_a_folder_or_not_a_database(tmp_path):
  text = tmp_path / "notes.txt"
  text.write_text("my notes\n")
  for storage, match in [(tmp_path, f"storage '{tmp_path}' is a folder; pass a file inside it, such as '{tmp_path / 'study.db'}'"),
                         (text, f"'{text}' is not a tinybo study file \\(file is not a database\\); pass the .db file")]:
    with pytest.raises(ValueError, match=match) as e: tb.Optimizer(SPACE, strategy="random", storage=storage)
    assert "\n" not in str(e.value)
  assert text.read_text() == "my notes\n" and sorted(os.listdir(tmp_path)) == ["notes.txt"]

def test_api_class_instead_of_instance_and_bad_seed():
  for strategy in (tb.GP, tb.Random, tb.Grid):
    with pytest.raises(TypeError, match=f"strategy={strategy.__name__} is a class; pass an instance such as {strategy.__name__}\\(\\)"):
      tb.Optimizer(SPACE, strategy=strategy)
  with pytest.raises(TypeError, match="Random\\(seed='a'\\); use an int or None"): tb.Random(seed="a")
  with pytest.raises(TypeError, match="seed=1.5; use an int"): tb.Optimizer(SPACE, strategy="random", seed=1.5)
  with pytest.raises(TypeError, match="seed=36893488147419103232; use an int \\(within ±2\\*\\*63\\)"):
    tb.Optimizer(SPACE, strategy="random", seed=2**65)

def test_reordered_space_says_so(tmp_path):
  tb.Optimizer({"x": tb.Float(0, 1), "y": tb.Int(0, 3), "k": 1}, strategy="random", storage=tmp_path / "s.db").observe({"x": 0.5, "y": 1}, 1.0)
  with pytest.raises(ValueError, match="lists its parameters in another order \\(x, y, k, not y, x, k\\); list them in the stored order"):
    tb.Optimizer({"y": tb.Int(0, 3), "x": tb.Float(0, 1), "k": 1}, strategy="random", storage=tmp_path / "s.db")
  with pytest.raises(ValueError, match="differs in constants"):
    tb.Optimizer({"x": tb.Float(0, 1), "y": tb.Int(0, 3), "k": 2}, strategy="random", storage=tmp_path / "s.db")

@pytest.mark.parametrize("storage", ["sqlite", "memory"])
def test_resume_with_a_dict_constant_or_condition_written_in_another_order(tmp_path, storage):
  # the same study: a dict constant's keys and a condition's parents and values in another order do not change the space
  from tinybo.storage import InMemoryStorage
  where = tmp_path / "s.db" if storage == "sqlite" else InMemoryStorage()
  def space(keys, parents, values):
    cfg = {k: {"k1": 1, "k2": [1, 2]}[k] for k in keys}
    when = {q: {"opt": values, "n": [1, 2]}[q] for q in parents}
    return {"x": tb.Float(0, 1), "opt": tb.Categorical(["a", "b", "c"]), "n": tb.Int(0, 3), "y": tb.Int(0, 3, when=when), "cfg": cfg}
  first = space(["k1", "k2"], ["opt", "n"], ["a", "b"])
  opt = tb.Optimizer(first, strategy="random", storage=where, name="s", seed=0)
  for _ in range(3): opt.observe(opt.suggest(), 1.0)
  again = space(["k2", "k1"], ["n", "opt"], ["b", "a"])
  assert tb.Space(again) == tb.Space(first) and hash(tb.Space(again)) == hash(tb.Space(first))
  assert tb.Optimizer(again, strategy="random", storage=where, name="s", seed=0).trials == opt.trials
  # a constant list in another order, or another condition, is another space, and says which part differs
  with pytest.raises(ValueError, match="differs in constants"):
    tb.Optimizer({**first, "cfg": {"k1": 1, "k2": [2, 1]}}, strategy="random", storage=where, name="s")
  with pytest.raises(ValueError, match="differs in y"):
    tb.Optimizer(space(["k1", "k2"], ["opt", "n"], ["a", "c"]), strategy="random", storage=where, name="s")
  # Categorical choices in another order encode differently: another space
  assert tb.Space({**first, "opt": tb.Categorical(["b", "a", "c"])}) != tb.Space(first)

# ***** 14: seed=None draws a random seed, recorded in the study *****

def test_seed_none_draws_a_seed_and_records_it(tmp_path):
  a = tb.Optimizer(SPACE, strategy="random", seed=None, storage=tmp_path / "s.db")
  b = tb.Optimizer(SPACE, strategy="random", seed=None, storage=tmp_path / "t.db")
  assert isinstance(a.seed, int) and a.seed != b.seed                        # 1 in 2**31 to collide
  first = [a.suggest().params for _ in range(3)]
  again = tb.Optimizer(SPACE, strategy="random", seed=None, storage=tmp_path / "s.db")
  assert again.seed == a.seed == tb.Optimizer(SPACE, strategy="random", seed=a.seed, storage=tmp_path / "s.db").seed
  fresh = tb.Optimizer(SPACE, strategy="random", seed=a.seed)                # the recorded seed replays the study
  assert [fresh.suggest().params for _ in range(3)] == first and again.suggest().params == fresh.suggest().params
  before = again.trials
  with pytest.raises(ValueError, match=f"was created with seed={a.seed}, not {a.seed + 1}; pass seed={a.seed} or seed=None"):
    tb.Optimizer(SPACE, strategy="random", seed=a.seed + 1, storage=tmp_path / "s.db")
  assert again.trials == before
  m = InMemoryStorage()
  assert tb.Optimizer(SPACE, strategy="random", seed=None, storage=m).seed == tb.Optimizer(SPACE, strategy="random", seed=None, storage=m).seed

def test_seed_column_is_added_to_an_old_study_file(tmp_path, capsys):
  db = tmp_path / "old.db"
  with sqlite3.connect(db) as c:   # the schema before studies recorded a seed, with one trial
    c.executescript("""CREATE TABLE studies (name TEXT PRIMARY KEY, space TEXT NOT NULL, direction TEXT NOT NULL, created REAL NOT NULL);
      CREATE TABLE trials (id INTEGER PRIMARY KEY AUTOINCREMENT, study TEXT NOT NULL REFERENCES studies(name), params TEXT NOT NULL,
      state TEXT NOT NULL, value REAL, created REAL NOT NULL, finished REAL, worker TEXT);""")
    c.execute("INSERT INTO studies VALUES ('study', ?, 'minimize', 1.0)", (SPACE.to_json(),))
    c.execute("INSERT INTO trials (study, params, state, value, created, finished) VALUES ('study', ?, 'complete', 3.5, 1.0, 2.0)",
              (json.dumps({"x": 1.0, "c": "b"}),))
  rc, out, _ = cli(capsys, "show", db)                    # read-only: shown as it is, not migrated
  with sqlite3.connect(db) as c: columns = [r[1] for r in c.execute("PRAGMA table_info(studies)")]
  assert rc == 0 and "1 trials, 1 complete" in out and "seed" not in columns
  opt = tb.Optimizer(SPACE, strategy="random", seed=5, storage=db)
  assert [(t.params, t.value) for t in opt.trials] == [({"x": 1.0, "c": "b"}, 3.5)] and opt.seed == 5
  assert tb.Optimizer(SPACE, strategy="random", seed=None, storage=db).seed == 5
  with sqlite3.connect(db) as c: assert c.execute("SELECT seed FROM studies").fetchall() == [(5,)]

def test_two_processes_opening_an_old_study_file_at_once_both_add_the_seed_column(tmp_path):
  # workers started together on a file from before seeds: each saw no seed column, both ran ALTER TABLE, and the
  # second one's "duplicate column name: seed" was reported as a damaged file. Here the other process adds the column
  # between this one's check and its ALTER (found racing 4 processes: 1 in 8 starts failed)
  db = tmp_path / "old.db"
  with sqlite3.connect(db) as c:
    c.executescript("""CREATE TABLE studies (name TEXT PRIMARY KEY, space TEXT NOT NULL, direction TEXT NOT NULL, created REAL NOT NULL);
      CREATE TABLE trials (id INTEGER PRIMARY KEY AUTOINCREMENT, study TEXT NOT NULL REFERENCES studies(name), params TEXT NOT NULL,
      state TEXT NOT NULL, value REAL, created REAL NOT NULL, finished REAL, worker TEXT);""")
    c.execute("INSERT INTO studies VALUES ('study', ?, 'minimize', 1.0)", (SPACE.to_json(),))
  class Raced:
    def __init__(self, c): self.c = c
    def __getattr__(self, k): return getattr(self.c, k)
    def execute(self, sql, *args):
      rows = self.c.execute(sql, *args).fetchall()
      if sql.startswith("PRAGMA table_info(studies)"):
        with sqlite3.connect(db) as other: other.execute("ALTER TABLE studies ADD COLUMN seed INTEGER")
      return rows
  class RacedStorage(tb.storage.SQLiteStorage):
    def _create(self):
      real = self._conn
      self._conn = lambda: Raced(real())
      try: super()._create()
      finally: del self._conn
  opt = tb.Optimizer(SPACE, strategy="random", seed=5, storage=RacedStorage(db))
  assert opt.seed == 5 and tb.Optimizer(SPACE, strategy="random", seed=None, storage=db).seed == 5

# ***** 15: small slips *****

def test_plot_without_extension_reports_the_file_it_wrote(tmp_path, capsys):
  pytest.importorskip("matplotlib")
  db = tmp_path / "s.db"
  closed_study(db)
  rc, out, _ = cli(capsys, "plot", db, "--kind", "history", "-o", tmp_path / "out_noext")
  assert rc == 0 and out.strip() == f"wrote {tmp_path / 'out_noext.png'}" and (tmp_path / "out_noext.png").read_bytes()[:4] == b"\x89PNG"
  assert not (tmp_path / "out_noext").exists()

def test_show_last_zero_and_negative(tmp_path, capsys):
  db = tmp_path / "s.db"
  closed_study(db, 5)
  rc, out, _ = cli(capsys, "show", db, "--last", "0")
  lines = out.splitlines()
  assert rc == 0 and "(last 0 of 5 trials)" in out and lines[2].startswith("id") and lines[3].startswith("--") and lines[4].startswith("best:")
  rc, out, _ = cli(capsys, "show", db, "--last", "2")
  ids = [line.split()[0].lstrip("*") for line in out.splitlines()[4:-1]]
  assert rc == 0 and ids == ["4", "5"]
  err = one_line_error(capsys, "show", db, "--last", "-2")
  assert "--last -2: use an int >= 0" in err

def test_bench_writes_into_the_current_folder(tmp_path):
  before = sorted(os.listdir(ROOT / "benchmarks" / "results"))
  p = subprocess.run([sys.executable, "-m", "tinybo.cli", "bench", "--problems", "branin", "--strategies", "random", "--seeds", "1", "--budget", "3",
                      "--tag", "clitest"], cwd=tmp_path, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
  assert p.returncode == 0, p.stderr
  assert (tmp_path / "clitest.json").exists() and sorted(os.listdir(ROOT / "benchmarks" / "results")) == before
  assert json.loads((tmp_path / "clitest.json").read_text())["runs"][0]["problem"] == "branin"

def test_optimize_timeout_is_documented_as_not_stopping_a_running_objective():
  doc = tb.Optimizer.optimize.__doc__
  assert "cannot stop an objective that hangs" in doc and "bound each run inside the objective" in doc
  readme = (ROOT / "README.md").read_text()
  assert "cannot stop an objective that hangs" in readme and "one host" in readme and "NFS" in readme and "Ray Tune" in readme

# ***** audit 13: what a demanding user met through the public API *****

@pytest.mark.parametrize("rule", [tb.ASHA, tb.MedianStopping, tb.Hyperband, tb.ModelStopping])
def test_stopping_rule_class_instead_of_instance(rule):
  # the class has a should_stop attribute too: it was accepted, and every report then raised "missing 1 required positional argument"
  with pytest.raises(TypeError, match=f"stopping={rule.__name__} is a class; pass an instance such as {rule.__name__}\\(") as e:
    tb.Optimizer(SPACE, strategy="random", stopping=rule)
  assert "\n" not in str(e.value)

@pytest.mark.parametrize("objective", [None, 5, "train"])
def test_optimize_with_a_non_callable_objective_records_nothing(objective):
  # it ran n_trials trials, each failed with "'int' object is not callable": the study filled with failed trials
  opt = tb.Optimizer(SPACE, strategy="random")
  with pytest.raises(TypeError, match=f"objective={objective!r} is not callable; pass a function objective\\(params\\) -> float") as e:
    opt.optimize(objective, n_trials=3, progress=False)
  assert "\n" not in str(e.value) and opt.trials == []

def _observe_in_child(opt, value):   # a spawned process gets the Optimizer pickled, as multiprocessing does on macOS and Windows
  t = opt.suggest()
  opt.observe(t, value)

def test_an_optimizer_on_a_study_file_pickles_and_works_in_another_process(tmp_path):
  # pickling raised "cannot pickle '_thread.lock' object" (the optimizer's lock, the storage's per-thread connections)
  import multiprocessing
  import pickle
  opt = tb.Optimizer(SPACE, strategy="random", storage=tmp_path / "s.db")
  opt.observe(opt.suggest(), 1.0)
  copy = pickle.loads(pickle.dumps(opt))
  assert copy.study == opt.study and copy.seed == opt.seed and copy.trials == opt.trials
  assert copy.observe(copy.suggest(), 2.0).value == 2.0 and len(opt.trials) == 2   # the same study
  p = multiprocessing.get_context("spawn").Process(target=_observe_in_child, args=(opt, 3.0))
  p.start(); p.join(120)
  assert p.exitcode == 0 and [t.value for t in opt.trials] == [1.0, 2.0, 3.0]
  assert opt.suggest().id == 4                                # the parent's connection still works

def test_an_in_memory_optimizer_refuses_to_pickle_in_one_line():
  # a copy in another process would record its results where nobody sees them: say so, and how to share a study
  import copy
  import pickle
  opt = tb.Optimizer(SPACE, strategy="random")
  for call in (lambda: pickle.dumps(opt), lambda: copy.deepcopy(opt)):
    with pytest.raises(TypeError, match="an in-memory study cannot be pickled or copied: a copy would not share its trials; use "
                                        "storage='study.db'") as e: call()
    assert "\n" not in str(e.value)

@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_requeue_of_a_finished_trial_names_requeue_and_enqueue(tmp_path, kind):
  # it said "cannot fail it — suggest() a new trial instead": the user had called requeue, and wanted this configuration again
  opt = tb.Optimizer(SPACE, strategy="random", storage=None if kind == "memory" else tmp_path / "s.db")
  done = opt.observe(opt.suggest(), 1.0)
  stopped = opt.suggest(); opt.report(stopped, 2.0, 3); opt.stop(stopped)
  before = opt.trials
  for t, what in ((done, "complete \\(value 1.0\\)"), (stopped, "stopped \\(value 2.0 at step 3\\)")):
    with pytest.raises(ValueError, match=f"trial {t.id} is already {what}; cannot requeue it — enqueue\\(trial.params\\) to run its "
                                         "configuration again") as e: opt.requeue(t)
    assert "\n" not in str(e.value)
  assert opt.trials == before

@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_numbers_beyond_int64_or_float_are_read_as_what_they_mean(tmp_path, kind):
  # a SQLite study raised OverflowError "Python int too large to convert to SQLite INTEGER" for a trial id beyond int64,
  # and fail_pending/optimize raised "int too large to convert to float" for a huge int of seconds
  opt = tb.Optimizer(SPACE, strategy="random", storage=None if kind == "memory" else tmp_path / "s.db")
  t = opt.suggest()
  before = opt.trials
  for tid in (2**64, -(2**64)):
    for call in (lambda i: opt.observe(i, 1.0), opt.fail, opt.requeue, opt.stop, lambda i: opt.report(i, 1.0, 1), opt.should_stop):
      with pytest.raises(ValueError, match=f"no trial {tid} in study 'study'; ") as e: call(tid)
      assert "\n" not in str(e.value)
  assert opt.trials == before
  assert opt.fail_pending(older_than=10**400) == [] and opt.trials == before   # older than any trial can be: none
  assert opt.optimize(lambda p: 1.0, n_trials=1, timeout=10**400, progress=False).value == 1.0   # no deadline
  assert [x.state for x in opt.trials] == [TrialState.PENDING, TrialState.COMPLETE] and opt.trials[0].id == t.id

class _Returns:
  """A user strategy with a bug: suggest returns `out` (None: it forgot to return)."""
  def __init__(self, out): self.out = out
  def suggest(self, space, trials, n, *, seed, minimize): return self.out

@pytest.mark.parametrize("out, exc, match", [
  (None, TypeError, "strategy _Returns.suggest returned None \\(NoneType\\); return a list of params dicts, or raise tb.SearchExhausted"),
  ({"x": 0.5, "c": "a"}, TypeError, "returned \\{'x': 0.5, 'c': 'a'\\} \\(dict\\); return a list of params dicts"),
  ((p for p in [{"x": 0.5, "c": "a"}]), TypeError, "returned <generator object .* \\(generator\\); return a list"),
  ([{"x": 7.0, "c": "a"}], ValueError, "strategy _Returns suggested \\{'x': 7.0, 'c': 'a'\\}, which does not fit the space: parameter 'x': 7.0 is "
                                      "outside \\[-5.0, 5.0\\]"),
  ([{"x": 0.5}], ValueError, "strategy _Returns suggested \\{'x': 0.5\\}, which does not fit the space: missing parameter 'c'"),
], ids=["none", "one-dict", "generator", "outside", "missing"])
def test_a_user_strategy_that_returns_the_wrong_thing_is_named(out, exc, match):
  # None looked like an exhausted search (optimize() ran no trial and returned None); a dict or a generator raised
  # "unhashable type: 'slice'" or "not subscriptable"; a point outside the space said "give a value inside the bounds"
  opt = tb.Optimizer(SPACE, strategy=_Returns(out))
  for call in (opt.suggest, lambda: opt.optimize(lambda p: 1.0, n_trials=2, progress=False)):
    with pytest.raises(exc, match=match) as e: call()
    assert "\n" not in str(e.value)
  assert opt.trials == []

def test_optimize_with_an_async_objective_records_nothing():
  # every trial failed with "objective value <coroutine ...> is a coroutine" and "coroutine was never awaited"
  async def objective(params): return 1.0
  opt = tb.Optimizer(SPACE, strategy="random")
  with pytest.raises(TypeError, match="objective=<function .*objective at 0x.*> is an async function; optimize\\(\\) calls it from plain "
                                      "threads: pass a plain function, e.g. lambda params: asyncio.run\\(objective\\(params\\)\\)") as e:
    opt.optimize(objective, n_trials=2, progress=False)
  assert "\n" not in str(e.value) and opt.trials == []

# ***** session 22's review: a study file that follows a chdir, the queue and the reaper, a NaN report, a double requeue *****

def test_a_relative_study_path_is_the_file_it_named_when_created(tmp_path, monkeypatch):
  # it was opened again on each new connection (one per thread), against the working directory of that moment: after an
  # objective changed directory, a worker thread's writes went to a new empty 'study.db' there, and the trial was lost
  monkeypatch.chdir(tmp_path)
  opt = tb.Optimizer(SPACE, strategy="random", storage="study.db", seed=0)
  first = opt.suggest()
  run = tmp_path / "run"
  run.mkdir()
  os.chdir(run)   # as a training script does, per run
  errors: list[BaseException] = []
  def worker():
    try: opt.observe(first, 1.0); opt.observe(opt.suggest(), 2.0)
    except BaseException as e: errors.append(e)  # noqa: BLE001 - reported by the assertion below
  th = threading.Thread(target=worker)
  th.start(); th.join()
  assert errors == [] and list(run.iterdir()) == [], (errors, list(run.iterdir()))
  again = tb.Optimizer(SPACE, strategy="random", storage=str(tmp_path / "study.db"))
  assert [(t.state, t.value) for t in again.trials] == [(TrialState.COMPLETE, 1.0), (TrialState.COMPLETE, 2.0)]

def test_fail_pending_leaves_the_queue_and_ages_trials_from_when_a_worker_took_them(tmp_path):
  opt = tb.Optimizer(SPACE, strategy="random", storage=str(tmp_path / "s.db"), seed=0)
  taken = opt.suggest()
  queued = [opt.enqueue({"x": 0.5, "c": "a"}), opt.enqueue({"x": 1.5, "c": "b"})]
  time.sleep(1.2)
  claimed = opt.suggest()   # the first queued trial, taken now although queued a second ago
  assert claimed.id == queued[0].id and claimed.worker is not None
  assert [t.id for t in opt.fail_pending(older_than=1.0)] == [taken.id]   # the claimed one is young, the queued one not taken
  assert [t.id for t in opt.fail_pending()] == [claimed.id]
  left = {t.id: t for t in opt.trials}[queued[1].id]
  assert left.state == TrialState.PENDING and left.worker is None and opt.suggest().id == queued[1].id   # still handed out

def test_should_stop_says_stop_after_a_report_that_failed_the_trial():
  opt = tb.Optimizer(SPACE, strategy="random", seed=0)
  t = opt.suggest()
  with pytest.warns(TrialFailedWarning):
    assert opt.report(t, float("nan"), 1) is True
  assert opt.should_stop(t) is True   # it said False: the documented `if trial.should_stop(): raise StopTrial` kept training
  other = opt.suggest()
  assert opt.report(other, 1.0, 1) is False and opt.should_stop(other) is False

def test_requeueing_a_failed_trial_twice_queues_it_once(tmp_path):
  path = str(tmp_path / "s.db")
  opt = tb.Optimizer(SPACE, strategy="random", storage=path, seed=0)
  t = opt.suggest()
  again = opt.requeue(t)   # pending -> failed, and queued again
  second = tb.Optimizer(SPACE, strategy="random", storage=path).requeue(t.id)   # another process recovering from the same crash
  assert second.id == again.id and [u.id for u in opt.trials] == [t.id, again.id]
  opt.observe(opt.suggest(), 1.0)   # the copy runs and completes: requeueing the old one still names it
  assert opt.requeue(t).id == again.id and len(opt.trials) == 2

def test_requeueing_one_trial_at_once_from_four_handles_queues_it_once(tmp_path):
  # it read the trials, then failed and queued in separate writes: four workers recovering from one crash at the same
  # moment each saw no copy yet, and queued four (the check and the insert now share one transaction)
  for rep in range(4):
    path = tmp_path / f"s{rep}.db"
    t = tb.Optimizer(SPACE, strategy="random", storage=path).suggest()
    opts = [tb.Optimizer(SPACE, strategy="random", storage=path) for _ in range(4)]   # four handles: four connections
    if rep % 2: opts[0].fail(t)   # a failed trial, and (even reps) a pending one of a dead worker
    barrier, got = threading.Barrier(4), []
    def go(o, barrier=barrier, got=got, tid=t.id): barrier.wait(); got.append(o.requeue(tid).id)
    threads = [threading.Thread(target=go, args=(o,)) for o in opts]
    for th in threads: th.start()
    for th in threads: th.join()
    assert len(got) == 4 and len(set(got)) == 1 and [u.state for u in opts[0].trials] == [TrialState.FAILED, TrialState.PENDING]

def test_errors_name_what_each_method_takes(capsys, tmp_path):
  opt = tb.Optimizer(SPACE, strategy="random", seed=0)
  for method in (opt.fail, opt.requeue):
    with pytest.raises(TypeError, match=r"pass the Trial from suggest\(\) or its \.id$"): method({"x": 0.5, "c": "a"})
  with pytest.raises(TypeError, match="or a params dict"): opt.observe([1], 1.0)
  with pytest.raises(ValueError, match=r"observe also takes a params dict"): opt.stop(99)
  # plot to a path that cannot be written: one line, as export says it
  db = str(tmp_path / "p.db")
  p = tb.Optimizer(SPACE, strategy="random", storage=db, seed=0)
  for _ in range(4): p.observe(p.suggest(), 1.0)
  p.storage.close()
  (tmp_path / "file").write_text("")
  assert "cannot write" in one_line_error(capsys, "plot", db, "--kind", "history", "-o", tmp_path / "file" / "x.png")
  empty = str(tmp_path / "e.db")
  tb.Optimizer(SPACE, strategy="random", storage=empty).storage.close()
  assert "pass --x and --y" in one_line_error(capsys, "plot", empty, "--kind", "heatmap")

def _unwritable(folder):
  """Make `folder` refuse new files, or skip: a mode does not stop root, an immutable attribute (chattr +i) does."""
  if os.geteuid() != 0:
    folder.chmod(0o555)
    return lambda: folder.chmod(0o755)
  if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0: pytest.skip("root without chattr +i")
  return lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)

def test_a_study_in_a_folder_that_cannot_be_written_says_so(tmp_path):
  # a new study, and an existing one (its -wal and -shm files cannot be created), in a folder without write permission:
  # the error said the file was "damaged or not written by tinybo"
  folder = tmp_path / "shared"
  folder.mkdir()
  opt = tb.Optimizer(SPACE, strategy="random", storage=folder / "s.db")
  opt.observe({"x": 0.5, "c": "a"}, 1.0)
  opt.storage.close()   # the last connection: SQLite removes the -wal and -shm files
  restore = _unwritable(folder)
  try:
    for db in (folder / "s.db", folder / "new.db"):
      with pytest.raises(ValueError, match=f"'{db}' cannot be opened for writing \\(unable to open database file\\): SQLite creates it and its "
                         f"-wal and -shm files in '{folder}', so check that folder's permissions; to only read a study") as e:
        tb.Optimizer(SPACE, strategy="random", storage=db)
      assert "damaged" not in str(e.value) and "\n" not in str(e.value)
    assert [t.value for t in tb.storage.SQLiteStorage(folder / "s.db", readonly=True).trials("study")] == [1.0]
  finally: restore()
