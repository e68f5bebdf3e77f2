"""TinyBOSampler with the real Optuna: every distribution kind, beating RandomSampler, RUNNING trials as pending,
pruned trials (MedianPruner, HyperbandPruner) as stopped trials with their intermediate values, conditional
define-by-run spaces modelled as a tree (whole trees proposed, never an inactive parameter), constraints (infeasible trials failed)."""
import copy
import dataclasses
import json
import logging
import math
import pickle
import threading
import time

import numpy as np
import optuna
import pytest

import tinybo as tb
from benchmarks.optuna_tree import run, tree_objective
from tinybo.integrations.optuna import TinyBOSampler, codec
from tinybo.strategies import History
from tinybo.trial import TrialState as TBState

P = optuna.trial.TrialState

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
  assert all("tinybo:proposal:0" in t.system_attrs for t in study.trials[1:])

def test_codecs():
  d = optuna.distributions
  c = codec(d.FloatDistribution(0, 1, step=0.25))
  assert [c.from_tb(i) for i in range(c.param.high + 1)] == [0.0, 0.25, 0.5, 0.75, 1.0] and c.to_tb(0.75) == 3
  c = codec(d.IntDistribution(1, 9, step=4))
  assert [c.from_tb(i) for i in range(c.param.high + 1)] == [1, 5, 9]
  c = codec(d.FloatDistribution(1e9, 1e9 + 1, step=1e-3))                # far from 0: each grid point is its own, none moved
  assert all(c.to_tb(c.from_tb(i)) == i for i in range(0, 1001, 7)) and c.to_tb(1e9 + 1) == 1000
  with pytest.raises(ValueError, match="not a multiple of the step 0.001"): c.to_tb(1e9 + 0.0005)
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
  assert len(running) == 2 and all({"x", "y", "c"} <= set(json.loads(t.system_attrs["tinybo:proposal:0"])) for t in running)

def proposal(t: optuna.trial.FrozenTrial) -> dict:
  """The relative params the sampler proposed for a trial (what it stores, encoded, for other workers), in Optuna's
  values; a parameter the trial never asked for keeps its encoded value."""
  chunks, i = [], 0
  while (c := t.system_attrs.get(f"tinybo:proposal:{i}")) is not None: chunks.append(c); i += 1
  encoded = json.loads("".join(chunks)) if chunks else {}
  return {k: codec(t.distributions[k]).from_tb(v) if k in t.distributions else v for k, v in encoded.items()}

def check_whole_trees(study: optuna.Study) -> int:
  """No trial was proposed a parameter its objective did not use (an inactive one), and every trial whose branch a complete
  trial had shown before got all its parameters from the proposal. Returns how many trials got a whole tree."""
  seen, whole = set(), 0
  for t in study.trials:
    prop = proposal(t)
    assert set(prop) <= set(t.params), (t.number, prop, t.params)
    assert all(t.params[k] == v for k, v in prop.items())
    if frozenset(t.params) in seen: assert set(prop) == set(t.params), (t.number, prop, t.params)
    whole += bool(prop) and set(prop) == set(t.params)
    if t.state == P.COMPLETE: seen.add(frozenset(t.params))
  return whole

def test_conditional_tree_is_inferred_and_proposed_whole(caplog):
  sampler = TinyBOSampler("random", seed=0)
  study = optuna.create_study(sampler=sampler)
  with caplog.at_level(logging.WARNING, logger="tinybo.integrations.optuna"):
    study.optimize(tree_objective, n_trials=30)
  assert not [r for r in caplog.records if "independently" in r.getMessage()]   # every parameter is in the tree
  assert check_whole_trees(study) >= 20
  space, trials, _ = sampler.history(study)
  # the inferred tree, in Optuna's values (a categorical is encoded as the index of its choice)
  assert set(space.names) == {"classifier", "x", "C", "kernel", "gamma", "depth", "k"}
  clf, kern = ["svm", "rf", "knn"], ["lin", "rbf"]
  when = {k: {q: [(clf if q == "classifier" else kern)[i] for i in v] for q, v in c.items()} for k, c in space.conditions.items()}
  assert when == {"C": {"classifier": ["svm"]}, "kernel": {"classifier": ["svm"]}, "gamma": {"kernel": ["rbf"]},
                  "depth": {"classifier": ["rf"]}, "k": {"classifier": ["knn"]}}
  assert len(trials) == 30 and all(t.state == TBState.COMPLETE for t in trials)

def test_a_parameter_no_parent_explains_is_sampled_independently_with_one_warning(caplog):
  def objective(t: optuna.Trial) -> float:
    kind = t.suggest_categorical("kind", ["lin", "sq"])
    v = t.suggest_float("a", 0, 1) if kind == "lin" else t.suggest_float("b", 0, 2) ** 2
    if t.number % 3 == 0: v += t.suggest_float("noise", 0, 1)       # comes and goes with no parameter deciding it
    return v + t.suggest_float("z", -1, 1) ** 2
  sampler = TinyBOSampler("random", seed=0)
  study = optuna.create_study(sampler=sampler)
  with caplog.at_level(logging.WARNING, logger="tinybo.integrations.optuna"):
    study.optimize(objective, n_trials=12)
  assert len([t for t in study.trials if t.state == P.COMPLETE]) == 12 and {t.params["kind"] for t in study.trials} == {"lin", "sq"}
  warned = [r.getMessage() for r in caplog.records if "independently" in r.getMessage()]
  assert len(warned) == 1 and "'noise'" in warned[0]                  # once, for the one parameter left out
  space, _, _ = sampler.history(study)
  assert set(space.names) == {"kind", "a", "b", "z"} and set(space.conditions) == {"a", "b"}
  # proposed only while one complete trial made it look unconditional: from the first trial without it, never again
  assert all("noise" not in proposal(t) and set(proposal(t)) <= set(t.params) for t in study.trials[2:])

def test_a_complete_trial_without_parameters_leaves_the_tree_modelled(caplog):
  def objective(t: optuna.Trial) -> float:
    if t.number == 3: return 100.0   # returned before its first suggest (a cached or penalty result)
    return quadratic(t)
  sampler = TinyBOSampler("random", seed=0)
  study = optuna.create_study(sampler=sampler)
  study.add_trial(optuna.trial.create_trial(value=50.0))   # a warm start row without parameters
  with caplog.at_level(logging.WARNING, logger="tinybo.integrations.optuna"):
    study.optimize(objective, n_trials=10)
  assert not [r for r in caplog.records if "independently" in r.getMessage()]
  space, trials, _ = sampler.history(study)
  assert space.params == {"x": tb.Float(-3.0, 3.0), "y": tb.Float(1e-3, 10.0, log=True), "c": tb.Categorical([0, 1])}
  assert sorted(t.id for t in trials) == [n for n in range(11) if n not in (0, 3)]   # the two without parameters hold no configuration
  assert all(set(proposal(t)) == {"x", "y", "c"} for t in study.trials[2:] if t.number != 3)   # every later trial proposed whole by the strategy

@pytest.mark.slow
def test_gp_on_a_conditional_objective_beats_random_over_10_seeds():
  # the tree of benchmarks/optuna_tree.py: three classifiers, a chain (gamma only for an svm with rbf), a shared x
  budget, tinybo_best, random_best = 20, [], []
  for seed in range(10):
    study = run(TinyBOSampler(tb.GP(n_initial=6), seed=seed), budget)
    check_whole_trees(study)
    tinybo_best.append(study.best_value)
    random_best.append(run(optuna.samplers.RandomSampler(seed=seed), budget).best_value)
  assert np.median(tinybo_best) <= np.median(random_best), (np.median(tinybo_best), np.median(random_best), tinybo_best, random_best)

# ***** pruned trials *****

def curve_objective(t: optuna.Trial) -> float:
  """Nine epochs of a curve that falls towards the final value; pruned when the study's pruner says so."""
  x, y = t.suggest_float("x", -2, 2), t.suggest_float("y", -2, 2)
  final = (x - 0.5) ** 2 + (y + 0.3) ** 2
  for epoch in range(1, 10):
    t.report(final + 2.0 / epoch, epoch)
    if t.should_prune(): raise optuna.TrialPruned()
  return final

class Recorder:
  """A strategy that proposes what tb.Random does and records the trials (and curves) each suggestion was given."""
  def __init__(self): self.calls, self.random = [], tb.Random()
  def suggest(self, space, trials, n, *, seed=0, minimize=True):
    self.calls.append(list(trials))
    return self.random.suggest(space, trials, n, seed=seed, minimize=minimize)

class CurveRecorder(Recorder):
  """The same, for a strategy that learns from learning curves: it takes them as reports=."""
  def suggest(self, space, trials, n, *, seed=0, minimize=True, reports=None):
    self.curves = reports
    return super().suggest(space, trials, n, seed=seed, minimize=minimize)

@pytest.mark.parametrize("pruner", [optuna.pruners.MedianPruner(n_startup_trials=3),
                                    optuna.pruners.HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3)],
                         ids=["median", "hyperband"])
def test_pruned_trials_are_stopped_at_their_last_intermediate_value(pruner):
  strategy = CurveRecorder()
  sampler = TinyBOSampler(strategy, seed=0)
  # a fixed study name: HyperbandPruner hashes it into the brackets, so the run is the same every time
  study = optuna.create_study(study_name="pruned", sampler=sampler, pruner=pruner)
  study.optimize(curve_objective, n_trials=30)
  states = [t.state for t in study.trials]
  assert states.count(P.PRUNED) >= 5 and states.count(P.COMPLETE) >= 3, states
  _, trials, curves = sampler.history(study)
  by_number = {t.id: t for t in trials}
  assert set(by_number) == {t.number for t in study.trials}
  for t in study.trials:
    tb_t, steps = by_number[t.number], sorted(t.intermediate_values)
    # every intermediate value is a report; a pruned trial is stopped at its last one, never complete
    assert [(r.step, r.value) for r in curves[t.number]] == [(s, t.intermediate_values[s]) for s in steps]
    assert [r.stop for r in curves[t.number]] == [False] * (len(steps) - 1) + [t.state == P.PRUNED]
    assert tb_t.last_step == steps[-1] and tb_t.params == {"x": t.params["x"], "y": t.params["y"]}
    # (Optuna's Hyperband rungs never end: it may prune at the last epoch too)
    if t.state == P.PRUNED: assert tb_t.state == TBState.STOPPED and tb_t.value == t.intermediate_values[steps[-1]]
    else: assert tb_t.state == TBState.COMPLETE and tb_t.value == t.value and steps[-1] == 9
  # what the strategy was given for the last trial: the earlier trials (HyperbandPruner shows a sampler only the trials
  # of the same bracket), the pruned ones as stopped, and their curves
  given = {t.id: t.state for t in strategy.calls[-1]}
  assert len(given) >= 3 and TBState.STOPPED in given.values()
  assert given == {t.number: TBState.STOPPED if t.state == P.PRUNED else TBState.COMPLETE for t in study.trials[:-1] if t.number in given}
  assert {i: [(r.step, r.value) for r in c] for i, c in strategy.curves.items()} == \
    {t.number: sorted(t.intermediate_values.items()) for t in study.trials[:-1] if t.number in given}
  # a strategy without reports= still sees the stopped trials (as taken, never proposed again)
  plain = Recorder()
  study2 = optuna.create_study(study_name="plain", sampler=TinyBOSampler(plain, seed=0), pruner=pruner)
  study2.optimize(curve_objective, n_trials=12)
  assert any(t.state == TBState.STOPPED for call in plain.calls for t in call)

def test_pruned_before_any_report_is_stopped_without_a_value_after_a_nan_one_failed():
  sampler = TinyBOSampler("random", seed=0)
  study = optuna.create_study(sampler=sampler)
  study.optimize(quadratic, n_trials=2)
  a = study.ask(); quadratic(a); study.tell(a, state=P.PRUNED)                        # pruned before any report
  b = study.ask(); quadratic(b); b.report(1.0, 1); b.report(float("nan"), 2); study.tell(b, state=P.PRUNED)
  c = study.ask(); quadratic(c); c.report(2.0, 1); c.report(1.5, 3); study.tell(c, state=P.PRUNED)
  _, trials, curves = sampler.history(study)
  st = {t.id: (t.state, t.value, t.last_step) for t in trials}
  # nothing measured: taken at its values (never proposed again), no value, not failed ("bad here")
  assert st[a.number] == (TBState.STOPPED, None, None) and st[b.number][0] == TBState.FAILED
  assert next(t for t in trials if t.id == a.number).params == {"x": a.params["x"], "y": a.params["y"], "c": 0 if a.params["c"] == "a" else 1}
  assert st[c.number] == (TBState.STOPPED, 1.5, 3)
  assert [(r.step, r.value) for r in curves[b.number]] == [(1, 1.0)]   # a NaN value is no report
  assert a.number not in curves
  study.optimize(quadratic, n_trials=1)                                # and the sampler goes on

def test_a_trial_pruned_before_any_report_never_tells_the_gp_bad_here():
  # an objective that prunes itself before training (a check that failed) measured nothing: to the GP it is what it was
  # while it ran, a point fantasized at the model's own mean (no value, so not "bad here" as a failed trial, whose
  # neighbourhood the GP leaves far behind; and not nothing, or the GP proposed beside it again and again). A trial that
  # is infeasible says so with a constraint, and then the GP does move away
  def next_after(end) -> tuple:
    study = optuna.create_study(sampler=TinyBOSampler(tb.GP(n_initial=5), seed=0))
    study.optimize(quadratic, n_trials=10)
    a = study.ask(); p = xyc(a)
    if end is not None: end(a); study.tell(a, state=P.PRUNED)
    return p, xyc(study.ask())
  def moved(pq: tuple) -> float:
    (p, q) = pq
    return max(abs(p[0] - q[0]) / 6, abs(math.log10(p[1] / q[1])) / 4) + (p[2] != q[2])
  while_running, pruned = next_after(None), next_after(lambda t: None)
  assert pruned == while_running   # (failed, it moved 0.25 of the cube away, 0.07 now)
  if hasattr(optuna.Trial, "set_constraint"): assert moved(next_after(lambda t: t.set_constraint("check", 1.0))) > moved(pruned) + 0.1

def test_a_check_that_prunes_a_region_before_any_report_never_stalls_the_search():
  # every trial with x + y > 2 is pruned before it reports: taken as nothing at all, the GP proposed beside the last
  # pruned point again and again (23 pruned in a row after 7 trials, in threads); fantasized, it moves on
  def objective(t: optuna.Trial) -> float:
    x, y = t.suggest_float("x", -3, 3), t.suggest_float("y", -3, 3)
    if x + y > 2: raise optuna.TrialPruned()
    return (x - 0.5) ** 2 + y ** 2
  study = optuna.create_study(sampler=TinyBOSampler(tb.GP(n_initial=5), seed=0))
  study.optimize(objective, n_trials=24)
  states = "".join("P" if t.state == P.PRUNED else "C" for t in study.trials)
  assert "PPPP" not in states and states.count("C") >= 16 and study.best_value < 0.05, (states, study.best_value)

def test_a_stopped_trial_without_a_value_frees_its_design_slot_as_a_failed_one():
  # two trials pruned before any report in the initial design: the design goes on for n_initial measured trials,
  # exactly as if they had failed (before, they held two slots and the GP fitted three values)
  space = tb.Space({"x": tb.Float(0, 1), "y": tb.Float(0, 1)})
  gp = tb.GP(n_initial=5)
  design = gp.suggest(space, [], 5, seed=0)
  trials = [tb.Trial(i, p, TBState.COMPLETE, (p["x"] - 0.3) ** 2 + p["y"], created=i, finished=i + 0.5) for i, p in enumerate(design[:3])]
  trials += [tb.Trial(3 + i, p, TBState.STOPPED, None, created=3 + i, finished=3.5 + i) for i, p in enumerate(design[3:])]
  failed = [dataclasses.replace(t, state=TBState.FAILED) if t.value is None else t for t in trials]
  got = gp.suggest(space, trials, 2, seed=0)
  assert got == tb.GP(n_initial=5).suggest(space, failed, 2, seed=0)
  assert got == tb.GP(n_initial=5).suggest(space, [], 7, seed=0)[5:]   # the design's next two points

def test_multi_objective_is_a_clear_error_at_the_first_suggest():
  study = optuna.create_study(directions=["minimize", "minimize"], sampler=TinyBOSampler("random", seed=0))
  ran = []
  def objective(t: optuna.Trial) -> tuple:
    x = t.suggest_float("x", 0, 1)
    ran.append(x)                                                      # an expensive objective would run here
    return x, 1.0
  with pytest.raises(ValueError, match=r"^the study has directions=\['minimize', 'minimize'\]: TinyBOSampler optimizes a single objective; "
                     r"create the study with direction='minimize' or 'maximize'"): study.optimize(objective, n_trials=2)
  assert ran == [] and [t.state for t in study.trials] == [P.FAIL]

def test_maximize_and_parallel_jobs():
  study = optuna.create_study(direction="maximize", sampler=TinyBOSampler("random", seed=0))
  study.optimize(lambda t: -quadratic(t), n_trials=32, n_jobs=4)
  params = [tuple(sorted(t.params.items())) for t in study.trials]
  assert len(study.trials) == 32 and len(set(params)) == 32 and study.best_value <= 0

class AtOnce:
  """A GP whose first suggest waits for the other worker's: both have read the study, neither has stored its proposal
  (two processes sampling at the same moment). The fits themselves take turns: tinygrad is not thread-safe."""
  def __init__(self, ready: threading.Barrier, turns: threading.Lock):
    self.gp, self.ready, self.turns, self.first = tb.GP(n_initial=5), ready, turns, True
  def suggest(self, space, trials, n, *, seed, minimize):
    if self.first: self.first = False; self.ready.wait(timeout=120)
    with self.turns: return self.gp.suggest(space, trials, n, seed=seed, minimize=minimize)

def ask_at_once(study: optuna.Study, storage: optuna.storages.BaseStorage, workers: int) -> dict[int, tuple]:
  """Trial number -> (x, y, c) of `workers` threads, each a process with its own sampler (seeds 0, 1, ...) asking at once."""
  ready, turns, asked = threading.Barrier(workers), threading.Lock(), {}
  def worker(seed: int) -> None:
    s = optuna.load_study(study_name=study.study_name, storage=storage, sampler=TinyBOSampler(AtOnce(ready, turns), seed=seed))
    t = s.ask()
    asked[t.number] = xyc(t)
  threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(workers)]
  for t in threads: t.start()
  for t in threads: t.join()
  return asked

class MeetAfterPublishing(optuna.storages.InMemoryStorage):
  """Each worker waits, once it stored its first proposal, for the other's: then both read the other's before deciding."""
  def __init__(self): super().__init__(); self.met, self.published = threading.Barrier(2), set()
  def set_trial_system_attr(self, trial_id, key, value):
    super().set_trial_system_attr(trial_id, key, value)
    if key == "tinybo:proposal:0" and trial_id not in self.published and getattr(self, "meet", False):
      self.published.add(trial_id); self.met.wait(timeout=120)

@pytest.mark.parametrize("both_see", [False, True], ids=["one-sees-the-other", "both-see-each-other"])
@pytest.mark.filterwarnings("error::tinybo.bo.GPFallbackWarning")   # random points would pass the test without the GP
def test_two_processes_sampling_at_the_same_moment_get_distinct_points(both_see):
  # each worker its own sampler (its own lock), as two processes on one RDB storage: both read the study before either
  # stored its proposal, so both proposed from the same trials. A GP proposes the same point from them whatever the
  # seed (they were 1e-5 apart); now a worker that sees a proposal stored meanwhile proposes again with it as pending
  storage = MeetAfterPublishing()
  study = optuna.create_study(storage=storage, sampler=TinyBOSampler(tb.GP(n_initial=5), seed=0))
  study.optimize(quadratic, n_trials=8)
  storage.meet = both_see
  asked = ask_at_once(study, storage, workers=2)
  assert len(asked) == 2 and apart(*asked.values()), asked
  running = study.get_trials(states=(P.RUNNING,))
  assert sorted(tuple(proposal(t).values()) for t in running) == sorted(asked.values())   # each stored what it runs

class InTurns(optuna.storages.InMemoryStorage):
  """Three workers that read the study at once store their first proposals in the order `order` (ranks by trial
  number), each reading the study right after its store before the next one stores; their later stores wait until all
  three have read: the lowest sees no rival, the highest the lowest's, the middle one both (the highest's first
  proposal, not yet replaced). Every read is a copy, as an RDB storage's."""
  def __init__(self, order: tuple[int, ...]):
    super().__init__()
    self.order, self.active, self.lock = order, False, threading.Lock()
    self.turn = [threading.Event() for _ in order]
    self.all_read, self.stored, self.read = threading.Event(), {}, set()
  def rank(self, trial_id: int) -> int:
    ids = sorted(self.stored) if len(self.stored) == len(self.order) else None
    return ids.index(trial_id) if ids else -1
  def set_trial_system_attr(self, trial_id, key, value):
    if self.active and key.startswith("tinybo:proposal:"):
      if trial_id not in self.stored:
        with self.lock: self.stored[trial_id] = threading.get_ident()
        if len(self.stored) == len(self.order): self.turn[self.order[0]].set()   # all three trials proposed: the stores begin
        while self.rank(trial_id) < 0: time.sleep(0.01)
        self.turn[self.rank(trial_id)].wait(timeout=120)
      elif key == "tinybo:proposal:0" and self.read != set(self.stored): self.all_read.wait(timeout=120)
    super().set_trial_system_attr(trial_id, key, value)
  def get_all_trials(self, study_id, deepcopy=True, states=None):
    got = copy.deepcopy(super().get_all_trials(study_id, deepcopy=False, states=states))
    if self.active:
      mine = next((i for i, t in self.stored.items() if t == threading.get_ident()), None)
      if mine is not None and mine not in self.read and "tinybo:proposal:0" in super().get_trial(mine).system_attrs:
        self.read.add(mine)                                                   # the read right after its first store
        at = self.order.index(self.rank(mine))
        if at + 1 < len(self.order): self.turn[self.order[at + 1]].set()
        if self.read == set(self.stored): self.all_read.set()
    return got

@pytest.mark.filterwarnings("error::tinybo.bo.GPFallbackWarning")
def test_three_processes_sampling_at_the_same_moment_get_distinct_points():
  # the lowest trial stores and reads first (no rival: it keeps the GP's point P), then the highest (rival: the lowest,
  # so it takes the second point of a batch of two with P pending), then the middle one, which sees both at P and takes
  # the second point of a batch of three with P pending twice: nearly the highest's. One retry met; now a worker that
  # proposed again checks, after storing, that no proposal stored meanwhile lies next to its own
  storage = InTurns((0, 2, 1))
  study = optuna.create_study(storage=storage, sampler=TinyBOSampler(tb.GP(n_initial=5), seed=0))
  study.optimize(quadratic, n_trials=8)
  storage.active = True
  asked = ask_at_once(study, storage, workers=3)
  assert len(asked) == 3, asked
  got = [asked[n] for n in sorted(asked)]
  assert all(apart(got[i], got[j]) for i in range(3) for j in range(i + 1, 3)), got
  running = study.get_trials(states=(P.RUNNING,))
  assert sorted(tuple(proposal(t).values()) for t in running) == sorted(asked.values())   # each stored what it runs

def test_processes_given_one_seed_draw_other_independent_values_and_a_study_reproduces():
  # a worker script started three times with TinyBOSampler(seed=0): before any trial completes there is no tree, and
  # every value is drawn independently; one RandomSampler(seed=0) per process gave the three trials one configuration
  # (and their second ones another, until a trial completed)
  study = optuna.create_study(storage="sqlite:///:memory:")
  workers = [optuna.load_study(study_name=study.study_name, storage=study._storage, sampler=TinyBOSampler(seed=0)) for _ in range(3)]
  for _ in range(2):
    firsts = [xyc(w.ask()) for w in workers]
    assert all(apart(a, b) for i, a in enumerate(firsts) for b in firsts[i + 1:]), firsts
  # one process, one seed: the same study every time (the draws depend on the seed and the trial number only)
  runs = [optuna.create_study(sampler=TinyBOSampler("random", seed=3)) for _ in range(2)]
  for r in runs: r.optimize(quadratic, n_trials=4)
  assert [t.params for t in runs[0].trials] == [t.params for t in runs[1].trials]
  other = optuna.create_study(sampler=TinyBOSampler("random", seed=4))
  other.optimize(quadratic, n_trials=1)
  assert other.trials[0].params != runs[0].trials[0].params

def test_a_proposal_replaced_by_a_shorter_one_is_read_whole():
  # a proposal longer than one system attr (Optuna's RDB limit) is stored in chunks; replaced by a shorter one, the
  # chunks past it are emptied (a storage cannot delete an attr), or a reader would append them to the new one
  from tinybo.integrations.optuna import _share, _shared, _stored
  study = optuna.create_study(storage="sqlite:///:memory:")
  t = study.ask()
  _share(study, t, {f"p{i}": i for i in range(400)})
  long = study.trials[0]
  assert len(_stored(long)) >= 2
  _share(study, t, {"x": 0.5}, len(_stored(long)))
  assert _shared(study.trials[0], set()) == {"x": 0.5}

class Meanwhile:
  """A GP that counts its batches, and whose first suggest first runs `act`: what another process does on the storage
  while this worker proposes (after its first read, before it stores its proposal)."""
  def __init__(self, act, **gp):
    self.gp, self.act, self.batches = tb.GP(**gp), act, []
  def suggest(self, space, trials, n, **kw):
    self.batches.append(n)
    if len(self.batches) == 1: self.act()
    return self.gp.suggest(space, trials, n, **kw)

def apart(a: tuple, b: tuple) -> bool:
  """Two (x, y, c) of `quadratic` at least 1% of a side apart in the unit cube the GP searches, or in other categories."""
  return a[2] != b[2] or max(abs(a[0] - b[0]) / 6, abs(math.log10(a[1] / b[1])) / 4) > 0.01

def xyc(t: optuna.Trial) -> tuple:
  return t.suggest_float("x", -3, 3), t.suggest_float("y", 1e-3, 10, log=True), t.suggest_categorical("c", ["a", "b"])

def test_a_rival_that_finished_meanwhile_is_data_not_a_point_of_the_batch():
  # another process asked trial 8 first, then sampled it from the same trials as this worker's trial 9, ran it and told
  # it, all while trial 9's GP was fitting: trial 9 must still move off that point, but the point is a finished trial's
  # value now, not a pending one that takes the batch's first point: one point proposed again, not the second of two
  study = optuna.create_study(sampler=TinyBOSampler(tb.GP(n_initial=5), seed=0))
  study.optimize(quadratic, n_trials=8)
  other = optuna.load_study(study_name=study.study_name, storage=study._storage, sampler=TinyBOSampler(tb.GP(n_initial=5), seed=1))
  early = other.ask()
  strategy = Meanwhile(lambda: other.tell(early, quadratic(early)), n_initial=5)
  mine = optuna.load_study(study_name=study.study_name, storage=study._storage, sampler=TinyBOSampler(strategy, seed=0))
  t = mine.ask()
  assert (early.number, t.number) == (8, 9)
  got = xyc(t)
  assert strategy.batches == [1, 1]
  assert apart(got, tuple(study.trials[8].params[k] for k in "xyc"))
  assert tuple(proposal(study.trials[9]).values()) == got

def test_an_enqueued_trial_at_its_fixed_values_is_no_rival():
  # an enqueued trial is pending at its fixed values from the moment it is enqueued; one that asks for a parameter
  # outside the tree (z) is sampled relatively too, and stores a proposal its fixed values all override. Stored while
  # this worker proposed, it showed nothing this worker did not know: no second proposal (it was the second of two)
  study = optuna.create_study(sampler=TinyBOSampler(tb.GP(n_initial=5), seed=0))
  study.optimize(quadratic, n_trials=8)
  study.enqueue_trial({"x": 0.5, "y": 0.1, "c": "a"})
  other = optuna.load_study(study_name=study.study_name, storage=study._storage, sampler=TinyBOSampler(tb.GP(n_initial=5), seed=1))
  fixed = other.ask()
  def runs_fixed() -> None:
    assert xyc(fixed) == (0.5, 0.1, "a")
    fixed.suggest_float("z", 0, 1)
  strategy = Meanwhile(runs_fixed, n_initial=5)
  mine = optuna.load_study(study_name=study.study_name, storage=study._storage, sampler=TinyBOSampler(strategy, seed=0))
  t = mine.ask()
  got = xyc(t)
  assert "tinybo:proposal:0" in study.trials[fixed.number].system_attrs   # it did store one
  assert strategy.batches == [1]
  assert apart(got, (0.5, 0.1, "a"))

def test_a_worker_that_proposes_nothing_the_second_time_withdraws_its_first_proposal(caplog):
  # one configuration left (x = 4), and two workers proposed it at the same moment: proposing again with the other's
  # pending, this one finds the space exhausted, stops the study and leaves its trial to independent sampling; the
  # proposal it stored first must not stay on the trial, telling the other workers it runs x = 4
  study = optuna.create_study(sampler=TinyBOSampler(tb.GP(n_initial=2), seed=0))
  for x in range(4): study.enqueue_trial({"x": x})
  study.optimize(lambda t: (t.suggest_int("x", 0, 4) - 2) ** 2, n_trials=4)
  other = optuna.load_study(study_name=study.study_name, storage=study._storage, sampler=TinyBOSampler(tb.GP(n_initial=2), seed=1))
  early = other.ask()
  strategy = Meanwhile(lambda: early.suggest_int("x", 0, 4), n_initial=2)
  mine = optuna.load_study(study_name=study.study_name, storage=study._storage, sampler=TinyBOSampler(strategy, seed=0))
  t = mine.ask()
  with caplog.at_level(logging.WARNING, logger="tinybo.integrations.optuna"): t.suggest_int("x", 0, 4)
  assert strategy.batches == [1, 2] and "stopping the study" in caplog.text
  a, b = study.trials[early.number], study.trials[t.number]
  assert a.params == proposal(a) == {"x": 4}
  assert proposal(b) == {}

def test_a_proposal_being_replaced_never_reads_as_a_mix_of_two():
  # replaced chunk by chunk (one system attr at a time), a proposal read between two writes must be the old one, the
  # new one or unreadable (then a partial write: the trial's reported params stand in for it, with a warning), never
  # the new one's first chunk before the old one's last: with values of one length the chunks end alike, and that reads
  from tinybo.integrations.optuna import _share, _shared, _stored
  reads = []
  class Watched(optuna.storages.InMemoryStorage):
    def set_trial_system_attr(self, trial_id, key, value):
      super().set_trial_system_attr(trial_id, key, value)
      if key.startswith("tinybo:proposal:"): reads.append(_shared(self.get_trial(trial_id), set()))
  study = optuna.create_study(storage=Watched())
  t = study.ask()
  old, new = {f"p{i}": 0.125 for i in range(400)}, {f"p{i}": 0.375 for i in range(400)}
  _share(study, t, old)
  assert len(_stored(study.trials[0])) == 3
  reads.clear()
  _share(study, t, new, 3)
  assert reads[-1] == new and all(r in (old, new, {}) for r in reads), [sorted(set(r.values())) for r in reads]
  _share(study, t, {"x": 0.5}, 3)
  assert reads[-1] == {"x": 0.5} and all(r in (new, {"x": 0.5}, {}) for r in reads[3:])

# ***** categorical choices that are not plain JSON, and pickling *****

@pytest.mark.parametrize("choices", [[np.int64(1), np.int64(2), np.int64(3)], [np.tanh, np.sin], [(1, 2), (3,)], [float("inf"), 0.5, float("nan")]],
                         ids=["numpy-ints", "functions", "tuples", "nan"])
@pytest.mark.filterwarnings("ignore:Choices for a categorical distribution")
def test_categorical_choices_of_any_kind_are_modelled_and_pending(choices):
  # Optuna keeps any choice in memory (with a warning); the sampler must neither crash on it nor lose a running trial
  def objective(t: optuna.Trial) -> float:
    x = t.suggest_float("x", 0, 1)
    return x + [i for i, c in enumerate(choices) if c is t.suggest_categorical("c", choices)][0]
  sampler = TinyBOSampler("random", seed=0)
  study = optuna.create_study(sampler=sampler)
  study.optimize(objective, n_trials=8)
  assert [t.state for t in study.trials] == [P.COMPLETE] * 8
  a, b = study.ask(), study.ask()
  a.suggest_float("x", 0, 1); b.suggest_float("x", 0, 1)            # the proposal is made: c is known only from it
  _, trials, _ = sampler.history(study)
  pending = {t.id: t.params for t in trials if t.state == TBState.PENDING}
  assert set(pending) == {a.number, b.number} and all(set(p) == {"x", "c"} for p in pending.values())

def pickled_and_resumed(strategy, before: int, after: int):
  """A study run `before` trials, its sampler pickled, `after` more trials; then a study from the unpickled sampler,
  given the first `before` trials, run `after`: (the study, the resumed one), which must agree."""
  study = optuna.create_study(sampler=TinyBOSampler(strategy, seed=0))
  study.optimize(quadratic, n_trials=before)
  saved = pickle.dumps(study.sampler)
  study.optimize(quadratic, n_trials=after)
  resumed = optuna.create_study(sampler=pickle.loads(saved))
  for t in study.trials[:before]: resumed.add_trial(t)
  resumed.optimize(quadratic, n_trials=after)
  return study, resumed

def test_sampler_pickles_and_resumes_the_same():
  # Optuna's way to resume a study reproducibly: pickle the sampler, restore it later
  study, resumed = pickled_and_resumed("random", 4, 3)
  assert [t.params for t in resumed.trials] == [t.params for t in study.trials]
  copy.deepcopy(study.sampler).sample_relative(study, study.ask()._cached_frozen_trial, {})   # and it copies
  resumed.optimize(quadratic, n_trials=2, n_jobs=2)                   # the restored sampler has a working lock
  assert len(resumed.trials) == 9

def test_a_gp_sampler_pickles_after_its_fits_and_resumes_the_same():
  # the README's "the sampler pickles" held for "random" only: a GP sampler that had fitted held device buffers
  # (TypeError: cannot pickle 'mmap.mmap' object); pickled now, it goes on as the sampler it was copied from
  study, resumed = pickled_and_resumed(tb.GP(n_initial=3), 5, 2)     # two GP suggestions first: a kept fit to warm-start from
  assert [t.params for t in resumed.trials] == [t.params for t in study.trials]

@pytest.mark.filterwarnings("ignore:Fixed parameter")
def test_an_enqueued_value_its_distribution_cannot_take_is_left_out():
  # Optuna only warns when an enqueued value is out of range or off the step, and completes the trial with it
  def objective(t: optuna.Trial) -> float:
    n, s = t.suggest_int("n", 0, 3), t.suggest_float("s", 0, 1, step=0.1)
    return s + (t.suggest_float("y", 0, 1) if n >= 2 else 0.5)
  sampler = TinyBOSampler("random", seed=0)
  study = optuna.create_study(sampler=sampler)
  study.optimize(objective, n_trials=6)
  study.enqueue_trial({"n": 7})                       # a parent value outside [0, 3]: the inferred tree cannot hold it
  study.enqueue_trial({"n": 1, "s": 0.33})            # off the step: not the trial at s = 0.3
  study.enqueue_trial({"n": 1, "s": float("inf")})    # not a number on the grid at all (once the last grid point)
  study.optimize(objective, n_trials=6)
  assert [t.state for t in study.trials] == [P.COMPLETE] * 12
  assert study.trials[6].params["n"] == 7 and study.trials[7].params["s"] == 0.33 and study.trials[8].params["s"] == float("inf")
  _, trials, _ = sampler.history(study)
  assert {t.id for t in trials} == set(range(12)) - {6, 7, 8}

@pytest.mark.parametrize("strategy", ["grid", "random"])
def test_an_exhausted_space_stops_the_study_like_optunas_grid_sampler(strategy, caplog):
  objective = lambda t: len(t.suggest_categorical("c", ["a", "bb", "ccc"])) + t.suggest_int("n", 0, 1)   # noqa: E731  6 configurations
  study = optuna.create_study(sampler=TinyBOSampler(strategy, seed=0))
  with caplog.at_level(logging.WARNING, logger="tinybo.integrations.optuna"):
    study.optimize(objective, n_trials=20)                            # no SearchExhausted out of optimize, no failed trial
  assert 6 <= len(study.trials) < 20 and all(t.state == P.COMPLETE for t in study.trials)
  assert {(t.params["c"], t.params["n"]) for t in study.trials} == {(c, n) for c in ["a", "bb", "ccc"] for n in (0, 1)}
  assert len([r for r in caplog.records if "stopping the study" in r.getMessage()]) == 1
  a = study.ask()                                                     # ask/tell: no loop to stop, the trial is still sampled
  assert objective(a) in (1, 2, 3, 4)

def test_a_modelled_part_exhausted_while_another_parameter_varies_never_stops_the_study(caplog):
  # a user narrows lr's range below values already run and continues: no one distribution holds them all, so lr is left
  # out of the tree, and the modelled part {opt, nesterov} has 4 configurations; the study was stopped as "exhausted"
  # (with "widen the space") after 3 trials
  def make(lo, hi):
    def objective(t):
      opt, nesterov = t.suggest_categorical("opt", ["sgd", "adam"]), t.suggest_categorical("nesterov", [True, False])
      return abs(t.suggest_float("lr", lo, hi, log=True) - 3e-3) + (opt == "sgd") * 0.1 + nesterov * 0.01
    return objective
  study = optuna.create_study(sampler=TinyBOSampler(seed=0))
  study.optimize(make(1e-4, 1e-1), n_trials=6)
  assert min(t.params["lr"] for t in study.trials) < 1e-3 < max(t.params["lr"] for t in study.trials)
  with caplog.at_level(logging.WARNING, logger="tinybo.integrations.optuna"): study.optimize(make(1e-3, 1e-2), n_trials=12)
  assert len(study.trials) == 18 and all(t.state == P.COMPLETE for t in study.trials)
  assert "samples 'lr' independently" in caplog.text and study.sampler.history(study)[0].names == ["opt", "nesterov"]

def test_a_range_widened_when_a_study_is_resumed_is_still_modelled(caplog):
  # the earlier trials lie inside the wider range: data under it. lr was left out of the tree for good, sampled at
  # random by the independent sampler for the rest of the study (with a warning)
  def make(lo, hi):
    return lambda t: (math.log10(t.suggest_float("lr", lo, hi, log=True)) + 3.5) ** 2 + t.suggest_float("x", -1, 1) ** 2
  study = optuna.create_study(sampler=TinyBOSampler(seed=0))
  study.optimize(make(1e-3, 1e-1), n_trials=8)
  with caplog.at_level(logging.WARNING, logger="tinybo.integrations.optuna"): study.optimize(make(1e-5, 1e-1), n_trials=8)
  space, trials, _ = study.sampler.history(study)
  assert space.names == ["lr", "x"] and len(trials) == 16 and "independently" not in caplog.text
  assert space.params["lr"].low == 1e-5 and study.trials[-1].distributions["lr"].low == 1e-5
  assert abs(math.log10(study.best_params["lr"]) + 3.5) < 0.25   # found below the old range: the GP searched the new part

def test_enqueued_trials_are_pending_at_their_fixed_values():
  # a queued configuration will run: other workers must not propose it (or near it) again before it does
  sampler = TinyBOSampler("random", seed=0)
  study = optuna.create_study(sampler=sampler)
  study.optimize(quadratic, n_trials=3)
  study.enqueue_trial({"x": 0.5, "y": 0.1, "c": "b"})
  study.enqueue_trial({"x": -1.0, "y": 2.0, "c": "a"})
  running = study.ask()                                               # the first enqueued one, before it asks for anything
  _, trials, _ = sampler.history(study)
  pending = {t.id: t.params for t in trials if t.state == TBState.PENDING}
  assert pending == {running.number: {"x": 0.5, "y": 0.1, "c": 1}, running.number + 1: {"x": -1.0, "y": 2.0, "c": 0}}
  study.tell(running, quadratic(running))
  study.optimize(quadratic, n_trials=2)
  assert [study.trials[i].params for i in (3, 4)] == [{"x": 0.5, "y": 0.1, "c": "b"}, {"x": -1.0, "y": 2.0, "c": "a"}]

def test_bad_constructor_arguments_are_one_line_errors():
  for seed in ("abc", 1.5, True):
    with pytest.raises(TypeError, match=r"seed=.*: use an int, or None for a random seed"): TinyBOSampler(seed=seed)
  # a string was taken, and failed at the first parameter sampled independently (AttributeError)
  with pytest.raises(TypeError, match=r"independent_sampler='random': pass an Optuna sampler such as optuna.samplers.RandomSampler"):
    TinyBOSampler(independent_sampler="random")
  # the class for an instance was taken, and every suggestion failed inside optimize on "missing 1 required positional argument"
  with pytest.raises(TypeError, match=r"^strategy=GP is a class; pass an instance, e.g. strategy=GP\(\)$"): TinyBOSampler(strategy=tb.GP)

@pytest.mark.filterwarnings("ignore:Choices for a categorical distribution")
def test_tuple_choices_in_an_rdb_storage_are_sampled_independently(tmp_path, caplog):
  # sqlite keeps a distribution as JSON: the objective's (64,) comes back [64], and Optuna refuses a relative value whose
  # distribution differs from the one asked for, so every trial after the first failed (RandomSampler runs them all)
  def objective(t: optuna.Trial) -> float:
    return len(t.suggest_categorical("layers", [(64,), (128, 64)])) + t.suggest_float("x", 0, 1)
  study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'db.sqlite'}", sampler=TinyBOSampler("random", seed=0))
  with caplog.at_level(logging.WARNING, logger="tinybo.integrations.optuna"):
    study.optimize(objective, n_trials=5)
  assert [t.state for t in study.trials] == [P.COMPLETE] * 5
  assert all(set(proposal(t)) == {"x"} for t in study.trials[1:])     # x still comes from the strategy
  assert len([r for r in caplog.records if "'layers' independently: its choices hold lists or dicts" in r.getMessage()]) == 1

def test_a_range_tinybo_cannot_encode_is_sampled_independently(caplog):
  # Optuna takes suggest_int("seed", 0, 2**62); a tinybo Int stops at 2**52 - 1: left out of the tree, not a crash of every trial
  sampler = TinyBOSampler("random", seed=0)
  study = optuna.create_study(sampler=sampler)
  with caplog.at_level(logging.WARNING, logger="tinybo.integrations.optuna"):
    study.optimize(lambda t: t.suggest_int("seed", 0, 2**62) % 7 + t.suggest_float("x", 0, 1), n_trials=4)
  assert [t.state for t in study.trials] == [P.COMPLETE] * 4 and all(set(proposal(t)) == {"x"} for t in study.trials[1:])
  assert len([r for r in caplog.records if "'seed' independently" in r.getMessage()]) == 1

def test_a_diverged_run_of_a_parallel_study_is_an_outlier_when_a_design_trial_fails_after_it_started():
  # trials 0-4 are the GP's design; trial 5 starts while trial 3 still runs (it was guided) and returns 1e6; trial 3 then
  # fails. Without the trials' times trial 5 took the failed one's design slot, set the design's range and was fitted
  import datetime as dt
  import warnings

  from optuna.distributions import FloatDistribution
  from optuna.trial import FrozenTrial, TrialState
  optuna.logging.set_verbosity(optuna.logging.WARNING)
  dists = {"x": FloatDistribution(0, 1), "y": FloatDistribution(0, 1)}
  def ask(fifth: TrialState) -> dict:
    study = optuna.create_study(sampler=TinyBOSampler(tb.GP(), seed=0))
    start = dt.datetime(2026, 1, 1)
    for i, (a, b) in enumerate(np.random.default_rng(0).uniform(size=(12, 2))):
      a, b = (0.95, 0.05) if i == 5 else (float(a), float(b))
      state, value = TrialState.COMPLETE, (a - 0.35) ** 2 + (b - 0.6) ** 2
      if i == 5: state, value = fifth, 1e6 if fifth == TrialState.COMPLETE else None
      if i == 3: state, value = TrialState.FAIL, None
      study.add_trial(FrozenTrial(number=i, state=state, value=value, datetime_start=start + dt.timedelta(seconds=i),
                                  datetime_complete=start + dt.timedelta(seconds=100 if i == 3 else i + 0.5), params={"x": a, "y": b},
                                  distributions=dists, user_attrs={}, system_attrs={}, intermediate_values={}, trial_id=i))
    with warnings.catch_warnings():
      warnings.simplefilter("ignore")
      return study.ask(dists).params
  assert ask(TrialState.COMPLETE) == ask(TrialState.FAIL)   # the outlier as the GP fits it: a failed trial

def staged_objective(t: optuna.Trial) -> float:
  """Two training stages, the second's learning rate asked for only once the first is through (pruned or not)."""
  lr1 = t.suggest_float("lr1", 1e-4, 1e-1, log=True)
  v = (math.log10(lr1) + 2) ** 2
  t.report(v, 1)
  if t.should_prune(): raise optuna.TrialPruned()
  v += (math.log10(t.suggest_float("lr2", 1e-4, 1e-1, log=True)) + 3) ** 2
  t.report(v, 2)
  return v

def test_a_trial_pruned_before_asking_for_every_proposed_parameter_is_stopped_never_proposed_again():
  # it lacked lr2, which the tree of the complete trials makes active: it was left out of the history, so the strategy
  # (deterministic in the history) proposed the very same lr1 to every later trial, and the pruner pruned each of them
  sampler = TinyBOSampler("random", seed=0)
  study = optuna.create_study(sampler=sampler, pruner=optuna.pruners.MedianPruner(n_startup_trials=3))
  study.optimize(staged_objective, n_trials=20)
  pruned = [t for t in study.trials if t.state == P.PRUNED]
  assert len(pruned) >= 3
  assert len({t.params["lr1"] for t in study.trials}) == 20           # as Optuna's own RandomSampler: no value twice
  _, trials, _ = sampler.history(study)
  by_number = {t.id: t for t in trials}
  assert sorted(by_number) == list(range(20))
  for t in pruned:   # stopped at its one report, at the lr2 the sampler proposed for it
    assert (by_number[t.number].state, by_number[t.number].value, by_number[t.number].last_step) == (TBState.STOPPED, t.intermediate_values[1], 1)
    assert by_number[t.number].params == {"lr1": t.params["lr1"], "lr2": proposal(t)["lr2"]}

def branch_objective(t: optuna.Trial) -> float:
  """An svm's gamma exists for the rbf kernel only; a linear kernel is so bad that the pruner stops every one."""
  if t.suggest_categorical("classifier", ["svm", "rf"]) == "rf": v = abs(t.suggest_int("depth", 2, 32) - 10) / 10
  else:
    v = (math.log10(t.suggest_float("C", 1e-3, 1e3, log=True)) - 1) ** 2 / 4
    rbf = t.suggest_categorical("kernel", ["lin", "rbf"]) == "rbf"
    v += (math.log10(t.suggest_float("gamma", 1e-4, 1.0, log=True)) + 2) ** 2 / 8 if rbf else 100.0
  t.report(v, 1)
  if t.should_prune(): raise optuna.TrialPruned()
  return v

def test_a_pruned_trial_on_a_branch_no_complete_trial_showed_teaches_the_tree():
  # the complete trials showed gamma with every svm (all rbf): a pruned svm with the linear kernel lacked gamma, was left
  # out of the history, and the same svm/linear configuration was proposed, and pruned, again and again
  sampler = TinyBOSampler("random", seed=0)
  study = optuna.create_study(sampler=sampler, pruner=optuna.pruners.MedianPruner(n_startup_trials=3))
  for p in ({"classifier": "svm", "C": 10.0, "kernel": "rbf", "gamma": 0.01}, {"classifier": "rf", "depth": 12},
            {"classifier": "svm", "C": 1.0, "kernel": "rbf", "gamma": 0.1}):
    study.enqueue_trial(p)
  study.optimize(branch_objective, n_trials=24)
  linear = [t for t in study.trials if t.params.get("kernel") == "lin"]
  assert len(linear) >= 2 and all(t.state == P.PRUNED for t in linear)
  assert len({tuple(sorted(t.params.items())) for t in study.trials}) == 24   # no configuration run twice
  space, trials, _ = sampler.history(study)
  assert sorted(t.id for t in trials) == list(range(24))
  assert space.conditions["gamma"] == {"kernel": (1,)}                # gamma belongs to rbf (choice 1), as the pruned trials show
  assert all(t.state == TBState.STOPPED for t in trials if t.id in {u.number for u in linear})

def test_a_failed_trial_on_a_branch_no_complete_trial_showed_is_not_run_again():
  # the same with an objective that raises for the linear kernel (caught by study.optimize): 22 of 25 trials failed on one configuration
  def objective(t: optuna.Trial) -> float:
    if t.suggest_categorical("classifier", ["svm", "rf"]) == "rf": return abs(t.suggest_int("depth", 2, 32) - 10) / 10
    v = (math.log10(t.suggest_float("C", 1e-3, 1e3, log=True)) - 1) ** 2 / 4
    if t.suggest_categorical("kernel", ["lin", "rbf"]) == "lin": raise ValueError("no linear kernel for this data")
    return v + (math.log10(t.suggest_float("gamma", 1e-4, 1.0, log=True)) + 2) ** 2 / 8
  sampler = TinyBOSampler("random", seed=0)
  study = optuna.create_study(sampler=sampler)
  for p in ({"classifier": "svm", "C": 10.0, "kernel": "rbf", "gamma": 0.01}, {"classifier": "rf", "depth": 12}):
    study.enqueue_trial(p)
  study.optimize(objective, n_trials=20, catch=(ValueError,))
  assert 2 <= sum(t.state == P.FAIL for t in study.trials) <= 12
  assert len({tuple(sorted(t.params.items())) for t in study.trials}) == 20
  assert sorted(t.id for t in sampler.history(study)[1]) == list(range(20))

def test_a_trial_that_failed_between_two_suggestions_leaves_no_parameter_out_of_the_tree():
  # trial 1 (an "a" before any complete "a" showed y: its proposal lacked y) crashed before asking for y. As a row of the
  # tree it made y look as if it came and went at random under "a": y was left out for good, sampled independently in
  # every later trial (0 of 15 from the GP; best 0.05 after 20 trials against 1e-6 from the complete trials' tree)
  def objective(t: optuna.Trial) -> float:
    c, x = t.suggest_categorical("c", ["a", "b"]), t.suggest_float("x", -1, 1)
    if t.number == 1: raise RuntimeError("out of memory")
    return x * x + (c == "b") + ((t.suggest_float("y", -1, 1) - 0.5) ** 2 if c == "a" else 0.0)
  sampler = TinyBOSampler("random", seed=0)
  study = optuna.create_study(sampler=sampler)
  study.enqueue_trial({"c": "b", "x": 0.3})
  study.enqueue_trial({"c": "a"})
  study.optimize(objective, n_trials=12, catch=(RuntimeError,))
  space, _, _ = sampler.history(study)
  assert space.conditions == {"y": {"c": (0,)}} and not sampler._left_out
  first = min(t.number for t in study.trials if "y" in t.params)   # the first "a" that showed y
  later = [t for t in study.trials if t.number > first and t.params.get("c") == "a"]
  assert later and all("y" in proposal(t) for t in later)

def below_the_line(t: optuna.Trial) -> float:
  x, y = t.suggest_float("x", -2, 2), t.suggest_float("y", -2, 2)
  return (x - 1) ** 2 + (y - 1) ** 2

def x_plus_y_at_most_1(ft: optuna.trial.FrozenTrial) -> tuple[float, float]:
  return (ft.params["x"] + ft.params["y"] - 1, ft.params["x"] - 2)

@pytest.mark.filterwarnings("ignore:`constraints_func` has been deprecated")
def test_constraints_are_stored_on_the_trials_as_optunas_own_samplers_store_them():
  def objective(t: optuna.Trial) -> float:
    v = below_the_line(t)
    if t.number == 2: raise optuna.TrialPruned()   # Optuna computes the constraints of a pruned trial too
    return v
  points = [{"x": 0.5, "y": 0.5}, {"x": 1.0, "y": 1.0}, {"x": 0.9, "y": 0.9}, {"x": -1.0, "y": 0.25}, {"x": 0.25, "y": 0.5}]
  studies = []
  for sampler in (TinyBOSampler(seed=0, constraints_func=x_plus_y_at_most_1),
                  optuna.samplers.TPESampler(seed=0, constraints_func=x_plus_y_at_most_1)):
    study = optuna.create_study(sampler=sampler)
    for p in points: study.enqueue_trial(p)
    study.optimize(objective, n_trials=len(points) + 2)
    studies.append(study)
  ours, tpe = studies
  for a, b in zip(ours.trials[:len(points)], tpe.trials[:len(points)]):
    assert a.params == b.params and a.system_attrs["constraints"] == b.system_attrs["constraints"] and a.constraints == b.constraints
    assert isinstance(a.system_attrs["constraints"], tuple)
  for t in ours.trials: assert t.system_attrs["constraints"] == x_plus_y_at_most_1(t)
  # Optuna's best_trial picks among the feasible trials: (1, 1) and (0.9, 0.9) have lower values and are infeasible
  assert ours.best_trial.number not in (1, 2) and ours.best_value <= 0.5 and x_plus_y_at_most_1(ours.best_trial)[0] <= 0
  # the strategy sees the infeasible trials as failed (the pruned one too), the feasible ones as they are
  _, trials, _ = ours.sampler.history(ours)
  states = {t.id: t.state for t in trials}
  assert [states[i] for i in range(len(points))] == [TBState.COMPLETE, TBState.FAILED, TBState.FAILED, TBState.COMPLETE, TBState.COMPLETE]

def test_the_gp_moves_away_from_infeasible_regions():
  # minimize (x-1)^2 + (y-1)^2 subject to x + y <= 1: the unconstrained minimum (1, 1) is infeasible, the constrained one
  # is (0.5, 0.5), value 0.5, on the boundary. An infeasible trial is failed ("not here"): no model of the constraint,
  # and the failures just across the boundary keep the search off it, so the best feasible value stays well above 0.5
  # (TPESampler(constraints_func=...) does no better: 0.58-1.65 on these seeds), but it beats the same GP without
  # constraints on every seed, and it proposes far fewer infeasible trials after its initial design.
  def cons(ft: optuna.trial.FrozenTrial) -> tuple[float]: return (ft.params["x"] + ft.params["y"] - 1,)
  best, late_infeasible = {}, {}
  for with_constraints in (True, False):
    for seed in range(5):
      study = optuna.create_study(sampler=TinyBOSampler(seed=seed, constraints_func=cons if with_constraints else None))
      study.optimize(below_the_line, n_trials=30)
      best[with_constraints, seed] = min(t.value for t in study.trials if cons(t)[0] <= 0)
      late_infeasible[with_constraints, seed] = sum(cons(t)[0] > 0 for t in study.trials[5:])   # after the 5 trials of the design
  ours = [best[True, s] for s in range(5)]
  assert sum(best[True, s] < best[False, s] for s in range(5)) >= 4, best
  assert max(ours) < 1.2 and np.median(ours) < 0.9, ours
  assert all(late_infeasible[True, s] < late_infeasible[False, s] for s in range(5)), late_infeasible
  assert sum(late_infeasible[True, s] for s in range(5)) * 3 < sum(late_infeasible[False, s] for s in range(5)), late_infeasible

@pytest.mark.parametrize("bad", ["raise", "nan"])
def test_constraints_that_cannot_be_computed_make_the_trial_infeasible_and_the_study_goes_on(bad, caplog):
  def cons(ft: optuna.trial.FrozenTrial) -> tuple[float, ...]:
    if ft.number == 1:
      if bad == "raise": raise ZeroDivisionError("no constraint here")
      return (float("nan"),)
    return (ft.params["x"] + ft.params["y"] - 1,)
  study = optuna.create_study(sampler=TinyBOSampler(seed=0, constraints_func=cons))
  study.enqueue_trial({"x": 0.0, "y": 0.0})
  study.enqueue_trial({"x": 0.4, "y": 0.5})   # feasible and the best of the study, but its constraints are unknown
  with caplog.at_level(logging.WARNING, logger="tinybo.integrations.optuna"):
    study.optimize(below_the_line, n_trials=4)
  assert len(study.trials) == 4 and all(t.state == P.COMPLETE for t in study.trials)
  msgs = [r.getMessage() for r in caplog.records if "constraints_func" in r.getMessage()]
  assert len(msgs) == 1 and "trial 1" in msgs[0] and "infeasible" in msgs[0], msgs
  assert math.isnan(study.trials[1].system_attrs["constraints"][0])
  assert study.best_trial.number != 1   # Optuna's best_trial passes it over too
  _, trials, _ = study.sampler.history(study)
  assert next(t for t in trials if t.id == 1).state == TBState.FAILED

def test_constraints_set_with_trial_set_constraint_count_the_same_way():
  if not hasattr(optuna.Trial, "set_constraint"): pytest.skip("Optuna < 5 has no trial.set_constraint")
  def objective(t: optuna.Trial) -> float:
    v = below_the_line(t)
    t.set_constraint("line", t.params["x"] + t.params["y"] - 1)
    return v
  study = optuna.create_study(sampler=TinyBOSampler(seed=0))
  for p in ({"x": 0.5, "y": 0.5}, {"x": 1.0, "y": 1.0}): study.enqueue_trial(p)
  study.optimize(objective, n_trials=2)
  _, trials, _ = study.sampler.history(study)
  assert [t.state for t in trials] == [TBState.COMPLETE, TBState.FAILED]

def test_constraints_func_that_is_not_callable_is_a_one_line_type_error():
  for bad in ("x + y <= 1", [lambda t: (0.0,)], 0):
    with pytest.raises(TypeError, match=r"constraints_func=.*: pass a function of an Optuna FrozenTrial that returns a sequence of floats") as e:
      TinyBOSampler(constraints_func=bad)
    assert "\n" not in str(e.value)

@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning", "ignore:Heartbeat of storage:UserWarning")
def test_a_stale_trial_that_optunas_retry_callback_enqueues_again_is_not_bad_here(tmp_path):
  # a worker killed mid-trial: its heartbeat goes stale, fail_stale_trials fails it, and RetryHeartbeatStaleTrialCallback (how
  # Optuna recommends recovering) enqueues its parameters again. The failure measured nothing about them: while the
  # copy waits or once it ran, the GP must not condition the point at the worst value
  storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 's.db'}", heartbeat_interval=1, grace_period=1,
                                       heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1))
  sampler = TinyBOSampler(tb.GP(n_initial=5), seed=0)
  study = optuna.create_study(storage=storage, sampler=sampler)
  study.optimize(quadratic, n_trials=6)
  killed = study.ask()
  xyc(killed)
  storage.record_heartbeat(killed._trial_id)                           # the worker's last sign of life, then nothing
  time.sleep(2.5)
  optuna.storages.fail_stale_trials(study)
  trials = study.get_trials()
  assert trials[killed.number].state == P.FAIL and trials[-1].state == P.WAITING and trials[-1].params == trials[killed.number].params
  space, seen, _ = sampler.history(study)
  assert History.of(space, seen).X_failed.shape[0] == 0 and History.of(space, seen).X_pending.shape[0] == 1
  assert History.of(space, seen[:-1]).X_failed.shape[0] == 1           # without the retry it is a failure there
  study.optimize(quadratic, n_trials=1)                                # the retry runs the killed trial's parameters
  assert study.trials[-1].params == trials[killed.number].params and study.trials[-1].state == P.COMPLETE
  space, seen, _ = sampler.history(study)
  assert History.of(space, seen).X_failed.shape[0] == 0

def test_tinygrad_objectives_in_optunas_threads_take_turns_and_give_what_a_run_alone_gives():
  # study.optimize(n_jobs=3) with a tinygrad trainer: 14 of 16 trials failed ("having TinyJit inside another TinyJit")
  # and one that completed had another run's loss; now each trial holds the turn from its first Tensor to its tell
  from test_threads import Overlap, train
  from tinygrad import Tensor
  overlap = Overlap()
  def objective(t: optuna.Trial) -> float:
    p = {"lr": t.suggest_float("lr", 1e-3, 0.3, log=True), "w0": t.suggest_float("w0", -1, 1)}
    Tensor([0.0])                                                       # its first Tensor: the turn from here on
    with overlap: return train(p)[-1]
  study = optuna.create_study(sampler=TinyBOSampler(tb.GP(n_initial=4), seed=0))
  with pytest.warns(tb.TinygradThreadsWarning, match=r"^study.optimize\(n_jobs > 1\): the objective runs tinygrad"):
    study.optimize(objective, n_trials=9, n_jobs=3)
  assert [t.state for t in study.trials] == [P.COMPLETE] * 9 and overlap.most == 1
  assert [t.value for t in study.trials] == [train(t.params)[-1] for t in study.trials]

def test_objectives_without_tinygrad_in_optunas_threads_run_at_once():
  from test_threads import Overlap
  overlap = Overlap()
  def objective(t: optuna.Trial) -> float:
    x = t.suggest_float("x", 0, 1)
    with overlap: time.sleep(0.3)
    return x
  study = optuna.create_study(sampler=TinyBOSampler("random", seed=0))
  study.optimize(objective, n_trials=8, n_jobs=4)
  assert overlap.most == 4 and len(study.trials) == 8
