"""The real multi-fidelity benchmark (benchmarks/mlp_fidelity.py) at a tiny budget: the demo's MLP trained for 2 epochs,
2 trials in the reference; every method's run spends its budget, reports every epoch, counts only complete trials; a
configuration's curve is the same when trained twice (the benchmark's premise); the three libraries' spaces agree."""
import math

import numpy as np
import pytest

from benchmarks import mlp_fidelity as mf

pytestmark = pytest.mark.slow   # the first epoch compiles the demo's kernels (10-50 s)

@pytest.fixture(scope="module")
def smoke():
  methods = ["gp-full", "gp-asha", "gp-median", "random-asha", "optuna-tpe-hyperband"]
  data = mf.main(["--methods", ",".join(methods), "--seeds", "0", "--epochs", "2", "--full-trials", "2", "--stop-fraction", "0.75"])
  return methods, data

def test_every_method_spends_its_budget_and_counts_only_complete_trials(smoke):
  methods, data = smoke
  runs = {r["method"]: r for r in data["runs"]}
  assert list(runs) == methods
  for m, r in runs.items():
    budget = 4 if m == "gp-full" else 3   # 2 trials x 2 epochs; 0.75 of it
    assert r["budget"] == budget and r["trace"][-2][0] < budget <= r["trace"][-1][0] if len(r["trace"]) > 1 else budget <= r["trace"][-1][0]
    steps = [0] + [s for s, _ in r["trace"]]
    assert [len(t["curve"]) for t in r["trials"]] == list(np.diff(steps))
    best = math.inf
    for t, (_, b) in zip(r["trials"], r["trace"]):
      assert t["complete"] == (len(t["curve"]) == 2) and all(-3 < v <= 0 for v in t["curve"])   # log10 of an error in (0, 1]
      if t["complete"]: best = min(best, 10 ** t["curve"][-1])
      assert b == best
  assert all(t["complete"] for t in runs["gp-full"]["trials"]) and len(runs["gp-full"]["trials"]) == 2

def test_a_curve_is_the_same_when_trained_again(smoke):
  _, data = smoke
  t = data["runs"][0]["trials"][0]
  assert list(mf.curve(t["params"], seed=0, epochs=2)) == t["curve"]

def test_summary_reads_the_runs(smoke):
  _, data = smoke
  table = mf.summary(data["runs"])
  assert "full budget 4 epochs (2 trials x 2)" in table and table.count("\n| ") == 1 + len(data["runs"])   # the header, one row per method

def test_the_three_spaces_agree():
  for name in ("small", "demo"):
    params, cond = mf.space_spec(name)
    space = mf.tinybo_space(name)
    assert space.names == list(params) and set(space.conditions) == set(cond)
    optuna = pytest.importorskip("optuna")
    rng_seeds = range(20)
    for s in rng_seeds:
      trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=s)).ask()
      p = mf.optuna_params(trial, name)
      assert space.validate(p) is not None   # a valid point of the tinybo space: bounds and the condition
    pytest.importorskip("ray")
    ray_space = mf.ray_space(name)
    for k, (kind, *rest) in params.items():
      d = ray_space[k]
      if kind == "cat": assert list(d.categories) == list(rest[0])
      else: assert (d.lower, d.upper) == (rest[0], rest[1] + (kind == "int"))   # Ray's integer upper bound is exclusive
