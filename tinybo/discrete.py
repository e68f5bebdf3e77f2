"""Small discrete spaces: the acquisition scored on every configuration. A space of only Int and Categorical parameters
with at most ENUMERATE_MAX configurations is enumerated once; each suggestion then scores every configuration that is
neither observed nor pending and takes the best. The result is the exact maximizer, and it can never be a taken point:
the continuous optimizer, which rounds and hill-climbs, keeps landing on taken points once most of a small space is
tried, and a taken point is no suggestion.
Holds: ENUMERATE_MAX, `enumerable`, `all_configs`, `best_untaken`. Imports: optim_acqf (the evaluator, match_rows),
strategies (the grid), space, numpy.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from tinygrad import Tensor

from tinybo.optim_acqf import AcquisitionEvaluator, match_rows
from tinybo.space import FLOAT, Space
from tinybo.strategies import SearchExhausted, _grid

# Scoring m configurations is ceil(m / n_raw) replays of the program that scores the optimizer's n_raw (1024) raw
# candidates, already compiled: 4096 configurations cost 4 replays, less than one ascent (25 value-and-gradient steps on
# 10 starts) plus the local search. Past that the enumeration (a Python dict per configuration) and the scoring grow
# linearly while the optimizer's cost does not, and a space that large is rarely near exhaustion within a study.
ENUMERATE_MAX = 4096

def enumerable(space: Space) -> bool:
  """Whether the space has no float column (a Float with a step is an ordered discrete one) and at most ENUMERATE_MAX valid
  configurations."""
  return space.dim > 0 and not (np.asarray(space.kinds) == FLOAT).any() and space.count() <= ENUMERATE_MAX

def all_configs(space: Space) -> np.ndarray:
  """Encoded rows [count, dim] of every valid configuration of a discrete space (inactive parameters at their fill)."""
  return space.encode_valid(list(_grid(space, None)))

def best_untaken(posterior: Callable, state: Sequence[Tensor], X_all: np.ndarray, avoid: np.ndarray, *, best: float,
                 acquisition: str, beta: float, bucket: int = 1024, augment: Callable[[np.ndarray], np.ndarray] | None = None
                 ) -> tuple[np.ndarray, float]:
  """The row of X_all with the largest acquisition among those not in avoid (observed or pending rows), and its value.
  `augment`: the map of the rows to the posterior's inputs (tree.py's extra columns, seen.py's narrower ones). Raises
  SearchExhausted when every row is taken, FloatingPointError when no untaken row has a finite acquisition."""
  new = np.flatnonzero(~match_rows(X_all, avoid))
  if len(new) == 0: raise SearchExhausted(f"all {len(X_all)} configurations of the space have been tried; widen the space")
  vals = AcquisitionEvaluator(posterior, state, acquisition, best, beta, augment).values(X_all[new], bucket=bucket)
  i = int(np.argmax(vals))
  if not np.isfinite(vals[i]): raise FloatingPointError(f"the acquisition is not finite on any of the {len(new)} untaken configurations")
  return X_all[new[i]], float(vals[i])
