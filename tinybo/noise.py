"""Evidence of observation noise: whether a GP that fits a noise variance explains the data better than one that
interpolates them (the noise pinned at the numerical floor), by the difference of their MAP objectives, a likelihood
ratio. The GP strategy's acquisitions "edge" (its default) and "auto" use it to tell a noisy objective from a
deterministic one from the data alone. Holds: noise_evidence, negligible_noise, NOISE_MARGIN, RETEST_GROWTH. Imports: gp, numpy.
"""
from __future__ import annotations

import numpy as np

from tinybo.gp import NOISE_FLOOR, GPRegressor

# the data are noisy when the fitted noise is better by this many nats: a likelihood ratio of e⁵ ≈ 150, above Kass and
# Raftery's "strong" (3 nats). On deterministic problems a fit with 10-15 points can put the noise a little above the
# floor and gain up to ~3 nats by it; with noise the gain grows with n (tens of nats by 20 points of Branin + N(0, 1))
NOISE_MARGIN = 5.0
# a fitted noise variance this close to the floor (a multiple of it) gains nothing measurable over the interpolating fit:
# no second fit is needed to say so
NEGLIGIBLE_NOISE = 10.0
# the evidence grows with the data, and its second fit is cold: a study tests again only once its data have grown this
# many times since the last test (as gp.GPRegressor refits cold), and keeps the last verdict in between
RETEST_GROWTH = 1.5

def negligible_noise(model: GPRegressor) -> bool:
  """Whether `model`'s fitted noise variance is within NEGLIGIBLE_NOISE times the floor: then it gains nothing over the
  interpolating fit, and `noise_evidence` is 0 without a second fit."""
  return bool(model.hyperparameters["noise"] <= NEGLIGIBLE_NOISE * NOISE_FLOOR.get(model.dtype, 1e-4))

def noise_evidence(model: GPRegressor, y: np.ndarray, *, seed: int = 0, margin: float | None = None) -> float:
  """The log likelihood ratio (nats, >= 0) of `model`, a GP fitted with its noise variance free (noise=None) to y[n] (the
  raw targets it was fitted to), against the same kernel and data with the noise pinned at the floor
  (noise="deterministic"): the interpolating fit's MAP objective minus the model's (both standardize y the same way, so
  the objectives compare). 0 without a second fit when the model's noise is within NEGLIGIBLE_NOISE times the floor. The
  second fit is cold, from `seed`, and not kept. `margin`: for a caller that asks only whether the evidence exceeds it:
  the second fit stops as soon as its objective is within `margin` of the model's (it only falls from there, so the
  evidence can only shrink), and the value returned is then at most `margin`, not the whole ratio."""
  if negligible_noise(model): return 0.0
  interp = GPRegressor(model.kernel, model.device, model.dtype, model.lengthscale_prior)
  enough = None if margin is None else lambda objective: objective - model.objective <= margin
  interp.fit(model.X, np.asarray(y, dtype=np.float64), categorical=model.categorical, seed=seed, noise="deterministic", enough=enough)
  return max(float(interp.objective - model.objective), 0.0)
