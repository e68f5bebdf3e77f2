"""How good the raw values' fits of a noisy warped study are (session 38): at every fit of the raw values' own warm-start
chain (`GP._raw_model`) in a run, that fit's MAP objective beside two fits of the same data: warm-started from the
warped values' fit of the same suggestion (how the raw values were fitted before session 38) and cold (4 restarts).
Lower is better; the gaps say whether a chain of raw fits finds worse optima than restarting from the warped fit.

  DEV=CPU OMP_NUM_THREADS=1 taskset -c 0 python -m benchmarks.raw_chain_gap --problem ackley10 --seeds 0,1,2 \\
      --out benchmarks/results/s38_raw/objgap_ackley10.json

Output: per seed, rows (n, chain objective, warm-from-warped objective, cold objective), and a printed summary.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--problem", default="branin_noisy")
  ap.add_argument("--seeds", default="0,1,2")
  ap.add_argument("--out", type=Path, default=None)
  args = ap.parse_args(argv)
  import tinybo.bo as bo
  from benchmarks.functions import get_problem
  from benchmarks.peers import TinyboAdapter
  from tinybo.gp import GPRegressor
  prob, rows = get_problem(args.problem), []
  inner = bo.GP._fit

  def spy(self, space, X, y, seed, cats, keep=True, floor_scale=1.0, curves=False, warm=True, raw=False):   # a benchmark reads the kept fits
    m = inner(self, space, X, y, seed, cats, keep=keep, floor_scale=floor_scale, curves=curves, warm=warm, raw=raw)
    if raw and keep:
      old = GPRegressor(m.kernel, lengthscale_prior=m.lengthscale_prior).fit(X, y, categorical=cats, seed=bo.seed32(seed),
                                                                            warm_start=self._model, noise=self.noise)
      cold = GPRegressor(m.kernel, lengthscale_prior=m.lengthscale_prior).fit(X, y, categorical=cats, seed=bo.seed32(seed),
                                                                             restarts=4, noise=self.noise)
      rows.append((len(y), m.objective, old.objective, cold.objective))
    return m
  out = {}
  for s in (int(v) for v in args.seeds.split(",")):
    rows.clear()
    a = TinyboAdapter(prob, s, "gp")
    bo.GP._fit = spy
    try:
      for i in range(prob.budget):
        p = a.ask()
        a.tell(p, prob.observe(p, s, i))
    finally: bo.GP._fit = inner   # the process's strategies as they were
    r = np.array(rows).reshape(-1, 4)
    out[s] = r.tolist()
    if len(r):
      gap = r[:, 1] - r[:, 2]
      print(f"seed {s}: {len(r)} raw fits; chain - from warped: median {np.median(gap):.3g}, worse by > 0.5 nats {int(np.sum(gap > 0.5))}, "
            f"better by > 0.5 {int(np.sum(gap < -0.5))}; chain - cold median {np.median(r[:, 1] - r[:, 3]):.3g}, "
            f"from warped - cold median {np.median(r[:, 2] - r[:, 3]):.3g}", flush=True)
    else: print(f"seed {s}: no raw fits (the values were not warped and noisy)", flush=True)
  if args.out is not None: args.out.write_text(json.dumps(out))

if __name__ == "__main__":
  main()
