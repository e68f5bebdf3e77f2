"""benchmarks.prior_evidence: the closed-form leave-one-out density equals refitting-free deletion one point at a time."""
import math

import numpy as np

from benchmarks.prior_evidence import loo_log_density, np_kernel
from tinybo.gp import GPRegressor


def test_loo_density_equals_the_posterior_of_each_point_left_out():
  rng = np.random.default_rng(0)
  X = rng.random((14, 3))
  model = GPRegressor("matern52").fit(X, np.sin(5 * X[:, 0]) + X[:, 1] ** 2 + 0.05 * rng.normal(size=14), seed=0)
  h, y = model.hyperparameters, model.y_train
  K = np_kernel("matern52", X, X, np.asarray(h["lengthscales"]), h["outputscale"])
  dens = []
  for i in range(len(y)):   # the GP posterior at x_i from the other points, with the same hyperparameters
    o = np.arange(len(y)) != i
    A = K[np.ix_(o, o)] + h["noise"] * np.eye(len(y) - 1)
    mu = K[i, o] @ np.linalg.solve(A, y[o])
    var = K[i, i] + h["noise"] - K[i, o] @ np.linalg.solve(A, K[o, i])
    dens.append(-0.5 * math.log(2 * math.pi * var) - 0.5 * (y[i] - mu) ** 2 / var)
  assert abs(loo_log_density(model) - np.mean(dens)) < 1e-8
  # and the numpy kernel is tinybo's: the model's own posterior mean at a training point from all the data
  mean = K[0] @ np.linalg.solve(K + h["noise"] * np.eye(len(y)), y)
  assert abs(model.predict(X[:1])[0][0] - model.to_y_units(np.array([mean]), np.array([0.0]))[0][0]) < 1e-6
