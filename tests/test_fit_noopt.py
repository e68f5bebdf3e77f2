"""benchmarks/fit_noopt.py: one measurement's record, its NLL against numpy's at the same hyperparameters."""
import json
import math

import numpy as np

import tinybo.gp as gpm
from benchmarks.fit_noopt import main


def numpy_nll(N: int, d: int) -> float:
  """The benchmark's data and hyperparameters (ℓ = ½√d, σ_f² = 1, σ_n² = 1e-2 plus the 1e-9 jitter), Matérn-5/2."""
  rng = np.random.default_rng(0)
  X, y = rng.random((N, d)), rng.standard_normal(N)
  y = (y - y.mean()) / y.std()
  r = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1)) / (0.5 * math.sqrt(d)) * math.sqrt(5)
  K = (1 + r + r ** 2 / 3) * np.exp(-r) + (1e-2 + 1e-9) * np.eye(N)
  L = np.linalg.cholesky(K)
  return 0.5 * y @ np.linalg.solve(K, y) + np.log(np.diag(L)).sum() + 0.5 * N * math.log(2 * math.pi)

def test_one_measurement_prints_its_record_with_the_numpy_nll(monkeypatch, capsys):
  monkeypatch.setattr(gpm, "NOOPT_MAX_N", gpm.NOOPT_MAX_N)   # the measurement sets it; the test puts it back
  main(["--one", "8,1,1", "--d", "3", "--reps", "2"])
  row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
  assert row["N"] == 8 and row["D"] == 4 and row["b"] == 1 and row["noopt"] is True
  assert row["capture_s"] > 0 and row["replay_ms"] > 0
  assert abs(row["nll"] - numpy_nll(8, 3)) < 1e-9 * abs(numpy_nll(8, 3))
