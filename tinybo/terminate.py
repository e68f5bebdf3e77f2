"""SIGTERM during optimize() ends it as Ctrl-C does: what a scheduler sends a preempted or cancelled job (SLURM,
Kubernetes, a spot instance) before it kills it. Without a handler the process dies at once and its running trials stay
pending with a dead worker until someone calls fail_pending(); with this one they are failed and queued again, so the
job that resumes the study runs them first. Installed only from the main thread and only over the default action (a
handler of the user's or of a framework is left alone), and only while optimize() runs. Holds: Terminated,
sigterm_as_interrupt. Imports: the standard library only.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Terminated(KeyboardInterrupt):
  """SIGTERM arrived while optimize() ran: raised in the main thread, where Ctrl-C's KeyboardInterrupt would be, so the
  same paths fail and queue the running trials again; then it leaves optimize() (finally blocks run)."""

@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
  """While the block runs, SIGTERM raises Terminated in the main thread instead of killing the process."""
  if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
    yield
    return
  def terminated(signum: int, frame: object) -> None:
    raise Terminated("SIGTERM: optimize() stopped; its running trials were failed and queued again for the study's next run")
  signal.signal(signal.SIGTERM, terminated)
  try: yield
  finally:
    if signal.getsignal(signal.SIGTERM) is terminated: signal.signal(signal.SIGTERM, signal.SIG_DFL)
