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
  monkeypatch.setattr(suite_table, "DEFAULT_RUNS", {"branin": [("f.json", "gp:x")]})
  with pytest.raises(ValueError, match="seeds 0-19"): suite_table.default_runs(tmp_path)
  runs.append({"problem": "branin", "strategy": "gp:x", "seed": 19, "regret": 19.0})
  (tmp_path / "f.json").write_text(json.dumps({"runs": runs}))
  got = suite_table.default_runs(tmp_path)
  assert np.median([r["regret"] for r in got]) == 9.5 and {r["strategy"] for r in got} == {"gp"}
  # a later file's run of a seed replaces the earlier one's (reruns of the seeds a change altered)
  (tmp_path / "g.json").write_text(json.dumps({"runs": [{"problem": "branin", "strategy": "gp", "seed": 3, "regret": 0.5},
                                                         {"problem": "branin", "strategy": "gp:x", "seed": 4, "regret": 0.25}]}))
  monkeypatch.setattr(suite_table, "DEFAULT_RUNS", {"branin": [("f.json", "gp:x"), ("g.json", "gp")]})
  got = {r["seed"]: r["regret"] for r in suite_table.default_runs(tmp_path)}
  assert got[3] == 0.5 and got[4] == 4.0 and len(got) == 20   # g.json's gp:x run is another label: not taken

def test_peer_runs_take_each_strategy_from_its_own_files_the_later_file_winning(tmp_path, monkeypatch):
  run = lambda st, seed, regret: {"problem": "branin", "strategy": st, "seed": seed, "budget": 30, "regret": regret}  # noqa: E731
  (tmp_path / "a.json").write_text(json.dumps({"runs": [run("smac", 0, 1.0), run("smac", 1, 2.0), run("hebo", 0, 5.0)]}))
  (tmp_path / "b_1.json").write_text(json.dumps({"runs": [run("smac", 1, 3.0), {**run("smac", 2, 0.0), "problem": "nope"}]}))
  monkeypatch.setattr(suite_table, "PEER_RUNS", {"smac": ["a.json", "b_*.json"]})
  got = {(r["strategy"], r["seed"]): r["regret"] for r in suite_table.peer_runs(tmp_path)}
  assert got == {("smac", 0): 1.0, ("smac", 1): 3.0}   # hebo's run is not smac's; a problem outside the suite is left out
  monkeypatch.setattr(suite_table, "PEER_RUNS", {"smac": ["a.json", "missing_*.json"]})
  with pytest.raises(FileNotFoundError, match="missing_"): suite_table.peer_runs(tmp_path)

def test_peer_bar_ranks_only_peers_with_every_seed_and_compares_median_and_p80_separately():
  from benchmarks.peer_bar import half_stats, verdict
  runs = {("branin", s): {"regret": float(s)} for s in range(10)}
  tb = half_stats(runs, "branin", range(10))
  assert tb == {"n": 10, "median": 4.5, "p80": pytest.approx(np.percentile(np.arange(10.0), 80)), "worst": 9.0}
  low_median = {"n": 10, "median": 4.0, "p80": 9.0, "worst": 9.5}
  low_p80 = {"n": 10, "median": 6.0, "p80": 7.0, "worst": 8.0}
  partial = {"n": 3, "median": 0.0, "p80": 0.0, "worst": 0.0}   # fewer seeds: shown, never ranked
  assert verdict(tb, {"a": low_median, "b": low_p80, "c": partial}, 10) == "no, no (a, b)"
  assert verdict(tb, {"b": low_p80, "c": partial}, 10) == "yes, no (b, b)"
  assert verdict(tb, {"c": partial}, 10) == ""

def test_peer_bar_judges_a_candidates_runs_in_the_defaults_place(tmp_path, monkeypatch):
  from benchmarks import peer_bar
  run = lambda st, seed, regret: {"problem": "branin", "strategy": st, "seed": seed, "budget": 30, "regret": regret}  # noqa: E731
  (tmp_path / "d.json").write_text(json.dumps({"runs": [run("gp", s, 0.1 * s if s < 10 else 10.0) for s in range(20)]}))
  (tmp_path / "p.json").write_text(json.dumps({"runs": [run("smac", s, 2.0) for s in range(20)]}))
  (tmp_path / "c_1.json").write_text(json.dumps({"runs": [run("gp:new", s, 0.5) for s in range(10, 20)] + [run("gp", 0, 99.0)]}))
  monkeypatch.setattr(suite_table, "DEFAULT_RUNS", {"branin": [("d.json", "gp")]})
  monkeypatch.setattr(peer_bar, "PEER_RUNS", {"smac": ["p.json"]})
  def rows(candidate):
    table = peer_bar.bar_table(["branin"], [range(10), range(10, 20)], tmp_path, candidate)
    return [line.strip(" |").split(" | ")[2:] for line in table.splitlines()[2:]]
  assert [r[-1] for r in rows(None)] == ["yes, yes (smac, smac)", "no, no (smac, smac)"]   # the default: 0.0-0.9, then 10s
  got = rows((["c_*.json"], "gp:new"))   # seeds 10-19 replaced; seeds 0-9 stay the default's (c_1's gp run is another label)
  assert got[0] == rows(None)[0] and got[1][0] == "0.5 / 0.5 / 0.5" and got[1][-1] == "yes, yes (smac, smac)"
  with pytest.raises(FileNotFoundError, match="nothing_"): peer_bar.bar_table(["branin"], [range(10)], tmp_path, (["nothing_*.json"], "gp"))

def test_suggest_times_compares_the_pooled_second_half_medians_of_two_files(tmp_path, capsys):
  from benchmarks.suggest_times import main
  run = lambda st, seed, s: {"problem": "branin", "strategy": st, "seed": seed, "suggest_s": s, "regret": 0.0}  # noqa: E731
  a = [run("gp", 0, [9.0, 9.0, 0.010, 0.020]), run("gp", 1, [9.0, 9.0, 0.030, 0.050]), run("random", 0, [1.0] * 4)]
  b = [run("peer", 0, [0.1, 0.1, 0.060, 0.060])]
  (tmp_path / "a.json").write_text(json.dumps({"runs": a})); (tmp_path / "b.json").write_text(json.dumps({"runs": b}))
  main([f"{tmp_path / 'a.json'}:gp", f"{tmp_path / 'b.json'}:peer"])
  row = capsys.readouterr().out.splitlines()[-1].split("|")
  gp_ms = np.median([0.010, 0.020, 0.030, 0.050]) * 1e3   # both runs' second halves pooled; the first halves (cold) left out
  per_run = np.median([sum(r["suggest_s"]) for r in a[:2]])
  assert [c.strip() for c in row[1:7]] == ["branin", f"{gp_ms:.0f}", "60", f"{60 / gp_ms:.2f}", f"{per_run:.1f}", "0.3"]

def test_compare_runs_reports_a_run_cut_short_instead_of_crashing(tmp_path, capsys):
  # bit-identical claims rest on compare_runs: a run that is a prefix of the other (interrupted, or another budget) is
  # not identical, and must be reported as such rather than end the comparison with a StopIteration
  from benchmarks.compare_runs import main
  run = lambda seed, values: {"problem": "branin", "strategy": "gp", "seed": seed, "values": values, "regret": min(values)}  # noqa: E731
  a = [run(0, [3.0, 2.0, 1.0]), run(1, [5.0, 4.0]), run(2, [1.0, 1.0])]
  b = [run(0, [3.0, 2.0]), run(1, [5.0, 4.5, 4.0]), run(2, [1.0, 1.0])]
  (tmp_path / "a.json").write_text(json.dumps({"runs": a})); (tmp_path / "b.json").write_text(json.dumps({"runs": b}))
  main([str(tmp_path / "a.json"), str(tmp_path / "b.json")])
  out = capsys.readouterr().out.splitlines()
  assert out[0] == "1 / 3 runs bit-identical (3 in both files)"
  assert out[1] == "  ('branin', 'gp', 0): equal for 2 evaluations, then lengths differ (3 and 2)"
  assert out[2] == "  ('branin', 'gp', 1): first differs at evaluation 2 (lengths 2 and 3)"

def test_a_run_at_another_budget_is_refused_not_taken_for_the_suites(tmp_path, monkeypatch):
  # the manifests key runs by (problem, seed): a short test run in a matched file would otherwise replace the full one
  run = lambda seed, budget, regret: {"problem": "branin", "strategy": "smac", "seed": seed, "budget": budget, "regret": regret}  # noqa: E731
  (tmp_path / "a.json").write_text(json.dumps({"runs": [run(0, 30, 1.0)]}))
  (tmp_path / "b.json").write_text(json.dumps({"runs": [run(0, 5, 9.0)]}))
  monkeypatch.setattr(suite_table, "PEER_RUNS", {"smac": ["a.json"]})
  assert [r["regret"] for r in suite_table.peer_runs(tmp_path)] == [1.0]
  monkeypatch.setattr(suite_table, "PEER_RUNS", {"smac": ["a.json", "b.json"]})
  with pytest.raises(ValueError, match="ran 5 evaluations, not the suite's 30"): suite_table.peer_runs(tmp_path)
  (tmp_path / "c.json").write_text(json.dumps({"runs": [{**run(s, 30 if s else 10, 1.0), "strategy": "gp"} for s in range(20)]}))
  monkeypatch.setattr(suite_table, "DEFAULT_RUNS", {"branin": [("c.json", "gp")]})
  with pytest.raises(ValueError, match="ran 10 evaluations"): suite_table.default_runs(tmp_path)

def test_bar_everyone_judges_each_optimizer_against_the_others_and_gives_each_verdict_its_bootstrap_chance(tmp_path, monkeypatch):
  from benchmarks import bar_everyone
  run = lambda st, seed, regret: {"problem": "branin", "strategy": st, "seed": seed, "budget": 30, "regret": regret}  # noqa: E731
  (tmp_path / "d.json").write_text(json.dumps({"runs": [run("gp", s, 1.0) for s in range(20)]}))
  # smac: below tinybo on seeds 0-9, above on 10-19; hebo: above everywhere; skopt: seeds 0-4 only, never judged or ranked
  (tmp_path / "p.json").write_text(json.dumps({"runs": [run("smac", s, 0.5 if s < 10 else 3.0) for s in range(20)] +
                                                       [run("hebo", s, 2.0) for s in range(20)] + [run("skopt", s, 0.0) for s in range(5)]}))
  monkeypatch.setattr(suite_table, "DEFAULT_RUNS", {"branin": [("d.json", "gp")]})
  monkeypatch.setattr(bar_everyone, "PEER_RUNS", {"smac": ["p.json"], "hebo": ["p.json"], "skopt": ["p.json"]})
  regrets = bar_everyone.final_regrets(tmp_path)
  halves = [range(10), range(10, 20)]
  assert bar_everyone.failures(regrets, "tinybo", ["branin"], halves) == (4, ["branin 0-9 median", "branin 0-9 p80"])
  assert bar_everyone.failures(regrets, "smac", ["branin"], halves) == (4, ["branin 10-19 median", "branin 10-19 p80"])
  assert bar_everyone.failures(regrets, "hebo", ["branin"], halves, without=("tinybo",))[1] == ["branin 0-9 median", "branin 0-9 p80"]
  assert bar_everyone.failures(regrets, "skopt", ["branin"], halves) == (0, [])
  rng = np.random.default_rng(0)
  assert bar_everyone.pass_chance(np.full(10, 1.0), [np.full(10, 2.0)], "p80", 500, rng) == 1.0
  assert bar_everyone.pass_chance(np.full(10, 1.0), [np.full(10, 2.0), np.full(10, 0.5)], "median", 500, rng) == 0.0
  # two seeds {0, 2} against a constant 1: the resampled median is 0, 1, 1 or 2, each draw equally likely: at most 1 in 3 of 4
  assert bar_everyone.pass_chance(np.array([0.0, 2.0]), [np.array([1.0, 1.0])], "median", 20000, rng) == pytest.approx(0.75, abs=0.015)
  table = bar_everyone.firmness_table(regrets, ["branin"], halves, 200, 0)
  assert "| branin | 0-9 | median | 1 | 0.5 (smac) | FAIL | 0.00 |" in table and "| branin | 10-19 | p80 | 1 | 2 (hebo) | pass | 1.00 |" in table

def test_noise_trace_follows_the_strategys_noise_test_along_a_run():
  from benchmarks.noise_trace import summary, trace_run
  from tinybo.noise import NOISE_MARGIN
  noisy, clean = trace_run("branin_noisy", 0), trace_run("branin", 0)
  for rows in (noisy, clean):
    assert [r["n"] for r in rows] == list(range(rows[0]["n"], 31)) and rows[0]["n"] <= 6   # every evaluation after the design
    assert all(r["noise"] > 0 and r["outputscale"] > 0 and r["evidence"] >= 0 and r["tested_at"] <= r["n"] for r in rows)
  # Branin + N(0, 1): the data test noisy by 30 evaluations; Branin itself never does
  assert noisy[-1]["evidence"] > NOISE_MARGIN and max(r["evidence"] for r in clean) <= NOISE_MARGIN
  assert summary("branin", 0, clean).startswith("branin seed 0: fitted noise n15:")
