"""Ask/tell adapters so the runner drives tinybo and peer libraries through one interface. A peer is used only when its
package imports; none of them is a tinybo dependency.

Every adapter: `Adapter(problem, seed)`, `ask() -> params dict`, `tell(params, value)`, and optionally `recommend() ->
params dict` (the configuration it would hand a user; the runner falls back to the best observed value) and `info` (a
dict recorded with each run). Peers run with their documented defaults (Optuna's GPSampler, with greenlet, and
TPESampler, scikit-optimize's gp_minimize-style Optimizer, a BoTorch SingleTaskGP + LogEI loop as in BoTorch's
tutorials), single-threaded, so the comparison is against what a user gets out of the box on one core. HEBO and SMAC3
need their own virtualenvs: benchmarks/peers_external.py.

tinybo is driven only through its public API (tb.Optimizer, tb.GP, Trial); `tinybo_strategy` is the one place that turns
a strategy name into what tb.Optimizer takes.
"""
from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from benchmarks.functions import Problem
from benchmarks.run import TINYBO
from tinybo.space import Categorical, Float, Int


def available(module: str) -> bool: return importlib.util.find_spec(module) is not None
def missing(modules: tuple[str, ...]) -> str | None:
  """The first of `modules` that is not installed, or None."""
  return next((m for m in modules if not available(m)), None)

def single_threaded_torch() -> str:
  """torch on one thread (the peers are compared on one core); returns torch's version."""
  import torch
  torch.set_num_threads(1)
  return torch.__version__

def tinybo_strategy(name: str) -> Any:
  """'gp' | 'random' | 'grid' -> the name itself (tb.Optimizer resolves it); 'gp:warp=1;beta=1.5' -> tb.GP(warp=True,
  beta=1.5): a tinybo GP with non-default options, to compare in one run; 'a|b' is the tuple ('a', 'b') (a comma would
  split the strategy list): 'gp:kernel=matern52|matern32|matern12'."""
  import tinybo as tb
  from tinybo.arguments import parse_options
  if name in TINYBO: return name
  if not name.startswith("gp:"): raise ValueError(f"unknown tinybo strategy {name!r}; use gp, random, grid or gp:opt=value;...")
  return tb.GP(**parse_options(name.partition(":")[2], tb.GP))

class TinyboAdapter:
  """A tb.Optimizer (in memory) with any tinybo strategy; recommend() is opt.recommend(observed=False): the configuration
  with the best posterior mean anywhere in the space (a trial's where the data test deterministic, or without a model)."""
  def __init__(self, problem: Problem, seed: int, strategy: str = "gp"):
    import tinybo as tb
    self.opt = tb.Optimizer(problem.space, strategy=tinybo_strategy(strategy), seed=seed)
    self.pending: dict[tuple, Any] = {}
    self.info = {"tinybo": tb.__version__, "recommend": "opt.recommend(observed=False)"}

  def ask(self) -> dict[str, Any]:
    t = self.opt.suggest()
    self.pending[self.opt.space.key(t.params)] = t
    return dict(t.params)

  def ask_batch(self, k: int) -> list[dict[str, Any]]:
    """k pending configurations from one suggest(k): the GP fantasizes each before choosing the next."""
    ts = self.opt.suggest(k)
    for t in ts: self.pending[self.opt.space.key(t.params)] = t
    return [dict(t.params) for t in ts]

  def tell(self, params: dict[str, Any], value: float) -> None: self.opt.observe(self.pending.pop(self.opt.space.key(params)), value)

  def recommend(self) -> dict[str, Any]: return self.opt.recommend(observed=False)

class OptunaAdapter:
  """Optuna's TPESampler or GPSampler with their defaults; recommend() is the study's best trial. GPSampler runs only with
  greenlet installed (without it Optuna silently takes a slower path) and torch on one thread. sampler="gp-det" is
  GPSampler told what the problem is, as SMAC3 is (peers_external): deterministic_objective=True on noise-free
  problems (its noise variance fixed at the minimum), False on noisy ones."""
  def __init__(self, problem: Problem, seed: int, sampler: str = "tpe"):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    self.info: dict[str, Any] = {"optuna": optuna.__version__}
    if sampler in ("gp", "gp-det"):
      if not available("greenlet"): raise RuntimeError("optuna-gp needs greenlet (without it GPSampler takes a slower path): pip install greenlet")
      import greenlet  # noqa: F401  imported here so that a broken install fails loudly, not inside Optuna
      self.info.update(greenlet=True, torch=single_threaded_torch())
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    self.dists = {}
    for k, p in problem.params.items():
      if isinstance(p, Float): self.dists[k] = FloatDistribution(p.low, p.high, log=p.log, step=p.step)
      elif isinstance(p, Int): self.dists[k] = IntDistribution(p.low, p.high, log=p.log, step=p.step)
      elif isinstance(p, Categorical): self.dists[k] = CategoricalDistribution(p.choices)
    if sampler == "gp-det": self.info["deterministic_objective"] = not problem.noisy
    s = (optuna.samplers.GPSampler(seed=seed) if sampler == "gp" else
         optuna.samplers.GPSampler(seed=seed, deterministic_objective=not problem.noisy) if sampler == "gp-det" else
         optuna.samplers.TPESampler(seed=seed, constant_liar=sampler == "tpe-cl"))
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

  def recommend(self) -> dict[str, Any]: return {**self.study.best_trial.params, **self.constants}

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
  a scrambled Sobol initial design of 2(d+1) points (the BoTorch tutorials' choice, torch's SobolEngine). Works in tinybo's encoded unit cube,
  so ints and categoricals are relaxed and rounded with space.round."""
  def __init__(self, problem: Problem, seed: int):
    import torch
    self.info = {"torch": single_threaded_torch()}
    self.torch, self.space, self.seed = torch, problem.space, seed
    self.n_init = 2 * (self.space.dim + 1)
    self.X: list[np.ndarray] = []
    self.y: list[float] = []
    sobol = torch.quasirandom.SobolEngine(self.space.dim, scramble=True, seed=seed).draw(self.n_init, dtype=torch.float64)
    self.init = self.space.round(sobol.numpy())

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

# name -> (packages it needs, factory(problem, seed))
PEERS: dict[str, tuple[tuple[str, ...], Any]] = {
  "optuna-tpe": (("optuna",), lambda p, s: OptunaAdapter(p, s, "tpe")),
  # TPE as Optuna recommends it for parallel workers: running trials enter its split at the worst value (batches: "@qK")
  "optuna-tpe-cl": (("optuna",), lambda p, s: OptunaAdapter(p, s, "tpe-cl")),
  "optuna-gp": (("optuna", "torch", "greenlet"), lambda p, s: OptunaAdapter(p, s, "gp")),
  "optuna-gp-det": (("optuna", "torch", "greenlet"), lambda p, s: OptunaAdapter(p, s, "gp-det")),
  "skopt": (("skopt",), SkoptAdapter), "botorch": (("botorch",), BoTorchAdapter)}

def make_adapter(name: str, problem: Problem, seed: int) -> Any:
  """'gp' | 'random' | 'grid' | 'gp:opt=value;...' (tinybo) or a peer name; raises ImportError naming the package when a
  peer is not installed."""
  if name in TINYBO or name.startswith("gp:"): return TinyboAdapter(problem, seed, name)
  if name in PEERS:
    modules, make = PEERS[name]
    if missing(modules): raise ImportError(f"peer {name!r} needs the {missing(modules)!r} package, which is not installed")
    return make(problem, seed)
  raise ValueError(f"unknown strategy {name!r}; use gp, random, grid, gp:opt=value;... or one of {', '.join(PEERS)}")
