"""Scripted asynchronous learning curves shared by the stopping-rule and report tests (not a test module)."""
from __future__ import annotations

import numpy as np


def interleaved_curves(seed: int, n_trials: int, max_step: int, concurrency: int, skip: float = 0.0, noise: float = 0.0,
                       max_jump: int = 1) -> list[tuple]:
  """Up to `concurrency` trials running at once, each a curve a + b / step that crosses the others, reporting at steps
  1..max_step (skipping one with probability `skip`, plus N(0, noise²) rounded to 6 digits when noise > 0), then done.
  max_jump > 1: each report is 1..max_jump steps after the last (uniform; `skip` unused), so one report can cross
  several rungs. Events: (trial index, step, value) and (trial index, "done"), in the order they happen."""
  rng = np.random.default_rng(seed)
  running: dict[int, tuple] = {}
  started, events = 0, []
  while started < n_trials or running:
    if started < n_trials and (len(running) < concurrency and rng.random() < 0.6 or not running):
      running[started] = (0, rng.uniform(0, 1), rng.uniform(0, 3)); started += 1
      continue
    k = int(rng.choice(sorted(running)))
    step, a, b = running[k]
    step = min(max_step, step + (int(rng.integers(1, max_jump + 1)) if max_jump > 1 else 1 + (int(rng.random() < skip) if skip > 0 else 0)))
    value = float(a + b / step) if noise <= 0 else round(a + b / step + rng.normal(0, noise), 6)
    events.append((k, step, value))
    if step == max_step: events.append((k, "done")); del running[k]
    else: running[k] = (step, a, b)
  return events

def play_enqueued(make, xs, curve, max_step: int, reopen_at=frozenset()) -> tuple[list[bool], list[tuple]]:
  """Each x in turn enqueued, suggested and reported at steps 1..max_step with curve(x, step) through the Optimizer that
  make() returns, stopped when told, else observed at its last value; at the k-th report for k in `reopen_at` a new
  Optimizer from make() takes over (a new process on the same study file). Returns (every verdict, (state, last_step)
  of every trial)."""
  opt, out, k = make(), [], 0
  for x in xs:
    opt.enqueue({"x": x})
    t = opt.suggest()
    for s in range(1, max_step + 1):
      k += 1
      if k in reopen_at: opt = make()
      stop = opt.report(t.id, curve(x, s), s)
      out.append(stop)
      if stop: opt.stop(t.id); break
    else: opt.observe(t.id, curve(x, max_step))
  return out, [(t.state, t.last_step) for t in opt.trials]

def reporting_objective(curve, max_step: int):
  """An objective for optimize() with a trial handle: reports curve(params["x"], step) at steps 1..max_step, raises
  tb.StopTrial when told to stop, returns the last value."""
  import tinybo as tb
  def objective(params, trial):
    for s in range(1, max_step + 1):
      v = curve(params["x"], s)
      if trial.report(v, s): raise tb.StopTrial()
    return v
  return objective

def finished_study(xs, curve, max_step: int, stopping=None):
  """One complete trial, run to max_step with curve(x, step), per x of a study of one Float "x" in [0, 1] (enqueued:
  fixed configurations, whatever the strategy, tb.GP(warp=False)); then an Optimizer with the rule `stopping` on it."""
  import tinybo as tb
  space, storage = tb.Space({"x": tb.Float(0.0, 1.0)}), tb.InMemoryStorage()
  opt = tb.Optimizer(space, strategy=tb.GP(warp=False), storage=storage)
  for x in xs:
    opt.enqueue({"x": x})
    t = opt.suggest()
    for s in range(1, max_step + 1): opt.report(t, curve(x, s), s)
    opt.observe(t, curve(x, max_step))
  return tb.Optimizer(space, strategy=tb.GP(warp=False), storage=storage, stopping=stopping)
