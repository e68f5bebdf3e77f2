"""`make demo`: tune a tinygrad MLP on scikit-learn's bundled 8x8 digits with tinybo's GP strategy, stopping bad runs early.

Searches learning rate (log), weight decay (log), activation (categorical), the number of hidden layers (1 or 2) and
each layer's width (int, log; `width_2` exists only for 2 layers: a conditional parameter), minimizing log10 of the
validation error. Each trial reports its validation error after every epoch and the median stopping rule ends the
runs that are worse than the median of the finished ones at the same epoch. Keeps the study in SQLite, prints how many
epochs the study spent against every trial run to the end, compares the best configuration with an untuned default on
validation and on a held-out test split, and writes the plots (learning curves included). `--compare` (what `make demo`
runs) then runs the same number of trials again without stopping, every one to the end, in a second study, and prints
the epochs and the accuracy that one reached beside the first's.

  python examples/tune_mlp.py [--trials 30] [--epochs 10] [--stopping median|asha|none] [--compare] [--out out] [--seed 0]
"""
from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Iterator

import numpy as np
from tinygrad import Context, Device, Tensor, TinyJit

import tinybo as tb

ACTIVATIONS = ["relu", "tanh", "gelu"]
MAX_WIDTH = 256
# What a user would plausibly start with: the textbook SGD settings (lr 0.01, momentum 0.9, weight decay 1e-4) and a
# 64-64 ReLU MLP. With the 10-epoch budget that learning rate is too small, so it underfits.
DEFAULT = {"lr": 0.01, "weight_decay": 1e-4, "activation": "relu", "n_layers": 2, "width_1": 64, "width_2": 64}

def make_space(epochs: int = 10, batch_size: int = 64) -> tb.Space:
  return tb.Space({
    "lr": tb.Float(1e-3, 1.0, log=True),
    "weight_decay": tb.Float(1e-6, 1e-2, log=True),
    "activation": tb.Categorical(ACTIVATIONS),
    "n_layers": tb.Int(1, 2),
    "width_1": tb.Int(16, MAX_WIDTH, log=True),
    "width_2": tb.Int(16, MAX_WIDTH, log=True, when={"n_layers": 2}),   # a second layer's width only with a second layer
    "epochs": epochs,                  # the full length of a run: each trial reports every epoch, and may stop before
    "batch_size": batch_size,
  })

def make_stopping(name: str, epochs: int) -> tb.StoppingRule | None:
  """median (default): from epoch 2 on, stop a run whose best validation error so far is worse than the median of the
  complete runs at the same epoch, once 5 runs are complete; asha: successive halving at epochs 1, 3, 9; none: every run
  goes to the end. Neither judges the last epoch: a run that got there has spent its budget, and completes."""
  if name == "median": return tb.MedianStopping(warmup_trials=5, warmup_steps=min(2, epochs - 1), max_step=epochs)
  if name == "asha":
    if epochs < 2: raise ValueError(f"--stopping asha with --epochs {epochs}: no epoch before the last to stop at; use --epochs 2 or more")
    return tb.ASHA(min_step=1, max_step=epochs, reduction_factor=3)
  if name == "none": return None
  raise ValueError(f"--stopping {name!r}; use median, asha or none")

def load_data(seed: int = 0) -> dict[str, tuple[Tensor, Tensor]]:
  """Digits (1797 images, 8x8, 10 classes) split 60/20/20 into train/val/test, as Tensors on the default device."""
  from sklearn.datasets import load_digits
  X, y = load_digits(return_X_y=True)
  perm = np.random.default_rng(seed).permutation(len(X))
  X, y = (X[perm] / 16.0).astype(np.float32), y[perm].astype(np.int32)
  a, b = int(0.6 * len(X)), int(0.8 * len(X))
  return {k: (Tensor(X[s]).realize(), Tensor(y[s]).realize()) for k, s in [("train", slice(0, a)), ("val", slice(a, b)), ("test", slice(b, None))]}

def _forward(W: list[Tensor], x: Tensor, masks: tuple[Tensor, Tensor], two: Tensor, act: Tensor) -> Tensor:
  def layer(h: Tensor, w: Tensor, b: Tensor, mask: Tensor) -> Tensor:
    z = (h @ w + b).contiguous()
    # the activation is a one-hot Tensor, not Python control flow, so every trial runs the same compiled kernels
    h = act[0] * z.relu() + act[1] * z.tanh() + act[2] * z.gelu()
    # units beyond the layer's width are exactly zero: the net is a true width-`width` MLP. contiguous() keeps tinygrad
    # from fusing the three activations into the next matmul's inner loop, which recomputes them per output (10x slower)
    return (h * mask).contiguous()
  h1 = layer(x, W[0], W[1], masks[0])
  # one hidden layer or two, chosen by a 0/1 Tensor for the same reason: the second layer is skipped exactly when two == 0
  h = two * layer(h1, W[2], W[3], masks[1]) + (1 - two) * h1
  return h @ W[4] + W[5]

def train_curve(params: dict, data: dict, seed: int = 0, split: str = "val") -> Iterator[float]:
  """Train an MLP with 1 or 2 hidden layers with SGD (momentum 0.9) for params["epochs"] epochs, yielding the accuracy
  on `split` after each epoch.

  Hyperparameters enter the jitted steps as Tensors (learning rate, weight decay, activation, layer count, width
  masks), never as Python constants, so tinygrad compiles the kernels once and every later trial reuses them: a trial
  costs about a second on 2 CPU cores instead of the ~10 s a fresh compile takes.
  """
  Xtr, ytr = data["train"]
  Xe, ye = data[split]
  two_layers = int(params["n_layers"]) == 2
  w1, w2 = int(params["width_1"]), int(params["width_2"]) if two_layers else MAX_WIDTH
  bs, epochs = int(params["batch_size"]), int(params["epochs"])
  Tensor.manual_seed(seed)
  rng = np.random.default_rng(seed)
  def init(fan_in: int, shape: tuple[int, ...]) -> Tensor: return Tensor((rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32))
  # He init at the real fan-in, zero outside the active widths; the output layer reads the last hidden layer
  W = [init(64, (64, MAX_WIDTH)), Tensor.zeros(MAX_WIDTH), init(w1, (MAX_WIDTH, MAX_WIDTH)), Tensor.zeros(MAX_WIDTH),
       init(w2 if two_layers else w1, (MAX_WIDTH, 10)), Tensor.zeros(10)]
  m1, m2 = (Tensor((np.arange(MAX_WIDTH) < w).astype(np.float32)) for w in (w1, w2))
  last = m2 if two_layers else m1
  W = [w.contiguous().realize() for w in W]
  W[0], W[2], W[4] = (W[0] * m1).realize(), (W[2] * m1.reshape(MAX_WIDTH, 1) * m2).realize(), (W[4] * last.reshape(MAX_WIDTH, 1)).realize()
  vel = [Tensor.zeros(*w.shape).contiguous().realize() for w in W]
  for w in W: w.requires_grad = True
  masks, two = (m1.realize(), m2.realize()), Tensor([float(two_layers)]).realize()
  act = Tensor([float(params["activation"] == a) for a in ACTIVATIONS]).realize()
  lr, wd = Tensor([float(params["lr"])]).realize(), Tensor([float(params["weight_decay"])]).realize()

  @TinyJit
  def step(idx: Tensor) -> Tensor:
    with Context(TRAINING=1):
      loss = _forward(W, Xtr[idx], masks, two, act).sparse_categorical_crossentropy(ytr[idx])
      grads = loss.gradient(*W)
      updates = []
      for w, v, g in zip(W, vel, grads):
        v.assign(v * 0.9 + g + wd * w.detach())
        updates += [w.assign(w.detach() - lr * v), v]
      Tensor.realize(loss, *updates)
    return loss

  @TinyJit
  def accuracy() -> Tensor: return (_forward(W, Xe, masks, two, act).argmax(-1) == ye).mean().realize()

  n = Xtr.shape[0]
  for _ in range(epochs):
    perm = rng.permutation(n).astype(np.int32)
    for i in range(n // bs): step(Tensor(perm[i * bs:(i + 1) * bs]))
    yield float(accuracy().item())

def train_eval(params: dict, data: dict, seed: int = 0, split: str = "val") -> float:
  """Train for all params["epochs"] epochs (see train_curve); return the accuracy on `split`."""
  return list(train_curve(params, data, seed, split))[-1]

# The study minimizes log10 of the validation error rather than maximizing accuracy: errors span 2% to 90% here, and on
# a log scale the GP sees 2% vs 3% as clearly as 30% vs 90%, so a few diverged runs do not drown out the good region.
METRIC = "log10 validation error"

def log_error(acc: float, data: dict) -> float:
  n = data["val"][1].shape[0]
  return math.log10(max(1.0 - acc, 0.5 / n))   # a perfect score is half an error, not -inf

def accuracy(log_err: float) -> float: return 1.0 - 10.0 ** log_err

def objective(data: dict, seed: int):
  """The study's objective: trains, reports log10 validation error after every epoch, stops when the rule says so."""
  def run(params: dict, trial: tb.TrialHandle) -> float:
    for epoch, acc in enumerate(train_curve(params, data, seed=seed), 1):
      value = log_error(acc, data)
      if trial.report(value, epoch): raise tb.StopTrial()   # recorded as stopped, at this epoch's value
    return value
  return run

def summary(opt: tb.Optimizer, epochs: int) -> dict:
  """Trials complete and stopped, epochs spent against every trial run to the end, from the study's reports."""
  trials, curves = opt.trials, opt.curves
  ran = [t for t in trials if t.state in (tb.TrialState.COMPLETE, tb.TrialState.STOPPED)]
  stopped = [t for t in ran if t.state == tb.TrialState.STOPPED]
  spent = sum(c[-1].step for c in curves.values())
  return {"trials": len(ran), "complete": len(ran) - len(stopped), "stopped": len(stopped), "epochs_spent": spent, "epochs_full": len(ran) * epochs,
          "stopped_at": sorted(t.last_step for t in stopped)}

def run_study(space: tb.Space, data: dict, args: argparse.Namespace, stopping: tb.StoppingRule | None, db: str) -> tuple[tb.Optimizer, tb.Trial]:
  """A fresh study in `db` (the demo is a demonstration, not a resume): args.trials trials of the objective under
  `stopping`; the Optimizer and its best complete trial."""
  if os.path.exists(db): os.remove(db)
  strategy = tb.GP(device=Device.DEFAULT, seed=args.seed) if args.strategy == "gp" else args.strategy
  opt = tb.Optimizer(space, strategy=strategy, direction="minimize", seed=args.seed, storage=db, name="digits-mlp", stopping=stopping)
  best = opt.optimize(objective(data, args.seed), n_trials=args.trials, progress=True)
  if best is None: raise SystemExit(f"no trial of {args.trials} completed (every one stopped or failed); run more trials or more epochs")
  return opt, best

def main(argv: list[str] | None = None) -> dict:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--trials", type=int, default=30)
  ap.add_argument("--epochs", type=int, default=10)
  ap.add_argument("--stopping", default="median", help="median (default), asha or none")
  ap.add_argument("--out", default="out", help="folder for the SQLite study and the PNGs")
  ap.add_argument("--seed", type=int, default=0)
  ap.add_argument("--strategy", default="gp", help="gp (default) or random")
  ap.add_argument("--compare", action="store_true", help="also run the same number of trials without stopping (a second study, "
                  "out/demo_full.db) and print its epochs and accuracy beside this one's")
  args = ap.parse_args(argv)
  if args.compare and args.stopping == "none": ap.error("--compare runs a second study without stopping; give --stopping median or asha")
  for flag, v in (("--trials", args.trials), ("--epochs", args.epochs)):
    if v < 1: ap.error(f"{flag} {v}: use 1 or more")
  try: stopping = make_stopping(args.stopping, args.epochs)
  except ValueError as e: ap.error(str(e))   # one line, before any folder is made or data loaded
  os.makedirs(args.out, exist_ok=True)
  t0 = time.perf_counter()
  data, space = load_data(args.seed), make_space(args.epochs)
  db = os.path.join(args.out, "demo.db")
  print(f"tuning a tinygrad MLP on digits: {args.trials} trials of up to {args.epochs} epochs, stopping: {stopping}, GP and model on "
        f"{Device.DEFAULT}; minimizing {METRIC} (-1.7 = 2% error)")
  opt, best = run_study(space, data, args, stopping, db)
  res = {**summary(opt, args.epochs), "best": best.params, "best_val": accuracy(best.value)}
  default = space.validate(DEFAULT)
  res["default_val"] = train_eval(default, data, seed=args.seed)
  res["best_test"] = train_eval(best.params, data, seed=args.seed, split="test")
  res["default_test"] = train_eval(default, data, seed=args.seed, split="test")
  from tinybo import plot
  res["plots"] = [plot.history(opt, os.path.join(args.out, "history.png"), label=METRIC),
                  plot.learning_curves(opt, os.path.join(args.out, "curves.png"), label=METRIC)]
  if res["complete"] >= 3:   # the heatmap's and the importance's GP needs a few complete trials
    # the heatmap shows the two parameters that matter most among those every trial has (width_2 exists for 2 layers only)
    x, y = [n for n in plot.most_important(opt, k=len(space.names), device=Device.DEFAULT) if n not in space.conditions][:2]
    res["plots"] += [plot.heatmap(opt, x, y, os.path.join(args.out, f"heatmap_{x}_{y}.png"), device=Device.DEFAULT, label=METRIC),
                     plot.importance(opt, os.path.join(args.out, "importance.png"), device=Device.DEFAULT)]
  if args.compare:   # the same number of trials, every one to the end: what the stopping saved, and what it cost
    full_db = os.path.join(args.out, "demo_full.db")
    print(f"again without stopping, every trial to the end (a second study, {full_db}):")
    full, full_best = run_study(space, data, args, None, full_db)
    res["full"] = {**summary(full, args.epochs), "best": full_best.params, "best_val": accuracy(full_best.value),
                   "best_test": train_eval(full_best.params, data, seed=args.seed, split="test")}
  res["wall_s"] = time.perf_counter() - t0
  searched = {k: v for k, v in best.params.items() if k in space.names}
  print(f"trials: {res['trials']}, {res['complete']} ran all {args.epochs} epochs, {res['stopped']} stopped early "
        f"(at epochs {', '.join(map(str, res['stopped_at'])) or '-'})")
  print(f"epochs: {res['epochs_spent']} spent, {res['epochs_full']} if every trial had run to the end "
        f"({res['epochs_spent'] / max(res['epochs_full'], 1):.0%})")
  print(f"best configuration: {searched}")
  print(f"best {METRIC}: {best.value:.3f}")
  print(f"validation accuracy: tuned {res['best_val']:.4f} vs default {res['default_val']:.4f} (default: {DEFAULT})")
  print(f"test accuracy:       tuned {res['best_test']:.4f} vs default {res['default_test']:.4f}")
  if args.compare:
    f = res["full"]
    print(f"every trial to the end: {f['epochs_spent']} epochs against this study's {res['epochs_spent']}; validation accuracy "
          f"{f['best_val']:.4f} against {res['best_val']:.4f}, test {f['best_test']:.4f} against {res['best_test']:.4f}")
  print(f"study: {db}   plots: {', '.join(res['plots'])}   wall time: {res['wall_s']:.0f} s")
  return res

if __name__ == "__main__":
  main()
