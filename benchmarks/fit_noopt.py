"""The GP fit step with and without tinygrad's kernel optimization (NOOPT), per row bucket: seconds to capture (compile)
and milliseconds per replay (one evaluation of the marginal likelihood and its gradient), for `gp.NOOPT_MAX_N`.

  DEV=CPU OMP_NUM_THREADS=1 taskset -c 0 python -m benchmarks.fit_noopt --ns 48,64,80,96,112,128,160 --d 20 --out F.json

Each (N, restarts, NOOPT) is captured in a fresh subprocess with tinybo's disk cache off and an empty tinygrad compile
cache, so every capture compiles from nothing; replays are the median of --reps after 3 unmeasured ones.
Glossary: N the row bucket (n = N rows of random data), D the column bucket of d columns, b the batched restarts.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(N: int, d: int, b: int, noopt: bool, reps: int) -> dict:
  """In this process: capture the fit step at (N, d, b) with or without NOOPT, then time its replays."""
  import numpy as np

  import tinybo.gp as gpm
  gpm.NOOPT_MAX_N = 1 << 30 if noopt else 0
  rng = np.random.default_rng(0)
  X, y = rng.random((N, d)), rng.standard_normal(N)
  model = gpm.GPRegressor("matern52")
  model._set_data(X, (y - y.mean()) / y.std(), None)
  phi = np.concatenate([np.full((b, model.G), np.log(0.5 * np.sqrt(d))), np.zeros((b, 1)), np.full((b, 1), np.log(1e-2))], axis=1)
  phi[1:, :model.G] += rng.normal(0, 0.3, size=(b - 1, model.G))
  jitter = np.full(b, 1e-9)
  t = time.perf_counter()
  step = model._step(b)
  out = gpm.download(model._run(step, phi, jitter)[0])
  capture = time.perf_counter() - t
  for _ in range(3): gpm.download(model._run(step, phi, jitter)[0])
  times = []
  for _ in range(reps):
    t = time.perf_counter(); gpm.download(model._run(step, phi, jitter)[0]); times.append(time.perf_counter() - t)
  return {"N": N, "D": model.D, "b": b, "noopt": noopt, "capture_s": capture, "replay_ms": 1e3 * statistics.median(times),
          "nll": float(out[0, 0])}

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--ns", default="48,64,80,96,112,128,160")
  ap.add_argument("--d", type=int, default=20)
  ap.add_argument("--restarts", default="1,4")
  ap.add_argument("--reps", type=int, default=20)
  ap.add_argument("--out", type=Path, default=None)
  ap.add_argument("--one", default=None, help=argparse.SUPPRESS)   # N,b,noopt: measure in this process and print JSON
  args = ap.parse_args(argv)
  if args.one is not None:
    N, b, noopt = (int(v) for v in args.one.split(","))
    print(json.dumps(measure(N, args.d, b, bool(noopt), args.reps)))
    return
  rows = []
  print("| N | D | restarts | capture s, NOOPT / optimized | replay ms, NOOPT / optimized | NLL equal |\n|---|---|---|---|---|---|")
  for N in (int(v) for v in args.ns.split(",")):
    for b in (int(v) for v in args.restarts.split(",")):
      pair = []
      for noopt in (1, 0):
        with tempfile.TemporaryDirectory() as tmp:
          env = {**os.environ, "TINYBO_CACHE_DIR": "0", "CACHEDB": str(Path(tmp) / "cache.db")}
          res = subprocess.run([sys.executable, "-m", "benchmarks.fit_noopt", "--one", f"{N},{b},{noopt}", "--d", str(args.d),
                                "--reps", str(args.reps)], capture_output=True, text=True, env=env, check=True)
        pair.append(json.loads(res.stdout.strip().splitlines()[-1]))
      rows += pair
      a, o = pair
      print(f"| {N} | {a['D']} | {b} | {a['capture_s']:.1f} / {o['capture_s']:.1f} | {a['replay_ms']:.2f} / {o['replay_ms']:.2f} | "
            f"{abs(a['nll'] - o['nll']) <= 1e-9 * max(1.0, abs(a['nll']))} |", flush=True)
  if args.out is not None:
    args.out.write_text(json.dumps({"d": args.d, "rows": rows}, indent=1))
    print(f"saved {args.out}")

if __name__ == "__main__":
  main()
