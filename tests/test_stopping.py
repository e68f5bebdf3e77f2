"""Stopping rules: each against a hand-worked example (which trials stop at which rung or step, worked out in the
comments), the same examples and random asynchronous report sequences replayed through Optuna's real MedianPruner,
SuccessiveHalvingPruner and HyperbandPruner (the same verdict on every report), both directions, and bad parameters."""
import zlib

import pytest
from curve_scripts import interleaved_curves

import tinybo as tb
from tinybo.stopping import History, first_in_interval, promotable, rung_records, rung_steps
from tinybo.storage import InMemoryStorage, SQLiteStorage
from tinybo.trial import Report, TrialState

optuna = pytest.importorskip("optuna")
optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = tb.Space({"x": tb.Float(0.0, 1.0)})

class Tiny:
  """Plays (trial, step, value) reports and (trial, "done") completions through tinybo, one event per call, returning
  the report's verdict (None for a completion). Trials are suggested in order of first appearance; a trial told to stop
  is stopped at once. Maximizing negates every value, so a direction-aware rule gives the same verdicts."""
  def __init__(self, rule, direction="minimize", storage=None, name="study"):
    self.sign = 1.0 if direction == "minimize" else -1.0
    self.opt = tb.Optimizer(SPACE, strategy="random", direction=direction, storage=storage, name=name, stopping=rule)
    self.trials, self.last = {}, {}

  def __call__(self, ev):
    if ev[0] not in self.trials: self.trials[ev[0]] = self.opt.suggest()
    t = self.trials[ev[0]]
    if ev[1] == "done": self.opt.observe(t, self.last[ev[0]]); return None
    v = self.last[ev[0]] = self.sign * ev[2]
    stop = self.opt.report(t, v, ev[1])
    if stop:
      s = self.opt.stop(t)
      assert s.state == TrialState.STOPPED and s.value == v and s.last_step == ev[1]
    return stop

class Optuna:
  """The same through Optuna's ask/tell with a real pruner: report, should_prune, tell PRUNED at once."""
  def __init__(self, pruner, direction="minimize", name="study"):
    self.sign = 1.0 if direction == "minimize" else -1.0
    self.study = optuna.create_study(study_name=name, direction=direction, pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))
    self.trials, self.last = {}, {}

  def __call__(self, ev):
    if ev[0] not in self.trials: self.trials[ev[0]] = self.study.ask({"x": optuna.distributions.FloatDistribution(0.0, 1.0)})
    t = self.trials[ev[0]]
    if ev[1] == "done": self.study.tell(t, self.last[ev[0]]); return None
    v = self.last[ev[0]] = self.sign * ev[2]
    t.report(v, ev[1])
    stop = t.should_prune()
    if stop: self.study.tell(t, state=optuna.trial.TrialState.PRUNED)
    return stop

def verdicts(player, script):
  return [v for ev in script if (v := player(ev)) is not None]

def split(script_with_verdicts):
  return [e[:-1] if e[1] != "done" else e for e in script_with_verdicts], [e[-1] for e in script_with_verdicts if e[1] != "done"]

# ***** median stopping: a hand-worked example *****

# MedianStopping(warmup_trials=2, warmup_steps=1): compare a trial's best value so far with the median of the COMPLETE
# trials' values at the same step, once 2 trials are complete, from step 1 on. (trial, step, value, expected verdict)
MEDIAN = [
  ("A", 0, 5.0, False), ("A", 1, 4.0, False), ("A", 2, 3.0, False), ("A", 3, 2.0, False), ("A", "done"),  # nothing complete yet
  ("C", 1, 100.0, False),        # only A is complete: 1 < warmup_trials=2, no decision however bad
  ("B", 0, 6.0, False), ("B", 1, 5.0, False), ("B", 2, 2.0, False), ("B", 3, 1.0, False), ("B", "done"),  # A alone complete
  # complete: A, B.  medians: step 1 (4+5)/2 = 4.5, step 2 (3+2)/2 = 2.5, step 3 (2+1)/2 = 1.5
  ("C", 2, 2.6, True),           # C's best so far min(100, 2.6) = 2.6 > 2.5
  ("D", 0, 50.0, False),         # step 0 < warmup_steps=1: not judged
  ("D", 1, 4.5, False),          # 4.5 is not worse than the median 4.5
  ("D", 2, 1.0, False),          # 1.0 <= 2.5
  ("D", 3, 9.0, False),          # the best so far counts, not the last value: 1.0 <= 1.5
  ("D", "done"),                 # complete: A, B, D.  medians: step 1 [4, 5, 4.5] -> 4.5, step 2 [3, 2, 1] -> 2, step 3 [2, 1, 9] -> 2
  ("E", 1, 4.6, True),           # 4.6 > 4.5
  ("F", 2, 2.1, True),           # F skipped step 1; at step 2: 2.1 > 2
  ("G", 5, 0.0, False),          # no complete trial reported step 5: nothing to compare with
]
# interval=2 (warmup_steps=1): checkpoints at steps 1, 3, 5, ...; a trial is judged on its first report at or past each
MEDIAN_INTERVAL = [
  ("A", 1, 4.0, False), ("A", 2, 3.0, False), ("A", 3, 2.0, False), ("A", 4, 1.0, False), ("A", "done"),
  ("H", 1, 3.9, False),          # checkpoint 1: 3.9 <= median [4.0]
  ("H", 2, 9.0, False),          # between checkpoints (its last checkpoint 1 was judged at step 1): not judged
  ("H", 4, 9.0, True),           # checkpoint 3 skipped, judged now at step 4: best so far 3.9 > median [1.0]
]

@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_median_stopping_hand_example(direction):
  script, expect = split(MEDIAN)
  assert verdicts(Tiny(tb.MedianStopping(warmup_trials=2, warmup_steps=1), direction), script) == expect
  assert verdicts(Optuna(optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1), direction), script) == expect
  script, expect = split(MEDIAN_INTERVAL)
  assert verdicts(Tiny(tb.MedianStopping(warmup_trials=1, warmup_steps=1, interval=2), direction), script) == expect
  assert verdicts(Optuna(optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=1, interval_steps=2), direction), script) == expect

# max_step=3 (warmup_trials=2, warmup_steps=1): as MEDIAN, but a report at or past step 3, the last of a full run, gets no
# verdict, so a trial that has spent its budget completes and its value enters the median
MEDIAN_MAX_STEP = [
  ("A", 1, 4.0, False), ("A", 2, 3.0, False), ("A", 3, 2.0, False), ("A", "done"),
  ("B", 1, 5.0, False), ("B", 2, 2.0, False), ("B", 3, 1.0, False), ("B", "done"),   # medians: step 2 2.5, step 3 1.5
  ("C", 2, 2.6, True),           # 2.6 > 2.5 below max_step: stopped as without it
  ("D", 2, 2.5, False),          # 2.5 <= 2.5
  ("D", 3, 9.0, False),          # step 3 = max_step: no verdict (without max_step: 2.5 > 1.5 stops it)
  ("D", "done"),                 # medians: step 2 [3, 2, 2.5] -> 2.5, step 3 [2, 1, 9] -> 2: D's 9 counts
  ("E", 3, 1.9, False),          # at max_step: no verdict
  ("F", 2, 2.5, False), ("F", 4, 9.0, False),   # past max_step: no verdict either
]

@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_median_stopping_gives_no_verdict_at_max_step(direction):
  script, expect = split(MEDIAN_MAX_STEP)
  assert verdicts(Tiny(tb.MedianStopping(warmup_trials=2, warmup_steps=1, max_step=3), direction), script) == expect
  # without max_step the same reports stop D at its last step, as Optuna's MedianPruner (which has no max_step) does
  unbounded = [e if e[:2] != ("D", 3) else ("D", 3, 9.0, True) for e in MEDIAN_MAX_STEP[:MEDIAN_MAX_STEP.index(("D", "done"))]]
  script, expect = split(unbounded)
  assert verdicts(Tiny(tb.MedianStopping(warmup_trials=2, warmup_steps=1), direction), script) == expect
  assert verdicts(Optuna(optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1), direction), script) == expect

def test_first_in_interval_matches_the_checkpoints():
  # warmup 1, interval 2: checkpoints 1, 3, 5; a report is judged when no earlier report reached its latest checkpoint
  assert first_in_interval(1, [], 1, 2) and not first_in_interval(2, [1], 1, 2) and first_in_interval(4, [1, 2], 1, 2)
  assert first_in_interval(2, [], 1, 2)   # checkpoint 1 was never reported: judged at step 2
  assert not first_in_interval(6, [5], 1, 2) and first_in_interval(7, [5, 6], 1, 2)

# ***** ASHA: a hand-worked example *****

# ASHA(min_step=1, max_step=27, reduction_factor=3): rungs at steps 1, 3, 9 (27 is the end of a full run: no rung). At a
# rung, n trials have reached it so far (this one included); the top max(1, n // 3) go on, ties go on.
ASHA_SCRIPT = [
  ("T0", 1, 5.0, False), ("T0", 3, 4.0, False), ("T0", 9, 3.0, False),  # alone at every rung
  ("T0", 27, 2.0, False), ("T0", "done"),
  ("T1", 1, 6.0, True),          # rung 1: [5, 6], n=2 -> top 1 -> 6 > 5
  ("T2", 1, 4.0, False),         # rung 1: [5, 6, 4], n=3 -> top 1 -> 4 is the best
  ("T2", 3, 3.5, False),         # rung 3: [T0 4.0, 3.5] -> best
  ("T2", 9, 3.1, True),          # rung 9: [T0 3.0, 3.1] -> 3.1 > 3.0
  ("T3", 1, 5.5, True),          # rung 1: n=4 -> top 1 (4.0): 5.5 > 4.0
  ("T4", 1, 4.5, True),          # n=5 -> top 1: 4.5 > 4.0
  ("T5", 1, 4.8, True),          # n=6 -> top 2: [4.0, 4.5, | 4.8, 5, 5.5, 6] -> 4.8 > 4.5
  ("T6", 1, 4.2, False),         # n=7 -> top 2: [4.0, 4.2, | ...] -> 4.2 <= 4.2
  ("T6", 3, 3.9, True),          # rung 3: [4.0, 3.5, 3.9], n=3 -> top 1 (3.5): 3.9 > 3.5
  ("T7", 1, 3.0, False),         # n=8 -> top 2: best
  ("T7", 10, 2.0, False),        # jumps over rungs 3 and 9, judged at both with 2.0: best at each
  ("T7", 26, 100.0, False),      # no rung between 10 and 26 (27 = max_step is not a rung): never stopped late
  ("T7", "done"),
  ("T8", 2, 4.1, False),         # first report at step 2 >= rung 1: n=9 -> top 3: [3.0, 4.0, 4.1, | ...] -> 4.1 <= 4.1
]

@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize("where", ["memory", "sqlite"])
def test_asha_hand_example(direction, where, tmp_path):
  script, expect = split(ASHA_SCRIPT)
  storage = InMemoryStorage() if where == "memory" else SQLiteStorage(tmp_path / "asha.db")
  assert verdicts(Tiny(tb.ASHA(min_step=1, max_step=27, reduction_factor=3), direction, storage), script) == expect
  # Optuna's SuccessiveHalvingPruner has no max_step (a rung at 27 too), where T0 alone is promoted: same verdicts
  assert verdicts(Optuna(optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3), direction), script) == expect

def test_rung_helpers():
  assert list(rung_steps(1, 3, 27, 100)) == [1, 3, 9] and list(rung_steps(2, 2, None, 40)) == [2, 4, 8, 16, 32]
  assert tb.ASHA(min_step=1, max_step=28).rungs(100) == [1, 3, 9, 27]   # 27 < 28: a rung
  # n // rf winners, at least one; ties go on
  assert promotable(1.0, [1.0], 3) and not promotable(2.0, [1.0, 2.0], 3) and promotable(2.0, [1.0, 2.0, 2.0, 3.0, 4.0, 5.0], 3)

# ***** Hyperband: a hand-worked example *****

# Hyperband(min_step=1, max_step=9, reduction_factor=3): n = floor(log3(9 / 1)) + 1 = 3 brackets with first rungs 1, 3, 9;
# budgets ceil(3 * 3^s / (s + 1)) for s = 2, 1, 0: 9, 5, 3 (of 17). Bracket 0 = ASHA rungs 1, 3; bracket 1 = ASHA rung 3;
# bracket 2 has its first rung at max_step: it stops nothing. Trial k of study "hb" goes to bracket
# b(crc32("hb_k") % 17 over budgets [9, 5, 3]) = [0, 0, 2, 2, 1, 1, 1, 2, 1, 0] for k = 0..9 (checked below with zlib).
HB_BRACKETS = [0, 0, 2, 2, 1, 1, 1, 2, 1, 0]
HYPERBAND = [
  ("T0", 1, 5.0, False), ("T0", 3, 4.0, False), ("T0", 9, 3.0, False), ("T0", "done"),   # b0: alone
  ("T1", 1, 6.0, True),          # b0 rung 1: [5, 6] -> 6 > 5
  ("T2", 1, 100.0, False), ("T2", 3, 100.0, False), ("T2", "done"),                      # b2: never stopped
  ("T3", 1, 50.0, False), ("T3", "done"),                                                 # b2
  ("T4", 1, 7.0, False),         # b1: no rung at 1 (in b0 it would stop: 7 > 5)
  ("T4", 3, 6.5, False),         # b1 rung 3: [6.5] alone (T0's 4.0 at step 3 is in b0: not a competitor)
  ("T4", 9, 6.0, False), ("T4", "done"),
  ("T5", 1, 9.0, False),         # b1: no rung at 1
  ("T5", 3, 6.6, True),          # b1 rung 3: [6.5, 6.6] -> 6.6 > 6.5
  ("T6", 3, 6.0, False),         # b1 rung 3: [6.5, 6.6, 6.0], n=3 -> top 1 -> best
  ("T6", "done"),
  ("T7", 1, 1000.0, False), ("T7", "done"),                                               # b2
  ("T8", 3, 6.55, True),         # b1 rung 3: n=4 -> top 1 (6.0): 6.55 > 6.0
  ("T9", 1, 5.5, True),          # b0 rung 1: [5, 6, 5.5] (b2's 100, 50, 1000 not counted), n=3 -> top 1 (5): 5.5 > 5
]

def offset_storage():
  """An InMemoryStorage whose ids are taken up to 4 by another study: trial numbers in "hb" are not its ids."""
  mem = InMemoryStorage()
  other = tb.Optimizer(SPACE, strategy="random", storage=mem, name="other")
  for _ in range(5): other.suggest()
  return mem

@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize("where", ["memory", "sqlite"])
def test_hyperband_hand_example(direction, where, tmp_path):
  budgets = [9, 5, 3]
  def bracket(k):
    n = zlib.crc32(f"hb_{k}".encode()) % sum(budgets)
    return next(b for b in range(3) if n < sum(budgets[:b + 1]))
  assert [bracket(k) for k in range(10)] == HB_BRACKETS
  rule = tb.Hyperband(min_step=1, max_step=9, reduction_factor=3)
  assert rule.budgets == budgets and [None if a is None else a.min_step for a in rule.brackets] == [1, 3, None]
  script, expect = split(HYPERBAND)
  storage = offset_storage() if where == "memory" else SQLiteStorage(tmp_path / "hb.db")   # SQLite ids start at 1
  assert verdicts(Tiny(rule, direction, storage, name="hb"), script) == expect
  hyperband = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3)
  assert verdicts(Optuna(hyperband, direction, name="hb"), script) == expect

@pytest.mark.parametrize("seed", range(6))
def test_rung_records_equal_a_replay_that_sorts_every_rung_at_every_report(seed):
  # the replay kept in sorted order must decide every promotion as sorting each rung's losses afresh does (ties included:
  # the values come from a small set), on a study of a few hundred trials reporting out of order
  import numpy as np
  rng = np.random.default_rng(seed)
  rf, n = int(rng.integers(2, 5)), int(rng.integers(50, 300))
  curves = {i: [Report(int(s), float(rng.integers(0, 6)) if seed % 2 else float(rng.random()), False, float(rng.random()))
                for s in np.unique(rng.integers(1, 40, size=int(rng.integers(1, 8))))] for i in range(n)}
  for c in curves.values(): c.sort(key=lambda r: r.step)
  for c in curves.values():   # times increase along each curve, as a trial writes them
    for k in range(1, len(c)): c[k] = c[k]._replace(time=max(c[k].time, c[k - 1].time + 1e-9))
  direction = bool(seed % 3)
  history = History("s", direction, {i: TrialState.PENDING for i in curves}, curves)
  def rungs(up_to): return rung_steps(1, rf, 30, up_to)
  events = sorted((r.time, i, r.step, r.value) for i, c in curves.items() if i != 0 for r in c)
  expect, last, stopped = {}, {}, set()
  for _, i, step, value in events:
    if i in stopped: continue
    before, last[i] = last.get(i, -1), step
    for rung in rungs(step):
      if rung <= before: continue
      expect.setdefault(rung, []).append(loss := history.loss(value))
      if loss > sorted(expect[rung])[max(1, len(expect[rung]) // rf) - 1]: stopped.add(i); break
  assert rung_records(history, 0, rungs, rf) == expect and stopped

def test_hyperband_bracket_count_is_exact_in_integers():
  # floor(log3(243)) in floating point is 4 (math.log(243, 3) = 4.999...), which would drop a bracket: 6 here
  assert len(tb.Hyperband(min_step=1, max_step=243, reduction_factor=3).brackets) == 6
  assert len(tb.Hyperband(min_step=2, max_step=17, reduction_factor=2).brackets) == 4   # 2, 4, 8, 16

def test_history_view_is_read_only_and_numbers_trials():
  h = History("s", False, {7: TrialState.COMPLETE, 3: TrialState.PENDING}, {3: [Report(1, 2.0, False, 0.0)]})
  assert list(h.states) == [3, 7] and h.number(7) == 1 and h.loss(2.0) == -2.0
  with pytest.raises(TypeError): h.curves[3] = ()
  assert h.only({7}).curves == {} and list(h.only({7}).states) == [7]

# ***** random asynchronous sequences: the same verdicts as Optuna's pruners *****

def random_script(seed, n_trials=14, max_step=12, concurrency=3):
  """Up to `concurrency` trials running at once, each a curve a + b / step (+ noise) that crosses the others, reporting
  at steps 1..max_step and sometimes skipping one, then complete."""
  return interleaved_curves(seed, n_trials, max_step, concurrency, skip=0.2, noise=0.05)

RULES = {
  "median": (lambda: tb.MedianStopping(warmup_trials=3, warmup_steps=2), lambda: optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2)),
  "median-interval": (lambda: tb.MedianStopping(warmup_trials=2, warmup_steps=1, interval=3),
                      lambda: optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1, interval_steps=3)),
  "asha-3": (lambda: tb.ASHA(min_step=1, reduction_factor=3), lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)),
  "asha-2": (lambda: tb.ASHA(min_step=2, reduction_factor=2), lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=2, reduction_factor=2)),
  # max_step 12 is no rung of any bracket, so Optuna's unbounded brackets and tinybo's (rungs < max_step) agree
  "hyperband": (lambda: tb.Hyperband(min_step=1, max_step=12, reduction_factor=3),
                lambda: optuna.pruners.HyperbandPruner(min_resource=1, max_resource=12, reduction_factor=3)),
}

def replay_both(make_ours, make_theirs, direction: str, scripts) -> list[tuple]:
  """Every (trial, step) verdict of tinybo's rule and Optuna's pruner on the same scripts, asserting they agree; a stopped
  trial reports no more, in either library. Returns the events with their verdicts, (trial, step, stop)."""
  seen = []
  for seed, script in scripts:
    ours, theirs = Tiny(make_ours(), direction, offset_storage(), name=f"s{seed}"), Optuna(make_theirs(), direction, name=f"s{seed}")
    stopped = set()
    for i, ev in enumerate(script):
      if ev[0] in stopped: continue
      a, b = ours(ev), theirs(ev)
      assert a == b, f"seed {seed}, event {i} {ev}: tinybo says {a}, Optuna says {b}"
      if a: stopped.add(ev[0])
      if a is not None: seen.append(((seed, ev[0]), ev[1], a))
  return seen

@pytest.mark.parametrize("rule", list(RULES))
@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_same_verdicts_as_optuna_on_random_sequences(rule, direction):
  seen = replay_both(*RULES[rule], direction, [(seed, random_script(seed)) for seed in range(8)])
  assert 0 < sum(stop for *_, stop in seen) < len(seen) / 2   # the sequences exercise both verdicts

# reports 1-4 steps apart up to step 30, so one report often crosses two or three rungs: a trial counts at a rung only
# if it was promoted at every rung below (tinybo counted a trial stopped at rung 1 by its step-10 report at rungs 3 and 9
# too, and promoted trials Optuna stops). Hyperband's max_step 31 lies past every report, as Optuna's brackets are unbounded
JUMP_RULES = {
  "asha-3": (lambda: tb.ASHA(min_step=1, reduction_factor=3), lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)),
  "asha-2": (lambda: tb.ASHA(min_step=2, reduction_factor=2), lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=2, reduction_factor=2)),
  "hyperband": (lambda: tb.Hyperband(min_step=1, max_step=31, reduction_factor=2),
                lambda: optuna.pruners.HyperbandPruner(min_resource=1, max_resource=31, reduction_factor=2)),
}

@pytest.mark.parametrize("rule", list(JUMP_RULES))
@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_same_verdicts_as_optuna_when_reports_cross_several_rungs(rule, direction):
  seen = replay_both(*JUMP_RULES[rule], direction, [(seed, interleaved_curves(seed, 12, 30, 3, noise=0.05, max_jump=4)) for seed in range(10)])
  last: dict = {}
  n_multi = 0
  for trial, step, _ in seen:   # both verdicts, and many reports that cross two rungs or more
    n_multi += len([r for r in rung_steps(1, 2, None, step) if r > last.get(trial, 0)]) >= 2
    last[trial] = step
  assert any(stop for *_, stop in seen) and n_multi > 10

@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_a_report_that_crosses_rungs_is_recorded_only_where_the_trial_was_promoted(direction):
  # ASHA(1, rf 3): rungs 1, 3, 9; every trial reports only at step 10. Rung 1 = {A 1, B 2, C 3, D 4, E 5, F 1.5}: the top
  # 6 // 3 = 2 go on, F among them; rung 3 holds the promoted ones only, {A 1, F 1.5}: fewer than 3, so only the best
  # continues, and F stops there (B..E stopped at rung 1 and never reached rung 3)
  script = [("A", 10, 1.0, False), ("A", "done")] + [(t, 10, v, True) for t, v in zip("BCDE", (2.0, 3.0, 4.0, 5.0))] + [("F", 10, 1.5, True)]
  events, expect = split(script)
  assert verdicts(Tiny(tb.ASHA(min_step=1, reduction_factor=3), direction), events) == expect
  assert verdicts(Optuna(optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3), direction), events) == expect

@pytest.mark.parametrize("rule", [tb.ASHA(min_step=1, max_step=10, reduction_factor=3), tb.Hyperband(min_step=1, max_step=10, reduction_factor=3)])
def test_a_report_at_max_step_is_never_told_to_stop(rule):
  # validating every 5 epochs of 10: the report at epoch 10 crosses rung 9, but it is the end of a full run (it was judged
  # there, and a complete run recorded as STOPPED)
  opt = tb.Optimizer(SPACE, strategy="random", stopping=rule)
  for curve in ({5: 1.0, 10: 0.5}, {5: 0.9, 10: 0.6}, {5: 0.8, 10: 0.55}, {5: 0.7, 10: 5.0}):   # each the best at step 5
    t = opt.suggest()
    assert [opt.report(t, loss, epoch) for epoch, loss in curve.items()] == [False, False]
    opt.observe(t, curve[10])

def test_the_model_rule_never_stops_at_the_complete_trials_last_step():
  # ModelStopping(max_step=None): "the model's target step bounds it" was not enforced; a run's report at step 27 of 27,
  # worse than the best, was told to stop, and the finished run recorded as STOPPED
  space = tb.Space({"x": tb.Float(0.0, 1.0)})
  def f(x, s): return (x - 0.3) ** 2 + 0.5 / s
  opt = tb.Optimizer(space, strategy=tb.GP(seed=0, n_initial=4), seed=0, stopping=tb.ModelStopping(1, None, 0.2))
  for x in (0.3, 0.7):
    opt.enqueue({"x": x})
    t = opt.suggest()
    for s in range(1, 28): opt.report(t, f(x, s), s)
    opt.observe(t, f(x, 27))
  opt.enqueue({"x": 0.05})
  t = opt.suggest()
  assert [s for s in range(1, 28) if opt.report(t, f(0.3, s) - 0.05 if s < 27 else 0.5, s)] == []

# ***** bad parameters *****

@pytest.mark.parametrize("make, match", [
  (lambda: tb.MedianStopping(warmup_trials=-1), "warmup_trials=-1; use an int >= 0"),
  (lambda: tb.MedianStopping(interval=0), "interval=0; use an int >= 1"),
  (lambda: tb.MedianStopping(warmup_steps=1.5), "warmup_steps=1.5; use an int >= 0"),
  (lambda: tb.MedianStopping(warmup_steps=5, max_step=5), "max_step=5 <= warmup_steps=5: no step to stop at; use max_step > warmup_steps"),
  (lambda: tb.MedianStopping(max_step=0), "max_step=0; use an int >= 1"),
  (lambda: tb.ASHA(min_step=0), "min_step=0; use an int >= 1"),
  (lambda: tb.ASHA(reduction_factor=1), "reduction_factor=1; use an int >= 2"),
  (lambda: tb.ASHA(reduction_factor=2.5), "reduction_factor=2.5; use an int >= 2"),
  (lambda: tb.ASHA(min_step=5, max_step=5), "max_step=5 <= min_step=5"),
  (lambda: tb.Hyperband(min_step=1), "Hyperband needs max_step"),
  (lambda: tb.Hyperband(min_step=9, max_step=3), "max_step=3 <= min_step=9"),
  (lambda: tb.Hyperband(min_step=5, max_step=5), "max_step=5 <= min_step=5: no rung to stop at"),   # else a rule that never stops
  (lambda: tb.Optimizer(SPACE, strategy="random", stopping="asha"), "stopping='asha'; use None, tb.MedianStopping()"),
])
def test_bad_parameters_are_one_line_errors(make, match):
  with pytest.raises((ValueError, TypeError), match=match) as e: make()
  assert "\n" not in str(e.value)
