"""Seconds per suggestion on a space with one wide categorical: two floats and a K-choice categorical whose choices add
fixed random offsets (N(0, 1), seed 0) to a quadratic in the floats; `--trials` sequential suggestions per K, tinybo's
GP and (with --peer, in a venv with optuna, torch and greenlet) Optuna's GPSampler in the same process. With
--conditional the categorical exists only on one branch of a parent ("branch": "wide"; the other branch, "plain", has y
instead, its quadratic offset by 0.5): a tree-aware GP's space.

  DEV=CPU OMP_NUM_THREADS=1 taskset -c 0 python -m benchmarks.wide_categorical --choices 20,200,1000 --peer \\
      --out benchmarks/results/s36_wide_categorical.json

Glossary: median_s the median seconds of the suggestions after the 10th (the fit and the acquisition of a study under
way; the first ones are the initial design's), best the best value found, optimum the best value there is.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np


def objective(params: dict[str, Any], offsets: np.ndarray) -> float:
  if params.get("branch") == "plain": return (params["x"] - 1) ** 2 + (params["y"] - 0.3) ** 2 + 0.5
  return (params["x"] - 1) ** 2 + (params.get("y", 0.3) - 0.3) ** 2 + float(offsets[int(params["c"][1:])])   # y: absent on "wide"

def tinybo_run(k: int, trials: int, offsets: np.ndarray, conditional: bool = False) -> dict[str, Any]:
  import tinybo as tb
  choices = tb.Categorical([f"c{i}" for i in range(k)], when={"branch": "wide"} if conditional else None)
  space = {"x": tb.Float(-5, 5), "y": tb.Float(0, 1, when={"branch": "plain"} if conditional else None), "c": choices}
  if conditional: space["branch"] = tb.Categorical(["wide", "plain"])
  opt, times = tb.Optimizer(space, strategy="gp", seed=0), []
  for _ in range(trials):
    t = time.perf_counter(); trial = opt.suggest(); times.append(time.perf_counter() - t)
    opt.observe(trial, objective(trial.params, offsets))
  return {"median_s": float(np.median(times[10:])), "best": opt.best.value, "times_s": times}

def optuna_run(k: int, trials: int, offsets: np.ndarray, conditional: bool = False) -> dict[str, Any]:
  import optuna
  optuna.logging.set_verbosity(optuna.logging.ERROR)
  study, times = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=0)), []
  for _ in range(trials):
    t = time.perf_counter()
    trial = study.ask()
    if conditional:   # define-by-run: the branch first, then its own parameters
      params = {"branch": trial.suggest_categorical("branch", ["wide", "plain"]), "x": trial.suggest_float("x", -5, 5)}
      if params["branch"] == "plain": params["y"] = trial.suggest_float("y", 0, 1)
      else: params["c"] = trial.suggest_categorical("c", [f"c{i}" for i in range(k)])
    else: params = {"x": trial.suggest_float("x", -5, 5), "y": trial.suggest_float("y", 0, 1),
                    "c": trial.suggest_categorical("c", [f"c{i}" for i in range(k)])}
    times.append(time.perf_counter() - t)
    study.tell(trial, objective(params, offsets))
  return {"median_s": float(np.median(times[10:])), "best": study.best_value, "times_s": times}

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--choices", default="20,200,1000", help="comma-separated K")
  ap.add_argument("--trials", type=int, default=40)
  ap.add_argument("--peer", action="store_true", help="also Optuna's GPSampler (needs optuna, torch, greenlet)")
  ap.add_argument("--conditional", action="store_true", help="the categorical on one branch of a parent (see above)")
  ap.add_argument("--out", type=Path, default=None, help="JSON of every run")
  args = ap.parse_args(argv)
  if args.trials <= 10: ap.error(f"--trials={args.trials}: use more than 10 (the median is over the suggestions after the 10th)")
  rows = []
  print("| choices | tinybo s per suggestion | GPSampler s per suggestion | tinybo best | GPSampler best | optimum |\n|---|---|---|---|---|---|")
  for k in (int(c) for c in args.choices.split(",")):
    offsets = np.random.default_rng(0).normal(size=k)
    optimum = min(float(offsets.min()), 0.5) if args.conditional else float(offsets.min())
    row: dict[str, Any] = {"choices": k, "optimum": optimum, "tinybo": tinybo_run(k, args.trials, offsets, args.conditional)}
    if args.peer: row["optuna_gp"] = optuna_run(k, args.trials, offsets, args.conditional)
    rows.append(row)
    peer = row.get("optuna_gp", {})
    print(f"| {k} | {row['tinybo']['median_s']:.3f} | {peer.get('median_s', float('nan')):.3f} | {row['tinybo']['best']:.3f} | "
          f"{peer.get('best', float('nan')):.3f} | {row['optimum']:.3f} |", flush=True)
  if args.out is not None:
    args.out.write_text(json.dumps({"trials": args.trials, "conditional": args.conditional, "rows": rows}, indent=1))
    print(f"saved {args.out}")

if __name__ == "__main__":
  main()
