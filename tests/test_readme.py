"""The README's Python blocks run as written: the quick start (ask / tell into a SQLite study), the conditional
parameters, early stopping, noisy objectives and Optuna blocks are extracted and executed, with stand-ins for `train`
and fewer evaluations, so a renamed argument or method fails here, not for a reader. (The Ray Tune block starts Ray:
tests/integrations/test_ray.py covers the searcher.)"""
import math
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"

def quick_start() -> str:
  return re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)

def train(lr: float, units: int, act: str, epochs: int) -> float:   # the parameters the quick start's space names
  return (math.log10(lr) + 2) ** 2 + (math.log2(units) - 6) ** 2 / 10 + (act != "gelu") + 0 * epochs

def test_the_quick_start_runs_as_written(tmp_path, monkeypatch, capsys):
  code = quick_start()
  assert "opt.suggest()" in code and "opt.observe(trial, train(**trial.params))" in code and "range(30)" in code
  monkeypatch.chdir(tmp_path)                      # it writes study.db in the current folder
  ns = {"train": train}
  exec(compile(code.replace("range(30)", "range(4)"), str(README), "exec"), ns)   # 4 evaluations: the initial design
  opt = ns["opt"]
  assert (tmp_path / "study.db").exists() and len(opt.trials) == 4 and all(t.state == "complete" for t in opt.trials)
  out = capsys.readouterr().out
  assert str(opt.best.params) in out and "'epochs': 5" in out   # what its last line prints: the best params, the constant too

def test_the_conditional_parameters_block_runs_as_written():
  # it used @dataclass without importing it
  block = next(b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if "class HParams" in b)
  import tinybo as tb
  ns = {"tb": tb}
  exec(compile(block, str(README), "exec"), ns)
  assert ns["HParams"]().optimizer is not None and "momentum" in ns["space"].names

def block(marker: str) -> str:
  """The README's one Python block that contains `marker`."""
  found = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if marker in b]
  assert len(found) == 1, (marker, len(found))
  return found[0]

def quick_space():
  import tinybo as tb
  return tb.Space({"lr": tb.Float(1e-4, 1e-1, log=True), "units": tb.Int(16, 256, log=True), "act": tb.Categorical(["relu", "gelu"])})

def train_one_epoch(model, lr: float, units: int, act: str) -> float:   # a stand-in: a loss that shrinks with the epochs
  model["epoch"] = model.get("epoch", 0) + 1
  return train(lr, units, act, 0) + 1 / model["epoch"]

def test_the_early_stopping_blocks_run_as_written(tmp_path, monkeypatch):
  import tinybo as tb
  monkeypatch.chdir(tmp_path)
  loop = block("opt.stop(trial)")
  assert "range(60)" in loop
  ns = {"tb": tb, "space": quick_space(), "model": {}, "train_one_epoch": train_one_epoch}
  exec(compile(loop.replace("range(60)", "range(4)"), str(README), "exec"), ns)   # 4 trials: the initial design
  opt = ns["opt"]
  assert len(opt.trials) == 4 and all(t.state in ("complete", "stopped") for t in opt.trials) and opt.curves
  exec(compile(block("raise tb.StopTrial()"), str(README), "exec"), ns)
  opt = tb.Optimizer(ns["space"], stopping=tb.ASHA(min_step=1, max_step=30, reduction_factor=3))
  opt.optimize(ns["objective"], n_trials=4, progress=False)
  assert len(opt.trials) == 4 and all(t.state in ("complete", "stopped") and t.last_step for t in opt.trials)

def test_the_noisy_objectives_block_runs_as_written(capsys):
  import tinybo as tb
  code = block("opt.recommend().params")
  assert "n_trials=60" in code
  ns = {"tb": tb, "space": quick_space(), "train": lambda **p: train(**p, epochs=5)}
  exec(compile(code.replace("n_trials=60", "n_trials=4"), str(README), "exec"), ns)
  opt = ns["opt"]
  assert len(opt.trials) == 4 and str(opt.best.params) in capsys.readouterr().out

def test_the_optuna_block_runs_as_written(capsys):
  optuna = pytest.importorskip("optuna")
  code = block("TinyBOSampler(seed=0)")
  assert "n_trials=30" in code
  optuna.logging.set_verbosity(optuna.logging.WARNING)
  ns: dict = {}
  exec(compile(code.replace("n_trials=30", "n_trials=4"), str(README), "exec"), ns)   # 4 trials: a few before the GP
  assert len(ns["study"].trials) == 4 and str(ns["study"].best_params) in capsys.readouterr().out
