"""Every test ends with the optimize() worker threads it started: one still running would record its trials, and warn,
inside a later test (a warning counted there failed CI once). Threads named "tinybo-<i>" are optimize()'s (optimizer.py)."""
import threading
import time

import pytest

LINGER_S = 30.0   # a worker still inside an objective when its test returns (after Ctrl-C) gets this long to finish

@pytest.fixture(autouse=True)
def no_lingering_optimize_workers():
  before = set(threading.enumerate())
  yield
  deadline = time.monotonic() + LINGER_S
  def lingering() -> list[threading.Thread]:
    # listed, not is_alive(): on Python 3.11 a join that Ctrl-C interrupted marks a thread ended while it runs on, and
    # threading lists a thread until its last line has run
    return [t for t in threading.enumerate() if t.name.startswith("tinybo-") and t not in before]
  while (left := lingering()) and time.monotonic() < deadline: time.sleep(0.01)
  assert not left, f"optimize() workers {[t.name for t in left]} still run {LINGER_S:.0f} s after the test: end their objectives in the test"
