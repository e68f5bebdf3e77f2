"""A trial: one configuration, its state and its result; a report: one intermediate value of a running trial.
Shared by strategies, stopping rules, the optimizer and storage. Holds: Trial, TrialState, Report. Imports: the standard library only."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple


class TrialState(StrEnum):
  PENDING = "pending"    # suggested, not yet observed
  COMPLETE = "complete"  # observed with a finite value
  FAILED = "failed"      # crashed, or returned (or reported) a non-finite value: never fed to a model
  STOPPED = "stopped"    # ended early (a stopping rule said so); its value is its last reported value, at last_step


@dataclass
class Trial:
  id: int
  params: dict[str, Any]
  state: TrialState = TrialState.PENDING
  value: float | None = None
  created: float = field(default_factory=time.time)
  finished: float | None = None
  worker: str | None = None
  last_step: int | None = None   # the highest step it reported at (None: it never reported)
  # which study the trial belongs to ("'name' in location", set by the Optimizer that returned it): observing it through
  # another study's optimizer is an error instead of a result recorded on an unrelated trial with the same id
  study: str | None = field(default=None, compare=False, repr=False)


class Report(NamedTuple):
  """One intermediate value of a trial: `value` at `step` (an epoch, an iteration), written at `time`; `stop` is the
  stopping rule's verdict on it (sticky: once True, every later report of the trial is True too)."""
  step: int
  value: float
  stop: bool
  time: float
