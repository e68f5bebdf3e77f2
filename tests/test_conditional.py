"""Conditional parameters: random trees of conditions, checked against an independent reference of what is active.

The reference (`ref_active`) reads the definition straight from the user's `when=` dicts as a fixed point (a parameter
exists when every parent it names exists and takes a listed value, or is a constant with a listed value), with no
dependency order and none of Space's code; every strategy, encoding and round trip is held to it.
"""
import csv
import dataclasses
import io
import itertools
import json
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import tinybo as tb
from tinybo.strategies import n_configs
from tinybo.trial import Trial, TrialState

# ***** a random tree of conditions, and the reference *****

PARENT_CHOICES = [["a", "b"], ["a", "b", "c"], [0, 1, 2], [True, False], ["x", None]]

def _same(a, b) -> bool:
  num = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
  return (type(a) is type(b) and a == b) or (num(a) and num(b) and a == b)

def domain(p) -> list:
  return list(p.choices) if isinstance(p, tb.Categorical) else list(range(p.low, p.high + 1, p.step))

@st.composite
def st_tree(draw, max_params=6, floats=True):
  """(space, spec): spec is name -> (param, when dict) as written. Parents are small Categoricals and Ints, children any
  type; chains up to depth 3, sometimes two parents, sometimes a condition on a constant that holds; the dict order is
  shuffled, so a child may come before its parent."""
  n = draw(st.integers(2, max_params))
  spec, depth = {}, {}
  for i in range(n):
    name = f"p{i}"
    kinds = ["float", "int", "cat"] if floats else ["int", "cat"]
    kind = draw(st.sampled_from(kinds))
    if kind == "float":   # log, linear, or with a step (an ordered discrete column, never a parent)
      form = draw(st.sampled_from(["log", "linear", "step"]))
      p = (tb.Float(1e-3, 10.0, log=True) if form == "log" else tb.Float(-1.0, 1.0, step=0.25) if form == "step"
           else tb.Float(-1.0, draw(st.sampled_from([1.0, 5.0]))))
    elif kind == "int":
      wide = draw(st.booleans())
      step = draw(st.sampled_from([1, 1, 3]))   # sometimes a step: its values are a parent's values too
      p = tb.Int(16, 512, log=True) if wide and floats else tb.Int(0, step * draw(st.integers(0, 3)), step=step)
    else: p = tb.Categorical(draw(st.sampled_from(PARENT_CHOICES)))
    parents = [q for q in spec if isinstance(spec[q][0], (tb.Int, tb.Categorical)) and depth[q] < 2 and len(domain(spec[q][0])) <= 4]
    when = {}
    if parents and draw(st.integers(0, 2)):
      for q in draw(st.lists(st.sampled_from(parents), min_size=1, max_size=2, unique=True)):
        dom = domain(spec[q][0])
        when[q] = draw(st.lists(st.sampled_from(dom), min_size=1, max_size=len(dom), unique_by=lambda v: (type(v), v)))
    spec[name] = (p, when)
    depth[name] = 1 + max((depth[q] for q in when), default=-1)
  mapping = {}
  if draw(st.booleans()):
    mapping["k"] = "on"
    name = draw(st.sampled_from(list(spec)))
    spec[name] = (spec[name][0], {**spec[name][1], "k": ["on", "off"]})
  for name in draw(st.permutations(list(spec))):
    p, when = spec[name]
    mapping[name] = dataclasses.replace(p, when=when)
  try: space = tb.Space(mapping)
  except ValueError as e:
    assume("can never be active" not in str(e))  # two parents whose own conditions exclude each other: a definition error
    raise
  return space, spec

def ref_active(space, spec, params) -> set:
  """The parameters that exist in `params`, by the definition, as a fixed point over the `when` dicts as written."""
  def holds(q, vals, active):
    if q in space.constants: return any(_same(space.constants[q], v) for v in vals)
    return q in active and q in params and any(_same(params[q], v) for v in vals)
  active, grew = set(), True
  while grew:
    grew = False
    for k, (_, when) in spec.items():
      if k not in active and all(holds(q, vals, active) for q, vals in when.items()): active.add(k); grew = True
  return active

def project(space, spec, full: dict) -> dict:
  """A full assignment of every parameter -> the valid configuration it stands for (inactive ones dropped)."""
  act = ref_active(space, spec, full)
  return {k: space.constants[k] if k in space.constants else full[k] for k in space.order if k in act or k in space.constants}

@st.composite
def st_tree_and_config(draw, **kw):
  space, spec = draw(st_tree(**kw))
  full = {}
  for k, p in space.params.items():
    full[k] = draw(st.sampled_from(tb.space.all_values(p)) if isinstance(p, tb.Float) and p.step is not None
                   else st.floats(p.low, p.high) if isinstance(p, tb.Float) else st.sampled_from(domain(p)) if isinstance(p, tb.Int)
                   else st.sampled_from(p.choices))
  return space, spec, project(space, spec, full)

def ref_configs(space, spec) -> list[dict]:
  """Every valid configuration of a space without floats: all assignments of every parameter, projected, deduplicated."""
  seen = {}
  for combo in itertools.product(*(domain(p) for p in space.params.values())):
    c = project(space, spec, dict(zip(space.names, combo)))
    seen.setdefault(tuple((k, type(v), v) for k, v in c.items()), c)
  return list(seen.values())

def ref_size(space) -> int: return math.prod(len(domain(p)) for p in space.params.values())

def check_exact(space, spec, p: dict) -> None:
  """p holds exactly the active parameters (by the reference) and the constants, and validates to itself."""
  assert set(p) - set(space.constants) == ref_active(space, spec, p), p
  assert set(space.constants) <= set(p)
  assert space.validate(p) == p

def history(params, state=TrialState.COMPLETE):
  return [Trial(i, p, state, 1.0 if state == TrialState.COMPLETE else None) for i, p in enumerate(params)]

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# ***** encoding *****

@settings(max_examples=200, **SETTINGS)
@given(st_tree_and_config())
def test_encode_decode_roundtrip_and_inactive_fill(stc):
  space, spec, params = stc
  check_exact(space, spec, params)
  x = space.encode(params)
  assert x.shape == (space.dim,) and np.all((x >= 0) & (x <= 1))
  out = space.decode(x)
  assert list(out) == list(params)
  for k, v in out.items():  # exact for everything discrete; floats to a few ulps (a log/exp round trip)
    if isinstance(space.params.get(k), tb.Float): assert math.isclose(v, params[k], rel_tol=1e-12, abs_tol=1e-12), (k, v, params[k])
    else: assert v == params[k] and type(v) is type(params[k]), (k, v, params[k])
  for k, p in space.params.items():
    c = space.columns[k]
    if k not in params: assert np.array_equal(x[c], np.zeros(c.stop - c.start) if isinstance(p, tb.Categorical) else [0.5])
  assert np.array_equal(space.active_mask(x[None])[0], np.concatenate([np.full(c.stop - c.start, k in params) for k, c in space.columns.items()]))
  discrete = [i for i, k in enumerate(space.names) if not isinstance(space.params[k], tb.Float)]
  assert [space.key(out)[i] for i in discrete] == [space.key(params)[i] for i in discrete]

@settings(max_examples=150, **SETTINGS)
@given(st_tree(), st.integers(0, 2**32 - 1))
def test_round_is_idempotent_valid_and_keeps_the_configuration(tree, seed):
  space, spec = tree
  rng = np.random.default_rng(seed)
  X = np.concatenate([rng.random((6, space.dim)), rng.uniform(-0.5, 1.5, (3, space.dim)), np.zeros((1, space.dim)), np.ones((1, space.dim))])
  R = space.round(X)
  assert np.all((R >= 0) & (R <= 1)) and np.array_equal(space.round(R), R)   # idempotent, exactly
  configs = space.decode_many(R)
  assert configs == space.decode_many(X)
  for p in configs: check_exact(space, spec, p)
  assert np.allclose(space.encode_many(configs), R, atol=1e-12)            # the rounded point is the configuration's encoding
  M = space.active_mask(R)
  for row, p in zip(M, configs):
    assert all(row[space.columns[k]].all() == (k in p) for k in space.names)
  assert np.array_equal(R[~M], np.broadcast_to(space.inactive_fill, R.shape)[~M])

@settings(max_examples=100, **SETTINGS)
@given(st_tree(), st.integers(0, 2**32 - 1))
def test_sample_and_neighbors_are_valid_trees(tree, seed):
  space, spec = tree
  X = space.sample(np.random.default_rng(seed), 32)
  assert np.array_equal(space.round(X), X)
  configs = space.decode_many(X)
  for p in configs: check_exact(space, spec, p)
  base = configs[0]
  N = space.neighbors(X[0])
  discrete = lambda p: isinstance(p, tb.Int) or isinstance(p, tb.Float) and p.step is not None  # noqa: E731 - a step down and up
  expect = sum(len(p.choices) - 1 if isinstance(p, tb.Categorical) else (base[k] > p.low) + (base[k] < p.high) if discrete(p) else 0
               for k, p in space.params.items() if k in base)
  assert N.shape == (expect, space.dim)
  for row in N:
    q = space.decode(row)
    check_exact(space, spec, q)
    changed = [k for k in space.names if k in q and k in base and (type(q[k]), q[k]) != (type(base[k]), base[k])]
    assert len(changed) == 1 and (discrete(space.params[changed[0]]) or isinstance(space.params[changed[0]], tb.Categorical))  # one active step

def test_sample_draws_children_only_when_their_parent_allows():
  s = tb.Space({"opt": tb.Categorical(["sgd", "adam", "rmsprop"]), "m": tb.Float(0.0, 0.99, when={"opt": ["sgd", "rmsprop"]}),
                "n": tb.Int(1, 4), "w4": tb.Int(16, 512, log=True, when={"n": 4})})
  ps = s.decode_many(s.sample(np.random.default_rng(0), 30000))
  assert np.mean(["m" in p for p in ps]) == pytest.approx(2 / 3, abs=0.01)
  assert all(("m" in p) == (p["opt"] != "adam") for p in ps) and all(("w4" in p) == (p["n"] == 4) for p in ps)
  m = np.array([p["m"] for p in ps if "m" in p])
  assert np.mean(m) == pytest.approx(0.495, abs=0.01) and m.min() < 0.01 and m.max() > 0.98  # uniform where active

# ***** counting and branches *****

@settings(max_examples=100, **SETTINGS)
@given(st_tree(max_params=5, floats=False))
def test_count_matches_brute_force(tree):
  space, spec = tree
  assume(ref_size(space) <= 5000)
  ref = ref_configs(space, spec)
  assert n_configs(space) == space.count() == len(ref)

@settings(max_examples=100, **SETTINGS)
@given(st_tree(), st.integers(0, 2**32 - 1))
def test_branches_cover_every_active_set_and_sample_on_each(tree, seed):
  space, spec = tree
  branches = space.branches()
  assert branches is not None  # small trees always have few branches
  rng = np.random.default_rng(seed)
  seen = {frozenset(k for k in p if k in space.params) for p in space.decode_many(space.sample(rng, 400))}
  assert seen <= {b.active for b in branches}
  for b in branches:
    assert np.array_equal(b.mask, np.concatenate([np.full(c.stop - c.start, k in b.active) for k, c in space.columns.items()]))
    X = space.sample(rng, 20, branch=b)
    for p in space.decode_many(X):
      check_exact(space, spec, p)
      assert frozenset(k for k in p if k in space.params) == b.active and all(any(_same(p[q], v) for v in vals) for q, vals in b.values.items())
    assert (space.active_mask(X) == b.mask).all()
  if not any(isinstance(p, tb.Float) or (isinstance(p, tb.Int) and p.high - p.low > 3) for p in space.params.values()) and ref_size(space) <= 5000:
    assert {frozenset(k for k in c if k in space.params) for c in ref_configs(space, spec)} == {b.active for b in branches}

def test_count_and_branches_of_a_wide_int_parent_without_enumerating_it():
  s = tb.Space({"n": tb.Int(0, 10**9), "c": tb.Categorical(["a", "b", "c"], when={"n": [3, 4]}), "d": tb.Int(0, 9, when={"n": 4})})
  assert s.count() == (10**9 + 1 - 2) + 3 + 3 * 10
  assert s.branches() is None   # the "every other n" branch has too many values to list
  s = tb.Space({"n": tb.Int(1, 8), "w": tb.Int(1, 3, when={"n": [5, 6, 7, 8]}), "v": tb.Float(0, 1, when={"n": [8]})})
  bs = s.branches()
  assert [(sorted(b.active), b.values) for b in bs] == [(["n", "w"], {"n": (5, 6, 7)}), (["n", "v", "w"], {"n": (8,)}), (["n"], {"n": (1, 2, 3, 4)})]

def test_a_space_without_conditions_is_one_branch():
  s = tb.Space({"x": tb.Float(0, 1), "c": tb.Categorical(["a", "b"])})
  (b,) = s.branches()
  assert b.active == {"x", "c"} and b.values == {} and b.mask.all() and s.active({"x": 0.5, "c": "a"}) == {"x", "c"}

# ***** strategies: every suggestion holds exactly the active parameters *****

@settings(max_examples=80, **SETTINGS)
@given(st_tree(), st.integers(0, 1000), st.integers(1, 5))
def test_random_suggestions_hold_exactly_the_active_parameters(tree, seed, n):
  space, spec = tree
  r = tb.Random()
  prev = r.suggest(space, [], 3, seed=seed, minimize=True)
  hist = history(prev[:2]) + history(prev[2:], TrialState.PENDING)
  try: out = r.suggest(space, hist, n, seed=seed, minimize=True)
  except tb.SearchExhausted:
    assert len({space.key(p) for p in prev}) == space.count()
    return
  for p in prev + out: check_exact(space, spec, p)
  keys = [space.key(p) for p in out]
  assert len(set(keys)) == len(keys) and not set(keys) & {space.key(p) for p in prev}
  assert r.suggest(space, hist, n, seed=seed, minimize=True) == out

@settings(max_examples=80, **SETTINGS)
@given(st_tree(max_params=5), st.sampled_from([2, 3]))
def test_grid_enumerates_each_valid_combination_once(tree, ppf):
  space, spec = tree
  flat = tb.Space({k: dataclasses.replace(p, when=None) for k, p in space.params.items()})
  g = tb.Grid(points_per_float=ppf)
  assume(g.size(flat) <= 3000)
  # the reference: each parameter's axis from the unconditional grid of the same parameters (tested against closed forms in
  # test_strategies), an Int parent's axis joined with the values its children's conditions name (so every branch is
  # reached), every combination projected onto the active parameters
  axes = {k: list(dict.fromkeys(p[k] for p in g.points(tb.Space({k: flat.params[k]})))) for k in flat.names}
  for _, when in spec.values():
    for q, vals in when.items():
      if isinstance(space.params.get(q), tb.Int): axes[q] = sorted(set(axes[q]) | set(vals))
  ref = {space.key(project(space, spec, dict(zip(flat.names, c)))) for c in itertools.product(*axes.values())}
  pts = list(g.points(space))
  for p in pts: check_exact(space, spec, p)
  keys = [space.key(p) for p in pts]
  assert len(keys) == len(set(keys)) == g.size(space) and set(keys) == ref

@settings(max_examples=30, **SETTINGS)
@given(st_tree(max_params=4, floats=False), st.sampled_from(["random", "grid"]))
def test_random_and_grid_exhaust_a_conditional_space_exactly_once(tree, name):
  space, spec = tree
  assume(ref_size(space) <= 2000 and space.count() <= 150)
  strategy, seen = tb.Grid() if name == "grid" else tb.Random(), []
  while True:
    try: seen += strategy.suggest(space, history(seen), 7, seed=0, minimize=True)
    except tb.SearchExhausted: break
  for p in seen: check_exact(space, spec, p)
  assert len({space.key(p) for p in seen}) == len(seen) == len(ref_configs(space, spec))

GP_SPACES = {
  "optimizer": {"opt": tb.Categorical(["sgd", "adam"]), "lr": tb.Float(1e-4, 1.0, log=True), "m": tb.Float(0.0, 0.99, when={"opt": "sgd"}),
                "nesterov": tb.Categorical([False, True], when={"opt": "sgd"}), "epochs": 3},
  "chain3": {"a": tb.Categorical(["x", "y"]), "b": tb.Int(0, 2, when={"a": "x"}), "c": tb.Categorical(["u", "v"], when={"b": [1, 2]}),
             "d": tb.Float(0, 1, when={"c": "v"}), "e": tb.Int(1, 64, log=True, when={"a": "y"})},
}

@pytest.mark.slow
@pytest.mark.parametrize("name", list(GP_SPACES))
def test_gp_suggestions_hold_exactly_the_active_parameters(name):
  from tinybo.bo import GPFallbackWarning
  space = tb.Space(GP_SPACES[name])
  spec = {k: (p, dict(p.when or ())) for k, p in space.params.items()}
  rng = np.random.default_rng(0)
  value = lambda p: float(sum(hash((k, str(v))) % 97 / 97 if not isinstance(v, float) else v ** 2 for k, v in p.items())) + rng.normal(0, 0.01)
  opt = tb.Optimizer(space, strategy=tb.GP(n_initial=4), seed=1)
  with warnings.catch_warnings():
    warnings.simplefilter("error", GPFallbackWarning)   # the model must work on the tree, not fall back to random
    for _ in range(7):
      t = opt.suggest()
      check_exact(space, spec, t.params)
      opt.observe(t, value(t.params))
    for t in opt.suggest(2): check_exact(space, spec, t.params)   # a batch: fantasized pending points too

@pytest.mark.slow
@settings(max_examples=2, **SETTINGS)
@given(st_tree(max_params=5), st.integers(0, 1000))
def test_gp_suggestions_on_random_trees(tree, seed):
  from tinybo.bo import GPFallbackWarning
  space, spec = tree
  rng = np.random.default_rng(seed)
  opt = tb.Optimizer(space, strategy=tb.GP(n_initial=3), seed=seed)
  with warnings.catch_warnings():
    warnings.simplefilter("error", GPFallbackWarning)
    for _ in range(5):
      try: t = opt.suggest()
      except tb.SearchExhausted: return   # a tiny discrete tree can run out
      check_exact(space, spec, t.params)
      opt.observe(t, float(rng.normal()))

# ***** definitions: the three forms, JSON, and the errors *****

def test_three_forms_define_the_same_space():
  a = tb.Space({"optimizer": tb.Categorical(["sgd", "adam"]), "momentum": tb.Float(0.0, 0.99, when={"optimizer": "sgd"}),
                "n_layers": tb.Int(1, 4), "units_3": tb.Int(16, 512, log=True, when={"n_layers": [3, 4]}), "epochs": 5})
  b = tb.Space.from_dict({"optimizer": {"type": "categorical", "values": ["sgd", "adam"]},
                          "momentum": {"type": "float", "min": 0, "max": 0.99, "when": {"optimizer": ["sgd"]}},
                          "n_layers": {"type": "int", "min": 1, "max": 4},
                          "units_3": {"type": "int", "min": 16, "max": 512, "log": True, "when": {"n_layers": [3, 4]}}, "epochs": 5})
  @dataclass
  class HP:
    optimizer: str = tb.Categorical(["sgd", "adam"])
    momentum: float = tb.Float(0.0, 0.99, when={"optimizer": "sgd"})
    n_layers: int = tb.Int(1, 4)
    units_3: int = tb.Int(16, 512, log=True, when={"n_layers": [3, 4]})
    epochs: int = 5
  c = tb.Space.from_dataclass(HP)
  assert a == b == c and a.to_json() == b.to_json() == c.to_json()
  assert a.conditions == {"momentum": {"optimizer": ("sgd",)}, "units_3": {"n_layers": (3, 4)}}
  assert tb.Space.from_json(a.to_json()) == a and tb.Space.from_json(a.to_json()).conditions == a.conditions
  assert json.loads(a.to_json())["params"]["momentum"]["when"] == {"optimizer": ["sgd"]}
  assert "when" not in json.loads(a.to_json())["params"]["optimizer"]
  assert repr(a.params["units_3"]) == "Int(16, 512, log=True, when={'n_layers': [3, 4]})"

def test_a_space_json_written_before_conditions_is_the_same_space():
  old = ('{"params": {"lr": {"type": "float", "min": 0.0001, "max": 0.1, "log": true}, "units": {"type": "int", "min": 16, "max": 256, '
         '"log": false}, "act": {"type": "categorical", "values": ["relu", "gelu"]}}, "constants": {"epochs": 5}, '
         '"order": ["lr", "units", "act", "epochs"]}')
  s = tb.Space.from_json(old)
  assert s.to_json() == old and not s.conditions
  assert s == tb.Space({"lr": tb.Float(1e-4, 0.1, log=True), "units": tb.Int(16, 256), "act": tb.Categorical(["relu", "gelu"]), "epochs": 5})

@settings(max_examples=100, **SETTINGS)
@given(st_tree())
def test_json_round_trip_of_random_trees(tree):
  space, spec = tree
  back = tb.Space.from_json(space.to_json())
  assert back == space and back.conditions == space.conditions and back.dependency_order == space.dependency_order
  X = space.sample(np.random.default_rng(0), 16)
  assert back.decode_many(X) == space.decode_many(X)

OK = {"opt": tb.Categorical(["sgd", "adam"]), "n": tb.Int(1, 4), "lr": tb.Float(1e-4, 1.0, log=True), "k": "adam"}

@pytest.mark.parametrize("extra, match", [
  ({"m": tb.Float(0, 1, when={"zz": "sgd"})}, "'m': condition on unknown parameter 'zz'; condition on one of \\['opt', 'n'\\]$"),  # not 'm', not 'lr'
  ({"m": tb.Float(0, 1, when={"opt": "sdg"})}, "'m': condition value 'sdg' is not one of the choices \\['sgd', 'adam'\\] of 'opt'"),
  ({"m": tb.Float(0, 1, when={"n": [3, 5]})}, "'m': condition value 5 is not a value of 'n' \\(an integer in \\[1, 4\\]\\)"),
  ({"m": tb.Float(0, 1, when={"n": 2.5})}, "'m': condition value 2.5 is not a value of 'n'"),
  ({"m": tb.Float(0, 1, when={"n": True})}, "'m': condition value True is not a value of 'n'"),
  ({"m": tb.Float(0, 1, when={"n": 10**400})}, "'m': condition value 1000+ is not a value of 'n'"),
  ({"m": tb.Float(0, 1, when={"lr": 0.01})}, "'m': condition on Float 'lr' is not supported.*Int or Categorical"),
  ({"m": tb.Float(0, 1, when={"m": 1})}, "'m' is conditioned on itself"),
  ({"m": tb.Float(0, 1, when={"k": "sgd"})}, "'m' can never be active: it needs 'k' in \\['sgd'\\], but 'k' is the constant 'adam'"),
  ({"a": tb.Int(0, 2, when={"b": 1}), "b": tb.Int(0, 2, when={"a": 1})}, "conditions form a cycle: 'a' needs 'b' needs 'a'"),
  ({"a": tb.Int(0, 2, when={"c": 1}), "b": tb.Int(0, 2, when={"a": 1}), "c": tb.Int(0, 2, when={"b": 1})},
   "conditions form a cycle: 'a' needs 'c' needs 'b' needs 'a'"),
  ({"b": tb.Int(0, 2, when={"opt": "sgd"}), "c": tb.Float(0, 1, when={"opt": "adam", "b": 1})},
   "'c' can never be active: the conditions on its path need 'opt' in \\[('adam'|'sgd')\\] and in \\[('adam'|'sgd')\\] at once"),
  ({"m": tb.Float(0, 1, when="opt")}, "'m': when='opt' is a str; use a dict"),
  ({"m": tb.Float(0, 1, when={"opt": {"sgd"}})}, "'m': the values of its condition on 'opt' are a set; use a list"),
  ({"m": tb.Float(0, 1, when={"opt": []})}, "'m': its condition on 'opt' lists no values"),
  ({"m": tb.Float(0, 1, when={"opt": [["sgd"]]})}, "'m': its condition on 'opt' lists \\['sgd'\\], a list; list the values of 'opt' in one flat"),
  ({"m": tb.Float(0, 1, when={1: "sgd"})}, "'m': condition on 1, a int; name the parent by its str name"),
])
def test_bad_conditions_are_one_line_errors_naming_the_parameter(extra, match):
  with pytest.raises((ValueError, TypeError), match=match) as e: tb.Space({**OK, **extra})
  assert "\n" not in str(e.value)

def test_conditions_take_the_values_of_a_numpy_array():
  # np.arange(2, 5) for "2, 3 or 4 layers", as Categorical takes an array of choices: they raised "unhashable type"
  a = tb.Space({**OK, "m": tb.Float(0, 1, when={"n": np.arange(2, 5), "opt": np.array(["adam"])})})
  b = tb.Space({**OK, "m": tb.Float(0, 1, when={"n": [2, 3, 4], "opt": "adam"})})
  assert a == b and a.conditions["m"] == {"n": (2, 3, 4), "opt": ("adam",)}
  assert all(type(v) is int for v in a.conditions["m"]["n"])

def test_an_unknown_parent_with_no_possible_parent_says_what_to_add():
  # the hint listed the parameter itself (and Floats), which are refused as parents
  with pytest.raises(ValueError, match="'b': condition on unknown parameter 'zz'; add an Int or Categorical parameter to condition on$"):
    tb.Space({"a": tb.Float(0, 1), "b": tb.Int(0, 3, when={"zz": 1})})

def test_bad_condition_in_the_dict_form():
  with pytest.raises(ValueError, match="'m': condition on unknown parameter 'o'"):
    tb.Space.from_dict({"opt": {"type": "categorical", "values": ["sgd"]}, "m": {"type": "float", "min": 0, "max": 1, "when": {"o": ["sgd"]}}})

def test_a_condition_on_a_constant_that_holds_is_always_met():
  s = tb.Space({"opt": "sgd", "m": tb.Float(0, 1, when={"opt": ["sgd", "nesterov"]})})
  assert s.validate({"m": 0.5}) == {"opt": "sgd", "m": 0.5} and s.count() == math.inf and s.branches()[0].active == {"m"}
  assert s.conditions == {"m": {"opt": ("sgd", "nesterov")}}

FLOAT_M = {**OK, "m": tb.Float(0, 1, when={"opt": "sgd"}), "d": tb.Float(0, 1, when={"n": [3, 4]})}
CHAIN_M = {**OK, "m": tb.Categorical([0.5, 1.0], when={"opt": "sgd"}), "e": tb.Int(0, 2, when={"m": 0.5})}

@pytest.mark.parametrize("mapping, params, match", [
  (FLOAT_M, {"opt": "adam", "n": 1, "lr": 0.01, "m": 0.5},
   "parameter 'm' is inactive here \\(it needs 'opt' in \\['sgd'\\], got opt='adam'\\); drop 'm'"),
  (FLOAT_M, {"opt": "sgd", "n": 1, "lr": 0.01}, "missing parameter 'm', active because opt='sgd'; give it a value"),
  (FLOAT_M, {"opt": "sgd", "n": 1, "lr": 0.01, "m": 0.5, "d": 0.1}, "parameter 'd' is inactive here \\(it needs 'n' in \\[3, 4\\], got n=1\\)"),
  (FLOAT_M, {"opt": "sgd", "n": 3, "lr": 0.01, "m": 0.5}, "missing parameter 'd', active because n=3"),
  (FLOAT_M, {"opt": "sgd", "n": 1, "lr": 0.01, "m": 2.0}, "'m': 2.0 is outside"),
  (CHAIN_M, {"opt": "adam", "n": 3, "lr": 0.01, "e": 1}, "parameter 'e' is inactive here \\('m' is inactive\\)"),
  (CHAIN_M, {"opt": "sgd", "n": 3, "lr": 0.01, "m": 0.5}, "missing parameter 'e', active because m=0.5"),
])
def test_params_must_hold_exactly_the_active_ones(mapping, params, match):
  with pytest.raises((ValueError, TypeError), match=match) as e: tb.Space(mapping).validate(params)
  assert "\n" not in str(e.value)

def test_active_reads_partial_define_by_run_params():
  s = tb.Space({"opt": tb.Categorical(["sgd", "adam"]), "m": tb.Categorical([0.0, 0.9], when={"opt": "sgd"}), "d": tb.Float(0, 1, when={"m": 0.9})})
  assert s.active({}) == {"opt"} and s.active({"opt": "sgd"}) == {"opt", "m"} and s.active({"opt": "sgd", "m": 0.9}) == {"opt", "m", "d"}
  assert s.active({"opt": "adam", "m": 0.9}) == {"opt"}
  with pytest.raises(ValueError, match="'opt': 'rmsprop' is not one of the choices"): s.active({"opt": "rmsprop"})

# ***** the study: storage, resume, observe/enqueue, CLI, plots *****

SPACE = {"optimizer": tb.Categorical(["sgd", "adam"]), "lr": tb.Float(1e-4, 1e-1, log=True),
         "momentum": tb.Float(0.0, 0.99, when={"optimizer": "sgd"}), "n_layers": tb.Int(1, 3),
         "width_2": tb.Int(8, 64, log=True, when={"n_layers": [2, 3]}), "epochs": 3}

def loss(p: dict) -> float:
  return (math.log10(p["lr"]) + 2) ** 2 + (1 - p.get("momentum", 0.5)) + 0.1 * p["n_layers"] + 0.001 * p.get("width_2", 0)

@settings(max_examples=25, **SETTINGS)
@given(st_tree(), st.sampled_from(["random", "grid"]))
def test_sqlite_round_trip_and_resume_of_random_trees(tmp_path_factory, tree, strategy):
  space, spec = tree
  path = str(tmp_path_factory.mktemp("cond") / "s.db")
  opt = tb.Optimizer(space, strategy=strategy, storage=path, seed=3)
  for _ in range(4):
    try: t = opt.suggest()
    except tb.SearchExhausted: break
    opt.observe(t, 1.0)
  again = tb.Optimizer(tb.Space.from_json(space.to_json()), strategy=strategy, storage=path, seed=3)
  assert [(t.id, t.params, t.value) for t in again.trials] == [(t.id, t.params, t.value) for t in opt.trials]
  for t in again.trials: check_exact(space, spec, t.params)

def test_observe_and_enqueue_reject_inactive_or_missing_and_change_nothing(tmp_path):
  opt = tb.Optimizer(SPACE, strategy="random", storage=str(tmp_path / "s.db"))
  opt.optimize(loss, n_trials=5, progress=False)
  before = [(t.id, t.params, t.state, t.value) for t in opt.trials]
  with pytest.raises(ValueError, match="'momentum' is inactive here"):
    opt.observe({"optimizer": "adam", "lr": 0.01, "momentum": 0.9, "n_layers": 1}, 1.0)
  with pytest.raises(ValueError, match="missing parameter 'width_2', active because n_layers=2"):
    opt.enqueue({"optimizer": "adam", "lr": 0.01, "n_layers": 2})
  assert [(t.id, t.params, t.state, t.value) for t in opt.trials] == before
  t = opt.observe({"optimizer": "adam", "lr": 0.01, "n_layers": 1}, 2.0)
  assert t.params == {"optimizer": "adam", "lr": 0.01, "n_layers": 1, "epochs": 3}
  q = opt.enqueue({"optimizer": "sgd", "lr": 0.01, "momentum": 0.5, "n_layers": 2, "width_2": 16})
  assert opt.suggest().params == q.params

@pytest.fixture(scope="module")
def cond_db(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("condcli") / "study.db")
  opt = tb.Optimizer(SPACE, strategy="random", storage=path, name="cond", seed=0)
  opt.optimize(loss, n_trials=24, progress=False)
  for opt_name in ("sgd", "adam"):  # both branches are present
    assert any(t.params["optimizer"] == opt_name for t in opt.trials)
  return path, opt

def test_show_and_export_leave_inactive_parameters_empty(cond_db, capsys):
  from tinybo.cli import main
  path, opt = cond_db
  trials = {t.id: t for t in opt.trials}
  assert main(["export", path, "--format", "csv"]) == 0
  rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
  assert len(rows) == 24
  for r in rows:
    t = trials[int(r["id"])]
    for k in SPACE:
      if k == "epochs": continue
      assert (r[k] == "") == (k not in t.params), (k, r, t.params)
  assert main(["export", path, "--format", "json"]) == 0
  body = json.loads(capsys.readouterr().out)
  for rec in body["trials"]:
    assert set(rec["params"]) == set(trials[rec["id"]].params) - {"epochs"}
  assert body["space"]["params"]["momentum"]["when"] == {"optimizer": ["sgd"]}
  assert main(["show", path]) == 0
  out = capsys.readouterr().out
  best = opt.best
  assert f"best: trial {best.id}, value {best.value:.6g}" in out
  assert ("momentum=" in out.splitlines()[-1]) == ("momentum" in best.params)
  header = next(line for line in out.splitlines() if line.startswith("id"))
  col = header.index("momentum")
  adam_rows = [line for line in out.splitlines() if line.split() and line.split()[0].lstrip("*").isdigit()
               and trials[int(line.split()[0].lstrip("*"))].params["optimizer"] == "adam"]
  assert adam_rows and all(line[col:col + 8].strip() == "" for line in adam_rows)

@pytest.mark.slow
def test_plots_handle_absent_parameters(cond_db, tmp_path):
  pytest.importorskip("matplotlib")
  from tinybo import plot
  _, opt = cond_db
  for out in (plot.history(opt, tmp_path / "h.png"), plot.importance(opt, tmp_path / "i.png"),
              plot.heatmap(opt, "lr", "momentum", tmp_path / "a.png"),         # a child: only the sgd trials are plotted
              plot.heatmap(opt, "optimizer", "momentum", tmp_path / "b.png")):  # parent x child: adam cells have no momentum
    with open(out, "rb") as f: assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  scores = plot.importance_scores(opt)
  assert set(scores) == set(opt.space.names) and math.isclose(sum(scores.values()), 1.0)

def test_ray_searcher_hands_out_and_takes_back_conditional_configs():
  pytest.importorskip("ray.tune")
  from tinybo.integrations.ray import TinyBOSearch
  space = tb.Space(SPACE)
  spec = {k: (p, dict(p.when or ())) for k, p in space.params.items()}
  default = {"optimizer": "adam", "lr": 0.001, "n_layers": 1}
  search = TinyBOSearch(space, metric="loss", mode="min", strategy="random", points_to_evaluate=[default])
  configs = [search.suggest(f"t{i}") for i in range(12)]
  assert configs[0] == {**default, "epochs": 3}
  for i, c in enumerate(configs):
    check_exact(space, spec, c)
    search.on_trial_complete(f"t{i}", {"loss": loss(c)})
  search.add_evaluated_point({"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "n_layers": 1}, 0.5)
  with pytest.raises(ValueError, match="'momentum' is inactive here"):
    search.add_evaluated_point({"optimizer": "adam", "lr": 0.01, "momentum": 0.9, "n_layers": 1}, 0.5)
  with pytest.raises(ValueError, match="missing parameter 'width_2'"):
    search.add_evaluated_point({"optimizer": "adam", "lr": 0.01, "n_layers": 2}, 0.5)

@pytest.mark.parametrize("values, kind", [((v for v in range(3)), "generator"), (iter([1, 2]), "list_iterator"), (map(int, "12"), "map")])
def test_a_generator_of_condition_values_asks_for_a_list(values, kind):
  # it was taken as one value and reported "condition value <generator object ...> is not a value of 'n'"
  with pytest.raises(TypeError) as e: tb.Space({**OK, "m": tb.Float(0, 1, when={"n": values})})
  msg = str(e.value)
  assert msg == f"parameter 'm': the values of its condition on 'n' are a {kind}; use a list such as when={{'n': [value, ...]}} " \
                "(it is used up by one reading)"
  assert tb.Space({**OK, "m": tb.Float(0, 1, when={"n": list(range(1, 3))})}).conditions["m"] == {"n": (1, 2)}   # the list it asks for works

@settings(max_examples=10, **SETTINGS)
@given(st_tree(max_params=5), st.integers(2, 12), st.integers(0, 3))
def test_recommend_anywhere_is_exact_on_any_tree(tree, n_obs, seed):
  # the tree-aware GP's mean maximized over a conditional space: active parameters only, each valid
  space, spec = tree
  rng = np.random.default_rng(seed)
  params = space.decode_many(space.sample(rng, n_obs))
  trials = [Trial(i, p, TrialState.COMPLETE, float(rng.normal())) for i, p in enumerate(params)]
  with warnings.catch_warnings():
    warnings.simplefilter("error", tb.GPFallbackWarning)
    got = tb.GP(noise=0.1).recommend_anywhere(space, trials, seed=seed)
  check_exact(space, spec, got)
