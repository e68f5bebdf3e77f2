"""The disk cache of captured programs (tinybo/_tinygrad.py): what it loads is a pickle, i.e. code, so it loads only what
this user wrote; saving never follows a planted link; and a fresh process with a warm cache compiles nothing a suggestion
needs. The attacks are the ones a local user found: a planted pickle, a planted symlink at the temporary name, a shared
folder that another user created first."""
from __future__ import annotations

import json
import os
import pickle
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
from tinygrad import Context, dtypes

import tinybo._tinygrad as tg

ROOT = Path(__file__).resolve().parent.parent
KEY = ("test-disk-cache", 4, 3)

def product_sum(a, b): return ((a * b).sum(-1) + 1).contiguous()

@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
  """A private cache folder for this test, fresh warning state (every refusal warns once per process)."""
  d = tmp_path / "jit"
  monkeypatch.setenv("TINYBO_CACHE_DIR", str(d))
  monkeypatch.setattr(tg, "_WARNED", set())
  tg.cache_secret.cache_clear()
  yield d
  tg.cache_secret.cache_clear()

def inputs(seed:int=0):
  A, B = (np.random.default_rng(seed + i).uniform(size=(4, 3)) for i in (0, 1))
  return A, B, tg.upload(A, dtypes.float64, "CPU"), tg.upload(B, dtypes.float64, "CPU")

def run_fresh(key=KEY) -> tuple[tg.CachedJit, np.ndarray, np.ndarray]:
  """What a fresh process does: make the program (loading it if the cache has it), run it; returns it, result, reference."""
  prog = tg.CachedJit(product_sum, key, noopt=True, device="CPU")
  A, B, At, Bt = inputs()
  return prog, prog(At, Bt).numpy(), (A * B).sum(-1) + 1

def saved_entry(cache:Path) -> Path:
  prog, got, ref = run_fresh()
  np.testing.assert_allclose(got, ref)
  assert prog.saved and prog.path is not None and prog.path.exists()
  return prog.path

class MakeDir:  # a pickle that runs code when loaded: os.mkdir(path)
  def __init__(self, path:Path): self.path = str(path)
  def __reduce__(self): return (os.mkdir, (self.path,))

# ***** authentication: a planted pickle is never unpickled *****

def test_a_planted_pickle_is_never_unpickled(cache, tmp_path):
  path = saved_entry(cache)
  marker = tmp_path / "planted-code-ran"
  path.write_bytes(pickle.dumps(MakeDir(marker)))  # owned by this user, mode 0644: only the authentication can catch it
  loads = tg.COUNTS["disk:load"]
  with pytest.warns(tg.CacheWarning, match="not authenticated by your cache key.*not unpickled"):
    prog, got, ref = run_fresh()
  assert not marker.exists(), "the planted pickle was executed"
  assert tg.COUNTS["disk:load"] == loads and prog.jit.captured is not None  # recaptured in memory, and right
  np.testing.assert_allclose(got, ref)

def test_an_entry_is_bound_to_its_name(cache):
  # a genuine entry copied to another program's name is refused (the HMAC covers the name), so a capture of one shape
  # can never be replayed for another
  path = saved_entry(cache)
  other = tg.CachedJit(product_sum, ("test-disk-cache", 8, 3), noopt=True, device="CPU").path
  shutil.copyfile(path, other)
  with pytest.warns(tg.CacheWarning, match="not authenticated"):
    prog = tg.CachedJit(product_sum, ("test-disk-cache", 8, 3), noopt=True, device="CPU")
  assert prog.jit.captured is None  # not loaded: it captures on its first call

def test_a_genuine_entry_loads_and_replays_new_values(cache):
  saved_entry(cache)
  loads = tg.COUNTS["disk:load"]
  with warnings.catch_warnings():
    warnings.simplefilter("error", tg.CacheWarning)
    prog = tg.CachedJit(product_sum, KEY, noopt=True, device="CPU")
  assert tg.COUNTS["disk:load"] == loads + 1 and prog.jit.captured is not None
  A, _, At, _ = inputs()
  C = np.random.default_rng(7).uniform(size=(4, 3))
  np.testing.assert_allclose(prog(At, tg.upload(C, dtypes.float64, "CPU")).numpy(), (A * C).sum(-1) + 1)

def test_an_entry_whose_buffers_cannot_be_made_its_own_is_captured_again(cache, monkeypatch):
  # where the fresh slots failed (a tinygrad that builds UOps otherwise), the entry was loaded with a plain unpickle: its
  # program could then run on a live buffer of this process that shares a saved slot (see the lean test below), silently
  saved_entry(cache)
  def moved(*args): raise TypeError("UOp.__new__() takes other arguments")
  class OtherArg: pass  # a tinygrad whose BUFFER keeps its slot in another class: no slot was renewed, and no warning
  for name, value in (("_uop_with_fresh_buffer", moved), ("ParamArg", OtherArg)):
    with monkeypatch.context() as m:
      m.setattr(tg, name, value)
      m.setattr(tg, "_WARNED", set())
      loads = tg.COUNTS["disk:load"]
      with pytest.warns(tg.FastPathWarning, match="disk cache load.*(UOp.__new__|not a ParamArg)"):
        prog = tg.CachedJit(product_sum, KEY, noopt=True, device="CPU")
      assert tg.COUNTS["disk:load"] == loads and prog.jit.captured is None, name  # not loaded: captured on its first call
      A, B, At, Bt = inputs()
      np.testing.assert_allclose(prog(At, Bt).numpy(), (A * B).sum(-1) + 1)

# ***** permissions and owners *****

def test_folder_entries_and_key_are_private(cache):
  path = saved_entry(cache)
  assert stat.S_IMODE(cache.stat().st_mode) == 0o700
  assert stat.S_IMODE(path.stat().st_mode) == 0o600
  assert stat.S_IMODE((cache / tg.KEY_NAME).stat().st_mode) == 0o600 and len((cache / tg.KEY_NAME).read_bytes()) == 32

@pytest.mark.parametrize("mode", [0o664, 0o646])
def test_an_entry_writable_by_others_is_refused(cache, mode):
  path = saved_entry(cache)
  os.chmod(path, mode)
  with pytest.warns(tg.CacheWarning, match=r"writable by group or others"):
    prog, got, ref = run_fresh()
  assert prog.jit.captured is not None and prog.saved  # recaptured; not loaded
  np.testing.assert_allclose(got, ref)

def test_a_folder_writable_by_others_turns_the_cache_off(cache):
  cache.mkdir(mode=0o700)
  os.chmod(cache, 0o777)
  with pytest.warns(tg.CacheWarning, match=r"folder is mode drwxrwxrwx"):
    prog, got, ref = run_fresh()
  assert prog.path is None and list(cache.iterdir()) == []  # nothing read, nothing written
  np.testing.assert_allclose(got, ref)

def test_a_readable_key_is_refused(cache):
  saved_entry(cache)
  tg.cache_secret.cache_clear()
  os.chmod(cache / tg.KEY_NAME, 0o644)
  with pytest.warns(tg.CacheWarning, match=r"cache key .* readable or writable by group or others"):
    prog, _, _ = run_fresh()
  assert prog.path is None

@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to give a file to another user (chown)")
def test_an_entry_owned_by_another_user_is_refused(cache):
  path = saved_entry(cache)
  os.chown(path, 47011, 47011)  # a genuine, authenticated entry: only the owner check can refuse it
  with pytest.warns(tg.CacheWarning, match=r"owned by uid 47011, not by you"):
    prog, got, ref = run_fresh()
  assert prog.jit.captured is not None
  np.testing.assert_allclose(got, ref)

def test_a_key_left_empty_is_made_again(cache, monkeypatch):
  # a process that died, or ran out of disk, between creating the key (O_EXCL) and writing it left an empty key: it turned
  # the cache off for good, with a warning and a second's wait in every later process, even once the disk had room again
  cache.mkdir(mode=0o700)
  os.close(os.open(cache / tg.KEY_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
  monkeypatch.setattr(tg.time, "sleep", lambda s: None)  # the wait for a writer that is gone
  with warnings.catch_warnings():
    warnings.simplefilter("error", tg.CacheWarning)
    path = saved_entry(cache)
  assert len(key := (cache / tg.KEY_NAME).read_bytes()) == 32
  tg.cache_secret.cache_clear()
  assert tg.cache_secret(cache) == key and tg.read_entry(path, key) is not None  # and a fresh process loads what it saved

def test_a_key_that_cannot_be_written_is_not_left_behind(cache, monkeypatch):
  real = os.fdopen
  class Full:  # a file on a full disk: the write (or its flush) fails with ENOSPC
    def __init__(self, fd): self.f = real(fd, "wb")
    def __enter__(self): return self
    def __exit__(self, *exc): self.f.close()
    def write(self, b): raise OSError(28, "No space left on device")
  monkeypatch.setattr(os, "fdopen", lambda fd, mode="r", *a, **k: Full(fd) if mode == "wb" else real(fd, mode, *a, **k))
  with pytest.warns(tg.CacheWarning, match="No space left on device"):
    assert tg.cache_secret(cache) is None
  monkeypatch.setattr(os, "fdopen", real)
  assert not (cache / tg.KEY_NAME).exists()  # the next process, with room on the disk, makes the key and uses the cache
  tg.cache_secret.cache_clear()
  assert tg.cache_secret(cache) is not None

def test_a_full_disk_warns_once_naming_the_entry(cache, monkeypatch):
  # a save that fails on a full or read-only disk warned as a FastPathWarning, "fast path 'disk cache save' failed ... on
  # tinygrad 0.14.0 (written for 0.14.0); using the public API from now on": no file, no fix, and not a CacheWarning
  def full(path, secret, payload): raise OSError(28, "No space left on device")
  monkeypatch.setattr(tg, "write_entry", full)
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    prog, got, ref = run_fresh()
    run_fresh(("test-disk-cache", 8, 3))
  np.testing.assert_allclose(got, ref)
  assert [(w.category, str(w.message)) for w in caught if issubclass(w.category, RuntimeWarning)] == [
    (tg.CacheWarning, f"tinybo's disk cache could not save {prog.path} (No space left on device); every new process captures it again "
     "(free space there, or set TINYBO_CACHE_DIR to a folder you can write, or to 0 to turn the cache off)")]

def test_a_relative_or_tilde_cache_dir_is_one_folder_wherever_the_process_goes(tmp_path, monkeypatch):
  # a relative TINYBO_CACHE_DIR moved with os.chdir (a run folder per experiment) while the key and the checks stayed those
  # of the first folder; "~/..." from an .env file or a service's settings made a folder literally named ~
  monkeypatch.setenv("HOME", str(tmp_path / "home"))
  monkeypatch.chdir(tmp_path)
  monkeypatch.setenv("TINYBO_CACHE_DIR", "~/tb")
  assert tg.jit_cache_dir() == tmp_path / "home" / "tb"
  monkeypatch.setenv("TINYBO_CACHE_DIR", "cache/jit")
  first = tg.jit_cache_dir()
  (tmp_path / "run-1").mkdir()
  monkeypatch.chdir(tmp_path / "run-1")
  assert tg.jit_cache_dir() == first == tmp_path / "cache" / "jit"

# ***** saving never follows a planted link *****

def test_saving_never_follows_a_planted_symlink(cache, tmp_path):
  prog = tg.CachedJit(product_sum, KEY, noopt=True, device="CPU")  # makes the folder; nothing saved yet
  victims = {name: tmp_path / name for name in ("victim-tmp.txt", "victim-entry.txt")}
  for v in victims.values(): v.write_text("precious")
  # the temporary name older versions wrote through, and the entry's own name
  os.symlink(victims["victim-tmp.txt"], prog.path.with_suffix(f".{os.getpid()}.tmp"))
  os.symlink(victims["victim-entry.txt"], prog.path)
  tg.cache_secret.cache_clear()
  with pytest.warns(tg.CacheWarning, match="cannot be opened safely"):
    prog = tg.CachedJit(product_sum, KEY, noopt=True, device="CPU")
  A, B, At, Bt = inputs()
  np.testing.assert_allclose(prog(At, Bt).numpy(), (A * B).sum(-1) + 1)
  assert prog.saved
  assert all(v.read_text() == "precious" for v in victims.values()), "a planted symlink was followed"
  assert not prog.path.is_symlink() and prog.path.is_file()  # os.replace put the entry in place of the link

# ***** keys: a stale or foreign entry is never used *****

def test_entry_names_separate_everything_that_changes_a_program():
  from tinybo.gp import posterior
  shapes = ((24, 8), (24,), (24, 24), (13,))
  def name(*, kind="ucb", grad=True, sh=shapes, X=(10, 6), dtype=dtypes.float64, device="CPU", noopt=False):
    return tg.entry_name(("acquisition", posterior, kind, grad, sh, X, dtype, device), noopt, device)
  base = name()
  variants = [name(kind="logei"), name(grad=False), name(sh=((32, 8), (32,), (32, 32), (13,))), name(X=(16, 6)),
              name(dtype=dtypes.float32), name(noopt=True)]
  with Context(BEAM=1): variants.append(name())
  assert len({base, *variants}) == len(variants) + 1
  assert base.startswith(tg._fingerprint()) and base.endswith(tg.ENTRY_SUFFIX) and "/" not in base
  # an eCryptfs home folder holds names of up to 143 characters: a longer one was neither saved nor opened (two warnings)
  longest = tg.entry_name(("acquisition", posterior, "logpi", True, ((2048, 64),) * 3 + ((2048, 2048),) * 3, (1024, 64), dtypes.float64,
                           "CPU"), True, "CPU")
  assert all(len(n) <= 143 for n in (base, *variants, longest)), max(len(n) for n in (base, *variants, longest))
  # a function without a stable name (a lambda, another package's) is never saved: its name could mean another program
  assert tg.entry_name(("acquisition", lambda x: x, 3), False, "CPU") is None
  assert tg.entry_name(("acquisition", np.sum, 3), False, "CPU") is None

def test_a_tree_posterior_is_named_by_its_layout():
  # tree.TreePosterior is a value (its layout: which columns pass through, which are arc pairs): equal layouts are one
  # program in every process, different ones at the same shapes different programs; a callable object that is not a
  # frozen value may print a memory address, so it is never saved
  import dataclasses

  from tinybo.tree import TreePosterior
  def name(post): return tg.entry_name(("acquisition", post, "ucb", True, ((24, 5),), (10, 9), dtypes.float64, "CPU"), False, "CPU")
  a, b = TreePosterior(((0, 2, False), (2, 3, True), (3, 4, False))), TreePosterior(((0, 3, False), (3, 4, True)))
  assert name(a) is not None and name(a) == name(TreePosterior(((0, 2, False), (2, 3, True), (3, 4, False)))) and name(a) != name(b)
  @dataclasses.dataclass
  class Mutable:
    runs: tuple
    def __call__(self, *args): return args
  class Plain:
    def __call__(self, *args): return args
  assert name(Mutable(a.runs)) is None and name(Plain()) is None

def test_entry_names_follow_every_setting_tinygrads_compile_cache_is_keyed_by():
  # tinygrad compiles a kernel again when any of these changes (its to_program_key); an entry name without one of them let a
  # process pinned to one core (NUM_CPU_THREADS=1) load a program compiled for two, and the other way round
  from tinygrad.codegen import to_program_config
  from tinygrad.helpers import ContextVar
  assert all(v in ContextVar._cache for v in tg.CODEGEN_VARS), "a setting tinygrad does not have is no part of the name"
  from tinybo.gp import posterior
  key = ("posterior", posterior, 24, 8, dtypes.float64, "CPU")
  base = tg.entry_name(key, False, "CPU")
  assert base is not None
  for var in to_program_config:
    assert var.key in tg.CODEGEN_VARS
    with Context(**{var.key: (var.value + 1) if isinstance(var.value, int) else var.value + "x"}):
      assert tg.entry_name(key, False, "CPU") != base, var.key
  assert tg.entry_name(key, False, "CPU") == base

def test_the_fingerprint_covers_every_source_file_of_tinybo(monkeypatch):
  real = Path.read_bytes
  before = tg._fingerprint()
  def edited(p:Path) -> bytes: return real(p) + (b"# edited\n" if p.name == "optim_acqf.py" else b"")
  monkeypatch.setattr(Path, "read_bytes", edited)
  tg._fingerprint.cache_clear()
  try: assert tg._fingerprint() != before
  finally:
    monkeypatch.undo()
    tg._fingerprint.cache_clear()
  assert tg._fingerprint() == before

def test_the_fingerprint_follows_tinygrads_files_not_only_its_version(monkeypatch):
  # tinygrad installed from git keeps its release's version string while its internals change: a capture pickled under one
  # commit was loaded under the next (to fail in the middle of a suggestion, or to replay otherwise)
  import tinygrad
  tensor_py = os.path.join(os.path.dirname(tinygrad.__file__), "tensor.py")
  real, before = os.stat, tg._fingerprint()
  def fingerprint_with(**changed) -> str:
    def stat(path, *a, **k):
      st = real(path, *a, **k)
      if os.fspath(path) != tensor_py: return st
      return types.SimpleNamespace(**{f: getattr(st, f) for f in dir(st) if f.startswith("st_")} | changed)
    monkeypatch.setattr(os, "stat", stat)
    tg._fingerprint.cache_clear()
    try: return tg._fingerprint()
    finally: monkeypatch.setattr(os, "stat", real)
  try:
    st = real(tensor_py)
    assert fingerprint_with(st_mtime_ns=st.st_mtime_ns + 10**9) != before  # rewritten by a checkout or an install
    assert fingerprint_with(st_size=st.st_size + 1) != before
    assert fingerprint_with() == before
  finally: tg._fingerprint.cache_clear()
  assert tg._fingerprint() == before

GRAVITON2 = b"""processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x3
CPU part\t: 0xd0c
CPU revision\t: 1
"""
GRAVITON3 = GRAVITON2.replace(b"asimddp ssbs", b"asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs paca pacg dcpodp svei8mm "
                              b"svebf16 i8mm bf16 dgh rng").replace(b"0xd0c", b"0xd40").replace(b"0x3", b"0x1")

@pytest.mark.parametrize("one, other", [(GRAVITON2, GRAVITON3), (GRAVITON2, GRAVITON2.replace(b"0xd0c", b"0xd0d"))])
def test_the_fingerprint_tells_arm_cpus_apart(monkeypatch, one, other):
  # arm64's /proc/cpuinfo has no "model name" and no "flags": two ARM machines sharing a home folder had one fingerprint,
  # and one would run programs clang compiled with -mcpu=native for the other (SVE on a CPU without: an illegal instruction)
  real = Path.read_bytes
  def fingerprint_on(cpuinfo:bytes) -> str:
    monkeypatch.setattr(Path, "read_bytes", lambda p: cpuinfo * 4 if str(p) == "/proc/cpuinfo" else real(p))
    tg._fingerprint.cache_clear()
    return tg._fingerprint()
  try:
    assert fingerprint_on(one) != fingerprint_on(other)
    assert fingerprint_on(one) == fingerprint_on(one.replace(b"processor\t: 0", b"processor\t: 7").replace(b"243.75", b"250.00"))
  finally:
    monkeypatch.undo()
    tg._fingerprint.cache_clear()

XEON_IMAC_PRO = b"""machdep.cpu.brand_string: Intel(R) Xeon(R) W-2140B CPU @ 3.20GHz
machdep.cpu.features: FPU VME DE PSE TSC MSR PAE MCE CX8 APIC SEP MTRR PGE MCA CMOV PAT SSE SSE2 SSE3 SSSE3 FMA SSE4.1 SSE4.2 AVX1.0
machdep.cpu.leaf7_features: RDWRFSGS BMI1 HLE AVX2 SMEP BMI2 ERMS AVX512F AVX512DQ RDSEED ADX AVX512CD AVX512BW AVX512VL
hw.optional.avx2_0: 1
hw.optional.avx512f: 1
"""
M1_UNDER_ROSETTA = b"""machdep.cpu.brand_string: Apple M1
machdep.cpu.features: FPU VME DE PSE TSC MSR PAE MCE CX8 APIC SEP MTRR PGE MCA CMOV PAT SSE SSE2 SSE3 SSSE3 FMA SSE4.1 SSE4.2 AVX1.0
machdep.cpu.leaf7_features: RDWRFSGS BMI1 AVX2 SMEP BMI2 ERMS RDSEED ADX
hw.optional.avx2_0: 1
hw.optional.avx512f: 0
sysctl.proc_translated: 1
"""

def fingerprint_on(monkeypatch, system:str, machine:str, *, sysctl:bytes|None=None, processor:str="", node:str="host-a") -> str:
  """tinybo's fingerprint on another platform: no /proc/cpuinfo (as on macOS and Windows), sysctl answering `sysctl`
  (None: no sysctl to run), platform.processor() and the host name as given."""
  real_read, real_run = Path.read_bytes, subprocess.run
  def read_bytes(p:Path) -> bytes:
    if str(p) == "/proc/cpuinfo": raise FileNotFoundError(2, "No such file or directory", str(p))
    return real_read(p)
  def run(cmd, *a, **k):
    if "sysctl" not in str(cmd[0]): return real_run(cmd, *a, **k)
    if sysctl is None: raise FileNotFoundError(2, "No such file or directory", cmd[0])
    return subprocess.CompletedProcess(cmd, 0, sysctl, b"")
  for name, value in (("system", system), ("machine", machine), ("processor", processor), ("node", node)):
    monkeypatch.setattr(platform, name, lambda value=value: value)
  monkeypatch.setattr(Path, "read_bytes", read_bytes)
  monkeypatch.setattr(subprocess, "run", run)
  tg._fingerprint.cache_clear()
  try: return tg._fingerprint()
  finally:
    monkeypatch.undo()
    tg._fingerprint.cache_clear()

def test_the_fingerprint_tells_cpus_apart_without_proc_cpuinfo(monkeypatch):
  # the CPU was read from /proc/cpuinfo alone: every Mac with one platform.machine() had one fingerprint, and Rosetta says
  # x86_64 on Apple silicon, so a home folder shared by an iMac Pro and an M1's Rosetta terminal had AVX-512 code loaded
  # where it cannot run; two Windows machines the same
  mac = fingerprint_on(monkeypatch, "Darwin", "x86_64", sysctl=XEON_IMAC_PRO)
  assert mac != fingerprint_on(monkeypatch, "Darwin", "x86_64", sysctl=M1_UNDER_ROSETTA)
  assert mac == fingerprint_on(monkeypatch, "Darwin", "x86_64", sysctl=XEON_IMAC_PRO, node="host-b")   # one CPU: one cache
  skylake_x, coffee_lake = "Intel64 Family 6 Model 85 Stepping 4, GenuineIntel", "Intel64 Family 6 Model 158 Stepping 10, GenuineIntel"
  windows = fingerprint_on(monkeypatch, "Windows", "AMD64", processor=skylake_x)
  assert windows != fingerprint_on(monkeypatch, "Windows", "AMD64", processor=coffee_lake)
  assert windows == fingerprint_on(monkeypatch, "Windows", "AMD64", processor=skylake_x, node="host-b")

@pytest.mark.parametrize("system", ["Linux", "Darwin", "Windows", "FreeBSD"])
def test_a_cpu_that_cannot_be_read_is_kept_apart_per_host(monkeypatch, system):
  # no /proc/cpuinfo (a sandbox), no sysctl, no processor string: the CPU was left out of the key and every such machine
  # shared one; now the host name stands in for it, so another host never loads these programs
  unknown = fingerprint_on(monkeypatch, system, "x86_64", node="host-a")
  assert unknown != fingerprint_on(monkeypatch, system, "x86_64", node="host-b")
  assert unknown == fingerprint_on(monkeypatch, system, "x86_64", node="host-a")

def test_captures_of_other_versions_are_pruned_to_a_budget_least_recently_used_first(cache):
  # every edit of tinybo's source is a new fingerprint; their captures were kept for a week whatever their size (655 MB
  # after 4.5 hours of this project's development), now beyond MAX_STALE_BYTES the least recently used go first
  saved_entry(cache)
  now, mb = time.time(), 1 << 20
  def entry(name:str, size:int, age_s:float) -> Path:
    (f := cache / name).write_bytes(b"")
    os.truncate(f, size)  # sparse: the size counts, no disk is used
    os.utime(f, (now - age_s, now - age_s))
    return f
  older = [entry(f"{i:016x}-0-old{tg.ENTRY_SUFFIX}", tg.MAX_STALE_BYTES // 3, 3600 * (10 + i)) for i in range(4)]  # 10-13 h unused
  newer = [entry(f"{i + 4:016x}-0-new{tg.ENTRY_SUFFIX}", mb, 60) for i in range(3)]
  week = entry(f"{8:016x}-0-week{tg.ENTRY_SUFFIX}", mb, 8 * 86400)
  ours = sorted(f for f in cache.iterdir() if f.name.startswith(tg._fingerprint()))
  tg._prune.__wrapped__(cache)
  assert all(f.exists() for f in newer) and not week.exists() and (cache / tg.KEY_NAME).exists()
  assert sorted(f for f in cache.iterdir() if f.name.startswith(tg._fingerprint())) == ours  # this version's, whatever their age
  assert [f.exists() for f in older] == [True, True, False, False]  # the two least recently used, and only them, to fit
  assert sum(f.stat().st_size for f in older + newer if f.exists()) <= tg.MAX_STALE_BYTES

# ***** another user's shared folder (needs root and setpriv) *****

ATTACKER = """
import hashlib, hmac, os, pickle, sys
folder, name, marker = sys.argv[1:4]
os.mkdir(folder, 0o777); os.chmod(folder, 0o777)
key = b"k" * 32
with open(os.path.join(folder, "hmac-key"), "wb") as f: f.write(key)
class MakeDir:
  def __reduce__(self): return (os.mkdir, (marker,))
payload = pickle.dumps(MakeDir())
with open(os.path.join(folder, name), "wb") as f:  # a well-formed entry under the attacker's own key
  f.write(b"tinybo-jit-1\\n" + hmac.new(key, name.encode() + b"\\0" + payload, hashlib.sha256).digest() + payload)
"""

VICTIM = """
import json, sys, warnings
import numpy as np
from tinygrad import dtypes
import tinybo._tinygrad as tg
warnings.simplefilter("always")
def product_sum(a, b): return ((a * b).sum(-1) + 1).contiguous()
with warnings.catch_warnings(record=True) as caught:
  prog = tg.CachedJit(product_sum, tuple(json.loads(sys.argv[1])), noopt=True, device="CPU")
A = np.arange(12.0).reshape(4, 3)
out = prog(tg.upload(A, dtypes.float64, "CPU"), tg.upload(A, dtypes.float64, "CPU")).numpy()
print(json.dumps({"out": out.tolist(), "warnings": [str(w.message) for w in caught if w.category is tg.CacheWarning]}))
"""

def as_user(uid:int, code:str, args:list[str], home:str, cache_dir:str="0") -> subprocess.CompletedProcess:
  env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "DEV": "CPU", "HOME": home, "PARALLEL": "0",
         "TINYBO_CACHE_DIR": cache_dir, "CACHEDB": os.path.join(home, f"tinygrad-{uid}.db")}
  return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", sys.executable, "-c", code, *args], env=env,
                        capture_output=True, text=True, timeout=600)

@pytest.mark.slow
def test_a_shared_folder_planted_by_another_user_is_refused():
  if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("setpriv"):
    pytest.skip("needs root and setpriv to run the attacker and the victim as two other users (the owner and mode checks are "
                "covered for one user by test_an_entry_writable_by_others_is_refused)")
  attacker, victim = 47021, 47022
  base = tempfile.mkdtemp(dir="/tmp")
  try:
    os.chmod(base, 0o1777)  # a shared sticky folder, as /tmp or a team share
    folder, marker = os.path.join(base, "jit"), os.path.join(base, "planted-code-ran")
    name = tg.entry_name(KEY, True, "CPU")  # names are predictable: the attacker computes the victim's
    r = as_user(attacker, ATTACKER, [folder, name, marker], base)
    if r.returncode != 0 and "setpriv" in r.stderr: pytest.skip(f"setpriv cannot switch users here: {r.stderr.strip()[-300:]}")
    assert r.returncode == 0, r.stderr
    v = as_user(victim, VICTIM, [json.dumps(list(KEY))], base, cache_dir=folder)
    assert v.returncode == 0, v.stderr
    res = json.loads(v.stdout.strip().splitlines()[-1])
    assert not os.path.exists(marker), "the victim ran the attacker's pickle"
    A = np.arange(12.0).reshape(4, 3)
    np.testing.assert_allclose(res["out"], (A * A).sum(-1) + 1)
    assert any(f"owned by uid {attacker}, not by you (uid {victim})" in w for w in res["warnings"]), res["warnings"]
  finally:
    shutil.rmtree(base, ignore_errors=True)

# ***** cold start: a fresh process with a warm cache generates no code for a suggestion *****

# ***** lean entries: a capture is saved without the contents of what it writes, and loads right in a fresh process *****

LEAN = """
import json, pickle, sys
import numpy as np
from tinygrad import Tensor, dtypes
import tinybo._tinygrad as tg
# read, never written, by the program; the loading process makes a buffer of the same size under the same slot (a
# counter), with other values: the loaded program must keep its own
W = Tensor(np.arange(64.0).reshape(64, 1) / 7 if sys.argv[1] == "save" else np.zeros((64, 1)), dtype=dtypes.float64).realize()
def gram_then_weigh(a):
  g = (a @ a.T).contiguous()                # [m, m] intermediate, written first by the program
  return (g.sum(1, keepdim=True) * W[:a.shape[0]]).contiguous()
A = np.random.default_rng(0).uniform(size=(64, 3))
if sys.argv[1] == "save":
  prog = tg.CachedJit(gram_then_weigh, ("lean-test", 64, 3), noopt=True, disk=False, device="CPU")
  out = prog(tg.upload(A, dtypes.float64, "CPU")).numpy()
  sys.stdout.buffer.write(pickle.dumps({"lean": tg.lean_dumps(prog.jit), "full": pickle.dumps(prog.jit), "out": out,
                                        "written": len(tg.written_first(prog.jit.captured)), "slot": W.uop.base.arg.slot}))
else:
  payload = pickle.loads(sys.stdin.buffer.read())
  assert W.uop.base.arg.slot == payload["slot"]   # the two processes' W share a slot: a plain unpickle would take this W
  jit = tg.load_capture(payload["lean"])
  B = np.random.default_rng(1).uniform(size=(64, 3))
  print(json.dumps({"out": jit(tg.upload(A, dtypes.float64, "CPU")).numpy().tolist(),
                    "other": jit(tg.upload(B, dtypes.float64, "CPU")).numpy().tolist()}))
"""

def test_a_lean_entry_leaves_out_what_the_program_writes_and_keeps_what_it_reads_under_its_own_slots(tmp_path):
  env = dict(os.environ, DEV="CPU", PARALLEL="0", TINYBO_CACHE_DIR="0", CACHEDB=str(tmp_path / "tinygrad.db"),
             PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
  saved = subprocess.run([sys.executable, "-c", LEAN, "save"], env=env, capture_output=True, timeout=600)
  assert saved.returncode == 0, saved.stderr.decode()[-3000:]
  res = pickle.loads(saved.stdout)
  # the [64, 64] Gram matrix (32 KB) and the output are left out; tinygrad's own pickle carries them
  assert res["written"] >= 1 and len(res["full"]) - len(res["lean"]) >= 64 * 64 * 8, (len(res["full"]), len(res["lean"]))
  loaded = subprocess.run([sys.executable, "-c", LEAN, "load"], env=env, input=saved.stdout, capture_output=True, timeout=600)
  assert loaded.returncode == 0, loaded.stderr.decode()[-3000:]
  got = json.loads(loaded.stdout.decode().strip().splitlines()[-1])
  A, B = (np.random.default_rng(s).uniform(size=(64, 3)) for s in (0, 1))
  w = np.arange(64.0).reshape(64, 1) / 7   # the constant the program only reads kept its contents, and its own buffer
  np.testing.assert_array_equal(got["out"], res["out"])   # bit for bit the capturing process's result
  np.testing.assert_allclose(got["out"], (A @ A.T).sum(1, keepdims=True) * w, rtol=1e-12)
  np.testing.assert_allclose(got["other"], (B @ B.T).sum(1, keepdims=True) * w, rtol=1e-12)

FRESH = """
import json, sys, warnings
import tinygrad.codegen as codegen
generated = []
real = codegen.full_rewrite_to_sink
def counting(sink, *a, **k):
  generated.append(getattr(sink.arg, "name", "?"))
  return real(sink, *a, **k)
codegen.full_rewrite_to_sink = counting  # every kernel tinygrad generates code for passes here
import tinybo as tb
import tinybo._tinygrad as tg
warnings.simplefilter("error", tg.CacheWarning)
space = tb.Space({"x": tb.Float(0, 1), "y": tb.Float(-2, 2), "z": tb.Float(0, 1)})
strategy = tb.GP(seed=0)
opt = tb.Optimizer(space, strategy=strategy, seed=0)
n = int(sys.argv[1])
for i in range(n): opt.observe({"x": i / n, "y": (i % 3) - 1.0, "z": (i * 5 % n) / n}, (i / n - 0.3) ** 2 + (i % 3) * 0.1)
trial = opt.suggest()
print(json.dumps({"params": trial.params, "generated": generated, "fallback": strategy.last_fallback, "loads": tg.COUNTS["disk:load"],
                  "saves": tg.COUNTS["disk:save"]}))
"""

@pytest.mark.slow
@pytest.mark.parametrize("observed", [8, 150])
def test_a_fresh_process_with_a_warm_cache_generates_no_code(tmp_path, observed):
  # 150 observations: the fit's rows bucket to 160, compiled with kernel optimization, whose capture tinygrad's own pickle
  # would make 25 MB of buffers; lean, it is saved like the small ones, so a worker joining a large study loads it too
  env = dict(os.environ, DEV="CPU", PARALLEL="0", TINYBO_CACHE_DIR=str(tmp_path / "jit"), CACHEDB=str(tmp_path / "tinygrad.db"),
             PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
  def fresh() -> dict:
    r = subprocess.run([sys.executable, "-c", FRESH, str(observed)], env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])
  first, second = fresh(), fresh()
  assert first["fallback"] is None and second["fallback"] is None
  # the empty cache: the fit, the acquisition's value and value+gradient steps and the device's helpers are generated and saved
  assert first["generated"] and first["saves"] >= 3 + 4, first
  # the warm cache: everything the suggestion runs is loaded, nothing is generated, and the suggestion is the same point
  assert second["generated"] == [] and second["saves"] == 0 and second["loads"] == first["saves"], second
  assert second["params"] == first["params"]

def test_a_small_study_makes_one_fit_step_and_two_acquisition_programs_per_row_bucket(monkeypatch):
  # what a machine's first study compiles (benchmarks/first_study.py): Branin's 30 evaluations reach 16 and 32 rows
  # (N_BUCKETS), and each bucket needs the fit step of one row (a cold fit's restarts go through it row by row) and the
  # acquisition's value and value-and-gradient programs; no batched fit step, no bucket of 8 or 24 rows
  import tinybo as tb
  from benchmarks.functions import PROBLEMS
  monkeypatch.setattr(tg, "_PROGRAMS", {})
  problem = PROBLEMS["branin"]
  opt = tb.Optimizer(problem.space, seed=0)
  for _ in range(problem.budget):
    trial = opt.suggest()
    opt.observe(trial, problem(trial.params))
  made = sorted(("nll", k[1], k[3]) if k[0] == "nll" else (k[2], k[4][0][0], k[3]) for k in tg._PROGRAMS)   # (name, rows, restarts or grad)
  assert made == [("nll", 16, 1), ("nll", 32, 1), ("ucb", 16, False), ("ucb", 16, True), ("ucb", 32, False), ("ucb", 32, True)], made
