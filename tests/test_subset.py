"""Large studies: `subset.fit_subset` (which rows a GP above max_points is fitted on) against a plain-loop reference of
its rule, its properties for any input, and the GP strategy with it: exact (identical suggestions) up to max_points,
fitted on the subset above, and a 3,000-trial study that still suggests."""
import time
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.functions import PROBLEMS, SUITE
from tinybo.bo import GP, GPFallbackWarning
from tinybo.gp import GPRegressor
from tinybo.space import Float, Space
from tinybo.strategies import History
from tinybo.subset import DEFAULT_MAX_POINTS, fit_subset
from tinybo.trial import Trial, TrialState


def reference_subset(X: np.ndarray, y: np.ndarray, m: int) -> list[int]:
  """The documented rule written as plain loops: the best m//2 (earlier trial first on ties), the m//8 latest of the
  rest, then one at a time the row farthest (Euclidean) from everything chosen, the earliest on ties."""
  n = len(y)
  if n <= m: return list(range(n))
  order = sorted(range(n), key=lambda i: (-y[i], i))
  chosen = order[:max(1, m // 2)]
  rest = [i for i in range(n) if i not in chosen]
  chosen += rest[len(rest) - m // 8:] if m // 8 else []
  while len(chosen) < m:
    far = [(min(float(np.sum((X[i] - X[j]) ** 2)) for j in chosen), -i) for i in range(n) if i not in chosen]
    chosen.append(-max(far)[1])
  return sorted(chosen)

@pytest.mark.parametrize("n,d,m", [(50, 2, 16), (120, 6, 40), (200, 3, 64), (30, 1, 29), (40, 4, 9)])
def test_matches_the_plain_loop_reference(n, d, m):
  rng = np.random.default_rng(n * d + m)
  X, y = rng.random((n, d)), rng.standard_normal(n)
  assert fit_subset(X, y, m).tolist() == reference_subset(X, y, m)

@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 120), d=st.integers(1, 5), m=st.integers(1, 80), seed=st.integers(0, 2**16), ties=st.booleans())
def test_size_best_recent_and_determinism_for_any_input(n, d, m, seed, ties):
  rng = np.random.default_rng(seed)
  X = rng.random((n, d))
  y = rng.integers(0, 3, n).astype(float) if ties else rng.standard_normal(n)  # ties: many equal values
  if ties: X[n // 2:] = X[:n - n // 2]  # and duplicate rows
  idx = fit_subset(X, y, m)
  assert idx.tolist() == sorted(set(idx.tolist())) and len(idx) == min(n, m)
  assert 0 <= idx.min() and idx.max() < n
  if n <= m: assert idx.tolist() == list(range(n)); return
  best = np.argsort(-y, kind="stable")[:max(1, m // 2)]
  assert set(best) <= set(idx.tolist()), "the best half must be in the subset"
  assert y[idx].max() == y.max()
  rest = [i for i in range(n) if i not in set(best)]
  assert set(rest[len(rest) - m // 8:] if m // 8 else []) <= set(idx.tolist()), "the most recent must be in the subset"
  assert np.array_equal(fit_subset(X.copy(), y.copy(), m), idx), "same input, same subset"

def test_the_space_filling_part_covers_better_than_a_random_choice():
  rng = np.random.default_rng(0)
  X, y = rng.random((2000, 2)), rng.standard_normal(2000)
  idx = fit_subset(X, y, 200)
  def radius(S): return float(np.sqrt(((X[:, None] - X[S][None]) ** 2).sum(-1).min(1).max()))
  fixed = list(np.argsort(-y, kind="stable")[:100]) + [i for i in range(2000) if i not in set(np.argsort(-y, kind="stable")[:100])][-25:]
  others = np.setdiff1d(np.arange(2000), fixed)
  random_radii = [radius(np.r_[fixed, np.random.default_rng(s).choice(others, 75, replace=False)]) for s in range(5)]
  assert radius(idx) < min(random_radii)

def test_bad_max_points_name_the_fix():
  with pytest.raises(ValueError, match="max_points=0"): fit_subset(np.zeros((3, 1)), np.zeros(3), 0)
  for bad, error in ((0, ValueError), (7, ValueError), (True, TypeError), (2.5, TypeError), ("640", TypeError)):
    with pytest.raises(error, match=f"max_points={bad!r}: use an int >= 8, or None for all trials"): GP(max_points=bad)
  assert GP(max_points=None).max_points is None and GP().max_points == DEFAULT_MAX_POINTS

def test_the_suite_budgets_are_below_the_default_threshold():
  # the suite's problems run at these budgets: below the threshold the GP is exact, so their results are unchanged
  assert max(PROBLEMS[p].budget for p in SUITE) <= DEFAULT_MAX_POINTS

SPACE = Space({"x": Float(-2.0, 3.0), "y": Float(0.0, 1.0)})
def f(p: dict) -> float: return (p["x"] - 0.7) ** 2 + 3 * (p["y"] - 0.2) ** 2 + 0.1 * np.sin(5 * p["x"])

def run(strategy: GP, n: int, start: list[Trial] | None = None) -> list[Trial]:
  trials = list(start or [])
  with warnings.catch_warnings():
    warnings.simplefilter("error", GPFallbackWarning)
    for _ in range(n):
      p = strategy.suggest(SPACE, trials, 1, seed=3)[0]
      trials.append(Trial(len(trials), p, TrialState.COMPLETE, f(p)))
  return trials

def test_exact_gp_up_to_max_points_identical_suggestions():
  # the same study, suggestion by suggestion, with the threshold at 8 and with no threshold: identical up to n = 8
  # (the last suggestion is made with 8 complete trials), then the subset GP fits on 8 rows, the exact one on all
  a, b = run(GP(max_points=8), 9), run(GP(max_points=None), 9)
  assert [t.params for t in a] == [t.params for t in b]
  assert [t.params for t in run(GP(), 9)] == [t.params for t in b]

def test_above_max_points_the_model_is_fitted_on_the_subset():
  strategy = GP(max_points=8)
  trials = run(strategy, 14)
  h = History.of(SPACE, trials[:-1])  # the history of the last suggestion
  model = strategy._model
  keep = fit_subset(h.X, -h.y, 8)
  assert model.n == 8 and np.array_equal(model.X, h.X[keep])
  assert len(trials) == 14 and len({SPACE.key(t.params) for t in trials}) == 14

def test_failed_trials_beyond_an_eighth_are_conditioned_on_the_most_recent(monkeypatch):
  rng = np.random.default_rng(1)
  trials = [Trial(i, p, TrialState.FAILED if i % 2 else TrialState.COMPLETE, None if i % 2 else f(p))
            for i, p in enumerate(SPACE.decode_many(SPACE.sample(rng, 40)))]
  seen, inner = [], GPRegressor.condition
  def spy(self, X_new, y_new=None):
    seen.append(np.asarray(X_new).copy())
    return inner(self, X_new, y_new)
  monkeypatch.setattr(GPRegressor, "condition", spy)
  run(GP(max_points=16), 1, trials)
  assert np.array_equal(seen[0], History.of(SPACE, trials).X_failed[-2:])  # 16 // 8 = 2, the latest

@pytest.mark.slow
def test_a_3000_trial_study_suggests_new_points_on_the_default_subset():
  hartmann = PROBLEMS["hartmann6"]
  rng = np.random.default_rng(0)
  trials = [Trial(i, p, TrialState.COMPLETE, hartmann(p)) for i, p in enumerate(hartmann.space.decode_many(hartmann.space.sample(rng, 3000)))]
  strategy = GP(seed=0)
  t = time.perf_counter()
  with warnings.catch_warnings():
    warnings.simplefilter("error", GPFallbackWarning)
    out = strategy.suggest(hartmann.space, trials, 2, seed=0)
  print(f"3000-trial study: 2 suggestions (one cold fit) in {time.perf_counter() - t:.1f} s")
  assert strategy._model.n == DEFAULT_MAX_POINTS
  taken = {hartmann.space.key(t.params) for t in trials}
  assert len({hartmann.space.key(p) for p in out} - taken) == 2
  best = hartmann.space.encode(min(trials, key=lambda t: t.value).params)
  assert (strategy._model.X == best).all(1).any(), "the best trial is in the subset"
