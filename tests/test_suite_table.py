"""The README's suite table reads today's default's runs from a manifest (benchmarks/suite_table.py): every suite problem
must have seeds 0-19 there, and a manifest entry that lacks seeds must fail loudly rather than shrink the table."""
import json

import numpy as np
import pytest

from benchmarks import suite_table
from benchmarks.functions import SUITE


def test_the_manifest_covers_every_suite_problem_with_seeds_0_to_19():
  runs = suite_table.default_runs()
  assert set(SUITE) <= set(suite_table.DEFAULT_RUNS)
  for p in suite_table.DEFAULT_RUNS:
    mine = [r for r in runs if r["problem"] == p]
    assert sorted(r["seed"] for r in mine) == list(range(20)) and {r["strategy"] for r in mine} == {"gp"}
    for r in mine:   # the stored final regret is the run's own: the trace's last entry, or the recommendation's
      assert r["regret"] == pytest.approx(r["rec_trace"][-1] if "rec_trace" in r else r["trace"][-1])
      assert len(r["values"]) == r["budget"]

def test_a_manifest_entry_without_all_seeds_is_an_error(tmp_path, monkeypatch):
  runs = [{"problem": "branin", "strategy": "gp:x", "seed": s, "regret": float(s)} for s in range(19)]
  (tmp_path / "f.json").write_text(json.dumps({"runs": runs}))
  monkeypatch.setattr(suite_table, "DEFAULT_RUNS", {"branin": ("f.json", "gp:x")})
  with pytest.raises(ValueError, match="seeds 0-19"): suite_table.default_runs(tmp_path)
  runs.append({"problem": "branin", "strategy": "gp:x", "seed": 19, "regret": 19.0})
  (tmp_path / "f.json").write_text(json.dumps({"runs": runs}))
  got = suite_table.default_runs(tmp_path)
  assert np.median([r["regret"] for r in got]) == 9.5 and {r["strategy"] for r in got} == {"gp"}
