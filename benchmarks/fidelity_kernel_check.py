"""Does a learning-curve kernel with the curve's structure read a stopped trial's final value more precisely?

The curves of benchmarks/multifidelity.py are value(x, t) = final(x) + gap(lr, t): an asymptote plus a decaying term, the
form of most parametric learning-curve models. tinybo's (configuration, step) model puts the configuration columns and
the fidelity z (0 at the target step, fidelity.py) in ONE product ARD Matérn kernel. The alternative here is the
additive form of BoTorch's LinearTruncatedFidelityKernel and of freeze-thaw (Swersky et al. 2014):
    k((x, z), (x', z')) = k_f(x, x') + φ(z) φ(z') k_g((x, z), (x', z')),   φ(z) = z^p, φ(0) = 0,
so the value at the target step is the k_f process alone and the gap vanishes there; k_f has ARD lengthscales on the
configuration columns, k_g on all columns, two output scales, one noise.

Both models are fitted here in numpy/scipy (MAP, L-BFGS-B with restarts, the priors of gp.log_prior: "unit" lengthscales,
log σ² ~ N(0, 1.5) for each output scale, the Gamma noise prior) on the data tinybo's model sees at the end of gp-asha
runs: the same targets (sign flip, the warp where suggest warps), minus the same average curve (fidelity.trend).
Compared: for the stopped trials near the optimum (true regret < 0.01) the error of the predicted final regret and its
sd, the Spearman correlation of predicted vs true finals over all stopped trials, and a held-out check (the tails of
some complete curves hidden: their finals predicted from the rest).

    export DEV=CPU PYTHONPATH=$PWD OMP_NUM_THREADS=1
    nice -n 10 python -m benchmarks.fidelity_kernel_check collect --problem curves_branin --seeds 0-9 --stop-fraction 0.34 \
        --out benchmarks/results/s9_fid_runs_branin.json
    nice -n 10 python -m benchmarks.fidelity_kernel_check compare benchmarks/results/s9_fid_runs_branin.json [--steps 276] \
        --models "product,additive z,product floor 1e-10,additive z floor 1e-10" --out benchmarks/results/s9_fid_compare_branin_552.json
    python -m benchmarks.fidelity_kernel_check table benchmarks/results/s9_fid_compare_branin_552.json
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.multifidelity import PROBLEMS, CurveProblem, run_tinybo, seeds_of

# ***** collect: rerun gp-asha (deterministic) and keep the optimizer's trials *****

def collect_run(problem: CurveProblem, seed: int, budget: int) -> dict:
  """One gp-asha run as benchmarks.multifidelity runs it, plus every trial's params, state and last step."""
  import tinybo as tb
  made: list = []

  class Keeping(tb.Optimizer):   # run_tinybo builds its Optimizer by name: keep a handle on it
    def __init__(self, *a: Any, **k: Any):
      super().__init__(*a, **k)
      made.append(self)

  real = tb.Optimizer
  tb.Optimizer = Keeping
  try: out = run_tinybo(problem, "gp-asha", seed, budget)
  finally: tb.Optimizer = real
  opt = made[0]
  out["trial_list"] = [{"params": t.params, "state": str(t.state), "last_step": t.last_step, "value": t.value} for t in opt.trials]
  return out

# ***** the data a model sees, rebuilt from a run's trials (the curves are deterministic) *****

def study_data(problem: CurveProblem, trial_list: list[dict]) -> dict:
  """curve_data of the trials, the targets suggest fits (detrended), the map back to regret units, and per trial its
  encoded configuration, state, last step and true final regret."""
  import tinybo as tb
  from tinybo.fidelity import curve_data, trend
  from tinybo.transforms import unwarp_values, warp_scale
  from tinybo.trial import Report, Trial, TrialState
  space, gp = problem.space(), tb.GP()
  trials, reports = [], {}
  for i, t in enumerate(trial_list):
    trials.append(Trial(i, t["params"], TrialState(t["state"]), t["value"], last_step=t["last_step"]))
    reports[i] = [Report(s, problem.value(t["params"], s), False, 0.0) for s in range(1, (t["last_step"] or 0) + 1)]
  cd = curve_data(space, trials, reports)
  yy = gp._targets(space, cd.y, cd.last, True)
  if np.allclose(yy, -cd.y): back = lambda w: w   # noqa: E731
  else:
    ymax, sc = float(np.max(-cd.y)), warp_scale(-cd.y, gp.initial_size(space))
    back = lambda w: unwarp_values(w, ymax, sc)   # noqa: E731
    assert np.allclose(back(yy), -cd.y), "a warp this check cannot invert"
  tr = trend(cd.X[:, -1], yy)
  z = cd.X[:, -1]
  coef = np.polyfit(z, yy, min(2, len(np.unique(z)) - 1))
  assert np.allclose(np.polyval(coef, z), tr)
  return {"X": cd.X, "y": yy - tr, "ids": cd.ids, "offset0": float(np.polyval(coef, 0.0)), "back": back,
          "configs": space.encode_many([t["params"] for t in trial_list]), "state": [t["state"] for t in trial_list],
          "last_step": [t["last_step"] for t in trial_list], "regret": np.array([problem.regret(t["params"]) for t in trial_list])}

# ***** the two models in numpy: kernels, MAP objective, posterior at the target step *****

SQRT5 = math.sqrt(5.0)

def matern52(A: np.ndarray, B: np.ndarray, ls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """k/σ² [n, m] and the per-column scaled squared differences D[c, n, m] (for the gradient)."""
  D = ((A[:, None, :] - B[None, :, :]) / ls) ** 2
  r = np.sqrt(D.sum(-1))
  return (1 + SQRT5 * r + 5 / 3 * r ** 2) * np.exp(-SQRT5 * r), np.moveaxis(D, -1, 0)

def dmatern52_du(A: np.ndarray, B: np.ndarray, ls: np.ndarray) -> np.ndarray:
  """dk/du (u = r²) for σ² = 1: −(5/6)(1 + √5 r) e^(−√5 r)."""
  r = np.sqrt((((A[:, None, :] - B[None, :, :]) / ls) ** 2).sum(-1))
  return -5 / 6 * (1 + SQRT5 * r) * np.exp(-SQRT5 * r)

def unit_prior(logls: np.ndarray) -> tuple[float, np.ndarray]:
  e2 = np.exp(2 * logls)
  return float(np.sum(-0.1 * (e2 + 1 / e2))), -0.2 * (e2 - 1 / e2)

class Model:
  """MAP GP on (X[n, d+1], y[n]); kind "product" (tinybo's: one Matérn 5/2 on all columns) or "additive" (k_f on the
  configuration columns + φ(z)φ(z') k_g on all, φ(z) = z^p, p fixed). θ: product [log ℓ (d+1), log σ², log σ_n²];
  additive [log ℓ_f (d), log ℓ_g (d+1), log σ_f², log σ_g², log σ_n²]."""
  def __init__(self, kind: str, power: float = 1.0, noise_floor: float = 1e-6):
    self.kind, self.power, self.noise_floor = kind, power, noise_floor
    self.theta: np.ndarray | None = None

  def n_params(self, d: int) -> int: return d + 3 if self.kind == "product" else 2 * d + 4

  def parts(self, theta: np.ndarray, A: np.ndarray, B: np.ndarray) -> list[tuple[np.ndarray, list[tuple[int, np.ndarray]], int]]:
    """The kernel's summands: (K part [n, m] with its output scale, [(θ index, dK/dθ)], output-scale index)."""
    d = A.shape[1] - 1
    if self.kind == "product":
      ls, sf = np.exp(theta[:d + 1]), math.exp(theta[d + 1])
      k, D = matern52(A, B, ls)
      dk = dmatern52_du(A, B, ls) * sf
      return [(sf * k, [(c, -2 * dk * D[c]) for c in range(d + 1)], d + 1)]
    lf, lg, sf, sg = np.exp(theta[:d]), np.exp(theta[d:2 * d + 1]), math.exp(theta[2 * d + 1]), math.exp(theta[2 * d + 2])
    kf, Df = matern52(A[:, :d], B[:, :d], lf)
    dkf = dmatern52_du(A[:, :d], B[:, :d], lf) * sf
    kg, Dg = matern52(A, B, lg)
    w = np.outer(A[:, -1] ** self.power, B[:, -1] ** self.power)
    dkg = dmatern52_du(A, B, lg) * sg * w
    return [(sf * kf, [(c, -2 * dkf * Df[c]) for c in range(d)], 2 * d + 1),
            (sg * kg * w, [(d + c, -2 * dkg * Dg[c]) for c in range(d + 1)], 2 * d + 2)]

  def objective(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """−log marginal likelihood − log prior, and its gradient (the trace identity)."""
    n, P = len(y), len(theta)
    parts = self.parts(theta, X, X)
    sn = math.exp(theta[-1])
    K = sum(p[0] for p in parts) + (sn + 1e-9) * np.eye(n)
    try: L = np.linalg.cholesky(K)
    except np.linalg.LinAlgError: return 1e25, np.zeros(P)
    Linv = np.linalg.inv(L)
    Kinv = Linv.T @ Linv
    alpha = Kinv @ y
    nll = 0.5 * y @ alpha + np.log(np.diag(L)).sum() + 0.5 * n * math.log(2 * math.pi)
    W = Kinv - np.outer(alpha, alpha)
    g = np.zeros(P)
    for Kp, dls, si in parts:
      for c, dK in dls: g[c] = 0.5 * np.sum(W * dK)
      g[si] = 0.5 * np.sum(W * Kp)
    g[-1] = 0.5 * np.trace(W) * sn
    # the priors of gp.log_prior ("unit"): each lengthscale, each output scale N(0, 1.5) in log σ², Gamma noise
    ls_idx = [c for p in parts for c, _ in p[1]]
    lp, glp = unit_prior(theta[ls_idx])
    sidx = [p[2] for p in parts]
    lp += float(np.sum(-0.5 * (theta[sidx] / 1.5) ** 2)) + 0.1 * theta[-1] - 30 * sn
    gp_ = np.zeros(P); gp_[ls_idx] = glp; gp_[sidx] = -theta[sidx] / 1.5 ** 2; gp_[-1] = 0.1 - 30 * sn
    return float(nll - lp), g - gp_

  def fit(self, X: np.ndarray, y: np.ndarray, seed: int = 0, restarts: int = 4) -> Model:
    """MAP fit on y standardized as GPRegressor standardizes it (transforms.YTransform)."""
    from scipy.optimize import minimize

    from tinybo.transforms import YTransform
    self.transform, y = YTransform.fit(y)
    d = X.shape[1] - 1
    P = self.n_params(d)
    n_ls = P - (2 if self.kind == "product" else 3)
    lo = np.array([math.log(1e-3)] * n_ls + [math.log(1e-3)] * (P - n_ls - 1) + [math.log(self.noise_floor)])
    hi = np.array([math.log(1e3)] * n_ls + [math.log(1e3)] * (P - n_ls - 1) + [math.log(10.0)])
    rng = np.random.default_rng(seed)
    best = (math.inf, None)
    for r in range(restarts):
      t0 = np.concatenate([np.full(n_ls, math.log(0.5 * math.sqrt(d + 1))), np.zeros(P - n_ls - 1), [math.log(1e-2)]])
      if r: t0[:n_ls] += rng.normal(0, 0.75, n_ls); t0[-1] = rng.uniform(math.log(self.noise_floor), math.log(0.1))
      res = minimize(self.objective, np.clip(t0, lo, hi), args=(X, y), jac=True, method="L-BFGS-B", bounds=list(zip(lo, hi)),
                     options={"maxiter": 300})
      if res.fun < best[0]: best = (float(res.fun), res.x)
    self.value, self.theta, self.X = best[0], best[1], X
    K = sum(p[0] for p in self.parts(self.theta, X, X)) + (math.exp(self.theta[-1]) + 1e-9) * np.eye(len(y))
    self.L = np.linalg.cholesky(K)
    self.alpha = np.linalg.solve(self.L.T, np.linalg.solve(self.L, y))
    return self

  def predict(self, Xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and latent variance at Xq[m, d+1], in the units of y."""
    Kq = sum(p[0] for p in self.parts(self.theta, Xq, self.X))
    kqq = sum(np.diag(p[0]) for p in self.parts(self.theta, Xq, Xq))
    v = np.linalg.solve(self.L, Kq.T)
    return self.transform.to_y_units(Kq @ self.alpha, np.maximum(kqq - (v ** 2).sum(0), 0.0))

class TinyboProduct:
  """tinybo's own model (gp.GPRegressor, Matérn 5/2 on all columns): the check that the numpy "product" model is it."""
  def fit(self, X: np.ndarray, y: np.ndarray, seed: int = 0) -> TinyboProduct:
    from tinybo.gp import GPRegressor
    self.gp = GPRegressor("matern52").fit(X, y, seed=seed)
    self.value, self.theta = self.gp.objective, self.gp.phi
    return self

  def predict(self, Xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]: return self.gp.predict(Xq)

# ***** compare *****

def spearman(a: np.ndarray, b: np.ndarray) -> float:
  from scipy.stats import spearmanr
  return float(spearmanr(a, b).statistic) if len(a) > 2 else math.nan

def predict_regret(model: Model, data: dict, configs: np.ndarray, optimum: float) -> tuple[np.ndarray, np.ndarray]:
  """Predicted final regret of configurations and half the width of the ±1 sd interval, in the problem's units."""
  Xq = np.concatenate([configs, np.zeros((len(configs), 1))], axis=1)
  mean, var = model.predict(Xq)
  mean, sd = mean + data["offset0"], np.sqrt(var)
  back = data["back"]
  lo, mid, hi = -back(mean + sd), -back(mean), -back(mean - sd)
  return mid - optimum, (hi - lo) / 2

# the noise floor (standardized variance): tinybo's curve model uses gp.NOISE_FLOOR (1e-6); 1e-10 is gp.LOWEST_NOISE in float64
MODELS = {"tinybo product": TinyboProduct, "product": lambda: Model("product"), "additive z": lambda: Model("additive", 1.0),
          "additive z^2": lambda: Model("additive", 2.0), "product floor 1e-10": lambda: Model("product", noise_floor=1e-10),
          "additive z floor 1e-10": lambda: Model("additive", 1.0, noise_floor=1e-10)}

def compare_run(problem: CurveProblem, run: dict, seed: int, steps: float = math.inf, holdout: int = 3, models: tuple = tuple(MODELS)) -> dict:
  """The models on the trials the run finished within `steps`."""
  k = sum(1 for s, _ in run["trace"] if s <= steps)
  data = study_data(problem, run["trial_list"][:k])
  st = np.array(data["state"])
  stopped, complete = st == "stopped", st == "complete"
  near = stopped & (data["regret"] < 0.01)
  out: dict = {"seed": run["seed"], "n_rows": len(data["y"]), "n_stopped": int(stopped.sum()), "n_near": int(near.sum()), "models": {}}
  # held out: the `holdout` complete trials with the lowest true regret (the precision near the optimum is the question),
  # their curves cut at step 9 (ASHA's last rung), fitted on the rest, the finals predicted
  comp_idx = np.flatnonzero(complete)
  hold = comp_idx[np.argsort(data["regret"][comp_idx])[:holdout]]
  rows_keep = ~(np.isin(data["ids"], hold) & (data["X"][:, -1] < 1 - math.log1p(9) / math.log1p(problem.max_step) - 1e-12))
  for name in models:
    make = MODELS[name]
    m = make().fit(data["X"], data["y"], seed=seed)
    pr, sd = predict_regret(m, data, data["configs"], problem.optimum)
    true = data["regret"]
    res = {"objective": m.value, "theta": m.theta.tolist(),
           "near_abs_err": np.abs(pr[near] - true[near]).tolist(), "near_sd": sd[near].tolist(),
           "stopped_spearman": spearman(pr[stopped], true[stopped]), "complete_sd": sd[complete].tolist(),
           "complete_abs_err": np.abs(pr[complete] - true[complete]).tolist()}
    # the held-out refit needs the targets of the reduced data: rebuild them on the kept rows
    Xh, yh = data["X"][rows_keep], data["y"][rows_keep]
    mh = make().fit(Xh, yh, seed=seed)
    ph, sh = predict_regret(mh, data, data["configs"][hold], problem.optimum)
    res["holdout_abs_err"] = np.abs(ph - true[hold]).tolist(); res["holdout_sd"] = sh.tolist(); res["holdout_true"] = true[hold].tolist()
    out["models"][name] = res
  return out

def report(results: list[dict]) -> str:
  """Pooled medians over every trial of every run, and the median over runs of each run's median error (a few runs that
  stopped many trials near the optimum dominate the pooled one)."""
  lines = ["| model | stopped near optimum: median abs err / median sd (n) | median over runs of the run's median abs err | "
           "Spearman pred vs true, stopped (median over runs) | complete: median abs err / sd | held-out best-3 cut at step 9: median abs err / sd |",
           "|---|---|---|---|---|---|"]
  for name in results[0]["models"]:
    rs = [r["models"][name] for r in results]
    ne, ns = sum((r["near_abs_err"] for r in rs), []), sum((r["near_sd"] for r in rs), [])
    ce, cs = sum((r["complete_abs_err"] for r in rs), []), sum((r["complete_sd"] for r in rs), [])
    he, hs = sum((r["holdout_abs_err"] for r in rs), []), sum((r["holdout_sd"] for r in rs), [])
    sp = [r["stopped_spearman"] for r in rs if np.isfinite(r["stopped_spearman"])]
    per_run = [np.median(r["near_abs_err"]) for r in rs if r["near_abs_err"]]
    lines.append(f"| {name} | {np.median(ne) if ne else math.nan:.2g} / {np.median(ns) if ns else math.nan:.2g} ({len(ne)}) | "
                 f"{np.median(per_run) if per_run else math.nan:.2g} ({len(per_run)} runs) | "
                 f"{np.median(sp):.3f} | {np.median(ce):.2g} / {np.median(cs):.2g} | {np.median(he):.2g} / {np.median(hs):.2g} |")
  return "\n".join(lines)

def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  sub = ap.add_subparsers(dest="cmd", required=True)
  c = sub.add_parser("collect")
  c.add_argument("--problem", default="curves_branin"); c.add_argument("--seeds", default="0-9")
  c.add_argument("--stop-fraction", type=float, default=0.34); c.add_argument("--out", required=True)
  t = sub.add_parser("table", help="the table of a compare JSON")
  t.add_argument("compared")
  m = sub.add_parser("compare")
  m.add_argument("runs"); m.add_argument("--out", required=True)
  m.add_argument("--steps", type=float, default=math.inf, help="the trials finished within this many steps (default: all)")
  m.add_argument("--seeds", default=None)
  m.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {list(MODELS)}")
  a = ap.parse_args()
  if a.cmd == "collect":
    data = json.loads(Path(a.out).read_text()) if Path(a.out).exists() else {"problem": a.problem, "stop_fraction": a.stop_fraction, "runs": []}
    problem = PROBLEMS[a.problem]
    budget = int(math.ceil(a.stop_fraction * problem.full_trials * problem.max_step))
    for seed in seeds_of(a.seeds):
      if any(r["seed"] == seed for r in data["runs"]): continue
      run = collect_run(problem, seed, budget)
      data["runs"].append({"seed": seed, **run})
      print(f"{a.problem} seed {seed}: {run['n_trials']} trials, regret {run['trace'][-1][1]:.3g}, {run['seconds']:.0f} s", flush=True)
      Path(a.out).write_text(json.dumps(data))
    return
  if a.cmd == "table":
    print(report(json.loads(Path(a.compared).read_text())["results"]))
    return
  data = json.loads(Path(a.runs).read_text())
  problem = PROBLEMS[data["problem"]]
  results = []
  keep = set(seeds_of(a.seeds)) if a.seeds else None
  for run in data["runs"]:
    if keep is not None and run["seed"] not in keep: continue
    results.append(compare_run(problem, run, run["seed"], a.steps, models=tuple(a.models.split(","))))
    r = results[-1]
    print(f"seed {r['seed']}: rows {r['n_rows']}, stopped {r['n_stopped']}, near {r['n_near']}: " + ", ".join(
      f"{k} err {np.median(v['near_abs_err']) if v['near_abs_err'] else math.nan:.2g} rho {v['stopped_spearman']:.2f}"
      for k, v in r["models"].items()), flush=True)
    Path(a.out).write_text(json.dumps({"problem": data["problem"], "steps": a.steps, "results": results}))
  print(report(results))

if __name__ == "__main__":
  main()
