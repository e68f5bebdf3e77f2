"""The smallest useful tinybo loop: ask for a configuration, train with your own tinygrad code, tell the result.

A two-layer MLP fits a noisy 1-d function with a hand-written SGD-with-momentum step; tinybo's GP tunes the learning
rate and the momentum.   python examples/ask_tell_loop.py [--trials 12]
"""
from __future__ import annotations

import argparse
import math

import numpy as np
from tinygrad import Tensor, TinyJit

import tinybo as tb


def train(lr: float, momentum: float, steps: int = 150, seed: int = 0) -> float:
  """Train y = sin(3x) + noise with a 1-32-1 tanh MLP; return the validation mean squared error."""
  rng = np.random.default_rng(seed)
  x = rng.uniform(-1, 1, (256, 1)).astype(np.float32)
  y = (np.sin(3 * x) + 0.05 * rng.standard_normal(x.shape)).astype(np.float32)
  X, Y, Xv, Yv = Tensor(x[:192]), Tensor(y[:192]), Tensor(x[192:]), Tensor(y[192:])
  Tensor.manual_seed(seed)
  params = [Tensor.randn(1, 32) * 1.0, Tensor.zeros(32), Tensor.randn(32, 1) * (1 / math.sqrt(32)), Tensor.zeros(1)]
  params = [p.contiguous().realize() for p in params]
  for p in params: p.requires_grad = True
  vel = [Tensor.zeros(*p.shape).contiguous().realize() for p in params]
  lr_t, mu_t = Tensor([lr]).realize(), Tensor([momentum]).realize()   # Tensors, so every trial reuses the jitted kernels
  def forward(x: Tensor) -> Tensor: return (x @ params[0] + params[1]).tanh() @ params[2] + params[3]

  @TinyJit
  def step() -> Tensor:
    loss = ((forward(X) - Y) ** 2).mean()
    for p, v, g in zip(params, vel, loss.gradient(*params)):
      v.assign(mu_t * v + g)
      p.assign(p.detach() - lr_t * v)
    Tensor.realize(loss, *params, *vel)
    return loss

  for _ in range(steps): step()
  return ((forward(Xv) - Yv) ** 2).mean().item()

def main(argv: list[str] | None = None) -> tb.Trial | None:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--trials", type=int, default=12)
  ap.add_argument("--strategy", default="gp")
  args = ap.parse_args(argv)
  if args.trials < 1: ap.error(f"--trials {args.trials}: use 1 or more")
  space = tb.Space({"lr": tb.Float(1e-3, 0.3, log=True), "momentum": tb.Float(0.0, 0.95)})
  opt = tb.Optimizer(space, strategy=args.strategy, direction="minimize", seed=0)
  for _ in range(args.trials):
    trial = opt.suggest()                          # "give me the next configuration"
    mse = train(**trial.params)
    opt.observe(trial, mse)                        # a diverged run (NaN) is recorded as failed, never fed to the GP
    print(f"trial {trial.id:2d}: lr={trial.params['lr']:.4f} momentum={trial.params['momentum']:.3f} -> val mse {mse:.4f}")
  if opt.best is None:   # every run diverged: each is a failed trial, so there is no best one
    print(f"no trial of {args.trials} finished with a finite val mse: narrow the lr range (e.g. tb.Float(1e-3, 0.1, log=True))")
    return None
  print(f"best: {opt.best.params} val mse {opt.best.value:.4f}")
  return opt.best

if __name__ == "__main__":
  main()
