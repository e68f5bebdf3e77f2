"""benchmarks/conditional_anytime.py on hand-made run files whose anytime regrets and evaluations-to-tolerance are worked
out by hand, and its percentile against numpy's."""
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.conditional_anytime import compare, evaluations_to, initial_size, load, main, percentile, ranges, regret_trace, shared_design


# jenatton: optimum 0.1, budget 40, 9 parameters -> an initial design of 2 * 9 + 1 = 19
def run(strategy: str, seed: int, hits: dict[int, float], design: list | None = None) -> dict:
  """A 40-evaluation jenatton run whose values are 1.1 except value v at evaluation k (1-based) for each k: v in hits."""
  values = [hits.get(k, 1.1) for k in range(1, 41)]
  params = (design or [{"x1": 1, "x3": 0, "x6": 0.5, "r9": float(i)} for i in range(19)]) + [{"x1": 0}] * 21
  return {"problem": "jenatton", "strategy": strategy, "seed": seed, "budget": 40, "values": values, "params": params}

RUNS = [run("gp", 0, {25: 0.1}), run("gp", 1, {21: 0.3, 30: 0.1}), run("gp", 2, {}),
        run("flat", 0, {20: 0.1}), run("flat", 1, {22: 0.1}), run("flat", 2, {39: 0.6}, design=[{"x1": 0}] * 19)]

def test_traces_and_evaluations_to_the_tolerance_by_hand():
  t = regret_trace(RUNS[1]["values"], 0.1)
  assert t[19] == pytest.approx(1.0) and t[20] == pytest.approx(0.2) and t[29] == 0 and t[39] == 0
  assert evaluations_to(t, 1e-6) == 30 and evaluations_to(t, 0.5) == 21
  assert evaluations_to(regret_trace(RUNS[2]["values"], 0.1), 1e-6) == math.inf
  assert initial_size("jenatton") == 19

@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30), st.sampled_from([0, 25, 50, 80, 100]))
def test_percentile_matches_numpy_on_finite_values(a, q):
  assert percentile(a, q) == pytest.approx(float(np.percentile(a, q)), rel=1e-12, abs=1e-9)

def test_percentile_with_runs_that_never_reached_it():
  assert percentile([30, 25, math.inf], 50) == 30               # the middle one
  assert percentile([30, 25, math.inf], 80) == math.inf          # between 30 and inf
  assert percentile([20, 22, 39, math.inf, math.inf], 25) == 22  # position 1 exactly
  assert percentile([20, 22, 39, math.inf, math.inf], 50) == 39

def test_compare_and_ranges():
  assert compare((0.0, 0.1), (0.0, 0.2)) == "ahead" and compare((0.1, 0.1), (0.1, 0.1)) == "tie"
  assert compare((0.2, 0.1), (0.1, 0.1)) == "behind" and compare((0.2, 0.0), (0.1, 0.1)) == "mixed"
  assert ranges([21, 22, 23, 30, 32, 33]) == "21-23, 30, 32-33" and ranges([]) == "none"

def test_shared_design_compares_the_first_19_configurations():
  assert shared_design(RUNS, "jenatton", "gp", "flat") == (2, 3, "params")

def test_the_report_by_hand(tmp_path):
  f = tmp_path / "runs.json"
  f.write_text(json.dumps({"meta": {}, "runs": RUNS}))
  out = tmp_path / "t.md"
  main(["--report", str(f), "--problems", "jenatton", "--strategies", "gp,flat", "--out", str(out)])
  text = out.read_text()
  # evaluations to regret < 1e-6: gp 25, 30, never -> median 30, p80 inf; flat 20, 22, never -> 22, inf
  assert "| jenatton (40) | seeds 0-9 | 30 / > 40 (2 of 3) | 22 / > 40 (2 of 3) |" in text
  # regrets at k (median / p80 / worst over the three seeds): k = 19: all 1; k = 20: gp 1, 1, 1, flat 0, 1, 1;
  # k = 21: gp 1, 0.2, 1 -> 1 / 1 / 1, flat 0, 1, 1 -> 1 / 1 / 1; k = 25: gp 0, 0.2, 1 -> 0.2 / 0.68 / 1,
  # flat 0, 0, 1 -> 0 / 0.6 / 1; k = 39: gp 0, 0, 1 -> 0 / 0.6 / 1, flat 0, 0, 0.5 -> 0 / 0.3 / 0.5
  for row in ["| 19 | 1 / 1 / 1 | 1 / 1 / 1 | tie |", "| 20 | 1 / 1 / 1 | 1 / 1 / 1 | tie |", "| 21 | 1 / 1 / 1 | 1 / 1 / 1 | tie |",
              "| 25 | 0.2 / 0.68 / 1 | 0 / 0.6 / 1 | behind |", "| 39 | 0 / 0.6 / 1 | 0 / 0.3 / 0.5 | behind |"]:
    assert row in text, row
  assert "| 18 |" not in text and "| 40 |" in text   # from the end of the design to the budget
  assert "the same for gp and flat in 2 of 3 seeds (compared: the configurations)" in text

def test_load_relabels_a_file_and_a_later_file_wins(tmp_path):
  a, b = tmp_path / "a.json", tmp_path / "b.json"
  a.write_text(json.dumps({"meta": {}, "runs": RUNS[:3]}))
  b.write_text(json.dumps({"meta": {}, "runs": [run("gp", 0, {19: 0.1})]}))
  recs = load(f"{a}#gp=gp@old,{a},{b}")
  by = {(r["strategy"], r["seed"]): r for r in recs}
  assert sorted(by) == [("gp", 0), ("gp", 1), ("gp", 2), ("gp@old", 0), ("gp@old", 1), ("gp@old", 2)]
  assert by[("gp", 0)]["values"][18] == 0.1 and by[("gp@old", 0)]["values"][18] == 1.1
  with pytest.raises(SystemExit, match="relabel as path#old=new"): load(f"{a}#gp")
