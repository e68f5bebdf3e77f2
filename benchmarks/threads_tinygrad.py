"""The demo's tinygrad MLP as the objective of parallel threads: `optimize(n_jobs=...)` and Optuna's
`study.optimize(n_jobs=...)` with TinyBOSampler (and TPE, which tinybo does not reach). For each: how many trials
complete, fail, and complete with a value other than the same configuration trained alone (another run's numbers).

  DEV=CPU python benchmarks/threads_tinygrad.py [--trials 16] [--jobs 3] [--epochs 3] [--out benchmarks/results/x.json]

Runs as a file, so `PYTHONPATH` picks the tinybo it measures (another checkout: the code before a change).
"""
from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))


FIXED = {"n_layers": 1, "batch_size": 64}

def run_case(case: str, trials: int, jobs: int, epochs: int) -> dict:
  """One case in this process: {wall_s, trials: [(state, params, value)]}. tinybo's own optimize() over the demo's
  space, or Optuna's study.optimize with TinyBOSampler or TPE over its main parameters."""
  from tune_mlp import load_data, log_error, make_space, train_eval

  import tinybo as tb
  data, t0 = load_data(0), time.perf_counter()
  warnings.simplefilter("ignore")
  if case == "tinybo":
    opt = tb.Optimizer(make_space(epochs=epochs), seed=0)
    opt.optimize(lambda p: log_error(train_eval(p, data, seed=0), data), n_trials=trials, n_jobs=jobs, progress=False)
    got = [(str(t.state), t.params, t.value) for t in opt.trials]
  else:
    import optuna

    from tinybo.integrations.optuna import TinyBOSampler
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    def params(t) -> dict:
      return {"lr": t.suggest_float("lr", 1e-3, 1.0, log=True), "weight_decay": t.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
              "activation": t.suggest_categorical("activation", ["relu", "tanh", "gelu"]),
              "width_1": t.suggest_int("width_1", 16, 256, log=True), "epochs": epochs, **FIXED}
    sampler = TinyBOSampler(tb.GP(n_initial=4), seed=0) if case == "optuna-tinybo" else optuna.samplers.TPESampler(seed=0)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: log_error(train_eval(params(t), data, seed=0), data), n_trials=trials, n_jobs=jobs, catch=(Exception,))
    got = [(t.state.name.lower(), {**t.params, "epochs": epochs, **FIXED}, t.value) for t in study.trials]
  return {"wall_s": time.perf_counter() - t0, "trials": got}

def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--trials", type=int, default=16)
  ap.add_argument("--jobs", type=int, default=3)
  ap.add_argument("--epochs", type=int, default=3)
  ap.add_argument("--case", help=argparse.SUPPRESS)   # one case, in a fresh process: a race can leave tinygrad broken
  ap.add_argument("--out", type=Path)
  a = ap.parse_args()
  if a.case:
    print(json.dumps(run_case(a.case, a.trials, a.jobs, a.epochs)))
    return
  from tune_mlp import load_data, log_error, train_eval
  data, out = load_data(0), {"trials": a.trials, "jobs": a.jobs, "epochs": a.epochs}
  for case in ("tinybo", "optuna-tinybo", "optuna-tpe"):
    done = subprocess.run([sys.executable, __file__, "--case", case, "--trials", str(a.trials), "--jobs", str(a.jobs), "--epochs", str(a.epochs)],
                          capture_output=True, text=True)
    if done.returncode != 0:
      out[case] = {"crashed": done.stderr.strip().splitlines()[-1]}
    else:
      got = json.loads(done.stdout.strip().splitlines()[-1])
      # each complete trial trained again here, alone: another value is another run's numbers
      wrong = sum(log_error(train_eval(p, data, seed=0), data) != v for state, p, v in got["trials"] if state == "complete")
      out[case] = {"wall_s": got["wall_s"], "states": dict(collections.Counter(s for s, _, _ in got["trials"])), "wrong_values": wrong}
    print(f"{case:14s} {out[case]}")
  if a.out: a.out.write_text(json.dumps(out, indent=1))

if __name__ == "__main__":
  main()
