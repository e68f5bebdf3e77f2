"""optimize(n_jobs > 1) with an objective that trains with tinygrad (not thread-safe): its runs take turns and give the
numbers a run alone gives; an objective without tinygrad still runs in parallel."""
import os
import re
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from tinygrad import Tensor, TinyJit

import tinybo as tb
from tinybo import _tinygrad, threads
from tinybo.trial import TrialState

SPACE = tb.Space({"lr": tb.Float(1e-3, 0.3, log=True), "w0": tb.Float(-1, 1)})
X = np.linspace(-1, 1, 64, dtype=np.float32).reshape(16, 4)
Y = X @ np.array([0.5, -1.0, 2.0, 0.25], dtype=np.float32)

def train(p: dict, steps: int = 6) -> list[float]:
  """Gradient descent on a least-squares fit with a TinyJit step (a capture in the first calls, replays after): the loss
  after each step, in float32 as tinygrad computes it."""
  x, y = Tensor(X), Tensor(Y)
  @TinyJit
  def step(w: Tensor) -> tuple[Tensor, Tensor]:
    r = x @ w - y
    return (w - p["lr"] * 2 * (x.T @ r) / 16).realize(), (r * r).mean().realize()
  w, out = Tensor(np.full(4, p["w0"], np.float32)).contiguous().realize(), []
  for _ in range(steps):
    w, loss = step(w)
    out.append(float(loss.item()))
  return out

class Overlap:
  """Counts how many runs of an objective are inside it at once."""
  def __init__(self): self.lock, self.now, self.most = threading.Lock(), 0, 0
  def __enter__(self):
    with self.lock: self.now += 1; self.most = max(self.most, self.now)
  def __exit__(self, *exc):
    with self.lock: self.now -= 1

@pytest.mark.parametrize("strategy", ["random", "gp"])
def test_tinygrad_objectives_in_threads_take_turns_and_give_what_a_run_alone_gives(strategy):
  # before: runs failed ("having TinyJit inside another TinyJit", "usage of device CPU disallowed") or returned another
  # run's loss, beside each other and beside the GP's own device work
  overlap = Overlap()
  def objective(p: dict) -> float:
    Tensor([0.0])                             # its first Tensor: from here the run holds the turn
    with overlap: return train(p)[-1]
  opt = tb.Optimizer(SPACE, strategy=tb.GP(n_initial=4) if strategy == "gp" else "random", seed=0)
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    opt.optimize(objective, n_trials=9, n_jobs=3, progress=False)
  assert [t.state for t in opt.trials] == [TrialState.COMPLETE] * 9 and overlap.most == 1
  assert [t.value for t in opt.trials] == [train(t.params)[-1] for t in opt.trials]
  said = [w for w in caught if issubclass(w.category, tb.TinygradThreadsWarning)]
  assert len(said) == 1 and "optimize(n_jobs=3): the objective runs tinygrad" in str(said[0].message)
  assert not [w for w in caught if issubclass(w.category, tb.TrialFailedWarning)]

def test_reports_of_tinygrad_runs_in_threads_reach_the_stopping_rule():
  # a run's reports are written inside its turn; ASHA sees every curve, as in a run with n_jobs=1
  def objective(p: dict, trial: tb.TrialHandle) -> float:
    for step, loss in enumerate(train(p), start=1):
      if trial.report(loss, step): raise tb.StopTrial
    return loss
  opt = tb.Optimizer(SPACE, strategy="random", seed=1, stopping=tb.ASHA(min_step=1, max_step=6, reduction_factor=3))
  with pytest.warns(tb.TinygradThreadsWarning): opt.optimize(objective, n_trials=12, n_jobs=4, progress=False)
  reports = opt.storage.reports(opt.name)
  assert {t.state for t in opt.trials} <= {TrialState.COMPLETE, TrialState.STOPPED} and len(opt.trials) == 12
  for t in opt.trials:
    assert [r.value for r in reports[t.id]] == train(t.params)[:len(reports[t.id])]
  assert any(t.state == TrialState.STOPPED for t in opt.trials)

def test_objectives_without_tinygrad_run_at_once():
  overlap = Overlap()
  def objective(p: dict) -> float:
    with overlap: time.sleep(0.3)
    return p["lr"]
  opt = tb.Optimizer(SPACE, strategy="random", seed=0)
  with warnings.catch_warnings():
    warnings.simplefilter("error", tb.TinygradThreadsWarning)
    opt.optimize(objective, n_trials=8, n_jobs=4, progress=False)
  assert overlap.most == 4 and len(opt.trials) == 8   # side by side from the first run

def test_a_run_takes_the_turn_at_its_first_tensor_and_later_runs_from_their_start():
  turns, lock = threads.ObjectiveTurns(2, threading.RLock()), threading.RLock()
  turns.lock = lock
  with turns.run():
    assert not _tinygrad.DEVICE_LOCK._is_owned() and not turns.uses_tinygrad   # numpy work, a subprocess: no turn
    with pytest.warns(tb.TinygradThreadsWarning): Tensor([1.0])
    assert _tinygrad.DEVICE_LOCK._is_owned() and lock._is_owned() and turns.uses_tinygrad
    Tensor([2.0])                                                                # the turn is taken once
  assert not _tinygrad.DEVICE_LOCK._is_owned() and not lock._is_owned()
  with turns.run(): assert _tinygrad.DEVICE_LOCK._is_owned()                     # known now: from the start
  Tensor([3.0])                                                                  # outside a run: nothing
  assert not _tinygrad.DEVICE_LOCK._is_owned()
  alone = threads.ObjectiveTurns(1, threading.RLock())
  with alone.run(): Tensor([1.0]); assert not _tinygrad.DEVICE_LOCK._is_owned()  # n_jobs=1: one run at a time anyway

def test_tinybos_own_tensors_inside_a_run_take_no_turn():
  # a ModelStopping report runs the GP inside the run, under device_work: its Tensors are not the objective's
  turns = threads.ObjectiveTurns(2, threading.RLock())
  with turns.run():
    with _tinygrad.device_work(): Tensor([1.0])
    assert not turns.uses_tinygrad

@pytest.mark.slow
def test_the_models_stopping_rule_in_tinygrad_threads_does_not_deadlock():
  # a report under tb.ModelStopping takes the optimizer's lock and the GP's device work inside the run's turn, while
  # other threads wait to suggest (the optimizer's lock, then the device's): the turn takes them in that order
  def objective(p: dict, trial: tb.TrialHandle) -> float:
    for step, loss in enumerate(train(p), start=1):
      if trial.report(loss, step): raise tb.StopTrial
    return loss
  opt = tb.Optimizer(SPACE, seed=0, stopping=tb.ModelStopping())
  run = threading.Thread(target=lambda: opt.optimize(objective, n_trials=14, n_jobs=3, progress=False), daemon=True)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", tb.TinygradThreadsWarning)
    run.start(); run.join(300)
  assert not run.is_alive() and len(opt.trials) == 14
  assert {t.state for t in opt.trials} <= {TrialState.COMPLETE, TrialState.STOPPED}

@pytest.mark.slow
def test_the_readmes_processes_recipe_trains_tinygrad_in_parallel_on_one_study(tmp_path):
  # the README's block as a script: 2 spawned processes, 3 trials each, on one SQLite study; every value is the one a
  # run alone gives (each process its own tinygrad)
  root = Path(__file__).resolve().parent.parent
  code = next(b for b in re.findall(r"```python\n(.*?)```", (root / "README.md").read_text(), re.S) if "mp.get_context" in b)
  assert "pool.map(worker, [10] * 4)" in code
  script = tmp_path / "recipe.py"
  script.write_text("import tinybo as tb\nfrom test_threads import SPACE as space, train as train_curve\n"
                    "def train(p): return train_curve(p)[-1]\n" + code.replace("pool.map(worker, [10] * 4)", "pool.map(worker, [3] * 2)"))
  env = {**os.environ, "PYTHONPATH": f"{root}:{root / 'tests'}", "DEV": "CPU"}
  done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-2000:]
  opt = tb.Optimizer(SPACE, storage=tmp_path / "study.db", name="mlp")
  assert len(opt.trials) == 6 and all(t.state == TrialState.COMPLETE for t in opt.trials)
  assert [t.value for t in opt.trials] == [train(t.params)[-1] for t in opt.trials]
  assert len({t.worker.split(":")[1] for t in opt.trials}) == 2   # two processes (host:pid:thread), 3 trials each
