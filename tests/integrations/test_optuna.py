"""TinyBOSampler with the real Optuna: every distribution kind, beating RandomSampler, RUNNING trials as pending,
conditional parameters sampled independently."""
import json
import logging
import math

import numpy as np
import optuna
import pytest

import tinybo as tb
from tinybo.integrations.optuna import TinyBOSampler, codec

optuna.logging.set_verbosity(optuna.logging.WARNING)

def quadratic(t: optuna.Trial) -> float:
  x = t.suggest_float("x", -3, 3)
  y = t.suggest_float("y", 1e-3, 10, log=True)
  c = t.suggest_categorical("c", ["a", "b"])
  return (x - 1) ** 2 + (math.log10(y) + 1) ** 2 + (0.5 if c == "b" else 0.0)

def test_every_distribution_kind_round_trips():
  seen = []
  def objective(t: optuna.Trial) -> float:
    p = {"f": t.suggest_float("f", -1, 1), "lf": t.suggest_float("lf", 1e-4, 1, log=True), "sf": t.suggest_float("sf", 0, 1, step=0.1),
         "i": t.suggest_int("i", -5, 5), "li": t.suggest_int("li", 1, 1024, log=True), "si": t.suggest_int("si", 0, 9, step=3),
         "c": t.suggest_categorical("c", [None, True, 3, 2.5, "x"]), "one": t.suggest_int("one", 7, 7)}
    seen.append(p)
    return p["f"] ** 2 + abs(math.log10(p["lf"]) + 2) + p["sf"] + abs(p["i"]) / 5 + (p["c"] != 3)
  study = optuna.create_study(sampler=TinyBOSampler("random", seed=0))
  study.optimize(objective, n_trials=25)
  assert len(seen) == 25 and all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
  for p in seen:
    assert -1 <= p["f"] <= 1 and 1e-4 <= p["lf"] <= 1 and type(p["i"]) is int and type(p["li"]) is int and 1 <= p["li"] <= 1024
    assert 0 <= p["sf"] <= 1 and abs(p["sf"] * 10 - round(p["sf"] * 10)) < 1e-9
    assert p["si"] in (0, 3, 6, 9) and p["one"] == 7
    assert any(p["c"] is c or (p["c"] == c and type(p["c"]) is type(c)) for c in [None, True, 3, 2.5, "x"])
  assert len({p["c"] if p["c"] is not None else "None" for p in seen}) >= 3   # the categorical really varies
  # the first trial is sampled independently (no finished trial yet); after it every parameter is sampled relatively
  assert all("tinybo:relative_params:0" in t.system_attrs for t in study.trials[1:])

def test_codecs():
  d = optuna.distributions
  c = codec(d.FloatDistribution(0, 1, step=0.25))
  assert [c.from_tb(i) for i in range(c.param.high + 1)] == [0.0, 0.25, 0.5, 0.75, 1.0] and c.to_tb(0.75) == 3
  c = codec(d.IntDistribution(1, 9, step=4))
  assert [c.from_tb(i) for i in range(c.param.high + 1)] == [1, 5, 9]
  c = codec(d.CategoricalDistribution([1, True, "1"]))
  assert [c.to_tb(v) for v in (1, True, "1")] == [0, 1, 2]           # True is not 1 here

def test_gp_beats_random_search():
  budget = 16
  random_best = []
  for seed in range(60):
    s = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    s.optimize(quadratic, n_trials=budget)
    random_best.append(s.best_value)
  study = optuna.create_study(sampler=TinyBOSampler(tb.GP(n_initial=5), seed=0))
  study.optimize(quadratic, n_trials=budget)
  # random search with 16 trials reaches ~0.05 only 1 time in 20; the GP gets within 1e-2 of the optimum 0
  assert study.best_value < min(1e-2, np.quantile(random_best, 0.05)), (study.best_value, np.quantile(random_best, [0.05, 0.5]))
  assert study.best_params["c"] == "a"

def test_running_trials_are_pending():
  # Grid is deterministic: if the RUNNING trial were not passed as pending, both asks would get the same grid point
  study = optuna.create_study(sampler=TinyBOSampler(tb.Grid(points_per_float=3), seed=0))
  study.optimize(quadratic, n_trials=3)
  a, b = study.ask(), study.ask()
  pa = (a.suggest_float("x", -3, 3), a.suggest_float("y", 1e-3, 10, log=True), a.suggest_categorical("c", ["a", "b"]))
  pb = (b.suggest_float("x", -3, 3), b.suggest_float("y", 1e-3, 10, log=True), b.suggest_categorical("c", ["a", "b"]))
  assert pa != pb
  done = {(t.params["x"], t.params["y"], t.params["c"]) for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE}
  assert pa not in done and pb not in done

def test_relative_params_visible_before_the_objective_suggests_them():
  study = optuna.create_study(sampler=TinyBOSampler("random", seed=1))
  study.optimize(quadratic, n_trials=2)
  a = study.ask()
  a.suggest_float("x", -3, 3)          # only x so far: y and c are still known to other workers through the system attrs
  b = study.ask()
  b.suggest_float("x", -3, 3)
  running = [t for t in study.get_trials(states=(optuna.trial.TrialState.RUNNING,))]
  assert len(running) == 2 and all({"x", "y", "c"} <= set(json.loads(t.system_attrs["tinybo:relative_params:0"])) for t in running)

def test_conditional_parameter_falls_back_to_independent_sampling(caplog):
  def objective(t: optuna.Trial) -> float:
    kind = t.suggest_categorical("kind", ["lin", "sq"])
    v = t.suggest_float("a", 0, 1) if kind == "lin" else t.suggest_float("b", 0, 2) ** 2
    return v + t.suggest_float("z", -1, 1) ** 2
  study = optuna.create_study(sampler=TinyBOSampler("random", seed=0))
  with caplog.at_level(logging.WARNING, logger="tinybo.integrations.optuna"):
    study.optimize(objective, n_trials=12)
  assert len([t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]) == 12
  kinds = {t.params["kind"] for t in study.trials}
  assert kinds == {"lin", "sq"}
  warned = [r.getMessage() for r in caplog.records if "independently" in r.getMessage()]
  assert warned and len(warned) == len(set(warned)) <= 2          # once per conditional parameter, not per trial

def test_multi_objective_is_a_clear_error():
  study = optuna.create_study(directions=["minimize", "minimize"], sampler=TinyBOSampler("random", seed=0))
  study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=1)   # the first trial is independent
  with pytest.raises(ValueError, match="single objective"):
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=1, catch=())

def test_maximize_and_parallel_jobs():
  study = optuna.create_study(direction="maximize", sampler=TinyBOSampler("random", seed=0))
  study.optimize(lambda t: -quadratic(t), n_trials=32, n_jobs=4)
  params = [tuple(sorted(t.params.items())) for t in study.trials]
  assert len(study.trials) == 32 and len(set(params)) == 32 and study.best_value <= 0
