"""tb.ASHA(keep_chance=...) and tb.Hyperband(keep_chance=...): the strategy's learning-curve model overrules ASHA's stop
for a trial it believes more likely than not to beat the incumbent. A hand-worked rung example with a given chance per
trial (which trials the model keeps, which ASHA still stops, and that the model is asked only about trials ASHA would
stop); random report sequences where a model that keeps nothing gives plain ASHA's and Hyperband's verdicts and one that
keeps everything stops nothing; a real GP on curves that cross, where plain ASHA stops the configuration that ends best
at its first rung and keep_chance lets it finish; bad arguments."""
import random

import pytest
from curve_scripts import finished_study, play_enqueued, reporting_objective

import tinybo as tb
from tinybo.stopping import History
from tinybo.trial import Report, TrialState

SPACE = tb.Space({"x": tb.Float(0.0, 1.0)})

class Player:
  """Feeds reports to a rule one at a time through a History of everything reported so far, with `chance` as the
  model (a dict trial -> probability, or a function); a trial told to stop is stopped. Records which trials the rule
  asked the model about."""
  def __init__(self, rule, chance):
    self.rule, self.chance, self.asked = rule, chance, []
    self.states: dict[int, TrialState] = {}
    self.curves: dict[int, list[Report]] = {}
    self.time = 0.0

  def model(self, i):
    self.asked.append(i)
    return self.chance(i) if callable(self.chance) else self.chance.get(i)

  def report(self, i, step, value):
    self.states.setdefault(i, TrialState.PENDING)
    self.time += 1.0
    self.curves.setdefault(i, []).append(Report(step, value, False, self.time))
    stop = self.rule.should_stop(i, step, value, History("study", True, self.states, self.curves, self.model))
    if stop: self.states[i] = TrialState.STOPPED
    return stop

  def done(self, i): self.states[i] = TrialState.COMPLETE

# ASHA(min_step=1, max_step=27, reduction_factor=3, keep_chance=0.5): rungs 1, 3, 9. ASHA's verdict as in
# tests/test_stopping.py's example; where it says stop, the model's chance decides (>= 0.5 keeps the trial running).
# A trial ASHA did not promote at a rung counts at no rung above it for the others (ASHA did not promote it).
KEEP_SCRIPT = [
  (0, 1, 5.0, False), (0, 3, 4.0, False), (0, 9, 3.0, False), (0, 27, 2.0, False), (0, "done"),   # alone at every rung
  (1, 1, 6.0, False),   # rung 1: [5, 6] -> top 1 -> ASHA stops it; the model gives 0.7: kept
  (1, 3, 4.5, False),   # rung 3: [T0 4.0, 4.5] -> ASHA stops it again; the model gives 0.6: kept
  (1, 9, 2.5, False),   # rung 9: [T0 3.0, 2.5] -> best: promoted, the model not asked
  (1, 27, 1.0, False), (1, "done"),   # at max_step: no verdict
  (2, 1, 7.0, True),    # rung 1: [5, 6, 7] -> top 1: ASHA stops it; the model gives 0.3: stopped
  (3, 1, 8.0, True),    # rung 1: n=4 -> top 1: ASHA stops it; the model cannot say (None): ASHA's verdict stands
  (4, 1, 4.0, False),   # rung 1: n=5 -> top 1: 4.0 is the best: promoted, the model not asked
  (5, 1, 4.5, False),   # rung 1: n=6 -> top 2: [4.0, 4.5 | 5, 6, 7, 8]: promoted
  (5, 3, 4.4, True),    # rung 3: [T0 4.0, 4.4] (T1 was not promoted at rung 1: not counted) -> stop; the model: exactly 0.5 - 1e-9
]
CHANCE = {1: 0.7, 2: 0.3, 3: None, 5: 0.5 - 1e-9}

@pytest.mark.parametrize("keep", [0.5, 0.55])
def test_asha_keep_chance_hand_example(keep):
  chance = dict(CHANCE)
  if keep == 0.55: chance[1] = 0.6   # at the second rung T1's 0.6 still keeps it; at the first 0.6 keeps it too
  p = Player(tb.ASHA(min_step=1, max_step=27, reduction_factor=3, keep_chance=keep), chance)
  got = [p.done(e[0]) if e[1] == "done" else p.report(*e[:3]) for e in KEEP_SCRIPT]
  assert [g for g, e in zip(got, KEEP_SCRIPT) if e[1] != "done"] == [e[3] for e in KEEP_SCRIPT if e[1] != "done"]
  # asked only where ASHA said stop: T1 at rungs 1 and 3, T2, T3, T5 at rung 3
  assert p.asked == [1, 1, 2, 3, 5]

def test_the_same_chance_at_the_threshold_keeps_the_trial():
  p = Player(tb.ASHA(min_step=1, max_step=9, reduction_factor=3, keep_chance=0.5), {1: 0.5})
  assert not p.report(0, 1, 1.0) and not p.report(1, 1, 2.0)   # T1 would stop (2.0 > 1.0); 0.5 >= 0.5 keeps it
  assert p.asked == [1]

def random_script(seed, n_trials=40, max_step=27):
  """Trials one after another, each reporting every step until told to stop: noisy decreasing curves."""
  rng = random.Random(seed)
  out = []
  for i in range(n_trials):
    level, speed = rng.uniform(0, 1), rng.uniform(0.2, 3)
    out.append([(i, s, level + (1 - s / max_step) ** speed + rng.gauss(0, 0.02)) for s in range(1, max_step + 1)])
  return out

def play(rule, chance, script):
  p, verdicts = Player(rule, chance), []
  for curve in script:
    for i, s, v in curve:
      verdicts.append((i, s, stop := p.report(i, s, v)))
      if stop: break
    else: p.done(curve[0][0])
  return verdicts, p

@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("make", [lambda k: tb.ASHA(1, 27, 3, keep_chance=k), lambda k: tb.Hyperband(1, 27, 3, keep_chance=k)],
                         ids=["asha", "hyperband"])
def test_a_model_that_keeps_nothing_is_plain_and_one_that_keeps_everything_stops_nothing(make, seed):
  script = random_script(seed)
  plain, _ = play(make(None), lambda i: pytest.fail("a rule without keep_chance asked the model"), script)
  assert any(stop for *_, stop in plain)   # the sequences do stop trials: the comparison below means something
  never, p = play(make(0.5), lambda i: 0.0, script)
  assert never == plain and p.asked   # the model was asked, and its 0.0 kept nothing
  always, p = play(make(0.5), lambda i: 1.0, script)
  assert not any(stop for *_, stop in always) and p.asked

T = 9

def crossing(x, step):
  """Curves that cross: the final value (x - 0.3)^2 at step T, reached fast for large x (those look good early)."""
  return (x - 0.3) ** 2 + (1 - step / T) ** (0.2 + 6 * x)

def study(rule):
  """Five configurations run to T on either side of the best final value (0.3); then an Optimizer with `rule`."""
  return finished_study([0.05, 0.15, 0.5, 0.7, 0.9], crossing, T, rule)

def run(opt, x):
  opt.enqueue({"x": x})
  t = opt.suggest()
  for s in range(1, T + 1):
    if opt.report(t, crossing(x, s), s): return t, s
  return t, None

def test_where_curves_cross_the_model_keeps_the_best_configuration_that_asha_stops():
  # x = 0.3 ends best (0 against the incumbent's 0.0225 at x = 0.15) but at step 1 its 0.79 is third of six
  # (0.726 at 0.5, 0.756 at 0.7): plain ASHA stops it at its first rung
  assert crossing(0.3, 1) > sorted(crossing(x, 1) for x in (0.05, 0.15, 0.5, 0.7, 0.9))[1]
  plain = study(tb.ASHA(1, T, 3))
  assert run(plain, 0.3)[1] == 1
  opt = study(tb.ASHA(1, T, 3, keep_chance=0.5))
  t, stopped_at = run(opt, 0.3)
  assert stopped_at is None   # every rung's stop overruled: it runs to T and completes
  assert opt.observe(t, crossing(0.3, T)).state == TrialState.COMPLETE and opt.best.id == t.id
  # a configuration that starts badly and ends badly is still stopped at its first rung: the model does not believe in it
  bad, stopped_at = run(opt, 1.0)
  assert stopped_at == 1 and opt.strategy.final_chance(SPACE, opt.trials, opt.curves, bad.id, seed=opt.seed) < 0.5

@pytest.mark.parametrize("make, match", [
  (lambda: tb.ASHA(keep_chance=0), "keep_chance=0; use a probability in \\(0, 1\\), e.g. 0.5"),
  (lambda: tb.ASHA(keep_chance=1.0), "keep_chance=1.0; use a probability in \\(0, 1\\)"),
  (lambda: tb.ASHA(keep_chance=True), "keep_chance=True; use a probability in \\(0, 1\\)"),
  (lambda: tb.ASHA(keep_chance="0.5"), "keep_chance='0.5'; use a probability in \\(0, 1\\)"),
  (lambda: tb.Hyperband(1, 27, keep_chance=-0.5), "keep_chance=-0.5; use a probability in \\(0, 1\\)"),
  (lambda: tb.Optimizer(SPACE, strategy="random", stopping=tb.ASHA(1, 9, keep_chance=0.5)),
   r"stopping=ASHA\(min_step=1, max_step=9, reduction_factor=3, keep_chance=0.5\) needs a strategy with a learning-curve model"),
  (lambda: tb.Optimizer(SPACE, strategy=tb.GP(curves=False), stopping=tb.Hyperband(1, 9, keep_chance=0.5)),
   "needs a strategy with a learning-curve model"),
  # a rule used on its own, without the Optimizer to bind the model: an error when the model is needed, not a silent plain ASHA
  (lambda: tb.ASHA(1, 9, keep_chance=0.5).should_stop(1, 1, 2.0, History("s", True, {0: TrialState.COMPLETE, 1: TrialState.PENDING},
                                                                           {0: [Report(1, 1.0, False, 0.0)], 1: [Report(1, 2.0, False, 1.0)]})),
   r"ASHA\(.*keep_chance=0.5\) needs the strategy's learning-curve model; use it through tb.Optimizer\(strategy=tb.GP\(\)"),
])
def test_bad_use_is_a_one_line_error(make, match):
  with pytest.raises((ValueError, TypeError), match=match) as e: make()
  assert "\n" not in str(e.value)

def test_repr_and_plain_rules_use_no_model():
  assert repr(tb.ASHA(1, 9, 3, keep_chance=0.5)) == "ASHA(min_step=1, max_step=9, reduction_factor=3, keep_chance=0.5)"
  assert repr(tb.Hyperband(1, 9, 3)) == "Hyperband(min_step=1, max_step=9, reduction_factor=3)"
  assert not tb.ASHA().uses_model and not tb.Hyperband(1, 9).uses_model
  hb = tb.Hyperband(1, 27, 3, keep_chance=0.5)
  assert hb.uses_model and all(b is None or b.keep_chance == 0.5 for b in hb.brackets)

def test_a_resumed_sqlite_study_reaches_the_same_verdicts(tmp_path):
  """The same reports through one Optimizer, and through Optimizers reopened on the file mid-study and mid-trial (a new
  process: no fitted model in memory), give the same verdicts; and the model changed some of plain ASHA's."""
  xs = [0.05, 0.15, 0.5, 0.7, 0.9, 0.3, 1.0, 0.25, 0.6, 0.35]
  def play(path, reopen_at, keep=0.5):
    make = lambda: tb.Optimizer(SPACE, strategy=tb.GP(warp=False), storage=str(path), stopping=tb.ASHA(1, T, 3, keep_chance=keep))
    return play_enqueued(make, xs, crossing, T, reopen_at)
  straight = play(tmp_path / "a.db", set())
  resumed = play(tmp_path / "b.db", {20, 46, 47, 50})
  assert straight == resumed and True in straight[0]
  assert play(tmp_path / "c.db", set(), keep=None) != straight   # plain ASHA stops what the model kept

def test_optimize_with_a_trial_handle():
  opt = tb.Optimizer(SPACE, strategy=tb.GP(warp=False, n_initial=4), seed=0, stopping=tb.ASHA(1, T, 3, keep_chance=0.5))
  best = opt.optimize(reporting_objective(crossing, T), n_trials=12, progress=False)
  states = [t.state for t in opt.trials]
  assert TrialState.STOPPED in states and all(s in (TrialState.COMPLETE, TrialState.STOPPED) for s in states)
  assert best.value == min(t.value for t in opt.trials if t.state == TrialState.COMPLETE)

def test_may_ask_is_true_exactly_at_the_reports_that_can_ask_the_model():
  asha = tb.ASHA(1, 27, 3, keep_chance=0.5)
  assert [s for s in range(1, 28) if asha.may_ask(s, s - 1)] == [1, 3, 9]   # rungs below max_step 27
  assert asha.may_ask(10, 2) and not asha.may_ask(8, 3) and not asha.may_ask(27, 2)   # 10 crosses 3 and 9; 27 is the end
  assert not tb.ASHA(1, 27, 3).may_ask(1, -1)   # without keep_chance no report asks
  hb = tb.Hyperband(1, 27, 3, keep_chance=0.5)
  assert [s for s in range(1, 28) if hb.may_ask(s, s - 1)] == [1, 3, 9]
  ms = tb.ModelStopping(min_step=2, max_step=9, interval=3)
  assert [s for s in range(1, 10) if ms.may_ask(s, s - 1)] == [2, 5, 8] and ms.may_ask(6, 4) and not ms.may_ask(9, 8)

class AlwaysAsks(tb.ASHA):
  def may_ask(self, step, before): return True

def test_the_model_is_refitted_ahead_only_where_it_can_be_asked_and_verdicts_do_not_change(tmp_path, monkeypatch):
  from tinybo.bo import GP
  calls = []
  real = GP.chance_model
  monkeypatch.setattr(GP, "chance_model", lambda self, *a, **k: (calls.append(1), real(self, *a, **k))[1])
  xs = [0.05, 0.15, 0.5, 0.7, 0.9, 0.3, 1.0, 0.25]
  make = lambda rule, path: lambda: tb.Optimizer(SPACE, strategy=tb.GP(warp=False), storage=str(path), stopping=rule)
  verdicts, _ = play_enqueued(make(tb.ASHA(1, T, 3, keep_chance=0.5), tmp_path / "a.db"), xs, crossing, T)
  asked = len(calls)
  always, _ = play_enqueued(make(AlwaysAsks(1, T, 3, keep_chance=0.5), tmp_path / "b.db"), xs, crossing, T)
  assert always == verdicts
  # one refit ahead per report at a rung (steps 1 and 3 below T = 9) against one per report
  assert asked == sum((n >= 1) + (n >= 3) for n in (len(c) for c in split_runs(verdicts, xs)))
  assert len(calls) - asked == len(always)

def split_runs(verdicts, xs):
  """The verdicts of each trial of play_enqueued: a run ends at a True or after T reports."""
  out, cur = [], []
  for v in verdicts:
    cur.append(v)
    if v or len(cur) == T: out.append(cur); cur = []
  assert len(out) == len(xs)
  return out
