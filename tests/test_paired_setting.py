"""benchmarks/paired_setting.py: the two values alternate per seed, each study runs under its value, and the constant is
put back afterwards (also when a study raises)."""
import json

import pytest

import benchmarks.paired_setting as ps
import tinybo.gp as gpm


def test_each_study_runs_under_its_value_alternating_and_the_constant_is_restored(monkeypatch, tmp_path):
  seen = []
  def fake(problem, seed):
    seen.append((problem.name, seed, gpm.SEPARATE_MIN_N))
    return 1.0 + gpm.SEPARATE_MIN_N / 100
  monkeypatch.setattr(ps, "study_seconds", fake)
  before = gpm.SEPARATE_MIN_N
  ps.main(["tinybo.gp.SEPARATE_MIN_N", "33", "7", "--problems", "branin,camel", "--reps", "2", "--out", str(tmp_path / "r.json")])
  assert seen == [("branin", 0, 33), ("branin", 0, 7), ("branin", 1, 33), ("branin", 1, 7),
                  ("camel", 0, 33), ("camel", 0, 7), ("camel", 1, 33), ("camel", 1, 7)]
  assert gpm.SEPARATE_MIN_N == before
  out = json.loads((tmp_path / "r.json").read_text())
  assert out["problems"]["camel"]["ratio_b_over_a"] == pytest.approx(1.07 / 1.33)

def test_a_failing_study_still_restores_the_constant_and_a_wrong_name_is_refused(monkeypatch):
  def boom(problem, seed): raise RuntimeError("study failed")
  monkeypatch.setattr(ps, "study_seconds", boom)
  before = gpm.N_BUCKETS
  with pytest.raises(RuntimeError, match="study failed"): ps.main(["tinybo.gp.N_BUCKETS", "(16, 32)", "(32,)", "--problems", "branin"])
  assert gpm.N_BUCKETS == before
  with pytest.raises(SystemExit, match="has no NOT_A_CONSTANT"): ps.main(["tinybo.gp.NOT_A_CONSTANT", "1", "2"])
