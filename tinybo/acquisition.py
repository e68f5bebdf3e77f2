"""Acquisition functions: what a posterior is worth sampling, a value to MAXIMIZE (the strategy flips a minimized objective).
Holds: LogEI, EI, UCB, PI, LogPI over Tensors, ACQUISITIONS and `acquisition_value` (name -> function). Imports: special, tinygrad.
Glossary: mean[m], var[m] (>= 0) the posterior at m points, standardized units, sigma = sqrt(var); best the incumbent's
standardized value (a Tensor, never a python float under jit); z[m] = (mean - best) / sigma; h, log_h: see special.py.
"""
from __future__ import annotations

from tinygrad import Tensor

from tinybo.special import log_h, log_ndtr, ndtr

_VAR_MIN = 1e-12  # posterior variance floor: sqrt and log stay finite with a finite gradient at observed points

def _z_sigma(mean: Tensor, var: Tensor, best: Tensor | float) -> tuple[Tensor, Tensor]:
  sigma = var.maximum(_VAR_MIN).sqrt()
  return (mean - best) / sigma, sigma

def log_expected_improvement(mean: Tensor, var: Tensor, best: Tensor | float) -> Tensor:
  """log E[max(0, f - best)], f ~ N(mean, var): finite far into the tail where EI itself underflows."""
  z, sigma = _z_sigma(mean, var, best)
  return log_h(z) + sigma.log()

def expected_improvement(mean: Tensor, var: Tensor, best: Tensor | float) -> Tensor:
  z, sigma = _z_sigma(mean, var, best)
  return sigma * log_h(z).exp()

def upper_confidence_bound(mean: Tensor, var: Tensor, beta: Tensor | float = 2.0) -> Tensor:
  """mean + sqrt(beta) sigma (beta as in BoTorch's UpperConfidenceBound)."""
  return mean + (beta ** 0.5 if isinstance(beta, (int, float)) else beta.sqrt()) * var.maximum(0.0).sqrt()

def probability_of_improvement(mean: Tensor, var: Tensor, best: Tensor | float) -> Tensor:
  return ndtr(_z_sigma(mean, var, best)[0])

def log_probability_of_improvement(mean: Tensor, var: Tensor, best: Tensor | float) -> Tensor:
  return log_ndtr(_z_sigma(mean, var, best)[0])

ACQUISITIONS = ("logei", "ei", "ucb", "pi", "logpi")
_OF_BEST = {"logei": log_expected_improvement, "ei": expected_improvement, "pi": probability_of_improvement, "logpi": log_probability_of_improvement}

def check_acquisition(kind: str, also: tuple[str, ...] = ()) -> str:
  """kind, one of ACQUISITIONS or of `also` (a caller's own names, listed first in the error)."""
  names = (*also, *ACQUISITIONS)
  # the type first: a list is no tuple member to compare, and its error would be a bare "unhashable type"
  if not isinstance(kind, str) or kind not in names: raise ValueError(f"unknown acquisition {kind!r}: use one of {', '.join(names)}")
  return kind

def acquisition_value(kind: str, mean: Tensor, var: Tensor, params: Tensor) -> Tensor:
  """params[2] = (best, beta) as a Tensor so that a captured program sees new values on replay."""
  best, beta = params[0], params[1]
  return upper_confidence_bound(mean, var, beta) if check_acquisition(kind) == "ucb" else _OF_BEST[kind](mean, var, best)
