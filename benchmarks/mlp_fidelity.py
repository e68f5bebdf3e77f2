"""Multi-fidelity on a real training run: the demo's tinygrad MLP (examples/tune_mlp.py) on the bundled 8x8 digits.

Every trial trains the demo's MLP with the demo's code (`train_curve`: SGD with momentum, batch 64, every trial on the
same compiled kernels) and reports log10 of the validation error after every epoch, up to `--epochs`. The seed is the
study's seed, the data split's (as in the demo) and the training's: a configuration's curve is the same in every method
(tinygrad's CPU backend is deterministic here: tests/test_mlp_fidelity.py trains one twice in one process).
A run's score after s epochs is the validation error of the best *complete* trial finished within s epochs.

The space (`--space`): `small` (default) lr (log 1e-3..1), weight decay (log 1e-6..1e-2), activation and the width of
one hidden layer (16..256, log); `demo` is the demo's whole space (1 or 2 layers, the second width conditional).

Methods (one run per seed; epochs = every reported epoch of every trial):
  gp-full               tinybo GP, every trial to the last epoch (the reference: --full-trials trials)
  gp-asha               tinybo GP (learning from curves) + tb.ASHA(1, epochs, 3)
  gp-asha3              tinybo GP + tb.ASHA(3, epochs, 3): the first rung at epoch 3, where the curves have mostly crossed
  gp-keepasha           tinybo GP + tb.ASHA(1, epochs, 3, keep_chance=0.5): a trial the model believes more likely than
                        not to beat the incumbent runs past the rung where ASHA would stop it (session 30)
  gp-median             tinybo GP + tb.MedianStopping(warmup_trials=5)
  gp-model              tinybo GP + tb.ModelStopping(1, epochs, threshold=0.2): its own model stops a curve
  gp-additive-model     tb.GP(curves="additive") + tb.ModelStopping(1, epochs, threshold=0.2)
  gp-additive-asha      tb.GP(curves="additive") + tb.ASHA(1, epochs, 3)
  random-asha           tinybo random search + tb.ASHA(1, epochs, 3)
  ray-asha-random       Ray Tune random search + ASHAScheduler(grace 1, max_t epochs, rf 3), one trial at a time
  optuna-tpe-hyperband  Optuna TPESampler + HyperbandPruner(1, epochs, 3)   (peers venv)
  optuna-gp-median      Optuna GPSampler + MedianPruner()                    (peers venv: greenlet, torch on one thread)
The stopping methods get `--stop-fraction` of the reference's epochs; a run ends with the trial that crosses it.

  export DEV=CPU PYTHONPATH=$PWD OMP_NUM_THREADS=1
  python -m benchmarks.mlp_fidelity --methods gp-full,gp-asha,ray-asha-random --seeds 0-4 --out benchmarks/results/mlp_fidelity.json
  /work/venvs/peers/bin/python -m benchmarks.mlp_fidelity --methods optuna-tpe-hyperband,optuna-gp-median --seeds 0-4 --out ...
  python -m benchmarks.mlp_fidelity --summary benchmarks/results/mlp_fidelity*.json
"""
from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.multifidelity import regret_at, seeds_of, stats

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BATCH_SIZE = 64   # one batch size: tinygrad compiles per shape, so every trial reuses the same kernels

def demo() -> Any:
  """examples/tune_mlp.py as a module (examples/ is not a package), imported once per process."""
  if "tune_mlp" not in sys.modules:
    spec = importlib.util.spec_from_file_location("tune_mlp", EXAMPLES / "tune_mlp.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["tune_mlp"] = mod
    spec.loader.exec_module(mod)
  return sys.modules["tune_mlp"]

@functools.cache
def digits(seed: int) -> dict:
  return demo().load_data(seed)

def curve(params: dict, seed: int, epochs: int) -> Iterator[float]:
  """log10 validation error after each epoch 1..epochs: the demo's training of `params` with this seed."""
  data = digits(seed)
  config = {"n_layers": 1, **params, "epochs": epochs, "batch_size": BATCH_SIZE}
  for acc in demo().train_curve(config, data, seed=seed): yield demo().log_error(acc, data)

def val_error(log_err: float) -> float: return 10.0 ** log_err

# ***** the space, as each library writes it: name -> ("float"|"int", low, high, log) or ("cat", choices) *****

def space_spec(name: str) -> tuple[dict, dict]:
  """(the searched parameters, the conditional ones: name -> (parent, value)) of `--space small|demo`."""
  acts = tuple(demo().ACTIVATIONS)
  base = {"lr": ("float", 1e-3, 1.0, True), "weight_decay": ("float", 1e-6, 1e-2, True), "activation": ("cat", acts),
          "width_1": ("int", 16, demo().MAX_WIDTH, True)}
  if name == "small": return base, {}
  if name == "demo": return {**base, "n_layers": ("int", 1, 2, False), "width_2": ("int", 16, demo().MAX_WIDTH, True)}, {"width_2": ("n_layers", 2)}
  raise ValueError(f"--space {name!r}; use small or demo")

def tinybo_space(name: str) -> Any:
  import tinybo as tb
  params, cond = space_spec(name)
  def param(k: str, s: tuple) -> Any:
    when = {cond[k][0]: cond[k][1]} if k in cond else None
    if s[0] == "cat": return tb.Categorical(s[1], when=when)
    return (tb.Float if s[0] == "float" else tb.Int)(s[1], s[2], log=s[3], when=when)
  return tb.Space({k: param(k, s) for k, s in params.items()})

def optuna_params(trial: Any, name: str) -> dict:
  """Define-by-run: a conditional parameter is asked for only when its parent has the value it needs."""
  params, cond = space_spec(name)
  out: dict = {}
  for k, s in params.items():
    if k in cond and out.get(cond[k][0]) != cond[k][1]: continue
    if s[0] == "cat": out[k] = trial.suggest_categorical(k, list(s[1]))
    elif s[0] == "float": out[k] = trial.suggest_float(k, s[1], s[2], log=s[3])
    else: out[k] = trial.suggest_int(k, s[1], s[2], log=s[3])
  return out

def ray_space(name: str) -> dict:
  """Ray Tune domains; a conditional parameter is always drawn and the training ignores it where inactive (the demo's
  train_curve reads width_2 only with two layers)."""
  from ray import tune
  def domain(s: tuple) -> Any:
    if s[0] == "cat": return tune.choice(list(s[1]))
    if s[0] == "float": return (tune.loguniform if s[3] else tune.uniform)(s[1], s[2])
    return (tune.lograndint if s[3] else tune.randint)(s[1], s[2] + 1)   # Ray's upper bound is exclusive
  return {k: domain(s) for k, s in space_spec(name)[0].items()}

# ***** one run per method: trials until the epoch budget is spent; the trace is (epochs so far, best complete val error) *****

TINYBO_METHODS = ("gp-full", "gp-asha", "gp-asha3", "gp-keepasha",
                  "gp-median", "gp-model", "gp-hyperband", "gp-additive-model", "gp-additive-asha", "random-asha")
OPTUNA_METHODS = ("optuna-tpe-hyperband", "optuna-gp-median")
RAY_METHODS = ("ray-asha-random",)

def run_trials(suggest: Callable[[], Any], params_of: Callable[[Any], dict], report: Callable[[Any, float, int], bool],
               end: Callable[[Any, float, bool], None], seed: int, epochs: int, budget: int) -> dict:
  """The loop every ask/tell method shares: train a suggested trial, report each epoch, stop it when told to (never at
  the last epoch: a trial that spent its whole budget completes)."""
  spent, best, trace, trials, t0 = 0, math.inf, [], [], time.perf_counter()
  while spent < budget:
    trial = suggest()
    params, values = params_of(trial), []
    for epoch, v in enumerate(curve(params, seed, epochs), 1):
      values.append(v)
      spent += 1
      if report(trial, v, epoch) and epoch < epochs: break
    complete = len(values) == epochs
    end(trial, values[-1], complete)
    if complete: best = min(best, val_error(values[-1]))
    trace.append([spent, best])
    trials.append({"params": params, "curve": values, "complete": complete})
  return {"trace": trace, "n_trials": len(trials), "n_stopped": sum(not t["complete"] for t in trials), "trials": trials,
          "seconds": time.perf_counter() - t0}

def run_tinybo(method: str, seed: int, epochs: int, budget: int, space: str) -> dict:
  import tinybo as tb
  strategy = tb.Random() if method.startswith("random") else tb.GP(curves="additive") if method.startswith("gp-additive") else tb.GP()
  stopping = {"full": None, "asha": tb.ASHA(min_step=1, max_step=epochs, reduction_factor=3),
              "asha3": tb.ASHA(min_step=min(3, epochs - 1), max_step=epochs, reduction_factor=3),   # (a smoke run of 2 epochs: rung 1)
              "keepasha": tb.ASHA(min_step=1, max_step=epochs, reduction_factor=3, keep_chance=0.5),
              "median": tb.MedianStopping(warmup_trials=5),
              "model": tb.ModelStopping(min_step=1, max_step=epochs, threshold=0.2),
              "hyperband": tb.Hyperband(min_step=1, max_step=epochs, reduction_factor=3)}[method.rsplit("-", 1)[1]]
  opt = tb.Optimizer(tinybo_space(space), strategy=strategy, seed=seed, stopping=stopping)
  def end(trial: Any, v: float, complete: bool) -> None: opt.observe(trial, v) if complete else opt.stop(trial)
  return run_trials(opt.suggest, lambda t: {k: v for k, v in t.params.items() if k in opt.space.names}, opt.report, end, seed, epochs, budget)

def run_optuna(method: str, seed: int, epochs: int, budget: int, space: str) -> dict:
  import optuna
  optuna.logging.set_verbosity(optuna.logging.ERROR)
  if method == "optuna-gp-median":
    import greenlet  # noqa: F401  GPSampler silently takes a slower path without it
    import torch
    torch.set_num_threads(1)
    sampler, pruner = optuna.samplers.GPSampler(seed=seed), optuna.pruners.MedianPruner()
  else:
    sampler = optuna.samplers.TPESampler(seed=seed)
    pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=3)
  study = optuna.create_study(sampler=sampler, pruner=pruner, direction="minimize")
  asked: dict[int, dict] = {}
  def suggest() -> Any:
    trial = study.ask()
    asked[trial.number] = optuna_params(trial, space)
    return trial
  def report(trial: Any, v: float, epoch: int) -> bool:
    trial.report(v, epoch)
    return trial.should_prune()
  def end(trial: Any, v: float, complete: bool) -> None:
    study.tell(trial, v) if complete else study.tell(trial, state=optuna.trial.TrialState.PRUNED)
  return {**run_trials(suggest, lambda t: asked[t.number], report, end, seed, epochs, budget), "optuna": optuna.__version__}

def run_ray(method: str, seed: int, epochs: int, budget: int, space: str) -> dict:
  from benchmarks.ray_asha import run_ray_asha
  # the trainable runs in a Ray worker: functools.partial of this module's function travels by reference
  run = run_ray_asha(ray_space(space), curve=functools.partial(ray_curve, seed=seed, epochs=epochs, space=space),
                     score=lambda c, v: val_error(v), max_t=epochs, budget=budget, seed=seed)
  return run

def ray_curve(config: dict, seed: int, epochs: int, space: str) -> Iterator[float]:
  params = {k: config[k] for k in space_spec(space)[0]}
  return curve(params, seed, epochs)

RUNNERS = {**dict.fromkeys(TINYBO_METHODS, run_tinybo), **dict.fromkeys(OPTUNA_METHODS, run_optuna), **dict.fromkeys(RAY_METHODS, run_ray)}

# ***** the summary *****

def summary(runs: list[dict]) -> str:
  """Per method: median / p80 / worst validation error of the best complete trial at 1/3 and all of the reference's
  epochs, the epochs each run needed to reach gp-full's median final error, trials run."""
  seen: set = set()
  runs = [r for r in runs if not ((k := (r["method"], r["seed"], r["epochs"], r["full_trials"], r["space"])) in seen or seen.add(k))]
  out = []
  for setup in dict.fromkeys((r["epochs"], r["full_trials"], r["space"]) for r in runs):
    rs_setup = [r for r in runs if (r["epochs"], r["full_trials"], r["space"]) == setup]
    epochs, n_full, space = setup
    full = epochs * n_full
    ref = [regret_at(r["trace"], full) for r in rs_setup if r["method"] == "gp-full"]
    target = float(np.median(ref)) if ref else math.nan
    out.append(f"\nspace {space}: full budget {full} epochs ({n_full} trials x {epochs}); gp-full median final validation error {target:.4g}")
    out.append("| method | seeds | trials (stopped) | val error median / p80 / worst at 1/3 budget | at full "
               "| epochs to gp-full's median; runs that reach it |")
    out.append("|---|---|---|---|---|---|")
    for m in sorted(dict.fromkeys(r["method"] for r in rs_setup), key=tuple(RUNNERS).index):
      rs = [r for r in rs_setup if r["method"] == m]
      cols = [stats([regret_at(r["trace"], f * full) if r["trace"][-1][0] >= f * full else math.nan for r in rs]) for f in (1 / 3, 1.0)]
      reached = [next((s for s, g in r["trace"] if g <= target), math.inf) for r in rs]
      reach = float(np.median(reached))
      steps = f"{reach:.0f} ({reach / full:.2f} of full)" if math.isfinite(reach) else "not within the budget"
      steps += f"; {sum(map(math.isfinite, reached))} of {len(rs)} runs"
      out.append(f"| {m} | {len(rs)} | {int(np.median([r['n_trials'] for r in rs]))} ({int(np.median([r['n_stopped'] for r in rs]))}) | "
                 + " | ".join(cols) + f" | {steps} |")
  return "\n".join(out)

N_VAL = int(0.8 * 1797) - int(0.6 * 1797)   # 359: the demo's validation split of the 1797 digits (load_data: 60/20/20)

def per_seed(runs: list[dict]) -> str:
  """Per setup and seed: misclassified validation images (of N_VAL) of the best complete trial, gp-full after all its
  epochs, then every method at 1/3 of the reference's epochs; and the epochs each stopping method took to reach gp-full's
  median final error ("-": not within its budget)."""
  seen: set = set()
  runs = [r for r in runs if not ((k := (r["method"], r["seed"], r["epochs"], r["full_trials"], r["space"])) in seen or seen.add(k))]
  out = []
  for setup in dict.fromkeys((r["epochs"], r["full_trials"], r["space"]) for r in runs):
    rs_setup = [r for r in runs if (r["epochs"], r["full_trials"], r["space"]) == setup]
    full = setup[0] * setup[1]
    methods = sorted(dict.fromkeys(r["method"] for r in rs_setup), key=tuple(RUNNERS).index)
    ref = [regret_at(r["trace"], full) for r in rs_setup if r["method"] == "gp-full"]
    target = float(np.median(ref)) if ref else math.nan
    by = {(r["method"], r["seed"]): r for r in rs_setup}
    def images(r: dict | None, s: float) -> str:
      return "-" if r is None or r["trace"][-1][0] < s or not math.isfinite(g := regret_at(r["trace"], s)) else f"{round(g * N_VAL)}"
    def reach(r: dict | None, target: float = target) -> str:
      return "-" if r is None else str(next((s for s, g in r["trace"] if g <= target), "-"))
    stopping = [m for m in methods if m != "gp-full"]
    out.append(f"\nspace {setup[2]}, {setup[1]} x {setup[0]} epochs: misclassified of {N_VAL} at {full} epochs (gp-full) and at {full / 3:.0f}")
    out.append("| seed | gp-full at full | " + " | ".join(methods) + " |\n" + "|---" * (2 + len(methods)) + "|")
    for seed in sorted({r["seed"] for r in rs_setup}):
      cells = [images(by.get(("gp-full", seed)), full)] + [images(by.get((m, seed)), full / 3) for m in methods]
      out.append(f"| {seed} | " + " | ".join(cells) + " |")
    out.append(f"\nepochs to gp-full's median final error {target:.4g} (-: not within the run)")
    out.append("| seed | " + " | ".join(stopping) + " |\n" + "|---" * (1 + len(stopping)) + "|")
    for seed in sorted({r["seed"] for r in rs_setup}): out.append(f"| {seed} | " + " | ".join(reach(by.get((m, seed))) for m in stopping) + " |")
  return "\n".join(out)

def plot_curves(runs: list[dict], methods: list[str], seed: int, path: str) -> str:
  """Validation error against epoch of every trial of one seed, one panel per method: complete trials solid, stopped
  ones thin and ending in a cross, the best complete trial thick."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  by = {r["method"]: r for r in runs if r["seed"] == seed}
  methods = [m for m in methods if m in by]
  fig, axes = plt.subplots(1, len(methods), figsize=(5 * len(methods), 4), sharey=True, squeeze=False)
  for ax, m in zip(axes[0], methods):
    r = by[m]
    done = [t for t in r["trials"] if t["complete"]]
    best = min(done, key=lambda t: t["curve"][-1]) if done else None
    for t in r["trials"]:
      e, v = np.arange(1, len(t["curve"]) + 1), 10.0 ** np.asarray(t["curve"])
      if t["complete"]: ax.plot(e, v, lw=2.5 if t is best else 1.0, color="C3" if t is best else "C0", alpha=1.0 if t is best else 0.6)
      else:
        ax.plot(e, v, lw=0.7, color="0.5", alpha=0.7)
        ax.plot(e[-1:], v[-1:], "x", color="0.4", ms=4)
    ax.set(title=f"{m}, seed {seed}:\n{r['n_trials']} trials ({r['n_stopped']} stopped), {r['trace'][-1][0]} epochs", xlabel="epoch", yscale="log")
  axes[0][0].set_ylabel("validation error")
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path

def main(argv: list[str] | None = None) -> dict:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--methods", default="gp-full,gp-asha,random-asha,ray-asha-random")
  ap.add_argument("--seeds", default="0-4")
  ap.add_argument("--epochs", type=int, default=27, help="the length of a full run (ASHA's rungs 1, 3, 9 end at 27)")
  ap.add_argument("--full-trials", type=int, default=20, help="the reference: this many trials run to the last epoch")
  ap.add_argument("--stop-fraction", type=float, default=0.34, help="the stopping methods' budget, a fraction of the reference's epochs")
  ap.add_argument("--space", default="small", help="small (default) or demo")
  ap.add_argument("--out", help="JSON file: runs are appended (a run already there, same method/seed/setup, is skipped)")
  ap.add_argument("--summary", nargs="*", help="print the table of these JSON files (the runs of --seeds) and exit")
  ap.add_argument("--plot", help="with --summary: a PNG of every trial's learning curve, the first of --seeds, one panel per --methods")
  a = ap.parse_args(argv)
  if a.summary is not None:
    keep = set(seeds_of(a.seeds))
    runs = [r for f in a.summary for r in json.loads(Path(f).read_text())["runs"] if r["seed"] in keep]
    print(summary(runs))
    print(per_seed(runs))
    if a.plot: print(plot_curves(runs, a.methods.split(","), min(keep), a.plot))
    return {}
  space_spec(a.space)
  methods = a.methods.split(",")
  if bad := [m for m in methods if m not in RUNNERS]: raise SystemExit(f"unknown method {bad[0]!r}; use {tuple(RUNNERS)}")
  data = json.loads(Path(a.out).read_text()) if a.out and Path(a.out).exists() else {"runs": []}
  data["machine"] = {"python": platform.python_version(), "platform": platform.platform()}
  setup = {"epochs": a.epochs, "full_trials": a.full_trials, "space": a.space}
  done = {(r["method"], r["seed"], r["epochs"], r["full_trials"], r["space"]) for r in data["runs"]}
  full = a.epochs * a.full_trials
  for seed in seeds_of(a.seeds):   # seeds outermost: a run cut short still has every method on its first seeds
    for method in methods:
      if (method, seed, *setup.values()) in done: continue
      budget = full if method.endswith("-full") else int(math.ceil(a.stop_fraction * full))
      run = RUNNERS[method](method, seed, a.epochs, budget, a.space)
      data["runs"].append({"method": method, "seed": seed, **setup, "budget": budget, **run})
      print(f"{method} seed {seed}: {run['n_trials']} trials ({run['n_stopped']} stopped), val error {run['trace'][-1][1]:.4g} "
            f"after {run['trace'][-1][0]} epochs, {run['seconds']:.0f} s", flush=True)
      if a.out: Path(a.out).write_text(json.dumps(data))
  print(summary(data["runs"]))
  return data

if __name__ == "__main__":
  # run as the importable module, not as __main__: Ray's workers then import ray_curve by reference
  from benchmarks.mlp_fidelity import main as _main
  _main()
