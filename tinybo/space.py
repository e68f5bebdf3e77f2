"""Search spaces: Float, Int, Categorical parameters and constants, and the exact map to and from the unit cube.

Every strategy works on the same encoding: floats linear or log in [0, 1], each integer owns an equal slice of [0, 1]
(in log space for log ints), categoricals are one-hot blocks, constants are never encoded.
"""
from __future__ import annotations

import dataclasses
import json
import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

FLOAT, INT, CAT = 0, 1, 2
_KIND_NAMES = {FLOAT: "float", INT: "int", CAT: "categorical"}

@dataclass(frozen=True)
class Float:
  """A real parameter in [low, high]; log=True searches in log space (needs low > 0)."""
  low: float
  high: float
  log: bool = False

@dataclass(frozen=True)
class Int:
  """An integer parameter in [low, high] (both included); Int(a, a) is a single value."""
  low: int
  high: int
  log: bool = False

@dataclass(frozen=True)
class Categorical:
  """One of a list of choices (str, int, float, bool or None); the choices are one-hot encoded."""
  choices: tuple

  def __init__(self, choices: Iterable):
    # a plain string would silently become a list of characters
    object.__setattr__(self, "choices", (choices,) if isinstance(choices, str) else tuple(choices))

Param = Float | Int | Categorical
PARAM_TYPES = (Float, Int, Categorical)

def _is_real(v: Any) -> bool: return isinstance(v, numbers.Real) and not isinstance(v, bool)

def _plain(v: Any) -> Any:
  """numpy scalars -> plain Python scalars (so params are JSON-able and compare cleanly)."""
  return v.item() if isinstance(v, np.generic) else v

def _as_float(v: numbers.Real) -> float:
  try: return float(v)
  except OverflowError: return math.inf if v > 0 else -math.inf  # an int beyond float range: reported as not finite

_INT_LIMIT = 2**53  # Int bounds are encoded through float64: beyond this two neighbouring integers are the same float

def _check(name: str, p: Param) -> Param:
  """Validate one parameter definition; returns it normalized (plain float/int bounds)."""
  if isinstance(p, (Float, Int)) and not isinstance(p.log, (bool, np.bool_)):  # "false" from a JSON file is truthy
    raise TypeError(f"parameter '{name}': log={p.log!r}; use True or False")
  if isinstance(p, Float):
    if not (_is_real(p.low) and _is_real(p.high)): raise TypeError(f"parameter '{name}': Float bounds must be numbers, got {p.low!r}, {p.high!r}")
    low, high = _as_float(p.low), _as_float(p.high)
    if not (math.isfinite(low) and math.isfinite(high)): raise ValueError(f"parameter '{name}': Float bounds must be finite, got {low}, {high}")
    if low >= high: raise ValueError(f"parameter '{name}': Float needs low < high, got low={low}, high={high}; swap them, or use a constant")
    if p.log and low <= 0: raise ValueError(f"parameter '{name}': log=True needs low > 0, got low={low}; raise low above 0 or drop log=True")
    return Float(low, high, bool(p.log))
  if isinstance(p, Int):
    for b in (p.low, p.high):
      if not (_is_real(b) and float(b).is_integer()):
        raise TypeError(f"parameter '{name}': Int bounds must be integers, got {p.low!r}, {p.high!r}; use Float for reals")
    low, high = int(p.low), int(p.high)
    if not (-_INT_LIMIT <= low and high <= _INT_LIMIT):
      raise ValueError(f"parameter '{name}': Int bounds must lie within ±2**53 (exact in float64), got {low}, {high}; rescale it or use Float")
    if low > high: raise ValueError(f"parameter '{name}': Int needs low <= high, got low={low}, high={high}; swap them")
    if p.log and low <= 0: raise ValueError(f"parameter '{name}': log=True needs low > 0, got low={low}; raise low to 1 or drop log=True")
    return Int(low, high, bool(p.log))
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
    return Categorical(choices)
  raise TypeError(f"parameter '{name}': {p!r} is not a Float, Int or Categorical")

# ***** per-parameter vectorized encode/decode: the only place the encoding is defined *****

def _int_bounds(p: Int) -> tuple[float, float]:
  return (math.log(p.low - 0.5), math.log(p.high + 0.5)) if p.log else (p.low - 0.5, p.high + 0.5)

def _enc(p: Param, v: np.ndarray) -> np.ndarray:
  """values [m] (floats/ints) or choice indices (categorical) -> encoded columns [m, width]"""
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
def _kind(p: Param) -> int: return FLOAT if isinstance(p, Float) else INT if isinstance(p, Int) else CAT

def _to_dict(p: Param) -> dict:
  if isinstance(p, Categorical): return {"type": "categorical", "values": list(p.choices)}
  return {"type": "float" if isinstance(p, Float) else "int", "min": p.low, "max": p.high, "log": p.log}

_DICT_KEYS = {"type", "min", "max", "low", "high", "log", "values", "choices"}

def _from_dict(name: str, d: Mapping) -> Param:
  t = str(d.get("type", "")).lower()
  unknown = set(d) - _DICT_KEYS
  if unknown: raise ValueError(f"parameter '{name}': unknown keys {sorted(unknown)}; use type, min, max, log, values")
  if "type" not in d: raise ValueError(f"parameter '{name}': no 'type' in {dict(d)}; add \"type\": \"float\", \"int\" or \"categorical\"")
  if t in ("float", "int"):
    low, high = d.get("min", d.get("low")), d.get("max", d.get("high"))
    if low is None or high is None: raise ValueError(f"parameter '{name}': type {t!r} needs 'min' and 'max', got {dict(d)}")
    return (Float if t == "float" else Int)(low, high, d.get("log", False))
  if t in ("categorical", "choice"):
    values = d.get("values", d.get("choices"))
    if values is None: raise ValueError(f"parameter '{name}': type 'categorical' needs 'values', got {dict(d)}")
    return Categorical(values)
  raise ValueError(f"parameter '{name}': unknown type {d.get('type')!r}; use 'float', 'int' or 'categorical'")

class Space:
  """An ordered set of named parameters plus constants. `Space({"lr": Float(1e-4, 1e-1, log=True), "epochs": 5})`."""
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
    self.columns: dict[str, slice] = {}
    i = 0
    for k, p in self.params.items(): self.columns[k], i = slice(i, i + _width(p)), i + _width(p)
    self.dim: int = i
    self.kinds: np.ndarray = np.array([_kind(p) for p in self.params.values() for _ in range(_width(p))], dtype=np.int64)
    self.cat_groups: list[slice] = [self.columns[k] for k, p in self.params.items() if isinstance(p, Categorical)]

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

  def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
    """Check a configuration and return it with plain Python types and constants filled in (user order)."""
    if not isinstance(params, Mapping): raise TypeError(f"params must be a dict of name -> value, got {type(params).__name__}")
    unknown = [k for k in params if k not in self.params and k not in self.constants]
    if unknown: raise ValueError(f"unknown parameter '{unknown[0]}'; the space has {self.order}")
    missing = [k for k in self.names if k not in params]
    if missing: raise ValueError(f"missing parameter '{missing[0]}'; give a value for each of {self.names}")
    out = {}
    for k in self.order:
      if k in self.constants:
        if k in params and not _same(params[k], self.constants[k]):
          raise ValueError(f"parameter '{k}' is the constant {self.constants[k]!r} in this space, got {params[k]!r}; drop it or pass the constant")
        out[k] = self.constants[k]
      else: out[k] = _validate_value(k, self.params[k], _plain(params[k]))
    return out

  def key(self, params: Mapping[str, Any]) -> tuple:
    """Hashable identity of a configuration (searchable values in order), for deduplication."""
    p = self.validate(params)
    return tuple((type(p[k]).__name__, p[k]) if isinstance(self.params[k], Categorical) else p[k] for k in self.names)

  def encode(self, params: Mapping[str, Any]) -> np.ndarray:
    return self.encode_many([params])[0]

  def decode(self, x: np.ndarray) -> dict[str, Any]:
    return self.decode_many(np.asarray(x, dtype=np.float64).reshape(1, -1))[0]

  # ***** many configurations, vectorized *****

  def encode_many(self, params: Iterable[Mapping[str, Any]]) -> np.ndarray:
    return self._encode_checked([self.validate(p) for p in params])

  def encode_fitting(self, params: Iterable[Mapping[str, Any]]) -> np.ndarray:
    """Rows [m, dim] of the configurations that fit the space, each checked once; those that do not (a trial of an
    edited study) are skipped instead of raising."""
    ok = []
    for p in params:
      try: ok.append(self.validate(p))
      except (ValueError, TypeError): continue
    return self._encode_checked(ok)

  def _encode_checked(self, ps: list[dict[str, Any]]) -> np.ndarray:
    X = np.zeros((len(ps), self.dim))
    for k, p in self.params.items():
      v = [_index(p, q[k]) if isinstance(p, Categorical) else q[k] for q in ps]
      X[:, self.columns[k]] = _enc(p, np.asarray(v, dtype=np.float64 if isinstance(p, Float) else np.int64).reshape(-1))
    return X

  def decode_many(self, X: np.ndarray) -> list[dict[str, Any]]:
    X = self._check_X(X)
    cols = {k: _dec(p, X[:, self.columns[k]]).tolist() for k, p in self.params.items()}
    return [{k: self.constants[k] if k in self.constants else
             (self.params[k].choices[cols[k][i]] if isinstance(self.params[k], Categorical) else cols[k][i]) for k in self.order}
            for i in range(X.shape[0])]

  def round(self, X: np.ndarray) -> np.ndarray:
    """Snap encoded points [m, dim] to the encoding of the nearest valid configuration (floats are clipped)."""
    X = self._check_X(X)
    out = np.empty_like(X)
    for k, p in self.params.items():
      c = self.columns[k]
      out[:, c] = np.clip(X[:, c], 0.0, 1.0) if isinstance(p, Float) else _enc(p, _dec(p, X[:, c]))
    return out

  def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
    """n uniform valid encoded points [n, dim] (uniform in log space for log params)."""
    X = np.empty((n, self.dim))
    for k, p in self.params.items():
      c = self.columns[k]
      if isinstance(p, Float): X[:, c] = rng.random((n, 1))
      elif isinstance(p, Int): X[:, c] = _enc(p, _dec(p, rng.random((n, 1))))
      else: X[:, c] = _enc(p, rng.integers(0, len(p.choices), n))
    return X

  def neighbors(self, x: np.ndarray) -> np.ndarray:
    """Discrete neighbours of one encoded point: each int one step up/down, each categorical switched to every other
    choice; floats untouched. Returns [k, dim] (k may be 0)."""
    x = self.round(np.asarray(x, dtype=np.float64).reshape(1, -1))[0]
    out = []
    for k, p in self.params.items():
      c = self.columns[k]
      if isinstance(p, Int):
        v = int(_dec(p, x[None, c])[0])
        for w in (v - 1, v + 1):
          if p.low <= w <= p.high: y = x.copy(); y[c] = _enc(p, np.array([w]))[0]; out.append(y)
      elif isinstance(p, Categorical):
        v = int(np.argmax(x[c]))
        for w in range(len(p.choices)):
          if w != v: y = x.copy(); y[c] = _enc(p, np.array([w]))[0]; out.append(y)
    return np.array(out).reshape(-1, self.dim)

  def _check_X(self, X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != self.dim: raise ValueError(f"encoded points must have shape [m, {self.dim}] for this space, got {X.shape}")
    if not np.isfinite(X).all(): raise ValueError("encoded points contain NaN or inf; only finite points in [0, 1] can be decoded")
    return X

  # ***** identity and serialization *****

  def to_json(self) -> str:
    body = {"params": {k: _to_dict(p) for k, p in self.params.items()}, "constants": self.constants, "order": self.order}
    return json.dumps(body, default=_json_default)

  @classmethod
  def from_json(cls, s: str) -> Space:
    body = json.loads(s)
    params = {k: _from_dict(k, v) for k, v in body["params"].items()}
    return cls({k: params[k] if k in params else body["constants"][k] for k in body["order"]})

  def __eq__(self, other: object) -> bool: return isinstance(other, Space) and self.to_json() == other.to_json()
  def __hash__(self) -> int: return hash(self.to_json())
  def __len__(self) -> int: return len(self.names)
  def __repr__(self) -> str: return "Space({" + ", ".join(f"{k!r}: {self.params.get(k, self.constants.get(k))!r}" for k in self.order) + "})"

def _json_default(o: Any) -> Any:
  # a constant that JSON cannot hold (a model, a function) is stored by its type only: a repr would hold a memory address
  # and make the same space look different in the next process
  return o.item() if isinstance(o, np.generic) else f"<{type(o).__module__}.{type(o).__qualname__}>"

def _same(a: Any, b: Any) -> bool:
  try: return bool(a == b) and type(a) is type(b) or (_is_real(a) and _is_real(b) and a == b)
  except Exception: return a is b

def _index(p: Categorical, v: Any) -> int:
  # 1 == True == 1.0 in Python: match the type too, so Categorical([1, True]) keeps them apart
  for i, c in enumerate(p.choices):
    if type(c) is type(v) and c == v: return i
  for i, c in enumerate(p.choices):
    if _is_real(c) and _is_real(v) and c == v: return i
  raise ValueError(f"choice {v!r} not found")

def _validate_value(name: str, p: Param, v: Any) -> Any:
  if isinstance(p, Categorical):
    try: return p.choices[_index(p, v)]
    except ValueError: raise ValueError(f"parameter '{name}': {v!r} is not one of the choices {list(p.choices)}; pick one of them") from None
  kind = "Float" if isinstance(p, Float) else "Int"
  if not _is_real(v): raise TypeError(f"parameter '{name}': {v!r} is a {type(v).__name__}; {kind} needs a number in [{p.low}, {p.high}]")
  f = float(v)
  if not math.isfinite(f): raise ValueError(f"parameter '{name}': {v!r} is not finite; give a number in [{p.low}, {p.high}]")
  if isinstance(p, Int):
    if not f.is_integer(): raise ValueError(f"parameter '{name}': {v!r} is not an integer; Int needs a whole number in [{p.low}, {p.high}]")
    i = int(v)
    if not p.low <= i <= p.high: raise ValueError(f"parameter '{name}': {i} is outside [{p.low}, {p.high}]; give a value inside the bounds")
    return i
  tol = 1e-12 * max(abs(p.low), abs(p.high), p.high - p.low)  # float noise from a log/exp round trip is not an error
  if not p.low - tol <= f <= p.high + tol: raise ValueError(f"parameter '{name}': {f} is outside [{p.low}, {p.high}]; give a value inside the bounds")
  return min(max(f, p.low), p.high)
