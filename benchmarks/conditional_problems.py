"""Benchmark problems with conditional (tree-structured) spaces, as `benchmarks.functions.Problem`s: a tinybo Space with
`when=` conditions, an objective over a params dict that holds only the active parameters, the optimal value, and the
minimizers in `info["minimizers"]`. All are minimized.

  jenatton       the tree-structured function of Jenatton et al. (ICML 2017), "Bayesian optimization with tree-structured
                 dependencies": binary choices x1 -> (x2 | x3) select which one of x4..x7 matters, plus a weight r8 or r9
                 shared by each half of the tree. Definition and bounds (all continuous parameters in [0, 1]) as in Ax's
                 benchmark `ax/benchmark/problems/synthetic/hss/jenatton.py`; f* = 0.1 at x1 = x2 = 0, x4 = r8 = 0.
  jenatton_pm1   the same tree with the leaf parameters x4..x7 in [-1, 1], so the leaf minimizer x4 = 0 is interior (in
                 the [0, 1] version it is a corner of the box, which a method that favours the bounds finds for free).
  ml_conditional a training-recipe space of my design: optimizer (sgd with momentum, or adam), learning rate, depth with a
                 width per layer, and a regularizer with its own strength. f* = 0 at sgd, lr = 0.05, momentum = 0.9,
                 2 layers of 128 and 64 units, dropout 0.2; adam's best (0.15) is the wide, easy basin next to it.
  training_recipe a training recipe whose optimum separates modelling the tree from flattening it: three optimizers with
                 their own learning-rate ranges and 1-2 parameters each, depth 1-4 with a width per layer; every branch
                 is competitive (best values 0 to 0.35) and every optimal value is interior, at no bound and away from
                 the centre of its range (the flattened encoding's fill for an inactive column). 11 parameters, 4-7
                 active, 12 branches. f* = 0 at adam, lr 3e-4, beta1 0.9, 3 layers of 256, 64, 32 units.
"""
from __future__ import annotations

import math
from typing import Any

from benchmarks.functions import Problem
from tinybo.space import Categorical, Float, Int

# ***** Jenatton et al. 2017 *****

def jenatton(p: dict[str, Any]) -> float:
  if p["x1"] == 0:
    return (p["x4"] ** 2 + 0.1 if p["x2"] == 0 else p["x5"] ** 2 + 0.2) + p["r8"]
  return (p["x6"] ** 2 + 0.3 if p["x3"] == 0 else p["x7"] ** 2 + 0.4) + p["r9"]

def jenatton_params(leaf_low: float = 0.0) -> dict[str, Any]:
  return {
    "x1": Categorical([0, 1]),
    "x2": Categorical([0, 1], when={"x1": 0}),
    "x3": Categorical([0, 1], when={"x1": 1}),
    "x4": Float(leaf_low, 1.0, when={"x2": 0}),
    "x5": Float(leaf_low, 1.0, when={"x2": 1}),
    "x6": Float(leaf_low, 1.0, when={"x3": 0}),
    "x7": Float(leaf_low, 1.0, when={"x3": 1}),
    "r8": Float(0.0, 1.0, when={"x1": 0}),
    "r9": Float(0.0, 1.0, when={"x1": 1}),
  }

# ***** a training recipe: optimizer, depth and widths, regularizer *****

ML_MINIMIZER = {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "n_layers": 2, "width_1": 128, "width_2": 64,
                "regularizer": "dropout", "dropout": 0.2}

ML_PARAMS: dict[str, Any] = {
  "optimizer": Categorical(["sgd", "adam"]),
  "lr": Float(1e-5, 1.0, log=True),
  "momentum": Float(0.0, 0.99, when={"optimizer": "sgd"}),
  "n_layers": Int(1, 3),
  "width_1": Int(16, 512, log=True),
  "width_2": Int(16, 512, log=True, when={"n_layers": [2, 3]}),
  "width_3": Int(16, 512, log=True, when={"n_layers": 3}),
  "regularizer": Categorical(["none", "dropout", "weight_decay"]),
  "dropout": Float(0.0, 0.5, when={"regularizer": "dropout"}),
  "weight_decay": Float(1e-6, 1e-2, log=True, when={"regularizer": "weight_decay"}),
}

def ml_conditional(p: dict[str, Any]) -> float:
  """A smooth stand-in for a validation loss. SGD's effective step lr / (1 - momentum) must sit near 0.5 (a curved
  valley in lr x momentum, best at momentum 0.9); adam wants lr near 1e-3 and is 0.15 worse at best. Two layers of
  128 and 64 units fit best (log2 widths quadratic around 7, 6, 5); dropout 0.2 is the best regularizer."""
  lr = math.log10(p["lr"])
  if p["optimizer"] == "sgd":
    effective = lr - math.log10(1.0 - p["momentum"])
    opt = 0.6 * (effective - math.log10(0.5)) ** 2 + 2.0 * (p["momentum"] - 0.9) ** 2
  else: opt = 0.3 * (lr + 3.0) ** 2 + 0.15
  widths = [math.log2(p[f"width_{i}"]) for i in range(1, p["n_layers"] + 1)]
  if p["n_layers"] == 1: arch = 0.5 + 0.05 * (widths[0] - 8) ** 2
  else: arch = (0.0 if p["n_layers"] == 2 else 0.2) + 0.05 * sum((w - t) ** 2 for w, t in zip(widths, (7, 6, 5)))
  reg = {"none": lambda: 0.3, "dropout": lambda: 1.5 * (p["dropout"] - 0.2) ** 2,
         "weight_decay": lambda: 0.05 * (math.log10(p["weight_decay"]) + 4) ** 2 + 0.1}[p["regularizer"]]()
  return opt + arch + reg

# ***** a training recipe with interior optima on every branch *****

RECIPE_MINIMIZER = {"optimizer": "adam", "adam_lr": 3e-4, "beta1": 0.9, "n_layers": 3, "width_1": 256, "width_2": 64, "width_3": 32}

RECIPE_PARAMS: dict[str, Any] = {
  "optimizer": Categorical(["sgd", "adam", "rmsprop"]),
  "sgd_lr": Float(1e-4, 1.0, log=True, when={"optimizer": "sgd"}),
  "momentum": Float(0.0, 0.99, when={"optimizer": "sgd"}),
  "adam_lr": Float(1e-5, 1e-1, log=True, when={"optimizer": "adam"}),
  "beta1": Float(0.5, 0.99, when={"optimizer": "adam"}),
  "rmsprop_lr": Float(1e-5, 1e-1, log=True, when={"optimizer": "rmsprop"}),
  "n_layers": Int(1, 4),
  "width_1": Int(16, 1024, log=True),
  "width_2": Int(16, 1024, log=True, when={"n_layers": [2, 3, 4]}),
  "width_3": Int(16, 1024, log=True, when={"n_layers": [3, 4]}),
  "width_4": Int(16, 1024, log=True, when={"n_layers": 4}),
}

RECIPE_ARCH = {1: (0.35, (9,)), 2: (0.15, (8, 6)), 3: (0.0, (8, 6, 5)), 4: (0.08, (8, 6, 5, 5))}  # depth: (offset, log2 widths)

def training_recipe(p: dict[str, Any]) -> float:
  """A smooth stand-in for a validation loss. adam: lr near 3e-4 and beta1 near 0.9 (best, 0); sgd: the effective step
  lr / (1 - momentum) near 0.2 along a curved valley, best at momentum 0.75 (0.05 worse); rmsprop: lr near 3e-3 (0.1
  worse). Each depth has its own best widths (log2 widths quadratic around them) and offset: 3 layers of 256, 64, 32 best,
  4 layers 0.08 worse, 2 layers 0.15, 1 layer 0.35."""
  if p["optimizer"] == "adam":
    opt = 0.3 * (math.log10(p["adam_lr"]) - math.log10(3e-4)) ** 2 + 4.0 * (p["beta1"] - 0.9) ** 2
  elif p["optimizer"] == "sgd":
    effective = math.log10(p["sgd_lr"]) - math.log10(1.0 - p["momentum"])
    opt = 0.05 + 0.5 * (effective - math.log10(0.2)) ** 2 + 1.5 * (p["momentum"] - 0.75) ** 2
  else: opt = 0.1 + 0.3 * (math.log10(p["rmsprop_lr"]) - math.log10(3e-3)) ** 2
  offset, targets = RECIPE_ARCH[p["n_layers"]]
  return opt + offset + 0.04 * sum((math.log2(p[f"width_{i}"]) - t) ** 2 for i, t in enumerate(targets, 1))

CONDITIONAL_PROBLEMS: dict[str, Problem] = {p.name: p for p in [
  Problem("jenatton", jenatton_params(0.0), jenatton, 0.1, 40,
          notes="Jenatton et al. 2017 tree (Ax's definition, leaves in [0, 1]); 4 branches, depth 2",
          info={"minimizers": [{"x1": 0, "x2": 0, "x4": 0.0, "r8": 0.0}]}),
  Problem("jenatton_pm1", jenatton_params(-1.0), jenatton, 0.1, 40,
          notes="Jenatton's tree with the leaves x4..x7 in [-1, 1]: the leaf minimizer is interior",
          info={"minimizers": [{"x1": 0, "x2": 0, "x4": 0.0, "r8": 0.0}]}),
  Problem("ml_conditional", ML_PARAMS, ml_conditional, 0.0, 60,
          notes="optimizer/momentum, depth with per-layer widths, regularizer with its strength; 10 parameters, 5-8 active",
          info={"minimizers": [ML_MINIMIZER]}),
  Problem("training_recipe", RECIPE_PARAMS, training_recipe, 0.0, 60,
          notes="three optimizers with their own lr and 0-1 more parameters, depth 1-4 with per-layer widths; interior optima",
          info={"minimizers": [RECIPE_MINIMIZER]}),
]}

def get_conditional_problem(name: str) -> Problem:
  if name in CONDITIONAL_PROBLEMS: return CONDITIONAL_PROBLEMS[name]
  raise ValueError(f"unknown conditional problem {name!r}; use one of {', '.join(CONDITIONAL_PROBLEMS)}")
