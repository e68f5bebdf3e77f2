"""The ask/tell shell: `suggest` gives the next configuration(s) to try, `observe` records a result, nothing else.

    opt = tb.Optimizer(space, strategy="gp", storage="study.db")
    trial = opt.suggest()              # "give me the next configuration" (as in Ray Tune's Searcher.suggest)
    opt.observe(trial, train(**trial.params))

All model fitting happens lazily inside the strategy's suggest; observe only writes the result to storage. The trials
are re-read from storage on every call, so several processes sharing one SQLite study see each other's pending and
finished trials, and a study reopened after a crash continues where it stopped.

Early stopping: `opt.report(trial, value, step)` records an intermediate value and returns True when the stopping rule
(`stopping=tb.ASHA(...)`, see tinybo/stopping.py) says the trial is hopeless; `opt.stop(trial)` then ends it as STOPPED
with its last reported value. Inside optimize(), an objective with a second positional parameter without a default gets a TrialHandle that
does the same.
A rule that needs the strategy's model (tb.ModelStopping) gets it bound into its History (`chance`, tb.GP.final_chance).
Holds: Optimizer, TrialHandle, resolve_strategy, takes_reports, has_curve_model, best_of, left_by_dead_processes, TrialFailedWarning.
Imports: bo (tb.GP), stopping, strategies, space, storage, terminate (SIGTERM), threads (ObjectiveTurns), trial.
"""
from __future__ import annotations

import inspect
import math
import numbers
import os
import socket
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Literal, overload

from tinybo.bo import GP
from tinybo.space import Space, copied_constant
from tinybo.stopping import History, StoppingRule, StopTrial, check_stopping
from tinybo.storage import Storage, StorageBusyError, check_requeue, finished_state, new_seed, open_storage
from tinybo.strategies import Grid, Random, SearchExhausted, Strategy
from tinybo.terminate import sigterm_as_interrupt
from tinybo.threads import ObjectiveTurns
from tinybo.trial import Report, Trial, TrialState


class TrialFailedWarning(UserWarning):
  """A trial was recorded as failed: the objective raised, or returned NaN/inf/a non-number."""

def as_value(value: Any, verb: str = "observe") -> float:
  """An objective's result (verb "observe") or an intermediate value (verb "report") -> float. Accepts Python/numpy numbers
  and one-element arrays/tinygrad Tensors (via .item()); raises TypeError for anything else. NaN/inf pass through, and a
  number too large for a float (an int such as 3**2000) becomes ±inf: the caller records those as failed trials."""
  what, other = ("objective value", ", or call fail(trial)") if verb == "observe" else ("reported value", "")
  if value is None or isinstance(value, (bool, str, bytes)) or not (isinstance(value, numbers.Real) or hasattr(value, "item")):
    raise TypeError(f"{what} {value!r} is a {type(value).__name__}, not a number; {verb} a float (e.g. loss.item()){other}")
  if not isinstance(value, numbers.Real):
    if math.prod(getattr(value, "shape", ())) != 1:
      raise TypeError(f"{what} has shape {tuple(value.shape)}; {verb} a single number, e.g. loss.mean().item()")
    v = value.item()
    if isinstance(v, bool) or not isinstance(v, numbers.Real): raise TypeError(f"{what} {v!r} is not a real number; {verb} a float")
    value = v
  try: return float(value)
  except OverflowError: return math.inf if value > 0 else -math.inf

def raised(e: BaseException) -> str:
  """An objective's exception in one line, with where it was raised: 'ValueError: bad lr (at /src/train.py:12 in objective)'.
  The innermost frame of its traceback: the warning is all a user of optimize() sees of a failed trial (the exception is
  caught), and the type and message alone did not say which line of a long objective raised. Line breaks of a message
  become ' | ': a warning stays one line."""
  msg = " | ".join(line for line in str(e).splitlines() if line.strip())
  frames = traceback.extract_tb(e.__traceback__)
  at = f" (at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
  return f"{type(e).__name__}{': ' + msg if msg else ''}{at}"

def _shown(value: Any, v: float) -> str:
  """How a non-finite result is named in a warning (a 3**2000 is not printed digit by digit)."""
  if math.isfinite(v) or not isinstance(value, numbers.Integral): return str(v)
  return f"an int of {int(value).bit_length()} bits (too large for a float)"

def as_step(step: Any) -> int:
  """A report's step -> int: an int in [0, 2**63) (numpy ints too); anything else raises naming the fix."""
  if isinstance(step, bool) or not isinstance(step, numbers.Integral):
    raise TypeError(f"step={step!r} is a {type(step).__name__}; use an int >= 0 (an epoch or iteration count)")
  if step < 0: raise ValueError(f"step={step!r}; use an int >= 0 (an epoch or iteration count)")
  if step >= 2**63: raise ValueError(f"step={step!r}; use an int in [0, 2**63) (a SQLite study stores it as a 64-bit integer)")
  return int(step)

def seconds(v: numbers.Real) -> float:
  """A checked number of seconds (>= 0) -> float; an int too large for a float is inf (forever), not an OverflowError."""
  try: return float(v)
  except OverflowError: return math.inf

def takes_trial(objective: Callable) -> bool:
  """Whether optimize() passes a TrialHandle: the objective requires a second positional argument, `objective(params, trial)`."""
  try: sig = inspect.signature(objective)
  except (TypeError, ValueError): return False   # a builtin without a signature: the classic objective(params)
  pos = [p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
  return len(pos) >= 2 and pos[1].default is inspect.Parameter.empty

class TrialHandle:
  """What an objective `objective(params, trial)` gets from optimize() as `trial`: its `id` and `params`, and
  `report(value, step) -> bool` / `should_stop() -> bool` (Optimizer.report / should_stop for this trial). When told to
  stop, raise tb.StopTrial: the trial is recorded as stopped, with its last reported value."""
  def __init__(self, optimizer: Optimizer, trial: Trial):
    self.id, self.params = trial.id, dict(trial.params)
    self._optimizer = optimizer
    self.failed = False  # a NaN or inf report failed the trial: whatever the objective returns afterwards is not recorded

  def report(self, value: Any, step: int) -> bool:
    t, stop = self._optimizer._report(self.id, value, step)
    self.failed = t.state == TrialState.FAILED
    return stop

  def should_stop(self) -> bool: return self._optimizer.should_stop(self.id)

  def __repr__(self) -> str: return f"TrialHandle(id={self.id}, params={self.params})"

def resolve_strategy(strategy: str | Strategy) -> Strategy:
  """'gp' | 'random' | 'grid' | a strategy object -> a strategy object."""
  if isinstance(strategy, str):
    make = {"gp": GP, "random": Random, "grid": Grid}.get(strategy.lower())
    if make is None: raise ValueError(f"unknown strategy {strategy!r}; use 'gp', 'random', 'grid' or a strategy object such as tb.Random()")
    return make()
  if isinstance(strategy, type):   # its suggest is unbound: the first suggestion failed on a missing argument
    raise TypeError(f"strategy={strategy.__name__} is a class; pass an instance, e.g. strategy={strategy.__name__}()")
  if callable(getattr(strategy, "suggest", None)): return strategy
  raise TypeError(f"strategy {strategy!r} has no suggest(space, trials, n, *, seed, minimize) method; pass 'gp', 'random', 'grid' or a strategy")

def takes_reports(strategy: Strategy) -> bool:
  """Whether a strategy's suggest declares a `reports` keyword (tb.GP does): only those get the study's learning curves,
  so Random, Grid and user strategies keep the plain protocol."""
  try: return "reports" in inspect.signature(strategy.suggest).parameters
  except (TypeError, ValueError): return False

def has_curve_model(strategy: Strategy) -> bool:
  """Whether a strategy can say how likely a running trial is to beat the incumbent at the final step (tb.GP with curves)."""
  return all(callable(getattr(strategy, m, None)) for m in ("final_chance", "chance_model")) and getattr(strategy, "curves", "auto") is not False

def best_of(trials: list[Trial], minimize: bool) -> Trial | None:
  """The best complete trial among `trials` (earliest on ties; None without one): `Optimizer.best` on a list already
  read, so a caller showing that list names a best that is in it (a worker may finish another trial between two reads)."""
  done = [t for t in trials if t.state == TrialState.COMPLETE]
  return min(done, key=lambda t: (t.value if minimize else -t.value, t.id)) if done else None

RUNS_HERE = "optimize/"   # marks the worker of a trial that its own process runs (optimize), before the thread's name

def worker_id(runs_it: bool = False) -> str:
  """host:pid:thread of the caller; with `runs_it` (optimize's trials: the objective runs in this process) the thread
  part starts with RUNS_HERE, so that a trial whose process died is known to have died with it (`left_by_dead_processes`)."""
  return f"{socket.gethostname()}:{os.getpid()}:{RUNS_HERE if runs_it else ''}{threading.current_thread().name}"

def pid_alive(pid: int) -> bool:
  """Whether a process with this pid exists on this host (signal 0 checks without sending anything; POSIX)."""
  try: os.kill(pid, 0)
  except ProcessLookupError: return False
  except PermissionError: return True   # another user's process
  return True

def left_by_dead_processes(trials: list[Trial], host: str) -> list[Trial]:
  """The pending trials that optimize() in a process of this host took (`worker_id(runs_it=True)`) and whose process no
  longer exists: it was killed (SIGKILL, the OOM killer) mid-run, and the run with it. A trial an ask/tell loop took is
  not one: its process may have handed it to another (a scheduler that submits jobs and exits). POSIX only: Windows has
  no signal 0 (os.kill(pid, 0) would send Ctrl-C). A reused pid reads as alive, so a dead worker's trial may be missed,
  never a live one's taken (but for another host's processes under the same host name, e.g. containers on the host
  network with their own pid namespaces)."""
  if os.name != "posix": return []
  out = []
  for t in trials:
    parts = (t.worker or "").split(":", 2)
    if t.state == TrialState.PENDING and len(parts) == 3 and parts[0] == host and parts[1].isdigit() and parts[2].startswith(RUNS_HERE) \
       and int(parts[1]) != os.getpid() and not pid_alive(int(parts[1])): out.append(t)
  return out

class Optimizer:
  """A study: a space, a strategy and a storage. `suggest()` -> Trial, `suggest(4)` -> list[Trial] (a batch, all
  distinct and pending), `observe(trial, value)`, `fail(trial)`, `best`, `recommend()`, `trials`, `optimize(objective, ...)`;
  after a crash: `fail_pending()` fails the dead workers' pending trials in one go, `requeue(trial)` runs one again.

  strategy: "gp" (default), "random", "grid", or an object such as tb.Random(seed=1), tb.Grid(points_per_float=5), tb.GP().
  storage: None (in memory), a SQLite path such as "study.db", or a storage object. Reopening the same (storage, name)
  resumes every trial; a different space or direction is an error.
  stopping: None (default: every trial runs to the end) or a stopping rule, tb.MedianStopping(), tb.ASHA(...),
  tb.Hyperband(...), tb.ModelStopping(...) (needs strategy tb.GP()), that report() asks on every intermediate value.
  seed: an int, or None for a random one. The study records its seed: reopening it with seed=None continues with the
  recorded seed (so a resumed study goes on the same way), and reopening it with another int is an error.
  Two Optimizers on the same (storage, name), in one process or many, are the same study; a Trial from another
  study passed to observe/fail/requeue is an error."""
  def __init__(self, space: Space | Mapping[str, Any], strategy: str | Strategy = "gp", direction: str = "minimize", seed: int | None = 0,
               storage: None | str | os.PathLike | Storage = None, name: str = "study", stopping: StoppingRule | None = None):
    self.space = space if isinstance(space, Space) else Space(space)
    if direction not in ("minimize", "maximize"): raise ValueError(f"direction={direction!r}; use 'minimize' or 'maximize'")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not -2**63 <= seed < 2**63):
      raise TypeError(f"seed={seed!r}; use an int (within ±2**63), or None for a random seed recorded in the study")
    if not isinstance(name, str) or not name: raise ValueError(f"name={name!r}; use a non-empty string naming the study")
    if isinstance(strategy, type):  # tb.GP instead of tb.GP(): the class has a suggest attribute too, but no state
      raise TypeError(f"strategy={strategy.__name__} is a class; pass an instance such as {strategy.__name__}()")
    self.strategy, self.direction, self.name = resolve_strategy(strategy), direction, name
    self.stopping = check_stopping(stopping)
    if getattr(self.stopping, "uses_model", False) and not has_curve_model(self.strategy):
      raise ValueError(f"stopping={self.stopping!r} needs a strategy with a learning-curve model, not {self.strategy!r}; "
                       "use strategy=tb.GP() (curves='auto', the default)")
    self._pass_reports = takes_reports(self.strategy)
    self.storage = open_storage(storage)
    recorded = self.storage.open_study(name, self.space.to_json(), direction, None if seed is None else int(seed))
    self.seed: int = int(recorded if recorded is not None else seed if seed is not None else new_seed())  # None: a storage that keeps no seed
    where = getattr(self.storage, "location", None) or f"{type(self.storage).__name__}@{id(self.storage):#x}"
    self.study: str = f"'{name}' in {where}"   # what every Trial this optimizer returns carries in .study
    self._lock = threading.RLock()  # one suggestion at a time: strategies need not be thread-safe (re-entrant: threads.ObjectiveTurns)
    self._dead_checked = False   # whether this Optimizer has requeued the trials of killed processes yet (`_requeue_dead`)

  @property
  def minimize(self) -> bool: return self.direction == "minimize"

  # storage keeps only the searched values; constants (which may not be JSON) come back from the space, a list or dict
  # of plain values as a copy of the trial's own (space.copied_constant): editing it in place changes no other record
  def _full(self, t: Trial) -> Trial:
    c = self.space.constants
    t.params = {k: copied_constant(c[k]) if k in c else t.params[k] for k in self.space.order if k in t.params or k in c}
    t.study = self.study
    return t
  def _stored(self, params: Mapping[str, Any]) -> dict:
    p = self.space.validate(params)
    return {k: p[k] for k in self.space.names if k in p}  # inactive conditional parameters are absent

  @property
  def trials(self) -> list[Trial]:
    """Every trial (pending, complete, failed, stopped) by id, freshly read from storage."""
    return [self._full(t) for t in self.storage.trials(self.name)]

  @property
  def curves(self) -> dict[int, list[Report]]:
    """Every trial's reports, {trial id: [Report(step, value, stop, time), ...]} by step; trials that never reported are absent."""
    return self.storage.reports(self.name)

  @property
  def best(self) -> Trial | None:
    """The best complete trial for the direction (earliest on ties), or None before the first result. Stopped trials
    never count: their values are at an earlier step than the complete trials' (Optuna's best ignores pruned trials too)."""
    return best_of(self.trials, self.minimize)

  @overload
  def recommend(self, observed: Literal[True] = True) -> Trial | None: ...
  @overload
  def recommend(self, observed: Literal[False]) -> dict[str, Any] | None: ...
  def recommend(self, observed: bool = True) -> Trial | dict[str, Any] | None:
    """The complete trial the strategy's model believes best, for a noisy objective the one to deploy: with the GP
    strategy the best posterior mean among the complete trials (tb.GP.recommend), which one lucky draw does not fool;
    with a strategy that has no model (random, grid), `best`. None before the first result. `best` stays the best observed.
    observed=False: the configuration (a params dict) with the best posterior mean anywhere in the space, perhaps never
    evaluated (tb.GP.recommend_anywhere; to measure it, `enqueue` it); the recommended trial's params where the model
    has nothing better or the data test deterministic, and without a model."""
    if not isinstance(observed, bool): raise ValueError(f"recommend(observed={observed!r}): use True (a trial) or False (a configuration anywhere)")
    if not observed:
      anywhere = getattr(self.strategy, "recommend_anywhere", None)
      if anywhere is None:
        t = self.recommend()
        return None if t is None else dict(t.params)
      with self._lock: return anywhere(self.space, self.trials, seed=self.seed, minimize=self.minimize)
    rec = getattr(self.strategy, "recommend", None)
    if rec is None: return self.best
    trials = self.trials
    with self._lock: i = rec(self.space, trials, seed=self.seed, minimize=self.minimize)
    return None if i is None else trials[i]

  def suggest(self, n: int | None = None) -> Trial | list[Trial]:
    """Give me the next configuration: n=None -> one pending Trial, n=k -> a list of k pending Trials, distinct from the
    built-in strategies (fewer only when a finite space runs out; a user's strategy is stored as it proposes, repeats
    included). Queued trials (enqueue/requeue, from any process) come first, then the strategy's proposals. Raises
    SearchExhausted when nothing new is left."""
    if n is not None and (isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1):
      raise ValueError(f"suggest(n={n!r}); use None or an int >= 1")
    return self._suggest(n, worker_id())

  def _suggest(self, n: int | None, me: str) -> Trial | list[Trial]:
    """suggest(n) for the worker `me` (optimize's workers mark theirs: `worker_id(runs_it=True)`)."""
    k = 1 if n is None else int(n)
    if not self._dead_checked: self._requeue_dead()
    def propose(trials: list[Trial]) -> list[dict]:
      curves = {"reports": self.storage.reports(self.name)} if self._pass_reports else {}
      ps = self.strategy.suggest(self.space, [self._full(t) for t in trials], k, seed=self.seed, minimize=self.minimize, **curves)
      name = type(self.strategy).__name__
      if not isinstance(ps, (list, tuple)):  # None (a user strategy that forgot to return) would look like an exhausted search
        raise TypeError(f"strategy {name}.suggest returned {ps!r:.120} ({type(ps).__name__}); return a list of params dicts, "
                        "or raise tb.SearchExhausted when nothing is left")
      if not ps: raise SearchExhausted(f"strategy {name} has nothing left to suggest; widen the space or use another strategy")
      out = []
      for p in ps[:k]:
        try: out.append(self._stored(p))
        except (TypeError, ValueError) as e:
          kind = TypeError if isinstance(e, TypeError) else ValueError
          raise kind(f"strategy {name} suggested {p!r:.200}, which does not fit the space: {e}") from None
      return out
    since, out = time.time(), []
    with self._lock:
      try:
        out = self.storage.claim(self.name, k, me)
        if len(out) < k:
          k -= len(out)
          try: out += self.storage.reserve(self.name, propose, me)
          except SearchExhausted:
            if not out: raise
        out = [self._full(t) for t in out]
      except SearchExhausted: raise
      except BaseException as e:   # a crashing strategy, Ctrl-C in a GP fit or just after a write committed
        self._release_taken(me, since, out, isinstance(e, KeyboardInterrupt))
        raise
    return out[0] if n is None else out

  def _release_taken(self, worker: str, since: float, held: list[Trial], interrupted: bool) -> None:
    """Hand back to the queue the trials a suggest() that raised took: else they stay pending with this worker for good
    (claimed queued trials would never be handed out again, a proposal never run). After Ctrl-C, found by worker and
    time, not by what the call `held`: Ctrl-C during a write's COMMIT (its fsync) is raised after the commit, and the
    trials the write returned are lost. Only then: a signal lands in the main thread, whose worker id no other thread has."""
    release = getattr(self.storage, "release", None)
    if not callable(release): return
    ids = [t.id for t in held]
    if interrupted:
      ids = [t.id for t in self.storage.trials(self.name) if t.state == TrialState.PENDING and t.worker == worker and t.created >= since]
    if ids: release(self.name, ids, worker)

  def enqueue(self, params: Mapping[str, Any]) -> Trial:
    """Queue a configuration: the next suggest() from any process sharing the study hands it out before asking the
    strategy. Returns the queued (pending, worker None) trial."""
    return self._full(self.storage.add(self.name, self._stored(params), TrialState.PENDING, None, None))

  def requeue(self, trial: Trial | int) -> Trial:
    """Run a pending or failed trial again (e.g. one left by a dead worker): a pending one is failed first, then its
    configuration is queued as a new trial, which is returned. A complete or stopped trial is an error. Requeueing a
    failed trial whose configuration a later trial already holds (an earlier requeue, queued, running or finished)
    returns that trial instead of queueing another copy, so two processes recovering from one crash run it once."""
    tid = self._id(trial)
    if callable(getattr(self.storage, "requeue", None)): return self._full(self.storage.requeue(self.name, tid))
    # a storage object without requeue: the same rules, in steps (two processes requeueing at once may queue two copies)
    old = self._lookup(tid)
    again = check_requeue(self.name, old, tid, lambda: self.storage.trials(self.name))
    if again is not None: return self._full(again)
    if old.state == TrialState.PENDING: self.storage.finish(self.name, tid, TrialState.FAILED, None)
    return self.enqueue(self._full(old).params)

  def _lookup(self, trial_id: int) -> Trial | None:
    """One trial as stored (None: not in the study): read alone where the storage can (should_stop every epoch of a
    5,000-trial study must not read 5,000 trials), by a scan of every trial for a storage object without `trial`."""
    one = getattr(self.storage, "trial", None)
    if callable(one): return one(self.name, trial_id)
    return next((t for t in self.storage.trials(self.name) if t.id == trial_id), None)

  def _id(self, trial: Trial | int, params_too: bool = False) -> int:
    if isinstance(trial, Trial):
      if trial.study is not None and trial.study != self.study:
        raise ValueError(f"trial {trial.id} belongs to study {trial.study}, not to this optimizer's study {self.study}; record it with the "
                         "optimizer that suggested it, or pass its params dict to add it here")
      return trial.id
    if isinstance(trial, numbers.Integral) and not isinstance(trial, bool):
      if not -2**63 <= trial < 2**63:   # no storage holds such an id (SQLite's are 64-bit): the error fail() gives for any unknown id
        raise ValueError(f"no trial {trial} in study '{self.name}'; use a trial from suggest() (observe also takes a params dict, "
                         "for an outside result)")
      return int(trial)
    raise TypeError(f"{trial!r} is not a Trial or trial id; pass the Trial from suggest() or its .id" + (", or a params dict" if params_too else ""))

  def observe(self, trial: Trial | int | Mapping[str, Any], value: Any) -> Trial:
    """Record a result. `trial` is a Trial from suggest(), its id, or a params dict (a result from elsewhere: a new
    complete trial, e.g. to warm-start). NaN/inf values record a failed trial with a warning; a non-number raises
    TypeError and changes nothing."""
    v = as_value(value)
    state = TrialState.COMPLETE if math.isfinite(v) else TrialState.FAILED
    stored = v if state == TrialState.COMPLETE else None
    try:
      if isinstance(trial, Mapping): t = self.storage.add(self.name, self._stored(trial), state, stored, worker_id())
      else: t = self.storage.finish(self.name, self._id(trial, params_too=True), state, stored)
    except StorageBusyError as e:   # the caller holds the only copy of the result: say which, and that it is not stored
      what = f"the configuration {dict(trial)!r:.200}" if isinstance(trial, Mapping) else f"trial {trial.id if isinstance(trial, Trial) else trial}"
      raise StorageBusyError(f"{e}; the value {_shown(value, v)} of {what} was not recorded: call observe() with it again once the "
                             "file is free") from e
    if state == TrialState.FAILED:
      warnings.warn(f"trial {t.id} returned {_shown(value, v)}; recorded as failed, never fed to the model", TrialFailedWarning, stacklevel=2)
    return self._full(t)

  # ***** early stopping *****

  def _pending_id(self, trial: Trial | int, verb: str) -> int:
    if isinstance(trial, Mapping): raise TypeError(f"{verb} needs a pending trial from suggest() or its id, not a params dict")
    return self._id(trial)

  def _report(self, trial: Trial | int, value: Any, step: Any) -> tuple[Trial, bool]:
    tid, v, s = self._pending_id(trial, "report"), as_value(value, "report"), as_step(step)
    rule = self.stopping
    uses_model = getattr(rule, "uses_model", False)
    def decide(states: dict[int, TrialState], curves: dict[int, list[Report]]) -> bool:
      def chance(i: int) -> float | None:   # the strategy's model, on the trials as this transaction sees them
        trials = [self._full(t) for t in self.storage.trials(self.name)]
        return self.strategy.final_chance(self.space, trials, curves, i, seed=self.seed, minimize=self.minimize)
      return bool(rule.should_stop(tid, s, v, History(self.name, self.minimize, states, curves, chance if uses_model else None)))
    if uses_model:   # the strategy is not thread-safe: one model use at a time, suggest's lock first (the same order as suggest)
      with self._lock:
        # the hyperparameters are refitted when a trial has finished: here, outside the write transaction, so a refit
        # (a second or more) never holds the study's lock; inside it, final_chance finds them cached (same finished curves).
        # Only for a report that can ask the model (rule.may_ask): the others would read the whole study for nothing
        if self._may_ask_model(rule, tid, s):
          self.strategy.chance_model(self.space, [self._full(t) for t in self.storage.trials(self.name)], self.storage.reports(self.name),
                                     seed=self.seed, minimize=self.minimize)
        t, stop = self.storage.report(self.name, tid, s, v, decide)
    else: t, stop = self.storage.report(self.name, tid, s, v, None if rule is None else decide)
    if t.state == TrialState.FAILED:
      warnings.warn(f"trial {t.id} reported {v} at step {s}; recorded as failed, never fed to the model", TrialFailedWarning, stacklevel=3)
    return self._full(t), stop

  def _may_ask_model(self, rule: Any, trial_id: int, step: int) -> bool:
    """Whether the report of `trial_id` at `step` can ask the strategy's model (rule.may_ask, with the trial's last step so
    far; True for a rule without may_ask)."""
    may_ask = getattr(rule, "may_ask", None)
    if not callable(may_ask): return True
    last = self._last_report(trial_id)
    return bool(may_ask(step, -1 if last is None else last.step))

  def _last_report(self, trial_id: int) -> Report | None:
    """The trial's last report, read alone where the storage can (a storage object without last_report: its curve)."""
    last_report = getattr(self.storage, "last_report", None)
    if callable(last_report): return last_report(self.name, trial_id)
    return (self.storage.reports(self.name, trial_id).get(trial_id) or [None])[-1]

  def report(self, trial: Trial | int, value: Any, step: int) -> bool:
    """Record an intermediate value of a pending trial (a Trial from suggest() or its id) at `step`, an int >= 0 that
    grows from report to report (an epoch, an iteration), and return whether the trial should stop: the stopping rule's
    verdict, False without one. Once True it stays True. End a stopped trial with stop(trial), a finished one with
    observe(trial, value). A NaN or inf value fails the trial (with a warning) and returns True. Reporting to an unknown
    or finished trial, at a step that does not grow, or a non-number is a one-line error that records nothing."""
    return self._report(trial, value, step)[1]

  def should_stop(self, trial: Trial | int) -> bool:
    """The stopping rule's verdict on the trial's last report (what report() returned); False before any report. True
    once the trial has failed (a NaN or inf report fails it, and report() said stop) or was stopped (stop(), from any
    process: a supervisor's): its run has nothing left to do."""
    tid = self._pending_id(trial, "should_stop")
    t = self._lookup(tid)
    if t is None: raise ValueError(f"no trial {tid} in study '{self.name}'; use a trial from suggest()")
    if t.state in (TrialState.FAILED, TrialState.STOPPED): return True
    last = self._last_report(tid)
    return bool(last and last.stop)

  def stop(self, trial: Trial | int) -> Trial:
    """End a pending trial early (a stopping rule said so, or you did): it becomes STOPPED with its last reported value
    and step. It needs at least one report; stopped trials never count for `best`, and are never suggested again. A
    failed trial (a NaN or inf report fails it, and report() then returns True) stays failed: it is returned unchanged."""
    return self._full(self.storage.stop(self.name, self._pending_id(trial, "stop")))

  def fail(self, trial: Trial | int) -> Trial:
    """Record a trial as failed (its run crashed). Failing a failed trial does nothing; a complete or stopped one is an error."""
    return self._full(self.storage.finish(self.name, self._id(trial), TrialState.FAILED, None))

  def _requeue_dead(self) -> None:
    """Fail and queue again the trials that optimize() in a killed process of this host left pending
    (`left_by_dead_processes`), so that they run first, as after Ctrl-C (the process got no chance to): at the first
    suggest() of this Optimizer (a resumed script) and at the start of each optimize()."""
    self._dead_checked = True
    for t in left_by_dead_processes(self.trials, socket.gethostname()):
      copy = self._ended_elsewhere(t, lambda t=t: self._interrupted(t), None)
      if copy.id == t.id: continue   # another process finished it meanwhile
      warnings.warn(f"trial {t.id} was left pending by process {t.worker.split(':')[1]} of this host, which has ended (killed: SIGKILL, "
                    f"the OOM killer?); it is failed and queued again as trial {copy.id}", TrialFailedWarning, stacklevel=3)

  def _interrupted(self, trial: Trial) -> Trial:
    """A run Ctrl-C cut short: failed (it did not finish) and its configuration queued again, so that a resumed study
    runs it first. Failed alone, the GP would take the configuration it believed best for a bad one (a failure that a
    later trial runs again tells nothing: strategies.History). Returns the queued copy."""
    return self.requeue(trial)

  def _withdraw(self, copy: Trial) -> None:
    """An interrupted run returned its result after all: its queued copy (`_interrupted`) is dropped unless a worker took it."""
    withdraw = getattr(self.storage, "withdraw", None)
    if callable(withdraw): withdraw(self.name, [copy.id])

  def fail_pending(self, older_than: float | None = None) -> list[Trial]:
    """Fail, in one go, every pending trial a worker took (or only those it took more than `older_than` seconds ago):
    the trials left behind by workers that died. Queued trials (enqueue, requeue) no worker took yet are left to the
    next suggest(). Call it when no other worker is running, or pass older_than. Returns them."""
    if older_than is not None and (isinstance(older_than, bool) or not (isinstance(older_than, numbers.Real) and older_than >= 0)):
      raise ValueError(f"older_than={older_than!r}; use seconds >= 0 or None")
    before = None if older_than is None else time.time() - seconds(older_than)
    return [self._full(t) for t in self.storage.fail_pending(self.name, before)]

  def _ended_elsewhere(self, trial: Trial, write: Callable[[], Trial], dropped: str | None) -> Trial:
    """write() records a run's outcome. When another process ended the trial while it ran (a supervisor's stop(), an
    observe()), write() raises and that record stands: returned, with a warning naming what is `dropped` (None: nothing
    is lost), instead of an error that would end optimize() and leave the other runs behind."""
    try: return write()
    except ValueError:
      t = self._lookup(trial.id)
      if t is None or t.state not in (TrialState.COMPLETE, TrialState.STOPPED): raise
    if dropped is not None:
      warnings.warn(f"trial {t.id} was ended elsewhere as {finished_state(t)} while its objective ran; {dropped} is not recorded",
                    TrialFailedWarning, stacklevel=4)
    return self._full(t)

  def _end_stopped(self, trial: Trial, handle: TrialHandle | None) -> Trial:
    """The objective raised StopTrial: stopped at its last report; failed when it never reported (or a report failed it)."""
    if handle is not None and handle.failed: return self._full(self._lookup(trial.id))
    if not self.storage.reports(self.name, trial.id):
      return self._ended_elsewhere(trial, lambda: self._fail_warned(trial, "raised StopTrial before any report"), None)
    return self._ended_elsewhere(trial, lambda: self.stop(trial), None)

  def _fail_warned(self, trial: Trial, why: str) -> Trial:
    t = self.fail(trial)
    warnings.warn(f"trial {trial.id} {why}; recorded as failed", TrialFailedWarning, stacklevel=5)
    return t

  def _run_one(self, objective: Callable[..., Any], trial: Trial, with_handle: bool = False,
               returned: Callable[[], None] = lambda: None) -> Trial:
    """objective(params) (or objective(params, handle)) recorded on the trial; `returned()` is called as soon as the
    objective has returned or raised."""
    handle = TrialHandle(self, trial) if with_handle else None
    try: value = objective(dict(trial.params), handle) if handle is not None else objective(dict(trial.params))
    except StopTrial:
      returned()
      return self._end_stopped(trial, handle)
    except Exception as e:
      returned()
      err = raised(e)
      return self._ended_elsewhere(trial, lambda: self._fail_warned(trial, f"failed: {err}"), f"its error ({err})")
    except BaseException as e:
      returned()
      # Ctrl-C: never left pending for good; failed, and run again by the next suggest() (`_interrupted`)
      end = self._interrupted if isinstance(e, KeyboardInterrupt) else self.fail
      self._ended_elsewhere(trial, lambda: end(trial), None)
      raise
    returned()
    if handle is not None and handle.failed: return self._end_stopped(trial, handle)  # a NaN report failed it: keep it failed
    try: return self._ended_elsewhere(trial, lambda: self.observe(trial, value), f"its result {value!r:.80}")
    except TypeError as e:
      return self._fail_warned(trial, str(e))

  def optimize(self, objective: Callable[..., Any], n_trials: int = 50, timeout: float | None = None, n_jobs: int = 1,
               progress: bool = True) -> Trial | None:
    """Run `objective(params) -> float` for n_trials new trials (n_jobs threads at once, each suggestion aware of the
    others' pending trials). An exception or non-finite value fails that trial with a warning (an exception's type,
    message and the file:line that raised it) and the run goes on. `timeout` (seconds) starts no new trial after it and
    lets running ones finish: it cannot stop an objective that hangs (Python cannot kill a thread), so
    bound each run inside the objective. Ctrl-C (and SIGTERM, as tb.Terminated, while no other handler is installed: a
    scheduler preempting the job) fails every running trial, queues its configuration again (the next
    suggest(), in any process, runs it first; fail() the queued copy to drop it) and re-raises; a thread whose objective
    still returns afterwards records its result, and its queued copy is withdrawn unless a worker took it. First, the
    trials that optimize() in a killed process of this host left pending (`left_by_dead_processes`) are failed and
    queued the same way (the first suggest() of an Optimizer does it too). Returns `best`.
    An objective with a second parameter, `objective(params, trial)`, gets a TrialHandle: `trial.report(value, step)`
    returns True when the stopping rule says stop; raising tb.StopTrial then ends the trial as stopped."""
    if not callable(objective):
      raise TypeError(f"objective={objective!r} is not callable; pass a function objective(params) -> float (or objective(params, trial))")
    if inspect.iscoroutinefunction(objective) or inspect.iscoroutinefunction(type(objective).__call__):   # an async def, or its __call__
      raise TypeError(f"objective={objective!r} is an async function; optimize() calls it from plain threads: pass a plain function, "
                      "e.g. lambda params: asyncio.run(objective(params))")
    if isinstance(n_trials, bool) or not isinstance(n_trials, numbers.Integral) or n_trials < 0:
      raise ValueError(f"n_trials={n_trials!r}; use an int >= 0")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs < 1: raise ValueError(f"n_jobs={n_jobs!r}; use an int >= 1")
    if timeout is not None and (isinstance(timeout, bool) or not (isinstance(timeout, numbers.Real) and timeout >= 0)):
      raise ValueError(f"timeout={timeout!r}; use seconds >= 0 or None")
    from tqdm.auto import tqdm
    with_handle = takes_trial(objective)
    if self.stopping is not None and not with_handle:
      warnings.warn(f"stopping={self.stopping!r} never acts on objective(params): give it a second parameter, objective(params, trial), "
                    "and call trial.report(value, step)", UserWarning, stacklevel=2)
    self._requeue_dead()
    deadline = None if timeout is None else time.monotonic() + seconds(timeout)
    lock, stop, interrupted, errors, started, stopped = threading.Lock(), threading.Event(), threading.Event(), [], [0], [0]
    running: dict[int, Trial] = {}  # trials whose objective is running in a worker thread
    copies: dict[int, Trial] = {}   # after Ctrl-C: each running trial's queued copy, withdrawn if its run still returns a result
    turns = ObjectiveTurns(int(n_jobs), self._lock)
    b = self.best
    best = [None if b is None else b.value]
    bar = tqdm(total=n_trials, disable=not progress, desc=self.name, unit="trial")

    def claim() -> bool:
      with lock:
        if stop.is_set() or started[0] >= n_trials or (deadline is not None and time.monotonic() >= deadline): return False
        started[0] += 1
        return True

    def _drop(trial_id: int) -> None:
      with lock: running.pop(trial_id, None)

    def work():
      try:
        while claim():
          try: trial = self._suggest(None, worker_id(runs_it=True))
          except SearchExhausted: stop.set(); return
          with lock:
            go = not interrupted.is_set()
            if go: running[trial.id] = trial
          if not go:   # suggested just as Ctrl-C came: never run, so queued again (a failure would tell the model "not here")
            self._release_taken(worker_id(runs_it=True), time.time(), [trial], interrupted=False)
            return
          # n_jobs=1: Ctrl-C lands in this thread, also while the outcome is written: the trial stays in `running`
          # until then, for the handler below to fail; in worker threads a returned objective's result is always written
          with turns.run():   # a tinygrad objective's runs take turns (threads.py)
            t = self._run_one(objective, trial, with_handle, (lambda: None) if n_jobs == 1 else lambda tid=trial.id: _drop(tid))
          _drop(trial.id)
          with lock:
            copy = copies.pop(trial.id, None)
            if copy is not None and copy.id != trial.id and t.state in (TrialState.COMPLETE, TrialState.STOPPED): self._withdraw(copy)
            if t.state == TrialState.COMPLETE and (best[0] is None or (t.value < best[0] if self.minimize else t.value > best[0])): best[0] = t.value
            stopped[0] += t.state == TrialState.STOPPED
            bar.update(1)
            if best[0] is not None: bar.set_postfix(best=f"{best[0]:.6g}", **({"stopped": stopped[0]} if stopped[0] else {}))
      except BaseException as e:  # storage errors, Ctrl-C: stop everyone, re-raise in the caller
        errors.append(e); stop.set()

    with sigterm_as_interrupt():   # a preempted job's SIGTERM ends the run as Ctrl-C does (terminate.py)
      try:
        if n_jobs == 1:
          work()
          if errors and isinstance(errors[0], KeyboardInterrupt): raise errors[0]
        else:
          threads = [threading.Thread(target=work, name=f"tinybo-{i}", daemon=True) for i in range(int(n_jobs))]
          for t in threads: t.start()
          for t in threads:
            while t.is_alive(): t.join(0.1)  # short joins keep the main thread responsive to Ctrl-C
      except KeyboardInterrupt:  # reaches the main thread only: fail what the worker threads are running, then stop
        with lock:               # held while failing, so a worker whose objective returns meanwhile records its result after
          interrupted.set(); stop.set()
          for t in running.values(): copies[t.id] = self._ended_elsewhere(t, lambda t=t: self._interrupted(t), None)
          running.clear()
        raise
      finally: bar.close()
    if errors: raise errors[0]
    return self.best

  # pickled (a process spawned with it, as multiprocessing does on macOS and Windows): the same study, a lock of its own
  def __getstate__(self) -> dict: return {k: v for k, v in self.__dict__.items() if k != "_lock"}
  def __setstate__(self, state: dict) -> None: self.__dict__.update({"_dead_checked": False, **state}, _lock=threading.RLock())

  def __repr__(self) -> str:
    return f"Optimizer(name={self.name!r}, strategy={type(self.strategy).__name__}, direction={self.direction!r}, trials={len(self.trials)})"
