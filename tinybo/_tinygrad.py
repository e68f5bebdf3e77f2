"""The only module that reaches into tinygrad's internals: host <-> device copies, zero-copy host views, persistent jit
inputs, the one registry of captured programs (with its disk cache), their direct replay, and the shape buckets.
Written for tinygrad TINYGRAD_VERSION; another version is named in a warning once, at import. Every fast path here has a
public fallback, and a fallback warns once (`FastPathWarning`, naming the path and the error) instead of passing
silently: a tinygrad release that moves an internal makes tinybo slower and says so. `COUNTS` tells tests which path ran.
`DEVICE_LOCK`: the process-wide programs and buffers serve one unit of work at a time (the GP strategy holds it, through
`device_work`). `on_first_tensor`: a thread's first Tensor outside tinybo's device work calls back (Tensor.__init__ wrapped).
At import, tinygrad's compile cache gets one SQLite connection per thread (`_per_thread_compile_cache`).
Imports: tinygrad (its helpers' compile cache too), numpy, sqlite3 (that cache's per-thread connections), subprocess
(macOS's sysctl, `cpu_description`). Imported by gp.py, optim_acqf.py, tree.py (upload), bo.py and plot.py (the lock).
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import hashlib
import hmac
import importlib.metadata
import io
import os
import pickle
import platform
import secrets
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tinygrad import Device, Tensor, TinyJit, dtypes
from tinygrad import helpers as _helpers
from tinygrad.device import Buffer
from tinygrad.dtype import DType, _to_np_dtype
from tinygrad.engine.jit import _prepare_jit_inputs
from tinygrad.engine.realize import get_call_arg_uops, get_call_outs_ins, get_runtime, resolve_params
from tinygrad.helpers import NOOPT, Context, ContextVar
from tinygrad.uop.ops import Ops, ParamArg, UOp, buffers

TINYGRAD_VERSION = "0.14.0"

class FastPathWarning(RuntimeWarning):
  """A fast path into tinygrad's internals failed and tinybo took tinygrad's public (slower) API instead."""

try: INSTALLED: str|None = importlib.metadata.version("tinygrad")
except importlib.metadata.PackageNotFoundError: INSTALLED = None
if INSTALLED != TINYGRAD_VERSION:
  warnings.warn(f"tinybo was written for tinygrad {TINYGRAD_VERSION}, this is {INSTALLED}: fast paths may fall back", FastPathWarning, stacklevel=2)

# tinygrad's compile cache (helpers.diskcache_get/put) keeps one SQLite connection per process, and SQLite binds a
# connection to the thread that opened it: once one thread has compiled a kernel, a compile in any other thread raises
# ProgrammingError, and the GP fit that needed it falls back to random (a second thread of optimize(n_jobs), Optuna's
# n_jobs, a fit in a worker thread after one in the main thread). One connection per thread instead; SQLite serializes
# the writers (WAL, a 60 s busy timeout, as tinygrad opens its own).
_THREAD_DB = threading.local()

def _db_connection_per_thread() -> sqlite3.Connection:
  # keyed by process too: a forked child's thread inherits the parent's thread-local, and SQLite forbids using a
  # connection across a fork
  if (conn := getattr(_THREAD_DB, "conn", None)) is None or getattr(_THREAD_DB, "pid", None) != os.getpid():
    os.makedirs(os.path.dirname(_helpers.CACHEDB), exist_ok=True)
    conn = sqlite3.connect(_helpers.CACHEDB, timeout=60, isolation_level="IMMEDIATE")
    with contextlib.suppress(sqlite3.OperationalError): conn.execute("PRAGMA journal_mode=WAL").fetchone()
    conn.execute("PRAGMA synchronous=NORMAL")
    _THREAD_DB.conn, _THREAD_DB.pid = conn, os.getpid()
  return conn

def _per_thread_compile_cache() -> None:
  if not callable(getattr(_helpers, "db_connection", None)) or not isinstance(getattr(_helpers, "CACHEDB", None), str):
    warnings.warn(f"tinygrad {INSTALLED} has no helpers.db_connection/CACHEDB (written for {TINYGRAD_VERSION}): its compile "
                  f"cache stays one connection per process, and a compile in a second thread may fail", FastPathWarning, stacklevel=2)
    return
  _helpers.db_connection = _db_connection_per_thread

COUNTS: collections.Counter[str] = collections.Counter()  # path -> times taken ("copyin", "view", ..., "<path>:fallback")
_WARNED: set[str] = set()

def _fallback(path:str, err:BaseException|str) -> None:
  COUNTS[f"{path}:fallback"] += 1
  if path not in _WARNED:
    _WARNED.add(path)
    warnings.warn(f"tinybo's fast path '{path}' failed ({err if isinstance(err, str) else f'{type(err).__name__}: {err}'}) on tinygrad "
                  f"{INSTALLED} (written for {TINYGRAD_VERSION}); using the public API from now on", FastPathWarning, stacklevel=3)

_per_thread_compile_cache()

# ***** shapes: buckets so that captured programs are reused as observations arrive *****

# rows: two buckets up to 32 (16, 32). A padded row is masked to exact zeros after the real rows, so a larger bucket
# gives the fit and the acquisition the same numbers (tests/test_gp.py; 32 suite runs bit for bit), and each bucket
# is 2.9-3.8 s of compiling for a machine's first study, while a replay at 32 rows costs ~0.02 ms more than at 24. Past
# 32 rows, 1.15-1.5x apart: there every replay pays for the padding (warm studies up to 1.18x slower with 48 left out;
# benchmarks/README.md, session 40)
N_BUCKETS = (16, 32, 48, 64, 80, 96, 112, 128, 160, 208, 256, 320, 416, 512, 640, 832, 1024, 1280, 1664, 2048)
D_BUCKETS = (2, 4, 8, 12, 16, 24, 32, 48, 64)

def bucket(n:int, buckets:tuple[int, ...]) -> int:  # the smallest bucket >= n; beyond the last, multiples of a quarter of it
  return next((b for b in buckets if n <= b), -(-n // (buckets[-1] // 4)) * (buckets[-1] // 4))

# ***** host <-> device: straight buffer copies (a scheduled copy costs ~0.3-3 ms, these ~10 µs) *****

def np_dtype(dtype:DType): return np.float64 if dtype == dtypes.float64 else np.float32

def upload(a:np.ndarray, dtype:DType, device:str, out:Tensor|None=None) -> Tensor:
  """a as a realized Tensor; into `out`'s buffer when given (same shape), else a new one."""
  open_device(device)
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
    if not hasattr((buf := t.uop.base.buffer.ensure_allocated()).allocator, "_as_buffer"):  # devices without host memory (GPUs): no view, by design
      if buf.device.split(":")[0] == "CPU": _fallback("view", "the CPU allocator has no _as_buffer")
      return None
    return np.frombuffer(buf.as_memoryview(force_zero_copy=True), dtype=_to_np_dtype(buf.dtype)).reshape(t.shape)
  except Exception as e:  # noqa: BLE001
    _fallback("view", e)
    return None

_STAGING: dict[tuple, tuple[Tensor, np.ndarray|None]] = {}

def staged(a:np.ndarray, dtype:DType, device:str) -> Tensor:
  """a in the persistent input buffer of its (shape, dtype, device): the same Tensor on every call, overwritten in place
  (a captured program reads its inputs' buffers, so it needs no new Tensor), through its host view where there is one."""
  key = (a.shape, dtype, device)
  if key not in _STAGING:
    open_device(device)  # allocated, not filled: a fill is a kernel to schedule and compile, and every call overwrites it
    t = Tensor.empty(*a.shape, dtype=dtype, device=device).realize()
    _STAGING[key] = (t, host_view(t))
  t, view = _STAGING[key]
  if view is None: return upload(a, dtype, device, out=t)
  view[...] = a
  COUNTS["view"] += 1
  return t

# ***** captured programs: one registry; a captured TinyJit per (function, shapes), replayed directly *****

# The registry's programs and the staging buffers are process-wide: a program's outputs and intermediates and a staged
# input are overwritten by the next call from anyone, and tinygrad itself is not thread-safe (a capture registers itself
# in a global list). Two studies suggesting at once in two threads of one process read each other's numbers, silently, so
# a whole unit of device work (a suggestion, a recommendation) holds this lock; re-entrant, so that units may nest.
DEVICE_LOCK = threading.RLock()
_UNIT_DEPTH = threading.local()  # how deep this thread is in units of tinybo's device work (units nest)
_WRAP_LOCK = threading.Lock()
_FIRST_TENSOR = threading.local()  # .call: what this thread's next Tensor made outside tinybo's device work calls first

@contextlib.contextmanager
def device_work():
  """One unit of tinybo's device work: holds DEVICE_LOCK; the Tensors it makes are tinybo's own (`on_first_tensor`)."""
  with DEVICE_LOCK:
    depth = getattr(_UNIT_DEPTH, "n", 0)
    _UNIT_DEPTH.n = depth + 1
    try: yield
    finally: _UNIT_DEPTH.n = depth

def on_first_tensor(call: Callable[[], None] | None) -> None:
  """Until called again with None, the current thread's next tinygrad Tensor made outside tinybo's device work first
  calls `call()` (once): how optimize() finds that a user's objective runs tinygrad, at its first Tensor, before any of
  its device work (threads.ObjectiveTurns). Every tinygrad computation starts from Tensors, made by Tensor.__init__,
  wrapped once per process here (a thread-local read per Tensor)."""
  with _WRAP_LOCK:   # two worker threads of optimize() start at once
    if not getattr(Tensor.__init__, "_tinybo_first_tensor", False):
      made = Tensor.__init__
      @functools.wraps(made)
      def __init__(self, *args, **kwargs) -> None:
        call = getattr(_FIRST_TENSOR, "call", None)
        if call is not None and not getattr(_UNIT_DEPTH, "n", 0):
          _FIRST_TENSOR.call = None
          call()
        made(self, *args, **kwargs)
      __init__._tinybo_first_tensor = True
      Tensor.__init__ = __init__
  _FIRST_TENSOR.call = call

_PROGRAMS: dict[tuple, CachedJit] = {}

def program(key:tuple, fxn:Callable, *, device:str, noopt:bool=False, disk:bool=False) -> CachedJit:
  """The captured program of `fxn` for `key` (a name and every shape, dtype and device it was traced for; `device` is the
  one it runs on), made once per process; with `disk`, saved to and loaded from the disk cache so a fresh process skips
  scheduling and code generation."""
  if key not in _PROGRAMS: _PROGRAMS[key] = CachedJit(fxn, key, noopt=noopt, disk=disk, device=device)
  return _PROGRAMS[key]

def kernels(captured) -> list[tuple]|None:
  """A capture's kernels as tinygrad's executor (`exec_kernel`) launches them, the parts that do not depend on the input
  buffers: (call, device, runtime, global size, local size, values) each, in order. None where the capture is more than
  kernels on one device without variables (a copy, a graph, a multi-device buffer, a symbolic shape): those take the
  executor's own path. A CPU core's id is a variable the program sets itself."""
  out = []
  for call in captured.linear.src:
    ast = call.src[0]
    if ast.op is not Ops.PROGRAM or not isinstance(device := call.src[1].device, str): return None
    if any(v.expr not in ast.arg.runtimevars for v in ast.arg.vars): return None
    out.append((call, device, get_runtime(device, ast), *ast.arg.launch_dims({}), ast.arg.vals({})))
  return out

def launches(captured, known:list[tuple]|None, inputs:list[UOp]) -> list[tuple]|None:
  """`kernels` (known) with every buffer resolved for these input buffers: (runtime, device buffers, global size, local
  size, values) per kernel, the calls `exec_kernel` makes. None where `kernels` declined, or where the capture writes an
  input (the executor copies it first)."""
  if known is None or any(u in captured._written_uops for u in inputs): return None
  out = []
  for call, device, runtime, global_size, local_size, vals in known:
    resolved = resolve_params(call, tuple(inputs))
    bufs = [resolved[i].buffer for i in call.src[0].arg.globals]
    if not all(isinstance(b, Buffer) and b.device == device for b in bufs): return None
    out.append((runtime, [b.ensure_allocated().get_buf(device) for b in bufs], global_size, local_size, vals))
  return out

def replay(prog:CachedJit, args:tuple[Tensor, ...], prepared:dict) -> Tensor:
  """prog(*args) for args that are the same Tensor objects call after call (persistent buffers): TinyJit.__call__
  re-derives their buffers on every call (graph rewrites, ~0.5 ms), and tinygrad's executor resolves every kernel's
  buffers and runtime on every replay (~35 µs a kernel), so once captured, the input buffers and each kernel's launch are
  derived once (`kernels` per capture, `launches` per input set, cached in the caller's `prepared`) and replay is the
  kernels' calls alone. A capture that they decline replays through the executor."""
  jit = prog.jit
  if jit.cnt < 2 or jit.captured is None: return prog(*args)
  key = (id(prog),) + tuple(id(a) for a in args)
  try:
    if key not in prepared:
      inputs = _prepare_jit_inputs(args, {})[0]
      try:
        if prog.kernels is False: prog.kernels = kernels(jit.captured)
        calls = launches(jit.captured, prog.kernels, inputs)
      except Exception as e:  # noqa: BLE001 - the executor's replay below still works
        _fallback("launches", e)
        calls = None
      prepared[key] = (inputs, calls)
    inputs, calls = prepared[key]
    if calls is None: out = jit.captured(inputs, {})
    else:
      for runtime, bufs, global_size, local_size, vals in calls: runtime(*bufs, global_size=global_size, local_size=local_size, vals=vals)
      out = jit.captured.ret
      COUNTS["launches"] += 1
    COUNTS["replay"] += 1
    return out
  except Exception as e:  # noqa: BLE001
    _fallback("replay", e)
    return prog(*args)

# ***** the disk cache of captured programs (everything that reads or writes ~/.cache/tinybo is in this section) *****
# A fresh process pays seconds per shape to schedule and generate code (tinygrad's own disk cache only holds compiler
# output). A captured TinyJit pickles with its compiled programs and replays in a new process, so captures are saved
# under a name made of everything that could change the program: tinygrad's version, tinybo's source, the CPU and Python,
# the device's compiler, the code-generation settings, and the program's key (name, shapes, dtype, device).
# A pickle is code, so nothing is unpickled that this user did not write: the folder must be the user's and writable by
# no one else (created 0700), each entry a regular file of the user's that no one else may write, and each entry carries
# an HMAC-SHA256 of its name and bytes under a random per-user key kept 0600 in the folder. Saves go through a fresh
# mkstemp file and os.replace, so a planted symlink is never followed. Anything refused warns once and is recaptured.

class CacheWarning(RuntimeWarning):
  """tinybo's disk cache of captured programs refused a folder or an entry (not the user's, writable by others, or not
  authenticated by the user's key), or could not save one (a full or read-only disk); the program is captured again in
  memory. The message names the file and the fix."""

ENTRY_SUFFIX, MAGIC, KEY_NAME = ".tbjit", b"tinybo-jit-1\n", "hmac-key"
# the largest entry written: a lean capture is its code and graph, well under this at every bucket; a capture whose
# buffers could not be left out (`lean_dumps` fell back) holds b·N² numbers per intermediate and is not worth a file
MAX_ENTRY_BYTES = 8 << 20
# tinygrad settings that change the generated code (NOOPT is per program, in the name); DEBUG and friends do not. Besides
# these, every setting tinygrad's own compile cache is keyed by (`to_program_config`), read from tinygrad: NUM_CPU_THREADS
# among them (the cores a process may use: one under `taskset -c 1`), so that a process never loads a program another
# process compiled for another thread count
CODEGEN_VARS = ("BEAM", "TRANSCENDENTAL", "TC", "TC_OPT", "TC_SELECT", "IMAGE", "SPLIT_REDUCEOP", "NOLOCALS", "FLOAT16",
                "EMULATED_DTYPES", "USE_ATOMICS", "DEFAULT_FLOAT", "CHECK_OOB")
try: CODEGEN_VARS += tuple(v.key for v in importlib.import_module("tinygrad.codegen").to_program_config if v.key not in CODEGEN_VARS)
except (ImportError, AttributeError) as e: _fallback("compile settings", e)  # the static list still names the usual ones

def jit_cache_dir() -> Path|None:
  """TINYBO_CACHE_DIR (default ~/.cache/tinybo/jit); TINYBO_CACHE_DIR=0 or '' disables the disk cache."""
  d = os.environ.get("TINYBO_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "tinybo", "jit"))
  return _absolute(d) if d not in ("", "0") else None

@functools.cache
def _absolute(d:str) -> Path:
  # from the folder the process was in when it first used it: a relative folder that moved with os.chdir kept the key and
  # the checks of the first one (cache_secret is cached per path); ~ expanded: an .env file or a service's settings pass
  # it literally, and a folder named ~ appeared
  return Path(d).expanduser().absolute()

def _refuse(kind:str, path:Path, why:str) -> None:
  COUNTS["disk:refused"] += 1
  if f"disk:{kind}" not in _WARNED:
    _WARNED.add(f"disk:{kind}")
    warnings.warn(f"tinybo's disk cache refused {path}: {why}; capturing in memory instead (delete it, or set TINYBO_CACHE_DIR to a "
                  f"folder only you can write)", CacheWarning, stacklevel=4)

def _unsaved(path:Path, e:Exception) -> None:
  # a full or read-only disk is the user's to fix, not a moved tinygrad internal (whose FastPathWarning names tinygrad's
  # version): one CacheWarning naming the file; each later process captures the program again
  if not isinstance(e, OSError): return _fallback("disk cache save", e)
  COUNTS["disk:unsaved"] += 1
  if "disk:unsaved" not in _WARNED:
    _WARNED.add("disk:unsaved")
    warnings.warn(f"tinybo's disk cache could not save {path} ({e.strerror or e}); every new process captures it again (free space "
                  f"there, or set TINYBO_CACHE_DIR to a folder you can write, or to 0 to turn the cache off)", CacheWarning, stacklevel=4)

def _uid() -> int|None: return os.getuid() if hasattr(os, "getuid") else None  # None (Windows): no owners to check

def _unsafe(st:os.stat_result, private:bool=False) -> str|None:
  """Why a file or folder with this stat may not be trusted, or None: not this user's, or writable (private: accessible)
  by group or others."""
  if (uid := _uid()) is not None and st.st_uid != uid: return f"owned by uid {st.st_uid}, not by you (uid {uid})"
  if st.st_mode & (0o077 if private else 0o022):
    return f"mode {stat.filemode(st.st_mode)}: {'readable or ' if private else ''}writable by group or others"
  return None

def _open_private(path:Path) -> tuple[int, os.stat_result]:
  # never through a symlink (O_NOFOLLOW raises ELOOP), and without blocking on a planted FIFO
  fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
  return fd, os.fstat(fd)

def _read_key(path:Path) -> bytes|None:
  for _ in range(50):  # another process may have created it a moment ago and not yet written it
    try: fd, st = _open_private(path)
    except FileNotFoundError: return None
    with os.fdopen(fd, "rb") as f:
      if not stat.S_ISREG(st.st_mode) or (why := _unsafe(st, private=True)) is not None:
        raise PermissionError(f"the cache key {path} is {why or 'not a regular file'}")
      if len(key := f.read()) >= 32: return key
    time.sleep(0.02)
  # still short after a second: left by a process that died or ran out of disk between creating and writing it. Kept, it
  # would turn the cache off for good (and cost every process this second): made again instead (see cache_secret)
  with contextlib.suppress(FileNotFoundError): path.unlink()
  return None

@functools.cache
def cache_secret(d:Path) -> bytes|None:
  """The folder's per-user HMAC key (made on first use: the folder 0700, the key 0600 with O_EXCL), or None with one
  CacheWarning when the folder or the key may not be trusted (the disk cache is then off for this process)."""
  try:
    d.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError): d.mkdir(mode=0o700)
    if (why := _unsafe(d.stat())) is not None or not d.is_dir(): raise PermissionError(f"the folder is {why or 'not a folder'}")
    for _ in range(3):
      if (key := _read_key(d / KEY_NAME)) is not None: return key
      try: fd = os.open(d / KEY_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0), 0o600)
      except FileExistsError: continue  # another process made it first: read it
      try:
        with os.fdopen(fd, "wb") as f: f.write(key := secrets.token_bytes(32))
      except OSError:  # a full disk: no empty key left behind for the next process to wait on
        with contextlib.suppress(OSError): os.unlink(d / KEY_NAME)
        raise
      return key
    raise PermissionError(f"the cache key {d / KEY_NAME} stays shorter than 32 bytes")
  except OSError as e:
    _refuse("folder", d, str(e))
    return None

def _mac(secret:bytes, name:str, payload:bytes) -> bytes: return hmac.new(secret, name.encode() + b"\0" + payload, hashlib.sha256).digest()

def read_entry(path:Path, secret:bytes) -> bytes|None:
  """The payload of an entry this user wrote under this name, or None (absent, or refused with one CacheWarning)."""
  try: fd, st = _open_private(path)
  except FileNotFoundError: return None
  except OSError as e:
    _refuse("open", path, f"cannot be opened safely ({e.strerror or e}; a symlink?)")
    return None
  with os.fdopen(fd, "rb") as f:
    if not stat.S_ISREG(st.st_mode): why = "not a regular file"
    elif (why := _unsafe(st)) is None: data = f.read()
  if why is not None: _refuse("owner", path, why)
  elif data[:len(MAGIC)] != MAGIC or not hmac.compare_digest(data[len(MAGIC):len(MAGIC) + 32], _mac(secret, path.name, data[len(MAGIC) + 32:])):
    _refuse("hmac", path, "not authenticated by your cache key (planted, corrupted, or written with another key): not unpickled")
  else: return data[len(MAGIC) + 32:]
  return None

def write_entry(path:Path, secret:bytes, payload:bytes) -> None:
  """Save atomically through a new private file (mkstemp: O_EXCL, 0600, a random name) and os.replace, which replaces a
  symlink at `path` instead of following it."""
  fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:48]}.", suffix=".tmp")
  try:
    with os.fdopen(fd, "wb") as f: f.write(MAGIC + _mac(secret, path.name, payload) + payload)
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(OSError): os.unlink(tmp)
    raise

def written_first(captured) -> set[int]:
  """ids of the Buffers a captured program writes before it reads them, in call order: its intermediates and outputs,
  which every replay recomputes (a buffer it reads first, a constant realized before the capture, is not among them)."""
  first: dict[int, bool] = {}   # id of a Buffer (held alive by the capture) -> whether its first access was a pure write
  for call in captured._linear.src:
    args, (outs, ins) = get_call_arg_uops(call), get_call_outs_ins(call)
    for k, u in enumerate(args):
      base = u if (cv := u.contiguous_view()) is None else cv[0]
      if base.op is Ops.BUFFER and isinstance(buf := buffers.get(base), Buffer) and id(buf) not in first:
        first[id(buf)] = k in outs and k not in ins
  return {i for i, pure_write in first.items() if pure_write}

def lean_dumps(jit:TinyJit) -> bytes:
  """A captured TinyJit pickled without the contents of the buffers it writes before reading (`written_first`). tinygrad's
  own pickle copies every allocated buffer, b·N² numbers for each intermediate of the fit step (N = 208 rows, 4 restarts:
  13 MB); without them an entry is its compiled code and graph (0.7 MB), so every bucket fits on disk. The buffers are
  allocated again on the loaded program's first replay, which writes them before reading them."""
  try:
    lean = written_first(jit.captured)
    class LeanPickler(pickle.Pickler):
      def reducer_override(self, obj):
        if type(obj) is Buffer and id(obj) in lean and obj._base is None:  # Buffer.__reduce_ex__ of an unallocated buffer
          return Buffer, (obj.device, obj.size, obj.dtype, None, obj.options, None, obj.uop_refcount)
        return NotImplemented
    f = io.BytesIO()
    LeanPickler(f, protocol=pickle.HIGHEST_PROTOCOL).dump(jit)
    COUNTS["lean"] += 1
    return f.getvalue()
  except Exception as e:  # noqa: BLE001 - tinygrad's own pickle is right, only larger (MAX_ENTRY_BYTES decides if it is saved)
    _fallback("lean pickle", e)
    return pickle.dumps(jit)

def _uop_with_fresh_buffer(op, *args):
  # a BUFFER UOp is interned by (op, dtype, src, arg) and its arg holds a slot from a per-process counter: a saved slot can
  # equal a live buffer's of the loading process, and the loaded program would then read and write that buffer
  if op is Ops.BUFFER:  # a BUFFER without a ParamArg (a tinygrad that keeps its slot elsewhere) would keep its saved slot
    if len(args) < 3 or not isinstance(args[2], ParamArg): raise TypeError(f"a saved BUFFER UOp's arg is {args[2:3]}, not a ParamArg")
    args = (args[0], args[1], dataclasses.replace(args[2], slot=next(UOp.unique_num)), *args[3:])
  return UOp(op, *args)

class _FreshBuffers(pickle.Unpickler):
  """Unpickles a capture with every buffer under a new slot (`_uop_with_fresh_buffer`); pickle builds each saved UOp
  once, so every reference in the program gets the same new one."""
  def find_class(self, module:str, name:str):
    cls = super().find_class(module, name)
    return _uop_with_fresh_buffer if cls is UOp else cls

def load_capture(payload:bytes):
  """A capture saved by `lean_dumps` (or pickle), its buffers its own: none of them is a live buffer of this process. Where
  they cannot be made its own (a tinygrad that builds UOps otherwise) this raises, and the caller captures the program
  again: a plain unpickle would be faster, but its program could read and write a live buffer of this process, silently."""
  return _FreshBuffers(io.BytesIO(payload)).load()

# the lines of /proc/cpuinfo that say what a CPU can run: x86 has a model name and flags, arm64 neither (its Features and CPU
# part say it): two ARM machines sharing a home folder (two Graviton generations) must not run each other's programs
CPU_LINES = (b"model name", b"flags", b"Features", b"CPU implementer", b"CPU architecture", b"CPU variant", b"CPU part")
# macOS has no /proc: sysctl says it (brand, x86 feature words, hw.optional.* for both x86 and arm64 features), and
# sysctl.proc_translated tells a process Rosetta runs on Apple silicon (platform.machine() says x86_64 there, as on an Intel
# Mac: one home folder used by both would load AVX-512 code where Rosetta cannot run it). A name a CPU lacks fails alone.
SYSCTL_NAMES = ("machdep.cpu.brand_string", "machdep.cpu.features", "machdep.cpu.leaf7_features", "hw.optional", "sysctl.proc_translated")

def _cpuinfo() -> bytes:
  try: return b"\n".join(sorted({ln for ln in Path("/proc/cpuinfo").read_bytes().splitlines() if ln.startswith(CPU_LINES)}))
  except OSError: return b""

def _sysctl() -> bytes:
  try: return subprocess.run(["/usr/sbin/sysctl", *SYSCTL_NAMES], capture_output=True, timeout=10).stdout.strip()
  except (OSError, subprocess.SubprocessError): return b""

def cpu_description() -> bytes:
  """What the CPU can run, for the names of compiled programs (clang compiles for the CPU it runs on): the platform and
  machine, and Linux's /proc/cpuinfo lines (`CPU_LINES`, each distinct line once, so every kind of core of a hybrid CPU
  counts and many cores cost nothing), macOS's sysctl (`SYSCTL_NAMES`), Windows's platform.processor() (family, model and
  stepping; elsewhere it is the machine again, or `uname -p`'s "unknown"). Where none of them can be read the CPU is
  "unknown" and the host name stands in for it: such a machine's programs are never loaded by another host sharing its
  home folder (nor by a process of it that reads its CPU, as its key differs)."""
  system = platform.system()
  found = {"Linux": _cpuinfo, "Darwin": _sysctl, "Windows": lambda: platform.processor().encode()}.get(system, bytes)()
  return f"{system} {platform.machine()}\n".encode() + (found or f"cpu unknown, host {platform.node()}".encode())

def _tree_stamp(root:Path) -> bytes:
  # the path, size and modification time of every .py file under root: tinygrad installed from git keeps its release's
  # version string while its internals change (a capture pickled by one commit may fail to load, or replay otherwise, under
  # the next), and every install or checkout rewrites the files it changes; a stat each costs ~2 ms, reading them ~75 ms
  lines = []
  for folder, subfolders, files in os.walk(root):
    subfolders.sort()
    for name in sorted(f for f in files if f.endswith(".py")):
      try: st = os.stat(path := os.path.join(folder, name))
      except OSError: continue  # removed since the walk listed it (an upgrade under way): the next process sees the new files
      lines.append(f"{path[len(str(root)):]} {st.st_size} {st.st_mtime_ns}")
  return "\n".join(lines).encode()

@functools.cache
def _fingerprint() -> str:
  # tinygrad (its version and files), every source file of tinybo, Python and the CPU (it decides what clang's -march=native
  # emits: `cpu_description`)
  h = hashlib.sha256()
  if INSTALLED is not None: h.update(INSTALLED.encode())
  h.update(_tree_stamp(Path(importlib.import_module("tinygrad").__file__).parent))
  for f in sorted(Path(__file__).parent.glob("*.py")): h.update(f.name.encode() + b"\0" + f.read_bytes())
  h.update(f"{sys.version_info[:2]} {platform.node() if os.environ.get('TINYBO_CACHE_PER_HOST') else ''}\n".encode() + cpu_description())
  return h.hexdigest()[:16]

@functools.cache
def _device_tag(device:str) -> str:
  # the device's renderer, target and compiler: another GPU architecture or another CPU backend is another program
  dev = Device[device]
  return f"{device}|{type(dev.renderer).__name__}|{getattr(dev.renderer, 'target', '')}|{getattr(dev.compiler, 'cachekey', '')}"

def _by_value(k) -> bool:
  # a frozen dataclass that is called (tree.TreePosterior): equal, hashed and printed by its fields, so its repr names
  # the program it traces in every process; any other callable object's repr may hold a memory address
  return dataclasses.is_dataclass(k) and not isinstance(k, type) and k.__dataclass_params__.frozen

def _key_text(k) -> str:
  if isinstance(k, DType): return k.name
  if isinstance(k, tuple): return "(" + ",".join(_key_text(x) for x in k) + ")"
  if _by_value(k): return f"{type(k).__module__}.{k!r}"
  if callable(k): return f"{k.__module__}.{k.__qualname__}"
  return str(k)

def _stable_name(k) -> bool:
  # whether a callable of a key names the same code in every process: tinybo's own named functions and by-value objects
  if _by_value(k): return type(k).__module__.startswith("tinybo")
  return getattr(k, "__module__", "").startswith("tinybo") and "<" not in getattr(k, "__qualname__", "<")

def entry_name(key:tuple, noopt:bool, device:str) -> str|None:
  """The file name of a program's capture (readable, plus a hash of the exact key and settings), or None where the key
  names a function that has no stable name (a lambda, a closure, another package's): such programs stay in memory."""
  if any(callable(k) and not _stable_name(k) for k in key): return None
  ctx = ",".join(f"{v}={ContextVar._cache[v].value}" for v in CODEGEN_VARS if v in ContextVar._cache)
  text = "-".join(_key_text(k) for k in key)
  exact = hashlib.sha256(f"{text}|{int(noopt)}|{_device_tag(device)}|{ctx}".encode()).hexdigest()[:12]
  # at most 143 characters in all (38 for the fingerprint, NOOPT, the hash, the suffix and the dashes): the longest file name
  # an eCryptfs home folder (an encrypted Ubuntu home) can hold
  readable = "".join(c if c.isalnum() or c in "._,()=" else "_" for c in text)[:143 - 38]
  return f"{_fingerprint()}-{int(noopt)}-{readable}-{exact}{ENTRY_SUFFIX}"

# what the captures of other code versions or machines may take (~0.1-1 MB each, tens to hundreds per version): every edit
# of tinybo's source is a new fingerprint, and this project's own development wrote 655 MB of them in 4.5 hours
MAX_STALE_BYTES = 256 << 20

@functools.cache
def _prune(d:Path, max_age_days:float=7.0):
  # once a process: drop captures of other fingerprints unused for a week, and beyond MAX_STALE_BYTES the least recently
  # used of them (another version still in use keeps its recent ones); *.pkl are unauthenticated captures of older tinybo
  # versions (never read), *.tmp the leftovers of a crashed save
  now, uid, stale = time.time(), _uid(), []
  for f in d.iterdir():
    try:
      st = f.lstat()
      if (uid is not None and st.st_uid != uid) or not stat.S_ISREG(st.st_mode): continue
      if f.name.endswith(ENTRY_SUFFIX) and not f.name.startswith(_fingerprint()) or f.name.endswith(".pkl"):
        if now - st.st_atime > max_age_days * 86400: f.unlink()
        else: stale.append((st.st_atime, st.st_size, f))
      elif f.name.endswith(".tmp") and now - st.st_mtime > 86400: f.unlink()
    except OSError: continue
  total = sum(size for _, size, _ in stale)
  for _, size, f in sorted(stale, key=lambda e: e[0]):
    if total <= MAX_STALE_BYTES: break
    with contextlib.suppress(OSError): f.unlink()
    total -= size

_OPENED: set[str] = set()
_OPEN_LOCK = threading.Lock()

class _Compiled:  # what ops_cpu's device set-up reads from do_to_program(...): only .to_elf()
  def __init__(self, elf): self.elf = elf
  def to_elf(self): return self.elf

def open_device(device:str) -> None:
  """Device[device], opened once per process. Opening the CPU device generates code for four helper programs (signal,
  wait, timestamp, worker), a few tenths of a second in every fresh process: they come from the disk cache instead."""
  if device in _OPENED: return
  with _OPEN_LOCK:
    if device in _OPENED: return
    d = jit_cache_dir()
    if device.split(":")[0] != "CPU" or d is None or (secret := cache_secret(d)) is None: Device[device]
    else:
      try: ops_cpu = importlib.import_module("tinygrad.runtime.ops_cpu"); generate = ops_cpu.do_to_program
      except (ImportError, AttributeError) as e:
        _fallback("device helper cache", e)
        generate = ops_cpu = None
      def cached(ast, renderer):
        name = getattr(ast.arg, "name", None)
        path = d / f"{_fingerprint()}-device-CPU-{name}{ENTRY_SUFFIX}"
        if name is not None and (payload := read_entry(path, secret)) is not None:
          COUNTS["disk:load"] += 1
          return _Compiled(pickle.loads(payload))  # authenticated: written by this user's tinybo under this name
        elf = generate(ast, renderer).to_elf()
        if name is not None:
          try: write_entry(path, secret, pickle.dumps(elf)); COUNTS["disk:save"] += 1
          except Exception as e: _unsaved(path, e)  # noqa: BLE001 - costs the next process this codegen
        return _Compiled(elf)
      if ops_cpu is not None: ops_cpu.do_to_program = cached
      try: Device[device]
      except Exception as e:  # noqa: BLE001 - a stale helper program: open the device the public way
        if ops_cpu is None: raise
        ops_cpu.do_to_program = generate
        _fallback("device helper cache", e)
        Device[device]
      finally:
        if ops_cpu is not None: ops_cpu.do_to_program = generate
    _OPENED.add(device)

class CachedJit:
  """TinyJit that captures on its first call (no eager run) and, with `disk`, loads/saves its capture from/to the cache."""
  def __init__(self, fxn:Callable, key:tuple, noopt:bool, disk:bool=True, device:str|None=None):
    # small shapes compile without kernel optimization: ~3x faster to capture, and their run time is launch-bound anyway
    self.noopt = noopt or bool(NOOPT.value)
    self.path: Path|None = None
    self.secret: bytes|None = None
    if disk and (d := jit_cache_dir()) is not None and (name := entry_name(key, self.noopt, device or Device.DEFAULT)) is not None:
      if (secret := cache_secret(d)) is not None: self.path, self.secret = d / name, secret
    self.jit: TinyJit|None = None
    self.kernels: list[tuple]|None|bool = False   # `kernels` of the capture, derived at its first replay
    if self.path is not None and self.secret is not None and (payload := read_entry(self.path, self.secret)) is not None:
      try:
        self.jit = load_capture(payload)  # authenticated: written by this user's tinybo under this name
        COUNTS["disk:load"] += 1
      except Exception as e: _fallback("disk cache load", e)  # noqa: BLE001 - unreadable by this tinygrad: recapture
    self.saved = self.jit is not None
    if self.jit is None:
      self.jit = TinyJit(fxn)
      self.jit.cnt = 1  # capture on the first call: the eager run would schedule everything a second time

  def __call__(self, *args):
    if self.jit.captured is None:
      with Context(NOOPT=int(self.noopt)): ret = self.jit(*args)
    else: ret = self.jit(*args)
    if not self.saved and self.path is not None and self.secret is not None and self.jit.captured is not None:
      self.saved = True
      try:
        _prune(self.path.parent)
        if len(payload := lean_dumps(self.jit)) <= MAX_ENTRY_BYTES:
          write_entry(self.path, self.secret, payload)
          COUNTS["disk:save"] += 1
        else: COUNTS["disk:too large"] += 1
      except Exception as e: _unsaved(self.path, e)  # noqa: BLE001 - a read-only or full disk costs the next process its compile
    return ret

# ***** end of the disk cache *****
