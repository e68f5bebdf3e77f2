"""Benchmark problems and runner statistics: declared optima and minimizers against scipy's local optimizer, the noise
contract of the noisy problems, and the runner's summary numbers against numpy/scipy."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.spatial.distance import cdist
from scipy.stats import kstest, norm

from benchmarks.functions import H6_25D_ACTIVE, PROBLEMS, SUITE, noise_draw
from benchmarks.run import halves, load_runs, markdown_table, min_distances, run_jobs, run_one, summarize
from tinybo.space import Float, all_values

ROOT = Path(__file__).resolve().parents[1]

def _floats(name):
  """Continuous problems only: every parameter a Float without a step (a stepped problem's minimum is a lattice point's)."""
  p = PROBLEMS[name]
  return all(isinstance(q, Float) and q.step is None for q in p.params.values())

def _as_fn(name):
  """f over a vector in the problem's own coordinates, and the box bounds (Float-only problems)."""
  p = PROBLEMS[name]
  keys = list(p.params)
  return (lambda x: p(dict(zip(keys, map(float, x))))), [(p.params[k].low, p.params[k].high) for k in keys], keys

def test_the_suite_has_the_issue_11_problems_and_budgets():
  assert dict((n, PROBLEMS[n].budget) for n in SUITE) == {
    "branin": 30, "camel": 30, "hartmann3": 40, "hartmann6": 60, "ackley5": 60, "mixed": 40, "hartmann6_noisy": 60,
    "branin_noisy": 30, "ackley10": 150, "ackley20": 150, "hartmann6_25d": 100}
  assert PROBLEMS["hartmann6_noisy"].noise_sd == 0.1 and PROBLEMS["branin_noisy"].noise_sd == 1.0
  assert [len(PROBLEMS[n].space.names) for n in ("ackley10", "ackley20", "hartmann6_25d")] == [10, 20, 25]

@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_every_declared_minimizer_is_valid_and_attains_the_optimum(name):
  p = PROBLEMS[name]
  assert p.minimizers, f"{name} declares no minimizer"
  for m in p.minimizers:
    assert p.space.validate(m) == m
    assert p(m) == pytest.approx(p.optimum, rel=0, abs=1e-12)
  keys = [tuple(sorted(m.items())) for m in p.minimizers]
  assert len(set(keys)) == len(keys)

@pytest.mark.parametrize("name", [n for n in sorted(PROBLEMS) if _floats(n)])
def test_no_local_search_goes_below_the_declared_optimum(name):
  # scipy's L-BFGS-B from every minimizer and from random starts: an independent check that f* is the minimum value
  f, bounds, keys = _as_fn(name)
  rng = np.random.default_rng(0)
  lo, hi = np.array(bounds).T
  starts = [np.array([m[k] for k in keys]) for m in PROBLEMS[name].minimizers] + [lo + (hi - lo) * rng.random(len(keys)) for _ in range(8)]
  best = min(minimize(f, x0, method="L-BFGS-B", bounds=bounds).fun for x0 in starts)
  assert best >= PROBLEMS[name].optimum - 1e-10

@pytest.mark.parametrize("name", ["branin", "camel"])
def test_every_global_minimizer_is_declared(name):
  # local searches from a grid of starts: each one that reaches f* ends near a declared minimizer, and each is reached
  f, bounds, keys = _as_fn(name)
  declared = np.array([[m[k] for k in keys] for m in PROBLEMS[name].minimizers])
  reached = set()
  for a in np.linspace(0.05, 0.95, 7):
    for b in np.linspace(0.05, 0.95, 7):
      x0 = np.array([lo + t * (hi - lo) for (lo, hi), t in zip(bounds, (a, b))])
      r = minimize(f, x0, method="L-BFGS-B", bounds=bounds, options={"ftol": 1e-15, "gtol": 1e-10})
      if r.fun < PROBLEMS[name].optimum + 1e-9:
        d = np.abs(declared - r.x).max(1)
        assert d.min() < 1e-4, f"{name}: a global minimizer at {r.x} is not declared"
        reached.add(int(d.argmin()))
  assert reached == set(range(len(declared)))

def test_hartmann6_25d_reads_six_scattered_columns_only():
  p, h6 = PROBLEMS["hartmann6_25d"], PROBLEMS["hartmann6"]
  assert len(set(H6_25D_ACTIVE)) == 6 and sorted(H6_25D_ACTIVE) != list(range(6))
  rng = np.random.default_rng(1)
  for _ in range(20):
    x = rng.random(25)
    params = {f"x{i}": float(v) for i, v in enumerate(x)}
    assert p(params) == h6({f"x{j}": float(x[i]) for j, i in enumerate(H6_25D_ACTIVE)})
    moved = {**params, **{f"x{i}": float(rng.random()) for i in range(25) if i not in H6_25D_ACTIVE}}
    assert p(moved) == p(params)

@pytest.mark.parametrize("name", ["hartmann6_noisy", "branin_noisy"])
def test_noisy_problems_add_gaussian_noise_fixed_by_seed_and_index(name):
  p = PROBLEMS[name]
  m = p.minimizers[0]
  draws = np.array([p.observe(m, 3, i) - p(m) for i in range(2000)])
  assert kstest(draws, norm(scale=p.noise_sd).cdf).pvalue > 1e-3
  assert p.observe(m, 3, 7) == p.observe(m, 3, 7) and p.observe(m, 3, 7) != p.observe(m, 4, 7)
  assert p.observe(m, 3, 7) - p(m) == pytest.approx(p.noise_sd * noise_draw(3, 7), abs=1e-12)

def test_noise_free_problems_observe_the_function_itself():
  p = PROBLEMS["branin"]
  assert not p.noisy and p.observe(p.minimizers[0], 0, 5) == p(p.minimizers[0])

def test_min_distances_match_a_brute_force_chebyshev_distance():
  X = np.random.default_rng(0).random((30, 4))
  X[17] = X[3] + 1e-4
  D = cdist(X, X, "chebyshev")
  got = min_distances(X)
  assert got[0] is None
  np.testing.assert_allclose(got[1:], [D[i, :i].min() for i in range(1, 30)], rtol=1e-12)
  assert got[17] == pytest.approx(1e-4)

def _fake(problem, strategy, seed, regret, n=10, near=0):
  return {"problem": problem, "strategy": strategy, "seed": seed, "budget": n, "regret": regret, "suggest_s": [0.01] * n,
          "min_dist": [None] + [1e-4] * near + [0.5] * (n - 1 - near)}

def test_summary_statistics_match_numpy():
  regrets = np.random.default_rng(2).exponential(size=20)
  recs = [_fake("branin", "gp", s, float(r), near=s % 3) for s, r in enumerate(regrets)]
  s = summarize(recs)[("branin", "gp")]
  assert s["n"] == 20 and s["worst"] == regrets.max()
  assert s["median"] == pytest.approx(np.median(regrets)) and s["p80"] == pytest.approx(np.quantile(regrets, 0.8))
  assert s["near"] == pytest.approx(sum(i % 3 for i in range(20)) / 200)

def test_halves_split_seeds_0_9_and_10_19_and_keep_all():
  recs = [_fake("branin", "gp", s, 1.0) for s in range(20)]
  parts = halves(recs)
  assert [label for label, _ in parts] == ["seeds 0-9", "seeds 10-19", "seeds 0-19"]
  assert [len(r) for _, r in parts] == [10, 10, 20]
  assert [label for label, _ in halves(recs[:10])] == ["seeds 0-9"]

def test_the_table_marks_the_best_peer_median_and_p80():
  recs = [_fake("branin", "optuna-tpe", s, r) for s, r in enumerate([1.0, 2.0, 3.0, 4.0, 100.0])]
  recs += [_fake("branin", "hebo", s, r) for s, r in enumerate([0.5, 3.0, 3.0, 50.0, 60.0])]
  recs += [_fake("branin", "gp", s, r) for s, r in enumerate([0.1, 0.2, 0.3, 0.4, 0.5])]
  recs += [_fake("branin", "smac", 0, 1e-9)]   # one run only: shown with its count, never ranked
  row = markdown_table(recs, ["branin"], ["gp", "optuna-tpe", "hebo", "smac"]).splitlines()[-1]
  cells = [c.strip() for c in row.strip("|").split("|")]
  # medians: tpe 3, hebo 3 (a tie: both bold); p80: tpe 4 + 0.2 * 96 = 23.2, hebo 50 + 0.2 * 10 = 52
  assert cells[2] == "**3** / **23.2** / 100" and cells[3] == "**3** / 52 / 60"
  assert cells[4] == "1e-09 / 1e-09 / 1e-09 [n=1]" and cells[5] == "yes, yes"

def test_report_merges_files_the_later_one_winning(tmp_path):
  a, b = tmp_path / "a.json", tmp_path / "b.json"
  a.write_text(json.dumps({"meta": {}, "runs": [_fake("branin", "gp", 0, 1.0), _fake("branin", "gp", 1, 2.0)]}))
  b.write_text(json.dumps({"meta": {}, "runs": [_fake("branin", "gp", 1, 3.0), _fake("branin", "hebo", 0, 4.0)]}))
  runs = {(r["strategy"], r["seed"]): r["regret"] for r in load_runs([a, b])}
  assert runs == {("gp", 0): 1.0, ("gp", 1): 3.0, ("hebo", 0): 4.0}

def test_resume_keeps_finished_runs_and_runs_only_the_others(tmp_path):
  path = tmp_path / "r.json"
  first = run_jobs([("camel", "random", 0, 6), ("camel", "random", 1, 6)], path, {})
  again = run_jobs([("camel", "random", 1, 6), ("camel", "random", 2, 6)], path, {}, resume=True)
  assert [r["seed"] for r in again] == [0, 1, 2] and again[:2] == first
  assert sorted(r["seed"] for r in load_runs([path])) == [0, 1, 2]

def test_a_noisy_run_records_true_values_and_the_regret_at_the_recommendation():
  r = run_one("branin_noisy", "random", 4)
  p = PROBLEMS["branin_noisy"]
  noise = np.array(r["values"]) - np.array(r["true_values"])
  np.testing.assert_allclose(noise, [p.noise_sd * noise_draw(4, i) for i in range(30)], atol=1e-12)
  best = int(np.argmin(r["values"]))        # random search recommends the best observed (noisy) value
  assert r["regret"] == pytest.approx(r["true_values"][best] - p.optimum) == pytest.approx(p(r["recommended"]) - p.optimum)
  assert r["rec_at"] == [10, 20, 30] and r["rec_trace"][-1] == r["regret"] and len(r["min_dist"]) == 30

def test_a_deterministic_run_keeps_the_old_record_fields():
  r = run_one("camel", "random", 0, budget=12)
  assert {"values", "trace", "regret", "suggest_s", "min_dist"} <= set(r) and "true_values" not in r
  assert r["regret"] == pytest.approx(min(r["values"]) - PROBLEMS["camel"].optimum) == r["trace"][-1]

def test_the_external_peer_module_does_not_load_tinybos_gp_stack():
  code = "import sys, benchmarks.peers_external; print(sorted(m for m in sys.modules if m.split('.')[0] in ('tinygrad', 'tinybo')))"
  env = {**os.environ, "PYTHONPATH": str(ROOT)}
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=True)
  assert out.stdout.split() == ["['tinybo',", "'tinybo.space']"]

@pytest.mark.optuna
def test_optuna_gp_refuses_to_run_without_greenlet(monkeypatch):
  pytest.importorskip("optuna")
  import benchmarks.peers as peers
  monkeypatch.setattr(peers, "available", lambda m: m != "greenlet")
  with pytest.raises(RuntimeError, match="greenlet"): peers.OptunaAdapter(PROBLEMS["branin"], 0, "gp")

@pytest.mark.optuna
def test_optuna_gp_det_tells_gpsampler_whether_the_problem_is_noisy(monkeypatch):
  # the peer set-up SMAC3 gets too: deterministic on the noise-free problems, a fitted noise on the noisy ones
  pytest.importorskip("optuna")
  import types

  import benchmarks.peers as peers
  monkeypatch.setattr(peers, "available", lambda m: True)
  monkeypatch.setitem(sys.modules, "greenlet", types.ModuleType("greenlet"))   # the main venv lacks greenlet and torch:
  monkeypatch.setattr(peers, "single_threaded_torch", lambda: None)           # the sampler is only built here, never run
  for name, deterministic in (("branin", True), ("hartmann6_noisy", False)):
    adapter = peers.OptunaAdapter(PROBLEMS[name], 0, "gp-det")
    assert adapter.info["deterministic_objective"] is deterministic
    assert adapter.study.sampler._deterministic is deterministic   # Optuna 5.1's attribute for the argument
  assert peers.OptunaAdapter(PROBLEMS["branin"], 0, "gp").study.sampler._deterministic is False

def test_a_seed_held_at_two_budgets_is_not_counted_twice(tmp_path):
  # load_runs and --resume key runs by budget too, so merged files can hold one seed twice; the median of [1, 2, 100]
  # (2) would silently replace the one-run-per-seed median of [1, 100]
  recs = [_fake("branin", "gp", 0, 1.0), _fake("branin", "gp", 1, 100.0), _fake("branin", "gp", 1, 2.0, n=5)]
  with pytest.raises(ValueError, match=r"seeds \[1\] are held more than once \(budgets \[5, 10\]\)"): summarize(recs)
  assert summarize(recs[:2])[("branin", "gp")]["median"] == 50.5
  path = tmp_path / "r.json"
  run_jobs([("camel", "random", 0, 6)], path, {})
  with pytest.raises(ValueError, match="another budget"): run_jobs([("camel", "random", 0, 8)], path, {}, resume=True)
  assert [r["budget"] for r in load_runs([path])] == [6]   # refused before anything ran: the file is as it was
  assert [r["budget"] for r in run_jobs([("camel", "random", 1, 8)], path, {}, resume=True)] == [6, 8]   # other seeds: kept beside

# Literature values (Surjanovic & Bingham's Virtual Library of Simulation Experiments; Dixon & Szego 1978): the box, f* to
# the digits quoted there, and f at the quoted minimizer. The other tests check f* against the coded function itself, so
# a mistyped coefficient or bound would pass them; these pin the function to the published one.
_LITERATURE = {   # name -> (box per coordinate, f* as quoted, quoted minimizer, digits' tolerance)
  "branin": ([(-5, 10), (0, 15)], 0.397887, (9.42478, 2.475), 1e-6),
  "camel": ([(-3, 3), (-2, 2)], -1.0316, (0.0898, -0.7126), 1e-4),
  "hartmann3": ([(0, 1)] * 3, -3.86278, (0.114614, 0.555649, 0.852547), 1e-5),
  "hartmann6": ([(0, 1)] * 6, -3.32237, (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573), 1e-5),
  "ackley5": ([(-32.768, 32.768)] * 5, 0.0, (0.0,) * 5, 1e-12),
  "ackley10": ([(-32.768, 32.768)] * 10, 0.0, (0.0,) * 10, 1e-12),
  "ackley20": ([(-32.768, 32.768)] * 20, 0.0, (0.0,) * 20, 1e-12)}

@pytest.mark.parametrize("name", sorted(_LITERATURE))
def test_boxes_and_optima_match_the_literature(name):
  box, fstar, xstar, tol = _LITERATURE[name]
  p = PROBLEMS[name]
  assert [(q.low, q.high, q.log) for q in p.params.values()] == [(lo, hi, False) for lo, hi in box]
  assert p.optimum == pytest.approx(fstar, rel=0, abs=tol)
  assert p(dict(zip(p.params, xstar))) == pytest.approx(fstar, rel=0, abs=tol)
  for noisy in (n for n in PROBLEMS if n == f"{name}_noisy"):   # a noisy variant is the same function, box and f*
    q = PROBLEMS[noisy]
    assert q.params == p.params and q.optimum == p.optimum and q(dict(zip(p.params, xstar))) == p(dict(zip(p.params, xstar)))

def test_mixed_attains_its_optimum_only_at_three_layers_and_adam():
  # every (layers, opt) pair, minimized over the Branin box from several starts: the declared f* (Branin's) is the least
  # value, reached only at layers=3, opt='adam'; every other pair is at least 0.25 above it
  p = PROBLEMS["mixed"]
  assert (p.params["layers"].low, p.params["layers"].high, tuple(p.params["opt"].choices)) == (1, 8, ("sgd", "adam", "rmsprop"))
  starts = [np.array([a, b]) for a in (-3.0, 3.0, 9.0) for b in (1.0, 8.0, 14.0)]
  best = {}
  for layers in range(1, 9):
    for opt in p.params["opt"].choices:
      f = lambda x, layers=layers, opt=opt: p({"x0": float(x[0]), "x1": float(x[1]), "layers": layers, "opt": opt})  # noqa: E731
      best[(layers, opt)] = min(minimize(f, x0, method="L-BFGS-B", bounds=[(-5, 10), (0, 15)]).fun for x0 in starts)
  assert min(best, key=best.get) == (3, "adam") and best[(3, "adam")] == pytest.approx(p.optimum, abs=1e-9)
  assert min(v for k, v in best.items() if k != (3, "adam")) >= p.optimum + 0.25 - 1e-9

def test_hartmann6_25d_columns_are_the_stated_permutation():
  assert H6_25D_ACTIVE == tuple(int(i) for i in np.random.default_rng(25).permutation(25)[:6])

def test_hartmann_matches_a_second_transcription_of_the_published_constants():
  # f at the minimizer barely depends on the Gaussians centred far from it, so the test above cannot catch a mistyped
  # A or P entry of those; this compares with the published tables typed again (Virtual Library, Hartmann 3-D and 6-D)
  alpha = [1.0, 1.2, 3.0, 3.2]
  tables = {"hartmann3": ([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]],
                          [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]]),
            "hartmann6": ([[10, 3, 17, 3.50, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]],
                          [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                           [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])}
  rng = np.random.default_rng(3)
  for name, (A, P) in tables.items():
    p = PROBLEMS[name]
    for x in rng.random((50, len(A[0]))):
      want = -sum(a * math.exp(-sum(A[i][j] * (x[j] - 1e-4 * P[i][j]) ** 2 for j in range(len(x)))) for i, a in enumerate(alpha))
      assert p(dict(zip(p.params, map(float, x)))) == pytest.approx(want, rel=1e-12, abs=1e-12)

def test_a_stepped_problems_declared_optimum_is_the_minimum_over_its_whole_lattice():
  p = PROBLEMS["branin_step"]
  values = [p({"x0": a, "x1": b}) for a in all_values(p.space.params["x0"]) for b in all_values(p.space.params["x1"])]
  assert len(values) == 61 * 61 and min(values) == p.optimum and values.count(p.optimum) == len(p.minimizers) == 1
  # the lattice's minimum lies above the continuous one: Branin's f* = 5 / (4 pi) is between lattice points
  assert p.optimum > PROBLEMS["branin"].optimum + 0.02
