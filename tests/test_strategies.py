"""Random and Grid: suggestions lie in the space, are deterministic in (seed, history), and Grid covers its grid once."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_space import st_space

import tinybo as tb
from tinybo.optimizer import resolve_strategy
from tinybo.strategies import History
from tinybo.trial import Trial, TrialState


def history(params, state=TrialState.COMPLETE):
  return [Trial(i, p, state, 1.0 if state == TrialState.COMPLETE else None) for i, p in enumerate(params)]

def small_space(draw_floats=True):
  d = {"n": tb.Int(0, 2), "c": tb.Categorical(["a", "b"]), "k": 3}
  if draw_floats: d["x"] = tb.Float(1e-3, 1.0, log=True)
  return tb.Space(d)

@settings(max_examples=60, deadline=None)
@given(st_space(), st.integers(0, 1000), st.integers(1, 6))
def test_random_suggestions_in_space_and_distinct(space, seed, n):
  r = tb.Random()
  prev = r.suggest(space, [], 3, seed=seed, minimize=True)
  hist = history(prev[:2]) + history(prev[2:], TrialState.PENDING)
  try: out = r.suggest(space, hist, n, seed=seed, minimize=True)
  except tb.SearchExhausted:  # only legitimate when the space has no more configurations than the history holds
    size = math.prod(tb.space.n_values(p) for p in space.params.values())
    assert len({space.key(p) for p in prev}) == size
    return
  for p in out: assert space.validate(p) == p  # valid, plain types, constants included
  keys = [space.key(p) for p in out]
  assert len(set(keys)) == len(keys) and not set(keys) & {space.key(p) for p in prev}
  assert r.suggest(space, hist, n, seed=seed, minimize=True) == out  # deterministic in (seed, history)

def test_random_seed_and_history_change_the_draw():
  s, r = small_space(), tb.Random()
  a = r.suggest(s, [], 4, seed=0, minimize=True)
  assert a == r.suggest(s, [], 4, seed=0, minimize=True)
  assert a != r.suggest(s, [], 4, seed=1, minimize=True)
  assert tb.Random(seed=1).suggest(s, [], 4, seed=0, minimize=True) == r.suggest(s, [], 4, seed=1, minimize=True)  # its own seed wins
  assert r.suggest(s, history(a[:1]), 1, seed=0, minimize=True) != a[:1]

def test_random_exhausts_a_finite_space_exactly_once():
  s, r, seen = small_space(draw_floats=False), tb.Random(), []
  while True:
    try: seen += r.suggest(s, history(seen), 4, seed=0, minimize=True)
    except tb.SearchExhausted: break
  assert len(seen) == 6 and len({s.key(p) for p in seen}) == 6

def grid_reference(space, ppf):
  """Independent reference: per-axis values from closed forms, then the product."""
  axes = []
  for p in space.params.values():
    steps = p.step if isinstance(p, tb.Int) or isinstance(p, tb.Float) and p.step is not None else None
    if isinstance(p, tb.Categorical): axes.append(list(p.choices))
    elif steps is not None and round((p.high - p.low) / steps) + 1 <= ppf:   # every value, as written: 0.25, not 0.25000000000000006
      axes.append([round(p.low + k * steps, 10) for k in range(round((p.high - p.low) / steps) + 1)])
    elif steps is not None and steps != 1:   # ppf of its values, evenly spread over its step indices (the cells of the encoding)
      n = round((p.high - p.low) / steps) + 1
      axes.append(list(dict.fromkeys(round(p.low + min(n - 1, math.floor(u * n)) * steps, 10) for u in np.linspace(0, 1, ppf))))
    elif isinstance(p, tb.Float): axes.append(list(np.geomspace(p.low, p.high, ppf) if p.log else np.linspace(p.low, p.high, ppf)))
    else: axes.append(list(dict.fromkeys(min(p.high, p.low + math.floor(u * (p.high - p.low + 1))) for u in np.linspace(0, 1, ppf))))
  return axes

@st.composite
def st_grid_space(draw):
  d = {}
  for i in range(draw(st.integers(1, 3))):
    kind = draw(st.sampled_from(["float", "logfloat", "int", "cat", "stepint", "stepfloat"]))
    lo = draw(st.integers(1, 50))
    if kind == "float": d[f"p{i}"] = tb.Float(lo - 25.5, lo + draw(st.integers(1, 40)))
    elif kind == "logfloat": d[f"p{i}"] = tb.Float(lo / 100, lo * draw(st.integers(2, 100)), log=True)
    elif kind == "int": d[f"p{i}"] = tb.Int(lo, lo + draw(st.integers(0, 3)))
    elif kind == "stepint": d[f"p{i}"] = tb.Int(lo, lo + 4 * draw(st.integers(1, 6)), step=4)
    elif kind == "stepfloat": d[f"p{i}"] = tb.Float(lo / 4, lo / 4 + 0.25 * draw(st.integers(1, 8)), step=0.25)
    else: d[f"p{i}"] = tb.Categorical(list("abcd")[:draw(st.integers(1, 4))])
  if draw(st.booleans()): d["const"] = "fixed"
  return tb.Space(d)

@settings(max_examples=40, deadline=None)
@given(st_grid_space(), st.integers(2, 4), st.integers(1, 5))
def test_grid_covers_every_combination_once(space, ppf, batch):
  g, seen = tb.Grid(points_per_float=ppf), []
  while True:
    try: out = g.suggest(space, history(seen), batch, seed=0, minimize=True)
    except tb.SearchExhausted: break
    assert 1 <= len(out) <= batch
    for p in out: assert space.validate(p) == p
    seen += out
  axes = grid_reference(space, ppf)
  assert len(seen) == math.prod(len(a) for a in axes) == g.size(space)
  assert len({space.key(p) for p in seen}) == len(seen)  # each exactly once
  ref = list(itertools.product(*axes))
  got = sorted(tuple(p[k] for k in space.names) for p in seen)
  for a, b in zip(sorted(ref), got): assert all(x == y if isinstance(x, str) else math.isclose(x, y, rel_tol=1e-12) for x, y in zip(a, b)), (a, b)
  assert seen == list(g.points(space))  # deterministic row-major order

def test_grid_skips_pending_and_observed_and_order():
  s, g = tb.Space({"a": tb.Int(0, 1), "b": tb.Categorical(["x", "y"])}), tb.Grid()
  order = [{"a": 0, "b": "x"}, {"a": 0, "b": "y"}, {"a": 1, "b": "x"}, {"a": 1, "b": "y"}]
  assert g.suggest(s, [], 4, seed=0, minimize=True) == order
  hist = history([order[0]]) + history([order[2]], TrialState.PENDING)
  assert g.suggest(s, hist, 4, seed=0, minimize=True) == [order[1], order[3]]
  with pytest.raises(tb.SearchExhausted, match="all 4 grid points"): g.suggest(s, history(order), 1, seed=0, minimize=True)
  with pytest.raises(ValueError, match="points_per_float"): tb.Grid(points_per_float=1)
  with pytest.raises(ValueError, match="points_per_float=True"): tb.Grid(points_per_float=True)

def test_grid_takes_a_numpy_integer_as_its_int():
  # it said "Grid(points_per_float=np.int64(3)): needs an int >= 2"
  s = tb.Space({"x": tb.Float(0.0, 1.0), "lr": tb.Float(1e-4, 1e-1, log=True)})
  g = tb.Grid(points_per_float=np.int64(3))
  assert type(g.points_per_float) is int and list(g.points(s)) == list(tb.Grid(3).points(s)) and g.size(s) == 9

def test_grid_float_points_include_the_bounds():
  s = tb.Space({"lr": tb.Float(1e-4, 1e-1, log=True)})
  assert [p["lr"] for p in tb.Grid(4).points(s)] == [1e-4, pytest.approx(1e-3), pytest.approx(1e-2), 1e-1]

def test_resolve_strategy():
  assert isinstance(resolve_strategy("random"), tb.Random) and isinstance(resolve_strategy("GRID"), tb.Grid)
  g = tb.Grid(3)
  assert resolve_strategy(g) is g and isinstance(g, tb.Strategy)
  with pytest.raises(ValueError, match="unknown strategy 'bayes'"): resolve_strategy("bayes")
  with pytest.raises(TypeError, match="no suggest"): resolve_strategy(42)

def test_resolve_gp():
  assert isinstance(resolve_strategy("gp"), tb.GP) and isinstance(resolve_strategy("GP"), tb.GP) and callable(resolve_strategy("gp").suggest)

def test_history_reads_each_trial_once_into_encoded_rows():
  space = tb.Space({"x": tb.Float(0, 1), "c": tb.Categorical(["a", "b"])})
  p = [{"x": 0.1, "c": "a"}, {"x": 0.2, "c": "b"}, {"x": 0.3, "c": "a"}, {"x": 0.4, "c": "b"}, {"x": 0.5, "c": "a"}]
  trials = [Trial(0, p[0], TrialState.COMPLETE, 1.5), Trial(1, p[1], TrialState.FAILED), Trial(2, p[2], TrialState.PENDING),
            Trial(3, p[3], TrialState.COMPLETE, math.nan), Trial(4, p[4], TrialState.COMPLETE, "oops"),
            Trial(5, {"x": 7.0, "c": "a"}, TrialState.PENDING),      # no longer fits the space (an edited study): only counted
            Trial(6, {"x": 0.6, "c": "b"}, TrialState.COMPLETE, -2.0)]
  h = History.of(space, trials)
  np.testing.assert_array_equal(h.X, space.encode_many([p[0], {"x": 0.6, "c": "b"}])); np.testing.assert_array_equal(h.y, [1.5, -2.0])
  np.testing.assert_array_equal(h.X_failed, space.encode_many([p[1]])); np.testing.assert_array_equal(h.X_pending, space.encode_many([p[2]]))
  np.testing.assert_array_equal(h.X_other, space.encode_many(p[1:5]))
  assert h.taken == {space.key(q) for q in p + [{"x": 0.6, "c": "b"}]} and h.n_trials == 7 and h.n_pending == 2
  empty = History.of(space, [])
  assert empty.X.shape == (0, space.dim) and empty.y.shape == (0,) and not empty.taken

def test_a_failure_is_bad_here_only_where_every_trial_at_its_configuration_failed():
  # a failed trial run again (a requeue's copy: after Ctrl-C, or a crash the user retried) told nothing about its
  # configuration; failed twice there, or alone, it did
  space = tb.Space({"x": tb.Float(0, 1)})
  a, b, c, d = ({"x": v} for v in (0.1, 0.2, 0.3, 0.4))
  F, P, C = TrialState.FAILED, TrialState.PENDING, TrialState.COMPLETE
  trials = [Trial(0, a, F), Trial(1, a, P),                          # queued again: pending, no failure
            Trial(2, b, F), Trial(3, b, C, 2.0),                     # run again with a result
            Trial(4, c, F), Trial(5, c, F),                          # failed again: both say "bad here"
            Trial(6, d, C, 1.0), Trial(7, d, F)]                     # a rerun of a complete one crashed: the value stands
  h = History.of(space, trials)
  np.testing.assert_array_equal(h.X_failed, space.encode_many([c, c]))
  np.testing.assert_array_equal(h.X_pending, space.encode_many([a]))
  np.testing.assert_array_equal(h.y, [2.0, 1.0])
  assert History.of(space, trials[:1]).X_failed.shape == (1, 1)   # a failure alone is one

@pytest.mark.parametrize("strategy", ["gp", "random", "grid"])
def test_an_exhausted_space_with_pending_trials_says_they_are_pending(strategy):
  # a batch took every configuration and most still run: "have been tried" alone read as if their results were in
  opt = tb.Optimizer(tb.Space({"a": tb.Int(1, 2), "b": tb.Categorical(["x", "y"])}), strategy=strategy, seed=0)
  batch = opt.suggest(10)
  assert len(batch) == 4
  opt.observe(batch[0], 1.0)
  with pytest.raises(tb.SearchExhausted) as e: opt.suggest()
  assert "\n" not in str(e.value) and "all 4" in str(e.value) and "have been tried or are pending (3 pending)" in str(e.value)
  for t in batch[1:]: opt.observe(t, 2.0)
  with pytest.raises(tb.SearchExhausted) as e: opt.suggest()
  assert "have been tried;" in str(e.value) and "pending" not in str(e.value)

def test_seeds_that_share_their_low_32_bits_give_different_sequences():
  # seeds were reduced to 32 bits: seed=0 and seed=2**32 (or -1 and 2**32 - 1) gave one study, while seeds up to ±2**63
  # are accepted; a seed below 2**32 keeps the sequence it always had
  import tinybo as tb
  from tinybo.strategies import history_rng, seed32, seed_words
  assert seed_words(7) == [7] and seed32(7) == 7 and seed_words(None) == [0]
  assert np.array_equal(history_rng(7, 3, salt=1).random(4), np.random.default_rng([1, 7, 3]).random(4))
  assert len({tuple(seed_words(s)) for s in (0, 2**32, -1, 2**32 - 1, -2**63, 2**63 - 1)}) == 6
  space = {"x": tb.Float(0, 1), "y": tb.Float(0, 1)}
  for strategy in ("random", "gp"):
    runs = {}
    for seed in (0, 2**32, -1, 2**32 - 1):
      opt = tb.Optimizer(space, strategy=strategy, seed=seed)
      runs[seed] = [tuple(t.params.values()) for t in opt.suggest(3)]
    assert len(set(map(tuple, runs.values()))) == 4, strategy
