"""tinybo as an Optuna sampler: `optuna.create_study(sampler=TinyBOSampler())`.

Relative sampling over the tree of the study: every parameter the complete trials used (with one distribution) becomes
a tinybo parameter, and a parameter that only some trials have gets a `when=` condition inferred from them (see
tinybo/integrations/conditions.py for the rule: a parameter seen only under some values of a categorical or small int
that is always present with it exists exactly under those values). The tinybo strategy (the GP by default) then
proposes one whole valid tree at a time: `classifier` and, for "svm", `C`, never a `C` the objective will not ask for.
Under a parent value no complete trial has shown yet (the first "knn"), the proposal keeps only what the trials vouch
for (`vouched`): the parameters after that parent are left to the objective's independent sampling until a trial shows them.
Parameters outside the tree (those of the very first trial, a branch never yet seen, a distribution that changes so
that no one of them holds every value run (a range narrowed below one; a widened one is modelled under the latest
trial's distribution), a range tinybo cannot encode, a parameter that comes and goes with no parent explaining it, a categorical
with list or dict choices in a JSON storage) are sampled independently by `independent_sampler` (RandomSampler by
default). A complete trial with a value its distribution cannot take (Optuna only warns about an enqueued one) is left
out, and so is one that completed before suggesting any modelled parameter. When every configuration has been tried
the study is stopped, as Optuna's GridSampler does.

Pruned trials are data: a trial a pruner stopped becomes a tinybo STOPPED trial whose value is its last intermediate
value, and every trial's intermediate values become tinybo reports (`history(study)` shows what the strategy sees).
One pruned before any report measured nothing: STOPPED without a value, taken, fantasized at the GP's mean as a
pending trial, never a value (Optuna's GPSampler drops pruned trials; failed, the GP would take it for the worst value there).
A FAIL trial is "bad here" (Optuna records no cause: a Ctrl+C, a stale heartbeat) unless a trial at its parameters waits,
runs or ended otherwise (`RetryHeartbeatStaleTrialCallback`, an enqueue_trial): strategies.History reads a failure
only where every trial at its configuration failed.
A pruned or failed trial that asked for all it was proposed shows the tree too (`tree_trials`); one pruned before
asking for all of it is recorded at the values proposed for it, so neither is proposed again and again.
RUNNING trials are passed to the strategy as pending, so parallel workers (`n_jobs`, or several processes on one RDB
storage) get distinct, spread-out proposals. Threads sample one at a time (a lock); processes cannot (a storage has no
lock to offer), so each stores its proposal and then reads the study again: a worker that finds a proposal stored since
its first read (another process sampled at the same moment, from the same trials) proposes again with it as pending,
taking its rank's point (by trial number) of one batch, so two that each found the other's also part (one that has
finished meanwhile is data, and takes no point of the batch). Three or more can still meet on the retry (one saw a
rival's first proposal, another its replacement): a worker that proposed again reads once more and proposes again while
a proposal stored since its last read lies within 1% of its own (`_next_to`), up to _RECHECKS (3) times, no waiting.
Of two that meet, the one that stored last reads the other's, so only a meeting that outlasts the rechecks remains.

Constraints (`constraints_func`, as Optuna's GPSampler and TPESampler take it, or `trial.set_constraint`): a trial is
feasible when every constraint value is <= 0. A complete or pruned trial that violates one is given to the strategy as a
FAILED trial (the GP conditions it at the worst fitted value and never proposes it again, so the search moves away from
infeasible regions, as SMAC does); a feasible one as it is. One whose constraints could not be computed (constraints_func
raised, or returned NaN) is infeasible: the sampler logs a warning, stores (nan,) as its constraints so that Optuna's
`best_trial` passes it over too, and the study goes on (Optuna's own samplers store None and raise out of optimize). It
is not a feasibility model (BoTorch's or GPSampler's constrained acquisition): an infeasible trial teaches only "not here".

Float, log float, float with step, int, log int, int with step and categorical distributions are supported.
Optuna's private API used: `study._thread_local.in_optimize_loop` (a study.optimize thread: its tinygrad trials take
turns, threads.ObjectiveTurns), `study._storage` with `trial._trial_id` (the proposals stored as system attrs; the storage's
type, for choices a JSON storage cannot keep) and, for constraints, `_process_constraints_after_trial`
(optuna.samplers._base) and `_CONSTRAINTS_KEY` (optuna.study._constrained_optimization), both there since Optuna 4.0
(tested with 5.1 only); FrozenTrial.constraints (Optuna 5) is read when present, the stored list otherwise.
Holds: TinyBOSampler, Tree, infer_tree, tree_trials, codec, reports_of; the stored proposals (`_share`, `_stored`,
`_shared`, `_rivals`, `_all_fixed`, `TinyBOSampler._next_to`), the constraints (`_store_constraints`, `_infeasible`) and the memo of the finished
trials' rows and tinybo Trials (`_Memo`, `_finished_key`: each finished trial is converted once per tree, not at every suggestion).
Imports: integrations (the codecs), conditions, optimizer (resolve_strategy, takes_reports), strategies, space, threads (ObjectiveTurns),
trial, optuna.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import threading
import weakref
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

try:
  from optuna import __version__ as optuna_version
  from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
  from optuna.samplers import BaseSampler, RandomSampler
  from optuna.storages import InMemoryStorage
  from optuna.study import Study, StudyDirection
  from optuna.trial import FrozenTrial, TrialState
except ImportError as e:  # pragma: no cover
  raise ImportError("tinybo.integrations.optuna needs optuna; install it with: pip install 'tinybo[optuna]'") from e
try:   # private: how Optuna's own samplers store constraints_func's values (see the module docstring)
  from optuna.samplers._base import _process_constraints_after_trial
  from optuna.study._constrained_optimization import _CONSTRAINTS_KEY
except ImportError:  # pragma: no cover
  _process_constraints_after_trial, _CONSTRAINTS_KEY = None, "constraints"

import numpy as np

from tinybo.integrations import Codec, choice_codec, float_codec, grid_codec, int_codec, resolve_seed
from tinybo.integrations.conditions import infer_conditions, vouched
from tinybo.optimizer import resolve_strategy, takes_reports
from tinybo.space import Categorical, Space
from tinybo.strategies import SearchExhausted, Strategy, seed_words
from tinybo.threads import ObjectiveTurns
from tinybo.trial import Report, Trial
from tinybo.trial import TrialState as TBState

_log = logging.getLogger(__name__)
_ATTR = "tinybo:proposal"   # a RUNNING trial's relative params, encoded as the strategy sees them: other workers treat them as pending
_MAX_ATTR = 2045             # Optuna's RDB storage limits a system attr's length: long JSON is split in chunks
_RECHECKS = 3                # after proposing again, how many more reads look for a rival's proposal next to this one
_NEAR = 0.01                 # next to: within 1% of each side of the unit cube, the same categories (the same suggestion, from other reads)

def codec(d: BaseDistribution) -> Codec:
  """An Optuna distribution as a tinybo parameter."""
  if isinstance(d, FloatDistribution):
    return float_codec(d.low, d.high, d.log) if d.step is None else grid_codec(d.low, d.high, d.step, integer=False)
  if isinstance(d, IntDistribution):
    return int_codec(d.low, d.high, d.log) if d.step == 1 else grid_codec(d.low, d.high, d.step, integer=True)
  if isinstance(d, CategoricalDistribution): return choice_codec(d.choices)
  raise TypeError(f"TinyBOSampler cannot model {type(d).__name__}; it is sampled independently")

class TinyBOSampler(BaseSampler):
  """An Optuna sampler driven by a tinybo strategy.

  strategy: "gp" (default), "random", or a tinybo strategy object such as tb.GP(kernel="matern32").
  seed: seeds the strategy and the independent sampler (None: a random seed).
  independent_sampler: samples what the strategy cannot model (default: RandomSampler's uniform draws, each trial's
    from (seed, trial number, name), so processes given one seed draw other values for their trials).
  warn_independent_sampling: log a warning (once per parameter) when a parameter the complete trials used is left out
    of the tree and falls back to independent sampling (its distribution narrowed, or no parent explains where it appears).
  constraints_func: as in Optuna's GPSampler and TPESampler, `constraints_func(frozen_trial) -> Sequence[float]`, computed
    after each complete or pruned trial and stored on it (Optuna's `best_trial` then picks among the feasible trials). A
    trial is feasible when every value is <= 0; an infeasible one is given to the strategy as FAILED (it teaches "not
    here", not a model of the constraint); one whose constraints raise or are NaN is infeasible (warned) and the study goes
    on. Constraints set with `trial.set_constraint` count the same way, with or without constraints_func.
  """
  def __init__(self, strategy: str | Strategy = "gp", seed: int | None = None, independent_sampler: BaseSampler | None = None,
               warn_independent_sampling: bool = True, constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None):
    if constraints_func is not None and not callable(constraints_func):
      raise TypeError(f"constraints_func={constraints_func!r}: pass a function of an Optuna FrozenTrial that returns a sequence of floats "
                      "(feasible when all are <= 0), or None")
    if constraints_func is not None and _process_constraints_after_trial is None:  # pragma: no cover
      raise ImportError(f"TinyBOSampler(constraints_func=...) needs Optuna with optuna.samplers._base._process_constraints_after_trial (4.0 to 5.1); "
                        f"this is Optuna {optuna_version}")
    self._constraints_func = constraints_func
    self._strategy = resolve_strategy(strategy)
    self._seed = resolve_seed(seed)
    if independent_sampler is not None and not isinstance(independent_sampler, BaseSampler):
      raise TypeError(f"independent_sampler={independent_sampler!r}: pass an Optuna sampler such as optuna.samplers.RandomSampler(seed=0), or None")
    self._independent = independent_sampler or RandomSampler(seed=seed)
    self._own_independent = independent_sampler is None   # the default: each trial draws from (seed, trial number), see sample_independent
    self._warn, self._warned, self._warned_json = warn_independent_sampling, set(), set()
    self._left_out: set[str] = set()     # parameters of complete trials the last inferred tree could not model
    self._unreadable: set[int] = set()   # RUNNING trials whose shared proposal could not be read (warned once each)
    self._lock = threading.RLock()   # study.optimize(n_jobs>1) calls the sampler from several threads; strategies need not be thread-safe
    self._turns = ObjectiveTurns(2, self._lock, "study.optimize(n_jobs > 1)")   # tinygrad objectives in those threads (before_trial)
    self._rows_memo: _Memo | None = None     # the finished trials' encoded rows and tinybo Trials: see _Memo
    self._trials_memo: _Memo | None = None

  # a lock does not pickle: drop it and make a new one (Optuna's docs pickle a sampler to resume a study reproducibly);
  # the memos (weak references to a storage) are dropped too and rebuilt from the trials
  def __getstate__(self) -> dict: return {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_turns", "_rows_memo", "_trials_memo")}
  def __setstate__(self, state: dict) -> None:
    self.__dict__.update(state); self._lock = threading.RLock(); self._rows_memo = self._trials_memo = None
    self._turns = ObjectiveTurns(2, self._lock, "study.optimize(n_jobs > 1)")

  def _memo(self, attr: str, study: Study, context: Any) -> _Memo:
    """The sampler's memo `attr` for this study and context, a new one when either differs from the last call's."""
    m = getattr(self, attr)
    if m is None or not m.fits(study, context): setattr(self, attr, m := _Memo(study, context))
    return m

  def reseed_rng(self) -> None:
    self._seed = int(np.random.SeedSequence().entropy % (2**31))
    self._independent.reseed_rng()

  def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
    _check_single_objective(study)   # at the first trial's first suggest, before an objective runs to no use
    tree = infer_tree(tree_trials(study.get_trials(deepcopy=False), self._unreadable), memo=lambda c: self._memo("_rows_memo", study, c))
    self._left_out = tree.left_out
    unstable = {n for n, d in tree.distributions.items() if not _survives_storage(study, d)}
    for n in unstable - self._warned_json:
      self._warned_json.add(n)
      _log.warning(f"TinyBOSampler samples '{n}' independently: its choices hold lists or dicts, which this {type(study._storage).__name__} "
                   "keeps as JSON (a tuple comes back a list), so Optuna would refuse a proposal for it; give str choices such as '128-64' "
                   "to have it modelled")
    return {n: d for n, d in tree.distributions.items() if n not in unstable}

  def history(self, study: Study, search_space: dict[str, BaseDistribution] | None = None) -> tuple[Space, list[Trial], dict[int, list[Report]]]:
    """What the strategy sees: the tree inferred from the complete trials (restricted to `search_space` when given) as a
    tinybo Space over the encoded values (a categorical's value is the index of its choice, an int or float with a step
    the index of its grid point), every trial that fits it as a tinybo Trial (id = the Optuna trial number; COMPLETE,
    STOPPED for a pruned trial, at its last intermediate value and step, without a value when pruned before any report;
    FAILED; PENDING for a running one) and
    every trial's finite intermediate values as tinybo Reports, {trial number: [Report, ...]}."""
    tree, trials, curves = self._history(study, search_space)
    return tree.space, trials, curves

  def _history(self, study: Study, search_space: dict[str, BaseDistribution] | None,
               trials: Sequence[FrozenTrial] | None = None) -> tuple[Tree, list[Trial], dict[int, list[Report]]]:
    trials = study.get_trials(deepcopy=False) if trials is None else trials
    tree = infer_tree(tree_trials(trials, self._unreadable), search_space, lambda c: self._memo("_rows_memo", study, c))
    # a finished trial's Trial and reports are computed once per tree (see _Memo); a running or waiting one's every time
    memo = self._memo("_trials_memo", study, (tree.codecs, tree.space.params))
    history, curves = [], {}
    for t in trials:
      if (key := _finished_key(t)) is None or (got := memo.get(key)) is None:
        got = (_to_tinybo(t, tree, self._unreadable), reports_of(t))
        if key is not None: memo[key] = got
      tb, curve = got
      # copies: what the strategy is handed is its own, as when it was computed afresh
      if tb is not None: history.append(dataclasses.replace(tb, params=dict(tb.params)))
      if curve: curves[t.number] = list(curve)
    return tree, history, curves

  def sample_relative(self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
    if not search_space: return {}
    _check_single_objective(study)
    # read, propose and publish under one lock: a thread of study.optimize(n_jobs>1) must see the other's proposal as
    # pending, or a strategy that is deterministic in (seed, history) proposes the same point twice
    with self._lock:
      trials = study.get_trials(deepcopy=False)
      seen = {t.number: _stored(t) for t in trials}   # now: a storage may update the trials it returned in place
      params = self._propose(study, trial, search_space, trials, 1, 0)
      if not params: return params
      # another process may have sampled at the same moment, each before the other published (a GP proposes the same
      # point from the same trials, whatever the seed): published first, then read, at least one of two such workers
      # sees the other's proposal. It proposes again with those as pending, taking its own rank's point of one batch,
      # so two that both saw each other do not move to one new point together.
      # Three or more can still meet: two that proposed again from different reads (one saw a rival's first proposal,
      # the other had replaced it) can take one point. So a worker that proposed again reads once more, and proposes
      # again while a proposal stored since its last read lies next to its own (_RECHECKS times at most, no waiting):
      # of any two, the one that stored last reads the other's.
      for check in range(1 + _RECHECKS):
        later = study.get_trials(deepcopy=False)
        now = {t.number: _stored(t) for t in later}   # at once: a storage may update the trials it returned in place
        rivals = _rivals(seen, later, trial.number)
        if check and rivals: rivals = self._next_to(study, trial, search_space, later, rivals)
        if not rivals: break
        seen = now
        # one that has finished meanwhile is data now, not pending: it is not proposing again, so it takes no point of
        # the batch (the second of two would be this worker's point, worse than the first for nothing)
        racing = [t.number for t in rivals if not t.state.is_finished()]
        params = self._propose(study, trial, search_space, later, len(racing) + 1, sum(r < trial.number for r in racing))
        # nothing this time (a discrete space exhausted with the rivals pending): the trial is sampled independently, and
        # the first proposal, still stored, would tell the other workers it runs that
        if not params:
          _share(study, trial, {}, len(_stored(next((t for t in later if t.number == trial.number), trial))))
          break
    return params

  def _next_to(self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution], trials: Sequence[FrozenTrial],
               rivals: list[FrozenTrial]) -> list[FrozenTrial]:
    """The rivals whose configuration lies within _NEAR (max-norm, unit cube) of this trial's stored proposal: the
    same point, proposed from other reads. (A pending trial the proposal was made beside knowingly is no rival.)"""
    tree, history, _ = self._history(study, search_space, trials)
    by_id = {t.id: t for t in history}
    if (mine := by_id.get(trial.number)) is None: return []
    x = tree.space.encode_valid([mine.params])[0]
    return [r for r in rivals if (o := by_id.get(r.number)) is not None and np.max(np.abs(tree.space.encode_valid([o.params])[0] - x)) < _NEAR]

  def _propose(self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution], trials: Sequence[FrozenTrial],
               count: int, pick: int) -> dict[str, Any]:
    """The strategy's `pick`-th of `count` proposals on the trials (the others pending), decoded, and stored on the trial
    for the other workers; {} leaves the trial to independent sampling."""
    tree, history, curves = self._history(study, search_space, trials)
    space = tree.space
    history = [t for t in history if t.id != trial.number]
    if not space.names: return {}
    # a strategy that learns from learning curves takes them as reports=; the others see stopped trials as taken
    extra = {"reports": {i: c for i, c in curves.items() if i != trial.number}} if takes_reports(self._strategy) else {}
    try: proposal = self._strategy.suggest(space, history, count, seed=self._seed, minimize=study.direction == StudyDirection.MINIMIZE, **extra)
    except SearchExhausted as e:
      # the modelled parameters are exhausted; the study is only when no other parameter varies (one left out of the
      # tree, or outside this search space, is still sampled independently): then this trial is all independent
      if not _others_vary(study, set(space.names)): _stop(study, e)
      return {}
    if not proposal: return {}
    # only what the complete trials vouch for: never a parameter the objective may not ask for under a new branch
    chosen = proposal[min(pick, len(proposal) - 1)]   # a nearly exhausted discrete space may have fewer points left
    kept = vouched({n: v for n, v in chosen.items() if n in tree.codecs}, tree.rows, space.params)
    params = {n: tree.codecs[n].from_tb(v) for n, v in kept.items()}
    mine = next((t for t in trials if t.number == trial.number), trial)
    _share(study, trial, {n: tree.codecs[n].to_tb(v) for n, v in params.items()}, len(_stored(mine)))
    return params

  def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution) -> Any:
    if self._warn and param_name in self._left_out and param_name not in self._warned:
      self._warned.add(param_name)
      _log.warning(f"TinyBOSampler samples '{param_name}' independently with {type(self._independent).__name__}: the complete trials use it, "
                   "but it is not in the tree the GP models (its range was narrowed below values already run, tinybo cannot encode its range, "
                   "or no categorical or small int parameter explains which trials have it)")
    if getattr(self, "_own_independent", False):   # (a sampler pickled by an older version keeps its RandomSampler's sequence)
      # each trial's own draws, from (seed, trial number, name): processes given one seed (a worker script started N
      # times) drew the same first values from one RandomSampler(seed) each, trial after trial until one completed
      return RandomSampler(seed=_draw_seed(self._seed, trial.number, param_name)).sample_independent(study, trial, param_name, param_distribution)
    return self._independent.sample_independent(study, trial, param_name, param_distribution)

  def before_trial(self, study: Study, trial: FrozenTrial) -> None:
    # study.optimize(n_jobs > 1) runs trials in pool threads, ask and tell in one thread (Optuna's thread-local
    # `in_optimize_loop`): a tinygrad objective there takes turns, from its first Tensor to after_trial (threads.py)
    if getattr(getattr(study, "_thread_local", None), "in_optimize_loop", False) and threading.current_thread() is not threading.main_thread():
      self._turns.begin()
    self._independent.before_trial(study, trial)

  def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None) -> None:
    try:
      if self._constraints_func is not None: _store_constraints(self._constraints_func, study, trial, state)
      self._independent.after_trial(study, trial, state, values)
    finally: self._turns.end()


def _draw_seed(seed: int, number: int, name: str) -> int:
  """The seed of one independent draw: of the sampler's seed, the trial's number and the parameter's name."""
  return int(np.random.SeedSequence([*seed_words(seed), number, zlib.crc32(name.encode())]).generate_state(1)[0])

def _store_constraints(func: Callable[[FrozenTrial], Sequence[float]], study: Study, trial: FrozenTrial, state: TrialState) -> None:
  """Compute and store a finished trial's constraints as Optuna's GPSampler and TPESampler do. Where Optuna stores None
  and raises out of optimize (constraints_func raised, or returned NaN), the trial is infeasible: (nan,) is stored, so
  that Optuna's best_trial passes it over too (it counts a trial without constraint values as feasible), and the study goes on."""
  try: _process_constraints_after_trial(func, study, trial, state)
  except Exception as e:
    _log.warning(f"TinyBOSampler: constraints_func failed on trial {trial.number} ({type(e).__name__}: {str(e)[:120]}); "
                 "the trial is infeasible")
    study._storage.set_trial_system_attr(trial._trial_id, _CONSTRAINTS_KEY, (math.nan,))

def _infeasible(t: FrozenTrial) -> bool:
  """Whether a finished trial violates a constraint (a value > 0) or its constraints are unknown (NaN, or None stored:
  constraints_func failed). A trial without constraints is feasible."""
  attrs = t.system_attrs
  if _CONSTRAINTS_KEY in attrs and attrs[_CONSTRAINTS_KEY] is None: return True
  values = t.constraints.values() if hasattr(t, "constraints") else attrs.get(_CONSTRAINTS_KEY) or ()
  return not all(v <= 0 for v in values)


def _stop(study: Study, why: Exception) -> None:
  """Every configuration has been tried: stop the study as Optuna's GridSampler and BruteForceSampler do (this trial
  is sampled independently), instead of failing it and raising out of optimize."""
  _log.warning(f"TinyBOSampler: {why}; stopping the study (this last trial is sampled independently)")
  try: study.stop()
  except RuntimeError: pass   # ask/tell, outside study.optimize: nothing to stop

def _others_vary(study: Study, modelled: set[str]) -> bool:
  """Whether the complete trials use a parameter with more than one value besides the modelled ones."""
  return any(n not in modelled and not d.single() for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
             for n, d in t.distributions.items())

def _survives_storage(study: Study, d: BaseDistribution) -> bool:
  """Whether the distribution stored on the trials equals the one the objective asks for: not so for a categorical with
  list or dict choices in a storage that keeps JSON (RDB, journal), where the objective's (1, 2) is read back as [1, 2]."""
  if not isinstance(d, CategoricalDistribution) or isinstance(study._storage, InMemoryStorage): return True
  return not any(isinstance(c, (list, dict)) for c in d.choices)

def _check_single_objective(study: Study) -> None:
  if len(study.directions) > 1:
    given = [d.name.lower() for d in study.directions]
    raise ValueError(f"the study has directions={given}: TinyBOSampler optimizes a single objective; create the study with "
                     f"direction='minimize' or 'maximize', or use optuna.samplers.NSGAIISampler for several")

@dataclass(frozen=True)
class Tree:
  """A define-by-run space as tinybo sees it: the modelled parameters' Optuna distributions and codecs, the tinybo Space
  with the inferred conditions, the names used by complete trials that are left out of it, and the complete trials'
  encoded values of the modelled parameters (rows, in suggestion order)."""
  distributions: dict[str, BaseDistribution]
  codecs: dict[str, Codec]
  space: Space
  left_out: set[str]
  rows: list[dict]

def tree_trials(trials: Sequence[FrozenTrial], unreadable: set[int]) -> list[FrozenTrial]:
  """The trials whose parameters show the tree: the complete ones, and a pruned or failed one that asked for every
  parameter the sampler proposed to it (it ran past its suggestions). Without them a pruned trial on a branch no complete
  trial showed (an svm with the linear kernel, when every complete svm was rbf and had a gamma) never fits the tree,
  is left out of the history, and the strategy proposes it again and again. One that stopped before asking for all it
  was proposed (pruned between two suggestions) may lack parameters of its branch: it shows nothing."""
  def ran_its_proposal(t: FrozenTrial) -> bool:
    return t.state in (TrialState.PRUNED, TrialState.FAIL) and bool(p := _shared(t, unreadable)) and p.keys() <= t.params.keys()
  return [t for t in trials if t.state == TrialState.COMPLETE or ran_its_proposal(t)]

def infer_tree(complete: Sequence[FrozenTrial], search_space: dict[str, BaseDistribution] | None = None,
               memo: Callable[[dict[str, Codec]], _Memo] | None = None) -> Tree:
  """The tree of the finished trials' parameters (`complete`: those of `tree_trials`; only those in `search_space`, with
  the same distribution, when given). Single-value distributions are not modelled (Optuna fills them in itself); a
  parameter whose distribution changed so that no one holds every value run (`_distributions`), or whose kind or range
  tinybo cannot model, is left out;
  conditions come from `infer_conditions`. `memo(codecs)`: where the finished trials' rows under these codecs are kept
  from call to call (the sampler's, see _Memo)."""
  dists, clash = _distributions(complete)
  codecs, left_out = {}, set(clash)
  for n, d in dists.items():
    if n in clash or d.single() or (search_space is not None and search_space.get(n) != d): continue
    try:
      c = codec(d)
      Space({n: c.param})   # a range tinybo cannot encode (an int beyond 2**52 - 1, a float span beyond a float's range)
      codecs[n] = c
    except (TypeError, ValueError): left_out.add(n)
  # a trial that completed before its first modelled suggest (an objective that returns early, a tell or add_trial
  # without params) shows nothing about the tree; as a row it would make every parameter look conditional on nothing
  rows_memo = memo(codecs) if memo is not None else None
  def row(t: FrozenTrial) -> dict | None:
    if rows_memo is None or (key := _finished_key(t)) is None: return _row(t, codecs)
    if (got := rows_memo.get(key, _MISSING)) is _MISSING: rows_memo[key] = got = _row(t, codecs)
    return got
  rows = [(t.state == TrialState.COMPLETE, dict(r)) for t in complete if (r := row(t))]
  params = {n: c.param for n, c in codecs.items()}
  # a pruned or failed trial may have stopped between two suggestions (a crash, an exception caused by a value) before a
  # parameter its proposal lacked (one the sampler left to independent sampling): its row would make that parameter look
  # as if it came and went at random, and left out for good. A parameter the complete trials explain stays explained: the
  # unfinished rows that lack it show nothing.
  # (Rows of unfinished trials that have such a parameter where the complete ones do not go next, then all of them.)
  _, before = infer_conditions([r for done, r in rows if done], params)
  while True:
    conds, unexplained = infer_conditions([r for _, r in rows], params)
    if not (wrong := unexplained - before): break
    lacking = [(done, r) for done, r in rows if done or wrong <= r.keys()]
    having = [(done, r) for done, r in rows if done or not wrong & r.keys()]
    rows = lacking if len(lacking) < len(rows) else having if len(having) < len(rows) else [(d, r) for d, r in rows if d]
  rows = [r for _, r in rows]
  left_out |= unexplained
  codecs = {n: c for n, c in codecs.items() if n not in unexplained}
  space = Space({n: dataclasses.replace(c.param, when=conds.get(n)) for n, c in codecs.items()})
  rows = [{n: v for n, v in r.items() if n in codecs} for r in rows]
  return Tree({n: dists[n] for n in codecs}, codecs, space, left_out, rows)

def _distributions(complete: Sequence[FrozenTrial]) -> tuple[dict[str, BaseDistribution], set[str]]:
  """Each parameter's distribution, and the names whose distribution changed in a way no one distribution explains.
  A changed one is the latest trial's when it holds every value the trials took (a range widened when a study was
  resumed: the earlier trials are data under it, and the GP goes on modelling it); else (a range narrowed below a value
  already run) it clashes."""
  dists: dict[str, BaseDistribution] = {}
  changed: set[str] = set()
  for t in complete:
    for n, d in t.distributions.items():
      if dists.get(n, d) != d: changed.add(n)
      dists[n] = d
  def holds(n: str) -> bool:
    try: c = {n: codec(dists[n])}
    except (TypeError, ValueError): return False
    return all(_row(t, c) is not None for t in complete if n in t.params)
  return dists, {n for n in changed if not holds(n)}

_MISSING = object()

class _Memo(dict):
  """What the sampler computed from the finished trials of one study under one context (the tree's codecs, and its
  space for the tinybo Trials), {_finished_key(trial): result}, kept from suggestion to suggestion: without it every
  suggestion encodes and validates every trial again, a cost that grows with the study. A finished trial never changes
  (Optuna's storages refuse to update one: its params, values, reports and system attrs, the stored proposal and the
  constraints included, are final), and a trial is found again only with its number, state and completion time; a
  running or waiting one (a proposal stored, a state changed by another process) is never kept. A memo is bound to a
  storage object (a weak reference: a storage it outlived is never taken for a new one at the same address) and study
  id, and to its context: another study, or a tree that changed, gets a new memo, never a stale result. Bound once, a
  memo is only added to, so threads sharing it (infer_relative_search_space runs outside the sampler's lock) never mix
  two contexts."""
  def __init__(self, study: Study, context: Any):
    super().__init__()
    try: self._storage: Callable[[], Any] | None = weakref.ref(study._storage)
    except TypeError: self._storage = None   # a storage type without weak references: never reused
    self._study_id, self._context = getattr(study, "_study_id", None), context

  def fits(self, study: Study, context: Any) -> bool:
    if self._storage is None or self._storage() is not study._storage or self._study_id != getattr(study, "_study_id", None): return False
    # equal and of the same repr: a choice True is not the choice 1 (equal in Python, not to the codec), nor -0.0 0.0
    try: return bool(self._context == context) and repr(self._context) == repr(context)
    except (TypeError, ValueError): return False   # choices that do not compare (a numpy array): nothing is reused

def _finished_key(t: FrozenTrial) -> tuple | None:
  """How a finished trial is found again in a _Memo; None for a running or waiting one, which may still change (and for
  one without a start time, whose tinybo Trial is created at the time of its conversion)."""
  return (t.number, t.state, t.datetime_complete) if t.state.is_finished() and t.datetime_start is not None else None

def _row(t: FrozenTrial, codecs: dict[str, Codec]) -> dict | None:
  """A complete trial's modelled values, encoded; None when one is a value its distribution cannot take (Optuna only
  warns when an enqueued value is out of range or off the step): such a trial shows nothing about the tree."""
  try: row = {n: codecs[n].to_tb(v) for n, v in t.params.items() if n in codecs}
  except (ValueError, TypeError): return None
  inside = all(isinstance(codecs[n].param, Categorical) or codecs[n].param.low <= v <= codecs[n].param.high for n, v in row.items())
  return row if inside else None

def reports_of(t: FrozenTrial) -> list[Report]:
  """A trial's finite intermediate values as tinybo Reports by step; the last report of a pruned trial carries stop=True.
  Optuna keeps no time per report: each carries the trial's completion time (its start while it runs)."""
  at = (t.datetime_complete or t.datetime_start)
  when = at.timestamp() if at is not None else 0.0
  steps = sorted(s for s, v in t.intermediate_values.items() if math.isfinite(v))
  return [Report(int(s), float(t.intermediate_values[s]), t.state == TrialState.PRUNED and s == steps[-1], when) for s in steps]

def _share(study: Study, trial: FrozenTrial, encoded: dict[str, int | float], stale: int = 0) -> None:
  """Store the relative params on the trial: until the objective has called every suggest_*, trial.params lacks some
  of them, and the other workers must still see the whole pending configuration. Stored encoded (a categorical as the
  index of its choice, see `codec`): a choice need not be JSON (a numpy int, a function) nor survive it (a tuple).
  `stale`: how many chunks an earlier proposal of this trial stored; those past the new ones are emptied (a storage
  cannot delete a system attr), or they would be read as the end of this one. Replacing more than one chunk, the first
  is emptied before and written last: read in between, the old chunks after new ones could parse (values of one length
  end chunks alike) as a mix of two proposals; a JSON object's tail without its head does not (a partial write)."""
  s = json.dumps(encoded)
  chunks = [s[i:i + _MAX_ATTR] for i in range(0, len(s), _MAX_ATTR)]
  chunks += [""] * (stale - len(chunks))
  order = [*range(1, len(chunks)), 0] if stale and len(chunks) > 1 else range(len(chunks))
  if stale and len(chunks) > 1: study._storage.set_trial_system_attr(trial._trial_id, f"{_ATTR}:0", "")
  for i in order: study._storage.set_trial_system_attr(trial._trial_id, f"{_ATTR}:{i}", chunks[i])

def _stored(t: FrozenTrial) -> list[str]:
  """The chunks of the proposal stored on a trial, in order ([]: none)."""
  chunks: list[str] = []
  while (c := t.system_attrs.get(f"{_ATTR}:{len(chunks)}")) is not None: chunks.append(c)
  return chunks

def _rivals(seen: dict[int, list[str]], after: Sequence[FrozenTrial], number: int) -> list[FrozenTrial]:
  """The trials other than `number` that stored a proposal (a new one, or another one) since the study was read with
  `seen` ({trial number: its stored chunks}): proposed at the same time as this trial's, perhaps from the same trials,
  without it as pending. Finished ones included: one may have run the very point this trial was proposed. Not one whose
  proposal sets nothing its fixed params do not (an enqueued trial, pending at them since it was enqueued)."""
  return [t for t in after if t.number != number and (c := _stored(t)) and seen.get(t.number) != c and not _all_fixed(t, c)]

def _all_fixed(t: FrozenTrial, chunks: list[str]) -> bool:
  """Whether a trial's stored proposal sets only parameters its enqueued fixed values override (or none: "{}"). A
  proposal that cannot be read (a partial write) is not known to."""
  try: proposed = json.loads("".join(chunks))
  except (ValueError, RecursionError): return False
  return isinstance(proposed, dict) and set(proposed) <= set(t.system_attrs.get("fixed_params") or {})

def _shared(t: FrozenTrial, unreadable: set[int]) -> dict[str, Any]:
  """The encoded proposal stored on a trial (RUNNING, or finished before asking for all of it). The chunks are written
  one by one: a worker killed between two of them leaves a partial JSON behind, and then the trial's own reported params
  are all that is known (with a warning, once)."""
  chunks = _stored(t)
  try:
    shared = json.loads("".join(chunks)) if chunks else {}
    if not isinstance(shared, dict): raise ValueError(f"a {type(shared).__name__}, not an object")
  except (ValueError, TypeError, RecursionError) as e:
    if t.number not in unreadable:
      unreadable.add(t.number)
      _log.warning(f"TinyBOSampler: the proposal stored on {t.state.name.lower()} trial {t.number} is unreadable "
                   f"({type(e).__name__}: {str(e)[:120]}; a partial write?); using the parameters the trial has reported instead")
    shared = {}
  return shared

def _to_tinybo(t: FrozenTrial, tree: Tree, unreadable: set[int]) -> Trial | None:
  """An Optuna trial as a tinybo Trial over the tree's space, or None when it does not fit (a parameter the tree makes
  active is missing from the trial and from the proposal stored on it, or a value lies outside). Parameters the tree makes
  inactive are dropped: the tree may have changed since a running trial's proposal was made. An enqueued trial
  (WAITING, or RUNNING before it asks for them) is pending at its fixed values."""
  finished = t.state.is_finished()
  # what the sampler proposed fills in what the trial never asked for: a running one, or one pruned or failed before
  # asking for all of it (left out, it would be proposed again and again)
  shared = _shared(t, unreadable)
  space = tree.space
  try:
    given = {**({} if finished else t.system_attrs.get("fixed_params") or {}), **t.params}
    p = {**{n: v for n, v in shared.items() if n in tree.codecs}, **{n: tree.codecs[n].to_tb(v) for n, v in given.items() if n in tree.codecs}}
    active = space.active(p)
    p = space.validate({n: v for n, v in p.items() if n in active})
  except (ValueError, TypeError): return None
  curve = reports_of(t)
  # when it started and ended: the GP's outlier rule tells the initial design's trials by them (bo._design_trials: a trial
  # that fails frees its design slot for the trials started after it ended, not for those of other workers started before)
  fields = {"last_step": curve[-1].step if curve else None,
          **{k: d.timestamp() for k, d in (("created", t.datetime_start), ("finished", t.datetime_complete)) if d is not None}}
  # an infeasible trial is failed: the strategy learns "not here" and never proposes it again
  if t.state in (TrialState.COMPLETE, TrialState.PRUNED) and _infeasible(t): return Trial(t.number, p, TBState.FAILED, **fields)
  if t.state == TrialState.COMPLETE:
    if t.value is None or not math.isfinite(t.value): return Trial(t.number, p, TBState.FAILED, **fields)
    return Trial(t.number, p, TBState.COMPLETE, float(t.value), **fields)
  if t.state == TrialState.PRUNED:
    # stopped at its last intermediate value; after a NaN/inf one it is failed (tinybo fails a trial that reports one)
    if any(not math.isfinite(v) for v in t.intermediate_values.values()): return Trial(t.number, p, TBState.FAILED, **fields)
    # pruned before any report (an objective's own check, before it trained): nothing was measured, so no value and no
    # "bad here" (failed, the GP would condition it at the worst value); stopped without a value, it is taken (never
    # proposed again), fantasized as a pending one and frees its slot of the initial design (strategies.unmeasured). A
    # check that means "infeasible" says so with constraints
    return Trial(t.number, p, TBState.STOPPED, curve[-1].value if curve else None, **fields)
  return Trial(t.number, p, TBState.FAILED if t.state == TrialState.FAIL else TBState.PENDING, **fields)

__all__ = ["Tree", "TinyBOSampler", "codec", "infer_tree", "reports_of"]
