"""Ask/tell adapters so the runner drives tinybo and peer libraries through one interface. A peer is used only when its
package imports; none of them is a tinybo dependency.

Every adapter: `Adapter(problem, seed)`, `ask() -> params dict`, `tell(params, value)`. Peers run with their documented
defaults (Optuna's GPSampler and TPESampler, scikit-optimize's gp_minimize-style Optimizer, a BoTorch SingleTaskGP + LogEI
loop as in BoTorch's tutorials), so the comparison is against what a user gets out of the box.
"""
from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from benchmarks.functions import Problem
from tinybo.space import Categorical, Float, Int
from tinybo.trial import Trial, TrialState


def available(module: str) -> bool: return importlib.util.find_spec(module) is not None

class TinyboAdapter:
  """Any tinybo Strategy ("gp", "random", "grid" or an object) over a growing list of completed trials."""
  def __init__(self, problem: Problem, seed: int, strategy: Any = "gp"):
    from tinybo.optimizer import resolve_strategy
    self.problem, self.seed, self.space = problem, seed, problem.space
    self.strategy = resolve_strategy(strategy)
    self.trials: list[Trial] = []

  def ask(self) -> dict[str, Any]:
    return self.strategy.suggest(self.space, self.trials, 1, seed=self.seed, minimize=True)[0]

  def tell(self, params: dict[str, Any], value: float) -> None:
    self.trials.append(Trial(id=len(self.trials), params=params, state=TrialState.COMPLETE, value=float(value)))

class OptunaAdapter:
  def __init__(self, problem: Problem, seed: int, sampler: str = "tpe"):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    self.dists = {}
    for k, p in problem.params.items():
      if isinstance(p, Float): self.dists[k] = FloatDistribution(p.low, p.high, log=p.log)
      elif isinstance(p, Int): self.dists[k] = IntDistribution(p.low, p.high, log=p.log)
      elif isinstance(p, Categorical): self.dists[k] = CategoricalDistribution(p.choices)
    s = optuna.samplers.GPSampler(seed=seed) if sampler == "gp" else optuna.samplers.TPESampler(seed=seed)
    self.study = optuna.create_study(sampler=s, direction="minimize")
    self.constants = {k: v for k, v in problem.params.items() if k not in self.dists}
    self.pending: dict[tuple, Any] = {}

  def ask(self) -> dict[str, Any]:
    t = self.study.ask(self.dists)
    params = {**t.params, **self.constants}
    self.pending[tuple(sorted(t.params.items()))] = t
    return params

  def tell(self, params: dict[str, Any], value: float) -> None:
    t = self.pending.pop(tuple(sorted((k, v) for k, v in params.items() if k in self.dists)))
    self.study.tell(t, value)

class SkoptAdapter:
  def __init__(self, problem: Problem, seed: int):
    import skopt
    from skopt.space import Categorical as SC
    from skopt.space import Integer, Real
    self.names, dims = [], []
    for k, p in problem.params.items():
      if isinstance(p, Float): dims.append(Real(p.low, p.high, prior="log-uniform" if p.log else "uniform"))
      elif isinstance(p, Int): dims.append(Integer(p.low, p.high, prior="log-uniform" if p.log else "uniform"))
      elif isinstance(p, Categorical): dims.append(SC(list(p.choices)))
      else: continue
      self.names.append(k)
    self.constants = {k: v for k, v in problem.params.items() if k not in self.names}
    self.opt = skopt.Optimizer(dims, base_estimator="GP", random_state=seed)

  def ask(self) -> dict[str, Any]:
    x = self.opt.ask()
    return {**{k: (v.item() if hasattr(v, "item") else v) for k, v in zip(self.names, x)}, **self.constants}

  def tell(self, params: dict[str, Any], value: float) -> None: self.opt.tell([params[k] for k in self.names], float(value))

class BoTorchAdapter:
  """SingleTaskGP (BoTorch's default priors) + LogExpectedImprovement, optimize_acqf(num_restarts=10, raw_samples=512),
  a scrambled Sobol initial design of 2(d+1) points (the BoTorch tutorials' choice). Works in tinybo's encoded unit cube,
  so ints and categoricals are relaxed and rounded with space.round."""
  def __init__(self, problem: Problem, seed: int):
    import torch
    self.torch, self.space, self.seed = torch, problem.space, seed
    self.n_init = 2 * (self.space.dim + 1)
    self.X: list[np.ndarray] = []
    self.y: list[float] = []
    self.rng = np.random.default_rng(seed)
    from tinybo.sobol import sobol
    self.init = self.space.round(sobol(self.n_init, self.space.dim, self.rng))

  def ask(self) -> dict[str, Any]:
    torch = self.torch
    if len(self.y) < self.n_init: x = self.init[len(self.y)]
    else:
      from botorch.acquisition.analytic import LogExpectedImprovement
      from botorch.fit import fit_gpytorch_mll
      from botorch.models import SingleTaskGP
      from botorch.models.transforms.outcome import Standardize
      from botorch.optim import optimize_acqf
      from gpytorch.mlls import ExactMarginalLogLikelihood
      torch.manual_seed(self.seed * 100003 + len(self.y))
      X = torch.tensor(np.array(self.X), dtype=torch.float64)
      Y = -torch.tensor(self.y, dtype=torch.float64).unsqueeze(-1)  # BoTorch maximizes
      model = SingleTaskGP(X, Y, outcome_transform=Standardize(m=1))
      try: fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
      except Exception: pass  # keep the prior hyperparameters, as BoTorch's own loop would after a warning
      acqf = LogExpectedImprovement(model, best_f=Y.max())
      bounds = torch.stack([torch.zeros(self.space.dim, dtype=torch.float64), torch.ones(self.space.dim, dtype=torch.float64)])
      cand, _ = optimize_acqf(acqf, bounds=bounds, q=1, num_restarts=10, raw_samples=512)
      x = self.space.round(cand.detach().numpy().reshape(1, -1))[0]
    return self.space.decode(x)

  def tell(self, params: dict[str, Any], value: float) -> None:
    self.X.append(self.space.encode(params)); self.y.append(float(value))

PEERS = {"optuna-tpe": ("optuna", lambda p, s: OptunaAdapter(p, s, "tpe")), "optuna-gp": ("optuna", lambda p, s: OptunaAdapter(p, s, "gp")),
         "skopt": ("skopt", SkoptAdapter), "botorch": ("botorch", BoTorchAdapter)}

def tinybo_variant(name: str) -> Any:
  """'gp:warp=1;beta=1.5' -> tb.GP(warp=True, beta=1.5): a tinybo GP with non-default options, to compare in one run."""
  import ast

  from tinybo.bo import GP
  kw = {}
  for item in filter(None, name.partition(":")[2].split(";")):
    k, _, v = item.partition("=")
    try: kw[k] = ast.literal_eval(v)
    except (ValueError, SyntaxError): kw[k] = v   # a bare word: a string option such as acquisition=logei
  return GP(**kw)

def make_adapter(name: str, problem: Problem, seed: int) -> Any:
  """'gp' | 'random' | 'grid' | 'gp:opt=value;...' (tinybo) or a peer name; raises ImportError naming the package when a
  peer is not installed."""
  if name in ("gp", "random", "grid"): return TinyboAdapter(problem, seed, name)
  if name.startswith("gp:"): return TinyboAdapter(problem, seed, tinybo_variant(name))
  if name in PEERS:
    module, make = PEERS[name]
    if not available(module): raise ImportError(f"peer {name!r} needs the {module!r} package, which is not installed")
    return make(problem, seed)
  raise ValueError(f"unknown strategy {name!r}; use gp, random, grid or one of {', '.join(PEERS)}")
