"""Learning from learning curves: the data a GP needs to model the objective as a function of (configuration, step), so
that the partial curves of stopped and running trials inform it, and the step its acquisition targets.

The step becomes one more input column, the fidelity z = 1 − log1p(step) / log1p(target) ∈ [0, 1]: z = 0 at the target
step (the end of a full run), 1 at step 0, log-scaled because learning curves move fastest early. It has its own
lengthscale in the ARD kernel, so the GP learns how far a value at one step says something about the value at another,
configuration by configuration (the kernel is not separable: curves may cross). z = 0 at the target is what lets the
acquisition optimizer stay unchanged: `gp.posterior` zero-pads query points to the model's columns, so a query of the
space's d columns is a query at the target step.
Values are detrended in z before the fit (`trend`): every curve starts far from where it ends, and without a trend the
posterior at the target step far from complete trials would revert to the mean of mostly early values.
Holds: CurveData, curve_data, target_step, fidelity, thin, at_target, trend. Imports: space, trial, numpy.
Glossary: d encoded columns of the space; X[n, d + 1] = [encoded configuration | z]; y[n] raw reported values; a
curve is one trial's reports, steps increasing.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tinybo.space import Space
from tinybo.trial import Report, Trial, TrialState

USED = (TrialState.COMPLETE, TrialState.STOPPED, TrialState.PENDING)   # failed trials' values never enter a model

def target_step(trials: Sequence[Trial], reports: Mapping[int, Sequence[Report]]) -> int | None:
  """The step a full run ends at: the largest last step of a complete trial that reported, or, before any trial
  completed, the largest step any trial reported (so the first stopped curves still have a target). None without
  reports, or when complete trials exist but none reported: they ended at a step no report tells, and placing them at
  a running trial's last step would read its early values as final ones."""
  complete = [t for t in trials if t.state == TrialState.COMPLETE]
  ends = [c[-1].step for t in complete if (c := reports.get(t.id))]
  if ends or complete: return max(ends, default=None)
  steps = [c[-1].step for t in trials if t.state in USED and (c := reports.get(t.id))]
  return max(steps) if steps else None

def fidelity(step: np.ndarray | int, target: int) -> np.ndarray:
  """z = 1 − log1p(step) / log1p(target): 0 at the target step, 1 at step 0 (every step is 0 when the target is 0)."""
  s = np.asarray(step, dtype=np.float64)
  return np.zeros_like(s) if target <= 0 else 1.0 - np.log1p(s) / math.log1p(target)

def thin(curve: Sequence[Report]) -> list[Report]:
  """The reports a model keeps of one curve: the first report at or past each power of two (1, 2, 4, 8, ...; step 0
  too) and the last one. About log2(steps) + 2 points per full curve, so a study of long curves stays a few hundred rows."""
  out, grid = [], 0
  for i, r in enumerate(curve):
    if i == len(curve) - 1 or r.step >= grid:
      out.append(r)
      while grid <= r.step: grid = 1 if grid == 0 else 2 * grid
  return out

def at_target(X: np.ndarray) -> np.ndarray:
  """Encoded configurations X[m, d] -> X[m, d + 1] at the target step (z = 0)."""
  X = np.asarray(X, dtype=np.float64)
  return np.concatenate([X, np.zeros((len(X), 1))], axis=1)

def trend(z: np.ndarray, y: np.ndarray, at: np.ndarray | None = None) -> np.ndarray:
  """The least-squares polynomial in z (degree 2, or less with fewer distinct z) through the values y[n], at each z (or
  at each fidelity of `at`): the average learning curve of the study. The GP fits y − trend: how a configuration differs
  from the average curve."""
  at = z if at is None else np.asarray(at, dtype=np.float64)
  deg = min(2, len(np.unique(z)) - 1)
  if deg <= 0: return np.full(at.shape, np.mean(y))
  return np.polyval(np.polyfit(z, y, deg), at)

@dataclass(frozen=True)
class CurveData:
  """What the GP fits: X[n, d + 1] rows of (configuration, z), y[n] their raw values; `final[n]` marks rows at the target
  step; `configs[m, d]` the encoded configurations with rows (complete and stopped trials, in trial order) and `last[m]`
  each one's last value (for the warp decision); `stopped[k, d]` the stopped ones; `target` the target step; `ids[n]`
  the trial id of each row."""
  X: np.ndarray; y: np.ndarray; final: np.ndarray; configs: np.ndarray; last: np.ndarray; stopped: np.ndarray; target: int; ids: np.ndarray

def curve_data(space: Space, trials: Sequence[Trial], reports: Mapping[int, Sequence[Report]]) -> CurveData | None:
  """The (configuration, step) data of a study: the thinned curve of every complete, stopped and pending trial, with a
  complete trial's own value at its last step (a complete trial that never reported counts as ending at the target).
  Reports past the target step (a running trial longer than every complete one) are left out. None when no trial that
  fits the space has reports, or complete trials exist but none reported (`target_step`): then the GP models final
  values alone, exactly as without this module."""
  target = target_step(trials, reports)
  if target is None: return None
  kept, params = [], []   # the trials with data, validated once (encode would validate again), then encoded in one call
  for t in trials:
    curve = [r for r in reports.get(t.id, ()) if r.step <= target] if t.state in USED else []
    complete = t.state == TrialState.COMPLETE and t.value is not None and math.isfinite(t.value)
    if not curve and not complete: continue
    try: params.append(space.validate(t.params))
    except (ValueError, TypeError): continue
    kept.append((t, curve, complete))
  encoded = space.encode_valid(params)
  rows, zs, ys, configs, last, stopped, ids = [], [], [], [], [], [], []
  for (t, curve, complete), x in zip(kept, encoded):
    pts = [(r.step, r.value) for r in thin(curve)]
    if complete:   # the trial's result is its value at the end of its run: its last step, or the target without reports
      end = t.last_step if curve and t.last_step is not None and t.last_step <= target else target
      pts = [(s, v) for s, v in pts if s < end] + [(end, float(t.value))]
    for s, v in pts: rows.append(x); zs.append(s); ys.append(v); ids.append(t.id)
    if t.state != TrialState.PENDING: configs.append(x); last.append(pts[-1][1])
    if t.state == TrialState.STOPPED: stopped.append(x)
  if not rows: return None
  X = np.concatenate([np.asarray(rows, dtype=np.float64).reshape(len(rows), space.dim), fidelity(np.array(zs), target)[:, None]], axis=1)
  return CurveData(X, np.array(ys, dtype=np.float64), X[:, -1] == 0.0, np.asarray(configs, dtype=np.float64).reshape(-1, space.dim),
                   np.array(last, dtype=np.float64), np.asarray(stopped, dtype=np.float64).reshape(-1, space.dim), target,
                   np.array(ids, dtype=np.int64))
