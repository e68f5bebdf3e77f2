"""tinybo on an accelerator, checked against numpy and the CPU backend: the computations of tests/test_opencl.py
(benchmarks/device_cases.py) run on any tinygrad device into one JSON, and a second step here compares them.

  python -m benchmarks.device_check --device CUDA --out cuda.json      # on the machine with the GPU (DEV=CUDA there)
  python -m benchmarks.device_check --compare cuda.json                # here: numpy and the CPU backend as references

CI has no GPU, so the run is not a test; `--compare` applies the OpenCL tests' criteria and exits 1 when one fails.
The run also records a larger fit (N_LARGE points, 6 inputs) and how long each part took, compiles included: the first
use of every kernel shape on a fresh device.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.device_cases import N_LINALG, N_WORK_ITEMS, STUDY_TRIALS, gp_case, linalg_case, objective_case, spd, study_case, surrogate

N_LARGE, D_LARGE = 500, 6

def large_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  rng = np.random.default_rng(7)
  X = rng.uniform(size=(N_LARGE, D_LARGE))
  y = np.sin(3 * X[:, 0]) + (X[:, 1] - 0.5) ** 2 + 0.3 * np.cos(5 * X[:, 2] * X[:, 3]) + 0.1 * X[:, 4:].sum(1)
  return X, y, rng.uniform(size=(64, D_LARGE))

def large_case(device: str, dtype_name: str) -> dict:
  """A fit on N_LARGE points: the fitted lengthscales and the posterior at 64 query points."""
  X, y, Xq = large_data()
  gp = surrogate(device, dtype_name).fit(X, y)
  mean, var = gp.predict(Xq)
  return {"mean": mean.tolist(), "var": var.tolist(), "lengthscales": np.asarray(gp.hyperparameters["lengthscales"]).tolist(),
          "outputscale": float(gp.hyperparameters["outputscale"])}

def timed(res: dict, name: str, fn, *args):
  t = time.perf_counter()
  res[name] = fn(*args)
  res["seconds"][name] = round(time.perf_counter() - t, 3)

def run(device: str) -> dict:
  from tinygrad import Device, dtypes

  from tinybo.gp import default_dtype
  from tinybo.linalg import kernel_form
  dev = Device[device]
  res: dict = {"device": device, "default_device": Device.DEFAULT, "renderer": type(dev.renderer).__name__, "arch": getattr(dev, "arch", None),
               "form": kernel_form(device), "float64": default_dtype(device) == dtypes.float64, "host": platform.node(), "seconds": {}}
  dts = ("float64", "float32") if res["float64"] else ("float32",)
  forms = ("serial", "parallel") if res["form"] == "parallel" else ("serial",)   # the work-group form needs a device with work-groups
  for dt in dts:
    for form in forms:
      for batch in (2, None): timed(res, f"linalg-{dt}-{form}-{batch}", linalg_case, device, dt, form, batch)
  for n in N_WORK_ITEMS: timed(res, f"linalg_n{n}", linalg_case, device, dts[0], res["form"], 2, n)
  for dt in dts: timed(res, f"objective_{dt}", objective_case, device, dt)
  for dt in dts: timed(res, f"gp_{dt}", gp_case, device, dt)
  for dt in dts: timed(res, f"large_{dt}", large_case, device, dt)
  timed(res, "study", study_case, device)
  return res

def rel(a, b) -> float: return float(np.abs(np.asarray(a) - np.asarray(b)).max() / max(np.abs(np.asarray(b)).max(), 1e-30))

def compare(res: dict) -> list[tuple[str, float, float, bool]]:
  """(check, measured, bound, passed) for every computation of the run, against numpy and this machine's CPU backend."""
  rows: list[tuple[str, float, float, bool]] = []
  def check(name: str, value: float, bound: float) -> None: rows.append((name, value, bound, bool(value < bound)))
  dts = ("float64", "float32") if res["float64"] else ("float32",)
  for dt in dts:
    tol = 1e-12 if dt == "float64" else 1e-4
    for form in ("serial", "parallel"):
      for batch in (2, None):
        if (got := res.get(f"linalg-{dt}-{form}-{batch}")) is None: continue
        A = spd(N_LINALG, batch or 1, seed=N_LINALG)
        B = np.random.default_rng(N_LINALG + 1).standard_normal((batch or 1, N_LINALG, 3))
        if batch is None: A, B = A[0], B[0]
        L = np.linalg.cholesky(A)
        ref = {"L": L, "X_lower": np.linalg.solve(L, B), "X_upper": np.linalg.solve(np.swapaxes(L, -1, -2), B), "L_inv": np.linalg.inv(L)}
        for k, v in ref.items(): check(f"{dt} {form} batch={batch} {k} vs numpy", rel(got[k], v), tol)
  for n in N_WORK_ITEMS:
    A, got = spd(n, 2, seed=n), res[f"linalg_n{n}"]
    tol = 1e-12 if res["float64"] else 1e-4
    check(f"{res['form']} n={n} L vs numpy", rel(got["L"], np.linalg.cholesky(A)), tol)
    check(f"{res['form']} n={n} L_inv vs numpy", rel(got["L_inv"], np.linalg.inv(np.linalg.cholesky(A))), tol * 100)
  for dt in dts:
    if (got := res.get(f"objective_{dt}")) is None: continue   # runs before this check was added
    cpu, bound = objective_case("CPU", dt), (1e-9 if dt == "float64" else 1e-3)
    for k in ("out", "Linv", "alpha"): check(f"fit objective n={N_WORK_ITEMS[-1]} {dt} {k} vs CPU", rel(got[k], cpu[k]), bound)
  if res["float64"]:
    got, cpu = res["gp_float64"], gp_case("CPU", "float64")
    for k in ("mean", "var", "grad", "lengthscales"): check(f"GP float64 {k} vs CPU", rel(got[k], cpu[k]), 1e-6)
  got, cpu32 = res["gp_float32"], gp_case("CPU", "float32")
  for k in ("mean", "var", "grad", "lengthscales"): check(f"GP float32 {k} vs CPU float32", rel(got[k], cpu32[k]), 1e-2)
  for dt in dts:
    got, cpu = res[f"large_{dt}"], large_case("CPU", dt)
    bound = 1e-6 if dt == "float64" else 2e-2
    for k in ("mean", "lengthscales"): check(f"fit on {N_LARGE} points {dt} {k} vs CPU", rel(got[k], cpu[k]), bound)
    # at 500 points the posterior variance is ~1e-5 of the prior's, where float32's cancellation (k** - vᵀv) leaves only a
    # few digits on any device: its error is measured against the prior variance, the scale it is computed at
    scale = 1e-8 if dt == "float64" else 1e-5
    check(f"fit on {N_LARGE} points {dt} var vs CPU, |difference| / prior variance", float(np.abs(np.subtract(got["var"], cpu["var"])).max()
                                                                                         / cpu["outputscale"]), scale)
    check(f"fit on {N_LARGE} points {dt} var >= 0 (the most negative)", -min(0.0, min(got["var"])), 1e-300)
  study, cpu = res["study"], study_case("CPU")
  check("study: GP fallbacks to random (none)", float(len(study["fallbacks"])), 0.5)
  check("study: best Branin value (optimum 0.398)", min(v for *_, v in study["trials"]), 2.0)
  same = next((i for i, (a, b) in enumerate(zip(study["trials"], cpu["trials"])) if not np.allclose(a, b, rtol=1e-6, atol=1.5e-5)),
              STUDY_TRIALS)
  rows.append((f"study: trials equal to the CPU's (rtol 1e-6), of {STUDY_TRIALS}", float(same), float(STUDY_TRIALS), True))
  return rows

def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--device", help="the tinygrad device to run on, e.g. CUDA, NV, AMD, METAL, CL")
  ap.add_argument("--out", help="the run's JSON")
  ap.add_argument("--compare", help="a run's JSON: check it against numpy and the CPU backend here")
  args = ap.parse_args()
  if args.compare:
    res = json.loads(Path(args.compare).read_text())
    rows = compare(res)
    print(f"device {res['device']} ({res['renderer']}, {res['arch']}, kernel form {res['form']}, float64 {res['float64']})")
    print("| check | measured | bound | passed |\n|---|---|---|---|")
    for name, value, bound, ok in rows: print(f"| {name} | {value:.3g} | {bound:.3g} | {'yes' if ok else '**no**'} |")
    print("seconds on the device (compiles included):", res["seconds"])
    sys.exit(0 if all(ok for *_, ok in rows) else 1)
  if not args.device or not args.out: ap.error("--device and --out (a run), or --compare FILE")
  res = run(args.device)
  Path(args.out).write_text(json.dumps(res))
  print(json.dumps(res["seconds"]))
  print("study trials:", [[round(float(v), 4) for v in t] for t in res["study"]["trials"]], "fallbacks:", res["study"]["fallbacks"])

if __name__ == "__main__":
  main()
