"""The `tinybo` command line on a real SQLite study: show, export, plot, bench, and one-line errors."""
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import tinybo as tb
from tinybo.cli import main

ROOT = Path(__file__).resolve().parent.parent

@pytest.fixture(scope="module")
def db(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("cli") / "study.db")
  space = tb.Space({"lr": tb.Float(1e-4, 1e-1, log=True), "units": tb.Int(8, 64), "act": tb.Categorical(["relu", "gelu"]), "epochs": 3})
  opt = tb.Optimizer(space, strategy="random", direction="maximize", storage=path, name="mlp")
  opt.optimize(lambda p: -abs(p["units"] - 32) - 10 * abs(p["lr"] - 0.01), n_trials=8, progress=False)
  opt.fail(opt.suggest())
  opt.suggest()                                         # left pending
  tb.Optimizer({"x": tb.Float(0, 1)}, strategy="random", storage=path, name="other").observe({"x": 0.5}, 1.0)
  return path

def run(capsys, *argv) -> tuple[int, str, str]:
  rc = main(list(argv))
  out = capsys.readouterr()
  return rc, out.out, out.err

def test_show_table_and_best(db, capsys):
  rc, out, _ = run(capsys, "show", db, "--name", "mlp")
  best = tb.Optimizer(tb.Space.from_json(_space_json(db, "mlp")), strategy="random", direction="maximize", storage=db, name="mlp").best
  assert rc == 0
  assert "study 'mlp' (maximize): 10 trials, 8 complete, 0 stopped, 1 pending, 1 failed" in out
  assert "constants: epochs=3" in out and "pending" in out and "failed" in out
  assert f"best: trial {best.id}, value {best.value:.6g}" in out and f"*{best.id} " in out
  rc, out, _ = run(capsys, "show", db)                     # no --name: every study in the file
  assert rc == 0 and "study 'mlp'" in out and "study 'other'" in out

def test_show_aligns_wide_and_combining_characters_by_their_display_width(tmp_path, capsys):
  # len() counted 学 and the full-width Ａ as one column each (a terminal shows two) and the accent of a decomposed é as
  # one (it shows none): the columns after such a name or value were shifted. Expected: the table as a terminal lays it
  # out, written by hand
  path = str(tmp_path / "w.db")
  opt = tb.Optimizer({"模型": tb.Categorical(["学习率", "cafe\u0301", "ＡＢ"]), "x": tb.Int(1, 9)}, strategy="random", storage=path, name="w")
  for v, x, value in (("学习率", 3, 1.0), ("cafe\u0301", 4, 2.0), ("ＡＢ", 5, 0.5)): opt.observe({"模型": v, "x": x}, value)
  rc, out, _ = run(capsys, "show", path)
  assert rc == 0 and out.splitlines()[1:6] == [
    "id  state     step  value  模型    x",
    "--  --------  ----  -----  ------  -",
    "1   complete  -     1      学习率  3",
    "2   complete  -     2      cafe\u0301    4",
    "*3  complete  -     0.5    ＡＢ    5"]

def test_show_best_of_a_study_of_constants_lists_no_empty_params(tmp_path, capsys):
  # a space of constants only searches nothing: the best line ended in ": " with nothing after it
  path = str(tmp_path / "c.db")
  tb.Optimizer({"epochs": 3}, strategy="random", storage=path, name="c").observe({"epochs": 3}, 1.5)
  rc, out, _ = run(capsys, "show", path)
  assert rc == 0 and "constants: epochs=3" in out
  assert out.rstrip().splitlines()[-1] == "best: trial 1, value 1.5"

def _space_json(db: str, name: str) -> str:
  import sqlite3
  with sqlite3.connect(db) as c: return c.execute("SELECT space FROM studies WHERE name = ?", (name,)).fetchone()[0]

def test_export_csv_and_json_round_trip(db, capsys, tmp_path):
  rc, out, _ = run(capsys, "export", db, "--name", "mlp", "--format", "csv")
  rows = list(csv.DictReader(io.StringIO(out)))
  assert rc == 0 and len(rows) == 10 and set(rows[0]) >= {"id", "state", "value", "lr", "units", "act"}
  assert sorted(r["state"] for r in rows).count("complete") == 8
  done = [r for r in rows if r["state"] == "complete"]
  assert all(8 <= int(r["units"]) <= 64 and r["act"] in ("relu", "gelu") and float(r["value"]) <= 0 for r in done)
  rc, _, err = run(capsys, "export", db, "--name", "mlp", "--format", "json", "-o", str(tmp_path / "t.json"))
  body = json.loads((tmp_path / "t.json").read_text())
  assert rc == 0 and "wrote 10 trials" in err
  assert body["study"] == "mlp" and body["direction"] == "maximize" and len(body["trials"]) == 10
  assert {t["id"]: t["value"] for t in body["trials"]} == {int(r["id"]): (float(r["value"]) if r["value"] else None) for r in rows}
  assert body["space"]["params"]["lr"] == {"type": "float", "min": 1e-4, "max": 1e-1, "log": True}

def test_export_never_writes_over_the_study_file(tmp_path, capsys, monkeypatch):
  # `tinybo export study.db -o study.db` replaced the study with its own CSV: every trial lost, by a read-only command
  path = tmp_path / "study.db"
  tb.Optimizer({"x": tb.Float(0, 1)}, strategy="random", storage=str(path)).observe({"x": 0.5}, 1.0)
  monkeypatch.chdir(tmp_path)
  for out in (str(path), "./study.db", "study.db-wal"):
    rc, text, err = run(capsys, "export", str(path), "-o", out)
    assert rc == 1 and text == "" and err.count("\n") == 1
    assert err.startswith(f"tinybo: error: -o '{out}' is the study file") and "pass another path, such as" in err
  assert [(t.params, t.value) for t in tb.Optimizer({"x": tb.Float(0, 1)}, storage=str(path)).trials] == [({"x": 0.5}, 1.0)]

def test_the_cli_takes_the_storage_string_the_optimizer_took(tmp_path, capsys):
  # storage='sqlite:///…' (SQLAlchemy's form, as Optuna takes it) names the file for tb.Optimizer, but `tinybo show` said
  # "no such study file 'sqlite:///…'; pass the .db file given to tb.Optimizer(storage=...)", the very string it was given
  url = f"sqlite:///{tmp_path}/study.db"
  tb.Optimizer({"x": tb.Float(0, 1)}, strategy="random", storage=url).observe({"x": 0.5}, 1.0)
  rc, out, _ = run(capsys, "show", url)
  assert rc == 0 and "1 trials, 1 complete" in out and "x=0.5" in out
  rc, out, _ = run(capsys, "export", url)
  assert rc == 0 and out.splitlines()[1].startswith("1,complete,1.0,")
  rc, _, err = run(capsys, "export", url, "-o", f"{tmp_path}/study.db")
  assert rc == 1 and "is the study file" in err

def test_plot_history_writes_png(db, capsys, tmp_path):
  out = tmp_path / "h.png"
  rc, text, _ = run(capsys, "plot", db, "--name", "mlp", "--kind", "history", "-o", str(out))
  assert rc == 0 and f"wrote {out}" in text and out.read_bytes()[:4] == b"\x89PNG"

@pytest.mark.parametrize("argv, message", [
  (["show", "nope.db"], "no such study file 'nope.db'"),
  (["show", "{db}", "--name", "zz"], "no study 'zz' in '{db}'; it holds: mlp, other"),
  (["export", "{db}"], "'{db}' holds 2 studies (mlp, other); pick one with --name"),
  (["plot", "{db}", "--name", "mlp", "--kind", "heatmap", "--x", "lr", "--y", "dropout"],
   "unknown parameter 'dropout' for --y; study 'mlp' searches: lr, units, act"),
])
def test_errors_are_one_line(db, capsys, tmp_path, argv, message):
  rc, out, err = run(capsys, *[a.format(db=db) for a in argv])
  assert rc == 1 and out == ""
  assert err.startswith(f"tinybo: error: {message.format(db=db)}") and err.count("\n") == 1

def test_not_a_study_file(tmp_path, capsys):
  bad = tmp_path / "notes.db"
  bad.write_text("not sqlite")
  rc, _, err = run(capsys, "show", str(bad))
  assert rc == 1 and "is not a tinybo study file" in err

def test_console_script_and_bench_delegation(db):
  # the installed entry point's module, in a fresh process, as a user runs it
  p = subprocess.run([sys.executable, "-m", "tinybo.cli", "show", db, "--name", "other"], capture_output=True, text=True, cwd=ROOT, timeout=120)
  assert p.returncode == 0 and "study 'other' (minimize): 1 trials, 1 complete" in p.stdout
  p = subprocess.run([sys.executable, "-m", "tinybo.cli", "bench", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120)
  assert p.returncode == 0 and "--problems" in p.stdout   # benchmarks.run's own argparse answered

# ***** studies with reports: last step and state, learning curves, the heatmap at one step *****

@pytest.fixture(scope="module")
def curves_db(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("cli") / "curves.db")
  space = tb.Space({"lr": tb.Float(1e-3, 1.0, log=True), "units": tb.Int(8, 64)})
  opt = tb.Optimizer(space, strategy="random", storage=path, name="c", stopping=tb.ASHA(min_step=1, max_step=9, reduction_factor=3))
  def objective(p, trial):
    for step in range(1, 10):
      # the first two trials ignore the rule and finish, so the study has complete trials whatever the threads' timing
      if trial.report(abs(p["lr"] - 0.1) + abs(p["units"] - 32) / 64 + 1.0 / step, step) and trial.id >= 2: raise tb.StopTrial()
    return abs(p["lr"] - 0.1) + abs(p["units"] - 32) / 64 + 1.0 / 9
  opt.optimize(objective, n_trials=12, n_jobs=3, progress=False)   # concurrent trials: several reach the last step
  t = opt.suggest(); opt.report(t, 5.0, 0); opt.report(t, 4.0, 2)    # one still running, at step 2
  return path

def test_show_lists_last_step_and_state(curves_db, capsys):
  rc, out, _ = run(capsys, "show", curves_db)
  opt = tb.Optimizer(tb.Space.from_json(_space_json(curves_db, "c")), strategy="random", storage=curves_db, name="c")
  ts = opt.trials
  counts = {s: sum(t.state == s for t in ts) for s in ("complete", "stopped", "pending")}
  assert rc == 0 and counts["stopped"] >= 1 and counts["complete"] >= 2
  assert f"13 trials, {counts['complete']} complete, {counts['stopped']} stopped, 1 pending, 0 failed" in out
  header, rows = out.splitlines()[1], out.splitlines()[3:3 + len(ts)]
  assert header.split()[:4] == ["id", "state", "step", "value"]
  for t, row in zip(ts, rows):
    cells = row.split()
    assert cells[0].lstrip("*") == str(t.id) and cells[1] == t.state and cells[2] == str(t.last_step)
  assert rows[-1].split()[1:4] == ["pending", "2", "-"]   # the running trial: its last step, no value yet
  rc, out, _ = run(capsys, "export", curves_db, "--format", "json")
  body = json.loads(out)
  assert [t["last_step"] for t in body["trials"]] == [t.last_step for t in ts] and body["trials"][-1]["reports"] == [[0, 5.0], [2, 4.0]]

def test_plot_curves_and_heatmap_at_a_step(curves_db, capsys, tmp_path):
  xy = ["--kind", "heatmap", "--x", "lr", "--y", "units"]
  for argv in (["--kind", "curves"], xy, [*xy, "--step", "1"], [*xy, "--mix-fidelities"]):
    out = tmp_path / f"{len(argv)}-{argv[-1]}.png"
    rc, text, err = run(capsys, "plot", curves_db, *argv, "-o", str(out))
    assert rc == 0 and f"wrote {out}" in text and out.read_bytes()[:4] == b"\x89PNG", err
  for argv, message in ((["--kind", "curves", "--step", "3"], "--step applies to --kind heatmap only, not --kind curves"),
                        # the CLI's errors name its flags, not plot.heatmap's Python arguments (step=, mix_fidelities=True, x=y)
                        ([*xy, "--step", "3", "--mix-fidelities"], "--step 3 and --mix-fidelities contradict"),
                        (["--kind", "heatmap", "--x", "lr", "--y", "lr"], "--x and --y are both 'lr'"),
                        ([*xy, "--step", "99"], "has 0 trials at {'step': 99}; a heatmap needs at least 2; pass another step (step=, or --step in "
                                                "the CLI) or every trial as it ended (mix_fidelities=True, or --mix-fidelities)")):
    rc, out, err = run(capsys, "plot", curves_db, *argv, "-o", str(tmp_path / "x.png"))
    assert rc == 1 and err.startswith("tinybo: error: ") and message in err and err.count("\n") == 1, err

def test_exports_a_reader_other_than_python_can_read(tmp_path, capsys):
  # json: a constant max_steps=inf was written as bare Infinity (no JSON reader but Python's takes it); csv: a parameter
  # named 'value' made two 'value' columns, and a reader took the parameter for the objective; -o: written in the locale's
  # encoding, so a parameter named β₂ failed under LC_ALL=C
  path = str(tmp_path / "s.db")
  opt = tb.Optimizer(tb.Space({"value": tb.Float(0, 1), "β₂": tb.Float(0, 1), "max_steps": float("inf")}), strategy="random",
                     storage=path, name="s", seed=0)
  t = opt.suggest()
  opt.observe(t, 10.0)
  rc, out, _ = run(capsys, "export", path, "--format", "json")
  def strict(c): raise ValueError(f"not JSON: {c}")
  body = json.loads(out, parse_constant=strict)
  assert rc == 0 and body["space"]["constants"]["max_steps"] == "inf"
  rc, out, _ = run(capsys, "export", path)
  row = next(csv.DictReader(io.StringIO(out)))
  assert float(row["value"]) == 10.0 and float(row["params.value"]) == t.params["value"] and "β₂" in row
  env = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PATH": "/usr/bin:/bin", "DEV": "CPU", "PYTHONPATH": str(ROOT)}
  r = subprocess.run([sys.executable, "-m", "tinybo.cli", "export", path, "-o", str(tmp_path / "out.csv")], env=env,
                     capture_output=True, text=True, timeout=300)
  assert r.returncode == 0, r.stderr
  assert "β₂" in (tmp_path / "out.csv").read_text(encoding="utf-8")
  consts = str(tmp_path / "c.db")
  c = tb.Optimizer(tb.Space({"lr": 0.1}), strategy="random", storage=consts, name="c", seed=0)
  for _ in range(3): c.observe({"lr": 0.1}, 1.0)
  c.storage.close()
  rc, out, err = run(capsys, "plot", consts, "--kind", "importance", "-o", str(tmp_path / "i.png"))
  assert rc == 1 and "searches no parameter" in err and err.count("\n") == 1

def test_csv_tells_a_none_choice_from_an_inactive_parameter(tmp_path, capsys):
  # both were an empty cell: a reader could not tell "decay=None was chosen" from "decay does not exist in this trial"
  path = str(tmp_path / "s.db")
  space = tb.Space({"opt": tb.Categorical(["sgd", "adam"]), "decay": tb.Categorical([None, "cosine"], when={"opt": ["adam"]})})
  opt = tb.Optimizer(space, strategy="random", storage=path, name="s", seed=0)
  for params in ({"opt": "adam", "decay": None}, {"opt": "sgd"}, {"opt": "adam", "decay": "cosine"}):
    opt.observe(params, 1.0)
  rc, out, _ = run(capsys, "export", path)
  assert rc == 0 and [r["decay"] for r in csv.DictReader(io.StringIO(out))] == ["None", "", "cosine"]

@pytest.mark.parametrize("cmd", ["show", "export"])
def test_show_and_export_name_as_best_a_trial_of_the_table_they_print(tmp_path, capsys, monkeypatch, cmd):
  # a worker observed a trial between the read of the trials and the read of the best: `show` printed that trial as
  # pending in its table and as the best under it, and the JSON export's "best" named a trial it listed as pending
  path = str(tmp_path / "live.db")
  writer = tb.Optimizer({"x": tb.Float(0, 1)}, strategy="random", storage=path)
  writer.observe(writer.suggest(), 1.0)
  running = writer.suggest()
  read, observed = tb.storage.SQLiteStorage.trials, []
  def trials_then_a_worker_observes(self, name):
    out = read(self, name)
    if self.readonly and not observed: observed.append(writer.observe(running, 0.5))
    return out
  monkeypatch.setattr(tb.storage.SQLiteStorage, "trials", trials_then_a_worker_observes)
  argv = ["show", path] if cmd == "show" else ["export", path, "--format", "json"]
  rc, out, _ = run(capsys, *argv)
  assert rc == 0
  if cmd == "show": assert "best: trial 1, value 1" in out and "*1 " in out
  else:
    body = json.loads(out)
    assert body["best"] == 1 and [t["state"] for t in body["trials"]] == ["complete", "pending"]

def test_show_tells_a_parameter_named_value_or_step_from_the_trials_columns(tmp_path, capsys):
  # the header read 'id  state  step  value  value  step': which 'value' was the objective's? (export wrote params.value)
  path = str(tmp_path / "names.db")
  opt = tb.Optimizer({"value": tb.Float(0, 1), "step": tb.Int(1, 5), "lr": tb.Float(0, 1)}, strategy="random", storage=path)
  opt.observe(opt.suggest(), 3.0)
  rc, out, _ = run(capsys, "show", path)
  assert rc == 0 and out.splitlines()[1].split() == ["id", "state", "step", "value", "params.value", "params.step", "lr"]

def test_show_writes_a_stepped_float_to_its_step(tmp_path, capsys):
  # six significant digits printed -99.93002 as -99.93, a value the parameter never took (a neighbouring step's)
  path = str(tmp_path / "steps.db")
  opt = tb.Optimizer({"a": tb.Float(-99.96, -99.9, step=1e-05), "x": tb.Float(0, 1)}, strategy="random", storage=path)
  opt.observe({"a": -99.93002, "x": 0.123456789}, 2.0)
  rc, out, _ = run(capsys, "show", path)
  assert rc == 0 and out.splitlines()[3].split() == ["*1", "complete", "-", "2", "-99.93002", "0.123457"]
  assert out.rstrip().splitlines()[-1] == "best: trial 1, value 2: a=-99.93002, x=0.123457"
