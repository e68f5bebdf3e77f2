"""The conditional benchmark's plumbing: the 'gp:radians=r' strategy names, the angle restored after a run, the params of
every evaluation recorded, and the surrogate-accuracy check's rank correlation against scipy."""
import numpy as np
import pytest

import tinybo.tree
from benchmarks.conditional_bench import run_one, tree_bonus, tree_radians
from benchmarks.conditional_model import scores, spearman

scipy_stats = pytest.importorskip("scipy.stats")

def test_tree_radians_parses_the_strategy_name():
  assert tree_radians("gp") == ("gp", None)
  assert tree_radians("gp:radians=2") == ("gp", 2.0)
  assert tree_radians("gp:beta=3:radians=1.5") == ("gp:beta=3", 1.5)
  assert tree_radians("gp:conditional=flatten") == ("gp:conditional=flatten", None)
  with pytest.raises(ValueError, match="radians=<float> is an option of gp"): tree_radians("random:radians=2")

def test_a_run_records_every_valid_configuration_and_restores_the_angle():
  before = tinybo.tree.ARC
  r = run_one("jenatton", "gp:radians=2.5:n_initial=40", 0)
  assert tinybo.tree.ARC == before and "error" not in r
  from benchmarks.conditional_problems import get_conditional_problem
  prob = get_conditional_problem("jenatton")
  assert len(r["params"]) == prob.budget and [prob(p) for p in r["params"]] == r["values"]
  assert all(prob.space.validate(p) == p for p in r["params"])
  assert r["regret"] == pytest.approx(min(r["values"]) - prob.optimum)
  bad = run_one("jenatton", "gp:radians=9", 0)
  assert "radians=9.0: use a float in (0, 2π)" in bad["error"] and tinybo.tree.ARC == before

def test_spearman_matches_scipy():
  rng = np.random.default_rng(0)
  a, b = rng.normal(size=200), rng.normal(size=200)
  b = a + 0.5 * b
  assert spearman(a, b) == pytest.approx(scipy_stats.spearmanr(a, b)[0], abs=1e-12)

def test_surrogate_scores_are_finite_and_the_tree_ranks_jenatton():
  s = scores("jenatton_pm1", 30, 0, ["flatten", "radians=1", "radians=2"])
  for rmse, rho, _, nlpd in s.values(): assert np.isfinite(nlpd) and rmse >= 0 and -1 <= rho <= 1
  assert s["radians=1"][1] > 0.5   # 30 random trees already rank the test points

def test_tree_bonus_parses_the_strategy_name_and_a_run_restores_it():
  assert tree_bonus("gp") == ("gp", {}) and tree_bonus("gp:bonus=uniform") == ("gp", {"WEIGH_BY_ACTIVATED": False})
  assert tree_bonus("gp:bonus=activated:radians=1") == ("gp:radians=1", {"WEIGH_BY_ACTIVATED": True})
  assert tree_bonus("gp:bonus=uniform:bonus=uncapped") == ("gp", {"WEIGH_BY_ACTIVATED": False, "CAP_AT_PRIOR": False})
  for bad_name in ("gp:bonus=none", "gp:bonus=capped:bonus=uncapped", "random:bonus=capped"):
    with pytest.raises(ValueError, match="are options of gp, each once"): tree_bonus(bad_name)
  before = tinybo.tree.WEIGH_BY_ACTIVATED, tinybo.tree.CAP_AT_PRIOR
  bad = run_one("jenatton", "gp:bonus=uniform:bonus=uncapped:radians=9", 0)
  assert "radians=9.0" in bad["error"] and (tinybo.tree.WEIGH_BY_ACTIVATED, tinybo.tree.CAP_AT_PRIOR) == before
