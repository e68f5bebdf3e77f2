"""Strategies: one protocol, `suggest(space, trials, n, *, seed, minimize) -> list[dict]`, plus Random and Grid.

A strategy is stateless between calls as far as results go: it derives its RNG from the seed and the history, so the
same seed and history give the same suggestions and a resumed study continues the same way.
"""
from __future__ import annotations

import itertools
import numbers
from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from tinybo.space import Categorical, Float, Int, Space
from tinybo.trial import Trial


class SearchExhausted(RuntimeError):
  """Raised by suggest when every configuration the strategy can produce has been tried."""

@runtime_checkable
class Strategy(Protocol):
  def suggest(self, space: Space, trials: Sequence[Trial], n: int, *, seed: int, minimize: bool) -> list[dict]: ...

def taken_keys(space: Space, trials: Sequence[Trial]) -> set[tuple]:
  """Keys of every configuration already in the study (pending, complete or failed); params that no longer fit the
  space (an edited study) are skipped rather than fatal."""
  out = set()
  for t in trials:
    try: out.add(space.key(t.params))
    except (ValueError, TypeError): pass
  return out

def history_rng(seed: int | None, trials: Sequence[Trial], salt: int = 0) -> np.random.Generator:
  """An RNG that depends only on the seed and how many trials exist: deterministic, and different at every step."""
  return np.random.default_rng([salt, 0 if seed is None else int(seed) & 0xFFFFFFFF, len(trials)])

def n_configs(space: Space) -> float:
  """Number of distinct valid configurations (inf when the space has a float; inactive parameters counted as absent)."""
  return space.count()

class Random:
  """Uniform random search (log-uniform for log params). `Random(seed=...)` overrides the optimizer's seed."""
  def __init__(self, seed: int | None = None):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
      raise TypeError(f"Random(seed={seed!r}); use an int or None")
    self.seed = seed

  def suggest(self, space: Space, trials: Sequence[Trial], n: int, *, seed: int = 0, minimize: bool = True) -> list[dict]:
    rng = history_rng(seed if self.seed is None else self.seed, trials, salt=1)
    taken, out = taken_keys(space, trials), []
    for rnd in range(64):  # rejection sampling; only a nearly-full discrete space needs more than one round
      for p in space.decode_many(space.sample(rng, max(2 * n, 16))):
        if (k := space.key(p)) not in taken: taken.add(k); out.append(p)
        if len(out) == n: return out
      if n_configs(space) <= 20_000 and rnd >= 3: break  # small discrete space: enumerate what is left instead
    if n_configs(space) <= 20_000:
      left = [p for p in _grid(space, None) if space.key(p) not in taken]
      if not left and not out: raise SearchExhausted(f"all {int(n_configs(space))} configurations of the space have been tried; widen the space")
      out += [left[i] for i in sorted(rng.permutation(len(left))[:n - len(out)])]
      return out
    return out + space.decode_many(space.sample(rng, n - len(out)))  # an astronomically unlucky draw: allow repeats

def _axis(p: Any, points_per_float: int | None) -> list:
  if isinstance(p, Categorical): return list(p.choices)
  if isinstance(p, Int) and (points_per_float is None or p.high - p.low + 1 <= points_per_float): return list(range(p.low, p.high + 1))
  # floats (and wide ints): evenly spaced in the encoded cube, so log params get log-spaced points; exact at the bounds
  space = Space({"p": Float(p.low, p.high, p.log) if isinstance(p, Float) else Int(p.low, p.high, p.log)})
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
  all their values when they have at most that many, categoricals every choice. Conditional parameters are enumerated
  only where active. Raises SearchExhausted when done."""
  def __init__(self, points_per_float: int = 5):
    if not isinstance(points_per_float, int) or points_per_float < 2:
      raise ValueError(f"Grid(points_per_float={points_per_float!r}): needs an int >= 2 so both bounds are included")
    self.points_per_float = points_per_float

  def points(self, space: Space) -> Iterator[dict]:
    """The full grid, in order."""
    return _grid(space, self.points_per_float)

  def size(self, space: Space) -> int:
    return int(space.count(_axes(space, self.points_per_float)))

  def suggest(self, space: Space, trials: Sequence[Trial], n: int, *, seed: int = 0, minimize: bool = True) -> list[dict]:
    taken = taken_keys(space, trials)
    out = list(itertools.islice((p for p in self.points(space) if space.key(p) not in taken), n))
    if not out:
      raise SearchExhausted(f"all {self.size(space)} grid points have been tried; use a finer Grid(points_per_float=...) or another strategy")
    return out

def resolve_strategy(strategy: str | Strategy) -> Strategy:
  """'gp' | 'random' | 'grid' | a strategy object -> a strategy object."""
  if isinstance(strategy, str):
    name = strategy.lower()
    if name == "random": return Random()
    if name == "grid": return Grid()
    if name == "gp":
      try: from tinybo.bo import GP  # noqa: I001  lazy: the GP stack pulls in tinygrad, random/grid do not need it
      except ImportError as e:
        raise ImportError(f"strategy 'gp' needs tinybo.bo, which failed to import ({e}); use strategy='random' or 'grid'") from e
      return GP()
    raise ValueError(f"unknown strategy {strategy!r}; use 'gp', 'random', 'grid' or a strategy object such as tb.Random()")
  if callable(getattr(strategy, "suggest", None)): return strategy
  raise TypeError(f"strategy {strategy!r} has no suggest(space, trials, n, *, seed, minimize) method; pass 'gp', 'random', 'grid' or a strategy")
