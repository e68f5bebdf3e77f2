"""Optimizer: ask/tell, warm start, best for both directions, optimize (failures, threads, timeout, progress), gp smoke."""
import inspect
import json
import os
import threading
import time

import pytest
from workers import trial_failures, workers_end

import tinybo as tb
from tinybo import strategies
from tinybo.optimizer import TrialFailedWarning
from tinybo.trial import TrialState

SPACE = tb.Space({"lr": tb.Float(1e-4, 1e-1, log=True), "units": tb.Int(16, 256, log=True), "act": tb.Categorical(["relu", "gelu", "tanh"]),
                  "epochs": 5})

def test_ask_tell_roundtrip():
  opt = tb.Optimizer(SPACE, strategy="random")
  t = opt.suggest()
  assert isinstance(t, tb.Trial) and t.state == TrialState.PENDING and t.value is None
  assert SPACE.validate(t.params) == t.params and t.params["epochs"] == 5
  batch = opt.suggest(4)
  assert len(batch) == 4 and all(b.state == TrialState.PENDING for b in batch)
  assert len({t.id} | {b.id for b in batch}) == 5 and len({SPACE.key(b.params) for b in [t, *batch]}) == 5
  opt.observe(t, 0.31)
  opt.observe(batch[0].id, 0.1)
  opt.fail(batch[1])
  warm = opt.observe({"lr": 0.01, "units": 64, "act": "relu", "epochs": 5}, 0.42)
  assert warm.state == TrialState.COMPLETE and warm.params == {"lr": 0.01, "units": 64, "act": "relu", "epochs": 5}
  states = {x.id: (x.state, x.value) for x in opt.trials}
  assert states == {t.id: ("complete", 0.31), batch[0].id: ("complete", 0.1), batch[1].id: ("failed", None), batch[2].id: ("pending", None),
                    batch[3].id: ("pending", None), warm.id: ("complete", 0.42)}
  assert opt.best.id == batch[0].id and opt.best.value == 0.1

def test_enqueue_and_requeue_come_first():
  opt = tb.Optimizer(SPACE, strategy="random")
  a, b = opt.suggest(), opt.suggest()
  opt.fail(a)
  q = opt.enqueue({"lr": 0.01, "units": 32, "act": "tanh"})
  r = opt.requeue(a)  # a failed trial runs again as a new trial
  r2 = opt.requeue(b.id)  # a pending one (a dead worker's) is failed, then queued
  assert q.params == {"lr": 0.01, "units": 32, "act": "tanh", "epochs": 5} and r.params == a.params and r2.params == b.params
  assert {t.id: t.state for t in opt.trials}[b.id] == TrialState.FAILED
  got = opt.suggest(4)
  assert [t.id for t in got[:3]] == [q.id, r.id, r2.id] and got[3].id > r2.id and SPACE.key(got[3].params) not in {SPACE.key(a.params)}
  opt.observe(got[0], 1.0)
  before = opt.trials
  with pytest.raises(ValueError, match="already complete"): opt.requeue(got[0])
  with pytest.raises(ValueError, match="no trial 999"): opt.requeue(999)
  assert opt.trials == before

@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_failed_batch_suggest_leaves_the_queued_trials_queued(tmp_path, kind, error):
  # suggest(3) claimed the queued trial, then the strategy raised (a crash, Ctrl-C in a GP fit): the trial stayed pending
  # with this worker, and no later suggest() handed it out again
  class Crashes(tb.Random):
    def suggest(self, *args, **kwargs): raise error("in the proposal")
  opt = tb.Optimizer(SPACE, strategy=Crashes(), storage=None if kind == "memory" else tmp_path / "s.db")
  q = opt.enqueue({"lr": 0.01, "units": 32, "act": "tanh"})
  with pytest.raises(error, match="in the proposal"): opt.suggest(3)
  assert [(t.id, t.state, t.worker) for t in opt.trials] == [(q.id, TrialState.PENDING, None)]
  opt.strategy = tb.Random()
  got = opt.suggest(3)
  assert got[0].id == q.id and got[0].worker is not None and len(got) == 3

@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_ctrl_c_during_a_workers_suggestion_queues_it_instead_of_failing_it(tmp_path, kind):
  # optimize(n_jobs=2): Ctrl-C reaches the main thread while a worker is inside suggest() (a GP fit takes seconds). Its
  # proposal, never run, was recorded as failed: a resumed GP reads "this point crashes" where it expected the best
  import signal
  gate, proposing, hold = threading.Event(), threading.Event(), threading.Event()
  class Slow(tb.Random):
    calls = 0
    def suggest(self, *args, **kwargs):
      Slow.calls += 1
      if Slow.calls == 3: proposing.set(); gate.wait(30)
      return super().suggest(*args, **kwargs)
  opt = tb.Optimizer(SPACE, strategy=Slow(), storage=None if kind == "memory" else tmp_path / "s.db")
  runs = []
  def objective(p):
    runs.append(1)
    if len(runs) == 1:   # the first run is still going at Ctrl-C (and then crashes); the second returns at once
      hold.wait(30)
      raise RuntimeError("interrupted run")
    return 1.0
  handler = signal.signal(signal.SIGINT, signal.default_int_handler)
  with pytest.warns(TrialFailedWarning, match="interrupted run") as caught:
    try:
      threading.Thread(target=lambda: proposing.wait(30) and os.kill(os.getpid(), signal.SIGINT)).start()
      with pytest.raises(KeyboardInterrupt): opt.optimize(objective, n_trials=3, n_jobs=2, progress=False)
    finally: signal.signal(signal.SIGINT, handler)
    gate.set(); hold.set()
    # optimize() returned at Ctrl-C without its workers: the crash's warning is waited for here (workers.py says why
    # not Thread.join). Four trials: the interrupted run (failed) and its queued copy, the completed one, the proposal (queued, not failed)
    def settled(ts): return len(ts) == 4 and ts[3].worker is None and any("interrupted run" in str(w.message) for w in caught)
    deadline = time.monotonic() + 30
    while not settled(ts := opt.trials) and time.monotonic() < deadline: time.sleep(0.01)
  assert [t.state for t in ts] == [TrialState.FAILED, TrialState.COMPLETE, TrialState.PENDING, TrialState.PENDING]
  assert ts[2].params == ts[0].params and ts[2].worker is None   # the run Ctrl-C cut short runs first next time
  assert ts[3].worker is None and ts[3].params != ts[0].params   # the proposal never run: queued, the next suggest() hands it out

@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@pytest.mark.parametrize("copy_taken", [False, True])
def test_runs_that_return_after_ctrl_c_keep_their_results_and_withdraw_their_queued_copies(tmp_path, kind, copy_taken):
  # optimize(n_jobs=2): Ctrl-C while both workers' objectives run. Each trial is failed and queued again; the objectives
  # then return after all (a notebook lives on): their results are recorded, and each queued copy would run it twice
  import signal
  hold, running = threading.Event(), threading.Semaphore(0)
  opt = tb.Optimizer(SPACE, strategy="random", storage=None if kind == "memory" else tmp_path / "s.db")
  def objective(p):
    running.release(); hold.wait(30)
    return p["lr"]
  def interrupt():
    if running.acquire(timeout=30) and running.acquire(timeout=30): os.kill(os.getpid(), signal.SIGINT)
  handler = signal.signal(signal.SIGINT, signal.default_int_handler)
  try:
    threading.Thread(target=interrupt).start()
    with pytest.raises(KeyboardInterrupt): opt.optimize(objective, n_trials=2, n_jobs=2, progress=False)
  finally: signal.signal(signal.SIGINT, handler)
  runs, copies = opt.trials[:2], opt.trials[2:]
  assert [t.state for t in runs] == [TrialState.FAILED] * 2 and [(t.state, t.worker) for t in copies] == [(TrialState.PENDING, None)] * 2
  assert sorted(json.dumps(t.params) for t in runs) == sorted(json.dumps(t.params) for t in copies)
  taken = opt.suggest().id if copy_taken else None   # another worker runs that copy already: it stays
  hold.set()
  assert workers_end() == []
  ts = opt.trials
  assert [(t.id, t.state, t.value) for t in ts[:2]] == [(t.id, TrialState.COMPLETE, t.params["lr"]) for t in runs]
  assert [t.id for t in ts[2:]] == ([taken] if copy_taken else [])

def test_best_direction_and_ties():
  for direction, want in (("minimize", -3.0), ("maximize", 7.0)):
    opt = tb.Optimizer(SPACE, strategy="random", direction=direction)
    assert opt.best is None
    for v in (1.0, -3.0, 7.0, -3.0, 7.0): opt.observe(opt.suggest(), v)
    assert opt.best.value == want and opt.best.id == min(t.id for t in opt.trials if t.value == want)
  with pytest.raises(ValueError, match="direction='max'.*'minimize' or 'maximize'"): tb.Optimizer(SPACE, strategy="random", direction="max")

def test_same_seed_same_sequence_different_seed_differs():
  def run(seed):
    opt = tb.Optimizer(SPACE, strategy="random", seed=seed)
    for i in range(6): opt.observe(opt.suggest(), float(i))
    return [t.params for t in opt.trials]
  assert run(3) == run(3) and run(3) != run(4)

def test_space_as_plain_dict_and_dataclass_params():
  opt = tb.Optimizer({"x": tb.Float(0, 1), "tag": "a"}, strategy="random")
  assert opt.suggest().params["tag"] == "a"

def test_optimize_records_failures_and_goes_on():
  calls = []
  def objective(p):
    calls.append(p)
    if len(calls) % 3 == 0: raise RuntimeError("diverged")
    if len(calls) % 5 == 0: return float("nan")
    return p["lr"] * p["units"]
  opt = tb.Optimizer(SPACE, strategy="random")
  with pytest.warns(TrialFailedWarning) as caught: best = opt.optimize(objective, n_trials=15, progress=False)
  w = trial_failures(caught)
  ts = opt.trials
  assert len(calls) == 15 and len(ts) == 15 and all(t.state != TrialState.PENDING for t in ts)
  failed = [t for t in ts if t.state == TrialState.FAILED]
  assert len(failed) == 7 and len(w) == 7  # 5 exceptions (calls 3,6,9,12,15) and two NaNs (calls 5,10)
  assert any("diverged" in str(x.message) for x in w) and any("nan" in str(x.message) for x in w)
  done = [t for t in ts if t.state == TrialState.COMPLETE]
  assert best.value == min(t.params["lr"] * t.params["units"] for t in done) and all(t.value == t.params["lr"] * t.params["units"] for t in done)

def test_a_failed_trials_warning_names_the_exception_type_and_where_it_was_raised():
  # the warning gave str(e) alone ("trial 0 failed: bad\nunits"): nothing said which line of the objective raised
  def check(units):
    raise ValueError(f"bad\nunits {units}")
  def objective(p):
    return check(p["units"])
  opt = tb.Optimizer(SPACE, strategy="random")
  with pytest.warns(TrialFailedWarning) as w: opt.optimize(objective, n_trials=1, progress=False)
  units, raise_line = opt.trials[0].params["units"], check.__code__.co_firstlineno + 1
  assert str(w[0].message) == f"trial 0 failed: ValueError: bad | units {units} (at {__file__}:{raise_line} in check); recorded as failed"
  with pytest.warns(TrialFailedWarning) as w: opt.optimize(lambda p: 1 / 0, n_trials=1, progress=False)
  assert str(w[0].message).startswith("trial 1 failed: ZeroDivisionError: division by zero (at ")
  assert str(w[0].message).endswith(f"test_optimizer.py:{inspect.currentframe().f_lineno - 2} in <lambda>); recorded as failed")

def test_optimize_threads_are_pending_aware():
  active, peak, lock = [0], [0], threading.Lock()
  def objective(p):
    with lock: active[0] += 1; peak[0] = max(peak[0], active[0])
    time.sleep(0.01)
    with lock: active[0] -= 1
    return p["x"]
  space = tb.Space({"x": tb.Int(0, 39)})  # 40 configurations, 40 trials: any duplicate would exhaust the space early
  opt = tb.Optimizer(space, strategy="random")
  opt.optimize(objective, n_trials=40, n_jobs=4, progress=False)
  ts = opt.trials
  assert len(ts) == 40 and all(t.state == TrialState.COMPLETE for t in ts) and sorted(t.params["x"] for t in ts) == list(range(40))
  assert peak[0] > 1 and opt.best.value == 0

def test_optimize_grid_stops_when_exhausted():
  opt = tb.Optimizer(tb.Space({"a": tb.Int(0, 2), "b": tb.Categorical(["x", "y"])}), strategy=tb.Grid())
  opt.optimize(lambda p: p["a"], n_trials=50, n_jobs=2, progress=False)
  assert len(opt.trials) == 6 and opt.best.value == 0

def test_optimize_timeout_stops_cleanly():
  opt = tb.Optimizer(SPACE, strategy="random")
  t0 = time.monotonic()
  opt.optimize(lambda p: time.sleep(0.05) or 1.0, n_trials=1000, timeout=0.3, n_jobs=2, progress=False)
  elapsed, ts = time.monotonic() - t0, opt.trials
  assert elapsed < 1.5 and 4 <= len(ts) < 30 and all(t.state == TrialState.COMPLETE for t in ts)  # no trial left pending

def test_optimize_progress_bar_shows_best(capsys):
  opt = tb.Optimizer(SPACE, strategy="random")
  opt.optimize(lambda p: p["lr"], n_trials=5, progress=True)
  err = capsys.readouterr().err
  assert "5/5" in err and f"best={opt.best.value:.6g}" in err

def test_keyboard_interrupt_fails_the_running_trial_and_queues_it_again():
  # failed alone, the GP would read the configuration it believed best as a bad one; queued again, a resumed study runs
  # it first (Ray Tune resumes unfinished trials the same way)
  opt = tb.Optimizer(SPACE, strategy="random")
  def objective(p): raise KeyboardInterrupt
  with pytest.raises(KeyboardInterrupt): opt.optimize(objective, n_trials=3, progress=False)
  (cut, copy) = opt.trials
  assert (cut.state, copy.state, copy.worker, copy.params) == (TrialState.FAILED, TrialState.PENDING, None, cut.params)
  seen = []
  opt.optimize(lambda p: seen.append(p) or 1.0, n_trials=2, progress=False)
  assert seen[0] == cut.params and opt.trials[1].state == TrialState.COMPLETE and len(opt.trials) == 3
  assert strategies.History.of(opt.space, opt.trials).X_failed.shape[0] == 0   # no "bad here" where it finished since

def test_an_objective_that_exits_fails_its_trial_without_queueing_it():
  opt = tb.Optimizer(SPACE, strategy="random")
  def objective(p): raise SystemExit(3)
  with pytest.raises(SystemExit): opt.optimize(objective, n_trials=3, progress=False)
  assert [t.state for t in opt.trials] == [TrialState.FAILED]

def _interrupted_once(storage, method, after):
  """storage.method raises KeyboardInterrupt once, as a Ctrl-C landing in it: before its write (`after=False`, the
  transaction rolls back) or just after its COMMIT (`after=True`: SQLite's COMMIT returns, then Python raises)."""
  real, calls = getattr(storage, method), []
  def hit(*args, **kwargs):
    if calls: return real(*args, **kwargs)
    calls.append(1)
    if not after: raise KeyboardInterrupt
    real(*args, **kwargs)
    raise KeyboardInterrupt
  setattr(storage, method, hit)

@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@pytest.mark.parametrize("after", [False, True])
def test_ctrl_c_while_optimize_records_a_result_leaves_nothing_pending(tmp_path, kind, after):
  # n_jobs=1 runs the objective in the caller's thread, so Ctrl-C can land while its result is written: the trial was
  # left pending for good (a resumed GP fantasizes it forever)
  opt = tb.Optimizer(SPACE, strategy="random", storage=None if kind == "memory" else tmp_path / "s.db")
  _interrupted_once(opt.storage, "finish", after)
  with pytest.raises(KeyboardInterrupt): opt.optimize(lambda p: 1.5, n_trials=3, progress=False)
  # before the write: its result lost, it runs again (queued), not "bad here"
  want = [(TrialState.COMPLETE, 1.5, "me")] if after else [(TrialState.FAILED, None, "me"), (TrialState.PENDING, None, None)]
  assert [(t.state, t.value, t.worker and "me") for t in opt.trials] == want

@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_ctrl_c_just_after_a_reservation_commits_queues_the_proposal(tmp_path, kind):
  # the reservation committed, then KeyboardInterrupt: suggest() never returned the trial, which stayed pending with this
  # worker, run by nobody; now it is queued and the next suggest(), here or in another process, hands it out
  opt = tb.Optimizer(SPACE, strategy="random", storage=None if kind == "memory" else tmp_path / "s.db")
  q = opt.enqueue({"lr": 0.01, "units": 32, "act": "tanh"})
  _interrupted_once(opt.storage, "reserve", True)
  with pytest.raises(KeyboardInterrupt): opt.suggest(2)
  ts = opt.trials
  assert [(t.state, t.worker) for t in ts] == [(TrialState.PENDING, None)] * 2 and ts[0].id == q.id
  assert [t.id for t in opt.suggest(2)] == [t.id for t in ts]

@pytest.mark.slow
def test_gp_strategy_default():
  # the default strategy end to end: a Sobol initial design (5 points for d=2), then one GP-guided suggestion (its first
  # call compiles tinygrad kernels, so keep this to one)
  pytest.importorskip("tinybo.bo", reason="tinybo.bo (the GP strategy) is not written yet")
  space = tb.Space({"x": tb.Float(-2.0, 2.0), "n": tb.Int(0, 4), "tag": "c"})
  opt = tb.Optimizer(space)  # strategy="gp" by default
  for _ in range(6):
    t = opt.suggest()
    assert space.validate(t.params) == t.params
    opt.observe(t, (t.params["x"] - 0.5) ** 2 + t.params["n"])
  keys = [space.key(t.params) for t in opt.trials]
  assert len(set(keys)) == len(keys) == 6 and all(t.state == TrialState.COMPLETE for t in opt.trials)

@pytest.mark.parametrize("where", ["memory", "sqlite"])
def test_editing_a_trials_list_constant_in_place_changes_no_other_record(where, tmp_path):
  # training code appended a layer to its config's list: every later trial got the extra layer, the Space was edited,
  # and reopening the study with that Space object was an error ("differs in constants")
  storage = None if where == "memory" else str(tmp_path / "s.db")
  class Device: pass
  device = Device()
  space = tb.Space({"lr": tb.Float(1e-3, 1e-1), "layers": [64, 64], "opt": {"betas": [0.9, 0.99]}, "device": device, "shape": (1, 2)})
  opt = tb.Optimizer(space, strategy="random", storage=storage)
  t = opt.suggest()
  t.params["layers"].append(128); t.params["opt"]["betas"][0] = 0.5
  opt.observe(t, 1.0)
  assert space.constants["layers"] == [64, 64] and space.constants["opt"] == {"betas": [0.9, 0.99]}
  assert opt.suggest().params["layers"] == [64, 64] and opt.trials[0].params["opt"]["betas"] == [0.9, 0.99]
  opt.best.params["layers"].clear()
  assert opt.best.params["layers"] == [64, 64]
  assert opt.trials[0].params["device"] is device and opt.trials[0].params["shape"] == (1, 2)   # other objects: the space's own
  if storage is not None: tb.Optimizer(space, strategy="random", storage=storage)   # the same study

def test_a_users_strategy_is_stored_as_it_proposes_repeats_included():
  # README: a batch is distinct from the built-in strategies; a strategy of your own (re-evaluating a configuration of a
  # noisy objective, say) gets its proposals stored as given
  class Twice:
    def suggest(self, space, trials, n, *, seed=0, minimize=True): return [{"x": 0.25}] * n
  opt = tb.Optimizer(tb.Space({"x": tb.Float(0, 1)}), strategy=Twice(), seed=0)
  a, b = opt.suggest(2)
  assert a.id != b.id and a.params == b.params == {"x": 0.25} and a.state == b.state == TrialState.PENDING
  assert len({t.id for t in opt.suggest(2)} | {a.id, b.id}) == 4
