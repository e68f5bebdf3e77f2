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
