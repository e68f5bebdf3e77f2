import json

import numpy as np
import pytest

from benchmarks.wide_categorical import main, objective


def test_objective_is_the_quadratic_plus_the_choice_offset():
  offsets = np.array([0.5, -2.0, 1.0])
  assert objective({"x": 1.0, "y": 0.3, "c": "c1"}, offsets) == -2.0
  assert objective({"x": 3.0, "y": 0.3, "c": "c2"}, offsets) == pytest.approx(5.0)

def test_a_small_run_records_every_suggestion_and_a_best_value_no_better_than_the_optimum(tmp_path, capsys):
  out = tmp_path / "w.json"
  main(["--choices", "4", "--trials", "12", "--out", str(out)])
  row = json.loads(out.read_text())["rows"][0]
  assert row["choices"] == 4 and len(row["tinybo"]["times_s"]) == 12 and "optuna_gp" not in row
  assert row["tinybo"]["best"] >= row["optimum"] - 1e-12
  assert row["tinybo"]["median_s"] == pytest.approx(float(np.median(row["tinybo"]["times_s"][10:])))
  assert "| 4 |" in capsys.readouterr().out

def test_the_conditional_variant_puts_the_categorical_on_one_branch(tmp_path):
  offsets = np.array([0.5, -2.0, 1.0])
  assert objective({"branch": "wide", "x": 1.0, "c": "c1"}, offsets) == -2.0
  assert objective({"branch": "plain", "x": 1.0, "y": 0.3}, offsets) == 0.5
  out = tmp_path / "w.json"
  main(["--choices", "20", "--trials", "14", "--conditional", "--out", str(out)])
  rec = json.loads(out.read_text())
  row = rec["rows"][0]
  assert rec["conditional"] and len(row["tinybo"]["times_s"]) == 14 and row["optimum"] == pytest.approx(min(0.5, row["optimum"]))
  assert row["tinybo"]["best"] >= row["optimum"] - 1e-12

def test_too_few_trials_is_a_one_line_error(capsys):
  with pytest.raises(SystemExit): main(["--trials", "5"])
  assert "--trials=5" in capsys.readouterr().err
