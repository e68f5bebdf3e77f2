"""Checks of a strategy's arguments at definition, so that a bad value fails there, in one line that names the value and
the fix, not later inside a suggestion (where the GP strategy would turn it into a fallback to random); and
`parse_options`, a strategy's keyword arguments written on one line ("noise=0.01;kernel=rbf": `tinybo show --gp`, the
benchmark runner's `gp:`).
Holds: check_int, check_real, check_device, parse_options. Imports: tinygrad (devices), ast and inspect (parse_options),
math, numbers.
"""
from __future__ import annotations

import ast
import inspect
import math
import numbers
from collections.abc import Callable
from typing import Any

from tinygrad import Device


def check_int(name: str, v: object, low: int, *, none: str | None = None) -> int | None:
  """v as an int >= low; None allowed when `none` says what it means. bool and numeric strings are refused (TypeError;
  an int out of range: ValueError)."""
  if v is None and none is not None: return None
  msg = f"{name}={v!r}: use an int >= {low}" + (f", or None for {none}" if none is not None else "")
  if isinstance(v, bool) or not isinstance(v, numbers.Integral): raise TypeError(msg)
  if v < low: raise ValueError(msg)
  return int(v)

def check_real(name: str, v: object, low: float, what: str) -> float:
  """v as a finite float >= low (NaN and inf refused: every comparison with NaN is false, so NaN passes range checks)."""
  msg = f"{name}={v!r}: use a finite number >= {low} ({what})"
  if isinstance(v, bool) or not isinstance(v, numbers.Real): raise TypeError(msg)
  if not math.isfinite(v) or v < low: raise ValueError(msg)
  return float(v)

def check_device(device: object) -> str | None:
  """None (tinygrad's default) or the canonical name of a device this machine can open. Opening it here means a missing
  backend (CUDA without its library) is an error at definition, not a random search with a warning per suggestion."""
  if device is None: return None
  if not isinstance(device, str) or not device.strip():
    raise TypeError(f"device={device!r}: use a tinygrad device name such as 'CPU', or None for {Device.DEFAULT}")
  try:
    name = Device.canonicalize(device)
    Device[name]
  except Exception as e:  # noqa: BLE001 - a backend that cannot load fails in its own way (ImportError, OSError, AttributeError, ...)
    avail = ", ".join(Device.get_available_devices())
    raise ValueError(f"device={device!r}: this machine cannot open it ({type(e).__name__}: {str(e)[:120]}); "
                     f"use one of: {avail}, or None for {Device.DEFAULT}") from None
  return name

def parse_options(text: str, make: Callable) -> dict[str, Any]:
  """'noise=0.01;kernel=rbf' -> {'noise': 0.01, 'kernel': 'rbf'}: keyword arguments of `make` (tb.GP) written on one line,
  as the benchmark runner takes them after 'gp:' and `tinybo show --gp` takes them. Options are separated by ';' or ','
  (a strategy list splits at ',', hence ';' there); a value is a Python literal (0.01, True, None) or else a bare word
  (rbf); 'a|b' is the tuple ('a', 'b'): kernel=matern52|matern32. An unknown key is a ValueError listing the known ones;
  the values are `make`'s to check."""
  known = [k for k, p in inspect.signature(make).parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
  out: dict[str, Any] = {}
  for item in filter(None, (s.strip() for s in text.replace(",", ";").split(";"))):
    k, eq, v = (s.strip() for s in item.partition("="))
    if not eq: raise ValueError(f"option {item!r}: write key=value, such as noise=0.01")
    if k not in known: raise ValueError(f"unknown {make.__name__} option {k!r}; use one of: {', '.join(known)}")
    if k in out: raise ValueError(f"option {k!r} given twice; give each option once")
    if "|" in v: out[k] = tuple(v.split("|")); continue
    try: out[k] = ast.literal_eval(v)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError): out[k] = v   # a bare word: a string option such as kernel=rbf
  return out
