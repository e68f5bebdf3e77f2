"""Cold start: the first GP suggestion in a FRESH process, beside Optuna GPSampler's first ask, in one run.

  python -m benchmarks.cold_start [--runs 5] [--cpu 0] [--python /path/to/venv/bin/python] [--demo] [--dims 6 --observed 20]

Each measurement is a new Python process pinned to one core (`taskset -c CPU`), single-threaded BLAS, `DEV=CPU`. It
imports tinybo, opens an Optimizer on Hartmann6's 6-parameter space (--dims D: D parameters, of which Hartmann6 reads the
first 6, so a space of 10 or more gets the high-dimensional defaults) with the GP strategy (public API only: `tb.Optimizer`,
`tb.GP`), observes 20 points (--observed N) and asks for one suggestion (then one more, for contrast). Times, separately:
  import + setup   interpreter start to the 20 observations recorded (import tinybo, space, optimizer, observe)
  first suggest    the first `suggest()`: the first GP fit and acquisition optimization of the process
  second suggest   observe that suggestion, suggest again (what every later suggestion of the process costs)
Caches: "warm" runs share one cache folder (tinybo's TINYBO_CACHE_DIR and tinygrad's CACHEDB) that an unmeasured process
filled first; "empty" runs each get new empty folders, so nothing compiled survives from anywhere. Medians of --runs.
Optuna's side runs in the python of --python (a venv with optuna and torch); its first `ask()` includes importing torch, as
a user meets it. `--demo` also runs the demo (examples/tune_mlp.py, its initial design + 2 trials) in a fresh process and reports the gap
before its first GP trial beside the gaps before random (initial-design) trials.
Figures are wall-clock and noisy on a shared machine: run it on a quiet one.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
N_OBSERVED = 20

# the Hartmann6 points and values both sides observe: a fixed seed, computed in the child (numpy only)
_HARTMANN6 = """
import numpy as np
A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
def hartmann6(x): return float(-(np.array([1.0, 1.2, 3.0, 3.2]) * np.exp(-(A * (np.asarray(x)[None, :6] - P) ** 2).sum(1))).sum())
POINTS = np.random.default_rng(0).uniform(size=(N_OBSERVED, N_DIMS))
"""

TINYBO_CHILD = """
import time; t0 = time.perf_counter()
import json
import tinybo as tb
""" + _HARTMANN6 + """
space = tb.Space({f"x{i}": tb.Float(0.0, 1.0) for i in range(N_DIMS)})
strategy = tb.GP()
opt = tb.Optimizer(space, strategy=strategy, seed=0)
for x in POINTS: opt.observe({f"x{i}": float(v) for i, v in enumerate(x)}, hartmann6(x))
t1 = time.perf_counter()
trial = opt.suggest()
t2 = time.perf_counter()
fallback = strategy.last_fallback
opt.observe(trial, hartmann6([trial.params[f"x{i}"] for i in range(N_DIMS)]))
t3 = time.perf_counter()
opt.suggest()
t4 = time.perf_counter()
print(json.dumps({"import_setup_s": t1 - t0, "first_suggest_s": t2 - t1, "second_suggest_s": t4 - t3, "fallback": fallback}))
"""

OPTUNA_CHILD = """
import time; t0 = time.perf_counter()
import json
import optuna
from optuna.distributions import FloatDistribution
""" + _HARTMANN6 + """
optuna.logging.set_verbosity(optuna.logging.ERROR)
dists = {f"x{i}": FloatDistribution(0.0, 1.0) for i in range(N_DIMS)}
study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=0), direction="minimize")
for x in POINTS:
  study.add_trial(optuna.trial.create_trial(params={f"x{i}": float(v) for i, v in enumerate(x)}, distributions=dists, value=hartmann6(x)))
t1 = time.perf_counter()
trial = study.ask(dists)
t2 = time.perf_counter()
study.tell(trial, hartmann6([trial.params[f"x{i}"] for i in range(N_DIMS)]))
t3 = time.perf_counter()
study.ask(dists)
t4 = time.perf_counter()
print(json.dumps({"import_setup_s": t1 - t0, "first_suggest_s": t2 - t1, "second_suggest_s": t4 - t3, "fallback": None}))
"""

def with_dims(code:str, dims:int, observed:int = N_OBSERVED) -> str:
  """A child's code for a space of `dims` parameters (Hartmann6 reads the first 6) and `observed` observations."""
  return code.replace("N_DIMS", str(dims)).replace("N_OBSERVED", str(observed))

def child_env(cache:Path|None) -> dict:
  env = dict(os.environ, DEV="CPU", PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
  for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"): env[v] = "1"
  env.setdefault("PARALLEL", "0")  # tinygrad's compile pool costs ~0.5 s to spawn on a small machine (the Makefile's default)
  if cache is not None: env.update(TINYBO_CACHE_DIR=str(cache / "tinybo"), CACHEDB=str(cache / "tinygrad" / "cache.db"))
  return env

def pinned(cmd:list[str], cpu:int|None) -> list[str]:
  return cmd if cpu is None or shutil.which("taskset") is None else ["taskset", "-c", str(cpu)] + cmd

def run_child(python:str, code:str, env:dict, cpu:int|None) -> dict:
  t = time.perf_counter()
  r = subprocess.run(pinned([python, "-c", code], cpu), env=env, cwd=ROOT, capture_output=True, text=True, timeout=1800)
  wall = time.perf_counter() - t
  if r.returncode != 0: raise RuntimeError(f"child failed (rc {r.returncode}):\n{r.stderr[-3000:]}")
  out = json.loads(r.stdout.strip().splitlines()[-1])
  out["process_s"] = wall
  return out

def tinybo_runs(runs:int, cpu:int|None, warm:bool, dims:int = 6, observed:int = N_OBSERVED) -> list[dict]:
  out, code = [], with_dims(TINYBO_CHILD, dims, observed)
  with tempfile.TemporaryDirectory(prefix="tinybo-cold-") as tmp:
    shared = Path(tmp) / "shared"
    if warm: run_child(sys.executable, code, child_env(shared), cpu)  # fills the caches, not measured
    for k in range(runs):
      out.append(run_child(sys.executable, code, child_env(shared if warm else Path(tmp) / f"empty{k}"), cpu))
      print(f"  tinybo {'warm' if warm else 'empty'} caches, process {k + 1}: {fmt_run(out[-1])}", flush=True)
  return out

def optuna_runs(python:str, runs:int, cpu:int|None, dims:int = 6, observed:int = N_OBSERVED) -> tuple[list[dict], str|None]:
  probe = subprocess.run([python, "-c", "import optuna, torch"], capture_output=True, text=True)
  if probe.returncode != 0:
    return [], f"Optuna GPSampler skipped: optuna and torch are not importable in {python} (give --python a venv that has them)"
  out, code = [], with_dims(OPTUNA_CHILD, dims, observed)
  run_child(python, code, child_env(None), cpu)  # warms the OS file cache for torch's libraries, not measured
  for k in range(runs):
    out.append(run_child(python, code, child_env(None), cpu))
    print(f"  optuna GPSampler, process {k + 1}: {fmt_run(out[-1])}", flush=True)
  return out, None

def demo_gaps(cpu:int|None) -> dict:
  """The demo in a fresh process (caches as they are): seconds from each trial's end to the next trial's creation, i.e.
  the suggestion, for the random initial design and for the first GP trial."""
  import tinybo as tb
  from tinybo.storage import SQLiteStorage
  n_design = tb.GP().initial_size(tb.Space.from_json(_demo_space_json()))
  with tempfile.TemporaryDirectory(prefix="tinybo-demo-") as tmp:
    t = time.perf_counter()
    # the initial design, then two GP trials (the design's size follows the demo's space)
    r = subprocess.run(pinned([sys.executable, "examples/tune_mlp.py", "--trials", str(n_design + 2), "--out", tmp], cpu), env=child_env(None),
                       cwd=ROOT, capture_output=True, text=True, timeout=3600)
    if r.returncode != 0: raise RuntimeError(f"demo failed:\n{r.stderr[-3000:]}")
    trials = sorted(SQLiteStorage(os.path.join(tmp, "demo.db")).trials("digits-mlp"), key=lambda tr: tr.id)
    wall = time.perf_counter() - t
  gaps = [trials[k].created - trials[k - 1].finished for k in range(1, len(trials))]
  return {"n_design": n_design, "gaps_s": gaps, "random_trial_gap_median_s": statistics.median(gaps[:n_design - 1]),
          "first_gp_trial_gap_s": gaps[n_design - 1], "second_gp_trial_gap_s": gaps[n_design], "wall_s": wall}

def _demo_space_json() -> str:
  sys.path.insert(0, str(ROOT / "examples"))
  from tune_mlp import make_space
  return make_space(10).to_json()

def median_row(rows:list[dict]) -> dict:
  return {k: statistics.median(r[k] for r in rows) for k in ("import_setup_s", "first_suggest_s", "second_suggest_s", "process_s")} | \
         {"first_suggest_range_s": [min(r["first_suggest_s"] for r in rows), max(r["first_suggest_s"] for r in rows)]}

def fmt_run(r:dict) -> str:
  return (f"import+setup {r['import_setup_s']:.2f} s, first suggest {r['first_suggest_s']:.2f} s, second {r['second_suggest_s']:.2f} s, "
          f"process {r['process_s']:.2f} s" + (f" FALLBACK: {r['fallback']}" if r.get("fallback") else ""))

def main(argv:list[str]|None=None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--runs", type=int, default=5, help="fresh processes per case (median)")
  ap.add_argument("--cpu", type=int, default=0, help="the core every child is pinned to (taskset -c); -1: not pinned")
  ap.add_argument("--python", default=sys.executable, help="python for the Optuna side (needs optuna and torch)")
  ap.add_argument("--no-optuna", action="store_true")
  ap.add_argument("--dims", type=int, default=6, help="parameters of the space (at least 6); Hartmann6 reads the first 6, as in hartmann6_25d")
  ap.add_argument("--observed", type=int, default=N_OBSERVED,
                  help="observations before the first suggestion; at least the initial design (p + 1 points for 10 or more parameters)")
  ap.add_argument("--demo", action="store_true", help="also time the demo's first GP trial against its random trials (~1-2 min)")
  ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cold_start.json"))
  args = ap.parse_args(argv)
  cpu = None if args.cpu < 0 else args.cpu
  if args.dims < 6: ap.error(f"--dims {args.dims}: use 6 or more (Hartmann6 reads the first 6 parameters)")
  import tinybo as tb
  if args.observed < (need := tb.GP().initial_size(tb.Space({f"x{i}": tb.Float(0.0, 1.0) for i in range(args.dims)}))):
    ap.error(f"--observed {args.observed}: use at least {need} for {args.dims} parameters, else the first suggestion is a design point")
  from importlib.metadata import version
  meta = {"machine": platform.machine(), "python": platform.python_version(), "tinygrad": version("tinygrad"), "pinned_cpu": cpu,
          "taskset": shutil.which("taskset") is not None, "runs": args.runs, "observed": args.observed, "dims": args.dims,
          "loadavg_start": os.getloadavg() if hasattr(os, "getloadavg") else None}
  print(f"cold start: {args.observed} observations of Hartmann6 ({args.dims} parameters), first GP suggestion in a fresh process, "
        f"median of {args.runs}, pinned to cpu {cpu}", flush=True)
  res: dict = {"meta": meta, "raw": {}, "median": {}}
  for label, warm in (("tinybo, warm caches", True), ("tinybo, empty caches", False)):
    res["raw"][label] = tinybo_runs(args.runs, cpu, warm, args.dims, args.observed)
    res["median"][label] = median_row(res["raw"][label])
  if not args.no_optuna:
    rows, why = optuna_runs(args.python, args.runs, cpu, args.dims, args.observed)
    if why: print(why); res["optuna_skipped"] = why
    else:
      res["raw"]["Optuna GPSampler"] = rows
      res["median"]["Optuna GPSampler"] = median_row(rows)
  if args.demo:
    res["demo"] = demo_gaps(cpu)
    print(f"  demo: first GP trial waited {res['demo']['first_gp_trial_gap_s']:.2f} s for its suggestion, a random trial "
          f"{res['demo']['random_trial_gap_median_s']:.2f} s (median), the second GP trial {res['demo']['second_gp_trial_gap_s']:.2f} s")
  meta["loadavg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
  print("\n| case | import + setup (s) | first suggestion (s) | min-max (s) | second suggestion (s) | whole process (s) |")
  print("|---|---|---|---|---|---|")
  for label, m in res["median"].items():
    lo, hi = m["first_suggest_range_s"]
    print(f"| {label} | {m['import_setup_s']:.2f} | **{m['first_suggest_s']:.2f}** | {lo:.2f}-{hi:.2f} | {m['second_suggest_s']:.2f} | "
          f"{m['process_s']:.2f} |")
  Path(args.out).parent.mkdir(parents=True, exist_ok=True)
  Path(args.out).write_text(json.dumps(res, indent=1))
  print(f"\nsaved {args.out}")

if __name__ == "__main__":
  main()
