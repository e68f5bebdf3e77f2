"""TinyBOSampler's memo of the finished trials (tinybo.integrations.optuna._Memo): the proposals are bit-for-bit those of a
sampler that converts every trial afresh at every suggestion (the code before the memo), sequentially (in memory and in
SQLite) and with a second sampler on the same SQLite storage (another process) asking, finishing, pruning and failing
trials between two suggestions; and the memo is used: a suggestion converts only the trials that changed."""
import math

import optuna
import pytest

import tinybo as tb
import tinybo.integrations.optuna as topt
from tinybo.integrations.optuna import TinyBOSampler

optuna.logging.set_verbosity(optuna.logging.WARNING)

class Afresh(TinyBOSampler):
  """The sampler without its memo: a new (empty) one at every call, so every trial is converted at every suggestion."""
  def _memo(self, attr, study, context): return topt._Memo(study, context)

def branin(t: optuna.Trial) -> float:
  x, y = t.suggest_float("x", -5, 10), t.suggest_float("y", 0, 15)
  return (y - 5.1 / (4 * math.pi ** 2) * x ** 2 + 5 / math.pi * x - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10

def trials_of(study: optuna.Study) -> list[tuple]:
  return [(t.number, t.state, t.params, t.value, t.system_attrs.get("tinybo:proposal:0")) for t in study.trials]

@pytest.mark.parametrize("storage", ["memory", "sqlite"])
def test_a_sequential_study_is_the_same_with_and_without_the_memo(storage, tmp_path):
  def run(cls) -> list[tuple]:
    url = None if storage == "memory" else f"sqlite:///{tmp_path}/{cls.__name__}.db"
    study = optuna.create_study(sampler=cls(tb.GP(n_initial=5), seed=0), storage=url)
    study.optimize(branin, n_trials=25)
    return trials_of(study)
  assert run(TinyBOSampler) == run(Afresh)

def test_another_process_adding_and_finishing_trials_between_suggestions_changes_nothing(tmp_path):
  def run(cls) -> list[tuple]:
    url = f"sqlite:///{tmp_path}/{cls.__name__}.db"
    mine = optuna.create_study(study_name="s", storage=url, sampler=cls(tb.GP(n_initial=4), seed=0))
    other = optuna.load_study(study_name="s", storage=url, sampler=cls(tb.GP(n_initial=4), seed=1))
    def ask(study):
      t = study.ask(); branin(t); return t
    for i in range(12):
      a = ask(mine)
      b = ask(other)                         # the other process asks while this one's trial runs (a rival)
      other.tell(b, branin(b) if i % 4 else None, state=None if i % 4 else optuna.trial.TrialState.FAIL)
      c = ask(other)                         # one the other process leaves running across this one's next suggestion
      if i % 3 == 0: other.enqueue_trial({"x": 1.0, "y": 2.0})
      mine.tell(a, branin(a))
      d = ask(mine)                          # sees c running, then c pruned after a report
      c.report(branin(c), 1); other.tell(c, state=optuna.trial.TrialState.PRUNED)
      mine.tell(d, branin(d))
    return trials_of(mine)
  assert run(TinyBOSampler) == run(Afresh)

def test_a_suggestion_converts_only_the_trials_that_changed(monkeypatch):
  study = optuna.create_study(sampler=TinyBOSampler("random", seed=0))
  study.optimize(branin, n_trials=10)
  calls = []
  convert = topt._to_tinybo
  monkeypatch.setattr(topt, "_to_tinybo", lambda t, *a: calls.append(t.number) or convert(t, *a))
  running = study.ask(); branin(running)
  calls.clear()
  study.optimize(branin, n_trials=1)
  assert calls == [running.number, 11]   # the trial left running and the asking one; the 10 finished ones from the memo
