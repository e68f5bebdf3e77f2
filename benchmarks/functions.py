"""Synthetic benchmark problems with known optima, declared as data: a tinybo Space, an objective over a params dict, the
optimal value, and the evaluation budget the suite uses. All are minimized.

Glossary: x[d] a point in the problem's own coordinates; f(x) the objective; f* the known global minimum value;
simple regret after t evaluations = min_{i <= t} f(x_i) - f*.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinybo.space import Categorical, Float, Int, Space


@dataclass(frozen=True)
class Problem:
  name: str
  params: dict[str, Any]                       # name -> Float/Int/Categorical (the Space mapping)
  fn: Callable[[dict[str, Any]], float]        # params dict -> value
  optimum: float                               # f*
  budget: int                                  # evaluations per run, the initial design included
  target: float | None = None                  # median simple regret the suite is held to (issue 4), if any
  notes: str = ""
  info: dict[str, Any] = field(default_factory=dict)

  @property
  def space(self) -> Space: return Space(self.params)

  def __call__(self, params: dict[str, Any]) -> float: return float(self.fn(params))

def _vec(p: dict[str, Any], d: int) -> np.ndarray: return np.array([p[f"x{i}"] for i in range(d)], dtype=np.float64)

def branin(x: np.ndarray) -> float:
  a, b, c, r, s, t = 1.0, 5.1 / (4 * math.pi ** 2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
  return a * (x[1] - b * x[0] ** 2 + c * x[0] - r) ** 2 + s * (1 - t) * math.cos(x[0]) + s

def six_hump_camel(x: np.ndarray) -> float:
  x1, x2 = x
  return (4 - 2.1 * x1 ** 2 + x1 ** 4 / 3) * x1 ** 2 + x1 * x2 + (-4 + 4 * x2 ** 2) * x2 ** 2

_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]])
_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])

def hartmann(x: np.ndarray, A: np.ndarray, P: np.ndarray) -> float:
  return float(-(_H_ALPHA * np.exp(-(A * (x[None, :] - P) ** 2).sum(1))).sum())

def ackley(x: np.ndarray) -> float:
  d = len(x)
  return float(-20 * math.exp(-0.2 * math.sqrt((x ** 2).sum() / d)) - math.exp(np.cos(2 * math.pi * x).sum() / d) + 20 + math.e)

# mixed: Branin in (x0, x1) plus an integer quadratic and a categorical offset that also shifts the Branin valley
_MIXED_OFFSET = {"sgd": 1.5, "adam": 0.0, "rmsprop": 0.6}
_MIXED_SHIFT = {"sgd": 1.0, "adam": 0.0, "rmsprop": -0.8}

def mixed(p: dict[str, Any]) -> float:
  shift = _MIXED_SHIFT[p["opt"]]
  return branin(np.array([p["x0"], p["x1"] + shift * (p["layers"] != 3)])) + 0.25 * (p["layers"] - 3) ** 2 + _MIXED_OFFSET[p["opt"]]

def _box(d: int, lo: float, hi: float) -> dict[str, Any]: return {f"x{i}": Float(lo, hi) for i in range(d)}

def ackley_problem(d: int, budget: int | None = None, target: float | None = None) -> Problem:
  return Problem(f"ackley{d}", _box(d, -32.768, 32.768), lambda p: ackley(_vec(p, d)), 0.0, budget or 12 * d, target,
                 notes=f"Ackley in {d} dimensions on [-32.768, 32.768]^{d}; the optimum is the centre")

PROBLEMS: dict[str, Problem] = {p.name: p for p in [
  Problem("branin", {"x0": Float(-5, 10), "x1": Float(0, 15)}, lambda p: branin(_vec(p, 2)), 0.397887357729739, 30, 0.004,
          notes="three global minima"),
  Problem("camel", {"x0": Float(-3, 3), "x1": Float(-2, 2)}, lambda p: six_hump_camel(_vec(p, 2)), -1.031628453489877, 30,
          notes="six-hump camel, two global minima"),
  Problem("hartmann3", _box(3, 0, 1), lambda p: hartmann(_vec(p, 3), _H3_A, _H3_P), -3.86278214782076, 40),
  Problem("hartmann6", _box(6, 0, 1), lambda p: hartmann(_vec(p, 6), _H6_A, _H6_P), -3.32236801141551, 60, 0.002),
  ackley_problem(5, 60, 4.7),
  Problem("mixed", {"x0": Float(-5, 10), "x1": Float(0, 15), "layers": Int(1, 8), "opt": Categorical(["sgd", "adam", "rmsprop"])},
          mixed, 0.397887357729739, 40, notes="Branin + int quadratic + categorical offset; optimum at layers=3, opt='adam'"),
]}

def get_problem(name: str) -> Problem:
  if name in PROBLEMS: return PROBLEMS[name]
  if name.startswith("ackley") and name[6:].isdigit(): return ackley_problem(int(name[6:]))
  raise ValueError(f"unknown problem {name!r}; use one of {', '.join(PROBLEMS)} or ackley<d>")
