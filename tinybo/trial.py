"""A trial: one configuration, its state and its result. Shared by strategies, the optimizer and storage."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class TrialState(StrEnum):
  PENDING = "pending"    # suggested, not yet observed
  COMPLETE = "complete"  # observed with a finite value
  FAILED = "failed"      # crashed, or returned a non-finite value: never fed to a model


@dataclass
class Trial:
  id: int
  params: dict[str, Any]
  state: TrialState = TrialState.PENDING
  value: float | None = None
  created: float = field(default_factory=time.time)
  finished: float | None = None
  worker: str | None = None
  # which study the trial belongs to ("'name' in location", set by the Optimizer that returned it): observing it through
  # another study's optimizer is an error instead of a result recorded on an unrelated trial with the same id
  study: str | None = field(default=None, compare=False, repr=False)
