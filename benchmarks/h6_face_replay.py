"""One Hartmann6 run of the default GP strategy, replayed with every guided point printed: its value, its max-norm distance
(unit cube) to the best point before it, how many of its coordinates lie on a face of the cube, and the strategy's last
noise test (the n it ran at and its evidence in nats, `GP._noise_test`). Shows where a run spends its evaluations on a
face (benchmarks/README.md, issue 11, session 18: seed 4 on x6 = 1).

  PYTHONPATH=$PWD DEV=CPU python -m benchmarks.h6_face_replay --seed 4
"""
from __future__ import annotations

import argparse

import numpy as np

from benchmarks.functions import get_problem
from tinybo.bo import GP
from tinybo.trial import Trial, TrialState


def replay(seed: int) -> None:
  problem = get_problem("hartmann6")
  gp, trials = GP(seed=seed), []
  for i in range(problem.budget):
    params = gp.suggest(problem.space, trials, 1, seed=seed)[0]
    x = np.asarray(problem.space.encode(params))
    if trials:
      best = np.asarray(problem.space.encode(min(trials, key=lambda t: t.value).params))
      dist, face = float(np.abs(x - best).max()), int((np.minimum(x, 1 - x) < 1e-3).sum())
    value = problem(params)
    trials.append(Trial(i, params, TrialState.COMPLETE, value))
    if i >= gp.initial_size(problem.space):
      _, n_tested, evidence = gp._noise_test
      print(f"{i:2d} value {value:6.2f}  distance to best {dist:.3f}  coordinates on a face {face}  "
            f"noise test at n = {n_tested}: {evidence:.2f} nats  x {np.round(x, 2)}")
  print(f"regret {min(t.value for t in trials) - problem.optimum:.3g}")

if __name__ == "__main__":
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--seed", type=int, default=4)
  replay(ap.parse_args().seed)
