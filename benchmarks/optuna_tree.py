"""TinyBOSampler on a conditional define-by-run objective against Optuna's RandomSampler, in a real Optuna study.

The objective is a tree: three classifiers with their own parameters, a chain (gamma exists only for an svm with an rbf
kernel) and a shared x; its minimum is -0.5 (svm, rbf, C = 10, gamma = 1e-2, x = 0). TinyBOSampler infers the tree from
the complete trials and its GP proposes whole trees; RandomSampler samples every parameter independently. Writes the
best value of each seed and the medians to benchmarks/results/optuna_tree.json.

  python -m benchmarks.optuna_tree [--seeds 10] [--trials 20]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np
import optuna

import tinybo as tb
from tinybo.integrations.optuna import TinyBOSampler


def tree_objective(t: optuna.Trial) -> float:
  clf = t.suggest_categorical("classifier", ["svm", "rf", "knn"])
  x = t.suggest_float("x", -2, 2)
  if clf == "svm":
    v = (math.log10(t.suggest_float("C", 1e-3, 1e3, log=True)) - 1) ** 2 / 4
    if t.suggest_categorical("kernel", ["lin", "rbf"]) == "rbf": v += (math.log10(t.suggest_float("gamma", 1e-4, 1, log=True)) + 2) ** 2 / 4 - 0.5
    else: v += 0.3
  elif clf == "rf": v = (t.suggest_int("depth", 1, 20) - 7) ** 2 / 30 + 0.2
  else: v = abs(t.suggest_int("k", 1, 10) - 3) / 5 + 0.5
  return v + x ** 2

def run(sampler: optuna.samplers.BaseSampler, trials: int) -> optuna.Study:
  study = optuna.create_study(sampler=sampler)
  study.optimize(tree_objective, n_trials=trials)
  return study

def main(argv: list[str] | None = None) -> dict:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--seeds", type=int, default=10)
  ap.add_argument("--trials", type=int, default=20)
  ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "optuna_tree.json"))
  args = ap.parse_args(argv)
  optuna.logging.set_verbosity(optuna.logging.ERROR)
  res: dict = {"trials": args.trials, "seeds": args.seeds, "tinybo": [], "random": [], "tinybo_s": []}
  for seed in range(args.seeds):
    t0 = time.perf_counter()
    res["tinybo"].append(run(TinyBOSampler(tb.GP(n_initial=6), seed=seed), args.trials).best_value)
    res["tinybo_s"].append(time.perf_counter() - t0)
    res["random"].append(run(optuna.samplers.RandomSampler(seed=seed), args.trials).best_value)
    print(f"seed {seed}: tinybo {res['tinybo'][-1]:.4f}  random {res['random'][-1]:.4f}", flush=True)
  res["median"] = {k: float(np.median(res[k])) for k in ("tinybo", "random")}
  print(f"median best of {args.trials} trials over {args.seeds} seeds: tinybo {res['median']['tinybo']:.4f}, random {res['median']['random']:.4f}")
  with open(args.out, "w") as f: json.dump(res, f, indent=1)
  return res

if __name__ == "__main__":
  main()
