"""tinybo.plot: each plot writes a real PNG; the heatmap never mixes fidelities; importance ranks by the fitted GP."""
import math
import os
import sys

import numpy as np
import pytest

import tinybo as tb
from tinybo import plot
from tinybo.trial import TrialState

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

def test_a_path_without_an_image_extension_gets_png(study, tmp_path):
  # "lr_0.5" has a suffix that is no image format: matplotlib would fail on it; the file is written as .png and returned
  for name, written in [("h", "h.png"), ("lr_0.5", "lr_0.5.png"), ("run.v2", "run.v2.png"), ("h.PNG", "h.PNG"), ("h.svg", "h.svg")]:
    out = plot.history(study, tmp_path / name)
    assert out == str(tmp_path / written) and os.path.isfile(out)
  assert open(tmp_path / "h.svg").read(5) == "<?xml"
  assert sorted(os.listdir(tmp_path)) == sorted(["h.png", "lr_0.5.png", "run.v2.png", "h.PNG", "h.svg"])

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

# ***** learning curves and the heatmap at one step *****

def curve(p: dict, step: int) -> float:
  # crossing curves: a large lr learns fast and then plateaus high; a small one starts slow and ends low
  lr = math.log10(p["lr"])
  return (lr + 2.5) ** 2 * 0.3 + 0.2 * (p["units"] - 64) ** 2 / 64 ** 2 + 3.0 * 10 ** (-(lr + 4) * step / 6)

@pytest.fixture(scope="module")
def curves_study(tmp_path_factory):
  space = tb.Space({"lr": tb.Float(1e-4, 1.0, log=True), "units": tb.Int(16, 128), "batch": 32})
  opt = tb.Optimizer(space, strategy="random", seed=1, name="curves", storage=tmp_path_factory.mktemp("c") / "c.db",
                     stopping=tb.MedianStopping(warmup_trials=4, warmup_steps=2))
  def objective(p, trial):
    for step in range(1, 13):
      if trial.report(curve(p, step), step): raise tb.StopTrial()
    return curve(p, 12)
  opt.optimize(objective, n_trials=24, progress=False)
  t = opt.suggest()                                      # a failed one: diverged at step 3
  opt.report(t, 2.0, 1); opt.report(t, 3.0, 2)
  with pytest.warns(tb.TrialFailedWarning): opt.report(t, float("nan"), 3)
  t = opt.suggest()                                      # still running
  for s in range(1, 5): opt.report(t, curve(t.params, s), s)
  return opt

def test_learning_curves_png(curves_study, tmp_path):
  states = [t.state for t in curves_study.trials]
  assert {TrialState.COMPLETE, TrialState.STOPPED, TrialState.FAILED, TrialState.PENDING} <= set(states)
  _png(plot.learning_curves(curves_study, tmp_path / "curves.png"))
  with pytest.raises(ValueError, match="no reports to plot; call opt.report"):
    plot.learning_curves(tb.Optimizer({"x": tb.Float(0, 1)}, strategy="random", name="none"), tmp_path / "x.png")

def test_learning_curves_title_and_legend_count_every_curve(curves_study, tmp_path, monkeypatch):
  # the best complete curve was left out of the title's count ("19 complete" in a study of 20)
  drawn = []
  real_save = plot._save
  monkeypatch.setattr(plot, "_save", lambda fig, path: (drawn.append(fig), real_save(fig, path))[1])
  plot.learning_curves(curves_study, tmp_path / "c.png")
  ax = drawn[0].axes[0]
  curves = curves_study.curves
  n = {s: sum(t.state == s and t.id in curves for t in curves_study.trials) for s in TrialState}
  assert ax.get_title() == (f"curves: learning curves ({n[TrialState.COMPLETE]} complete, {n[TrialState.STOPPED]} stopped early, "
                            f"{n[TrialState.FAILED]} failed, {n[TrialState.PENDING]} running)")
  labels = [t.get_text() for t in ax.get_legend().get_texts()]
  assert sorted(labels[:4]) == sorted(["complete", "stopped early", "failed", "running"])   # one entry per state, in drawing order
  assert labels[-1].startswith("best: trial ") and len(labels) == 5
  assert all(h.get_alpha() == 1.0 for h in drawn[0].axes[0].get_legend().legend_handles)

def test_hundreds_of_stopped_curves_fade_under_the_complete_ones(tmp_path, monkeypatch):
  opt = tb.Optimizer({"x": tb.Float(0, 1)}, strategy="random", seed=0, name="crowd")
  for i in range(300):
    t = opt.suggest()
    opt.report(t, 1.0 + t.params["x"], 1)
    if i % 30: opt.stop(t)
    else: opt.report(t, t.params["x"], 2); opt.observe(t, t.params["x"])
  drawn = []
  real_save = plot._save
  monkeypatch.setattr(plot, "_save", lambda fig, path: (drawn.append(fig), real_save(fig, path))[1])
  _png(plot.learning_curves(opt, tmp_path / "c.png"))
  lines = [ln for ln in drawn[0].axes[0].get_lines() if len(ln.get_xdata())]
  stopped = [ln for ln in lines if ln.get_linestyle() == "--"]
  complete = [ln for ln in lines if ln.get_linestyle() == "-" and ln.get_color() == "tab:blue"]
  assert len(stopped) == 290 and len(complete) == 9   # the tenth complete curve is the best, orange
  assert max(ln.get_zorder() for ln in stopped) < min(ln.get_zorder() for ln in complete)
  assert max(ln.get_alpha() for ln in stopped) < 0.5 and min(ln.get_alpha() for ln in complete) == pytest.approx(0.55)

def test_heatmap_compares_one_step_only(curves_study, tmp_path):
  trials, curves = curves_study.trials, curves_study.curves
  # default: the last step of most complete trials (12); every trial that reported there, valued at that report
  kept, step = plot.trials_at_step(trials, curves)
  full = [t for t in trials if t.last_step is not None and t.last_step >= 12]
  assert step == 12 and sorted(t.id for t in kept) == sorted(t.id for t in full)
  assert all(t.value == curve(t.params, 12) for t in kept)
  # step 1: every trial that reached it, valued at step 1 (the stopped, failed and running ones too)
  kept1, _ = plot.trials_at_step(trials, curves, step=1)
  assert len(kept1) == len(trials) and all(t.value == [r.value for r in curves[t.id]][0] for t in kept1)
  # mixing: every complete trial and every stopped one as it ended, whatever its step
  mixed, none = plot.trials_at_step(trials, curves, mix_fidelities=True)
  assert none is None and {t.state for t in mixed} == {TrialState.COMPLETE, TrialState.STOPPED}
  assert len({t.last_step for t in mixed}) > 1
  # a study without reports: its complete trials, as before
  no_reports = [t for t in trials if t.state == TrialState.COMPLETE]
  assert plot.trials_at_step(no_reports, {}) == (no_reports, None)
  with pytest.raises(ValueError, match="step=3 and mix_fidelities=True contradict"): plot.trials_at_step(trials, curves, 3, True)
  with pytest.raises(ValueError, match="step=3: this study has no reports"): plot.trials_at_step(no_reports, {}, 3)
  _png(plot.heatmap(curves_study, "lr", "units", tmp_path / "h12.png"))
  _png(plot.heatmap(curves_study, "lr", "units", tmp_path / "h1.png", step=1))
  with pytest.raises(ValueError, match="has 0 trials at \\{'step': 99\\}; a heatmap needs at least 2"):
    plot.heatmap(curves_study, "lr", "units", tmp_path / "h99.png", step=99)

def test_default_step_is_the_most_common_last_step_of_complete_trials():
  from tinybo.trial import Report, Trial
  r = lambda *steps: [Report(s, 0.0, False, 0.0) for s in steps]
  trials = [Trial(0, {}, TrialState.COMPLETE, 1.0, last_step=10), Trial(1, {}, TrialState.COMPLETE, 1.0, last_step=10),
            Trial(2, {}, TrialState.COMPLETE, 1.0, last_step=20), Trial(3, {}, TrialState.STOPPED, 1.0, last_step=3),
            Trial(4, {}, TrialState.STOPPED, 1.0, last_step=3), Trial(5, {}, TrialState.STOPPED, 1.0, last_step=3)]
  curves = {0: r(1, 10), 1: r(10), 2: r(20), 3: r(3), 4: r(3), 5: r(3)}
  assert plot.default_step(trials, curves) == 10                      # stopped trials do not vote
  assert plot.default_step(trials[2:], curves) == 20
  assert plot.default_step(trials[3:], curves) == 3                    # none complete: every trial votes

def test_heatmap_and_importance_fit_the_gp_under_the_device_lock(study, tmp_path, monkeypatch):
  # the GP's captured programs and buffers are the process's: a plot in one thread must not fit while a study suggests
  # in another (tests/test_process_history.py), so every fit and prediction holds _tinygrad.DEVICE_LOCK
  from tinybo import _tinygrad
  from tinybo.gp import GPRegressor
  held_during: list[tuple[str, bool]] = []
  for name in ("fit", "predict"):
    original = getattr(GPRegressor, name)
    def spy(self, *a, _name=name, _original=original, **k):
      held_during.append((_name, _tinygrad.DEVICE_LOCK._is_owned()))
      return _original(self, *a, **k)
    monkeypatch.setattr(GPRegressor, name, spy)
  plot.heatmap(study, "lr", "units", tmp_path / "a.png")
  plot.importance_scores(study)
  assert {n for n, _ in held_during} == {"fit", "predict"} and all(held for _, held in held_during), held_during

# ***** session 22's review *****

def test_learning_curves_legend_shows_each_state_in_its_own_colour(tmp_path, monkeypatch):
  # the best trial's orange curve, drawn first, carried the "complete" entry: the legend said complete = orange
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  monkeypatch.setattr(plt, "close", lambda *a, **k: None)   # keep the figure to read its legend
  opt = tb.Optimizer(tb.Space({"x": tb.Float(0, 1)}), strategy="random", seed=0)
  for v in (0.1, 0.5, 0.9):
    t = opt.suggest()
    for s in (1, 2): opt.report(t, v + 1 / s, s)
    opt.observe(t, v + 0.5)
  plot.learning_curves(opt, tmp_path / "c.png")
  legend = plt.gcf().axes[0].get_legend()
  from matplotlib.colors import to_hex
  colours = {txt.get_text(): to_hex(h.get_color()) for txt, h in zip(legend.get_texts(), legend.legend_handles)}
  assert colours["complete"] == to_hex("tab:blue") and any(k.startswith("best") and c == to_hex("tab:orange") for k, c in colours.items())

def test_a_categorical_fidelity_keeps_its_highest_value():
  space = tb.Space({"lr": tb.Float(1e-3, 1.0, log=True), "epochs": tb.Categorical([1, 3, 9])})
  trials = [tb.Trial(i, {"lr": 0.01 * (i + 1), "epochs": e}, TrialState.COMPLETE, 1.0) for i, e in enumerate([1, 9, 3, 9, 9, 1, 9])]
  kept, fixed = plot.fidelity_filter(space, trials)
  assert fixed == {"epochs": 9} and len(kept) == 4   # it kept the first trial's value, 1

def test_plots_of_values_at_the_float_limit_and_importance_of_unvaried_parameters(tmp_path):
  import sys as _sys
  space = tb.Space({"x": tb.Float(0, 1), "y": tb.Float(0, 1), "opt": tb.Categorical(["sgd", "adam"]),
                    "momentum": tb.Float(0, 0.99, when={"opt": "sgd"})})
  opt = tb.Optimizer(space, strategy="random", seed=0)
  rng = np.random.default_rng(0)
  for i in range(12):   # every trial adam: opt and momentum never varied
    x, y = rng.random(2)
    opt.observe({"x": x, "y": y, "opt": "adam"}, _sys.float_info.max if i == 3 else (x - 0.3) ** 2 + 0.1 * y)
  for f in (plot.history, plot.importance): _png(f(opt, tmp_path / f"{f.__name__}.png"))   # a penalty of float max: no inf limits
  _png(plot.heatmap(opt, "x", "y", tmp_path / "h.png"))
  scores = plot.importance_scores(opt)
  assert scores["opt"] == 0.0 and scores["momentum"] == 0.0 and set(plot.most_important(opt, 2)) == {"x", "y"}

def test_a_heatmap_without_two_trials_at_its_step_names_the_fix():
  opt = tb.Optimizer(tb.Space({"a": tb.Float(0, 1), "b": tb.Float(0, 1)}), strategy="random", seed=0)
  for k in range(3):
    t = opt.suggest()
    for s in range(1, 3 + k): opt.report(t, 1.0 / s, s)
    opt.observe(t, 0.5)
  with pytest.raises(ValueError, match=r"pass another step \(step=, .*\(mix_fidelities=True, or --mix-fidelities\)"):
    plot.heatmap(opt, "a", "b", "h.png")

def test_heatmap_at_switches_a_conditional_branch(tmp_path):
  # at={"opt": "adam"} with an sgd best trial failed with "drop 'momentum' from the params" (which the user never passed),
  # and at={"opt": "sgd"} with an adam best trial with "missing parameter 'momentum'"
  space = tb.Space({"lr": tb.Float(1e-3, 1, log=True), "wd": tb.Float(0, 1), "opt": tb.Categorical(["sgd", "adam"]),
                    "momentum": tb.Float(0, 0.99, when={"opt": "sgd"})})
  opt = tb.Optimizer(space, strategy="random", seed=0)
  for _ in range(8):
    t = opt.suggest()
    opt.observe(t, t.params["wd"] + (0.5 if t.params["opt"] == "adam" else 0.01 * t.params["momentum"]))
  best, done = opt.best, [t for t in opt.trials if t.state == TrialState.COMPLETE]
  sgd = [t for t in done if t.params["opt"] == "sgd"]
  other = "adam" if best.params["opt"] == "sgd" else "sgd"
  held = plot.held_configuration(space, sorted(done, key=lambda t: t.value), {"opt": other})
  assert space.validate(held) == held and held["opt"] == other and ("momentum" in held) == (other == "sgd")
  if other == "sgd": assert held["momentum"] == sgd[0].params["momentum"] or held["momentum"] in [t.params["momentum"] for t in sgd]
  for branch in ("sgd", "adam"): _png(plot.heatmap(opt, "lr", "wd", tmp_path / f"{branch}.png", at={"opt": branch}))

def test_history_plots_each_trial_at_its_id(tmp_path, monkeypatch):
  # it plotted trials by position from 1: trial 0 at x = 1, and a second study's trials 4, 5, 6 at 1, 2, 3, while
  # learning_curves and opt.best named them by id
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  monkeypatch.setattr(plt, "close", lambda *a, **k: None)
  path = str(tmp_path / "s.db")
  tb.Optimizer(tb.Space({"x": tb.Float(0, 1)}), strategy="random", storage=path, name="first", seed=0).observe({"x": 0.5}, 1.0)
  opt = tb.Optimizer(tb.Space({"x": tb.Float(0, 1)}), strategy="random", storage=path, name="second", seed=0)
  for v in (3.0, 1.0, 2.0): opt.observe(opt.suggest(), v)
  plot.history(opt, tmp_path / "h.png")
  xs = plt.gcf().axes[0].collections[0].get_offsets()[:, 0]
  assert sorted(xs.tolist()) == sorted(t.id for t in opt.trials) and opt.best.id in xs

# ***** session 24's review *****

@pytest.mark.parametrize("call, arg", [
  (lambda s, d: plot.heatmap(s, "lr", "units", d / "h.png", step="3"), "step='3'"),   # the CLI parses --step as an int
  (lambda s, d: plot.heatmap(s, "lr", "units", d / "h.png", step=3.0), "step=3.0"),
  (lambda s, d: plot.heatmap(s, "lr", "units", d / "h.png", step=True), "step=True"),
  (lambda s, d: plot.heatmap(s, "lr", "units", d / "h.png", step=-1), "step=-1"),
  (lambda s, d: plot.heatmap(s, "lr", "units", d / "h.png", mix_fidelities="no"), "mix_fidelities='no'"),
  (lambda s, d: plot.heatmap(s, "lr", "units", d / "h.png", resolution="60"), "resolution='60'"),
  (lambda s, d: plot.heatmap(s, "lr", "units", d / "h.png", resolution=1), "resolution=1"),
  (lambda s, d: plot.heatmap(s, "lr", "units", d / "h.png", at="units"), "at='units'"),
  (lambda s, d: plot.heatmap(s, "lr", "units", d / "h.png", label=5), "label=5"),
  (lambda s, d: plot.heatmap(s, "lr", "units", d / "h.png", device=0), "device=0"),
  (lambda s, d: plot.heatmap(s, "lr", "units", None), "path=None"),
  (lambda s, d: plot.history(s, d / "h.png", label=None), "label=None"),
  (lambda s, d: plot.history(s, 3), "path=3"),
  (lambda s, d: plot.learning_curves(s, d / "c.png", label=1.0), "label=1.0"),
  (lambda s, d: plot.importance(s, d / "i.png", device=0), "device=0"),
  (lambda s, d: plot.importance(s, ["i.png"]), "path=['i.png']"),
  (lambda s, d: plot.most_important(s, k="2"), "k='2'"),
  (lambda s, d: plot.most_important(s, k=0), "k=0"),
  (lambda s, d: plot.trials_at_step(s.trials, s.curves, "12"), "step='12'"),
])
def test_bad_plot_arguments_are_one_line_errors_naming_them(curves_study, tmp_path, call, arg):
  # step="3" raised "'<' not supported between instances of 'int' and 'str'" from inside a bisect; a str label,
  # resolution or k failed inside matplotlib or numpy the same way
  before = [(t.id, t.state, t.value) for t in curves_study.trials]
  with pytest.raises((TypeError, ValueError)) as e: call(curves_study, tmp_path)
  msg = str(e.value)
  assert msg.startswith(arg + ":") or msg.startswith(arg + " is a"), msg
  assert "\n" not in msg and " use " in msg
  assert os.listdir(tmp_path) == [] and [(t.id, t.state, t.value) for t in curves_study.trials] == before

def test_a_numpy_int_step_is_a_step(curves_study):
  trials, curves = curves_study.trials, curves_study.curves
  assert plot.trials_at_step(trials, curves, np.int64(5)) == plot.trials_at_step(trials, curves, 5)
  assert plot.trials_at_step(trials, curves, 5)[1] == 5 and plot.trials_at_step(trials, curves, None, np.True_)[1] is None

def _x_tick_labels(fig) -> list[str]:
  ax = fig.axes[0]
  lo, hi = ax.get_xlim()
  return [t.get_text() for t in ax.get_xticklabels() if lo <= t.get_position()[0] <= hi]

@pytest.mark.parametrize("steps, n_trials", [((1, 2), 2), ((1, 2, 3), 3), ((0, 1), 2), (tuple(range(1, 41)), 2)])
def test_step_and_trial_id_axes_have_integer_ticks(tmp_path, monkeypatch, steps, n_trials):
  # a short run (steps 1 and 2) got ticks at 1.2, 1.4, ...: steps and trial ids are ints, so are their ticks
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  close = plt.close
  monkeypatch.setattr(plt, "close", lambda *a, **k: None)   # keep the figure to read its ticks (savefig has drawn them)
  opt = tb.Optimizer(tb.Space({"x": tb.Float(0, 1)}), strategy="random", seed=0)
  for _ in range(n_trials):
    t = opt.suggest()
    for s in steps: opt.report(t, t.params["x"] + 1 / (s + 1), s)
    opt.observe(t, t.params["x"])
  for f, axis_range in ((plot.learning_curves, steps), (plot.history, [t.id for t in opt.trials])):
    f(opt, tmp_path / f"{f.__name__}.png")
    labels = _x_tick_labels(plt.gcf())
    values = [float(lab.replace("\u2212", "-")) for lab in labels]
    assert len(values) >= 2 and all(v == int(v) and "." not in lab for v, lab in zip(values, labels)), (f.__name__, labels)
    assert min(values) <= max(axis_range) and max(values) >= min(axis_range)
    close("all")

@pytest.mark.parametrize("low, high", [(1, 4), (1, 2), (0, 7)])
def test_heatmap_axes_of_int_parameters_have_integer_ticks(tmp_path, monkeypatch, low, high):
  # Int(1, 4) got ticks at 1.5, 2.5, ... on both panels: its values are whole, so are its ticks (a float axis is left alone)
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  close = plt.close
  monkeypatch.setattr(plt, "close", lambda *a, **k: None)   # keep the figure to read its ticks (savefig has drawn them)
  opt = tb.Optimizer(tb.Space({"layers": tb.Int(low, high), "width": tb.Int(low, high), "x": tb.Float(0, 1)}), strategy="random", seed=0)
  opt.optimize(lambda p: (p["layers"] - 2) ** 2 + p["width"] + p["x"], n_trials=8, progress=False)
  plot.heatmap(opt, "layers", "width", tmp_path / "h.png", resolution=5)
  observed, posterior = plt.gcf().axes[:2]   # (the third is the colour bar)
  for ax in (observed, posterior):   # the posterior panel shares the axes; its y labels are hidden, its ticks are not
    for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
      ticks = [v for v in axis.get_majorticklocs() if lo <= v <= hi]
      assert len(ticks) >= 2 and all(v == int(v) for v in ticks) and set(ticks) <= set(range(low - 1, high + 2)), ticks
  for axis, pos in ((observed.xaxis, 0), (observed.yaxis, 1)):
    shown = [(t.get_position()[pos], t.get_text().replace("\u2212", "-")) for t in axis.get_ticklabels()]
    assert shown and all(lab == str(int(v)) for v, lab in shown), shown
  plot.heatmap(opt, "x", "width", tmp_path / "f.png", resolution=5)
  assert any("." in t.get_text() for t in plt.gcf().axes[0].get_xticklabels())   # the float axis keeps its fractions
  close("all")

@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_a_large_study_is_fitted_on_a_subset_that_keeps_its_best(direction, tmp_path, monkeypatch):
  # an exact GP on every trial of a 5,000-trial study took over 8 minutes and 1.5 GB for one importance plot
  from tinybo.gp import GPRegressor
  from tinybo.subset import DEFAULT_MAX_POINTS
  space = tb.Space({"lr": tb.Float(1e-4, 1.0, log=True), "units": tb.Int(16, 128), "act": tb.Categorical(["relu", "tanh"]), "epochs": 3})
  sign = 1.0 if direction == "minimize" else -1.0
  opt = tb.Optimizer(space, strategy="random", seed=0, direction=direction, name="large")
  for t in opt.suggest(DEFAULT_MAX_POINTS + 200): opt.observe(t, sign * objective(t.params))
  fits = []
  real_fit = GPRegressor.fit
  def recording_fit(self, X, y, *a, **k):
    fits.append(np.asarray(y, dtype=np.float64).copy())
    return real_fit(self, X, y, *a, **k)
  monkeypatch.setattr(GPRegressor, "fit", recording_fit)
  s = plot.importance_scores(opt)
  assert s["lr"] == max(s.values()) and s["lr"] > 2 * s["units"], s   # the ranking of the whole study survives the subset
  _png(plot.heatmap(opt, "lr", "units", tmp_path / "h.png"))
  values = np.array([t.value for t in opt.trials])
  best = np.sort(sign * values)[:DEFAULT_MAX_POINTS // 2]   # the best half of the kept rows, by the study's direction
  assert len(fits) == 2
  for y in fits:
    assert len(y) == DEFAULT_MAX_POINTS
    assert np.array_equal(np.sort(sign * y)[:len(best)], best)

def test_heatmap_title_writes_a_held_stepped_float_to_its_step(tmp_path, monkeypatch):
  # three significant digits wrote the held -99.93002 as -99.9, a value the parameter never took
  import matplotlib.pyplot as plt
  close = plt.close
  monkeypatch.setattr(plt, "close", lambda *a, **k: None)   # keep the figure to read its title
  opt = tb.Optimizer({"a": tb.Float(-99.96, -99.9, step=1e-05), "x": tb.Float(0, 1), "y": tb.Float(0, 1)}, strategy="random", seed=0)
  for i, a in enumerate([-99.93002, -99.95, -99.91, -99.94]):
    opt.observe({"a": a, "x": 0.1 + 0.2 * i, "y": 0.9 - 0.2 * i}, float(i))
  plot.heatmap(opt, "x", "y", tmp_path / "h.png", resolution=5)
  assert plt.gcf()._suptitle.get_text().endswith("held: a=-99.93002")
  close("all")
