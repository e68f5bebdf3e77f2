"""Every test ends with the optimize() worker threads it started: one still running would record its trials, and warn,
inside a later test (a warning counted there failed CI once)."""
import threading

import pytest
from workers import workers_end

LINGER_S = 30.0   # a worker still inside an objective when its test returns (after Ctrl-C) gets this long to finish

@pytest.fixture(autouse=True)
def no_lingering_optimize_workers():
  before = set(threading.enumerate())
  yield
  left = workers_end(LINGER_S, since=before)
  assert not left, f"optimize() workers {[t.name for t in left]} still run {LINGER_S:.0f} s after the test: end their objectives in the test"
