"""What the GP believes on Ackley, step by step: per guided suggestion of one run, the fitted hyperparameters (lengthscales
in the unit cube, outputscale and noise variance in standardized units, whether the log warp fired), where the incumbent
and the suggestion lie (RMS distance to the optimum at the centre, in x units: a cosine period is 1 there, 1/65.5 of the
unit cube), the two parts of Ackley's value at the suggestion (the smooth bowl 20 (1 − e^(−0.2 r)) and the cosine ripple
e − e^(mean cos 2πx), which is 0 on the integer lattice and at most e − 1/e), and what the model says at the centre and
at the incumbent (posterior mean and sd, standardized).

  PYTHONPATH=$PWD DEV=CPU python -m benchmarks.ackley_diagnosis --seeds 0,4,9 --strategy gp --out benchmarks/results/x.json
  PYTHONPATH=$PWD python -m benchmarks.ackley_diagnosis --placement benchmarks/results/x.json   # where each run ends
"""
from __future__ import annotations

import argparse
import json
import math
from typing import Any

import numpy as np

from benchmarks.functions import _vec, get_problem
from benchmarks.peers import tinybo_strategy


def ackley_parts(x: np.ndarray) -> tuple[float, float, float]:
  """(r, bowl, ripple): the RMS distance to the centre and the two terms of Ackley's value minus its minimum, bowl + ripple."""
  r = float(math.sqrt((x ** 2).mean()))
  return r, 20 * (1 - math.exp(-0.2 * r)), math.e - math.exp(float(np.cos(2 * math.pi * x).mean()))

def one_run(problem_name: str, strategy: str, seed: int) -> dict[str, Any]:
  import tinybo as tb
  prob = get_problem(problem_name)
  d = len(prob.space.names)
  opt = tb.Optimizer(prob.space, strategy=tinybo_strategy(strategy), seed=seed)
  centre = prob.space.encode(prob.minimizers[0])
  steps, best = [], math.inf
  best_x = None
  for t in range(prob.budget):
    trial = opt.suggest()
    x = _vec(trial.params, d)
    m = opt.strategy._model if t >= opt.strategy.initial_size(prob.space) else None
    row: dict[str, Any] = {"t": t, "guided": m is not None}
    if best_x is not None: row["x_best"] = [float(v) for v in _vec(best_x, d)]   # the incumbent before this evaluation
    if m is not None and best_x is not None:
      hp = m.hyperparameters
      (mu, var) = m._posterior_np(np.stack([centre, prob.space.encode(best_x)]))
      row.update(kernel=m.kernel, lengthscales=[float(v) for v in hp["lengthscales"]], outputscale=float(hp["outputscale"]), noise=float(hp["noise"]),
                 y_scale=float(m.y_scale), mean_centre=float(mu[0]), sd_centre=float(math.sqrt(max(var[0], 0))),
                 mean_incumbent=float(mu[1]), sd_incumbent=float(math.sqrt(max(var[1], 0))), y_best_std=float(np.max(m.y_train)))
      if (local := getattr(opt.strategy, "_local_model", None)) is not None: row["local_kernel"] = local.kernel   # GP(trust_region=True)
    value = float(prob.fn(trial.params))
    opt.observe(trial, value)
    r, bowl, ripple = ackley_parts(x)
    row.update(value=value, r=r, bowl=bowl, ripple=ripple, x=[float(v) for v in x])
    if value < best: best, best_x = value, dict(trial.params)
    rb, bb, rib = ackley_parts(_vec(best_x, d))
    row.update(best=best, r_best=rb, bowl_best=bb, ripple_best=rib)
    steps.append(row)
  # the last model along the line from the incumbent (s = 1) through the centre (s = 0) and beyond, in y units
  m = opt.strategy._model
  s_line = np.linspace(-1.5, 1.5, 13)
  on_line = [{k: float(np.clip(v * s, -32.768, 32.768)) for k, v in best_x.items()} for s in s_line]
  mu, var = m.predict(np.stack([prob.space.encode(p) for p in on_line]))
  sign = -1.0  # the strategy maximizes -f: back to f
  profile = [{"s": float(s), "mean_f": sign * float(a), "sd_f": float(math.sqrt(max(v, 0))),
              "true_f": float(prob.fn(p))} for s, p, a, v in zip(s_line, on_line, mu, var)]
  return {"problem": problem_name, "strategy": strategy, "seed": seed, "steps": steps, "regret": best - prob.optimum, "profile": profile}

def summary(run: dict[str, Any], every: int = 10) -> str:
  lines = [f"{run['problem']} {run['strategy']} seed {run['seed']}: final regret {run['regret']:.3g}",
           "  t | best (r, bowl, ripple) | suggestion r, value | median ls, min ls (x units) | noise | mean/sd centre | mean/sd incumbent"]
  for s in run["steps"]:
    if "lengthscales" not in s or (s["t"] % every and s["t"] != len(run["steps"]) - 1): continue
    ls = np.array(s["lengthscales"]) * 65.536
    lines.append(f"  {s['t']:2d} | {s['best']:.2f} ({s['r_best']:.2f}, {s['bowl_best']:.2f}, {s['ripple_best']:.2f}) | "
                 f"{s['r']:.2f}, {s['value']:.2f} | "
                 f"{np.median(ls):.2f}, {ls.min():.2f} | {s['noise']:.2e} | {s['mean_centre']:+.2f}/{s['sd_centre']:.2f} | "
                 f"{s['mean_incumbent']:+.2f}/{s['sd_incumbent']:.2f}")
  lines.append("  the last model on the line s * incumbent (s = 1: the incumbent, 0: the optimum): s, mean f, sd f, true f")
  lines += [f"    {p['s']:+.2f} {p['mean_f']:6.2f} {p['sd_f']:5.2f} {p['true_f']:6.2f}" for p in run.get("profile", [])]
  steps = run["steps"]
  for key in ("kernel", "local_kernel"):
    switches = [(s["t"], s[key]) for i, s in enumerate(steps) if key in s and (i == 0 or steps[i - 1].get(key) != s[key])]
    if switches: lines.append(f"  {key} from step t on: {switches}")
  return "\n".join(lines)

def placement(run: dict[str, Any]) -> str:
  """One line per run: where the final incumbent sits (its coordinates, its cell of the integer lattice of Ackley's local
  minima, r, bowl and ripple), when the incumbent first came within r < 2 of the centre, and how the guided evaluations
  after that split: within 1.5 x units (max-norm) of the incumbent of their time, farther, or on the plateau's rim (f > 21);
  then the median max-norm distance to the incumbent, the last fit's median lengthscale (x units) and noise sd (f units)."""
  st = run["steps"]
  b = min(range(len(st)), key=lambda i: st[i]["value"])
  xb = np.array(st[b]["x"])
  t2 = next((s["t"] for s in st if s["r_best"] < 2), len(st))
  near = far = rim = 0
  dist = []
  for s in st:
    if not s["guided"] or s["t"] <= t2 or "x_best" not in s: continue
    dist.append(float(np.abs(np.array(s["x"]) - np.array(s["x_best"])).max()))
    if s["value"] > 21: rim += 1
    elif dist[-1] < 1.5: near += 1
    else: far += 1
  fits = [s for s in st if "lengthscales" in s]
  ls, noise_sd = float(np.median(fits[-1]["lengthscales"])) * 65.536, math.sqrt(fits[-1]["noise"]) * fits[-1]["y_scale"]
  return (f"seed {run['seed']:2d} regret {run['regret']:.2f} | x {np.round(xb, 2).tolist()} cell {np.rint(xb).astype(int).tolist()} | "
          f"r {st[b]['r']:.2f} bowl {st[b]['bowl']:.2f} ripple {st[b]['ripple']:.2f} | r<2 from t={t2} | after: near {near}, "
          f"farther {far}, rim {rim}, median distance {np.median(dist) if dist else float('nan'):.2f} | ls {ls:.1f} noise sd {noise_sd:.2f}")

def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--problem", default="ackley5")
  ap.add_argument("--strategy", default="gp")
  ap.add_argument("--seeds", default="0,4,9")
  ap.add_argument("--out", default=None)
  ap.add_argument("--placement", default=None, help="a file written by --out: print each run's `placement` line, run nothing")
  args = ap.parse_args()
  if args.placement:
    with open(args.placement) as f:
      for run in json.load(f): print(placement(run))
    return
  runs = []
  for s in map(int, args.seeds.split(",")):
    runs.append(one_run(args.problem, args.strategy, s))
    print(summary(runs[-1]), flush=True)
  if args.out:
    with open(args.out, "w") as f: json.dump(runs, f)

if __name__ == "__main__":
  main()
