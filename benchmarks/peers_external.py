"""HEBO and SMAC3 adapters, run from their own virtualenvs (their pins clash with each other and with Optuna's): the same
runner protocol (benchmarks.run.run_jobs) and the same JSON records, so `python -m benchmarks.run --report a.json,b.json`
merges them with tinybo's and Optuna's runs.

  PYTHONPATH=$PWD OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 taskset -c 1 \\
    /work/venvs/hebo/bin/python -m benchmarks.peers_external --peer hebo --problems branin,hartmann6 --seeds 10 --tag suite20_hebo --resume

Set-ups, each library's recommended one: HEBO(space) with its defaults (the GP model, the MACE acquisition, the default
rand_sample initial design), recommend() = best_x (HEBO's documented result); SMAC3's BlackBoxFacade with its default
initial design, deterministic=True on noise-free problems and False on noisy ones, n_trials = the budget, ask/tell,
recommend() = the intensifier's incumbent. Both on one thread.

Only tinybo/space.py is imported from tinybo (through a bare package entry, so tinybo/__init__.py and its tinygrad GP stack
never load): these virtualenvs need numpy and the peer, nothing of tinybo's.
"""
from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import types
import weakref
from pathlib import Path
from typing import Any


def bare_tinybo() -> None:
  """Register `tinybo` as a package without running its __init__ (which imports the GP stack), so that `tinybo.space`
  loads alone."""
  if "tinybo" in sys.modules: return
  spec = importlib.util.find_spec("tinybo")
  if spec is None or not spec.submodule_search_locations:
    raise ImportError("tinybo is not importable: put the repository root on PYTHONPATH (PYTHONPATH=$PWD)")
  pkg = types.ModuleType("tinybo")
  pkg.__path__ = list(spec.submodule_search_locations)
  sys.modules["tinybo"] = pkg

bare_tinybo()

from benchmarks.functions import Problem  # noqa: E402
from benchmarks.run import plain  # noqa: E402
from tinybo.space import Categorical, Float, Int  # noqa: E402


def single_threaded_torch() -> str:
  import torch
  torch.set_num_threads(1)
  return torch.__version__

class HeboAdapter:
  """HEBO(space) with its defaults; numpy's and torch's global seeds and the Sobol scramble seed set from the run seed."""
  def __init__(self, problem: Problem, seed: int):
    import numpy as np
    import torch
    from hebo.design_space.design_space import DesignSpace
    from hebo.optimizers.hebo import HEBO
    self.info = {"hebo": _version("hebo"), "torch": single_threaded_torch()}
    np.random.seed(seed); torch.manual_seed(seed)
    spec = []
    for k, p in problem.params.items():
      if isinstance(p, Float): spec.append({"name": k, "type": "pow" if p.log else "num", "lb": p.low, "ub": p.high})
      elif isinstance(p, Int) and not p.log: spec.append({"name": k, "type": "int", "lb": p.low, "ub": p.high})
      elif isinstance(p, Categorical): spec.append({"name": k, "type": "cat", "categories": list(p.choices)})
      else: raise ValueError(f"parameter {k}={p!r}: no HEBO type for it in this adapter; use Float, Int (not log) or Categorical")
    self.params = problem.params
    self.opt = HEBO(DesignSpace().parse(spec), scramble_seed=seed)
    self.pending: dict[tuple, Any] = {}

  def _params(self, row: dict[str, Any]) -> dict[str, Any]:
    return {k: int(round(float(row[k]))) if isinstance(p, Int) else row[k] if isinstance(p, Categorical) else float(row[k])
            for k, p in self.params.items()}

  def ask(self) -> dict[str, Any]:
    df = self.opt.suggest(n_suggestions=1)
    params = self._params(df.iloc[0].to_dict())
    self.pending[tuple(params.items())] = df
    return params

  def tell(self, params: dict[str, Any], value: float) -> None:
    import numpy as np
    self.opt.observe(self.pending.pop(tuple(params.items())), np.array([[value]]))

  def recommend(self) -> dict[str, Any]: return self._params(self.opt.best_x.iloc[0].to_dict())

class SmacAdapter:
  """SMAC3 BlackBoxFacade, ask/tell; output goes to a temporary directory removed with the adapter."""
  def __init__(self, problem: Problem, seed: int):
    import ConfigSpace as CS
    from smac import BlackBoxFacade, Scenario
    self.info = {"smac": _version("smac"), "ConfigSpace": _version("ConfigSpace"), "deterministic": not problem.noisy}
    cs = CS.ConfigurationSpace(seed=seed)
    hps = []
    for k, p in problem.params.items():
      if isinstance(p, Float): hps.append(CS.Float(k, (p.low, p.high), log=p.log))
      elif isinstance(p, Int): hps.append(CS.Integer(k, (p.low, p.high), log=p.log))
      elif isinstance(p, Categorical): hps.append(CS.Categorical(k, list(p.choices)))
    cs.add(hps) if hasattr(cs, "add") else cs.add_hyperparameters(hps)
    out = Path(tempfile.mkdtemp(prefix="smac_"))
    weakref.finalize(self, shutil.rmtree, out, True)
    scenario = Scenario(cs, deterministic=not problem.noisy, n_trials=problem.budget, seed=seed, output_directory=out / "run")
    self.smac = BlackBoxFacade(scenario, _ask_tell_only, overwrite=True, logging_level=40)
    self.params = problem.params
    self.pending: dict[tuple, Any] = {}

  def ask(self) -> dict[str, Any]:
    info = self.smac.ask()
    params = {k: v for k, v in plain(dict(info.config)).items() if k in self.params}
    self.pending.setdefault(tuple(params.items()), []).append(info)
    return params

  def tell(self, params: dict[str, Any], value: float) -> None:
    from smac.runhistory.dataclasses import TrialValue
    self.smac.tell(self.pending[tuple(params.items())].pop(0), TrialValue(cost=value))

  def recommend(self) -> dict[str, Any]:
    inc = self.smac.intensifier.get_incumbent()
    if inc is None: raise RuntimeError("SMAC has no incumbent after its evaluations")
    return {k: v for k, v in plain(dict(inc)).items() if k in self.params}

def _ask_tell_only(config: Any, seed: int = 0) -> float:
  raise RuntimeError("this SMAC facade is driven by ask/tell; its target function is never called")

def _version(dist: str) -> str:
  from importlib.metadata import version
  return version(dist)

EXTERNAL = {"hebo": HeboAdapter, "smac": SmacAdapter}

def make_external(name: str, problem: Problem, seed: int) -> Any:
  if name not in EXTERNAL: raise ValueError(f"unknown external peer {name!r}; use one of {', '.join(EXTERNAL)}")
  return EXTERNAL[name](problem, seed)

def main(argv: list[str] | None = None) -> None:
  from benchmarks.functions import SUITE
  from benchmarks.run import RESULTS, run_jobs, run_meta
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--peer", required=True, choices=sorted(EXTERNAL))
  ap.add_argument("--problems", default=",".join(SUITE))
  ap.add_argument("--seeds", type=int, default=10)
  ap.add_argument("--seed-offset", type=int, default=0)
  ap.add_argument("--tag", required=True, help="results/<tag>.json; with --resume, finished runs there are kept and skipped")
  ap.add_argument("--resume", action="store_true")
  args = ap.parse_args(argv)
  problems = args.problems.split(",")
  jobs = [(p, args.peer, args.seed_offset + s, None) for p in problems for s in range(args.seeds)]
  RESULTS.mkdir(parents=True, exist_ok=True)
  meta = {**run_meta(sys.argv[1:] if argv is None else argv), "problems": problems, "strategies": [args.peer]}
  run_jobs(jobs, RESULTS / f"{args.tag}.json", meta, make=make_external, resume=args.resume)

if __name__ == "__main__":
  main()
