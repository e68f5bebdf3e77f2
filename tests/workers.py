"""optimize()'s worker threads (named "tinybo-<i>", optimizer.py) go on after Ctrl-C: tests wait for them here, and
count only the warnings they expect (a warning block records every thread's)."""
import threading
import time
import warnings

from tinybo.optimizer import TrialFailedWarning


def workers_end(timeout: float = 30.0, since: set | None = None) -> list[threading.Thread]:
  """Wait up to `timeout` s for optimize()'s workers (those not in `since`) to end; returns those still running. Not
  Thread.join or is_alive: on Python 3.11 a join that Ctrl-C interrupted marks a thread ended while it runs on, and
  threading lists a thread until its last line has run."""
  deadline = time.monotonic() + timeout
  def running() -> list[threading.Thread]: return [t for t in threading.enumerate() if t.name.startswith("tinybo-") and t not in (since or set())]
  while (left := running()) and time.monotonic() < deadline: time.sleep(0.01)
  return left

def trial_failures(caught: list[warnings.WarningMessage]) -> list[warnings.WarningMessage]:
  """The TrialFailedWarnings among the warnings a block recorded: pytest.warns and catch_warnings record every
  warning of the process, another thread's too."""
  return [w for w in caught if issubclass(w.category, TrialFailedWarning)]
