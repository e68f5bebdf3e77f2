"""benchmarks.run with a record of the GP strategy's noise test (acquisition="auto"/"edge"): every run's JSON record
gains `noisy_checks` (how many times suggest asked GP._noisy), `noisy_fired` (the number of observations, len(y), at each
ask that said noisy), so one can tell where "edge" or "auto" left UCB without comparing values to a "ucb" run, and
`evidence_fits` (how many calls of noise_evidence needed its second, cold fit: the fitted noise above NEGLIGIBLE_NOISE
times the floor; recommend's included), what the test costs. Same arguments as benchmarks.run; run it with --jobs 1
(the record is kept in this process).

  PYTHONPATH=$PWD DEV=CPU python -m benchmarks.noise_switch --problems ackley10 --strategies gp:acquisition=edge --seeds 20 --tag x
"""
from __future__ import annotations

from typing import Any

import numpy as np

import benchmarks.run as bench
import tinybo.bo as bo
from tinybo.bo import GP
from tinybo.gp import NOISE_FLOOR
from tinybo.noise import NEGLIGIBLE_NOISE


def main() -> None:
  calls: list[tuple[int, bool]] = []
  fits = [0]
  noisy, run_one, evidence = GP._noisy, bench.run_one, bo.noise_evidence

  def recorded_evidence(model: Any, y: np.ndarray, **kwargs: Any) -> float:
    fits[0] += model.hyperparameters["noise"] > NEGLIGIBLE_NOISE * NOISE_FLOOR.get(model.dtype, 1e-4)
    return evidence(model, y, **kwargs)

  def recorded_noisy(self: GP, space: Any, model: Any, y: np.ndarray, seed: int, keep: bool = True) -> bool:
    fired = noisy(self, space, model, y, seed, keep)
    if keep: calls.append((len(y), bool(fired)))   # suggest's asks (recommend's, keep=False, are not the study's path)
    return fired

  def recorded_run(*args: Any, **kwargs: Any) -> dict[str, Any]:
    calls.clear()
    fits[0] = 0
    rec = run_one(*args, **kwargs)
    rec.update(noisy_checks=len(calls), noisy_fired=[n for n, fired in calls if fired], evidence_fits=int(fits[0]))
    return rec

  GP._noisy, bench.run_one, bo.noise_evidence = recorded_noisy, recorded_run, recorded_evidence
  bench.main()

if __name__ == "__main__":
  main()
