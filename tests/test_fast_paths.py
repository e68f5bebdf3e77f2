"""tinybo/_tinygrad.py: on the pinned tinygrad and the CPU, the fast paths into tinygrad's internals are the ones taken;
when one breaks, the public path gives the same numbers and a FastPathWarning says so, once."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from tinygrad import Device, Tensor, dtypes

import tinybo as tb
import tinybo._tinygrad as tg
from tinybo.trial import Trial, TrialState


@pytest.mark.skipif(tg.INSTALLED != tg.TINYGRAD_VERSION or Device.DEFAULT != "CPU", reason="checked on the pinned tinygrad, DEV=CPU")
def test_a_fit_and_a_suggestion_take_the_fast_paths():
  space = tb.Space({"x": tb.Float(0, 1), "y": tb.Float(0, 1)})
  params = space.decode_many(np.random.default_rng(0).random((6, 2)))
  trials = [Trial(i, p, TrialState.COMPLETE, (p["x"] - 0.3) ** 2 + p["y"]) for i, p in enumerate(params)]
  tg.COUNTS.clear()
  with warnings.catch_warnings():
    warnings.simplefilter("error", tg.FastPathWarning)
    tb.GP(n_initial=3, seed=0).suggest(space, trials, 1, seed=0)
  assert tg.COUNTS["copyin"] > 0 and tg.COUNTS["copyout"] > 0, tg.COUNTS    # the fit's uploads and reads
  assert tg.COUNTS["view"] > 0 and tg.COUNTS["replay"] > 0, tg.COUNTS       # the acquisition's inputs and replays
  assert tg.COUNTS["launches"] == tg.COUNTS["replay"], tg.COUNTS            # every replay by its kernels' calls alone
  assert not [k for k in tg.COUNTS if k.endswith(":fallback")], tg.COUNTS

def test_a_broken_copy_falls_back_with_one_warning(monkeypatch):
  def broken(*a, **k): raise RuntimeError("moved in a new tinygrad")
  monkeypatch.setattr(Device["CPU"].allocator, "_copyin", broken)
  monkeypatch.setattr(tg, "_WARNED", set())
  monkeypatch.setattr(tg, "COUNTS", tg.COUNTS.__class__())
  a = np.arange(6.0).reshape(2, 3)
  with pytest.warns(tg.FastPathWarning, match="'copyin' failed.*moved in a new tinygrad"): t = tg.upload(a, dtypes.float64, "CPU")
  with warnings.catch_warnings():
    warnings.simplefilter("error", tg.FastPathWarning)  # once is enough
    tg.upload(2 * a, dtypes.float64, "CPU", out=t)
  np.testing.assert_array_equal(t.numpy(), 2 * a)
  assert tg.COUNTS["copyin:fallback"] == 2 and tg.COUNTS["copyin"] == 0

def test_a_broken_replay_falls_back_to_the_jit_call(monkeypatch):
  def broken(*a, **k): raise AttributeError("_prepare_jit_inputs changed")
  monkeypatch.setattr(tg, "_prepare_jit_inputs", broken)
  monkeypatch.setattr(tg, "_WARNED", set())
  monkeypatch.setattr(tg, "COUNTS", tg.COUNTS.__class__())
  prog = tg.CachedJit(lambda a, b: (a * b + 1).contiguous(), ("test-replay",), noopt=True, disk=False)
  A, B = Tensor.ones(4, dtype=dtypes.float64).contiguous().realize(), Tensor.full((4,), 3.0, dtype=dtypes.float64).contiguous().realize()
  prepared: dict = {}
  np.testing.assert_array_equal(tg.replay(prog, (A, B), prepared).numpy(), 4.0)  # captures: no replay yet
  with pytest.warns(tg.FastPathWarning, match="'replay' failed"): out = tg.replay(prog, (A, B), prepared)
  np.testing.assert_array_equal(out.numpy(), 4.0)
  assert tg.COUNTS["replay:fallback"] == 1 and tg.COUNTS["replay"] == 0

def _launch_test_program(name):
  prog = tg.CachedJit(lambda a, b: ((a @ b).exp() + a.sum()).contiguous(), (name,), noopt=True, disk=False)
  rng = np.random.default_rng(0)
  A, B = (tg.upload(rng.random((4, 4)), dtypes.float64, "CPU") for _ in range(2))
  return prog, A, B, rng

def test_a_replay_by_launches_gives_the_executors_numbers(monkeypatch):
  monkeypatch.setattr(tg, "COUNTS", tg.COUNTS.__class__())
  prog, A, B, rng = _launch_test_program("test-launches")
  prepared: dict = {}
  tg.replay(prog, (A, B), prepared)  # captures
  for _ in range(2):  # new values in the same input buffer: the resolved launches read them
    tg.upload(rng.random((4, 4)), dtypes.float64, "CPU", out=B)
    fast = tg.replay(prog, (A, B), prepared).numpy()
    (inputs, calls), = prepared.values()
    np.testing.assert_array_equal(fast, prog.jit.captured(inputs, {}).numpy())  # tinygrad's executor on the same buffers
    np.testing.assert_allclose(fast, np.exp(A.numpy() @ B.numpy()) + A.numpy().sum())
  assert calls is not None and tg.COUNTS["launches"] == 2 and not [k for k in tg.COUNTS if k.endswith(":fallback")], tg.COUNTS

def test_broken_launches_fall_back_to_the_executor(monkeypatch):
  def broken(*a, **k): raise AttributeError("ProgramSpec changed")
  monkeypatch.setattr(tg, "launches", broken)
  monkeypatch.setattr(tg, "_WARNED", set())
  monkeypatch.setattr(tg, "COUNTS", tg.COUNTS.__class__())
  prog, A, B, _ = _launch_test_program("test-launches-broken")
  prepared: dict = {}
  tg.replay(prog, (A, B), prepared)  # captures
  with pytest.warns(tg.FastPathWarning, match="'launches' failed"): out = tg.replay(prog, (A, B), prepared)
  np.testing.assert_allclose(out.numpy(), np.exp(A.numpy() @ B.numpy()) + A.numpy().sum())
  assert tg.COUNTS["replay"] == 1 and tg.COUNTS["launches"] == 0

def test_staged_inputs_are_persistent_and_rewritten_in_place():
  a = np.random.default_rng(0).random((3, 5))
  t = tg.staged(a, dtypes.float64, "CPU")
  assert tg.staged(2 * a, dtypes.float64, "CPU") is t
  np.testing.assert_array_equal(t.numpy(), 2 * a)

def test_buckets():
  assert [tg.bucket(n, tg.N_BUCKETS) for n in (1, 8, 16, 17, 33, 2048, 2049)] == [16, 16, 16, 32, 48, 2048, 2560]

THREADED_COMPILES = """
import threading, warnings
import numpy as np
import tinybo as tb
from tinygrad import Tensor
warnings.simplefilter("error")
errors = []
def guarded(fn):
  try: fn()
  except Exception as e: errors.append(repr(e)[:300])
def suggest():
  opt = tb.Optimizer(tb.Space({"x": tb.Float(0, 1), "y": tb.Float(0, 1)}), seed=0)
  for _ in range(8):
    t = opt.suggest(); opt.observe(t, (t.params["x"] - 0.3) ** 2 + t.params["y"])
guarded(lambda: (Tensor([1., 2.]) * 3).numpy())                    # the main thread compiles first
for fn in (lambda: (Tensor([1., 2., 3.]) + 7).numpy(), suggest):   # then a new kernel and a GP study in a worker thread
  t = threading.Thread(target=guarded, args=(fn,)); t.start(); t.join()
guarded(lambda: (Tensor([4., 5., 6., 7.]) - 1).numpy())            # and the main thread again
print("ERRORS", errors)
"""

def test_kernels_compile_in_any_thread(tmp_path):
  # tinygrad's compile cache held one SQLite connection, bound to the first thread that compiled: a new kernel in any
  # other thread raised ProgrammingError (in a GP suggestion: a fallback to random; seen with Optuna's threads in CI).
  # A fresh process with empty caches, so that every step compiles.
  env = {**os.environ, "CACHEDB": str(tmp_path / "cache.db"), "TINYBO_CACHE_DIR": str(tmp_path / "jit"), "DEV": "CPU"}
  out = subprocess.run([sys.executable, "-c", THREADED_COMPILES], env=env, capture_output=True, text=True, timeout=600)
  assert out.returncode == 0, out.stderr[-2000:]
  assert "ERRORS []" in out.stdout, out.stdout[-2000:]

def test_a_tinygrad_without_the_compile_cache_connection_warns(monkeypatch):
  from tinygrad import helpers
  monkeypatch.delattr(helpers, "db_connection")
  with pytest.warns(tg.FastPathWarning, match="db_connection"): tg._per_thread_compile_cache()

FORKED_COMPILE = """
import os, tinybo  # noqa: F401
from tinygrad import Tensor, helpers
(Tensor([1., 2.]) * 3).numpy()
parent = helpers.db_connection()
pid = os.fork()
if pid == 0:
  child = helpers.db_connection()
  (Tensor([1., 2., 5.]) * 4).numpy()
  os._exit(0 if child is not parent else 3)
print("CHILD", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), "PARENT KEPT", helpers.db_connection() is parent)
"""

@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_opens_its_own_compile_cache_connection(tmp_path):
  # SQLite forbids using a connection across fork(); the child's thread inherits the parent's thread-local one
  env = {**os.environ, "CACHEDB": str(tmp_path / "cache.db"), "TINYBO_CACHE_DIR": str(tmp_path / "jit"), "DEV": "CPU"}
  out = subprocess.run([sys.executable, "-c", FORKED_COMPILE], env=env, capture_output=True, text=True, timeout=300)
  assert "CHILD 0 PARENT KEPT True" in out.stdout, (out.stdout[-1000:], out.stderr[-2000:])
