"""Search spaces: Float, Int, Categorical parameters and constants, and the exact map to and from the unit cube.

Every strategy works on the same encoding: floats linear or log in [0, 1], each integer owns an equal slice of [0, 1]
(in log space for log ints), as does each value of a Float with a step, categoricals are one-hot blocks, constants are
never encoded.

Conditional parameters: `when={"optimizer": "sgd"}` makes a parameter exist only while its parent (an Int or Categorical,
itself possibly conditional) takes one of the listed values; several parents must all hold. A configuration holds exactly
its active parameters. Inactive columns encode to a fixed value (INACTIVE_FILL: 0.5 for float/int columns, an all-zero
one-hot block for categoricals), so every configuration has exactly one encoding.
Holds: Float, Int, Categorical, Space, INACTIVE_FILL, copied_constant (a trial's own copy of a list or dict constant), the
column kinds FLOAT, INT, CAT, and a parameter's values: n_values, all_values, and a stepped one's (stepped) n_steps, step_values.
Imports: numpy; every other module builds on it.
"""
from __future__ import annotations

import copy
import dataclasses
import heapq
import itertools
import json
import math
import numbers
import struct
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FLOAT, INT, CAT = 0, 1, 2

INACTIVE_FILL = 0.5  # the encoded value of an inactive float or int column (an inactive categorical block is all zeros)

def _when_pairs(when: Any) -> Any:
  """`when` as the user wrote it -> ((parent, (value, ...)), ...), hashable and order-preserving; None for no condition.
  Anything malformed is returned unchanged so that the Space check can name the parameter in its error."""
  if when is None or (isinstance(when, Mapping) and not when): return None
  if isinstance(when, tuple) and all(isinstance(c, tuple) and len(c) == 2 and isinstance(c[1], tuple) for c in when): return when or None
  if not isinstance(when, Mapping): return when
  return tuple((k, tuple(v) if isinstance(v, (list, tuple, range)) else tuple(np.ravel(v).tolist()) if isinstance(v, np.ndarray)
                else v if isinstance(v, (set, frozenset, Mapping, Iterator)) else (v,)) for k, v in when.items())

@dataclass(frozen=True, repr=False)
class Float:
  """A real parameter in [low, high]; log=True searches in log space (needs low > 0). `step=q`: only the values low,
  low + q, ..., high (Optuna's `step`, Ray Tune's quniform; high - low a multiple of q, no log), searched as ordered
  discrete values, as an Int's. `when={"parent": value or [values]}` makes it exist only while each listed parent takes
  one of its values."""
  low: float
  high: float
  log: bool = False
  step: Any = field(default=None, kw_only=True)
  when: Any = field(default=None, kw_only=True)

  def __post_init__(self): object.__setattr__(self, "when", _when_pairs(self.when))
  def __repr__(self) -> str:
    step = f", step={self.step!r}" if self.step is not None else ""
    return _repr(self, f"{self.low!r}, {self.high!r}" + (", log=True" if self.log else "") + step)

@dataclass(frozen=True, repr=False)
class Int:
  """An integer parameter in [low, high] (both included); Int(a, a) is a single value. `step=q`: only low, low + q, ...,
  high (Optuna's `step`, Ray Tune's qrandint; high - low a multiple of q, no log). `when=` as for Float."""
  low: int
  high: int
  log: bool = False
  step: Any = field(default=1, kw_only=True)
  when: Any = field(default=None, kw_only=True)

  def __post_init__(self): object.__setattr__(self, "when", _when_pairs(self.when))
  def __repr__(self) -> str:
    step = f", step={self.step!r}" if self.step != 1 else ""
    return _repr(self, f"{self.low!r}, {self.high!r}" + (", log=True" if self.log else "") + step)

@dataclass(frozen=True, repr=False)
class Categorical:
  """One of a list of choices (str, int, float, bool or None); the choices are one-hot encoded. `when=` as for Float."""
  choices: tuple
  when: Any = field(default=None, kw_only=True)

  def __init__(self, choices: Iterable, *, when: Any = None):
    if isinstance(choices, (set, frozenset)):  # its order changes from process to process: a resumed study would not match
      try: example = f"a list such as {sorted(choices)!r}"
      except TypeError: example = "a list of the choices"
      raise TypeError(f"Categorical({choices!r}): a {type(choices).__name__} has no stable order (it changes from process to process); "
                      f"pass {example}")
    if not isinstance(choices, Iterable): raise TypeError(f"Categorical({choices!r}): choices must be a list, e.g. Categorical(['a', 'b'])")
    # a plain string would silently become a list of characters
    object.__setattr__(self, "choices", (choices,) if isinstance(choices, str) else tuple(choices))
    object.__setattr__(self, "when", _when_pairs(when))

  def __repr__(self) -> str: return _repr(self, repr(list(self.choices)))

def _repr(p: Any, args: str) -> str:
  when = p.when
  if isinstance(when, tuple):  # the normalized pairs, shown as the dict a user writes: one value bare, several as a list
    when = {k: (v[0] if len(v) == 1 else list(v)) if isinstance(v, tuple) else v for k, v in when}
  return f"{type(p).__name__}({args}" + (f", when={when!r})" if when else ")")

Param = Float | Int | Categorical
PARAM_TYPES = (Float, Int, Categorical)

def _is_real(v: Any) -> bool: return isinstance(v, numbers.Real) and not isinstance(v, bool)

def _plain(v: Any) -> Any:
  """numpy scalars -> plain Python scalars (so params are JSON-able and compare cleanly)."""
  return v.item() if isinstance(v, np.generic) else v

def _check_when(name: str, when: Any) -> tuple | None:
  """The shape of a condition: ((parent name, (value, ...)), ...) with at least one value per parent, each parent once."""
  when = _when_pairs(when)
  if when is None: return None
  if not isinstance(when, tuple):
    raise TypeError(f"parameter '{name}': when={when!r} is a {type(when).__name__}; use a dict of parent name -> value or list of values, "
                    f"e.g. when={{'optimizer': 'sgd'}}")
  out, seen = [], set()
  for parent, values in when:
    if not isinstance(parent, str):
      raise TypeError(f"parameter '{name}': condition on {parent!r}, a {type(parent).__name__}; name the parent by its str name")
    if parent in seen: raise ValueError(f"parameter '{name}': two conditions on '{parent}'; merge their values into one list")
    if not isinstance(values, tuple):
      why = (" (it is used up by one reading)" if isinstance(values, Iterator)
             else " (a set has no stable order)" if isinstance(values, (set, frozenset)) else "")
      raise TypeError(f"parameter '{name}': the values of its condition on '{parent}' are a {type(values).__name__}; "
                      f"use a list such as when={{'{parent}': [value, ...]}}{why}")
    if (bad := next((v for v in values if not isinstance(v, Hashable)), None)) is not None:   # a list inside the list, say
      raise TypeError(f"parameter '{name}': its condition on '{parent}' lists {bad!r}, a {type(bad).__name__}; list the values of '{parent}' "
                      f"in one flat list, when={{'{parent}': [value, ...]}}")
    vals = tuple(dict.fromkeys((type(v), _plain(v)) for v in values))
    if not vals:
      raise ValueError(f"parameter '{name}': its condition on '{parent}' lists no values; list the values of '{parent}' that make '{name}' exist")
    seen.add(parent)
    out.append((parent, tuple(v for _, v in vals)))
  return tuple(out)

def _as_float(v: numbers.Real) -> float:
  try: return float(v)
  except OverflowError: return math.inf if v > 0 else -math.inf  # an int beyond float range: reported as not finite

def _is_whole(v: Any) -> bool:
  """v is a real number with an integer value; an int beyond a float's range is one (float() of it would overflow)."""
  return _is_real(v) and (isinstance(v, numbers.Integral) or _as_float(v).is_integer())

# Int values are encoded through float64 with cells from v - 0.5 to v + 0.5: beyond 2**52 a half is no longer exact, and
# every other value decoded to its neighbour
_INT_LIMIT = 2**52 - 1
_INT_RANGE, _LOG_INT_HIGH = 2**52, 2**46   # and a range, a log scale's top, whose every value decodes to itself (tested)
_MIN_FLOAT_VALUES = 2**12   # a Float range holds at least this many float64 values (one of under about 1e-12 relative width does not)

def _ordinal(x: float) -> int:
  """x's position among the float64 values, in order (0.0 and -0.0 both 0): the count of floats between two is a difference."""
  i = struct.unpack("<q", struct.pack("<d", x))[0]
  return i if i >= 0 else -(i & 0x7FFFFFFFFFFFFFFF)

def _check(name: str, p: Param) -> Param:
  """Validate one parameter definition; returns it normalized (plain float/int bounds, the condition's shape)."""
  if isinstance(p, PARAM_TYPES): when = _check_when(name, p.when)
  if isinstance(p, (Float, Int)) and not isinstance(p.log, (bool, np.bool_)):  # "false" from a JSON file is truthy
    raise TypeError(f"parameter '{name}': log={p.log!r}; use True or False")
  if isinstance(p, Float):
    if not (_is_real(p.low) and _is_real(p.high)): raise TypeError(f"parameter '{name}': Float bounds must be numbers, got {p.low!r}, {p.high!r}")
    low, high = _as_float(p.low), _as_float(p.high)
    if not (math.isfinite(low) and math.isfinite(high)): raise ValueError(f"parameter '{name}': Float bounds must be finite, got {low}, {high}")
    if low >= high:
      fix = f"for the one value {low}, use the constant {name!r}: {low}" if low == high else "swap them"
      raise ValueError(f"parameter '{name}': Float needs low < high, got low={low}, high={high}; {fix}")
    if not math.isfinite(high - low):  # the encoding divides by high - low: every value would encode to 0 and decode to high
      raise ValueError(f"parameter '{name}': Float range {high} - {low} is beyond a float's range; rescale it (search x / 1e300, say)")
    if p.log and low <= 0: raise ValueError(f"parameter '{name}': log=True needs low > 0, got low={low}; raise low above 0 or drop log=True")
    if (n := _ordinal(high) - _ordinal(low) + 1) < _MIN_FLOAT_VALUES:   # a search would repeat these few values, as a small Int's
      # from 0 (or -0.0) an offset changes nothing: the range is subnormal, and only a scale brings it to normal floats
      how = (f"an offset (x - {low!r})" if low > 0 else f"an offset (x + {-low!r})" if low < 0 else f"a scaled value (x / {high!r})")
      raise ValueError(f"parameter '{name}': Float({low!r}, {high!r}) holds only {n} distinct float64 values; widen it, search {how} "
                       f"over a wider range, or list the values with Categorical")
    return Float(low, high, bool(p.log), step=_check_step(name, p.step, low, high, bool(p.log)), when=when)
  if isinstance(p, Int):
    for b in (p.low, p.high):
      if not _is_whole(b):
        raise TypeError(f"parameter '{name}': Int bounds must be integers, got {p.low!r}, {p.high!r}; use Float for reals")
    low, high = int(p.low), int(p.high)
    if not (-_INT_LIMIT <= low and high <= _INT_LIMIT):
      raise ValueError(f"parameter '{name}': Int bounds must lie within ±(2**52 - 1) (v ± 0.5 exact in float64), got {low}, {high}; "
                       "rescale it or use Float")
    if low > high: raise ValueError(f"parameter '{name}': Int needs low <= high, got low={low}, high={high}; swap them")
    if high - low > _INT_RANGE:   # the encoding's (v - low) / (high - low) round trip stops being exact past this
      raise ValueError(f"parameter '{name}': Int range {high} - {low} is over 2**52; narrow it or use Float")
    if p.log and low <= 0: raise ValueError(f"parameter '{name}': log=True needs low > 0, got low={low}; raise low to 1 or drop log=True")
    if p.log and high > _LOG_INT_HIGH:   # exp(log(v)) is exact to the integer only up to about here
      raise ValueError(f"parameter '{name}': Int(log=True) needs high <= 2**46, got {high}; drop log=True or use Float(log=True)")
    return Int(low, high, bool(p.log), step=_check_int_step(name, p.step, low, high, bool(p.log)), when=when)
  if isinstance(p, Categorical):
    choices = tuple(_plain(c) for c in p.choices)
    if not choices: raise ValueError(f"parameter '{name}': Categorical needs at least one choice, got none; list the choices")
    for c in choices:
      if not (c is None or isinstance(c, (str, bool, int, float))):
        raise TypeError(f"parameter '{name}': choice {c!r} is a {type(c).__name__}; use str/int/float/bool/None names")
      if isinstance(c, float) and math.isnan(c):  # nan != nan: a trial with it could never be matched to its choice
        raise ValueError(f"parameter '{name}': choice nan can never be matched (nan != nan); use a name such as 'nan' or None")
    if len({(type(c), c) for c in choices}) != len(choices):
      raise ValueError(f"parameter '{name}': choices must be distinct, got {list(choices)}; remove duplicates")
    return Categorical(choices, when=when)
  raise TypeError(f"parameter '{name}': {p!r} is not a Float, Int or Categorical")

def _check_step(name: str, step: Any, low: float, high: float, log: bool) -> float | None:
  """A Float's step, checked against its checked bounds: positive, finite, no log, and high - low a whole number of steps."""
  if step is None: return None
  if not _is_real(step): raise TypeError(f"parameter '{name}': step={step!r} is a {type(step).__name__}; use a positive number such as step=0.1")
  q = _as_float(step)
  if not (math.isfinite(q) and q > 0):
    raise ValueError(f"parameter '{name}': step={step!r}; use a positive finite number such as step={(high - low) / 10!r}")
  if log:
    raise ValueError(f"parameter '{name}': step={step!r} with log=True: the values low + k * step are not evenly spaced on a log scale; "
                     "drop log=True or step")
  slack = _step_slack(low, high, q)
  if slack > 1e-3:   # which also keeps the count of steps under 2**52 (the range is at most twice the larger bound)
    raise ValueError(f"parameter '{name}': step={step!r} is below float precision at {max(abs(low), abs(high))!r}; "
                     f"use step >= {_STEP_EPS * 1e3 * max(abs(low), abs(high)):.3g} or drop step")
  n = (high - low) / q
  if n < 1 - slack: raise ValueError(f"parameter '{name}': step={step!r} is larger than high - low = {high - low!r}; use a smaller step")
  if abs(n - round(n)) > max(slack, 1e-9 * n):
    below = float(_round_to(low + math.floor(n) * q, _digits(low, q)))
    raise ValueError(f"parameter '{name}': high - low = {high - low!r} is not a multiple of step={step!r}; use high={below!r} or a step "
                     "that divides the range")
  return q

_STEP_EPS = 16 * np.finfo(np.float64).eps

def _step_slack(low: float, high: float, q: float) -> float:
  """How far from a whole number of steps float rounding can put (v - low) / q for a v meant to be on the lattice: a
  billionth of a step, or more where the bounds are large against the step (-99.96 + 1e-05 is 0.99999999858 steps)."""
  return max(1e-9, _STEP_EPS * max(abs(low), abs(high)) / q)

def _check_int_step(name: str, step: Any, low: int, high: int, log: bool) -> int:
  """An Int's step, checked against its checked bounds: a whole number >= 1, no log beside one above 1, and high - low a
  whole number of steps."""
  if isinstance(step, bool) or not _is_whole(step) or not 1 <= step <= _INT_RANGE:
    raise (TypeError if not _is_real(step) or isinstance(step, bool) else ValueError)(
      f"parameter '{name}': step={step!r}; an Int's step is a whole number >= 1, such as step=2")
  q = int(step)
  if q > 1 and log:
    raise ValueError(f"parameter '{name}': step={q} with log=True: the values low + k * step are not evenly spaced on a log scale; "
                     "drop log=True or step")
  if (high - low) % q:
    raise ValueError(f"parameter '{name}': high - low = {high - low} is not a multiple of step={q}; use high={low + (high - low) // q * q} or "
                     "a step that divides the range")
  return q

def _digits(*xs: float) -> int | None:
  """The decimal places that write every x exactly as Python prints it (0.05 -> 2, 1e-05 -> 5), or None past 15:
  low + k * step is rounded to them, so that 0.1 + 2 * 0.1 is the 0.3 a user writes, not 0.30000000000000004."""
  out = 0
  for x in xs:
    mantissa, _, exp = repr(float(x)).partition("e")
    out = max(out, len(mantissa.partition(".")[2].rstrip("0")) - (int(exp) if exp else 0))
  return out if out <= 15 else None

def _round_to(v: Any, digits: int | None) -> Any: return v if digits is None else np.round(v, digits)

def stepped(p: Param) -> bool:
  """A Float with a step, or an Int with one above 1: its values are low + k * step, k = 0 .. n_steps(p), and its column
  encodes the step index k as Int(0, n_steps) encodes an integer."""
  return isinstance(p, Float) and p.step is not None or isinstance(p, Int) and p.step > 1

def n_steps(p: Float | Int) -> int:
  """How many steps a stepped parameter's values span: k runs 0 .. n_steps(p)."""
  return round((p.high - p.low) / p.step) if isinstance(p, Float) else (p.high - p.low) // p.step

def step_values(p: Float | Int, k: np.ndarray) -> np.ndarray:
  """A stepped parameter's values at step indices k [m] (ints in 0 .. n_steps): low + k * step, for a Float to the
  decimals that write low and step and the ends exactly low and high. The one place a stepped value is made: decode and
  validate agree to the bit."""
  k = np.asarray(k, dtype=np.int64)
  if isinstance(p, Int): return p.low + k * p.step
  v = _round_to(p.low + k * p.step, _digits(p.low, p.step))
  return np.where(k == 0, p.low, np.where(k == n_steps(p), p.high, np.clip(v, p.low, p.high)))

def n_values(p: Param) -> float:
  """How many values a parameter takes: the choices, the integers, a stepped parameter's steps; inf for a Float without."""
  if isinstance(p, Categorical): return float(len(p.choices))
  if stepped(p): return float(n_steps(p) + 1)
  return float(p.high - p.low + 1) if isinstance(p, Int) else math.inf

def all_values(p: Param) -> list:
  """Every value of a parameter with finitely many (n_values), in order; call it only where that count is small."""
  if isinstance(p, Categorical): return list(p.choices)
  if stepped(p): return step_values(p, np.arange(n_steps(p) + 1)).tolist()
  if isinstance(p, Int): return list(range(p.low, p.high + 1))
  raise ValueError(f"{p!r} takes infinitely many values; give it a step, or list values of your own")

# ***** per-parameter vectorized encode/decode: the only place the encoding is defined *****

def _int_bounds(p: Int) -> tuple[float, float]:
  return (math.log(p.low - 0.5), math.log(p.high + 0.5)) if p.log else (p.low - 0.5, p.high + 0.5)

def _enc(p: Param, v: np.ndarray) -> np.ndarray:
  """values [m] (floats/ints) or choice indices (categorical) -> encoded columns [m, width]; a stepped parameter's step
  index k as Int(0, n_steps) encodes k: the centre of the k-th of n_steps + 1 equal cells"""
  if stepped(p):
    k = np.clip(np.rint((np.asarray(v, dtype=np.float64) - p.low) / p.step), 0, n_steps(p))
    return ((k + 0.5) / (n_steps(p) + 1))[:, None]
  if isinstance(p, Float):
    lo, hi = (math.log(p.low), math.log(p.high)) if p.log else (p.low, p.high)
    return np.clip(((np.log(v) if p.log else v) - lo) / (hi - lo), 0.0, 1.0)[:, None]
  if isinstance(p, Int):
    lo, hi = _int_bounds(p)
    return np.clip(((np.log(v) if p.log else v) - lo) / (hi - lo), 0.0, 1.0)[:, None]
  out = np.zeros((len(v), len(p.choices)))
  out[np.arange(len(v)), v.astype(np.int64)] = 1.0
  return out

def _dec(p: Param, u: np.ndarray) -> np.ndarray:
  """encoded columns [m, width] -> float values, int values, or choice indices [m]"""
  if stepped(p):   # as Int(0, n_steps) decodes
    t = -0.5 + np.clip(u[:, 0], 0.0, 1.0) * (n_steps(p) + 1)
    return step_values(p, np.clip(np.floor(t + 0.5), 0, n_steps(p)))
  if isinstance(p, Float):
    u = np.clip(u[:, 0], 0.0, 1.0)
    # exp(log(high)) can overshoot high by an ulp: the clip keeps decoded values inside the bounds
    v = np.exp(math.log(p.low) + u * (math.log(p.high) - math.log(p.low))) if p.log else p.low + u * (p.high - p.low)
    return np.where(u == 0.0, p.low, np.where(u == 1.0, p.high, np.clip(v, p.low, p.high)))  # the ends decode exactly to the bounds
  if isinstance(p, Int):
    lo, hi = _int_bounds(p)
    t = lo + np.clip(u[:, 0], 0.0, 1.0) * (hi - lo)
    return np.clip(np.rint(np.exp(t)) if p.log else np.floor(t + 0.5), p.low, p.high).astype(np.int64)
  return np.argmax(u, axis=1)

def _width(p: Param) -> int: return len(p.choices) if isinstance(p, Categorical) else 1
def _kind(p: Param) -> int:   # a stepped Float's column is an ordered discrete one, as an Int's
  return CAT if isinstance(p, Categorical) else FLOAT if isinstance(p, Float) and p.step is None else INT

def _to_dict(p: Param) -> dict:
  # no "when" key for an unconditional parameter: the JSON of a space without conditions is what older versions wrote
  when = {"when": {q: list(v) for q, v in p.when}} if p.when else {}
  if isinstance(p, Categorical): return {"type": "categorical", "values": list(p.choices), **when}
  step = {"step": p.step} if p.step not in (None, 1) else {}   # none, or an Int's 1: the JSON older versions wrote
  return {"type": "float" if isinstance(p, Float) else "int", "min": p.low, "max": p.high, "log": p.log, **step, **when}

_DICT_KEYS = {"type", "min", "max", "low", "high", "log", "step", "values", "choices", "when"}

def _from_dict(name: str, d: Mapping) -> Param:
  t = str(d.get("type", "")).lower()
  unknown = set(d) - _DICT_KEYS
  if unknown: raise ValueError(f"parameter '{name}': unknown keys {sorted(unknown)}; use type, min, max, log, step, values, when")
  if "type" not in d: raise ValueError(f"parameter '{name}': no 'type' in {dict(d)}; add \"type\": \"float\", \"int\" or \"categorical\"")
  if t in ("float", "int"):
    low, high = d.get("min", d.get("low")), d.get("max", d.get("high"))
    if low is None or high is None: raise ValueError(f"parameter '{name}': type {t!r} needs 'min' and 'max', got {dict(d)}")
    if t == "float": return Float(low, high, d.get("log", False), step=d.get("step"), when=d.get("when"))
    return Int(low, high, d.get("log", False), step=1 if d.get("step") is None else d["step"], when=d.get("when"))
  if t in ("categorical", "choice"):
    values = d.get("values", d.get("choices"))
    if values is None: raise ValueError(f"parameter '{name}': type 'categorical' needs 'values', got {dict(d)}")
    return Categorical(values, when=d.get("when"))
  raise ValueError(f"parameter '{name}': unknown type {d.get('type')!r}; use 'float', 'int' or 'categorical'")

_MAX_LISTED = 4096  # branches() lists each parent's values on a branch; an int parent with more on one branch gives none

@dataclass
class Branch:
  """A branch of a conditional space: a box of parent values on which the set of active parameters is fixed.
  `active`: the searchable parameters that exist on it; `values`: for each active parent (a parameter others are
  conditioned on), the values it takes on this branch; `mask`: bool[dim], the active columns. Two branches can share an
  active set when no single box of parent values gives it."""
  active: frozenset
  values: dict
  mask: np.ndarray

class Space:
  """An ordered set of named parameters plus constants. `Space({"lr": Float(1e-4, 1e-1, log=True), "epochs": 5})`.
  A parameter with `when={"parent": values}` exists only while each parent is active and takes one of its values."""
  def __init__(self, mapping: Mapping[str, Any]):
    if not isinstance(mapping, Mapping):
      raise TypeError(f"Space takes a dict of name -> Float/Int/Categorical/constant, not {type(mapping).__name__}")
    for k, v in mapping.items():
      if not isinstance(k, str): raise TypeError(f"parameter name {k!r} is a {type(k).__name__}; use str names")
      if isinstance(v, type) and issubclass(v, PARAM_TYPES):  # tb.Float, not tb.Float(0, 1): it would be a constant
        raise TypeError(f"parameter '{k}': {v.__name__} is the class; give an instance such as {v.__name__}(low, high)")
    self.order: list[str] = list(mapping)   # every key, constants included, in the user's order
    self.params: dict[str, Param] = {k: _check(k, v) for k, v in mapping.items() if isinstance(v, PARAM_TYPES)}
    self.constants: dict[str, Any] = {k: v for k, v in mapping.items() if not isinstance(v, PARAM_TYPES)}
    self.names: list[str] = list(self.params)
    # conditions on searchable parents: child -> [(parent, allowed codes as an array, the same as a set)]; codes are
    # choice indices for a Categorical parent, the integers themselves for an Int parent. A condition on a constant that
    # holds is recorded in `conditions` (and the JSON) but never checked again.
    self._conds: dict[str, list[tuple[str, np.ndarray, frozenset]]] = {}
    for k, p in list(self.params.items()):
      if p.when:
        when, conds = self._resolve_when(k, p.when)
        self.params[k] = dataclasses.replace(p, when=when)
        if conds: self._conds[k] = conds
    self.conditions: dict[str, dict[str, tuple]] = {k: dict(p.when) for k, p in self.params.items() if p.when}
    # whether a parameter's activity depends on a searched one: a condition on a constant always holds, so a space with
    # only those searches every parameter in every trial, as one without conditions
    self.conditional: bool = bool(self._conds)
    # the searchable parameters that take more than one value: an Int(a, a) or a one-choice Categorical is searched but
    # fixed, and what scales with a space's size (the GP's initial design, its prior, its warp) counts the others, as
    # Optuna's samplers leave single-value distributions out
    self.n_varying: int = sum(not (isinstance(p, Int) and p.low == p.high or isinstance(p, Categorical) and len(p.choices) == 1)
                              for p in self.params.values())
    self.dependency_order: list[str] = self._dependency_order()   # searchable names, parents before their children
    self._check_reachable()
    # for each parent: the distinct sets of codes its children need; for each child: (parent, index of its set)
    self._cond_sets: dict[str, list[frozenset]] = {}
    self._cond_idx: dict[str, list[tuple[str, int]]] = {}
    for k in self.dependency_order:
      for q, _, codes in self._conds.get(k, ()):
        sets = self._cond_sets.setdefault(q, [])
        if codes not in sets: sets.append(codes)
        self._cond_idx.setdefault(k, []).append((q, sets.index(codes)))
    self._parents: list[str] = [k for k in self.dependency_order if k in self._cond_sets]
    self.columns: dict[str, slice] = {}
    i = 0
    for k, p in self.params.items(): self.columns[k], i = slice(i, i + _width(p)), i + _width(p)
    self.dim: int = i
    self.kinds: np.ndarray = np.array([_kind(p) for p in self.params.values() for _ in range(_width(p))], dtype=np.int64)
    self.cat_groups: list[slice] = [self.columns[k] for k, p in self.params.items() if isinstance(p, Categorical)]
    self.inactive_fill: np.ndarray = np.where(self.kinds == CAT, 0.0, INACTIVE_FILL)  # [dim], what an inactive column holds
    self._n_configs: float | None = None

  def _resolve_when(self, k: str, when: tuple) -> tuple[tuple, list]:
    """Check k's conditions against the parents they name: (conditions with the parents' own values, [(parent, codes)])."""
    norm, conds = [], []
    for q, vals in when:
      if q == k: raise ValueError(f"parameter '{k}' is conditioned on itself; condition it on another parameter or drop when=")
      if q in self.constants:
        c = self.constants[q]
        if not any(_same(v, c) for v in vals):
          raise ValueError(f"parameter '{k}' can never be active: it needs '{q}' in {list(vals)}, but '{q}' is the constant {c!r}; "
                           f"fix the condition or drop '{k}'")
        norm.append((q, vals))
        continue
      if q not in self.params:
        parents = [n for n in self.names if n != k and not isinstance(self.params[n], Float)]   # never itself, never a Float
        raise ValueError(f"parameter '{k}': condition on unknown parameter '{q}'; "
                         + (f"condition on one of {parents}" if parents else "add an Int or Categorical parameter to condition on"))
      pq = self.params[q]
      if isinstance(pq, Float):
        raise ValueError(f"parameter '{k}': condition on Float '{q}' is not supported (a real value equals a listed one with probability 0"
                         f"{'; a stepped one too' if pq.step is not None else ''}); condition on an Int or Categorical parameter")
      codes = []
      for v in vals:
        if isinstance(pq, Int):
          if not (_is_whole(v) and pq.low <= v <= pq.high and (int(v) - pq.low) % pq.step == 0):
            steps = f" in steps of {pq.step} from {pq.low}" if pq.step > 1 else ""
            raise ValueError(f"parameter '{k}': condition value {v!r} is not a value of '{q}' (an integer in [{pq.low}, {pq.high}]{steps}); "
                             f"list values '{q}' can take")
          codes.append(int(v))
        else:
          try: codes.append(_index(pq, v))
          except ValueError:
            raise ValueError(f"parameter '{k}': condition value {v!r} is not one of the choices {list(pq.choices)} of '{q}'; "
                             f"list choices of '{q}'") from None
      codes = list(dict.fromkeys(codes))
      norm.append((q, tuple(self._values_of(q, codes))))
      conds.append((q, np.array(codes, dtype=np.int64), frozenset(codes)))
    return tuple(norm), conds

  def _values_of(self, q: str, codes: Iterable[int]) -> list:
    """Codes of parameter q (choice indices, or the integers) -> its values."""
    p = self.params[q]
    return [p.choices[c] for c in codes] if isinstance(p, Categorical) else [int(c) for c in codes]

  def _dependency_order(self) -> list[str]:
    """Searchable names with every parent before its children, the user's order otherwise; a cycle is an error."""
    pos = {k: i for i, k in enumerate(self.names)}
    parents = {k: [q for q, _, _ in self._conds.get(k, ())] for k in self.names}
    children: dict[str, list[str]] = {k: [] for k in self.names}
    for k, ps in parents.items():
      for q in ps: children[q].append(k)
    left = {k: len(ps) for k, ps in parents.items()}
    ready = [pos[k] for k in self.names if left[k] == 0]
    heapq.heapify(ready)
    out = []
    while ready:
      k = self.names[heapq.heappop(ready)]
      out.append(k)
      for c in children[k]:
        left[c] -= 1
        if left[c] == 0: heapq.heappush(ready, pos[c])
    if len(out) < len(self.names):  # walk up from a parameter left over: it has a parent left over too, until one repeats
      path = [next(k for k in self.names if left[k] > 0)]
      while (q := next(q for q in parents[path[-1]] if left[q] > 0)) not in path: path.append(q)
      cycle = path[path.index(q):] + [q]
      raise ValueError("conditions form a cycle: " + " needs ".join(f"'{n}'" for n in cycle) + "; remove one of these conditions")
    return out

  def _check_reachable(self) -> None:
    """Every parameter must be active in some configuration: all its ancestors must be active, so the values its path
    needs from each ancestor must overlap."""
    need: dict[str, dict[str, frozenset]] = {}
    for k in self.dependency_order:
      req: dict[str, frozenset] = {}
      for q, _, codes in self._conds.get(k, ()):
        for a, s in [*need[q].items(), (q, codes)]:
          both = s if a not in req else req[a] & s
          if not both:
            raise ValueError(f"parameter '{k}' can never be active: the conditions on its path need '{a}' in {self._values_of(a, sorted(req[a]))} "
                             f"and in {self._values_of(a, sorted(s))} at once; make them overlap")
          req[a] = both
      need[k] = req

  @classmethod
  def from_dict(cls, d: Mapping[str, Any]) -> Space:
    """`{"lr": {"type": "float", "min": 1e-4, "max": 0.1, "log": True}, "epochs": 5}`; values that are not dicts, and dicts
    with none of the keys type/min/max/low/high/log/values/choices, are constants."""
    return cls({k: _from_dict(k, v) if isinstance(v, Mapping) and _DICT_KEYS & set(v) else v for k, v in d.items()})

  @classmethod
  def from_dataclass(cls, dc: Any) -> Space:
    """Fields whose defaults are Float/Int/Categorical are searched, other defaults are constants."""
    if not dataclasses.is_dataclass(dc): raise TypeError(f"from_dataclass needs a dataclass, got {dc!r}; decorate it with @dataclass")
    out = {}
    for f in dataclasses.fields(dc):
      if f.default is not dataclasses.MISSING: out[f.name] = f.default
      elif f.default_factory is not dataclasses.MISSING: out[f.name] = f.default_factory()
      else: raise ValueError(f"field '{f.name}' of {getattr(dc, '__name__', dc)} has no default; give it a tb.Float/Int/Categorical or a constant")
    return cls(out)

  # ***** single configurations *****

  def active(self, params: Mapping[str, Any]) -> set[str]:
    """The searchable parameters that exist in a configuration, read from its parents' values. `params` may be partial
    (define-by-run): a parameter whose parent is missing or inactive is inactive. A bad parent value raises ValueError."""
    out: set[str] = set()
    for k in self.dependency_order:
      if all(q in out and q in params and _code(self.params[q], _validate_value(q, self.params[q], _plain(params[q]))) in codes
             for q, _, codes in self._conds.get(k, ())): out.add(k)
    return out

  def _why_inactive(self, k: str, active: set[str], vals: Mapping[str, Any]) -> str | None:
    """None when k is active given its parents' checked values, else why not."""
    for q, _, codes in self._conds.get(k, ()):
      if q not in active: return f"'{q}' is inactive"
      if _code(self.params[q], vals[q]) not in codes: return f"it needs '{q}' in {list(self.conditions[k][q])}, got {q}={vals[q]!r}"
    return None

  def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
    """Check a configuration and return it with plain Python types and constants filled in (user order). It must hold
    exactly the active parameters: an inactive one present, or an active one missing, is an error naming it."""
    if not isinstance(params, Mapping): raise TypeError(f"params must be a dict of name -> value, got {type(params).__name__}")
    unknown = [k for k in params if k not in self.params and k not in self.constants]
    if unknown: raise ValueError(f"unknown parameter '{unknown[0]}'; the space has {self.order}")
    missing = [k for k in self.names if k not in params and k not in self._conds]
    if missing: raise ValueError(f"missing parameter '{missing[0]}'; give a value for each of {[k for k in self.names if k not in self._conds]}")
    vals: dict[str, Any] = {}
    for k in self.dependency_order:
      why = self._why_inactive(k, vals.keys(), vals) if k in self._conds else None
      if why is None:
        if k not in params:
          because = ", ".join(f"{q}={vals[q]!r}" for q, _, _ in self._conds[k])
          raise ValueError(f"missing parameter '{k}', active because {because}; give it a value")
        vals[k] = _validate_value(k, self.params[k], _plain(params[k]))
      elif k in params: raise ValueError(f"parameter '{k}' is inactive here ({why}); drop '{k}' from the params")
    out = {}
    for k in self.order:
      if k in self.constants:
        if k in params and not _same(params[k], self.constants[k]):
          raise ValueError(f"parameter '{k}' is the constant {self.constants[k]!r} in this space, got {params[k]!r}; drop it or pass the constant")
        out[k] = self.constants[k]
      elif k in vals: out[k] = vals[k]
    return out

  def key(self, params: Mapping[str, Any]) -> tuple:
    """Hashable identity of a configuration (searchable values in order, None for an inactive one), for deduplication."""
    return self.key_valid(self.validate(params))

  def key_valid(self, p: Mapping[str, Any]) -> tuple:
    """The key of a configuration that validate() returned (not checked again)."""
    return tuple(None if k not in p else (type(p[k]).__name__, p[k]) if isinstance(self.params[k], Categorical) else p[k] for k in self.names)

  def encode(self, params: Mapping[str, Any]) -> np.ndarray:
    return self.encode_many([params])[0]

  def decode(self, x: np.ndarray) -> dict[str, Any]:
    return self.decode_many(np.asarray(x, dtype=np.float64).reshape(1, -1))[0]

  # ***** many configurations, vectorized *****

  def encode_many(self, params: Iterable[Mapping[str, Any]]) -> np.ndarray:
    return self.encode_valid([self.validate(p) for p in params])

  def encode_valid(self, ps: list[dict[str, Any]]) -> np.ndarray:
    """Rows [m, dim] of configurations that validate() returned (not checked again); inactive columns hold the fill."""
    X = np.repeat(self.inactive_fill[None], len(ps), 0)
    for k, p in self.params.items():
      rows = range(len(ps)) if k not in self._conds else [i for i, q in enumerate(ps) if k in q]
      v = [_index(p, ps[i][k]) if isinstance(p, Categorical) else ps[i][k] for i in rows]
      enc = _enc(p, np.asarray(v, dtype=np.float64 if isinstance(p, Float) else np.int64).reshape(-1))
      if k in self._conds: X[list(rows), self.columns[k]] = enc
      else: X[:, self.columns[k]] = enc
    return X

  def decode_many(self, X: np.ndarray) -> list[dict[str, Any]]:
    """Encoded points [m, dim] -> configurations, each with exactly the parameters active in it."""
    X = self._check_X(X)
    codes = {k: _dec(p, X[:, self.columns[k]]) for k, p in self.params.items()}
    act = {k: a.tolist() for k, a in self._activity(codes, len(X)).items() if k in self._conds} if self._conds else {}
    cols = {k: c.tolist() for k, c in codes.items()}
    return [{k: self.constants[k] if k in self.constants else
             (self.params[k].choices[cols[k][i]] if isinstance(self.params[k], Categorical) else cols[k][i]) for k in self.order
             if k not in act or act[k][i]}
            for i in range(X.shape[0])]

  def repeat_radius(self, min_distance: float) -> float | np.ndarray:
    """The max-norm distance (unit cube) below which a point repeats another: `min_distance`, or where an integer's
    neighbouring values lie closer than that in the encoding (more than ~1/min_distance values), per column radii, half
    that gap on such an integer's column: another integer is another configuration, never a repeat. (Where the gap is
    min_distance or more, two integers are never that close anyway, and the radius stays one float.)"""
    r = np.full(self.dim, float(min_distance))
    for k, p in self.params.items():
      if _kind(p) == INT and n_values(p) > 1:   # an Int, or a stepped Float: its closest neighbours (a log Int's at its top)
        gap = (math.log(p.high) - math.log(p.high - 1)) / (math.log(p.high + 0.5) - math.log(p.low - 0.5)) if p.log else 1.0 / n_values(p)
        if gap < min_distance: r[self.columns[k]] = 0.5 * gap
    return float(min_distance) if (r == min_distance).all() else r

  def round(self, X: np.ndarray) -> np.ndarray:
    """Snap encoded points [m, dim] to the encoding of the nearest valid configuration (floats are clipped, inactive
    columns set to `inactive_fill`)."""
    X = self._check_X(X)
    out = np.empty_like(X)
    for k, p in self.params.items():
      c = self.columns[k]
      out[:, c] = np.clip(X[:, c], 0.0, 1.0) if _kind(p) == FLOAT else _enc(p, _dec(p, X[:, c]))
    return self._fill_inactive(out)

  def active_mask(self, X: np.ndarray) -> np.ndarray:
    """bool [m, dim]: which columns of each encoded point belong to a parameter active in the configuration it decodes to.
    One column per parameter, `space.columns[k].start`, gives the per-parameter mask."""
    X = self._check_X(X)
    mask = np.ones(X.shape, dtype=bool)
    if self._conds:
      act = self._activity(self._parent_codes(X), len(X))
      for k in self._conds: mask[:, self.columns[k]] = act[k][:, None]
    return mask

  def sample(self, rng: np.random.Generator, n: int, branch: Branch | None = None) -> np.ndarray:
    """n uniform valid encoded points [n, dim] (uniform in log space for log params); each parameter is drawn
    independently and kept only where its parents make it active. With a branch (from `branches()`): points on it."""
    X = np.empty((n, self.dim))
    for k, p in self.params.items():
      c = self.columns[k]
      if _kind(p) == FLOAT: X[:, c] = rng.random((n, 1))
      elif _kind(p) == INT: X[:, c] = _enc(p, _dec(p, rng.random((n, 1))))
      else: X[:, c] = _enc(p, rng.integers(0, len(p.choices), n))
    for q, vals in ({} if branch is None else branch.values).items():
      p = self.params[q]
      codes = np.array([_code(p, v) for v in vals], dtype=np.int64)
      X[:, self.columns[q]] = _enc(p, codes[rng.integers(0, len(codes), n)])
    return self._fill_inactive(X)

  def neighbors(self, x: np.ndarray, max_int_values: int | None = None, choices: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """Discrete neighbours of one encoded point: each active int one step up/down (only ints of at most `max_int_values`
    values, when given), each active categorical switched to every other choice (of those `choices` lists by index for
    it, when it does); floats untouched. A switched parent changes which parameters are active (a newly active one starts
    from its `inactive_fill` column, rounded). Returns [k, dim] (k may be 0)."""
    x = self.round(np.asarray(x, dtype=np.float64).reshape(1, -1))[0]
    act = self._activity(self._parent_codes(x[None]), 1) if self._conds else None
    out = [np.zeros((0, self.dim))]
    for k, p in self.params.items():
      if act is not None and not act[k][0]: continue
      c = self.columns[k]
      if isinstance(p, Int):
        if max_int_values is not None and n_values(p) > max_int_values: continue
        v = int(_dec(p, x[None, c])[0])
        for w in (v - p.step, v + p.step):   # one at a time: numpy's vector log may differ in the last bit from its scalar one
          if p.low <= w <= p.high: y = x.copy(); y[c] = _enc(p, np.array([w]))[0]; out.append(y[None])
      elif stepped(p):   # a Float's step down and up
        if max_int_values is not None and n_values(p) > max_int_values: continue
        i = int(np.rint((_dec(p, x[None, c])[0] - p.low) / p.step))
        for w in (i - 1, i + 1):
          if 0 <= w <= n_steps(p): y = x.copy(); y[c] = _enc(p, step_values(p, np.array([w])))[0]; out.append(y[None])
      elif isinstance(p, Categorical):   # every other choice, in order, as one block (a 300-choice one took 300 copies)
        w = np.arange(len(p.choices)) if choices is None or k not in choices else np.asarray(choices[k], dtype=np.int64)
        w = w[w != int(np.argmax(x[c]))]
        Y = np.repeat(x[None], len(w), axis=0)
        Y[:, c] = _enc(p, w)
        out.append(Y)
    N = np.concatenate(out)
    return self.round(N) if self._conds and len(N) else N

  def _check_X(self, X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != self.dim: raise ValueError(f"encoded points must have shape [m, {self.dim}] for this space, got {X.shape}")
    if not np.isfinite(X).all(): raise ValueError("encoded points contain NaN or inf; only finite points in [0, 1] can be decoded")
    return X

  # ***** activity: which parameters exist, vectorized over encoded points *****

  def parent_codes(self, X: np.ndarray) -> dict[str, np.ndarray]:
    """{parent: codes[m]} for each searchable parameter others are conditioned on (parents first): a categorical's choice
    index, an int's value, as decoded from the encoded points X[m, dim] (a parent's code is read even where the parent is
    inactive; `active_mask` says where it is)."""
    return self._parent_codes(self._check_X(X))

  def _parent_codes(self, X: np.ndarray) -> dict[str, np.ndarray]:
    return {q: _dec(self.params[q], X[:, self.columns[q]]) for q in self._cond_sets}

  def _activity(self, codes: Mapping[str, np.ndarray], m: int) -> dict[str, np.ndarray]:
    """bool[m] per searchable name, from the decoded codes of the parents (parents first: dependency order)."""
    act: dict[str, np.ndarray] = {}
    for k in self.dependency_order:
      a = np.ones(m, dtype=bool)
      for q, allowed, _ in self._conds.get(k, ()): a &= act[q] & np.isin(codes[q], allowed)
      act[k] = a
    return act

  def _fill_inactive(self, X: np.ndarray) -> np.ndarray:
    """In place on snapped points: the columns of inactive parameters get their fixed fill value."""
    if self._conds:
      act = self._activity(self._parent_codes(X), len(X))
      for k in self._conds:
        c = self.columns[k]
        X[~act[k], c] = self.inactive_fill[c]
    return X

  # ***** the tree: branches and counting *****

  def _parent_classes(self, q: str, values: Iterable | None = None) -> list[tuple[frozenset, int, tuple | None]]:
    """The values of parent q (all of them, or `values`) grouped by which of its children's condition sets they fall in:
    (signature: indices into _cond_sets[q], how many values, their codes or None when more than _MAX_LISTED)."""
    p, sets = self.params[q], self._cond_sets[q]
    sig = lambda c: frozenset(i for i, s in enumerate(sets) if c in s)
    groups: dict[frozenset, list[int]] = {}
    if values is not None or isinstance(p, Categorical):
      domain = range(len(p.choices)) if values is None else [_code(p, v) for v in values]
      for c in domain: groups.setdefault(sig(c), []).append(c)
      return [(g, len(cs), tuple(cs)) for g, cs in groups.items()]
    listed = sorted(frozenset().union(*sets))  # a whole Int range: only the values some condition names are looked at
    for c in listed: groups.setdefault(sig(c), []).append(c)
    out: list[tuple[frozenset, int, tuple | None]] = [(g, len(cs), tuple(cs)) for g, cs in groups.items()]
    rest = int(n_values(p)) - len(listed)
    if rest: out.append((frozenset(), rest, tuple(sorted(set(range(p.low, p.high + 1, p.step)) - set(listed))) if rest <= _MAX_LISTED else None))
    return out

  def _walk(self, values: Mapping[str, Iterable] | None = None) -> Iterator[tuple[dict, frozenset]]:
    """Every assignment of a value class to each active parent: ({parent: class or None when inactive}, active names)."""
    classes = {q: self._parent_classes(q, None if values is None else values[q]) for q in self._parents}
    state: dict[str, Any] = {}
    holds = lambda k: all(state.get(q) is not None and i in state[q][0] for q, i in self._cond_idx.get(k, ()))
    def rec(j: int) -> Iterator[tuple[dict, frozenset]]:
      if j == len(self._parents):
        yield dict(state), frozenset(k for k in self.dependency_order if holds(k))
        return
      q = self._parents[j]
      for cls in (classes[q] if holds(q) else [None]):
        state[q] = cls
        yield from rec(j + 1)
    yield from rec(0)

  def count(self, values: Mapping[str, Iterable] | None = None) -> float:
    """How many distinct valid configurations the space holds (inf when it has a float without step); with `values` (name -> the values
    each searchable parameter may take, e.g. a grid's axes), how many valid configurations those values make."""
    if values is None and self._n_configs is not None: return self._n_configs
    def size(k: str) -> float:
      if values is not None: return float(len(list(values[k])))
      return n_values(self.params[k])
    if values is None and any(_kind(p) == FLOAT for p in self.params.values()): n = math.inf  # every float can be active
    elif not self._conds: n = math.prod((size(k) for k in self.names), start=1.0)
    else:
      n = 0.0
      for state, active in self._walk(values):
        n += math.prod((state[k][1] if k in self._cond_sets else size(k) for k in active), start=1.0)
    if values is None: self._n_configs = n
    return n

  def branches(self, limit: int = 64) -> list[Branch] | None:
    """The branches of the tree, each a box of parent values with one fixed set of active parameters, in a
    deterministic order; None when there are more than `limit` or a parent would need more than 4096 values listed. A
    space without conditions is one branch."""
    if not self._conds: return [Branch(frozenset(self.names), {}, np.ones(self.dim, dtype=bool))]
    boxes: list[tuple[frozenset, dict]] = []
    for state, active in self._walk():
      vals = {q: cls[2] for q, cls in state.items() if cls is not None}
      if any(v is None for v in vals.values()) or len(boxes) >= 16 * limit: return None
      boxes.append((active, vals))
    boxes = _merge_boxes(boxes)
    if len(boxes) > limit: return None
    out = []
    for active, vals in boxes:
      mask = np.zeros(self.dim, dtype=bool)
      for k in active: mask[self.columns[k]] = True
      out.append(Branch(active, {q: tuple(self._values_of(q, c)) for q, c in vals.items()}, mask))
    return out

  # ***** identity and serialization *****

  def to_json(self) -> str:
    body = {"params": {k: _to_dict(p) for k, p in self.params.items()}, "constants": self.constants, "order": self.order}
    return json.dumps(body, default=_json_default)

  @classmethod
  def from_json(cls, s: str) -> Space:
    body = json.loads(s)
    params = {k: _from_dict(k, v) for k, v in body["params"].items()}
    return cls({k: params[k] if k in params else body["constants"][k] for k in body["order"]})

  def __eq__(self, other: object) -> bool: return isinstance(other, Space) and canonical_json(self.to_json()) == canonical_json(other.to_json())
  def __hash__(self) -> int: return hash(canonical_json(self.to_json()))
  def __len__(self) -> int: return len(self.names)
  def __repr__(self) -> str: return "Space({" + ", ".join(f"{k!r}: {self.params.get(k, self.constants.get(k))!r}" for k in self.order) + "})"

def canonical_json(space_json: str) -> str:
  """A space's JSON with what does not change its meaning put in one order: the keys of every dict (a dict constant's,
  a condition's parents) and the values a condition lists. The parameters' order and a Categorical's choices stay as
  written: they fix the encoding."""
  body = json.loads(space_json)
  for d in body["params"].values():
    if "when" in d: d["when"] = {q: sorted(v, key=lambda c: (type(c).__name__, json.dumps(c))) for q, v in d["when"].items()}
  return json.dumps(body, sort_keys=True)

def _json_default(o: Any) -> Any:
  # a constant that JSON cannot hold (a model, a function) is stored by its type only: a repr would hold a memory address
  # and make the same space look different in the next process
  return o.item() if isinstance(o, np.generic) else f"<{type(o).__module__}.{type(o).__qualname__}>"

def copied_constant(v: Any) -> Any:
  """A constant as one trial's params hold it: a list, dict or set of plain values (str, numbers, bool, None and such
  containers, tuples too) is a copy of its own, so training code that edits its config in place (appends a layer to a
  list constant) edits neither the space (which the study file records) nor any other trial's params; any other object
  (an immutable value, a device, a dataset, a function) is the space's own, never copied."""
  def plain(x: Any, depth: int = 0) -> bool:
    if x is None or isinstance(x, (str, bool, int, float)): return True
    if depth > 50: return False
    if isinstance(x, dict): return all(plain(k, depth + 1) and plain(y, depth + 1) for k, y in x.items())
    return isinstance(x, (list, tuple, set, frozenset)) and all(plain(y, depth + 1) for y in x)
  return copy.deepcopy(v) if isinstance(v, (list, dict, set)) and plain(v) else v

def _same(a: Any, b: Any) -> bool:
  a, b = _plain(a), _plain(b)   # numpy scalars compare as the Python values they hold
  if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b): return True   # a nan constant is itself
  try: return bool(a == b) and type(a) is type(b) or (_is_real(a) and _is_real(b) and a == b)
  except Exception: return a is b

def _index(p: Categorical, v: Any) -> int:
  # 1 == True == 1.0 in Python: match the type too, so Categorical([1, True]) keeps them apart
  for i, c in enumerate(p.choices):
    if type(c) is type(v) and c == v: return i
  for i, c in enumerate(p.choices):
    if _is_real(c) and _is_real(v) and c == v: return i
  raise ValueError(f"choice {v!r} not found")

def _code(p: Param, v: Any) -> int:
  """A checked value of an Int or Categorical -> its code (the integer, or the choice index)."""
  return _index(p, v) if isinstance(p, Categorical) else int(v)

def _merge_boxes(boxes: list[tuple[frozenset, dict]]) -> list[tuple[frozenset, dict]]:
  """Merge boxes of parent codes with the same active set that differ in one parent's codes only, until none do."""
  def mergeable(a: tuple, b: tuple) -> str | None:
    if a[0] != b[0] or a[1].keys() != b[1].keys(): return None
    diff = [q for q in a[1] if a[1][q] != b[1][q]]
    return diff[0] if len(diff) == 1 else None
  out = list(boxes)
  while True:
    pair = next(((i, j, q) for i, j in itertools.combinations(range(len(out)), 2) if (q := mergeable(out[i], out[j])) is not None), None)
    if pair is None: return out
    i, j, q = pair
    out[i] = (out[i][0], {**out[i][1], q: tuple(sorted(set(out[i][1][q]) | set(out[j][1][q])))})
    del out[j]

def _validate_value(name: str, p: Param, v: Any) -> Any:
  # the common case first, as the checks below would return it: a plain float or int inside its bounds (a NaN fails the
  # comparison), unstepped or on a step; a study's suggestion validates every trial, thousands of values
  if type(v) is float and type(p) is Float and p.step is None and p.low <= v <= p.high: return v
  if type(v) is int and type(p) is Int and p.low <= v <= p.high and (v - p.low) % p.step == 0: return v
  if isinstance(p, Categorical):
    try: return p.choices[_index(p, v)]
    except ValueError: raise ValueError(f"parameter '{name}': {v!r} is not one of the choices {list(p.choices)}; pick one of them") from None
  kind = "Float" if isinstance(p, Float) else "Int"
  if not _is_real(v): raise TypeError(f"parameter '{name}': {v!r} is a {type(v).__name__}; {kind} needs a number in [{p.low}, {p.high}]")
  f = _as_float(v)   # an int beyond a float's range: ±inf, outside the bounds below
  if not (math.isfinite(f) or isinstance(v, numbers.Integral)):
    raise ValueError(f"parameter '{name}': {v!r} is not finite; give a number in [{p.low}, {p.high}]")
  if isinstance(p, Int):
    if not _is_whole(v): raise ValueError(f"parameter '{name}': {v!r} is not an integer; Int needs a whole number in [{p.low}, {p.high}]")
    i = int(v)
    if not p.low <= i <= p.high: raise ValueError(f"parameter '{name}': {i} is outside [{p.low}, {p.high}]; give a value inside the bounds")
    if (i - p.low) % p.step:
      below = p.low + (i - p.low) // p.step * p.step
      raise ValueError(f"parameter '{name}': {i} is not one of the values {p.low} + k * {p.step}; use {below} or {below + p.step}")
    return i
  # float noise from an encode/decode round trip is not an error: relative to each bound on a log scale (exp(log(v))),
  # to the larger bound on a linear one (low + x (high - low)); more is a value outside, never moved to the bound
  tol_lo, tol_hi = (1e-12 * abs(p.low), 1e-12 * abs(p.high)) if p.log else (1e-13 * max(abs(p.low), abs(p.high)),) * 2
  if not p.low - tol_lo <= f <= p.high + tol_hi:
    raise ValueError(f"parameter '{name}': {f if math.isfinite(f) else v} is outside [{p.low}, {p.high}]; give a value inside the bounds")
  f = min(max(f, p.low), p.high)
  if p.step is None: return f
  k = (f - p.low) / p.step   # float noise (0.1 + 0.2) is within _step_slack of a whole step; the value returned is the step's own
  if abs(k - round(k)) > max(_step_slack(p.low, p.high, p.step), 1e-15 * k):
    near = step_values(p, np.array([math.floor(k), math.ceil(k)])).tolist()
    raise ValueError(f"parameter '{name}': {v!r} is not one of the values {p.low!r} + k * {p.step!r}; use {near[0]!r} or {near[1]!r}")
  return float(step_values(p, np.array([round(k)]))[0])
