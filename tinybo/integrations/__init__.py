"""Bridges to other tuning frameworks: `tinybo.integrations.ray.TinyBOSearch` (a Ray Tune Searcher) and
`tinybo.integrations.optuna.TinyBOSampler` (an Optuna sampler). Both drive a tinybo strategy through the Strategy
protocol (`suggest(space, trials, n, seed=..., minimize=...)`), so the GP sees the same unit-cube encoding and the same
pending-trial handling as tb.Optimizer.

This module holds what they share: a Codec maps one foreign parameter (a quantized float, an int with a step, a
categorical of arbitrary objects) onto a tinybo parameter and back; a strategy that learns from learning curves
(`tinybo.optimizer.takes_reports`: its suggest takes `reports=`, {trial id: [Report, ...]}) gets the reports of stopped
and running trials from both, the others plain trials. `conditions.py` infers a define-by-run tree.
Imports: space (the parameter types), numpy (a random seed).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinybo.space import Categorical, Float, Int


@dataclass(frozen=True)
class Codec:
  """One foreign parameter as a tinybo parameter. kind "float"/"int": the same value; "grid": value = low + i*step
  searched as the integer index i (quantized floats, ints with a step); "round": value = k*step in [low, high],
  searched as the log-scale integer k (log-quantized Ray domains: two proposals are never one value); "choice": the
  index of a choice, so choices of any type (lists, None, objects) work and never need to be JSON."""
  param: Float | Int | Categorical
  kind: str
  low: float = 0.0
  step: float = 1.0
  high: float = 0.0
  choices: tuple = ()
  integer: bool = False   # grid values are ints

  def to_tb(self, v: Any) -> Any:
    """The tinybo value of a foreign value; a value the foreign parameter cannot take (an int that is not whole, a
    quantized value off its grid or outside it) is a ValueError, never silently moved to another point."""
    if self.kind == "choice": return choice_index(self.choices, v)
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
      lo, hi = (self.low, self.high) if self.kind in ("grid", "round") else (self.param.low, self.param.high)
      raise ValueError(f"value {v!r} is not a finite number; give a number in [{lo!r}, {hi!r}]")
    if self.kind == "float": return float(v)
    if self.kind == "int": return _whole(v)
    if self.kind == "grid": return self._grid_index(v)
    if not self.low - 1e-9 * self.step <= v <= self.high + 1e-9 * self.step:   # "round": k of k*step
      raise ValueError(f"value {v!r} is outside [{self.low!r}, {self.high!r}]; give a value inside the bounds")
    self._check_multiple(v)
    return min(max(int(round(v / self.step)), self.param.low), self.param.high)

  def _grid_index(self, v: Any) -> int:
    if abs(v - self.high) <= max(1e-6 * self.step, 1e-14 * abs(v)): return self.param.high   # the last point may be clipped to high
    k = round((v - self.low) / self.step)
    if not 0 <= k <= self.param.high: raise ValueError(f"value {v!r} is outside [{self.low!r}, {self.high!r}]; give a value inside the bounds")
    self._check_multiple(v)
    return int(k)

  def _check_multiple(self, v: Any) -> None:
    k = (v - self.low) / self.step
    if abs(k - round(k)) > max(1e-6, 1e-14 * abs(v) / self.step):   # float noise, also far from 0
      first = 0 if self.kind == "grid" else self.param.low   # a "round" index counts multiples from 0, not from low
      near = [self.from_tb(first + i) for i in (math.floor(k), math.ceil(k)) if self.param.low <= first + i <= self.param.high]
      raise ValueError(f"value {v!r} is not a multiple of the step {self.step!r} from {self.low!r}; use {' or '.join(map(repr, near))}")

  def from_tb(self, v: Any) -> Any:
    if self.kind == "float": return float(v)
    if self.kind == "int": return int(v)
    if self.kind == "grid":
      x = min(self.low + int(v) * self.step, self.high)
      return int(round(x)) if self.integer else float(round(x, 12))  # 0.1 * 3 -> 0.3, not 0.30000000000000004
    if self.kind == "round":
      x = int(v) * self.step
      return int(round(x)) if self.integer else float(round(x, 12))
    return self.choices[int(v)]

def _whole(v: Any) -> int:
  if float(v) != round(float(v)): raise ValueError(f"value {v!r} is not a whole number; give an integer")
  return int(round(v))

def resolve_seed(seed: Any) -> int:
  """A bridge's seed as an int; None draws a random one (as Optuna's and Ray's own samplers take it)."""
  if seed is None: return int(np.random.SeedSequence().entropy % (2**31))
  if isinstance(seed, bool) or not isinstance(seed, numbers.Integral): raise TypeError(f"seed={seed!r}: use an int, or None for a random seed")
  return int(seed)

def float_codec(low: float, high: float, log: bool = False) -> Codec: return Codec(Float(float(low), float(high), log), "float")
def int_codec(low: int, high: int, log: bool = False) -> Codec: return Codec(Int(int(low), int(high), log), "int")

def grid_codec(low: float, high: float, step: float, integer: bool) -> Codec:
  """Values low, low+step, ... <= high (the last one clipped to high when the range is not a multiple of step)."""
  n = int(math.floor((high - low) / step + 1e-9))
  if low + n * step < high - 1e-9 * max(1.0, abs(high)): n += 1   # high itself is reachable: the last point is clipped to it
  return Codec(Int(0, n), "grid", low=low, step=step, high=high, integer=integer)

def round_codec(low: float, high: float, step: float, integer: bool) -> Codec:
  """The multiples of step in [low, high] (both multiples of step, low > 0) on a log scale: the integer k of k*step,
  Int(low/step, high/step, log=True), so every proposal is a distinct value."""
  k_low, k_high = int(round(low / step)), int(round(high / step))
  if k_high > 2**46:
    raise ValueError(f"[{low}, {high}] holds {k_high - k_low + 1} multiples of q={step}, more than a log-scale integer can index "
                     f"(2**46); use a larger q, or a log domain without q")
  return Codec(Int(k_low, k_high, log=True), "round", low=low, step=step, high=high, integer=integer)

def choice_codec(choices: Any) -> Codec:
  choices = tuple(choices)
  if not choices: raise ValueError("a categorical parameter needs at least one choice")
  return Codec(Categorical(list(range(len(choices)))), "choice", choices=choices)

def choice_index(choices: tuple, v: Any) -> int:
  """Index of v among choices: an exact type match first (so True is not 1), then plain equality."""
  for i, c in enumerate(choices):
    if type(c) is type(v) and _eq(c, v): return i
  for i, c in enumerate(choices):
    if _eq(c, v): return i
  raise ValueError(f"value {v!r} is not one of the choices {list(choices)}")

def _eq(a: Any, b: Any) -> bool:
  if _nan(a) and _nan(b): return True   # a nan choice is itself (Optuna matches it so too)
  try: return bool(a == b)
  except Exception: return a is b   # numpy arrays and other objects without a plain ==

def _nan(v: Any) -> bool:
  try: return isinstance(v, numbers.Real) and math.isnan(v)
  except (TypeError, ValueError): return False

