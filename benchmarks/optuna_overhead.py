"""TinyBOSampler's own cost per suggestion (outside the GP) as an Optuna study grows: n = 100, 500, 1000 trials.

  DEV=CPU OMP_NUM_THREADS=1 PYTHONPATH=$PWD taskset -c 1 python -m benchmarks.optuna_overhead            # before = main
  ... python -m benchmarks.optuna_overhead --ns 100,500,1000 --reps 5 --before main --storages memory,sqlite

Protocol: a Hartmann6 study (6 floats) is filled to n complete trials with uniform random points (study.add_trials;
each carries a stored proposal, as a trial the sampler proposed does). Then, per rep, each variant takes one step on it:
ask, the 6 suggest_float (the sampler proposes), tell; "before" is tinybo/integrations/optuna.py as of --before (git
show, loaded as a second module), "after" is the working tree's, each a TinyBOSampler(seed=0) of its own (its own
tb.GP: the GP's warm start carries from step to step within a variant, as in a study). So n grows by 2 per rep. The
step's time is split (exclusive times, nested calls subtracted) into: gp = the strategy's suggest (the GP's fit and
acquisition: the same call, on the same space and trials, that tb.Optimizer makes); convert = the sampler's tree
inference and history conversion (infer_relative_search_space, _history); reads = every study.get_trials of the step
(Optuna's own included); publish = storing the proposal and looking for rivals (_share, _rivals); sampler = the whole
of infer_relative_search_space + sample_relative (sampler_rest: what is left of it, the rivals' bookkeeping);
overhead = sampler - gp. Medians over --reps steps after one warm-up.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"): os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402

OUT = Path(__file__).parent / "results" / "s26_optuna_overhead.json"
CATS = ("gp", "convert", "reads", "publish", "sampler_rest", "sampler")

class Clock:
  """Exclusive times by category: a wrapped call's time minus the wrapped calls inside it."""
  def __init__(self): self.times, self.stack = dict.fromkeys(CATS, 0.0), []
  def reset(self): self.times = dict.fromkeys(CATS, 0.0)
  def wrap(self, cat, fn):
    def timed(*a, **k):
      self.stack.append(0.0); t0 = time.perf_counter()
      try: return fn(*a, **k)
      finally:
        dt = time.perf_counter() - t0; inner = self.stack.pop()
        self.times[cat] += dt - inner
        if cat == "sampler_rest": self.times["sampler"] += dt   # the sampler's calls, inclusive
        if self.stack: self.stack[-1] += dt
    return timed

def load_before(rev: str):
  src = subprocess.run(["git", "show", f"{rev}:tinybo/integrations/optuna.py"], capture_output=True, text=True, check=True).stdout
  name = "tinybo.integrations._optuna_before"
  spec = importlib.util.spec_from_loader(name, loader=None)
  mod = importlib.util.module_from_spec(spec); sys.modules[name] = mod
  exec(compile(src, f"<{rev}:tinybo/integrations/optuna.py>", "exec"), mod.__dict__)
  return mod

def instrumented(mod, clock: Clock):
  """A TinyBOSampler of module `mod` whose calls are timed by `clock` (the module's helpers patched in place)."""
  if not getattr(mod, "_timed", False):
    for name in ("_share", "_rivals"): setattr(mod, name, clock.wrap("publish", getattr(mod, name)))
    mod._timed = True
  s = mod.TinyBOSampler(seed=0)
  s._strategy.suggest = clock.wrap("gp", s._strategy.suggest)
  s._history = clock.wrap("convert", s._history)
  irs, sr = s.infer_relative_search_space, s.sample_relative
  s.infer_relative_search_space = clock.wrap("sampler_rest", clock.wrap("convert", irs))
  s.sample_relative = clock.wrap("sampler_rest", sr)
  return s

def main(argv: list[str] | None = None) -> None:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--ns", default="100,500,1000")
  ap.add_argument("--reps", type=int, default=5)
  ap.add_argument("--before", default="main", help="git revision of the 'before' sampler ('' to time only the working tree's)")
  ap.add_argument("--storages", default="memory,sqlite")
  ap.add_argument("--out", default=str(OUT))
  args = ap.parse_args(argv)
  import optuna
  from optuna.distributions import FloatDistribution

  import tinybo.integrations.optuna as after
  from benchmarks.functions import PROBLEMS
  optuna.logging.set_verbosity(optuna.logging.WARNING)
  clock = Clock()
  optuna.study.Study.get_trials = clock.wrap("reads", optuna.study.Study.get_trials)
  variants = {"after": after} | ({"before": load_before(args.before)} if args.before else {})
  prob, dists = PROBLEMS["hartmann6"], {f"x{i}": FloatDistribution(0, 1) for i in range(6)}
  rows = []
  for storage in args.storages.split(","):
    for n in map(int, args.ns.split(",")):
      with tempfile.TemporaryDirectory() as tmp:
        url = None if storage == "memory" else f"sqlite:///{tmp}/s.db"
        study = optuna.create_study(storage=url)
        rng = np.random.default_rng(n)
        def trial(p):
          return optuna.trial.create_trial(params=p, distributions=dists, value=prob(p), system_attrs={"tinybo:proposal:0": json.dumps(p)})
        study.add_trials([trial({k: float(v) for k, v in zip(dists, rng.random(6))}) for _ in range(n)])
        samplers = {v: instrumented(m, clock) for v, m in variants.items()}
        times: dict[str, list[dict]] = {v: [] for v in variants}
        for rep in range(args.reps + 1):
          for v, s in samplers.items():
            study.sampler = s; clock.reset(); t0 = time.perf_counter()
            t = study.ask(); p = {k: t.suggest_float(k, 0, 1) for k in dists}; study.tell(t, prob(p))
            step = time.perf_counter() - t0
            if rep: times[v].append({"step": step, **clock.times})
        for v, ts in times.items():
          med = {k: float(np.median([t[k] for t in ts])) for k in ts[0]}
          med["overhead"] = float(np.median([t["sampler"] - t["gp"] for t in ts]))
          rows.append({"storage": storage, "n": n, "variant": v, "reps": len(ts), **med, "steps": ts})
          print(f"{storage:6} n={n:5} {v:6} step {med['step']:.3f}  sampler {med['sampler']:.3f}  gp {med['gp']:.3f}  "
                f"overhead {med['overhead']:.3f} ({med['overhead'] / med['sampler']:.0%})  convert {med['convert']:.3f}  reads {med['reads']:.3f}  "
                f"publish {med['publish']:.4f}", flush=True)
  Path(args.out).write_text(json.dumps({"protocol": __doc__, "before": args.before, "rows": rows}, indent=1))
  print(f"wrote {args.out}")

if __name__ == "__main__": main()
