"""Benchmark on conditional (tree-structured) problems (benchmarks/conditional_problems.py): tinybo's GP with the tree
modelled (gp, the default) or flattened (gp:conditional=flatten), random search, and Optuna's TPE define-by-run with
multivariate=True, group=True (optuna-tpe-tree: the TPE that models conditional spaces; peers venv). Records as
benchmarks/run.py does (values, best-so-far trace, final regret, seconds per suggestion) and prints its tables.

  PYTHONPATH=$PWD DEV=CPU python -m benchmarks.conditional_bench --strategies gp,gp:conditional=flatten,random --seeds 20 --tag cond_tinybo
  PYTHONPATH=$PWD /work/venvs/peers/bin/python -m benchmarks.conditional_bench --strategies optuna-tpe-tree --seeds 20 --tag cond_tpe
  python -m benchmarks.conditional_bench --report benchmarks/results/cond_tinybo.json,benchmarks/results/cond_tpe.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from typing import Any

import numpy as np

from benchmarks.conditional_problems import CONDITIONAL_PROBLEMS, get_conditional_problem
from benchmarks.functions import Problem
from benchmarks.run import RESULTS, load_runs, min_distances, plain, report, run_key, run_meta
from tinybo.space import Categorical, Float, Int


class OptunaTreeAdapter:
  """Optuna's TPESampler(multivariate=True, group=True), define-by-run: each trial suggests, parents first, only the
  parameters its parents make active, so TPE sees the tree (group=True fits one model per set of co-occurring parameters)."""
  def __init__(self, problem: Problem, seed: int):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    self.info: dict[str, Any] = {"optuna": optuna.__version__, "sampler": "TPESampler(multivariate=True, group=True)"}
    self.space = problem.space
    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)
    self.study = optuna.create_study(sampler=sampler, direction="minimize")
    self.pending: dict[tuple, Any] = {}

  def ask(self) -> dict[str, Any]:
    t = self.study.ask()
    params: dict[str, Any] = {}
    for k in self.space.dependency_order:
      if k not in self.space.active(params): continue
      p = self.space.params[k]
      if isinstance(p, Float): params[k] = t.suggest_float(k, p.low, p.high, log=p.log)
      elif isinstance(p, Int): params[k] = t.suggest_int(k, p.low, p.high, log=p.log)
      elif isinstance(p, Categorical): params[k] = t.suggest_categorical(k, list(p.choices))
    params = self.space.validate(params)
    self.pending[self.space.key(params)] = t
    return params

  def tell(self, params: dict[str, Any], value: float) -> None: self.study.tell(self.pending.pop(self.space.key(params)), value)

def make_adapter(strategy: str, problem: Problem, seed: int) -> Any:
  if strategy == "optuna-tpe-tree": return OptunaTreeAdapter(problem, seed)
  from benchmarks.peers import TinyboAdapter
  return TinyboAdapter(problem, seed, strategy)

def tree_radians(strategy: str) -> tuple[str, float | None]:
  """"gp:radians=1" -> ("gp", 1.0): the tree GP with another angle per conditional column (tree.ARC) for this run only;
  the other options pass through ("gp:conditional=flatten" stays as it is)."""
  parts = strategy.split(":")
  radians = [p for p in parts[1:] if p.startswith("radians=")]
  if not radians: return strategy, None
  if parts[0] != "gp" or len(radians) > 1: raise ValueError(f"strategy {strategy!r}: radians=<float> is an option of gp, once (gp:radians=2)")
  return ":".join(p for p in parts if p not in radians), float(radians[0][len("radians="):])

# the tree GP's branch-bonus options: the tree.py constant each sets for one run
BONUS_MODES = {"bonus=activated": ("WEIGH_BY_ACTIVATED", True), "bonus=uniform": ("WEIGH_BY_ACTIVATED", False),
               "bonus=capped": ("CAP_AT_PRIOR", True), "bonus=uncapped": ("CAP_AT_PRIOR", False)}

def tree_bonus(strategy: str) -> tuple[str, dict[str, bool]]:
  """"gp:bonus=uniform:bonus=uncapped" -> ("gp", {"WEIGH_BY_ACTIVATED": False, "CAP_AT_PRIOR": False}): the tree GP's
  branch bonus with every choice weighing 1 (`bonus=activated`: weighed by the parameters a choice activates) and its
  UCB1 term uncapped (`bonus=capped`: capped at 1), tree.WEIGH_BY_ACTIVATED and tree.CAP_AT_PRIOR for this run only;
  other options pass through."""
  parts = strategy.split(":")
  bonus = [p for p in parts[1:] if p.startswith("bonus=")]
  if not bonus: return strategy, {}
  settings = [BONUS_MODES.get(b) for b in bonus]
  if parts[0] != "gp" or None in settings or len({k for k, _ in settings}) < len(settings):
    raise ValueError(f"strategy {strategy!r}: bonus=activated|uniform and bonus=capped|uncapped are options of gp, each once "
                     "(gp:bonus=uniform:bonus=uncapped)")
  return ":".join(p for p in parts if p not in bonus), dict(settings)

def run_one(problem_name: str, strategy: str, seed: int) -> dict[str, Any]:
  """One run of the problem's budget; a failure is recorded, not raised."""
  import tinybo.tree
  problem = get_conditional_problem(problem_name)
  rec: dict[str, Any] = {"problem": problem_name, "strategy": strategy, "seed": seed, "budget": problem.budget}
  defaults = {k: getattr(tinybo.tree, k) for k in ("ARC", "WEIGH_BY_ACTIVATED", "CAP_AT_PRIOR")}
  try:
    base, bonus = tree_bonus(strategy)
    base, radians = tree_radians(base)
    if radians is not None: tinybo.tree.ARC = radians   # data of the captured programs (tree.tensors), not code: safe to change between runs
    for k, v in bonus.items(): setattr(tinybo.tree, k, v)   # read by BranchOptimism.of on every suggestion (numpy)
    adapter = make_adapter(base, problem, seed)
    values, times, xs, ps = [], [], [], []
    for _ in range(problem.budget):
      t0 = time.perf_counter()
      params = adapter.ask()
      t1 = time.perf_counter()
      v = problem(params)
      t2 = time.perf_counter()
      adapter.tell(params, v)
      times.append(t1 - t0 + time.perf_counter() - t2)
      values.append(v); xs.append(problem.space.encode(params)); ps.append(plain(params))
    trace = (np.minimum.accumulate(np.array(values)) - problem.optimum).tolist()
    rec.update(values=values, trace=trace, regret=trace[-1], best=ps[int(np.argmin(values))], params=ps, suggest_s=times,
               min_dist=min_distances(np.array(xs)))
    if getattr(adapter, "info", None): rec["info"] = adapter.info
  except ImportError as e: rec["skipped"] = str(e)
  except Exception as e: rec["error"] = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}"
  finally:
    for k, v in defaults.items(): setattr(tinybo.tree, k, v)
  return rec

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--problems", default="jenatton,ml_conditional", help=f"of {','.join(CONDITIONAL_PROBLEMS)}")
  ap.add_argument("--strategies", default="gp,gp:conditional=flatten,random")
  ap.add_argument("--seeds", type=int, default=20)
  ap.add_argument("--seed-offset", type=int, default=0)
  ap.add_argument("--tag", default=None, help="results file name in benchmarks/results (default: a timestamp)")
  ap.add_argument("--resume", action="store_true", help="keep the finished runs in results/<tag>.json")
  ap.add_argument("--report", default=None, help="print the tables of existing results JSONs (a.json,b.json merges them)")
  args = ap.parse_args(argv)
  problems, strategies = args.problems.split(","), args.strategies.split(",")
  if args.report:
    records = [r for r in load_runs(args.report.split(",")) if r["problem"] in problems]
    print(report(records, problems, [s for s in strategies if any(r["strategy"] == s for r in records)]))
    return
  path = RESULTS / f"{args.tag or time.strftime('%Y%m%d-%H%M%S')}.json"
  old = load_runs([path]) if args.resume and path.exists() else []
  records = [r for r in old if "regret" in r]
  done = {run_key(r) for r in records}
  meta = {**run_meta(sys.argv[1:] if argv is None else argv), "problems": problems, "strategies": strategies, "seeds": args.seeds}
  t0 = time.time()
  for p in problems:
    for st in strategies:
      for s in range(args.seed_offset, args.seed_offset + args.seeds):
        if (p, st, s, get_conditional_problem(p).budget) in done: continue
        r = run_one(p, st, s)
        records.append(r)
        status = f"regret {r['regret']:.4g}" if "regret" in r else r.get("skipped") or r.get("error")
        print(f"[{time.time() - t0:6.0f}s] {p:<15} {st:<24} seed {s:<3} {status}", flush=True)
        tmp = path.with_suffix(".json.tmp")   # written aside and renamed: a reader never sees half a file
        tmp.write_text(json.dumps({"meta": {**meta, "wall_s": time.time() - t0}, "runs": records}))
        os.replace(tmp, path)
  print(f"\nresults: {path}\n\n{report(records, problems, strategies)}")

if __name__ == "__main__":
  main()
