"""A study's suggestions do not depend on what ran before it in the same process: tinybo keeps process-wide caches
(captured programs per shape bucket, persistent input buffers, the disk cache of captures), and none of them may carry
numbers from one study into another. A notebook, a sweep script or a Ray worker that runs several studies in one
process must get, for each, the suggestions a fresh process gets (the reference: a child process that runs it first).
This file is also the child's script: `python tests/test_process_history.py other,noisy 0` runs the studies in order
and prints the last one's suggestions as JSON.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent

def branin(x1:float, x2:float) -> float:
  return (x2 - 5.1 / (4 * math.pi ** 2) * x1 ** 2 + 5 / math.pi * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10

def noisy(seed:int) -> list:
  """Branin + N(0, 1) with acquisition="auto" (UCB, then LogEI and a second model on the raw values once the data show
  noise), 26 evaluations: fits in the 8-32 row buckets, the noise evidence's second fit, recommend() every 10."""
  import tinybo as tb
  space = tb.Space({"x1": tb.Float(-5.0, 10.0), "x2": tb.Float(0.0, 15.0)})
  opt = tb.Optimizer(space, strategy=tb.GP(acquisition="auto"), seed=seed)
  out: list = []
  for i in range(26):
    t = opt.suggest()
    out.append([t.params["x1"], t.params["x2"]])
    opt.observe(t, branin(**t.params) + float(np.random.default_rng([7, seed, i]).standard_normal()))
    if (i + 1) % 10 == 0: out.append(["recommend", opt.recommend().id])
  return out

def other(seed:int) -> list:
  """Another study on programs of the same buckets with other numbers, shapes and kernels: a categorical and a conditional
  parameter (the tree's posterior and branch bonus), the power warp, the kernel choice, failed trials, batches of 3."""
  import tinybo as tb
  space = tb.Space({"a": tb.Float(0.0, 1.0), "b": tb.Float(1e-3, 1.0, log=True), "c": tb.Categorical(["x", "y"]),
                    "e": tb.Float(0.0, 1.0, when={"c": "y"})})
  opt = tb.Optimizer(space, strategy=tb.GP(warp="power", kernel="auto"), seed=seed)
  for i in range(8):
    for t in opt.suggest(3):
      p = t.params
      if i == 5 and p["c"] == "y": opt.fail(t); continue
      opt.observe(t, (p["a"] - 0.3) ** 2 + math.log(p["b"]) ** 2 / 10 + p.get("e", 0.5) + 1e3 * (p["a"] > 0.9))
  return []

STUDIES = {"noisy": noisy, "other": other}

def run_in_child(order:str, seed:int, **env:str) -> list:
  env = dict(os.environ, PYTHONPATH=str(ROOT), DEV=os.environ.get("DEV", "CPU"), PARALLEL="0", **env)
  r = subprocess.run([sys.executable, "-W", "ignore", __file__, order, str(seed)], env=env, capture_output=True, text=True, timeout=900, cwd=ROOT)
  assert r.returncode == 0, r.stderr[-3000:]
  return json.loads(r.stdout.strip().splitlines()[-1])

@pytest.fixture(scope="module")
def fresh() -> list:
  """The study "noisy" as a fresh process runs it."""
  out = run_in_child("noisy", 0)
  assert len(out) == 26 + 2
  return out

@pytest.mark.slow
def test_a_study_suggests_the_same_after_other_studies_in_the_same_process(fresh):
  # after another study in a fresh child (with a cold disk cache, the first run after any change of tinybo's source, every
  # program is captured under that study's history)
  assert run_in_child("other,noisy", 0) == fresh
  # and here, after whatever this test process ran before (the suite's other studies) and one more study
  other(0)
  assert noisy(0) == fresh

@pytest.mark.slow
def test_studies_in_two_threads_of_one_process_suggest_as_each_alone(fresh):
  # a notebook or a threaded worker with two studies at once: they share the process's captured programs and buffers
  done, errors = threading.Event(), []
  def others():
    try:
      seed = 0
      while not done.is_set(): other(seed); seed += 1
    except Exception as e: errors.append(e)  # noqa: BLE001 - reported by the assertion below
  t = threading.Thread(target=others, daemon=True)
  t.start()
  try: result = noisy(0)
  finally:
    done.set()
    t.join(timeout=600)
  assert not errors, errors
  assert result == fresh

if __name__ == "__main__":
  result: list = []
  for name in sys.argv[1].split(","): result = STUDIES[name](int(sys.argv[2]))
  print(json.dumps(result))
