"""A whole first study in a fresh process with empty caches: seconds per suggestion, and which programs each suggestion
captured (compiled) and for how long. The first study on a machine (or after an upgrade of tinybo or tinygrad) pays for
every shape bucket's programs; `cold_start.py` times only the first suggestion.

  DEV=CPU OMP_NUM_THREADS=1 taskset -c 0 python -m benchmarks.first_study --problem hartmann6 [--budget 60] [--seed 0] [--out F.json]

The process points TINYBO_CACHE_DIR and tinygrad's CACHEDB at new empty folders before importing tinybo (`--warm DIR`
reuses DIR's caches instead, to compare). Glossary: a capture is a `_tinygrad.CachedJit` whose TinyJit captured on this
call (scheduled, generated and compiled its kernels); its key names the program and its shapes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--problem", default="hartmann6")
  ap.add_argument("--budget", type=int, default=None, help="evaluations (default: the problem's budget)")
  ap.add_argument("--seed", type=int, default=0)
  ap.add_argument("--warm", default=None, help="a folder whose caches to use (made if missing) instead of new empty ones")
  ap.add_argument("--out", type=Path, default=None)
  args = ap.parse_args(argv)
  root = Path(args.warm) if args.warm else Path(tempfile.mkdtemp(prefix="tinybo-first-study-"))
  root.mkdir(parents=True, exist_ok=True)
  if "tinybo" in sys.modules or "tinygrad" in sys.modules: raise SystemExit("run first_study in a fresh process (python -m benchmarks.first_study)")
  os.environ["TINYBO_CACHE_DIR"], os.environ["CACHEDB"] = str(root / "jit"), str(root / "cache.db")

  import tinybo as tb
  from benchmarks.functions import PROBLEMS
  from tinybo import _tinygrad

  captures: list[dict] = []
  init, call = _tinygrad.CachedJit.__init__, _tinygrad.CachedJit.__call__
  def counted_init(self, fxn, key, noopt, disk=True, device=None):
    self.bench_key = key
    init(self, fxn, key, noopt, disk=disk, device=device)
  def counted_call(self, *a):
    if self.jit.captured is not None: return call(self, *a)
    t = time.perf_counter()
    out = call(self, *a)
    name = [getattr(k, "__name__", str(k)) for k in self.bench_key]
    captures.append({"key": " ".join(name)[:160], "noopt": self.noopt, "s": time.perf_counter() - t})
    return out
  _tinygrad.CachedJit.__init__, _tinygrad.CachedJit.__call__ = counted_init, counted_call

  problem = PROBLEMS[args.problem]
  budget = args.budget or problem.budget
  t0 = time.perf_counter()
  opt = tb.Optimizer(problem.space, seed=args.seed)
  rows = []
  for i in range(budget):
    before, t = len(captures), time.perf_counter()
    trial = opt.suggest()
    dt = time.perf_counter() - t
    opt.observe(trial, problem(trial.params))
    rows.append({"i": i, "s": dt, "captures": captures[before:]})
    if captures[before:]:
      print(f"suggestion {i:3d}: {dt:6.2f} s, captured " + ", ".join(f"{c['key'][:60]} ({c['s']:.2f} s)" for c in captures[before:]), flush=True)
  total, compiling = sum(r["s"] for r in rows), sum(c["s"] for c in captures)
  print(f"{args.problem}, {budget} suggestions, caches {'of ' + str(root) if args.warm else 'empty'}: {total:.1f} s in suggest, "
        f"{len(captures)} captures {compiling:.1f} s of it; process {time.perf_counter() - t0:.1f} s")
  if args.out is not None:
    args.out.write_text(json.dumps({"problem": args.problem, "budget": budget, "seed": args.seed, "warm": args.warm,
                                    "suggest_s": total, "capture_s": compiling, "captures": len(captures), "rows": rows}, indent=1))
    print(f"saved {args.out}")

if __name__ == "__main__":
  main()
