"""The latency benchmarks' own plumbing: suggest_profile's split of a suggestion into parts (they add up to at most the
step, each counted where the strategy runs it, and every wrapped function is put back), and suggest_latency --options."""
import tinybo.bo as bo
import tinybo.optim_acqf as oa
from benchmarks.suggest_latency import tinybo_latency
from benchmarks.suggest_profile import PARTS, profile

FORMER, DEFAULT = "gp:acquisition=ucb;trust_region=False", "gp:trust_region=True"

def test_the_parts_of_a_step_add_up_to_at_most_the_step_and_are_counted_where_they_run():
  originals = (bo.GP._fit, bo.GP._fit_local, bo.noise_evidence, bo.optimize_acquisition, oa.AcquisitionEvaluator._call)
  r = profile("branin", 12, "random", [FORMER, DEFAULT], reps=2, warmup=0)
  assert (bo.GP._fit, bo.GP._fit_local, bo.noise_evidence, bo.optimize_acquisition, oa.AcquisitionEvaluator._call) == originals
  for s in (FORMER, DEFAULT):
    outer = sum(r[s][k]["mean_ms"] for k in PARTS if k != "replays")   # the replays run inside the acquisition optimizations
    assert 0 < outer <= r[s]["total"]["mean_ms"]
    assert 0 < r[s]["replays"]["mean_ms"] <= sum(r[s][k]["mean_ms"] for k in PARTS if k.startswith("acq_"))
    assert r[s]["fit"]["calls"] == 1.0   # one fit of the main chain per suggestion
  # Branin's design is 5 points: trial 12 is a local turn of the trust region (its chain's first, cold fit), trial 13 is not
  assert r[FORMER]["local_fit"]["calls"] == 0.0 and r[DEFAULT]["local_fit"]["calls"] == 0.5
  assert r[FORMER]["acq_ucb"]["calls"] == 1.0

def test_suggest_latency_options_build_the_gp_with_those_arguments(monkeypatch):
  seen = []
  inner = bo.GP.suggest
  monkeypatch.setattr(bo.GP, "suggest", lambda self, *a, **k: seen.append(self) or inner(self, *a, **k))
  t = tinybo_latency(12, reps=1, warmup=0, options="acquisition=ucb;trust_region=False")
  assert t["ms"] > 0 and t["fit_ms"] + t["acq_ms"] <= t["ms"] + 1e-9
  assert {(g.acquisition, g.trust_region, g.seed) for g in seen} == {("ucb", False, 0)}
  seen.clear()
  tinybo_latency(12, reps=1, warmup=0)
  assert {(g.acquisition, g.trust_region, g.seed) for g in seen} == {("edge", True, 0)}
