"""TinyBOSearch with a real local Ray: a Tuner run of 20 trials, 4 at a time, that beats Ray's own random sampling of
the same space; save/restore (by file and from the experiment folder) that loses no observation; an interrupted
experiment resumed whole with Tuner.restore; trials that Ray's ASHAScheduler ends early recorded as stopped with their
reports; space conversion."""
import math
import os
import signal
import sys
import tempfile
import time

import numpy as np
import pytest
import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler, HyperBandScheduler
from ray.tune.search import ConcurrencyLimiter, Searcher
from ray.tune.search.variant_generator import parse_spec_vars

import tinybo as tb
from tinybo.integrations.ray import TinyBOSearch, convert_search_space

SPACE = {"lr": tune.loguniform(1e-5, 1e-1), "x": tune.uniform(-2.0, 2.0), "act": tune.choice(["relu", "gelu"]), "epochs": 3}

def loss(c: dict) -> float:
  return (math.log10(c["lr"]) + 2.5) ** 2 / 4 + (c["x"] - 0.7) ** 2 + (0.0 if c["act"] == "gelu" else 0.5)

def trainable(config: dict) -> None:
  start = time.time()
  time.sleep(1.5)   # long enough for trials to overlap even while suggestions are slow (a loaded machine)
  tune.report({"loss": loss(config), "start": start, "end": time.time(), "epochs": config["epochs"]})

@pytest.fixture(scope="module")
def ray_local():
  # the workers cannot import this test module: ship its functions (the trainable, the loss) by value
  ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
  ray.init(num_cpus=4, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False, configure_logging=False)
  yield
  ray.shutdown()

def fit(search, n: int, path, name: str, callbacks: list | None = None):
  tuner = tune.Tuner(trainable, param_space=SPACE,
                     tune_config=tune.TuneConfig(search_alg=ConcurrencyLimiter(search, max_concurrent=4), metric="loss", mode="min",
                                                 num_samples=n, reuse_actors=True),
                     run_config=tune.RunConfig(storage_path=str(path), name=name, verbose=0, callbacks=callbacks))
  return tuner.fit()

class InterruptAfter(tune.Callback):
  """Stops the experiment after n completed trials the way Ctrl+C does: Tune catches SIGUSR1 like SIGINT, saves the
  experiment state (searcher included) and returns, leaving the running trials unfinished."""
  def __init__(self, n: int): self.n, self.done = n, 0
  def on_trial_complete(self, iteration, trials, trial, **info):
    self.done += 1
    if self.done == self.n: os.kill(os.getpid(), signal.SIGUSR1)

@pytest.fixture(scope="module")
def first_run(ray_local, tmp_path_factory):
  path = tmp_path_factory.mktemp("ray")
  search = TinyBOSearch(strategy=tb.GP(n_initial=6), seed=0)
  results = fit(search, 20, path, "gp")
  return search, results, path

def test_tuner_beats_random_with_4_concurrent(first_run):
  search, results, _ = first_run
  df = results.get_dataframe()
  assert len(df) == 20 and not results.errors, results.errors
  assert all(df["epochs"] == 3)                                       # constants of param_space reach every trial
  starts, ends = df["start"].to_numpy(), df["end"].to_numpy()
  overlap = max(int(((starts <= s) & (ends > s)).sum()) for s in starts)
  assert 2 <= overlap <= 4, overlap                                   # trials really ran concurrently, never more than 4
  configs = [(c["lr"], c["x"], c["act"]) for c in (r.config for r in results)]
  assert len(set(configs)) == 20, configs                             # pending trials were fantasized, never re-suggested
  states = [t.state for t in search.trials]
  assert states.count(tb.TrialState.COMPLETE) == 20, states
  best = results.get_best_result().metrics["loss"]
  # Ray's random search: the same domains sampled by Ray itself, 20 per run, 300 runs
  _, domains, _ = parse_spec_vars(SPACE)
  rng = np.random.default_rng(0)
  random_best = []
  for _ in range(300):
    cols = {p[0]: d.sample(size=20, random_state=rng) for p, d in domains}
    random_best.append(min(loss({k: cols[k][i] for k in cols}) for i in range(20)))
  q10 = float(np.quantile(random_best, 0.1))
  assert best < q10 and best < 0.05, (best, q10, float(np.median(random_best)))

def test_save_restore_round_trip_loses_nothing(first_run, tmp_path):
  search, _, path = first_run
  before = [(t.id, t.params, t.state, t.value) for t in search.trials]
  search.save(str(tmp_path / "s.pkl"))
  restored = TinyBOSearch(strategy=tb.GP(n_initial=6))
  restored.restore(str(tmp_path / "s.pkl"))
  assert [(t.id, t.params, t.state, t.value) for t in restored.trials] == before
  assert restored.metric == "loss" and restored.mode == "min"
  # the checkpoint Tune wrote itself into the experiment folder holds the same history
  from_dir = TinyBOSearch()
  from_dir.restore_from_dir(str(path / "gp"))
  assert [(t.id, t.params, t.state, t.value) for t in from_dir.trials] == before
  # and the restored searcher goes on: 4 more trials, the old 20 untouched, nothing suggested twice
  fit(restored, 4, tmp_path, "more")
  after = restored.trials
  assert len(after) == 24 and [(t.id, t.params, t.state, t.value) for t in after[:20]] == before
  assert all(t.state == tb.TrialState.COMPLETE for t in after)
  assert len({tuple(t.params.values()) for t in after}) == 24

def test_interrupted_experiment_resumes_with_tuner_restore(ray_local, tmp_path):
  fit(TinyBOSearch(strategy=tb.GP(n_initial=6), seed=1), 16, tmp_path, "cut", callbacks=[InterruptAfter(8)])
  # what the cut left on disk: the searcher state Tune saved with the experiment
  saved = TinyBOSearch()
  saved.restore_from_dir(str(tmp_path / "cut"))
  done = sum(t.state == tb.TrialState.COMPLETE for t in saved.trials)
  assert 8 <= done < 16, done                                        # really cut short, after the first 8 finished
  assert tune.Tuner.can_restore(str(tmp_path / "cut"))
  results = tune.Tuner.restore(str(tmp_path / "cut"), trainable, resume_unfinished=True).fit()
  df = results.get_dataframe()
  assert len(df) == 16 and not results.errors, results.errors        # the whole budget, once, no trial lost to the cut
  assert len({(c["lr"], c["x"], c["act"]) for c in (r.config for r in results)}) == 16
  # the searcher Tune restored went on from the saved history: all 16 complete, the old ones unchanged, nothing repeated
  resumed = TinyBOSearch()
  resumed.restore_from_dir(str(tmp_path / "cut"))
  assert [(t.id, t.params) for t in resumed.trials[:len(saved.trials)]] == [(t.id, t.params) for t in saved.trials]
  assert len(resumed.trials) == 16 and all(t.state == tb.TrialState.COMPLETE for t in resumed.trials)
  assert all(resumed.trials[i].value == t.value for i, t in enumerate(saved.trials) if t.state == tb.TrialState.COMPLETE)
  assert sorted(t.value for t in resumed.trials) == sorted(df["loss"])

EPOCHS = 9

def curve(c: dict, epoch: int) -> float:
  """A learning curve that falls with the epoch towards loss(c): the ranking at epoch 1 is the final ranking."""
  return loss(c) + 1.0 / epoch

def epochs_trainable(config: dict) -> None:
  for epoch in range(1, EPOCHS + 1):
    time.sleep(0.05)
    tune.report({"loss": curve(config, epoch)})

def test_asha_stopped_trials_are_stopped_at_their_last_report(ray_local, tmp_path):
  search = TinyBOSearch(strategy=tb.GP(n_initial=4), seed=0)
  tuner = tune.Tuner(epochs_trainable, param_space=SPACE,
                     tune_config=tune.TuneConfig(search_alg=ConcurrencyLimiter(search, max_concurrent=3), metric="loss", mode="min",
                                                 num_samples=10, reuse_actors=True,
                                                 scheduler=ASHAScheduler(max_t=EPOCHS, grace_period=1, reduction_factor=3)),
                     run_config=tune.RunConfig(storage_path=str(tmp_path), name="asha", verbose=0))
  results = tuner.fit()
  assert not results.errors, results.errors
  # Ray's own record of each trial: every result it reported, by config
  # keyed by the whole configuration: two trials may share lr and x (a bound) and differ only in act
  ray_curves = {(r.config["lr"], r.config["x"], r.config["act"]): (r.config, list(r.metrics_dataframe["loss"])) for r in results}
  trials, curves = search.trials, search.curves
  assert len(trials) == 10 and len(ray_curves) == 10
  S, C = tb.TrialState.STOPPED, tb.TrialState.COMPLETE
  for t in trials:
    act = ["relu", "gelu"][t.params["act"]]   # the searcher keeps a choice as its index
    config, ray_curve = ray_curves[(t.params["lr"], t.params["x"], act)]
    # every result is a report at its training_iteration, the last one included
    assert [(r.step, r.value) for r in curves[t.id]] == [(i, v) for i, v in enumerate(ray_curve, 1)]
    assert [(r.step, r.value) for r in curves[t.id]] == [(e, pytest.approx(curve(config, e))) for e in range(1, len(ray_curve) + 1)]
    assert t.last_step == len(ray_curve) and t.value == ray_curve[-1]
    # stopped early <=> ended before the last epoch, never complete at a partial length
    assert t.state == (S if len(ray_curve) < EPOCHS else C), (t, ray_curve)
    assert [r.stop for r in curves[t.id]] == [False] * (len(ray_curve) - 1) + [t.state == S]
  states = [t.state for t in trials]
  assert states.count(S) >= 3 and states.count(C) >= 1, states         # ASHA really stopped some, and let some finish
  # the state travels with the checkpoint
  search.save(str(tmp_path / "s.pkl"))
  restored = TinyBOSearch()
  restored.restore(str(tmp_path / "s.pkl"))
  assert [(t.id, t.state, t.value, t.last_step) for t in restored.trials] == [(t.id, t.state, t.value, t.last_step) for t in trials]
  assert restored.curves == curves

class CallLog(TinyBOSearch):
  """TinyBOSearch that also records how Ray ended each trial: (result's training_iteration or None, error)."""
  def __init__(self, *a, **k): super().__init__(*a, **k); self.ends = []
  def on_trial_complete(self, trial_id, result=None, error=False):
    self.ends.append((None if result is None else result.get("training_iteration"), error))
    super().on_trial_complete(trial_id, result, error)

def test_hyperband_trials_stopped_while_paused_keep_their_reports(ray_local, tmp_path):
  # HyperBandScheduler pauses a trial at the end of its rung and may stop it from PAUSED: Ray then calls
  # on_trial_complete with no result. Such a trial ended at its last report: stopped (or complete at full length), never failed
  search = CallLog({"x": tb.Float(-2.0, 2.0)}, metric="loss", mode="min", strategy="random", seed=0, max_step=EPOCHS)
  # no ConcurrencyLimiter: it counts paused trials as running, so with fewer slots than the bracket needs, Tune can wait
  # forever for a trial that HyperBand keeps paused until its bracket fills (a hang on a one-core machine)
  tuner = tune.Tuner(lambda c: epochs_trainable({**c, "lr": 1e-3, "act": "gelu"}), param_space={},
                     tune_config=tune.TuneConfig(search_alg=search, num_samples=4, metric="loss", mode="min",
                                                 scheduler=HyperBandScheduler(max_t=EPOCHS, reduction_factor=3)),
                     run_config=tune.RunConfig(storage_path=str(tmp_path), name="hb", verbose=0))
  results = tuner.fit()
  assert not results.errors, results.errors
  assert (None, False) in search.ends, search.ends                   # a trial was stopped while paused
  curves = search.curves
  for t in search.trials:
    last = curves[t.id][-1]
    assert t.value == last.value and t.last_step == last.step, (t, last)
    assert t.state == (tb.TrialState.COMPLETE if last.step == EPOCHS else tb.TrialState.STOPPED), (t, search.ends)

# ***** no Ray cluster needed below *****

def test_convert_ray_primitives():
  space, codecs, paths = convert_search_space({
    "a": tune.uniform(-1, 1), "b": tune.loguniform(1e-4, 1e-1), "c": tune.randint(0, 10), "d": tune.lograndint(1, 1000),
    "e": tune.quniform(0, 1, 0.25), "f": tune.qrandint(0, 20, 5), "g": tune.qloguniform(1e-3, 1, 1e-3), "h": tune.choice([[1, 2], None, "s"]),
    "nested": {"i": tune.uniform(0, 1)}, "const": 5})
  assert space.names == ["a", "b", "c", "d", "e", "f", "g", "h", "nested/i"] and paths["nested/i"] == ("nested", "i")
  assert space.params["c"] == tb.Int(0, 9) and space.params["d"] == tb.Int(1, 999, log=True)   # Ray's upper bound is exclusive
  assert space.params["b"] == tb.Float(1e-4, 1e-1, log=True)
  assert [codecs["e"].from_tb(i) for i in range(codecs["e"].param.high + 1)] == [0.0, 0.25, 0.5, 0.75, 1.0]
  assert [codecs["f"].from_tb(i) for i in range(codecs["f"].param.high + 1)] == [0, 5, 10, 15, 20]
  assert space.params["g"] == tb.Int(1, 1000, log=True) and codecs["g"].from_tb(12) == 0.012 and codecs["g"].to_tb(0.012) == 12
  with pytest.raises(ValueError, match="value 0.0125 is not a multiple of the step 0.001 from 0.001; use 0.012 or 0.013"): codecs["g"].to_tb(0.0125)
  with pytest.raises(ValueError, match="value 2.0 is outside \\[0.001, 1.0\\]"): codecs["g"].to_tb(2.0)
  assert codecs["h"].from_tb(0) == [1, 2] and codecs["h"].to_tb(None) == 1
  s = TinyBOSearch(strategy="random", metric="m", mode="max")
  assert s.set_search_properties(None, None, {"lr": tune.loguniform(1e-4, 1e-1), "opt": {"name": tune.choice(["sgd", "adam"])}, "k": 1})
  for i in range(20):
    c = s.suggest(str(i))
    assert 1e-4 <= c["lr"] <= 1e-1 and c["opt"]["name"] in ("sgd", "adam")

def test_quantized_int_domains_take_the_values_rays_own_sampler_draws():
  # Ray's sampler: qrandint/qlograndint include the upper bound, except with q=1 (the default) where it is exclusive
  for d in (tune.qrandint(1, 10), tune.qrandint(1, 10, 1), tune.qlograndint(1, 10, 1), tune.qrandint(1, 10, 3), tune.qrandint(0, 12, 4)):
    ray_values = {int(v) for v in d.sample(size=3000, random_state=np.random.default_rng(0))}
    _, codecs, _ = convert_search_space({"x": d})
    c = codecs["x"]
    assert {c.from_tb(i) for i in range(c.param.low, c.param.high + 1)} == ray_values

def test_a_log_quantized_space_is_searched_without_repeats_until_exhausted():
  # the GP searched a log-quantized domain as a continuous log float and rounded: 40 suggestions of this 32-value space
  # held 3 distinct configurations. Its multiples are now the integers k of k*q: every configuration once, then FINISHED
  s = TinyBOSearch(metric="loss", mode="min", seed=0)
  s.set_search_properties(None, None, {"units": tune.qlograndint(8, 64, 8), "lr": tune.qloguniform(1e-3, 4e-3, 1e-3)})
  seen = []
  for i in range(33):
    c = s.suggest(str(i))
    if c == Searcher.FINISHED: break
    seen.append((c["units"], c["lr"]))
    s.on_trial_complete(str(i), {"loss": abs(c["units"] - 24) + abs(c["lr"] - 0.002) * 1000, "training_iteration": 1})
  assert sorted(seen) == [(u, lr) for u in range(8, 65, 8) for lr in (0.001, 0.002, 0.003, 0.004)]
  # the history holds the values the trials ran with (the model's units are the multiples k of k*q)
  assert [(t.params["units"] * 8, round(t.params["lr"] * 1e-3, 12)) for t in s.trials] == seen
  with pytest.raises(ValueError, match="more than a log-scale integer can index"): convert_search_space({"x": tune.qloguniform(1e-15, 1, 1e-15)})

def test_unsupported_domains_are_clear_errors():
  with pytest.raises(ValueError, match="'g' is a tune.grid_search"): convert_search_space({"g": tune.grid_search([1, 2])})
  with pytest.raises(ValueError, match="'f': TinyBOSearch cannot search sample_from"): convert_search_space({"f": tune.sample_from(lambda _: 1)})
  with pytest.raises(ValueError, match="cannot search Float with _?Normal sampling"): convert_search_space({"n": tune.randn(0, 1)})
  for empty in (tune.randint(5, 5), tune.lograndint(4, 4), tune.qrandint(5, 5), tune.randint(5, 3)):   # Ray's own sampler draws nothing
    with pytest.raises(ValueError, match=r"'e': the int domain \[\d, \d\) has no value \(Ray's upper bound is exclusive\); give an upper"):
      convert_search_space({"e": empty})
  # a domain nested in a choice would reach the trainable as an unresolved Domain object
  for nested in ({"name": "sgd", "lr": tune.uniform(0, 1)}, [tune.randint(0, 3)], {"k": tune.grid_search([1, 2])}):
    with pytest.raises(ValueError, match="'opt': a tune.choice whose choices hold tune domains is a nested space .* when= conditions"):
      convert_search_space({"opt": tune.choice([{"name": "adam"}, nested])})

def test_tinybo_space_metric_mode_and_warm_start():
  space = tb.Space({"x": tb.Float(0, 1), "n": tb.Int(1, 4), "tag": "run"})
  s = TinyBOSearch(space, strategy="random", seed=3)
  with pytest.raises(RuntimeError, match="metric"): s.suggest("0")
  assert s.set_search_properties("score", "max", {"ignored": tune.uniform(0, 1)}) is False   # the constructor's space wins
  s = TinyBOSearch(space, metric="score", mode="max", strategy="random", seed=3)
  s.add_evaluated_point({"x": 0.5, "n": 2}, 1.5)
  s.add_evaluated_point({"x": 0.1, "n": 1}, 0.0, error=True)
  c = s.suggest("t1")
  assert c["tag"] == "run" and 0 <= c["x"] <= 1 and c["n"] in (1, 2, 3, 4)
  s.suggest("t2"); s.suggest("t3")
  s.on_trial_complete("t1", {"score": 2.0})
  s.on_trial_complete("t2", None, error=True)
  s.on_trial_complete("t3", {"score": float("nan")})
  s.on_trial_complete("t1", {"score": 9.0})                      # a second completion is ignored
  st = [(t.state, t.value) for t in s.trials]
  F, C = tb.TrialState.FAILED, tb.TrialState.COMPLETE
  assert st == [(C, 1.5), (F, None), (C, 2.0), (F, None), (F, None)]
  assert isinstance(s, Searcher)

def test_grid_strategy_finishes():
  s = TinyBOSearch({"c": tb.Categorical(["a", "b"])}, metric="m", mode="min", strategy="grid")
  got = [s.suggest(str(i)) for i in range(3)]
  assert got[:2] == [{"c": "a"}, {"c": "b"}] and got[2] == Searcher.FINISHED

def test_points_to_evaluate_come_first():
  s = TinyBOSearch(points_to_evaluate=[{"lr": 0.01, "opt": {"name": "adam"}}], metric="m", mode="min", strategy="random")
  s.set_search_properties(None, None, {"lr": tune.loguniform(1e-4, 1e-1), "opt": {"name": tune.choice(["sgd", "adam"])}})
  assert s.suggest("a") == {"lr": 0.01, "opt": {"name": "adam"}}
  assert s.suggest("b") != {"lr": 0.01, "opt": {"name": "adam"}}

def test_evaluated_rewards_record_the_points_as_run_as_rays_optuna_search_takes_them():
  space = {"lr": tune.loguniform(1e-4, 1e-1), "opt": {"name": tune.choice(["sgd", "adam"])}}
  pts = [{"lr": 0.01, "opt": {"name": "adam"}}, {"lr": 0.001, "opt": {"name": "sgd"}}]
  s = TinyBOSearch(points_to_evaluate=pts, evaluated_rewards=[0.5, float("nan")], metric="m", mode="min", strategy="random")
  assert s.set_search_properties(None, None, space)
  C, F = tb.TrialState.COMPLETE, tb.TrialState.FAILED
  assert [(t.params, t.state, t.value) for t in s.trials] == [({"lr": 0.01, "opt/name": 1}, C, 0.5), ({"lr": 0.001, "opt/name": 0}, F, None)]
  assert s.suggest("a") not in pts   # never run again
  s = TinyBOSearch({"x": tb.Float(0, 1)}, metric="m", mode="max", points_to_evaluate=[{"x": 0.25}], evaluated_rewards=[3])
  assert [(t.params, t.state, t.value) for t in s.trials] == [({"x": 0.25}, C, 3.0)]
  for bad in ([1.0], 1.0, {"lr": 1.0}):
    with pytest.raises(ValueError, match="evaluated_rewards=.*one metric value per point of points_to_evaluate \\(2 points\\)"):
      TinyBOSearch(points_to_evaluate=pts, evaluated_rewards=bad)

def test_scheduler_ended_trials_as_ray_calls_the_searcher():
  """The calls Ray makes: on_trial_result for each result the scheduler lets through; the result that made the scheduler
  stop a trial reaches on_trial_complete only. A trial whose trainable returned repeats its last result."""
  S, C, F = tb.TrialState.STOPPED, tb.TrialState.COMPLETE, tb.TrialState.FAILED
  space = {"x": tb.Float(0, 1)}
  s = TinyBOSearch(space, metric="m", mode="min", strategy="random")
  for i in "abcd": s.suggest(i)
  s.on_trial_result("a", {"m": 3.0, "training_iteration": 1})
  s.on_trial_complete("b", {"m": 5.0, "training_iteration": 1})      # stopped at its first result, when no trial went further
  assert [t.state for t in s.trials[:2]] == [tb.TrialState.PENDING, C]
  s.on_trial_result("a", {"m": 2.0, "training_iteration": 2})         # a went further: b was stopped early after all
  assert s.trials[1].state == S and s.trials[1].value == 5.0 and s.trials[1].last_step == 1
  s.on_trial_result("a", {"m": 1.0, "training_iteration": 3})
  s.on_trial_complete("a", {"m": 1.0, "training_iteration": 3})      # returned on its own: its last result repeated
  s.on_trial_result("c", {"m": 4.0, "training_iteration": 1})
  s.on_trial_complete("c", {"m": 3.5, "training_iteration": 2})      # stopped at step 2 < 3
  s.on_trial_complete("d", {"m": float("nan"), "training_iteration": 1})
  st = [(t.state, t.value, t.last_step) for t in s.trials]
  assert st == [(C, 1.0, 3), (S, 5.0, 1), (S, 3.5, 2), (F, None, None)], st
  assert {i: [(r.step, r.value, r.stop) for r in c] for i, c in s.curves.items()} == {
    0: [(1, 3.0, False), (2, 2.0, False), (3, 1.0, False)], 1: [(1, 5.0, True)], 2: [(1, 4.0, False), (2, 3.5, True)]}
  # with max_step the full length is known from the start: stopped at once, complete at max_step
  s = TinyBOSearch(space, metric="m", mode="min", strategy="random", max_step=3)
  for i in "ab": s.suggest(i)
  s.on_trial_complete("a", {"m": 5.0, "training_iteration": 1})
  s.on_trial_result("b", {"m": 2.0, "training_iteration": 2})
  s.on_trial_complete("b", {"m": 1.0, "training_iteration": 3})      # ASHA stops every trial at max_t: complete
  assert [(t.state, t.value) for t in s.trials] == [(S, 5.0), (C, 1.0)]
  with pytest.raises(ValueError, match="max_step=0"): TinyBOSearch(space, max_step=0)

def test_a_trial_ray_runs_again_is_recorded_as_its_last_run():
  """Ray runs a trial again under its trial_id (after Tuner.restore, a retry of FailureConfig(max_failures), a paused
  trial without a checkpoint): its steps begin again. That run's results replace the earlier run's from its first step on."""
  S, C = tb.TrialState.STOPPED, tb.TrialState.COMPLETE
  s = TinyBOSearch({"x": tb.Float(0, 1)}, metric="m", mode="min", strategy="random", max_step=9)
  for i in "abc": s.suggest(i)
  for step in (1, 2, 3): s.on_trial_result("a", {"m": 5.0 - step, "training_iteration": step})
  s.on_trial_result("a", {"m": 7.0, "training_iteration": 1})        # run again from the start, other values
  s.on_trial_complete("a", {"m": 6.0, "training_iteration": 2})      # and the scheduler stopped it at step 2 < 9
  for step in (1, 2, 3, 4): s.on_trial_result("b", {"m": 9.0 - step, "training_iteration": step})
  s.on_trial_complete("b", {"m": 4.5, "training_iteration": 3})      # run again from a checkpoint at step 2, stopped at 3
  for step in range(1, 10): s.on_trial_result("c", {"m": 10.0 - step, "training_iteration": step})
  s.on_trial_complete("c", {"m": 1.0, "training_iteration": 9})      # returned on its own: its last result repeated
  assert [(t.state, t.value, t.last_step) for t in s.trials] == [(S, 6.0, 2), (S, 4.5, 3), (C, 1.0, 9)]
  curves = {i: [(r.step, r.value, r.stop) for r in c] for i, c in s.curves.items()}
  assert curves[0] == [(1, 7.0, False), (2, 6.0, True)] and curves[1] == [(1, 8.0, False), (2, 7.0, False), (3, 4.5, True)]
  assert curves[2] == [(e, 10.0 - e, False) for e in range(1, 10)]

def test_pruned_points_are_stopped_and_the_state_of_an_older_version_loads(tmp_path):
  s = TinyBOSearch({"x": tb.Float(0, 1)}, metric="m", mode="min", strategy="random")
  s.add_evaluated_point({"x": 0.2}, 0.7, pruned=True, intermediate_values=[0.9, 0.7])
  s.add_evaluated_point({"x": 0.3}, 0.7, pruned=True)                  # pruned with no curve: nothing says where
  s.add_evaluated_point({"x": 0.4}, 0.1, intermediate_values=[0.5, 0.2, 0.1])
  s.add_evaluated_point({"x": 0.5}, None, pruned=True)                 # pruned before any report
  s.add_evaluated_point({"x": 0.6}, float("nan"), pruned=True)         # a NaN: a measured failure
  st = [(t.state, t.value, t.last_step) for t in s.trials]
  # taken, no value (not failed: the GP takes a failed trial for the worst value at its point)
  S, F = tb.TrialState.STOPPED, tb.TrialState.FAILED
  assert st == [(S, 0.7, 2), (S, None, None), (tb.TrialState.COMPLETE, 0.1, 3), (S, None, None), (F, None, None)]
  assert [(r.step, r.value, r.stop) for r in s.curves[0]] == [(1, 0.9, False), (2, 0.7, True)] and 1 not in s.curves
  # a state saved before reports existed (version 1) still loads, with no curves
  old = {k: v for k, v in s.get_state().items() if k not in ("curves", "ended", "top", "max_step")}
  old["version"] = 1
  r = TinyBOSearch()
  r.set_state(old)
  assert [(t.state, t.value) for t in r.trials] == [(t.state, t.value) for t in s.trials] and r.curves == {}
  r.suggest("next")

def test_a_value_the_space_cannot_take_is_a_clear_error_never_moved():
  space = {"q": tune.quniform(0, 1, 0.25), "r": tune.randint(0, 10), "c": tune.choice(["a", float("nan")])}
  ok = {"q": 0.25, "r": 3, "c": "a"}
  for bad, match in [({"q": 0.3}, r"points_to_evaluate\[1\]: parameter 'q': value 0.3 is not a multiple of the step 0.25 from 0.0; use 0.25 or 0.5"),
                     ({"q": 5.0}, r"points_to_evaluate\[1\]: parameter 'q': value 5.0 is outside \[0.0, 1.0\]"),
                     ({"r": 3.7}, r"points_to_evaluate\[1\]: parameter 'r': value 3.7 is not a whole number"),
                     ({"q": float("inf")}, r"parameter 'q': value inf is not a finite number; give a number in \[0.0, 1.0\]"),
                     ({"r": "3"}, r"parameter 'r': value '3' is not a finite number")]:
    s = TinyBOSearch(metric="m", mode="min", strategy="random", points_to_evaluate=[ok, {**ok, **bad}])
    with pytest.raises(ValueError, match=match): s.set_search_properties(None, None, space)   # when the space is set, not mid-run
  s = TinyBOSearch(metric="m", mode="min", strategy="random", points_to_evaluate=[{**ok, "c": float("nan")}])
  assert s.set_search_properties(None, None, space) and math.isnan(s.suggest("a")["c"])     # a nan choice is itself
  s.add_evaluated_point({**ok, "q": 0.5}, 1.0)
  with pytest.raises(ValueError, match="'q': value 0.6 is not a multiple"): s.add_evaluated_point({**ok, "q": 0.6}, 2.0)
  assert [(t.params["q"], t.value) for t in s.trials[1:]] == [(2, 1.0)]                      # recorded at its own point only

def test_a_trial_ended_with_no_result_is_stopped_at_its_last_report():
  """Ray's stop_trial of a PAUSED or PENDING trial calls on_trial_complete(trial_id) with no result and no error."""
  S, C, F = tb.TrialState.STOPPED, tb.TrialState.COMPLETE, tb.TrialState.FAILED
  s = TinyBOSearch({"x": tb.Float(0, 1)}, metric="m", mode="min", strategy="random")
  for i in "abcd": s.suggest(i)
  for step in (1, 2, 3): s.on_trial_result("a", {"m": 5.0 - step, "training_iteration": step})
  for step in range(1, 10): s.on_trial_result("b", {"m": 9.0 - step, "training_iteration": step})
  s.on_trial_complete("a")                                            # paused at step 3, then stopped
  s.on_trial_complete("b")                                            # paused at the full length, then stopped
  s.on_trial_complete("c")                                            # stopped before it reported: nothing measured
  s.on_trial_result("d", {"m": 1.0, "training_iteration": 1})
  s.on_trial_complete("d", None, error=True)                          # crashed after a report
  # c is taken, with no value: not failed, which the GP takes for the worst value at its point
  assert [(t.state, t.value, t.last_step) for t in s.trials] == [(S, 2.0, 3), (C, 0.0, 9), (S, None, None), (F, None, 1)]
  assert [r.stop for r in s.curves[0]] == [False, False, True] and not any(r.stop for r in s.curves[1])

def test_tune_metric_and_mode_reach_a_searcher_with_its_own_space():
  space = tb.Space({"x": tb.Float(0, 1)})
  s = TinyBOSearch(space, strategy="random")
  # Tune passes TuneConfig's metric and mode with a param_space of constants; the searcher's own space still wins
  assert s.set_search_properties("loss", "max", {"epochs": 3}) is False
  assert (s.metric, s.mode) == ("loss", "max") and 0 <= s.suggest("a")["x"] <= 1
  s = TinyBOSearch(space, metric="acc", mode="min", strategy="random")
  assert s.set_search_properties("acc", None, {"epochs": 3}) is False and (s.metric, s.mode) == ("acc", "min")
  # another metric in each place: it kept its own silently, and optimized what Tune did not rank by
  with pytest.raises(ValueError, match=r"^TinyBOSearch has metric='acc' and tune.TuneConfig metric='loss'"):
    s.set_search_properties("loss", "max", {"epochs": 3})
  # an empty param_space passes neither: the error says where they go
  for own in (space, {"x": tune.uniform(0, 1)}):
    with pytest.raises(RuntimeError, match=r"TinyBOSearch\(space, metric='loss', mode='min'\), not from tune.TuneConfig"):
      TinyBOSearch(own, strategy="random").suggest("a")
  s = TinyBOSearch(strategy="random")                                 # a space from Tune: Ray's own message (either place works)
  s.set_search_properties(None, None, {"x": tune.uniform(0, 1)})
  with pytest.raises(RuntimeError, match="or pass them to `tune.TuneConfig"): s.suggest("a")

def test_a_strategy_class_for_an_instance_or_a_bad_mode_is_a_one_line_error():
  with pytest.raises(TypeError, match=r"^strategy=Random is a class; pass an instance, e.g. strategy=Random\(\)$"): TinyBOSearch(strategy=tb.Random)
  # Optuna's spelling: Ray's Searcher asserted "if `mode` is a str must be 'min' or 'max'!", naming neither
  for kw in ({"metric": "loss", "mode": "maximize"}, {"mode": "maximize"}):
    with pytest.raises(ValueError, match=r"^mode='maximize'; use 'min' or 'max'$"): TinyBOSearch(**kw)

def test_seed_none_is_a_random_seed_and_a_bad_seed_a_clear_error():
  s = TinyBOSearch({"x": tb.Float(0, 1)}, metric="m", mode="min", strategy="random", seed=None)   # as Ray's own searchers take it
  assert 0 <= s.suggest("a")["x"] <= 1
  with pytest.raises(TypeError, match=r"seed=1.5: use an int, or None for a random seed"): TinyBOSearch(seed=1.5)
  for bad in ({"x": 0.5}, [0.5], "x"):                                 # a list of configurations, not one of them
    with pytest.raises(TypeError, match=r"points_to_evaluate=.*: pass a list of configurations"): TinyBOSearch(points_to_evaluate=bad)

def test_domains_inside_lists_come_back_as_whole_lists():
  # Ray puts a suggestion's list in place of the param_space's (merge_dicts does not merge lists): a list comes back whole,
  # as a list, its constants kept; a dict {0: ..., 1: ...} would iterate over its keys
  from ray.tune.utils.util import merge_dicts
  space = {"layers": [tune.uniform(0, 1), 64, {"k": tune.randint(1, 5), "z": "keep"}, [tune.choice(["a", "b"]), 7]],
           "opt": {"lr": tune.loguniform(1e-4, 1e-1)}}
  point = {"layers": [0.5, 64, {"k": 2, "z": "keep"}, ["b", 7]], "opt": {"lr": 0.01}}
  s = TinyBOSearch(metric="m", mode="min", strategy="random", points_to_evaluate=[point])
  s.set_search_properties(None, None, space)
  assert s.suggest("a") == point
  c = merge_dicts(space, s.suggest("b"))
  assert type(c["layers"]) is list and c["layers"][1] == 64 and c["layers"][2]["z"] == "keep" and c["layers"][3][1] == 7
  assert 0 <= c["layers"][0] <= 1 and c["layers"][2]["k"] in range(1, 5) and c["layers"][3][0] in ("a", "b")
  r = TinyBOSearch()
  r.set_state(s.get_state())                                          # the lists travel with the state
  assert type(r.suggest("c")["layers"]) is list

def flaky_trainable(config: dict) -> None:
  if os.path.exists(config["flag"]): raise RuntimeError("a transient failure (a lost node, a bad disk)")
  tune.report({"loss": (config["x"] - 0.3) ** 2})

def test_errored_trials_resumed_by_tuner_restore_are_recorded(ray_local, tmp_path):
  # Tuner.restore(resume_errored=True) runs an errored trial again under its trial_id: the searcher had dropped it from
  # its running trials when it errored, so its results were ignored and it stayed FAILED
  flag = tmp_path / "flag"
  flag.write_text("")
  tuner = tune.Tuner(flaky_trainable, param_space={"x": tune.uniform(0, 1), "flag": str(flag)},
                     tune_config=tune.TuneConfig(search_alg=TinyBOSearch(seed=0), metric="loss", mode="min", num_samples=3),
                     run_config=tune.RunConfig(storage_path=str(tmp_path), name="flaky", verbose=0))
  assert len(tuner.fit().errors) == 3
  flag.unlink()
  results = tune.Tuner.restore(str(tmp_path / "flaky"), flaky_trainable, resume_errored=True).fit()
  assert not results.errors
  searcher = TinyBOSearch()
  searcher.restore_from_dir(str(tmp_path / "flaky"))
  assert [t.state for t in searcher.trials] == [tb.TrialState.COMPLETE] * 3
  assert sorted(t.value for t in searcher.trials) == sorted(r.metrics["loss"] for r in results)

def rerun_trainable(config: dict) -> None:
  """Nine epochs; a second run of the trial (after Tuner.restore) starts again from epoch 1 with other values, as a
  training run with another random initialization would."""
  second = os.path.exists(config["flag"])
  for epoch in range(1, 10):
    time.sleep(0.2)
    tune.report({"loss": config["x"] + 1.0 / epoch + (0.5 if second else 0.0)})

class InterruptAfterResults(tune.Callback):
  """SIGUSR1 (as Ctrl+C) after n results, in the first run only (Tune restores the callbacks with the experiment)."""
  def __init__(self, n: int, flag: str): self.n, self.seen, self.flag = n, 0, flag
  def on_trial_result(self, iteration, trials, trial, result, **info):
    self.seen += 1
    if self.seen == self.n and not os.path.exists(self.flag): os.kill(os.getpid(), signal.SIGUSR1)

def last_run(rows: list[tuple]) -> list[tuple]:
  starts = [i for i in range(1, len(rows)) if rows[i][0] <= rows[i - 1][0]]
  return rows[starts[-1] if starts else 0:]

def test_trials_run_again_by_tuner_restore_are_recorded_as_their_last_run(ray_local, tmp_path):
  # a trial cut mid-run (no checkpoint) starts again from epoch 1 after Tuner.restore; the searcher ignored the steps it
  # had seen and recorded one curve of two runs (epochs 1-4 of the first, 5-9 of the second), unlike Ray's own record
  flag = str(tmp_path / "flag")
  search = TinyBOSearch({"x": tb.Float(0, 1)}, metric="loss", mode="min", strategy="random", seed=0)
  tune.Tuner(rerun_trainable, param_space={"flag": flag},
             tune_config=tune.TuneConfig(search_alg=search, num_samples=2, max_concurrent_trials=2, metric="loss", mode="min"),
             run_config=tune.RunConfig(storage_path=str(tmp_path), name="rerun", verbose=0,
                                       callbacks=[InterruptAfterResults(6, flag)])).fit()
  cut = TinyBOSearch()
  cut.restore_from_dir(str(tmp_path / "rerun"))
  assert any(c for c in cut.curves.values()) and all(t.state == tb.TrialState.PENDING for t in cut.trials)   # cut mid-run
  open(flag, "w").close()
  results = tune.Tuner.restore(str(tmp_path / "rerun"), rerun_trainable, resume_unfinished=True).fit()
  assert not results.errors and len(results) == 2
  # Ray's record of each trial: every result of every run, in order; the last run starts at its last step that does not grow
  ray_curves = {r.config["x"]: last_run(list(zip(r.metrics_dataframe["training_iteration"], r.metrics_dataframe["loss"]))) for r in results}
  resumed = TinyBOSearch()
  resumed.restore_from_dir(str(tmp_path / "rerun"))
  for t in resumed.trials:
    assert [(r.step, r.value) for r in resumed.curves[t.id]] == ray_curves[t.params["x"]]
    assert ray_curves[t.params["x"]] == [(e, pytest.approx(t.params["x"] + 1.0 / e + 0.5)) for e in range(1, 10)]   # the second run
    assert (t.state, t.value, t.last_step) == (tb.TrialState.COMPLETE, ray_curves[t.params["x"]][-1][1], 9)

def test_a_metric_or_mode_given_twice_differently_is_a_one_line_error(ray_local, tmp_path):
  # the searcher was built to maximize acc, TuneConfig ranks by loss: Tune's pair silently replaced the searcher's
  search = TinyBOSearch(metric="acc", mode="max", strategy="random")
  tuner = tune.Tuner(trainable, param_space=SPACE, tune_config=tune.TuneConfig(search_alg=search, num_samples=1, metric="loss", mode="min"),
                     run_config=tune.RunConfig(storage_path=str(tmp_path), name="twice", verbose=0))
  with pytest.raises(ValueError, match=r"^TinyBOSearch has metric='acc' and tune.TuneConfig metric='loss'; set metric and mode in one place"):
    tuner.fit()
  s = TinyBOSearch(metric="loss", mode="max", strategy="random")
  with pytest.raises(ValueError, match=r"^TinyBOSearch has mode='max' and tune.TuneConfig mode='min'"): s.set_search_properties("loss", "min", SPACE)
  assert s.set_search_properties("loss", "max", SPACE) and (s.metric, s.mode) == ("loss", "max")   # the same twice is fine

def checkpointed_trainable(config: dict) -> None:
  """Nine epochs, deterministic, a checkpoint after epochs 1 and 2 only: a run again resumes at epoch 3 with the values
  of the first run."""
  start = 0
  if (ckpt := tune.get_checkpoint()) is not None:
    with ckpt.as_directory() as d, open(os.path.join(d, "epoch")) as f: start = int(f.read())
  for epoch in range(start + 1, 10):
    time.sleep(0.3)
    metrics = {"loss": config["x"] + 1.0 / epoch}
    if epoch > 2: tune.report(metrics); continue
    with tempfile.TemporaryDirectory() as d:
      with open(os.path.join(d, "epoch"), "w") as f: f.write(str(epoch))
      tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))

class StopAtEpoch3Once(tune.Stopper):
  """A stopper that ends the trial at epoch 3 in the run after Tuner.restore (the flag file exists) only."""
  def __init__(self, flag: str): self.flag = flag
  def __call__(self, trial_id, result): return os.path.exists(self.flag) and result["training_iteration"] >= 3
  def stop_all(self): return False

def test_a_run_again_stopped_at_the_earlier_runs_last_step_is_stopped_not_complete(ray_local, tmp_path):
  # the first run reports epochs 1-3 and is cut (Ctrl+C); restored from its checkpoint at epoch 2 it reports epoch 3
  # again, the same value, and a stopper ends it there: that result never reached on_trial_result in this run, so the
  # trial was ended early. Compared by step and value alone it read as the earlier run's result repeated by a trainable
  # that returned on its own: complete at epoch 3 of 9
  flag = str(tmp_path / "flag")
  search = TinyBOSearch({"x": tb.Float(0, 1)}, metric="loss", mode="min", strategy="random", seed=0, max_step=9)
  tune.Tuner(checkpointed_trainable, param_space={},
             tune_config=tune.TuneConfig(search_alg=search, num_samples=1, metric="loss", mode="min"),
             run_config=tune.RunConfig(storage_path=str(tmp_path), name="again", verbose=0, stop=StopAtEpoch3Once(flag),
                                       callbacks=[InterruptAfterResults(3, flag)])).fit()
  cut = TinyBOSearch()
  cut.restore_from_dir(str(tmp_path / "again"))
  assert [(r.step, r.stop) for r in cut.curves[0]] == [(1, False), (2, False), (3, False)] and cut.trials[0].state == tb.TrialState.PENDING
  open(flag, "w").close()
  results = tune.Tuner.restore(str(tmp_path / "again"), checkpointed_trainable, resume_unfinished=True).fit()
  df = results[0].metrics_dataframe
  assert list(df["training_iteration"]) == [1, 2, 3, 3] and df["loss"].iloc[2] == df["loss"].iloc[3]   # epoch 3 twice, alike
  resumed = TinyBOSearch()
  resumed.restore_from_dir(str(tmp_path / "again"))
  t = resumed.trials[0]
  assert (t.state, t.value, t.last_step) == (tb.TrialState.STOPPED, df["loss"].iloc[3], 3)
  assert [(r.step, r.stop) for r in resumed.curves[0]] == [(1, False), (2, False), (3, True)]
