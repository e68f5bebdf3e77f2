"""Benchmark runner: every (problem, strategy, seed) is one run of `budget` sequential evaluations through an ask/tell
adapter. Records best-so-far traces, final simple regret and per-suggestion wall time; saves JSON, prints a markdown table
and draws regret curves.

  python -m benchmarks.run --problems branin,hartmann6,ackley5 --strategies gp,random,optuna-tpe,optuna-gp --seeds 10 --jobs 2

Glossary: trace[t] = min_{i <= t} f(x_i) - f* (simple regret after t+1 evaluations); regret = trace[budget - 1];
suggest_s[t] = seconds spent in ask() and tell() for evaluation t (the objective excluded).
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"

def run_one(problem_name: str, strategy: str, seed: int, budget: int | None = None) -> dict[str, Any]:
  """One optimization run; failures are recorded, not raised, so one broken peer does not sink a suite."""
  from benchmarks.functions import get_problem
  from benchmarks.peers import make_adapter
  problem = get_problem(problem_name)
  budget = budget or problem.budget
  rec: dict[str, Any] = {"problem": problem_name, "strategy": strategy, "seed": seed, "budget": budget}
  try:
    adapter = make_adapter(strategy, problem, seed)
    values, times, best = [], [], math.inf
    for _ in range(budget):
      t0 = time.perf_counter()
      params = adapter.ask()
      t1 = time.perf_counter()
      v = problem(params)
      t2 = time.perf_counter()
      adapter.tell(params, v)  # some peers (scikit-optimize) do their model work in tell: count it
      times.append(t1 - t0 + time.perf_counter() - t2)
      values.append(v); best = min(best, v)
    trace = (np.minimum.accumulate(np.array(values)) - problem.optimum).tolist()
    rec.update(values=values, trace=trace, regret=trace[-1], suggest_s=times)
  except ImportError as e: rec["skipped"] = str(e)
  except Exception as e: rec["error"] = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}"
  return rec

def _run_star(args: tuple) -> dict[str, Any]:
  os.environ.setdefault("PARALLEL", "0")
  return run_one(*args)

def summarize(records: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, float]]:
  out: dict[tuple[str, str], dict[str, float]] = {}
  for r in records:
    if "regret" not in r: continue
    out.setdefault((r["problem"], r["strategy"]), {"regrets": [], "times": []})  # type: ignore[dict-item]
    out[(r["problem"], r["strategy"])]["regrets"].append(r["regret"])  # type: ignore[attr-defined]
    out[(r["problem"], r["strategy"])]["times"].extend(r["suggest_s"][len(r["suggest_s"]) // 2:])  # type: ignore[attr-defined]
  return {k: {"median": float(np.median(v["regrets"])), "q25": float(np.percentile(v["regrets"], 25)),
              "q75": float(np.percentile(v["regrets"], 75)), "n": len(v["regrets"]), "suggest_ms": 1e3 * float(np.median(v["times"]))}
          for k, v in out.items()}

def markdown_table(records: list[dict[str, Any]], problems: list[str], strategies: list[str]) -> str:
  from benchmarks.functions import get_problem
  s = summarize(records)
  lines = ["| problem (evals) | target | " + " | ".join(strategies) + " |", "|---|---|" + "---|" * len(strategies)]
  for p in problems:
    prob = get_problem(p)
    cells = []
    for st in strategies:
      if (p, st) not in s:
        skipped = [r for r in records if r["problem"] == p and r["strategy"] == st and ("skipped" in r or "error" in r)]
        cells.append("n/a" if skipped else "")
        continue
      v = s[(p, st)]
      met = prob.target is not None and st == "gp" and v["median"] <= prob.target
      cells.append(f"{'**' if met else ''}{v['median']:.3g}{'**' if met else ''} ({v['suggest_ms']:.0f} ms)")
    budget = next((r["budget"] for r in records if r["problem"] == p), prob.budget)
    lines.append(f"| {p} ({budget}) | {'' if prob.target is None else f'<= {prob.target:g}'} | " + " | ".join(cells) + " |")
  return "\n".join(lines)

def plot(records: list[dict[str, Any]], problems: list[str], strategies: list[str], out_dir: Path, tag: str) -> list[str]:
  try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
  except ImportError:
    print("matplotlib is not installed: no regret curves (pip install matplotlib)", file=sys.stderr)
    return []
  paths = []
  for p in problems:
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for st in strategies:
      traces = [r["trace"] for r in records if r["problem"] == p and r["strategy"] == st and "trace" in r]
      if not traces: continue
      T = np.maximum(np.array(traces), 1e-9)
      t = np.arange(1, T.shape[1] + 1)
      ax.plot(t, np.median(T, 0), label=st, lw=2 if st == "gp" else 1.2)
      ax.fill_between(t, np.percentile(T, 25, 0), np.percentile(T, 75, 0), alpha=0.15)
    ax.set_yscale("log"); ax.set_xlabel("evaluations"); ax.set_ylabel("simple regret (median, IQR)")
    ax.set_title(f"{p} ({len(traces)} seeds)"); ax.grid(alpha=0.3, which="both"); ax.legend(fontsize=8)
    fig.tight_layout()
    path = out_dir / f"{tag}_{p}.png"
    fig.savefig(path, dpi=110); plt.close(fig)
    paths.append(str(path))
  return paths

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--problems", default="branin,camel,hartmann3,hartmann6,ackley5,mixed")
  ap.add_argument("--strategies", default="gp,random,optuna-tpe,optuna-gp")
  ap.add_argument("--seeds", type=int, default=10)
  ap.add_argument("--seed-offset", type=int, default=0)
  ap.add_argument("--budget", type=int, default=None, help="evaluations per run (default: each problem's own)")
  ap.add_argument("--jobs", type=int, default=1, help="worker processes (this machine has few cores: 1-2)")
  ap.add_argument("--tag", default=None, help="results file name (default: a timestamp)")
  ap.add_argument("--report", default=None, help="only print the table and draw the curves of an existing results JSON")
  ap.add_argument("-o", "--out", default=str(RESULTS), help="folder for the results JSON and the curves (default: benchmarks/results)")
  args = ap.parse_args(argv)
  out = Path(args.out)
  if args.report:
    data = [json.loads(Path(f).read_text()) for f in args.report.split(",")]
    records = [r for d in data for r in d["runs"]]
    problems = list(dict.fromkeys(r["problem"] for r in records))
    strategies = list(dict.fromkeys(r["strategy"] for r in records))
    print(markdown_table(records, problems, strategies))
    for png in plot(records, problems, strategies, out, Path(args.report.split(",")[0]).stem): print(png)
    return
  problems, strategies = args.problems.split(","), args.strategies.split(",")
  from benchmarks.peers import PEERS, available
  for st in strategies:
    if st in PEERS and not available(PEERS[st][0]): print(f"skipping {st}: package {PEERS[st][0]!r} is not installed", file=sys.stderr)
  strategies = [st for st in strategies if st not in PEERS or available(PEERS[st][0])]
  jobs = [(p, st, args.seed_offset + s, args.budget) for p in problems for st in strategies for s in range(args.seeds)]
  t0 = time.time()
  tag = args.tag or time.strftime("%Y%m%d-%H%M%S")
  out.mkdir(parents=True, exist_ok=True)
  path = out / f"{tag}.json"
  meta = {"argv": sys.argv[1:], "problems": problems, "strategies": strategies, "seeds": args.seeds, "jobs": args.jobs,
          "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count()}
  records: list[dict[str, Any]] = []
  def record(r: dict[str, Any]) -> None:  # saved after every run: an interrupted suite keeps what it finished
    records.append(r)
    _progress(r, len(records), len(jobs), t0)
    path.write_text(json.dumps({"meta": {**meta, "wall_s": time.time() - t0, "complete": len(records) == len(jobs)}, "runs": records}))
  if args.jobs <= 1:
    for j in jobs: record(run_one(*j))
  else:
    with mp.get_context("spawn").Pool(args.jobs, maxtasksperchild=None) as pool:
      for r in pool.imap_unordered(_run_star, jobs): record(r)
  table = markdown_table(records, problems, strategies)
  print(f"\nmedian simple regret over {args.seeds} seeds (median suggestion time); results: {path}\n\n{table}")
  for r in records:
    if "error" in r: print(f"error in {r['problem']}/{r['strategy']}/seed {r['seed']}: {r['error']}", file=sys.stderr)
  for png in plot(records, problems, strategies, out, tag): print(png)

def _progress(r: dict[str, Any], i: int, n: int, t0: float) -> None:
  status = f"regret {r['regret']:.4g}" if "regret" in r else ("skipped" if "skipped" in r else "ERROR")
  print(f"[{i}/{n} {time.time() - t0:6.0f}s] {r['problem']:<10} {r['strategy']:<11} seed {r['seed']:<3} {status}", flush=True)

if __name__ == "__main__":
  main()
