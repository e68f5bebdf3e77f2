"""optimize()'s worker threads beside tinygrad: the runs of an objective that trains with tinygrad take turns.

tinygrad is not thread-safe: a TinyJit capture registers itself in a global list and turns device use off for the
whole process while it schedules, and `Context` and `Tensor.training` are process-wide, so two tinygrad trainings in two
threads (or one beside the GP's own device work) fail ("having TinyJit inside another TinyJit", "usage of device CPU
disallowed") or, worse, return another run's numbers. optimize(n_jobs > 1) cannot know beforehand what an objective
does, so every run starts at once, as threads are meant to (a subprocess, a remote job), and takes the turn at its
first tinygrad Tensor (`_tinygrad.on_first_tensor`, before any device work of its own): the optimizer's lock, then
`DEVICE_LOCK` (the order suggest() and a ModelStopping report take them), held to the end of the run. Once one run has
made a Tensor, every later run takes the turn from its start, and one warning says so and names the way to parallel
training (processes on one SQLite study, README: Threads and tinygrad). TinyBOSampler does the same in Optuna's
study.optimize threads, a turn from before_trial to after_trial (`begin`, `end`). Holds: ObjectiveTurns, TinygradThreadsWarning.
Imports: _tinygrad (DEVICE_LOCK, on_first_tensor).
"""
from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator

from tinybo._tinygrad import DEVICE_LOCK, on_first_tensor


class TinygradThreadsWarning(UserWarning):
  """optimize(n_jobs > 1) found that its objective runs tinygrad, and runs its trials one at a time."""

class ObjectiveTurns:
  """The runs of one optimize() call (or of one TinyBOSampler's study.optimize threads). `uses_tinygrad`: whether a run
  has made a tinygrad Tensor (then each run takes the turn from its start; before, at its first Tensor). `lock`: the
  lock the caller's own work takes before DEVICE_LOCK (the optimizer's or the sampler's, re-entrant), taken first."""
  def __init__(self, n_jobs: int, lock: threading.RLock, caller: str | None = None):
    self.n_jobs, self.lock, self.uses_tinygrad = n_jobs, lock, False
    self.caller = f"optimize(n_jobs={n_jobs})" if caller is None else caller
    self._said, self._turn = threading.Lock(), threading.local()

  def _found(self) -> None:
    with self._said:
      if self.uses_tinygrad: return
      self.uses_tinygrad = True
    warnings.warn(f"{self.caller}: the objective runs tinygrad, which is not thread-safe, so its trials run one at a "
                  "time; for parallel training start processes on one study (README: Threads and tinygrad)",
                  TinygradThreadsWarning, stacklevel=1)   # a worker thread: no caller of the user's to point at

  def begin(self) -> None:
    """A run starts in this thread: the turn now (tinygrad known) or at its first Tensor. `end()` in the same thread."""
    if self.n_jobs == 1: return
    self.end()                            # a run that never ended (its thread raised in between) leaves no turn behind
    held = self._turn.held = contextlib.ExitStack()
    def take() -> None:
      held.enter_context(self.lock); held.enter_context(DEVICE_LOCK)
      self._found()
    if self.uses_tinygrad: take()
    else: on_first_tensor(take)

  def end(self) -> None:
    """The run of this thread ended: its turn, if it took one, is given back."""
    held = getattr(self._turn, "held", None)
    if held is None: return
    self._turn.held = None
    on_first_tensor(None)
    held.close()

  @contextlib.contextmanager
  def run(self) -> Iterator[None]:
    """Around one run of the objective (its reports and its result recorded inside too)."""
    self.begin()
    try: yield
    finally: self.end()
