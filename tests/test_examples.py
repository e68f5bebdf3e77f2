"""The examples' code paths at a tiny budget: the `make demo` main job end to end (GP strategy, SQLite study, plots), with
early stopping (its summary checked against the study's reports) and without, and the minimal ask/tell loop."""
import importlib.util
import sqlite3
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

def load(name: str):
  spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod

@pytest.fixture(scope="module")
def demo():
  return load("tune_mlp")

def test_demo_end_to_end_tiny_budget(demo, tmp_path, capsys):
  res = demo.main(["--trials", "4", "--epochs", "2", "--stopping", "none", "--out", str(tmp_path)])
  out = capsys.readouterr().out
  assert "best configuration:" in out and "validation accuracy: tuned" in out and "test accuracy:" in out
  assert 0.0 <= res["default_val"] <= 1.0 and 0.0 <= res["best_val"] <= 1.0 and 0.0 <= res["best_test"] <= 1.0
  assert set(res["best"]) >= {"lr", "weight_decay", "activation", "n_layers", "width_1", "epochs"} and res["best"]["epochs"] == 2
  assert ("width_2" in res["best"]) == (res["best"]["n_layers"] == 2)   # the conditional width, exactly when it exists
  assert len(res["plots"]) == 4
  for p in res["plots"]:
    assert Path(p).read_bytes()[:4] == b"\x89PNG"
  with sqlite3.connect(tmp_path / "demo.db") as c:
    assert c.execute("SELECT COUNT(*) FROM trials WHERE state = 'complete'").fetchone()[0] == 4
  assert (res["complete"], res["stopped"], res["epochs_spent"], res["epochs_full"]) == (4, 0, 8, 8)
  assert "0 stopped early" in out and "epochs: 8 spent, 8 if every trial had run to the end" in out

def test_demo_stops_bad_runs_early_and_counts_the_epochs(demo, tmp_path, capsys):
  res = demo.main(["--trials", "5", "--epochs", "3", "--stopping", "asha", "--out", str(tmp_path)])
  out = capsys.readouterr().out
  with sqlite3.connect(tmp_path / "demo.db") as c:
    states = dict(c.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall())
    last = dict(c.execute("SELECT trial, MAX(step) FROM reports GROUP BY trial").fetchall())
  # the summary is what the study recorded: every trial reported every epoch it ran, stopped ones ended before the last
  assert states.get("stopped", 0) == res["stopped"] >= 1 and states.get("complete", 0) == res["complete"] >= 1, states
  assert res["epochs_spent"] == sum(last.values()) < res["epochs_full"] == 15
  assert sorted(s for s in last.values() if s < 3) == res["stopped_at"] and res["complete"] == sum(s == 3 for s in last.values())
  assert f"{res['stopped']} stopped early" in out and f"epochs: {res['epochs_spent']} spent, 15 if every trial" in out
  assert res["best"]["epochs"] == 3 and Path(res["plots"][1]).read_bytes()[:4] == b"\x89PNG"   # the learning curves

def test_demo_compare_runs_the_same_trials_to_the_end(demo, tmp_path, capsys):
  # the summary: the epochs the study spent against the same number of trials run to the end, and the accuracy
  # each reached; the second study is a real one, read back from its own file
  res = demo.main(["--trials", "5", "--epochs", "3", "--stopping", "asha", "--compare", "--out", str(tmp_path)])
  out = capsys.readouterr().out
  with sqlite3.connect(tmp_path / "demo_full.db") as c:
    states = dict(c.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall())
    values = [v for (v,) in c.execute("SELECT value FROM trials WHERE state = 'complete'")]
    last = dict(c.execute("SELECT trial, MAX(step) FROM reports GROUP BY trial").fetchall())
  full = res["full"]
  assert states == {"complete": 5} and sorted(last.values()) == [3] * 5
  assert full["epochs_spent"] == full["epochs_full"] == 15 > res["epochs_spent"] and full["stopped"] == 0
  assert full["best_val"] == pytest.approx(demo.accuracy(min(values))) and 0.0 <= full["best_test"] <= 1.0
  assert (f"every trial to the end: 15 epochs against this study's {res['epochs_spent']}; validation accuracy "
          f"{full['best_val']:.4f} against {res['best_val']:.4f}, test {full['best_test']:.4f} against {res['best_test']:.4f}") in out
  with pytest.raises(SystemExit):
    demo.main(["--stopping", "none", "--compare", "--out", str(tmp_path / "never")])
  assert "--compare runs a second study without stopping; give --stopping median or asha" in capsys.readouterr().err
  assert not (tmp_path / "never").exists()   # refused before any folder is made

def test_demo_rules_never_judge_the_last_epoch(demo):
  # the median rule had no max_step: a run worse than the median at epoch 10 of 10 was recorded as STOPPED after its
  # whole budget, and left the median to the runs better than it; and --epochs 2 made its warm-up swallow every epoch
  for epochs in (1, 2, 3, 10):
    rule = demo.make_stopping("median", epochs)
    assert rule.max_step == epochs and rule.warmup_steps < epochs
  assert demo.make_stopping("asha", 3).max_step == 3
  with pytest.raises(ValueError, match="--stopping asha with --epochs 1: no epoch before the last to stop at; use --epochs 2 or more"):
    demo.make_stopping("asha", 1)

def test_demo_objective_is_deterministic_and_the_default_underfits(demo):
  data = demo.load_data(0)
  space = demo.make_space(epochs=10)
  default = space.validate(demo.DEFAULT)
  a, b = demo.train_eval(default, data), demo.train_eval(default, data)
  assert a == b                                                          # a deterministic objective: same config, same value
  better = list(demo.train_curve({**default, "lr": 0.1}, data))
  assert len(better) == 10 and better[-1] > a + 0.02, (a, better)       # the default's lr=0.01 underfits at 10 epochs
  assert better[-1] > better[0]                                          # and the curve learns
  one = space.validate({k: v for k, v in default.items() if k != "width_2"} | {"n_layers": 1, "lr": 0.1})
  assert demo.train_eval(one, data) > 0.5                                # one hidden layer (no width_2) trains too

def test_ask_tell_loop(capsys):
  best = load("ask_tell_loop").main(["--trials", "3", "--strategy", "random"])
  out = capsys.readouterr().out
  assert out.count("-> val mse") == 3 and "best:" in out and best.value < 1.0

def test_ask_tell_loop_when_every_run_diverges(capsys, monkeypatch):
  # every trial NaN (all failed): the loop ended in AttributeError on opt.best (None); it says so instead
  mod = load("ask_tell_loop")
  monkeypatch.setattr(mod, "train", lambda **kw: float("nan"))
  with pytest.warns(mod.tb.TrialFailedWarning): assert mod.main(["--trials", "2", "--strategy", "random"]) is None
  assert "no trial of 2 finished with a finite val mse" in capsys.readouterr().out

def test_ask_tell_loop_refuses_no_trials(capsys):
  # --trials 0 ran no trial and ended in AttributeError: 'NoneType' object has no attribute 'params' (opt.best)
  with pytest.raises(SystemExit) as e: load("ask_tell_loop").main(["--trials", "0"])
  err = capsys.readouterr().err
  assert e.value.code == 2 and "--trials 0: use 1 or more" in err
