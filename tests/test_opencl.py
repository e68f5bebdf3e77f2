"""tinybo on tinygrad's OpenCL backend (`CL`) through pocl, a real OpenCL runtime for the CPU, compared with the CPU backend.

Isolation: the OpenCL work runs in ONE child process (this file run as a script) whose environment alone points the
OpenCL loader at a private vendors folder (`OCL_ICD_VENDORS`): pocl is never registered for the machine, so tinygrad's
`Device.DEFAULT` stays CPU in this pytest process and everywhere else. The child computes on `CL` and writes JSON; the
tests below compute the same on `CPU` here and compare. The child takes ~1 min with tinygrad's and tinybo's disk caches
warm and a few minutes on a clean machine (pocl compiles every kernel with clang).

Runtime: `make test` installs pocl's library (Debian `libpocl2`, `ocl-icd-libopencl1`, no `pocl-opencl-icd`) when it is
root and writes `.ocl/vendors/pocl.icd`; `TINYBO_OCL_VENDORS` names another vendors folder. Without pocl the module is
skipped with a message that says how to install it.
"""
from __future__ import annotations

import ctypes.util
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

# the computations, shared with benchmarks/device_check.py (a GPU's check, where CI never runs)
from benchmarks.device_cases import N_LINALG, N_WORK_ITEMS, STUDY_TRIALS, gp_case, linalg_case, objective_case, spd, study_case

pytestmark = pytest.mark.opencl
ROOT = Path(__file__).resolve().parent.parent
N_MATERN12 = 30   # the GP cases' size: any rows do (each equal pair is K's diagonal)

# ***** the child process: everything on CL, one JSON out *****

def _record_launches() -> list:
  # every OpenCL kernel launch: (kernel name, work-groups per axis, work-items per work-group)
  from tinygrad.runtime import ops_cl
  launches: list = []
  init, call = ops_cl.CLProgram.__init__, ops_cl.CLProgram.__call__
  def recording_init(self, device, obj):
    init(self, device, obj)
    self.tinybo_name = obj.name
  def recording_call(self, *bufs, global_size=(1, 1, 1), local_size=None, **kw):
    launches.append((self.tinybo_name, list(global_size), None if local_size is None else list(local_size)))
    return call(self, *bufs, global_size=global_size, local_size=local_size, **kw)
  ops_cl.CLProgram.__init__, ops_cl.CLProgram.__call__ = recording_init, recording_call
  return launches

def child_main(out_path:str) -> None:
  from tinygrad import Device

  from tinybo.linalg import kernel_form
  launches = _record_launches()
  res: dict = {"default_device": Device.DEFAULT, "cl_device": Device["CL"].device_name, "form": kernel_form("CL"), "seconds": {}}
  t = time.perf_counter()
  res["linalg"] = {f"{dt}-{form}-{batch}": linalg_case("CL", dt, form, batch)
                   for dt in ("float64", "float32") for form in ("serial", "parallel") for batch in (2, None)}
  res["seconds"]["linalg"] = time.perf_counter() - t
  t = time.perf_counter()
  res["work_items"] = {}
  for n in N_WORK_ITEMS:
    start = len(launches)
    res[f"linalg_n{n}"] = linalg_case("CL", "float64", "parallel", 2, n)
    res["work_items"][n] = launches[start:]
  res["seconds"]["work_items"] = time.perf_counter() - t
  t = time.perf_counter()
  res["objective_float64"] = objective_case("CL", "float64")
  res["objective_matern12"] = objective_case("CL", "float64", n=N_MATERN12, kernel="matern12")
  res["seconds"]["objective"] = time.perf_counter() - t
  gp_start = len(launches)
  for dt in ("float64", "float32"):
    t = time.perf_counter()
    res[f"gp_{dt}"] = gp_case("CL", dt)
    res["seconds"][f"gp_{dt}"] = time.perf_counter() - t
  t = time.perf_counter()
  res["study"] = study_case("CL")
  res["seconds"]["study"] = time.perf_counter() - t
  t = time.perf_counter()
  # the same strategy on a second device in the same process (the CPU after the CL study)
  res["study_second_device"] = study_case("CPU", n_trials=7)
  res["seconds"]["study_second_device"] = time.perf_counter() - t
  res["gp_kernels"] = sorted({name for name, *_ in launches[gp_start:] if name.startswith(("cholesky", "trsm"))})
  Path(out_path).write_text(json.dumps(res))

# ***** finding pocl, running the child *****

def pocl_vendors() -> tuple[Path|None, str]:
  """A vendors folder that names pocl, and why not when there is none."""
  if ctypes.util.find_library("OpenCL") is None:
    return None, "no OpenCL loader (libOpenCL.so.1): `make test` installs it as root, or `sudo apt-get install ocl-icd-libopencl1 libpocl2`"
  if os.environ.get("TINYBO_OCL_VENDORS"): return Path(os.environ["TINYBO_OCL_VENDORS"]), ""
  if (ROOT / ".ocl" / "vendors" / "pocl.icd").exists(): return ROOT / ".ocl" / "vendors", ""
  libs = sorted(glob.glob("/usr/lib/*/libpocl.so.2") + glob.glob("/usr/lib/libpocl.so.2") + glob.glob("/usr/local/lib/libpocl.so.2"))
  if not libs: return None, "no pocl runtime (libpocl.so.2): `make test` installs it as root, or `sudo apt-get install libpocl2 ocl-icd-libopencl1`"
  d = Path(tempfile.mkdtemp(prefix="tinybo-ocl-")) / "vendors"
  d.mkdir()
  (d / "pocl.icd").write_text(libs[0] + "\n")
  return d, ""

@pytest.fixture(scope="module")
def cl(tmp_path_factory) -> dict:
  vendors, why = pocl_vendors()
  if vendors is None: pytest.skip(f"OpenCL tests skipped: {why}")
  out = tmp_path_factory.mktemp("opencl") / "cl.json"
  # DEV=CPU in the child too: anything that forgets its device lands on the CPU and meets CL tensors, which tinygrad rejects
  env = dict(os.environ, OCL_ICD_VENDORS=str(vendors), DEV="CPU", PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
  env.setdefault("PARALLEL", "0")
  t = time.perf_counter()
  r = subprocess.run([sys.executable, __file__, str(out)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=1800)
  if r.returncode != 0:
    if "CLDevice" in r.stderr and ("no platforms" in r.stderr.lower() or "-1001" in r.stderr):
      pytest.skip(f"OpenCL tests skipped: pocl found at {vendors} but no OpenCL platform opened:\n{r.stderr[-1500:]}")
    pytest.fail(f"the OpenCL child process failed (rc {r.returncode}):\n{r.stderr[-6000:]}")
  res = json.loads(out.read_text())
  res["seconds"]["child_process"] = time.perf_counter() - t
  print(f"\nOpenCL child on {res['cl_device']}: seconds {res['seconds']}\nwork-items per launch (name, work-groups, work-items "
        f"per work-group): {res['work_items']}\nGP kernels on CL: {res['gp_kernels']}")
  if os.environ.get("TINYBO_OPENCL_JSON"): Path(os.environ["TINYBO_OPENCL_JSON"]).write_text(json.dumps(res))
  return res

# ***** the tests: CL (child) against CPU (here) and numpy *****

def rel(a, b) -> float: return float(np.abs(np.asarray(a) - np.asarray(b)).max() / max(np.abs(np.asarray(b)).max(), 1e-30))

def test_opencl_stays_in_its_process(cl):
  # the child opened CL through its own environment (and chose the parallel kernels there); this process never saw pocl
  assert cl["form"] == "parallel" and cl["default_device"] == "CPU"
  assert "OCL_ICD_VENDORS" not in os.environ

@pytest.mark.parametrize("dtype_name", ["float64", "float32"])
@pytest.mark.parametrize("form", ["serial", "parallel"])
@pytest.mark.parametrize("batch", [2, None])
def test_linalg_on_cl_matches_numpy_and_cpu(cl, dtype_name, form, batch):
  got = cl["linalg"][f"{dtype_name}-{form}-{batch}"]
  cpu = linalg_case("CPU", dtype_name, "serial", batch)
  A = spd(N_LINALG, batch or 1, seed=N_LINALG)
  B = np.random.default_rng(N_LINALG + 1).standard_normal((batch or 1, N_LINALG, 3))
  if batch is None: A, B = A[0], B[0]
  L = np.linalg.cholesky(A)
  U = np.swapaxes(L, -1, -2)
  ref = {"L": L, "X_lower": np.linalg.solve(L, B), "X_upper": np.linalg.solve(U, B), "L_inv": np.linalg.inv(L)}
  tol_np, tol_cpu = (1e-12, 1e-12) if dtype_name == "float64" else (1e-4, 1e-5)
  for k, v in ref.items():
    assert rel(got[k], v) < tol_np, (k, rel(got[k], v))
    assert rel(got[k], cpu[k]) < tol_cpu, (k, rel(got[k], cpu[k]))
  assert np.all(np.triu(np.asarray(got["L"]), 1) == 0)

def test_parallel_kernels_launch_many_work_items(cl):
  from tinybo.linalg import BLOCK, work_split
  for n in N_WORK_ITEMS:
    A = spd(n, 2, seed=n)
    got = cl[f"linalg_n{n}"]
    assert rel(got["L"], np.linalg.cholesky(A)) < 1e-12 and rel(got["L_inv"], np.linalg.inv(np.linalg.cholesky(A))) < 1e-10
    kernels = {name: (int(np.prod(g)) * int(np.prod(loc or [1])), int(np.prod(loc or [1]))) for name, g, loc in cl["work_items"][str(n)]
               if name.startswith(("cholesky", "trsm"))}
    w, _ = work_split(n)
    # Cholesky: one work-group per matrix of the batch (of a diagonal block above BLOCK rows), one work-item per column
    # of it; triangular inverse: one work-item per column (per column and diagonal block above BLOCK rows)
    rows = min(n, BLOCK)
    assert kernels[f"cholesky_par_2_{rows}"] == (2 * rows, rows), kernels
    assert kernels[f"trsm_par_l_2_{rows}_{n}"][0] >= 2 * n and kernels[f"trsm_par_l_2_{rows}_{n}"][1] == w, kernels
    assert kernels[f"trsm_par_l_2_{rows}_3"] == (2 * 3, 3), kernels
    if n > BLOCK:  # the last block's kernels, after the panels' solves and the trailing updates
      last = n - BLOCK * ((n - 1) // BLOCK)
      assert f"cholesky_par_2_{last}" in kernels and f"trsm_par_l_2_{last}_{n}" in kernels, kernels
  # the GP's own factorizations on CL went through the parallel form too
  assert any(k.startswith("cholesky_par") for k in cl["gp_kernels"]) and not any(k.startswith("cholesky_") and "par" not in k
                                                                                 for k in cl["gp_kernels"])

def test_fit_objective_above_one_block_on_cl_matches_cpu(cl):
  # n = 257: the blocked factorization and solves inside the fit's objective, then its reductions. Before the blocked
  # factor became one buffer, tinygrad's CL runtime passed a kernel's arguments to the wrong slots here (IndexError)
  got, cpu = cl["objective_float64"], objective_case("CPU", "float64")
  for k in ("out", "Linv", "alpha"): assert rel(got[k], cpu[k]) < 1e-9, (k, rel(got[k], cpu[k]))

def test_matern12_lengthscale_gradient_on_cl_matches_cpu(cl):
  # pocl contracted x/ℓ − x/ℓ into a fused multiply-add: u ~ 1e-33 on K's diagonal, Matérn-1/2's dk/du = −k/(2r) ~ 1e16
  # there, and the lengthscale gradient was off by thousands (the trust region's local model fitted worse than on the CPU)
  got, cpu = cl["objective_matern12"], objective_case("CPU", "float64", n=N_MATERN12, kernel="matern12")
  for k in ("out", "Linv", "alpha"): assert rel(got[k], cpu[k]) < 1e-9, (k, rel(got[k], cpu[k]))

def test_gp_fit_predict_and_gradient_on_cl_match_cpu_float64(cl):
  got, cpu = cl["gp_float64"], gp_case("CPU", "float64")
  assert got["device"] == "CL" and got["dtype"] == "dtypes.double"
  for k in ("mean", "var", "grad", "lengthscales"): assert rel(got[k], cpu[k]) < 1e-6, (k, rel(got[k], cpu[k]))

def test_gp_float32_on_cl(cl):
  # float32 (what a device without float64 runs): float32 rounding moves the fitted optimum by ~3e-3 between backends (the
  # same fit on CPU and CL), so 1e-2 against the CPU's float32; against float64 only the mean, since float32's higher
  # noise floor (1e-4, not 1e-6) is a different model of the same data (its variance differs by ~30% by design)
  got, cpu32, cpu64 = cl["gp_float32"], gp_case("CPU", "float32"), gp_case("CPU", "float64")
  assert got["dtype"] == "dtypes.float" and got["device"] == "CL"
  for k in ("mean", "var", "grad", "lengthscales"): assert rel(got[k], cpu32[k]) < 1e-2, (k, rel(got[k], cpu32[k]))
  assert rel(got["mean"], cpu64["mean"]) < 1e-2

def test_gp_study_on_cl_matches_cpu(cl):
  got, cpu = cl["study"], study_case("CPU")
  assert got["fallbacks"] == [] and cpu["fallbacks"] == []
  assert len(got["trials"]) == STUDY_TRIALS
  np.testing.assert_allclose(np.asarray(got["trials"]), np.asarray(cpu["trials"]), rtol=1e-6, atol=1e-6 * 15)
  assert min(v for *_, v in got["trials"]) < 2.0  # the GP steps found Branin's basin (optimum 0.398): not random luck

def test_second_device_in_one_process(cl):
  # every captured program (fit, posterior, acquisition) is keyed by device and dtype, in memory and on disk: the CPU
  # study after the CL study in one process captures its own programs instead of replaying CL's
  assert cl["study_second_device"]["fallbacks"] == []

if __name__ == "__main__":
  child_main(sys.argv[1])
