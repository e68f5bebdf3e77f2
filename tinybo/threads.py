"""optimize()'s worker threads beside tinygrad: an objective that trains with tinygrad runs its trials one at a time.

tinygrad is not thread-safe: a TinyJit capture registers itself in a global list and turns device use off for the
whole process while it schedules, so two tinygrad trainings in two threads (or one beside the GP's own device work)
fail ("having TinyJit inside another TinyJit", "usage of device CPU disallowed") or, worse, return another run's
numbers. optimize(n_jobs > 1) cannot know beforehand what an objective does, so its runs take turns under
`DEVICE_LOCK` (with the optimizer's own lock first, the order suggest() takes them) until one has run to the end: one
that launched no tinygrad kernel (`foreign_kernels`) frees the others to run at once, as threads are meant to (a
subprocess, a remote job); one that launched kernels keeps them in turns, with one warning that says so and names the
way to parallel training (processes on one SQLite study, README: Threads and tinygrad). Holds: ObjectiveTurns, TinygradThreadsWarning.
Imports: _tinygrad (DEVICE_LOCK, foreign_kernels).
"""
from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator

from tinybo._tinygrad import DEVICE_LOCK, foreign_kernels


class TinygradThreadsWarning(UserWarning):
  """optimize(n_jobs > 1) found that its objective runs tinygrad, and runs its trials one at a time."""

class ObjectiveTurns:
  """The runs of one optimize() call: in turns while it is not known whether the objective runs tinygrad, and for good
  once it is; at once when a run ended without a tinygrad kernel. `uses_tinygrad`: None (not known yet), True, False."""
  def __init__(self, n_jobs: int, optimizer_lock: threading.RLock):
    self.n_jobs, self.optimizer_lock, self.uses_tinygrad = n_jobs, optimizer_lock, None if n_jobs > 1 else False

  @contextlib.contextmanager
  def run(self) -> Iterator[None]:
    """Around one run of the objective (its reports and its result recorded inside too)."""
    if self.uses_tinygrad is False: yield; return
    with self.optimizer_lock, DEVICE_LOCK:   # suggest's order: the optimizer's lock, then the device's
      if self.uses_tinygrad is False: yield; return   # decided while this run waited its turn
      before, ended = foreign_kernels(), False
      try:
        yield
        ended = True
      finally:
        ran = foreign_kernels() != before   # != : a user's GlobalCounters.reset() lowers the count
        if ran and self.uses_tinygrad is None:
          self.uses_tinygrad = True
          warnings.warn(f"optimize(n_jobs={self.n_jobs}): the objective runs tinygrad, which is not thread-safe, so its trials run one at a "
                        "time; for parallel training start n_jobs processes on one SQLite study (README: Threads and tinygrad)",
                        TinygradThreadsWarning, stacklevel=1)   # a worker thread: no caller of the user's to point at
        elif ended and not ran and self.uses_tinygrad is None: self.uses_tinygrad = False
