"""A study's trials as the strategies read them: built once at the top of a suggestion, every trial validated and
encoded once, then passed down.

Holds: `History.of(space, trials)`. Imports: space, trial, numpy.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tinybo.space import Space
from tinybo.trial import Trial, TrialState


def finite_value(t: Trial) -> float | None:
  """The value of a complete trial when it is a finite number, else None (pending, failed, NaN or not a number)."""
  if t.state != TrialState.COMPLETE or t.value is None: return None
  try: v = float(t.value)
  except (TypeError, ValueError): return None
  return v if math.isfinite(v) else None

@dataclass(frozen=True)
class History:
  """Encoded rows (unit cube, [*, space.dim]) of the trials that fit the space; a trial of an edited study that no longer
  fits is skipped, and only counted in n_trials and n_pending.
    X[n, d], y[n]    the complete trials with a finite value, and their values
    X_failed         FAILED trials;  X_pending  PENDING trials
    X_other          every other trial (failed, pending, complete without a finite value): never suggested again
    taken            Space.key of every trial
    n_trials         len(trials);  n_pending  the PENDING trials"""
  X: np.ndarray
  y: np.ndarray
  X_failed: np.ndarray
  X_pending: np.ndarray
  X_other: np.ndarray
  taken: frozenset[tuple]
  n_trials: int
  n_pending: int

  @staticmethod
  def of(space: Space, trials: Sequence[Trial]) -> History:
    complete, values, failed, pending, other, taken = [], [], [], [], [], set()
    for t in trials:
      try: p = space.validate(t.params)
      except (ValueError, TypeError): continue
      taken.add(space.key_valid(p))
      if (v := finite_value(t)) is not None: complete.append(p); values.append(v); continue
      other.append(p)
      if t.state == TrialState.FAILED: failed.append(p)
      if t.state == TrialState.PENDING: pending.append(p)
    enc = space.encode_valid
    return History(enc(complete), np.array(values, dtype=np.float64), enc(failed), enc(pending), enc(other), frozenset(taken), len(trials),
                   sum(t.state == TrialState.PENDING for t in trials))
