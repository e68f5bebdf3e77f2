"""Strategies: one protocol, `suggest(space, trials, n, *, seed, minimize) -> list[dict]`, plus Random and Grid.

A strategy is stateless between calls as far as results go: it derives its RNG from the seed and the history, so the
same seed and history give the same suggestions and a resumed study continues the same way. (tb.GP adds one input, its
own last fit, which warm-starts the next: after a reopen its first fit is cold and it may continue on another path.)
Holds: Strategy, SearchExhausted, History (the trials read once per suggestion), Random, Grid and the helpers the GP
strategy shares (`random_configs`, `history_rng`, `n_configs`, `exhausted`: the error when nothing new is left).
Imports: space, trial, numpy; no strategy (bo.py imports this module, optimizer.py both).
"""
from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np

from tinybo.space import Categorical, Int, Space, all_values, n_values
from tinybo.trial import Trial, TrialState


class SearchExhausted(RuntimeError):
  """Raised by suggest when every configuration the strategy can produce has been tried."""

@runtime_checkable
class Strategy(Protocol):
  def suggest(self, space: Space, trials: Sequence[Trial], n: int, *, seed: int, minimize: bool) -> list[dict]: ...

def finite_value(t: Trial) -> float | None:
  """The value of a complete trial when it is a finite number, else None (pending, failed, NaN or not a number)."""
  if t.state != TrialState.COMPLETE or t.value is None: return None
  try: return v if math.isfinite(v := float(t.value)) else None
  except (TypeError, ValueError): return None

def unmeasured(t: Trial) -> bool:
  """A stopped trial without a value: it ended before it measured anything (an Optuna trial pruned before any report;
  tinybo's own stop() needs a report). Taken, never proposed again, but no observation: it holds no design slot, and
  the GP fantasizes it at its posterior mean, as a pending trial."""
  return t.state == TrialState.STOPPED and t.value is None

@dataclass(frozen=True)
class History:
  """A study's trials as the strategies read them, built once at the top of a suggestion (every trial validated and
  encoded once) and passed down: encoded rows [*, space.dim] of the trials that fit the space (one of an edited study
  that does not is only counted, in n_trials and n_pending). X[n, d], y[n]: the complete trials with a finite value and
  their values; X_failed: FAILED trials where no other trial runs; X_pending: PENDING and `unmeasured` trials; X_other: every
  trial not in X (never suggested again); taken: their Space.key; n_stopped: STOPPED trials with a value (ended early:
  their values are at an earlier step, not in y); rows: the index in `trials` of each row of X."""
  X: np.ndarray; y: np.ndarray; X_failed: np.ndarray; X_pending: np.ndarray; X_other: np.ndarray
  taken: frozenset[tuple]; n_trials: int; n_pending: int; n_stopped: int = 0; rows: tuple[int, ...] = ()

  @staticmethod
  def of(space: Space, trials: Sequence[Trial]) -> History:
    complete, values, failed, pending, other, taken, rows = [], [], [], [], [], set(), []
    valid = []
    for i, t in enumerate(trials):
      try: p = space.validate(t.params)
      except (ValueError, TypeError): continue
      valid.append((i, t, p, space.key_valid(p)))
    # a failed trial is "bad here" only where every trial at its configuration failed: one run again (a requeue's copy,
    # after Ctrl-C too) or with a result there told nothing about the configuration; the others say what is known there
    runs = {key for _, t, _, key in valid if t.state != TrialState.FAILED}
    for i, t, p, key in valid:
      taken.add(key)
      if (v := finite_value(t)) is not None: complete.append(p); values.append(v); rows.append(i); continue
      other.append(p)
      if t.state == TrialState.FAILED and key not in runs: failed.append(p)
      # a stopped trial without a value measured nothing: fantasized at the posterior mean as a pending one (no value,
      # no "bad here"), so the acquisition does not return beside it again and again
      if t.state == TrialState.PENDING or unmeasured(t): pending.append(p)
    enc = space.encode_valid
    n_stopped = sum(t.state == TrialState.STOPPED and not unmeasured(t) for t in trials)
    return History(enc(complete), np.array(values, dtype=np.float64), enc(failed), enc(pending), enc(other), frozenset(taken), len(trials),
                   sum(t.state == TrialState.PENDING for t in trials), n_stopped, tuple(rows))

def exhausted(total: float, n_pending: int, what: str = "configurations of the space", fix: str = "widen the space") -> SearchExhausted:
  """The error of a strategy with nothing new left: all `total` of `what` are taken, n_pending of them by pending trials
  (a batch, or other workers, still running them: taken, not yet tried)."""
  taken = f"have been tried or are pending ({n_pending} pending)" if n_pending else "have been tried"
  return SearchExhausted(f"all {int(total)} {what} {taken}; {fix}")

def seed_words(seed: int | None) -> list[int]:
  """A seed as the 32-bit words numpy's SeedSequence takes: [low] for 0 <= seed < 2**32 (what such seeds always gave),
  [low, high] for the others (64 bits, two's complement), so seeds that agree in their low 32 bits (0 and 2**32, -1 and
  2**32 - 1) give different sequences."""
  v = 0 if seed is None else int(seed) % 2**64
  return [v & 0xFFFFFFFF] if v < 2**32 else [v & 0xFFFFFFFF, v >> 32]

def seed32(seed: int | None) -> int:
  """A seed folded to one 32-bit word (the GP fit's restarts take one): itself below 2**32, else its words mixed."""
  w = seed_words(seed)
  return w[0] if len(w) == 1 else (w[0] ^ (w[1] * 0x9E3779B1)) & 0xFFFFFFFF

def history_rng(seed: int | None, n_trials: int, salt: int = 0) -> np.random.Generator:
  """An RNG that depends only on the seed and how many trials exist: deterministic, and different at every step."""
  words = seed_words(seed)
  return np.random.default_rng([salt, words[0], n_trials, *words[1:]])

def n_configs(space: Space) -> float:
  """Number of distinct valid configurations (inf when the space has a float; inactive parameters counted as absent)."""
  return space.count()

def random_configs(space: Space, rng: np.random.Generator, taken: set, n: int) -> list[dict]:
  """n uniform random configurations (log-uniform for log params) whose keys are not in `taken`; adds theirs to it."""
  out: list[dict] = []
  for rnd in range(64):  # rejection sampling; only a nearly-full discrete space needs more than one round
    for p in space.decode_many(space.sample(rng, max(2 * n, 16))):
      if (k := space.key(p)) not in taken: taken.add(k); out.append(p)
      if len(out) == n: return out
    if n_configs(space) <= 20_000 and rnd >= 3: break  # small discrete space: enumerate what is left instead
  if n_configs(space) <= 20_000:
    left = [p for p in _grid(space, None) if space.key(p) not in taken]
    if not left and not out: raise SearchExhausted(f"all {int(n_configs(space))} configurations of the space have been tried; widen the space")
    more = [left[i] for i in sorted(rng.permutation(len(left))[:n - len(out)])]
  else: more = space.decode_many(space.sample(rng, n - len(out)))  # an astronomically unlucky draw: allow repeats
  for p in more: taken.add(space.key(p))
  return out + more

def _key(space: Space, params: Any) -> tuple | None:
  """space.key of a trial's params, or None where they do not fit the space (an edited study)."""
  try: return space.key(params)
  except (ValueError, TypeError): return None

class Random:
  """Uniform random search (log-uniform for log params). `Random(seed=...)` overrides the optimizer's seed."""
  def __init__(self, seed: int | None = None):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
      raise TypeError(f"Random(seed={seed!r}); use an int or None")
    self.seed = seed

  def suggest(self, space: Space, trials: Sequence[Trial], n: int, *, seed: int = 0, minimize: bool = True) -> list[dict]:
    h = History.of(space, trials)
    if n_configs(space) <= len(h.taken): raise exhausted(n_configs(space), h.n_pending)
    return random_configs(space, history_rng(seed if self.seed is None else self.seed, h.n_trials, salt=1), set(h.taken), n)

  def __repr__(self) -> str: return f"Random(seed={self.seed!r})"

def _axis(p: Any, points_per_float: int | None) -> list:
  if isinstance(p, Categorical) or n_values(p) <= (math.inf if points_per_float is None else points_per_float): return all_values(p)
  # floats (and wide ints, stepped floats of many steps): evenly spaced in the encoded cube, so log params get log-spaced
  # points; exact at the bounds
  space = Space({"p": replace(p, when=None)})   # the same parameter (a step kept), unconditioned
  vals = [q["p"] for q in space.decode_many(np.linspace(0.0, 1.0, points_per_float).reshape(-1, 1))]
  return list(dict.fromkeys(vals))  # wide log ints can round two points to the same integer

def _axes(space: Space, points_per_float: int | None) -> dict[str, list]:
  """Each searchable parameter's grid values. A wide Int that others are conditioned on keeps every value a condition
  names, so the grid reaches each branch."""
  axes = {k: _axis(space.params[k], points_per_float) for k in space.names}
  for when in space.conditions.values():
    for q, vals in when.items():
      if q in space.params and isinstance(space.params[q], Int): axes[q] = sorted(set(axes[q]) | set(vals))
  return axes

def _grid(space: Space, points_per_float: int | None) -> Iterator[dict]:
  """Every valid combination of the axes once, row-major over the parameters in dependency order (the user's order when
  no parameter comes before its parent); a parameter inactive in a combination is absent, never enumerated."""
  axes = _axes(space, points_per_float)
  if not space.conditions:
    for combo in itertools.product(*(axes[k] for k in space.names)):
      vals = dict(zip(space.names, combo))
      yield {k: space.constants[k] if k in space.constants else vals[k] for k in space.order}
    return
  order = space.dependency_order
  def rec(i: int, vals: dict) -> Iterator[dict]:
    if i == len(order):
      yield {k: space.constants[k] if k in space.constants else vals[k] for k in space.order if k in vals or k in space.constants}
      return
    k = order[i]
    if k not in space.active(vals): yield from rec(i + 1, vals); return  # parents come first: vals decides k
    for v in axes[k]: yield from rec(i + 1, {**vals, k: v})
  yield from rec(0, {})

class Grid:
  """Every combination of a grid exactly once, in a deterministic order (row-major over the space's parameter order),
  skipping configurations already in the study. Floats get `points_per_float` points (log-spaced for log params), ints
  and floats with a step all their values when they have at most that many (else that many of them, evenly spread),
  categoricals every choice. Conditional parameters are enumerated
  only where active. Raises SearchExhausted when done."""
  def __init__(self, points_per_float: int = 5):
    # any integer (numpy's too, as Random's seed), never a bool
    if isinstance(points_per_float, bool) or not isinstance(points_per_float, numbers.Integral) or points_per_float < 2:
      raise ValueError(f"Grid(points_per_float={points_per_float!r}): needs an int >= 2 so both bounds are included")
    self.points_per_float = int(points_per_float)

  def points(self, space: Space) -> Iterator[dict]:
    """The full grid, in order."""
    return _grid(space, self.points_per_float)

  def size(self, space: Space) -> int:
    return int(space.count(_axes(space, self.points_per_float)))

  def suggest(self, space: Space, trials: Sequence[Trial], n: int, *, seed: int = 0, minimize: bool = True) -> list[dict]:
    taken = History.of(space, trials).taken
    out = list(itertools.islice((p for p in self.points(space) if space.key(p) not in taken), n))
    if not out:
      pending = {k for t in trials if t.state == TrialState.PENDING and (k := _key(space, t.params)) is not None}
      raise exhausted(self.size(space), sum(space.key(p) in pending for p in self.points(space)), "grid points",
                      "use a finer Grid(points_per_float=...) or another strategy")
    return out

  def __repr__(self) -> str: return f"Grid(points_per_float={self.points_per_float!r})"
