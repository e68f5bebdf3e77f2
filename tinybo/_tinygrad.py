"""The only module that reaches into tinygrad's internals: host <-> device copies, zero-copy host views, persistent jit
inputs, the one registry of captured programs (with its disk cache), their direct replay, and the shape buckets.
Written for tinygrad TINYGRAD_VERSION; another version is named in a warning once, at import. Every fast path here has a
public fallback, and a fallback warns once (`FastPathWarning`, naming the path and the error) instead of passing
silently: a tinygrad release that moves an internal makes tinybo slower and says so. `COUNTS` tells tests which path ran.
Imports: tinygrad, numpy. Imported by gp.py and optim_acqf.py.
"""
from __future__ import annotations

import collections
import functools
import hashlib
import importlib.metadata
import os
import pickle
import platform
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tinygrad import Device, Tensor, TinyJit, dtypes
from tinygrad.dtype import DType, _to_np_dtype
from tinygrad.engine.jit import _prepare_jit_inputs
from tinygrad.helpers import NOOPT, Context

TINYGRAD_VERSION = "0.14.0"

class FastPathWarning(RuntimeWarning):
  """A fast path into tinygrad's internals failed and tinybo took tinygrad's public (slower) API instead."""

try: INSTALLED: str|None = importlib.metadata.version("tinygrad")
except importlib.metadata.PackageNotFoundError: INSTALLED = None
if INSTALLED != TINYGRAD_VERSION:
  warnings.warn(f"tinybo was written for tinygrad {TINYGRAD_VERSION}, this is {INSTALLED}: fast paths may fall back", FastPathWarning, stacklevel=2)

COUNTS: collections.Counter[str] = collections.Counter()  # path -> times taken ("copyin", "view", ..., "<path>:fallback")
_WARNED: set[str] = set()

def _fallback(path:str, err:BaseException|str) -> None:
  COUNTS[f"{path}:fallback"] += 1
  if path not in _WARNED:
    _WARNED.add(path)
    warnings.warn(f"tinybo's fast path '{path}' failed ({err if isinstance(err, str) else f'{type(err).__name__}: {err}'}) on tinygrad "
                  f"{INSTALLED} (written for {TINYGRAD_VERSION}); using the public API from now on", FastPathWarning, stacklevel=3)

# ***** shapes: buckets so that captured programs are reused as observations arrive *****

N_BUCKETS = (8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 160, 208, 256, 320, 416, 512, 640, 832, 1024, 1280, 1664, 2048)
D_BUCKETS = (2, 4, 8, 12, 16, 24, 32, 48, 64)

def bucket(n:int, buckets:tuple[int, ...]) -> int:  # the smallest bucket >= n; beyond the last, multiples of a quarter of it
  return next((b for b in buckets if n <= b), -(-n // (buckets[-1] // 4)) * (buckets[-1] // 4))

# ***** host <-> device: straight buffer copies (a scheduled copy costs ~0.3-3 ms, these ~10 µs) *****

def np_dtype(dtype:DType): return np.float64 if dtype == dtypes.float64 else np.float32

def upload(a:np.ndarray, dtype:DType, device:str, out:Tensor|None=None) -> Tensor:
  """a as a realized Tensor; into `out`'s buffer when given (same shape), else a new one."""
  a = np.ascontiguousarray(a, dtype=np_dtype(dtype))
  if out is None: out = Tensor.empty(*a.shape, dtype=dtype, device=device).realize()
  try:
    buf = out.uop.base.buffer.ensure_allocated()
    Device[buf.device].synchronize()
    Device[buf.device].allocator._copyin(buf._buf, memoryview(a).cast("B"))
    COUNTS["copyin"] += 1
  except Exception as e:  # noqa: BLE001 - whatever broke in the private path, the public one still works
    _fallback("copyin", e)
    out.assign(Tensor(a, dtype=dtype, device=device)).realize()
  return out

def download(t:Tensor) -> np.ndarray:
  """A realized Tensor (a jit output) as a new numpy array."""
  if not t.uop.is_realized: return t.numpy()  # a lazy Tensor (the tests run the programs unjitted): numpy() realizes it
  try:
    buf, out = t.uop.base.buffer, np.empty(t.shape, dtype=np_dtype(t.dtype))
    Device[buf.device].synchronize()
    Device[buf.device].allocator._copyout(memoryview(out).cast("B"), buf._buf)
    COUNTS["copyout"] += 1
    return out
  except Exception as e:  # noqa: BLE001
    _fallback("copyout", e)
    return t.numpy()

def host_view(t:Tensor) -> np.ndarray|None:
  """A numpy array aliasing a realized Tensor's memory where the device has one (the CPU), else None. Writing small jit
  inputs through it costs ~1 µs instead of the ~0.3 ms of building a Tensor (which schedules a graph)."""
  try:
    if not hasattr((buf := t.uop.base.buffer).allocator, "_as_buffer"):  # devices without host memory (GPUs): no view, by design
      if buf.device.split(":")[0] == "CPU": _fallback("view", "the CPU allocator has no _as_buffer")
      return None
    return np.frombuffer(buf.ensure_allocated().as_memoryview(force_zero_copy=True), dtype=_to_np_dtype(buf.dtype)).reshape(t.shape)
  except Exception as e:  # noqa: BLE001
    _fallback("view", e)
    return None

_STAGING: dict[tuple, tuple[Tensor, np.ndarray|None]] = {}

def staged(a:np.ndarray, dtype:DType, device:str) -> Tensor:
  """a in the persistent input buffer of its (shape, dtype, device): the same Tensor on every call, overwritten in place
  (a captured program reads its inputs' buffers, so it needs no new Tensor), through its host view where there is one."""
  key = (a.shape, dtype, device)
  if key not in _STAGING:
    t = Tensor.zeros(*a.shape, dtype=dtype, device=device).contiguous().realize()
    _STAGING[key] = (t, host_view(t))
  t, view = _STAGING[key]
  if view is None: return upload(a, dtype, device, out=t)
  view[...] = a
  COUNTS["view"] += 1
  return t

# ***** captured programs: one registry; a captured TinyJit per (function, shapes), replayed directly *****

_PROGRAMS: dict[tuple, CachedJit] = {}

def program(key:tuple, fxn:Callable, *, noopt:bool=False, disk:bool=False) -> CachedJit:
  """The captured program of `fxn` for `key` (a name and every shape, dtype and device it was traced for), made once per
  process; with `disk`, saved to and loaded from the disk cache so a fresh process skips scheduling and code generation."""
  if key not in _PROGRAMS: _PROGRAMS[key] = CachedJit(fxn, key, noopt=noopt, disk=disk)
  return _PROGRAMS[key]

def replay(prog:CachedJit, args:tuple[Tensor, ...], prepared:dict) -> Tensor:
  """prog(*args) for args that are the same Tensor objects call after call (persistent buffers): TinyJit.__call__
  re-derives their buffers on every call (graph rewrites, ~0.5 ms), so once captured, they are derived once (cached in
  the caller's `prepared`) and the capture is replayed directly."""
  jit = prog.jit
  if jit.cnt < 2 or jit.captured is None: return prog(*args)
  key = (id(prog),) + tuple(id(a) for a in args)
  try:
    if key not in prepared: prepared[key] = _prepare_jit_inputs(args, {})[0]
    out = jit.captured(prepared[key], {})
    COUNTS["replay"] += 1
    return out
  except Exception as e:  # noqa: BLE001
    _fallback("replay", e)
    return prog(*args)

# ***** the disk cache of captured programs (everything that reads or writes ~/.cache/tinybo is in this section) *****
# A fresh process pays seconds per shape to schedule and generate code (tinygrad's own disk cache only holds compiler
# output). A captured TinyJit pickles with its compiled programs and replays in a new process, so captures are saved
# under a key of everything that could change the program: tinygrad version, this code, the CPU, the context.

def jit_cache_dir() -> Path|None:
  """TINYBO_CACHE_DIR (default ~/.cache/tinybo/jit); TINYBO_CACHE_DIR=0 or '' disables the disk cache."""
  d = os.environ.get("TINYBO_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "tinybo", "jit"))
  return Path(d) if d not in ("", "0") else None

@functools.cache
def _fingerprint() -> str:
  h = hashlib.sha256()
  if INSTALLED is not None: h.update(INSTALLED.encode())
  for mod in ("gp.py", "linalg.py", "kernels.py"): h.update((Path(__file__).parent / mod).read_bytes())
  h.update(f"{sys.version_info[:2]} {platform.machine()} {platform.node() if os.environ.get('TINYBO_CACHE_PER_HOST') else ''}".encode())
  try: h.update(b"".join(ln for ln in Path("/proc/cpuinfo").read_bytes().splitlines() if ln.startswith((b"model name", b"flags")))[:4096])
  except OSError: pass
  return h.hexdigest()[:16]

@functools.cache
def _prune(d:Path, max_age_days:float=7.0):
  # captures of other code versions or machines pile up (~0.1-1 MB each): drop those unused for a week, once a process
  now = time.time()
  for f in d.glob("*.pkl"):
    try:
      if not f.name.startswith(_fingerprint()) and now - f.stat().st_atime > max_age_days * 86400: f.unlink()
    except OSError: pass

class CachedJit:
  """TinyJit that captures on its first call (no eager run) and, with `disk`, loads/saves its capture from/to the cache."""
  def __init__(self, fxn:Callable, key:tuple, noopt:bool, disk:bool=True):
    # small shapes compile without kernel optimization: ~3x faster to capture, and their run time is launch-bound anyway
    self.noopt = noopt or bool(NOOPT.value)
    self.path: Path|None = None
    if disk and (d := jit_cache_dir()) is not None:
      self.path = d / (f"{_fingerprint()}-{int(self.noopt)}-" + "-".join(str(k).replace("dtypes.", "") for k in key) + ".pkl")
    self.jit: TinyJit|None = None
    if self.path is not None and self.path.exists():
      try: self.jit = pickle.loads(self.path.read_bytes())
      except Exception as e: _fallback("disk cache load", e)  # noqa: BLE001 - unreadable (files are replaced atomically): recapture
    self.saved = self.jit is not None
    if self.jit is None:
      self.jit = TinyJit(fxn)
      self.jit.cnt = 1  # capture on the first call: the eager run would schedule everything a second time

  def __call__(self, *args):
    if self.jit.captured is None:
      with Context(NOOPT=int(self.noopt)): ret = self.jit(*args)
    else: ret = self.jit(*args)
    if not self.saved and self.path is not None and self.jit.captured is not None:
      self.saved = True
      try:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _prune(self.path.parent)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(self.jit)); os.replace(tmp, self.path)
      except Exception as e: _fallback("disk cache save", e)  # noqa: BLE001 - a read-only or full disk costs the next process its compile
    return ret

# ***** end of the disk cache *****
