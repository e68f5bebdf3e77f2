"""Stopping rules: end a running trial early when its learning curve is hopeless.

A rule is a small object with one pure method, the protocol:

    should_stop(trial_id, step, value, history) -> bool

It is called on every report (`opt.report(trial, value, step)`) inside the report's write transaction, so it sees exactly
the reports committed before this one, plus this one. `history` is a read-only `History` of the whole study: every trial's
state and reports. A rule keeps no state between calls: every process sharing a study, and a study reopened after a
crash, reaches the same decision from the same reports. A True verdict is sticky: the storage keeps answering True for
the trial's later reports without asking the rule again.

Rules here (parameters named as Optuna's and Ray Tune's, mapped in each docstring):
  MedianStopping(warmup_trials=5, warmup_steps=0, interval=1, max_step=None)   the median stopping rule (Optuna's MedianPruner)
  ASHA(min_step=1, max_step=None, reduction_factor=3, keep_chance=None)
                                                                asynchronous successive halving (Optuna's SuccessiveHalvingPruner)
  Hyperband(min_step=1, max_step, reduction_factor=3, keep_chance=None)
                                                                brackets of ASHA (Optuna's HyperbandPruner)
  ModelStopping(min_step=1, max_step=None, threshold=0.2, interval=1)
                                                                the strategy's learning-curve model: P(final beats incumbent) < threshold
A rule that needs the strategy's model (`uses_model = True`: ModelStopping, ASHA and Hyperband with keep_chance) reads it through `history.chance`, a
callable the Optimizer binds to its strategy (tb.GP.final_chance): this module never imports the strategy (bo.py is
layers below it), the Optimizer, above both, joins them. Such a rule may define `may_ask(step, before) -> bool`, whether
a report at `step` after one at `before` can ask the model: the Optimizer refits the model ahead of the report's write
transaction only then (without it: at every report).
Holds: StoppingRule, History, MedianStopping, ASHA, Hyperband, ModelStopping, kept_by_model, previous_step, StopTrial,
check_stopping. Imports: trial.
"""
from __future__ import annotations

import binascii
import bisect
import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import numpy as np

from tinybo.trial import Report, TrialState


class StopTrial(Exception):
  """Raise it from an objective run by `optimize()` to end the trial early: it is recorded as stopped, with its last
  reported value (Optuna's `TrialPruned`)."""

class History:
  """A read-only view of a study for a stopping rule. `states`: every trial's state by id, ids increasing; `curves`: every
  trial's reports by id, steps increasing (trials that never reported are absent); `name`: the study's name;
  `minimize`: its direction. `loss(value)` turns a value into "lower is better" (value, or -value when maximizing).
  `chance(trial_id)`: the strategy model's probability that the trial's value at the final step beats the incumbent
  (None: the model cannot say yet), bound by the Optimizer for a rule with `uses_model = True`; else None."""
  def __init__(self, name: str, minimize: bool, states: Mapping[int, TrialState], curves: Mapping[int, Sequence[Report]],
               chance: Callable[[int], float | None] | None = None):
    self.name, self.minimize, self.chance = name, minimize, chance
    self.states = MappingProxyType({i: states[i] for i in sorted(states)})
    self.curves = MappingProxyType({i: tuple(curves[i]) for i in sorted(curves)})
    self._ids = tuple(self.states)

  def loss(self, value: float) -> float: return value if self.minimize else -value

  def number(self, trial_id: int) -> int:
    """The trial's position in the study, from 0 (Optuna's `trial.number`): ids are shared by every study of a storage."""
    return bisect.bisect_left(self._ids, trial_id)

  def only(self, trial_ids: set[int]) -> History:
    """The same study seen through a subset of its trials (a Hyperband bracket)."""
    return History(self.name, self.minimize, {i: s for i, s in self.states.items() if i in trial_ids},
                   {i: c for i, c in self.curves.items() if i in trial_ids}, self.chance)

  def __repr__(self) -> str: return f"History(name={self.name!r}, trials={len(self.states)}, reports={sum(map(len, self.curves.values()))})"

@runtime_checkable
class StoppingRule(Protocol):
  def should_stop(self, trial_id: int, step: int, value: float, history: History) -> bool: ...

def check_stopping(stopping: Any) -> StoppingRule | None:
  """None (no early stopping) or a rule object; anything else is a one-line TypeError."""
  if isinstance(stopping, type):  # tb.ASHA instead of tb.ASHA(): the class has should_stop too, and every report would fail
    raise TypeError(f"stopping={stopping.__name__} is a class; pass an instance such as {stopping.__name__}(...)")
  if stopping is None or callable(getattr(stopping, "should_stop", None)): return stopping
  raise TypeError(f"stopping={stopping!r}; use None, tb.MedianStopping(), tb.ASHA(...), tb.Hyperband(...), tb.ModelStopping(...) "
                  "or an object with should_stop(trial_id, step, value, history)")

def _int(name: str, v: Any, low: int) -> int:
  if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low: raise ValueError(f"{name}={v!r}; use an int >= {low}")
  return int(v)

# ***** median stopping *****

def first_in_interval(step: int, earlier_steps: Sequence[int], warmup_steps: int, interval: int) -> bool:
  """Whether `step` is the trial's first report at or past its latest checkpoint warmup_steps + k * interval (a checkpoint
  the trial skipped over is checked at its next report). Optuna's `_is_first_in_interval_step`."""
  checkpoint = (step - warmup_steps) // interval * interval + warmup_steps
  return max(earlier_steps, default=-1) < checkpoint

class MedianStopping:
  """Stop a trial whose best value so far is worse than the median of the complete trials' values at the same step
  (Golovin et al. 2017, as Optuna's MedianPruner: n_startup_trials = warmup_trials, n_warmup_steps = warmup_steps,
  interval_steps = interval). Nothing stops before `warmup_trials` trials are complete, at a step below `warmup_steps`,
  between checkpoints warmup_steps + k * interval, or at a step no complete trial reported. Stopped and failed trials
  never enter the median: they are the bad ones, and would lower the bar. `max_step`: the last step of a full run; a
  report at or past it gets no verdict, as in ASHA, so a trial that has spent its whole budget completes and its value
  enters the median (stopped there, it would leave the median to the trials better than it). None: any step, as Optuna."""
  def __init__(self, warmup_trials: int = 5, warmup_steps: int = 0, interval: int = 1, max_step: int | None = None):
    self.warmup_trials, self.warmup_steps = _int("warmup_trials", warmup_trials, 0), _int("warmup_steps", warmup_steps, 0)
    self.interval = _int("interval", interval, 1)
    self.max_step = None if max_step is None else _int("max_step", max_step, 1)
    if self.max_step is not None and self.max_step <= self.warmup_steps:
      raise ValueError(f"max_step={max_step!r} <= warmup_steps={warmup_steps!r}: no step to stop at; use max_step > warmup_steps")

  def should_stop(self, trial_id: int, step: int, value: float, history: History) -> bool:
    done = [i for i, s in history.states.items() if s == TrialState.COMPLETE and i != trial_id]
    if len(done) < max(1, self.warmup_trials) or step < self.warmup_steps: return False
    if self.max_step is not None and step >= self.max_step: return False
    curve = history.curves[trial_id]
    if not first_in_interval(step, [previous_step(curve)], self.warmup_steps, self.interval): return False
    at_step = [v for i in done if (v := value_at(history.curves.get(i, ()), step)) is not None]
    if not at_step: return False
    best = min(history.loss(r.value) for r in curve)
    return best > float(np.median([history.loss(v) for v in at_step]))

  def __repr__(self) -> str:
    return (f"MedianStopping(warmup_trials={self.warmup_trials}, warmup_steps={self.warmup_steps}, interval={self.interval}, "
            f"max_step={self.max_step})")

def previous_step(curve: Sequence[Report]) -> int:
  """The step of the report before the last one of `curve` (the report being judged), -1 when it is the first."""
  return curve[-2].step if len(curve) > 1 else -1

def value_at(curve: Sequence[Report], step: int) -> float | None:
  """The value reported at exactly `step`, or None."""
  k = bisect.bisect_left(curve, step, key=lambda r: r.step)
  return curve[k].value if k < len(curve) and curve[k].step == step else None

# ***** successive halving *****

def rung_steps(min_step: int, reduction_factor: int, max_step: int | None, up_to: int) -> Iterator[int]:
  """The rungs min_step * reduction_factor^k that are <= up_to and < max_step (a trial at max_step has spent its whole
  budget: it completes, it is never told to stop there)."""
  r = min_step
  while r <= up_to and (max_step is None or r < max_step):
    yield r
    r *= reduction_factor

def promotable(loss: float, competing: Sequence[float], reduction_factor: int, ascending: bool = False) -> bool:
  """Whether a trial with `loss` is in the top max(1, n // reduction_factor) of the n losses that reached its rung (its own
  included; ties continue). While fewer than reduction_factor trials reached the rung, only the best so far continues:
  a trial cannot wait for more to arrive. Optuna's `_is_trial_promotable_to_next_rung`. `ascending`: `competing` is
  sorted already (a replay keeps it so, rather than sort a growing list at every record)."""
  k = max(1, len(competing) // reduction_factor)
  return loss <= (competing if ascending else sorted(competing))[k - 1]

def rung_records(history: History, trial_id: int, rungs: Callable[[int], Iterable[int]], reduction_factor: int) -> dict[int, list[float]]:
  """The losses the other trials brought to each rung, replaying their reports in the order they were written (time,
  then id): a report records the trial's loss at each rung it crosses, lowest first, and a trial not promotable at a
  rung is recorded there and at no rung above it. Only promoted trials reach the next rung (Li et al.; Optuna's
  completed_rung_k): a trial stopped at rung 1 by a report at step 10 does not count at rungs 3 and 9."""
  events = sorted((r.time, i, r.step, r.value) for i, c in history.curves.items() if i != trial_id for r in c)
  records: dict[int, list[float]] = {}
  ranked: dict[int, list[float]] = {}   # each rung's records kept sorted: `promotable` on a growing list sorts it every time
  last: dict[int, int] = {}
  stopped: set[int] = set()
  for _, i, step, value in events:
    if i in stopped: continue
    before, last[i] = last.get(i, -1), step
    for rung in rungs(step):
      if rung <= before: continue
      records.setdefault(rung, []).append(loss := history.loss(value))
      bisect.insort(srt := ranked.setdefault(rung, []), loss)
      if not promotable(loss, srt, reduction_factor, ascending=True):
        stopped.add(i)
        break
  return records

class ASHA:
  """Asynchronous successive halving (Li et al. 2020). Rungs at min_step * reduction_factor^k below max_step; a trial
  continues past a rung only if its value there is in the top 1 / reduction_factor of the trials that reached that rung
  so far (see `promotable`). A trial's value at a rung is its first report at or past the rung's step, so a trial that
  reports every 5 epochs still meets every rung, and a report that crosses several rungs is judged at each, lowest
  first, against the trials promoted that far (`rung_records`); never on a report at or past max_step. Optuna's
  SuccessiveHalvingPruner(min_resource=min_step, reduction_factor, min_early_stopping_rate=0); Ray Tune's
  ASHAScheduler(grace_period=min_step, max_t=max_step, reduction_factor), which instead compares with an interpolated
  percentile of the other trials' values.
  `max_step`: the last step of a full run (no rung at or past it); None: rungs go on forever, as in Optuna.
  `keep_chance`: a trial that ASHA would stop at a rung keeps running while the strategy's learning-curve model (tb.GP,
  bound by the Optimizer as for ModelStopping) gives its value at the final step at least this probability of beating
  the incumbent. Where curves cross, a region whose early values look bad can be the one the model believes best at the
  end; plain ASHA stops every trial there at its first rung, the model never sees one finish, and the study keeps
  suggesting it (benchmarks/README.md, session 30). None (default): plain ASHA, no model, as Optuna and Ray Tune."""
  def __init__(self, min_step: int = 1, max_step: int | None = None, reduction_factor: int = 3, keep_chance: float | None = None):
    self.min_step, self.reduction_factor = _int("min_step", min_step, 1), _int("reduction_factor", reduction_factor, 2)
    self.max_step = None if max_step is None else _int("max_step", max_step, 1)
    if self.max_step is not None and self.max_step <= self.min_step:
      raise ValueError(f"max_step={max_step!r} <= min_step={min_step!r}: no rung to stop at; use max_step > min_step")
    self.keep_chance = None if keep_chance is None else _probability(
      "keep_chance", keep_chance, "0.5 (a trial the model believes more likely than not to win keeps running)")
    self.uses_model = self.keep_chance is not None   # the Optimizer binds the strategy's model to history.chance

  def rungs(self, up_to: int) -> list[int]:
    """The rung steps up to `up_to`."""
    return list(rung_steps(self.min_step, self.reduction_factor, self.max_step, up_to))

  def crossed(self, step: int, before: int) -> list[int]:
    """The rungs a report at `step` is judged at, the trial's previous report being at `before` (-1 for none): those
    above `before`; none at or past max_step (the whole budget is spent: the trial completes)."""
    if self.max_step is not None and step >= self.max_step: return []
    return [rung for rung in self.rungs(step) if rung > before]

  def may_ask(self, step: int, before: int) -> bool:
    """Whether a report at `step` (the trial's previous report at `before`, -1 for none) can ask the model: with
    keep_chance, when it crosses a rung. The Optimizer refits the model ahead only then (see ModelStopping)."""
    return self.keep_chance is not None and bool(self.crossed(step, before))

  def should_stop(self, trial_id: int, step: int, value: float, history: History) -> bool:
    crossed = self.crossed(step, previous_step(history.curves[trial_id]))
    if not crossed: return False   # every rung up to here was decided at an earlier report
    records = rung_records(history, trial_id, self.rungs, self.reduction_factor)
    loss = history.loss(value)
    stop = any(not promotable(loss, [*records.get(rung, []), loss], self.reduction_factor) for rung in crossed)
    return stop and not kept_by_model(self, trial_id, history)

  def __repr__(self) -> str:
    keep = "" if self.keep_chance is None else f", keep_chance={self.keep_chance}"
    return f"ASHA(min_step={self.min_step}, max_step={self.max_step}, reduction_factor={self.reduction_factor}{keep})"

def kept_by_model(rule: Any, trial_id: int, history: History) -> bool:
  """Whether the model overrules a stop: `rule.keep_chance` set and the model's probability that the trial ends better
  than the incumbent at least that. A model that cannot say yet (None: fewer than two finished curves) overrules nothing."""
  if rule.keep_chance is None: return False
  if history.chance is None:
    raise ValueError(f"{rule!r} needs the strategy's learning-curve model; use it through tb.Optimizer(strategy=tb.GP(), stopping=...) "
                     "or leave keep_chance out")
  p = history.chance(trial_id)
  return p is not None and p >= rule.keep_chance

def _probability(name: str, v: Any, example: str) -> float:
  if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0 < v < 1:
    raise ValueError(f"{name}={v!r}; use a probability in (0, 1), e.g. {example}")
  return float(v)

class Hyperband:
  """Hyperband (Li et al. 2018) as brackets of ASHA: bracket b stops trials at rungs min_step * reduction_factor^(b + k),
  b = 0 .. n - 1 with n = floor(log_rf(max_step / min_step)) + 1 (computed exactly, in integers), so the last bracket
  stops nothing, or only late. A trial competes only with the trials of its bracket. Brackets get trials in proportion
  to ceil(n * rf^s / (s + 1)), s = n - 1 - b, and a trial's bracket is a deterministic hash of the study name and its
  number in the study: Optuna's HyperbandPruner(min_resource=min_step, max_resource=max_step, reduction_factor).
  `keep_chance`: as ASHA's, in every bracket."""
  def __init__(self, min_step: int = 1, max_step: int | None = None, reduction_factor: int = 3, keep_chance: float | None = None):
    if max_step is None: raise ValueError("Hyperband needs max_step, the last step of a full run (e.g. the number of epochs)")
    self.min_step, self.reduction_factor = _int("min_step", min_step, 1), _int("reduction_factor", reduction_factor, 2)
    self.max_step = _int("max_step", max_step, 1)
    if self.max_step <= self.min_step:   # every bracket's first rung would be at or past max_step: nothing ever stops
      raise ValueError(f"max_step={max_step!r} <= min_step={min_step!r}: no rung to stop at; use max_step > min_step")
    firsts = []
    while not firsts or firsts[-1] * self.reduction_factor <= self.max_step:
      firsts.append(self.min_step * self.reduction_factor ** len(firsts))
    n = len(firsts)
    self.budgets = [math.ceil(n * self.reduction_factor ** (n - 1 - b) / (n - b)) for b in range(n)]
    # a bracket whose first rung is max_step has none below it: it runs every trial to the end (Hyperband's s = 0)
    self.brackets = [ASHA(f, self.max_step, self.reduction_factor, keep_chance) if f < self.max_step else None for f in firsts]
    self.keep_chance = self.brackets[0].keep_chance   # checked there: the first bracket always has rungs (min_step < max_step)
    self.uses_model = self.keep_chance is not None

  def may_ask(self, step: int, before: int) -> bool:
    """As ASHA's: every bracket's rungs are among the first bracket's (min_step * rf^k)."""
    return self.brackets[0].may_ask(step, before)

  def bracket(self, trial_id: int, history: History) -> int:
    """The bracket of a trial: crc32 of "<study name>_<trial number>" modulo the total budget, as Optuna does."""
    n = binascii.crc32(f"{history.name}_{history.number(trial_id)}".encode()) % sum(self.budgets)
    for b, budget in enumerate(self.budgets):
      n -= budget
      if n < 0: return b
    raise AssertionError("unreachable: n < sum(budgets)")

  def should_stop(self, trial_id: int, step: int, value: float, history: History) -> bool:
    b = self.bracket(trial_id, history)
    if self.brackets[b] is None: return False
    same = {i for i in history.curves if self.bracket(i, history) == b}
    return self.brackets[b].should_stop(trial_id, step, value, history.only(same))

  def __repr__(self) -> str:
    keep = "" if self.keep_chance is None else f", keep_chance={self.keep_chance}"
    return f"Hyperband(min_step={self.min_step}, max_step={self.max_step}, reduction_factor={self.reduction_factor}{keep})"

# ***** the strategy's own model *****

class ModelStopping:
  """Stop a trial when the strategy's learning-curve model (tb.GP, which models the value as a function of the
  configuration and the step) gives its value at the final step less than `threshold` probability of beating the
  incumbent: the best complete trial's final value (before any trial completed, the best final value it predicts for
  the stopped ones). Unlike a rule that compares values at one step, it reads each curve as the model extrapolates
  it, so a slow curve that ends best is kept. Checked at min_step + k * interval (a skipped checkpoint at the next
  report), never at or past `max_step` (the last step of a full run; None: the last step of the complete trials, the
  model's target step), and
  never before the model has two finished curves. Needs `Optimizer(strategy=tb.GP())`: the Optimizer binds the model
  to `history.chance`. Cost per checked report: one factorization and one posterior prediction; the hyperparameters are
  refitted only when a trial finishes (tb.GP.final_chance). Freeze-Thaw (Swersky et al. 2014) in spirit. The rule is
  only as good as the model's reading of a cut curve's final value: with `tb.GP(curves="additive")` (an asymptote plus a
  gap that vanishes at the last step) it reads it closer than with the default kernel and stops better
  (benchmarks/README.md, the synthetic curves)."""
  uses_model = True

  def __init__(self, min_step: int = 1, max_step: int | None = None, threshold: float = 0.2, interval: int = 1):
    self.min_step, self.interval = _int("min_step", min_step, 0), _int("interval", interval, 1)
    self.max_step = None if max_step is None else _int("max_step", max_step, 1)
    if self.max_step is not None and self.max_step <= self.min_step:
      raise ValueError(f"max_step={max_step!r} <= min_step={min_step!r}: no step to stop at; use max_step > min_step")
    self.threshold = _probability("threshold", threshold, "0.2 (stop below a 20% chance of beating the best)")

  def may_ask(self, step: int, before: int) -> bool:
    """Whether a report at `step` (the trial's previous report at `before`, -1 for none) can ask the model: at a
    checkpoint from min_step, below max_step (when given). The Optimizer refits the model's hyperparameters ahead of the
    report's write transaction only then, so that a report between checkpoints costs no read of the whole study; a
    refit the model needs anyway happens inside the transaction, the verdict the same."""
    if step < self.min_step or (self.max_step is not None and step >= self.max_step): return False
    return first_in_interval(step, [before], self.min_step, self.interval)

  def should_stop(self, trial_id: int, step: int, value: float, history: History) -> bool:
    if history.chance is None:
      raise ValueError(f"{self!r} needs the strategy's learning-curve model; use it through tb.Optimizer(strategy=tb.GP(), stopping=...)")
    # a full run's last step: max_step, or else the step the complete trials ended at (the model's target step)
    complete = (c[-1].step for i, c in history.curves.items() if i != trial_id and c and history.states.get(i) == TrialState.COMPLETE)
    last = self.max_step if self.max_step is not None else max(complete, default=None)
    if not self.may_ask(step, previous_step(history.curves[trial_id])) or (last is not None and step >= last): return False
    p = history.chance(trial_id)
    return p is not None and p < self.threshold

  def __repr__(self) -> str:
    return f"ModelStopping(min_step={self.min_step}, max_step={self.max_step}, threshold={self.threshold}, interval={self.interval})"
