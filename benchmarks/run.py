"""Benchmark runner: every (problem, strategy, seed) is one run of `budget` sequential evaluations through an ask/tell
adapter. Records the values, best-so-far traces, final simple regret, per-suggestion wall time and how close each point
came to an earlier one; saves JSON after every run, prints markdown tables and draws regret curves.

  python -m benchmarks.run --problems branin,hartmann6,ackley5 --strategies gp,random,optuna-tpe,optuna-gp --seeds 20
  python -m benchmarks.run --report benchmarks/results/a.json,benchmarks/results/b.json   # merge runs from several files

Glossary: trace[t] = min_{i <= t} f(x_i) - f* (simple regret after t+1 evaluations); regret = trace[budget - 1];
suggest_s[t] = seconds spent in ask() and tell() for evaluation t (the objective excluded); min_dist[t] = max-norm
distance in the unit-cube encoding (problem.space.encode) from x_t to the nearest earlier x_i (None for t = 0).
Noisy problems: values are what the optimizer observed, true_values the noise-free f; trace[t] is the regret of the
best-observed configuration (by observed value) after t+1 evaluations; rec_trace[k] is the regret of the adapter's
recommend() after rec_at[k] evaluations, and regret = rec_trace[-1] (the recommendation after the last evaluation).
Batches: a strategy named "S@qK" is S asked for K configurations at a time, all evaluated, then all told (as K parallel
workers in lockstep; the last batch is cut to the budget): tinybo's `suggest(K)`, a peer's ask() K times before any tell;
suggest_s[t] is then the round's ask and tell time over its K evaluations, and rec_at counts the evaluations told when the
recommendation was taken (the first round's end at or past each multiple of RECOMMEND_EVERY). "S@aK": K asynchronous
workers; each evaluation lasts U(0.5, 1.5) time units (drawn from the seed), a worker asks (one ask(), the others' trials
pending) as soon as it is free, and values, traces and suggest_s follow the order in which evaluations finish (an ask's
time is counted with the tell that follows it).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
NEAR = 1e-3                 # a point within this max-norm distance (unit cube) of an earlier one counts as a repeat
RECOMMEND_EVERY = 10        # noisy problems: ask the adapter for its recommendation every this many evaluations
DURATION_SALT = 20261206    # asynchronous workers: an evaluation's duration, U(0.5, 1.5), drawn from (seed, this)
TINYBO = ("gp", "random", "grid")
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

def min_distances(X: np.ndarray) -> list[float | None]:
  """Rows [n, d] -> for each row, the max-norm distance to the nearest earlier row (None for the first)."""
  return [None] + [float(np.abs(X[:i] - X[i]).max(1).min()) for i in range(1, len(X))]

def plain(params: dict[str, Any]) -> dict[str, Any]:
  """numpy scalars -> Python scalars, so that a params dict can be written as JSON."""
  return {k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()}

def recommendation(adapter: Any, best_observed: dict[str, Any]) -> dict[str, Any]:
  """The adapter's recommend() where it has one; otherwise the best configuration by observed value."""
  return plain(adapter.recommend()) if callable(getattr(adapter, "recommend", None)) else best_observed

def run_one(problem_name: str, strategy: str, seed: int, budget: int | None = None, make: Callable | None = None) -> dict[str, Any]:
  """One optimization run; failures are recorded, not raised, so one broken peer does not sink a suite. make(strategy,
  problem, seed) -> adapter (default: benchmarks.peers.make_adapter)."""
  from benchmarks.functions import get_problem
  if make is None:
    from benchmarks.peers import make_adapter as make
  problem = get_problem(problem_name)
  budget = budget or problem.budget
  base, q, asynchronous = schedule_of(strategy)
  rec: dict[str, Any] = {"problem": problem_name, "strategy": strategy, "seed": seed, "budget": budget}
  if q > 1: rec["batch" if not asynchronous else "workers"] = q
  try:
    adapter = make(base, problem, seed)
    values, true_values, times, xs, best_i = [], [], [], [], []
    rec_at, rec_trace, recommended, best_params = [], [], None, None
    running: list[tuple[float, int, dict[str, Any], float]] = []   # (finish time, ask index, params, value)
    durations, clock, asked = np.random.default_rng([seed, DURATION_SALT]), 0.0, 0
    while len(values) < budget:
      k = min(q - len(running) if asynchronous else q, budget - asked)
      t0 = time.perf_counter()
      batch = [adapter.ask() for _ in range(k)] if asynchronous else ask_batch(adapter, k)
      t1 = time.perf_counter()
      for params in batch:   # a batch is told in the order it was asked; asynchronous workers as their evaluations end
        running.append((clock + durations.uniform(0.5, 1.5) if asynchronous else 0.0, asked, params, problem.observe(params, seed, asked)))
        asked += 1
      if asynchronous: running.sort(key=lambda r: (r[0], r[1]))
      done, running = (running[:1], running[1:]) if asynchronous else (running, [])
      if asynchronous: clock = done[0][0]
      t2 = time.perf_counter()
      for _, _, params, v in done: adapter.tell(params, v)  # some peers (scikit-optimize) do their model work in tell: count it
      times += [(t1 - t0 + time.perf_counter() - t2) / len(done)] * len(done)
      for _, _, params, v in done:
        i = len(values)
        values.append(v); true_values.append(problem(params) if problem.noisy else v); xs.append(problem.space.encode(params))
        if not best_i or v < values[best_i[-1]]: best_params = plain(params); best_i.append(i)
        else: best_i.append(best_i[-1])
      n = len(values)
      if problem.noisy and (n // RECOMMEND_EVERY > (n - len(done)) // RECOMMEND_EVERY or n == budget):
        recommended = recommendation(adapter, best_params)
        rec_at.append(n); rec_trace.append(problem(recommended) - problem.optimum)
    if problem.noisy:
      trace = [true_values[j] - problem.optimum for j in best_i]
      rec.update(values=values, true_values=true_values, noise_sd=problem.noise_sd, trace=trace, regret=rec_trace[-1],
                 regret_best_observed=trace[-1], rec_at=rec_at, rec_trace=rec_trace, recommended=recommended)
    else:
      trace = (np.minimum.accumulate(np.array(values)) - problem.optimum).tolist()
      rec.update(values=values, trace=trace, regret=trace[-1])
    rec.update(suggest_s=times, min_dist=min_distances(np.array(xs)))
    if getattr(adapter, "info", None): rec["info"] = adapter.info
  except ImportError as e: rec["skipped"] = str(e)
  except Exception as e: rec["error"] = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}"
  return rec

def schedule_of(strategy: str) -> tuple[str, int, bool]:
  """'S@qK' -> (S, K, False): batches of K; 'S@aK' -> (S, K, True): K asynchronous workers; any other name -> (name, 1, False)."""
  base, sep, rest = strategy.rpartition("@")
  if not sep or rest[:1] not in ("q", "a"): return strategy, 1, False
  if not rest[1:].isdigit() or int(rest[1:]) < 1:
    raise ValueError(f"strategy {strategy!r}: after '@q' (batches) or '@a' (asynchronous workers) an int >= 1, e.g. gp@q4 or gp@a4")
  return base, int(rest[1:]), rest[0] == "a"

def ask_batch(adapter: Any, k: int) -> list[dict[str, Any]]:
  """k configurations before any is told: the adapter's ask_batch(k) where it has one (tinybo's suggest(k)), else ask() k times."""
  return adapter.ask_batch(k) if k > 1 and hasattr(adapter, "ask_batch") else [adapter.ask() for _ in range(k)]

def _run_star(args: tuple) -> dict[str, Any]:
  os.environ.setdefault("PARALLEL", "0")
  return run_one(*args)

def run_key(r: dict[str, Any]) -> tuple:
  return (r["problem"], r["strategy"], r["seed"], r["budget"])

def load_runs(paths: list[str | Path]) -> list[dict[str, Any]]:
  """The runs of several results files, merged; where two hold the same (problem, strategy, seed, budget), the later file
  wins."""
  merged: dict[tuple, dict[str, Any]] = {}
  for p in paths:
    for r in json.loads(Path(p).read_text())["runs"]: merged[run_key(r)] = r
  return list(merged.values())

def run_jobs(jobs: list[tuple], path: Path, meta: dict[str, Any], make: Callable | None = None, workers: int = 1,
             resume: bool = False) -> list[dict[str, Any]]:
  """Runs jobs (problem, strategy, seed, budget) and rewrites `path` after every run. resume=True keeps the runs already in
  `path` and skips every job that has a finished run there (failed or skipped ones run again)."""
  old = load_runs([path]) if resume and path.exists() else []
  done = {run_key(r) for r in old if "regret" in r}
  # a kept run of a job's (problem, strategy, seed) at another budget would sit beside the new one: the same seed twice
  other = sorted({j[:3] for j in jobs for k in done if k[:3] == j[:3] and k[3] != (j[3] or _budget(j[0]))})
  if other:
    raise ValueError(f"{path} holds {other[:3]}{' ...' if len(other) > 3 else ''} at another budget: resume with the same --budget "
                     "or use another --tag")
  jobs = [j for j in jobs if (j[0], j[1], j[2], j[3] or _budget(j[0])) not in done]
  records = [r for r in old if run_key(r) in done]
  if resume: print(f"resuming {path}: {len(done)} finished runs kept, {len(jobs)} to run", flush=True)
  t0, n0 = time.time(), len(records)
  def record(r: dict[str, Any]) -> None:  # saved after every run: an interrupted suite keeps what it finished
    records[:] = [q for q in records if run_key(q) != run_key(r)] + [r]
    _progress(r, len(records) - n0, len(jobs), t0)
    tmp = path.with_suffix(".json.tmp")   # written aside and renamed: a reader never sees half a file
    tmp.write_text(json.dumps({"meta": {**meta, "wall_s": time.time() - t0, "complete": len(records) - n0 == len(jobs)}, "runs": records}))
    os.replace(tmp, path)
  if workers <= 1 or make is not None:
    for j in jobs: record(run_one(*j, make=make))
  else:
    with mp.get_context("spawn").Pool(workers, maxtasksperchild=None) as pool:
      for r in pool.imap_unordered(_run_star, jobs): record(r)
  return records

def _budget(problem: str) -> int:
  from benchmarks.functions import get_problem
  return get_problem(problem).budget

def cpu_description() -> str | None:
  """The CPU's model name, family/model numbers and vector extensions from /proc/cpuinfo (None elsewhere). tinygrad
  compiles for the host (clang -march=native), so two machines of one model name but other extensions (AVX-512 or not)
  round differently and a run's path differs from the first guided suggestion on: results name the CPU they ran on."""
  try: lines = Path("/proc/cpuinfo").read_text().splitlines()
  except OSError: return None
  info = {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[:40]) if v}
  flags = set(info.get("flags", "").split())
  simd = [f for f in ("avx512f", "avx2", "fma") if f in flags]
  return f"{info.get('model name', '?')} (family {info.get('cpu family', '?')}, model {info.get('model', '?')}; {' '.join(simd) or 'no avx2'})"

def run_meta(argv: list[str]) -> dict[str, Any]:
  return {"argv": argv, "machine": platform.processor() or platform.machine(), "cpu": cpu_description(), "cpus": os.cpu_count(),
          "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
          "threads": {k: os.environ.get(k) for k in THREAD_VARS}, "python": platform.python_version(), "numpy": np.__version__}

# ***** statistics and tables *****

def is_tinybo(strategy: str) -> bool: return (b := schedule_of(strategy)[0]) in TINYBO or b.startswith("gp:")
def is_peer(strategy: str) -> bool: return not is_tinybo(strategy)

def near_fraction(runs: list[dict[str, Any]], near: float = NEAR) -> float | None:
  """Fraction of all evaluations of these runs that lie within `near` of an earlier evaluation of the same run."""
  ds = [d for r in runs for d in r.get("min_dist", [])]
  if not ds or any("min_dist" not in r for r in runs): return None
  return sum(d is not None and d < near for d in ds) / len(ds)

def summarize(records: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
  """(problem, strategy) -> n, median, p80 (numpy's linearly interpolated 80th percentile), worst, q25, q75 of the final
  regret; near (fraction of evaluations within NEAR of an earlier one) and suggest_ms (median seconds per suggestion over
  the second half of each run)."""
  groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
  for r in records:
    if "regret" in r: groups.setdefault((r["problem"], r["strategy"]), []).append(r)
  out = {}
  for k, runs in groups.items():
    # runs are keyed by budget too (load_runs, --resume), so one seed can be held twice: at two budgets it would count twice
    seeds = sorted(r["seed"] for r in runs)
    twice = sorted({s for s in seeds if seeds.count(s) > 1})
    if twice:
      budgets = sorted({r["budget"] for r in runs if r["seed"] in twice})
      raise ValueError(f"{k[0]}/{k[1]}: seeds {twice} are held more than once (budgets {budgets}); summarize runs of one budget")
    reg = np.array([r["regret"] for r in runs])
    times = [t for r in runs for t in r["suggest_s"][len(r["suggest_s"]) // 2:]]
    out[k] = {"n": len(runs), "median": float(np.median(reg)), "p80": float(np.percentile(reg, 80)), "worst": float(reg.max()),
              "q25": float(np.percentile(reg, 25)), "q75": float(np.percentile(reg, 75)), "near": near_fraction(runs),
              "suggest_ms": 1e3 * float(np.median(times)), "seeds": sorted(r["seed"] for r in runs)}
  return out

def _g(v: float) -> str: return f"{v:.3g}"

def markdown_table(records: list[dict[str, Any]], problems: list[str], strategies: list[str]) -> str:
  """Final regret per problem: median / p80 / worst for each strategy ([n=k] where a strategy has fewer runs than the
  row's most). Among the peers with all the row's runs, the best median and the best 80th percentile per problem are
  bold; the last column says whether tinybo's gp is at most the best such peer on each."""
  s = summarize(records)
  peers = [st for st in strategies if is_peer(st)]
  verdict = "gp" in strategies and bool(peers)
  head = ["problem (evals)"] + strategies + (["gp ≤ best peer (median, p80)"] if verdict else [])
  lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
  for p in problems:
    n_max = max((s[(p, st)]["n"] for st in strategies if (p, st) in s), default=0)
    have = [st for st in peers if (p, st) in s and s[(p, st)]["n"] == n_max]   # a peer with fewer runs is shown, not ranked
    best_med = min((s[(p, st)]["median"] for st in have), default=None)
    best_p80 = min((s[(p, st)]["p80"] for st in have), default=None)
    cells = []
    for st in strategies:
      if (p, st) not in s:
        failed = [r for r in records if r["problem"] == p and r["strategy"] == st and ("skipped" in r or "error" in r)]
        cells.append("n/a" if failed else "")
        continue
      v = s[(p, st)]
      med, p80 = _g(v["median"]), _g(v["p80"])
      if st in have and v["median"] == best_med: med = f"**{med}**"
      if st in have and v["p80"] == best_p80: p80 = f"**{p80}**"
      cells.append(f"{med} / {p80} / {_g(v['worst'])}" + (f" [n={v['n']}]" if v["n"] < n_max else ""))
    if verdict:
      g = s.get((p, "gp"))
      cells.append("" if g is None or best_med is None else
                   f"{'yes' if g['median'] <= best_med else 'no'}, {'yes' if g['p80'] <= best_p80 else 'no'}")
    budget = next((r["budget"] for r in records if r["problem"] == p), None)
    lines.append(f"| {p} ({budget}) | " + " | ".join(cells) + " |")
  return "\n".join(lines)

def repeats_table(records: list[dict[str, Any]], problems: list[str], strategies: list[str]) -> str:
  """Per problem and strategy: the % of evaluations within NEAR of an earlier one, and the median ms per suggestion."""
  s = summarize(records)
  lines = ["| problem | " + " | ".join(strategies) + " |", "|---" * (len(strategies) + 1) + "|"]
  for p in problems:
    cells = []
    for st in strategies:
      v = s.get((p, st))
      if v is None: cells.append(""); continue
      near = "?" if v["near"] is None else f"{100 * v['near']:.1f}%"
      cells.append(f"{near} ({v['suggest_ms']:.0f} ms)")
    lines.append(f"| {p} | " + " | ".join(cells) + " |")
  return "\n".join(lines)

def halves(records: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
  """[(label, runs)]: seeds 0-9, seeds 10-19 and all of them, where the runs span both halves; else all runs alone."""
  seeds = {r["seed"] for r in records}
  if not (any(s < 10 for s in seeds) and any(s >= 10 for s in seeds)): return [(_seed_label(seeds), records)]
  lo, hi = [r for r in records if r["seed"] < 10], [r for r in records if r["seed"] >= 10]
  return [(_seed_label({r["seed"] for r in lo}), lo), (_seed_label({r["seed"] for r in hi}), hi), (_seed_label(seeds), records)]

def _seed_label(seeds: set[int]) -> str:
  s = sorted(seeds)
  return f"seeds {s[0]}-{s[-1]}" if s and s == list(range(s[0], s[-1] + 1)) else f"seeds {', '.join(map(str, s))}"

def report(records: list[dict[str, Any]], problems: list[str], strategies: list[str], split: bool | None = None) -> str:
  """Regret tables (median / p80 / worst) and the repeats table, for each half of the seeds and for all of them.
  split=None splits automatically when the seeds span 0-9 and 10-19."""
  parts = halves(records) if split is not False else [(_seed_label({r["seed"] for r in records}), records)]
  out = []
  for label, runs in parts:
    out.append(f"### final regret, {label}: median / 80th percentile / worst (bold: best peer)\n\n{markdown_table(runs, problems, strategies)}")
  out.append(f"### evaluations within {NEAR:g} (max-norm, unit cube) of an earlier one; median ms per suggestion (second half), "
             f"{parts[-1][0]}\n\n{repeats_table(parts[-1][1], problems, strategies)}")
  return "\n\n".join(out)

def plot(records: list[dict[str, Any]], problems: list[str], strategies: list[str], out_dir: Path, tag: str) -> list[str]:
  """Regret curves per problem: median and IQR over seeds. Noisy problems plot the regret of the recommendation at its
  checkpoints (rec_trace) where the runs have it."""
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
    n_seeds, noisy = 0, False
    for st in strategies:
      runs = [r for r in records if r["problem"] == p and r["strategy"] == st and "trace" in r]
      if not runs: continue
      noisy = all("rec_trace" in r for r in runs)
      T = np.maximum(np.array([r["rec_trace"] if noisy else r["trace"] for r in runs]), 1e-9)
      t = np.array(runs[0]["rec_at"]) if noisy else np.arange(1, T.shape[1] + 1)
      ax.plot(t, np.median(T, 0), label=st, lw=2 if st == "gp" else 1.2, marker="." if noisy else None)
      ax.fill_between(t, np.percentile(T, 25, 0), np.percentile(T, 75, 0), alpha=0.15)
      n_seeds = max(n_seeds, len(runs))
    ax.set_yscale("log"); ax.set_xlabel("evaluations")
    ax.set_ylabel("regret at the recommendation" if noisy else "simple regret (median, IQR)")
    ax.set_title(f"{p} ({n_seeds} seeds)"); ax.grid(alpha=0.3, which="both"); ax.legend(fontsize=8)
    fig.tight_layout()
    path = out_dir / f"{tag}_{p}.png"
    fig.savefig(path, dpi=110); plt.close(fig)
    paths.append(str(path))
  return paths

def main(argv: list[str] | None = None) -> None:
  from benchmarks.functions import SUITE
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--problems", default=None, help=f"default: the suite, {','.join(SUITE)}; with --report: which to show")
  ap.add_argument("--strategies", default=None, help="default gp,random,optuna-tpe,optuna-gp; with --report: which to show, in order")
  ap.add_argument("--seeds", type=int, default=10)
  ap.add_argument("--seed-offset", type=int, default=0)
  ap.add_argument("--budget", type=int, default=None, help="evaluations per run (default: each problem's own)")
  ap.add_argument("--jobs", type=int, default=1, help="worker processes (this machine has few cores: 1-2)")
  ap.add_argument("--tag", default=None, help="results file name (default: a timestamp)")
  ap.add_argument("-o", "--out", default=str(RESULTS), help="folder for the results JSON and the curves (default: benchmarks/results)")
  ap.add_argument("--resume", action="store_true", help="keep the finished runs in results/<tag>.json and run only the others")
  ap.add_argument("--report", default=None, help="only print the tables and draw the curves of existing results JSONs (a.json,b.json merges them)")
  ap.add_argument("--halves", action=argparse.BooleanOptionalAction, default=None,
                  help="tables for seeds 0-9 and 10-19 besides all seeds (default: when the seeds span both)")
  ap.add_argument("--no-plot", action="store_true")
  args = ap.parse_args(argv)
  out = Path(args.out)
  if args.report:
    files = args.report.split(",")
    records = load_runs(files)
    problems = args.problems.split(",") if args.problems else list(dict.fromkeys(r["problem"] for r in records))
    strategies = args.strategies.split(",") if args.strategies else list(dict.fromkeys(r["strategy"] for r in records))
    print(report(records, problems, strategies, args.halves))
    if not args.no_plot:
      for png in plot(records, problems, strategies, out, Path(files[0]).stem): print(png)
    return
  problems, strategies = (args.problems or ",".join(SUITE)).split(","), (args.strategies or "gp,random,optuna-tpe,optuna-gp").split(",")
  from benchmarks.peers import PEERS, available, missing
  for st in strategies:
    b = schedule_of(st)[0]
    if b in ("optuna-gp", "optuna-gp-det") and available("optuna") and not available("greenlet"):
      ap.error("optuna-gp needs greenlet (without it Optuna's GPSampler silently takes a slower path): pip install greenlet")
    if b in PEERS and missing(PEERS[b][0]): print(f"skipping {st}: package {missing(PEERS[b][0])!r} is not installed", file=sys.stderr)
  strategies = [st for st in strategies if schedule_of(st)[0] not in PEERS or not missing(PEERS[schedule_of(st)[0]][0])]
  jobs = [(p, st, args.seed_offset + s, args.budget) for p in problems for st in strategies for s in range(args.seeds)]
  tag = args.tag or time.strftime("%Y%m%d-%H%M%S")
  out.mkdir(parents=True, exist_ok=True)
  path = out / f"{tag}.json"
  meta = {**run_meta(sys.argv[1:] if argv is None else argv), "problems": problems, "strategies": strategies, "seeds": args.seeds, "jobs": args.jobs}
  records = run_jobs(jobs, path, meta, workers=args.jobs, resume=args.resume)
  print(f"\nresults: {path}\n\n{report(records, problems, strategies, args.halves)}")
  for r in records:
    if "error" in r: print(f"error in {r['problem']}/{r['strategy']}/seed {r['seed']}: {r['error']}", file=sys.stderr)
  if not args.no_plot:
    for png in plot(records, problems, strategies, out, tag): print(png)

def _progress(r: dict[str, Any], i: int, n: int, t0: float) -> None:
  status = f"regret {r['regret']:.4g}" if "regret" in r else ("skipped" if "skipped" in r else "ERROR")
  print(f"[{i}/{n} {time.time() - t0:6.0f}s] {r['problem']:<15} {r['strategy']:<11} seed {r['seed']:<3} {status}", flush=True)

if __name__ == "__main__":
  main()
