"""What the GP believes at the end of a Branin + noise run, and what the data say about the warp and the noise.

Per seed: one run of the strategy (the benchmark's noise draws), then the model of its 30 values as the strategy fits
them (warped where it warps): whether the warp fired, lengthscales (unit cube), outputscale and noise (standardized; the
noise sd also in y units), the posterior mean and sd (standardized, larger is better) at Branin's minimizer (9.42, 2.475),
at (9.7, 2.7), at the recommendation and at (π, 2.275), and where the guided points went (x0, x1, observed, true).
With --evidence, at n0 + 5, n0 + 15 and the budget: the log evidence of the warp (the unwarped GP's negative log
likelihood of the values minus the warped GP's, both in the units of the values: each GP's MAP objective minus the
log-Jacobian of its standardization, and for the warped one of the warp too; > 0 favours the warp) and the likelihood
ratio of the fitted noise against an interpolating fit (noise.noise_evidence, on the raw and on the warped values).

  PYTHONPATH=$PWD DEV=CPU python -m benchmarks.noisy_diagnosis --seeds 10,12,19 [--problem branin] [--evidence]
"""
from __future__ import annotations

import argparse
import math

import numpy as np

from benchmarks.functions import get_problem
from benchmarks.peers import tinybo_strategy


def standardization_log_jacobian(t: np.ndarray, tr) -> float:
  """Σ log du/dt of the GP's standardization u = (squash((t − center) / spread) − u_mean) / u_scale (transforms.YTransform)."""
  from tinybo.transforms import SQUASH
  a = np.abs((t - tr.center) / tr.spread)
  return float(np.sum(np.log(np.where(a > SQUASH, 1 / (1 + a - SQUASH), 1.0))) - len(t) * math.log(tr.spread * tr.u_scale))

def warp_log_evidence(X: np.ndarray, y: np.ndarray, n0: int, seed: int) -> float:
  """log p(y | warped GP) − log p(y | GP on y), y the values to maximize: the change of variables w = warp(y) adds
  Σ log dw/dy = −Σ log(2s + max y − y) to the warped GP's log likelihood."""
  from tinybo.gp import GPRegressor
  from tinybo.transforms import warp_scale, warp_values
  w, s = warp_values(y, n_scale=n0), warp_scale(y, n0)
  raw, warped = GPRegressor().fit(X, y, seed=seed), GPRegressor().fit(X, w, seed=seed)
  nll_raw = raw.objective - standardization_log_jacobian(y, raw.transform)
  nll_warped = warped.objective - standardization_log_jacobian(w, warped.transform) + float(np.log(2 * s + y.max() - y).sum())
  return nll_raw - nll_warped

def main(argv: list[str] | None = None) -> None:
  import tinybo as tb
  from tinybo.gp import GPRegressor
  from tinybo.noise import noise_evidence
  from tinybo.strategies import History
  from tinybo.transforms import heavy_bad_tail, warp_values
  ap = argparse.ArgumentParser()
  ap.add_argument("--problem", default="branin_noisy")
  ap.add_argument("--strategy", default="gp")
  ap.add_argument("--seeds", default="10,12,19")
  ap.add_argument("--evidence", action="store_true")
  a = ap.parse_args(argv)
  prob = get_problem(a.problem)
  for seed in map(int, a.seeds.split(",")):
    opt = tb.Optimizer(prob.space, strategy=tinybo_strategy(a.strategy), seed=seed)
    st, pts, evid = opt.strategy, [], []
    n0 = st.initial_size(prob.space)
    for i in range(prob.budget):
      t = opt.suggest()
      v = prob.observe(t.params, seed, i)
      opt.observe(t, v)
      pts.append((round(t.params["x0"], 3), round(t.params["x1"], 3), round(v, 2), round(prob(t.params), 2)))
      if a.evidence and i + 1 in (n0 + 5, n0 + 15, prob.budget):
        h = History.of(prob.space, opt.trials)
        y = -h.y
        lr = [noise_evidence(GPRegressor().fit(h.X, t_, seed=seed), t_, seed=seed) for t_ in (y, warp_values(y, n_scale=n0))]
        evid.append(f"n={i + 1}: warp evidence {warp_log_evidence(h.X, y, n0, seed):+.1f} nats, noise LR raw {lr[0]:.1f} warped {lr[1]:.1f}")
    h = History.of(prob.space, opt.trials)
    yy = st._targets(prob.space, h.y, h.y, True)
    m = st._fit(prob.space, h.X, yy, seed, prob.space.cat_groups, keep=False)
    hp, rec = m.hyperparameters, opt.recommend()
    print(f"seed {seed}: warp {heavy_bad_tail(-h.y[:n0])}, n0 {n0}, lengthscales {np.round(hp['lengthscales'], 3)}, outputscale "
          f"{hp['outputscale']:.3g}, noise {hp['noise']:.3g} (sd {math.sqrt(hp['noise']) * m.y_scale:.3g} in y units), y_scale {m.y_scale:.3g}, "
          f"best standardized value {m.y_train.max():.3f}")
    q = [{"x0": 3 * math.pi, "x1": 2.475}, {"x0": 9.7, "x1": 2.7}, dict(rec.params), {"x0": math.pi, "x1": 2.275}]
    mu, var = m._posterior_np(np.stack([prob.space.encode(p) for p in q]))
    for p, mean, v in zip(q, mu, var):
      print(f"  at ({p['x0']:.3f}, {p['x1']:.3f}) f = {prob(p):.3f}: posterior mean {mean:.3f}, sd {math.sqrt(max(v, 0)):.3f}")
    print("  design:", pts[:n0])
    print("  guided:", pts[n0:])
    for e in evid: print("  " + e)

if __name__ == "__main__":
  main()
