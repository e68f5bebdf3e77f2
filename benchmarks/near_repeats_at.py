"""An older commit's `gp` on camel: final regret and the evaluations within 1e-3 (max-norm, unit cube) of an earlier one
(benchmarks/run.py's NEAR), which that commit's runner did not record. Run it inside a tree of that commit:

  git archive 4e4e3ef | tar -x -C /tmp/old && cp benchmarks/near_repeats_at.py /tmp/old && cd /tmp/old
  PYTHONPATH=$PWD DEV=CPU python near_repeats_at.py 0 9 out.json
"""
import json
import sys

import numpy as np

from benchmarks.functions import get_problem
from benchmarks.peers import make_adapter

problem = get_problem("camel")
out = {}
for seed in range(int(sys.argv[1]), int(sys.argv[2]) + 1):
  adapter = make_adapter("gp", problem, seed)
  values, xs = [], []
  for _ in range(problem.budget):
    x = adapter.ask(); v = problem(x); adapter.tell(x, v); values.append(v); xs.append(problem.space.encode(x))
  X = np.array(xs)
  min_dist = [None] + [float(np.abs(X[:i] - X[i]).max(1).min()) for i in range(1, len(X))]
  out[seed] = {"regret": float(min(values) - problem.optimum), "values": values, "min_dist": min_dist}
  print(seed, f"{min(values) - problem.optimum:.3g}", "near", sum(d is not None and d < 1e-3 for d in min_dist), flush=True)
with open(sys.argv[3], "w") as f: json.dump(out, f, indent=1)
