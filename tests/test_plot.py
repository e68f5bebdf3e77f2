"""tinybo.plot: each plot writes a real PNG; the heatmap never mixes fidelities; importance ranks by the fitted GP."""
import math
import sys

import numpy as np
import pytest

import tinybo as tb
from tinybo import plot

PNG = b"\x89PNG\r\n\x1a\n"

def objective(p: dict) -> float:
  # depends strongly on lr and act, weakly on units, not at all on noise_free; the "epochs" fidelity shifts everything
  return (math.log10(p["lr"]) + 2.0) ** 2 + 0.3 * (p["units"] - 64) ** 2 / 64 ** 2 + (0.5 if p["act"] == "tanh" else 0.0) - 0.2 * p["epochs"]

@pytest.fixture(scope="module")
def study():
  space = tb.Space({"lr": tb.Float(1e-4, 1.0, log=True), "units": tb.Int(16, 128), "act": tb.Categorical(["relu", "tanh"]),
                    "epochs": tb.Int(1, 3), "batch": 32})
  opt = tb.Optimizer(space, strategy="random", seed=0, name="toy")
  opt.optimize(objective, n_trials=36, progress=False)
  opt.fail(opt.suggest())                    # a failed trial shows up in the history
  return opt

def _png(path) -> bytes:
  with open(path, "rb") as f: data = f.read()
  assert data[:8] == PNG and len(data) > 10_000, f"{path} is not a real PNG plot ({len(data)} bytes)"
  return data

def test_history_png(study, tmp_path):
  out = plot.history(study, tmp_path / "sub" / "h.png")   # missing folders are created
  _png(out)

def test_fidelity_filter_keeps_one_epoch_value(study):
  done = [t for t in study.trials if t.state == tb.TrialState.COMPLETE]
  kept, fixed = plot.fidelity_filter(study.space, done, keep=("lr", "units"))
  assert fixed == {"epochs": 3} and kept and all(t.params["epochs"] == 3 for t in kept)
  assert len(kept) < len(done)
  kept1, fixed1 = plot.fidelity_filter(study.space, done, keep=("lr", "units"), at={"epochs": 1})
  assert fixed1 == {"epochs": 1} and all(t.params["epochs"] == 1 for t in kept1)
  # a fidelity on an axis of the heatmap is not filtered: the user asked to see it
  assert plot.fidelity_filter(study.space, done, keep=("lr", "epochs"))[1] == {}

def test_heatmap_pngs(study, tmp_path):
  _png(plot.heatmap(study, "lr", "units", tmp_path / "a.png"))
  _png(plot.heatmap(study, "lr", "act", tmp_path / "b.png"))           # a categorical axis
  _png(plot.heatmap(study, "lr", "units", tmp_path / "c.png", mix_fidelities=True))

def test_heatmap_unknown_parameter_names_the_space(study, tmp_path):
  with pytest.raises(ValueError, match="unknown parameter 'nope'.*searches"):
    plot.heatmap(study, "lr", "nope", tmp_path / "x.png")
  with pytest.raises(ValueError, match="two different parameters"):
    plot.heatmap(study, "lr", "lr", tmp_path / "x.png")

def test_importance_follows_the_objective(study, tmp_path):
  s = plot.importance_scores(study)
  assert set(s) == set(study.space.names) and math.isclose(sum(s.values()), 1.0)
  assert s["lr"] == max(s.values()), s      # lr moves the objective by ~4 over its range, units by at most 0.3
  assert s["lr"] > 2 * s["units"], s
  _png(plot.importance(study, tmp_path / "i.png"))

def test_empty_study_is_a_clear_error(tmp_path):
  opt = tb.Optimizer({"x": tb.Float(0, 1)}, strategy="random", name="empty")
  with pytest.raises(ValueError, match="no complete trials"):
    plot.history(opt, tmp_path / "h.png")

def test_missing_matplotlib_is_a_clear_error(monkeypatch, tmp_path, study):
  monkeypatch.setitem(sys.modules, "matplotlib", None)   # what `import matplotlib` sees when it is not installed
  monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
  with pytest.raises(ImportError, match=r"pip install 'tinybo\[plot\]'"):
    plot.history(study, tmp_path / "h.png")

def test_limits_clip_diverged_runs():
  v = np.array([0.0] * 2 + list(np.linspace(0.9, 0.98, 18)))   # two diverged runs at accuracy 0
  lo, hi = plot._limits(v, minimize=False)
  assert lo > 0.85 and hi == pytest.approx(0.98)
