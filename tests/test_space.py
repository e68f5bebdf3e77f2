"""Space: the exact encoding every strategy shares, checked against closed forms and by hypothesis round trips."""
import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tinybo as tb
from tinybo.space import CAT, FLOAT, INT, Float, Int, Space, n_steps, step_values

# ***** hypothesis generators: any space, and a valid configuration of it *****

@st.composite
def st_param(draw):
  kind = draw(st.sampled_from(["float", "int", "cat", "stepped"]))
  log = draw(st.booleans())
  if kind == "stepped":   # a float with a step, written as a user would: decimal bounds and step
    step = draw(st.sampled_from([0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 1e-5]))
    lo = draw(st.integers(-10000, 10000)) / 100 * draw(st.sampled_from([1, 1, 1, 1e-2, 1e2, 1e4, 1e6]))   # bounds large against the step too
    p = tb.Float(lo, float(np.round(lo + draw(st.integers(1, 200)) * step, 7)), step=step)
    try: tb.Space({"p": p})
    except ValueError as e:   # a step below float precision, or too few floats between the bounds, at bounds of 1e8: refused
      assume("below float precision" not in str(e) and "distinct float64 values" not in str(e)); raise
    return p
  if kind == "float":
    lo = draw(st.floats(1e-6, 1e6) if log else st.floats(-1e6, 1e6))
    hi = draw(st.floats(1e-6, 1e6) if log else st.floats(-1e6, 1e6))
    lo, hi = min(lo, hi), max(lo, hi)
    assume(hi - lo > 1e-6 * max(abs(lo), abs(hi), 1e-3))
    return tb.Float(lo, hi, log=log)
  if kind == "int":
    lo = draw(st.integers(1, 1000) if log else st.integers(-1000, 1000))
    step = 1 if log else draw(st.sampled_from([1, 1, 2, 3, 32]))
    return tb.Int(lo, lo + step * draw(st.integers(0, 1000 // step)), log=log, step=step)
  return tb.Categorical(draw(st.lists(st.one_of(st.text(max_size=4), st.integers(-5, 5), st.booleans()), min_size=1, max_size=5,
                                      unique_by=lambda c: (type(c), c))))

@st.composite
def st_space(draw, max_params=5):
  names = draw(st.lists(st.text("abcdefgh", min_size=1, max_size=4), min_size=1, max_size=max_params, unique=True))
  d = {n: draw(st_param()) for n in names}
  if draw(st.booleans()): d["const"] = draw(st.one_of(st.integers(), st.text(max_size=3), st.none()))
  return tb.Space(d)

def stepped(p) -> bool: return isinstance(p, tb.Float) and p.step is not None

def st_value(p):
  if stepped(p): return st.integers(0, n_steps(p)).map(lambda k: p.low + k * p.step)   # unrounded: 0.1 + 2 * 0.1 = 0.30000000000000004
  if isinstance(p, tb.Float): return st.floats(p.low, p.high)
  if isinstance(p, tb.Int): return st.integers(0, (p.high - p.low) // p.step).map(lambda k: p.low + k * p.step)
  return st.sampled_from(p.choices)

@st.composite
def st_space_and_params(draw):
  space = draw(st_space())
  return space, {**{k: draw(st_value(p)) for k, p in space.params.items()}, **space.constants}

def assert_same_config(space, a, b):
  assert list(a) == list(b)
  for k in a:
    p = space.params.get(k)
    if isinstance(p, tb.Float) and not stepped(p): assert math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-9 * (p.high - p.low)), (k, a[k], b[k])
    else: assert a[k] == b[k] and type(a[k]) is type(b[k]), (k, a[k], b[k])

# ***** properties *****

@settings(max_examples=150, deadline=None)
@given(st_space_and_params())
def test_encode_decode_roundtrip(sp):
  space, params = sp
  x = space.encode(params)
  assert x.shape == (space.dim,) and np.all((x >= 0) & (x <= 1))
  out = space.decode(x)
  assert_same_config(space, out, space.validate(params))
  for k, v in out.items():
    if k in space.params: assert type(v) in (float, int, str, bool, type(None)), (k, type(v))

@settings(max_examples=150, deadline=None)
@given(st_space(), st.integers(0, 2**32 - 1))
def test_cube_roundtrip_and_round(space, seed):
  rng = np.random.default_rng(seed)
  X = np.concatenate([rng.random((4, space.dim)), rng.uniform(-0.5, 1.5, (2, space.dim)), np.zeros((1, space.dim)), np.ones((1, space.dim))])
  R = space.round(X)
  assert np.all((R >= 0) & (R <= 1))
  discrete = space.kinds != FLOAT
  assert np.array_equal(space.round(R)[:, discrete], R[:, discrete]) and np.allclose(space.round(R), R, atol=1e-12)  # idempotent
  configs = space.decode_many(R)
  assert configs == space.decode_many(X)        # rounding never changes the configuration a point stands for
  E = space.encode_many(configs)                # and the rounded point is the encoding of that configuration
  assert np.array_equal(E[:, discrete], R[:, discrete]) and np.allclose(E, R, atol=1e-9)
  for g in space.cat_groups: assert np.all(R[:, g].sum(1) == 1.0)

@settings(max_examples=60, deadline=None)
@given(st_space(), st.integers(0, 2**32 - 1))
def test_sample_is_valid_and_neighbors(space, seed):
  X = space.sample(np.random.default_rng(seed), 16)
  assert X.shape == (16, space.dim)
  assert np.allclose(space.round(X), X)
  for p in space.decode_many(X): space.validate(p)
  N = space.neighbors(X[0])
  n_expect = sum(len(p.choices) - 1 if isinstance(p, tb.Categorical) else 0 for p in space.params.values())
  n_expect += sum((v > p.low) + (v < p.high) for k, p in space.params.items() if isinstance(p, tb.Int) or stepped(p) for v in [space.decode(X[0])[k]])
  assert N.shape == (n_expect, space.dim)
  base = space.decode(X[0])
  for row in N:  # each neighbour differs from x in exactly one parameter
    q = space.decode(row)
    assert sum((type(q[k]), q[k]) != (type(base[k]), base[k]) for k in space.names) == 1  # type too: 1 == True
  # in order: parameter by parameter, an int one step down then up, a categorical's other choices as listed
  expect = []
  for k, p in space.params.items():
    if isinstance(p, tb.Int): expect += [{**base, k: v} for v in (base[k] - p.step, base[k] + p.step) if p.low <= v <= p.high]
    elif stepped(p):   # a step down, a step up: the values a user writes (0.35, not 0.35000000000000003)
      i = round((base[k] - p.low) / p.step)
      expect += [{**base, k: float(step_values(p, np.array([j]))[0])} for j in (i - 1, i + 1) if 0 <= j <= n_steps(p)]
    elif isinstance(p, tb.Categorical): expect += [{**base, k: c} for c in p.choices if not (type(c) is type(base[k]) and c == base[k])]
  got = space.decode_many(N)
  assert len(got) == len(expect)
  for g, e in zip(got, expect): assert_same_config(space, g, e)
  # with max_int_values, the ints of more values take no unit step; the rest stay as they were, in order
  narrow = [row for row, e in zip(N, expect) if all(not (isinstance(p, tb.Int) or stepped(p)) or e[k] == base[k] or tb.space.n_values(p) <= 3
                                                    for k, p in space.params.items())]
  np.testing.assert_array_equal(space.neighbors(X[0], max_int_values=3), np.array(narrow).reshape(-1, space.dim))

# ***** closed forms *****

def test_int_slices_closed_form():
  s = tb.Space({"n": tb.Int(3, 7)})  # 5 integers, each owns 1/5 of [0, 1]
  for v in range(3, 8): assert s.encode({"n": v})[0] == pytest.approx((v - 3 + 0.5) / 5)
  for k in range(5):
    for u in (k / 5 + 1e-9, (k + 0.5) / 5, (k + 1) / 5 - 1e-9): assert s.decode([u])["n"] == 3 + k
  assert s.decode([0.0])["n"] == 3 and s.decode([1.0])["n"] == 7

def test_log_int_closed_form():
  s = tb.Space({"u": tb.Int(16, 256, log=True)})
  lo, hi = math.log(15.5), math.log(256.5)
  for v in (16, 17, 100, 255, 256): assert s.encode({"u": v})[0] == pytest.approx((math.log(v) - lo) / (hi - lo))
  assert s.decode([0.0])["u"] == 16 and s.decode([1.0])["u"] == 256
  assert s.decode([(math.log(63.6) - lo) / (hi - lo)])["u"] == 64 and s.decode([(math.log(64.4) - lo) / (hi - lo)])["u"] == 64

def test_float_closed_form_and_exact_bounds():
  s = tb.Space({"lr": tb.Float(1e-4, 1e-1, log=True), "d": tb.Float(-1.0, 3.0)})
  assert s.encode({"lr": 1e-2, "d": 0.0}) == pytest.approx([2 / 3, 0.25])
  assert s.decode([0.0, 0.0]) == {"lr": 1e-4, "d": -1.0} and s.decode([1.0, 1.0]) == {"lr": 1e-1, "d": 3.0}
  assert s.decode([0.5, 0.5])["lr"] == pytest.approx(10 ** -2.5)

def test_layout_kinds_columns_onehot():
  s = tb.Space({"a": tb.Float(0, 1), "c": tb.Categorical(["x", "y", "z"]), "epochs": 5, "n": tb.Int(0, 3), "one": tb.Categorical(["only"])})
  assert s.names == ["a", "c", "n", "one"] and s.constants == {"epochs": 5} and s.dim == 6
  assert s.columns == {"a": slice(0, 1), "c": slice(1, 4), "n": slice(4, 5), "one": slice(5, 6)}
  assert s.kinds.tolist() == [FLOAT, CAT, CAT, CAT, INT, CAT] and s.cat_groups == [slice(1, 4), slice(5, 6)]
  x = s.encode({"a": 0.5, "c": "y", "n": 1, "one": "only", "epochs": 5})
  assert x.tolist() == [0.5, 0.0, 1.0, 0.0, 0.375, 1.0]
  assert s.decode(x) == {"a": 0.5, "c": "y", "epochs": 5, "n": 1, "one": "only"} and list(s.decode(x)) == ["a", "c", "epochs", "n", "one"]

def test_single_value_params_are_constant_columns():
  s = tb.Space({"i": tb.Int(4, 4), "c": tb.Categorical([7])})
  X = s.sample(np.random.default_rng(0), 5)
  assert np.all(X == X[0]) and s.decode(X[0]) == {"i": 4, "c": 7} and len(s.neighbors(X[0])) == 0

def test_sample_distribution():
  s = tb.Space({"lr": tb.Float(1e-4, 1.0, log=True), "n": tb.Int(0, 4), "c": tb.Categorical(list("abcd"))})
  ps = s.decode_many(s.sample(np.random.default_rng(0), 20000))
  assert np.median(np.log10([p["lr"] for p in ps])) == pytest.approx(-2.0, abs=0.05)  # log-uniform: median at the geometric middle
  assert np.bincount([p["n"] for p in ps], minlength=5) / 20000 == pytest.approx([0.2] * 5, abs=0.015)
  assert {p["c"] for p in ps} == set("abcd")

# ***** construction forms and serialization *****

def test_from_dict_and_json():
  s = tb.Space.from_dict({"lr": {"type": "float", "min": 1e-4, "max": 0.1, "log": True}, "units": {"type": "int", "min": 16, "max": 256},
                          "act": {"type": "categorical", "values": ["relu", "gelu"]}, "epochs": 5})
  assert s == tb.Space({"lr": tb.Float(1e-4, 0.1, log=True), "units": tb.Int(16, 256), "act": tb.Categorical(["relu", "gelu"]), "epochs": 5})
  assert tb.Space.from_json(s.to_json()) == s and s != tb.Space({"lr": tb.Float(1e-4, 0.1)})
  with pytest.raises(ValueError, match="'lr'.*unknown type"): tb.Space.from_dict({"lr": {"type": "real", "min": 0, "max": 1}})
  with pytest.raises(ValueError, match="'lr'.*needs 'min' and 'max'"): tb.Space.from_dict({"lr": {"type": "float", "min": 0}})

def test_json_is_stable_for_unserializable_constants():
  class Model: pass
  a, b = tb.Space({"x": tb.Float(0, 1), "m": Model(), "f": np.float32(0.5)}), tb.Space({"x": tb.Float(0, 1), "m": Model(), "f": np.float32(0.5)})
  assert a.to_json() == b.to_json() and a == b  # two instances (or two processes) give the same identity: no memory addresses
  assert tb.Space.from_json(a.to_json()).constants["f"] == 0.5

def test_from_dataclass():
  @dataclass
  class HP:
    lr: float = tb.Float(1e-4, 1e-1, log=True)
    act: str = tb.Categorical(["relu", "gelu"])
    epochs: int = 5
  s = tb.Space.from_dataclass(HP)
  assert s.names == ["lr", "act"] and s.constants == {"epochs": 5}
  hp = HP(**s.decode(s.sample(np.random.default_rng(0), 1)[0]))
  assert 1e-4 <= hp.lr <= 1e-1 and hp.epochs == 5
  @dataclass
  class Bad:
    lr: float
  with pytest.raises(ValueError, match="field 'lr'.*no default"): tb.Space.from_dataclass(Bad)
  with pytest.raises(TypeError, match="dataclass"): tb.Space.from_dataclass(dict)

# ***** errors: one line, naming the parameter and the fix *****

@pytest.mark.parametrize("param, match", [
  (tb.Float(1.0, 1.0), "'p': Float needs low < high, got low=1.0, high=1.0; for the one value 1.0, use the constant 'p': 1.0"),
  (tb.Float(2.0, 1.0), "'p': Float needs low < high.*swap them"),
  (tb.Float(-1.0, -0.9999999999999), r"'p': Float\(-1.0, -0.9999999999999\) holds only 902 distinct float64 values; .*\(x \+ 1.0\)"),
  (tb.Float(1.0, 1.0000000000000002, log=True), "holds only 2 distinct float64 values"),
  # from zero an offset "x - -0.0" (or "x - 0.0") is no fix: the few values are subnormal, a scale is
  (tb.Float(-0.0, 5e-324), r"'p': Float\(-0.0, 5e-324\) holds only 2 distinct float64 values; widen it, search a scaled value \(x / 5e-324\)"),
  (tb.Float(0.0, 1e-320), r"holds only 2025 distinct float64 values; widen it, search a scaled value \(x / 1e-320\)"),
  (tb.Float(0.0, 1.0, log=True), "'p': log=True needs low > 0"), (tb.Int(0, 10, log=True), "'p': log=True needs low > 0"),
  (tb.Int(5, 1), "'p': Int needs low <= high"), (tb.Categorical([]), "'p': Categorical needs at least one choice"),
  (tb.Categorical(["a", "a"]), "'p': choices must be distinct"), (tb.Float(0, float("inf")), "'p': Float bounds must be finite"),
  (tb.Int(0, 10**400), r"'p': Int bounds must lie within ±\(2\*\*52 - 1\).*, got 0, 1000"),  # an int float() overflows on: no OverflowError
  (tb.Float(0.0, 1.0, step=0.3), r"'p': high - low = 1.0 is not a multiple of step=0.3; use high=0.9 or a step that divides the range"),
  (tb.Float(0.1, 1.0, step=2.0), "'p': step=2.0 is larger than high - low = 0.9; use a smaller step"),
  (tb.Float(0.0, 1.0, step=0.0), r"'p': step=0.0; use a positive finite number such as step=0.1"),
  (tb.Float(0.0, 1.0, step=-0.1), "'p': step=-0.1; use a positive"), (tb.Float(0.0, 1.0, step=float("nan")), "'p': step=nan; use a positive"),
  (tb.Float(0.0, 1.0, step="0.1"), "'p': step='0.1' is a str; use a positive number"),
  (tb.Float(0.1, 1.0, log=True, step=0.1), "'p': step=0.1 with log=True: .*drop log=True or step"),
  (tb.Float(0.0, 1.0, step=1e-17), r"'p': step=1e-17 is below float precision at 1.0; use step >= 3.55e-12 or drop step"),
  (tb.Int(0, 100, step=32), "'p': high - low = 100 is not a multiple of step=32; use high=96 or a step that divides the range"),
  (tb.Int(0, 100, step=0), r"'p': step=0; an Int's step is a whole number >= 1, such as step=2"),
  (tb.Int(0, 100, step=2.5), r"'p': step=2.5; an Int's step is a whole number >= 1"), (tb.Int(0, 100, step="2"), "'p': step='2'; an Int"),
  (tb.Int(1, 9, step=2, log=True), "'p': step=2 with log=True: .*drop log=True or step"),
])
def test_bad_definitions(param, match):
  with pytest.raises((ValueError, TypeError), match=match) as e: tb.Space({"p": param})
  assert "\n" not in str(e.value)

@pytest.mark.parametrize("choices, match", [
  ({"relu", "gelu"}, "Categorical\\(\\{.*\\}\\): a set has no stable order .*; pass a list such as \\['gelu', 'relu'\\]"),
  (frozenset([3, 1]), "a frozenset has no stable order .*; pass a list such as \\[1, 3\\]"),
  ({1, "a"}, "a set has no stable order .*; pass a list of the choices"),
  (None, "Categorical\\(None\\): choices must be a list, e.g. Categorical\\(\\['a', 'b'\\]\\)"),
  (5, "Categorical\\(5\\): choices must be a list"),
])
def test_categorical_choices_must_be_an_ordered_collection(choices, match):
  # a set of strings iterates in another order in every process (hash randomization): a study resumed later found a
  # "different space", and seeds did not replay; None or a number raised "'NoneType' object is not iterable"
  with pytest.raises(TypeError, match=match) as e: tb.Categorical(choices)
  assert "\n" not in str(e.value)
  assert tb.Categorical({"b": 1, "a": 2}).choices == ("b", "a") and tb.Categorical(range(2)).choices == (0, 1)  # ordered: kept

@pytest.mark.parametrize("params, match", [
  ({"lr": 0.01}, "missing parameter 'act'"), ({"lr": 0.01, "act": "relu", "x": 1}, "unknown parameter 'x'"),
  ({"lr": 2.0, "act": "relu"}, "'lr': 2.0 is outside"), ({"lr": 0.01, "act": "elu"}, "'act': 'elu' is not one of the choices"),
  ({"lr": "big", "act": "relu"}, "'lr': 'big' is a str"), ({"lr": 0.01, "act": "relu", "n": 2.5}, "'n': 2.5 is not an integer"),
  ({"lr": 0.01, "act": "relu", "n": 99}, "'n': 99 is outside"), ({"lr": 0.01, "act": "relu", "epochs": 6}, "'epochs' is the constant 5"),
  ({"lr": float("nan"), "act": "relu"}, "'lr': nan is not finite"),
  ({"lr": 10**400, "act": "relu"}, "'lr': 1000+ is outside"), ({"lr": 0.01, "act": "relu", "n": -10**400}, "'n': -1000+ is outside"),
])
def test_bad_params(params, match):
  s = tb.Space({"lr": tb.Float(1e-4, 1e-1, log=True), "act": tb.Categorical(["relu", "gelu"]), "n": tb.Int(0, 3), "epochs": 5})
  params = {"n": 1, **params}
  with pytest.raises((ValueError, TypeError), match=match) as e: s.validate(params)
  assert "\n" not in str(e.value)

def test_validate_normalizes_types():
  s = tb.Space({"f": tb.Float(0, 10), "n": tb.Int(0, 10), "c": tb.Categorical([1, True, "1"])})
  out = s.validate({"f": np.float32(2.5), "n": np.int64(3), "c": True})
  assert out == {"f": 2.5, "n": 3, "c": True} and type(out["f"]) is float and type(out["n"]) is int and out["c"] is True
  assert s.validate({"f": 1, "n": 4.0, "c": 1})["c"] is not True  # 1 and True are different choices
  assert s.key({"f": 1, "n": 4.0, "c": 1}) != s.key({"f": 1, "n": 4.0, "c": True})

class _Float(float): pass   # a float subclass: `_validate_value`'s fast path takes exact floats and ints only
class _Int(int): pass

def _checked(p, v):
  from tinybo.space import _validate_value
  try: return ("ok", type(v := _validate_value("x", p, v)), v)
  except (ValueError, TypeError) as e: return (type(e), str(e).replace("_Float(", "").replace("_Int(", ""))

@settings(max_examples=300, deadline=None)
@given(st.floats(-1e6, 1e6), st.floats(0, 1e6), st.booleans(), st.one_of(st.floats(allow_nan=True, allow_infinity=True),
       st.floats(-2e6, 2e6)), st.sampled_from([None, 0.5, 0.25]))
def test_validating_a_float_is_the_same_on_the_fast_path_and_the_full_one(low, width, log, v, step):
  # the fast path (a plain float inside its bounds) against the full checks, which a float subclass takes
  if log: low, step = abs(low) + 1e-3, None
  if step is not None: width = math.floor(width / step) * step
  p = Float(low, low + width + (step or 1e-9), log=log, step=step) if step is None else Float(low, low + max(width, step), step=step)
  fast, full = _checked(p, v), _checked(p, _Float(v))
  assert fast == full and (fast[0] != "ok" or fast[1] is float)

@settings(max_examples=300, deadline=None)
@given(st.integers(-10**6, 10**6), st.integers(0, 10**4), st.integers(1, 7), st.integers(-2 * 10**6, 2 * 10**6))
def test_validating_an_int_is_the_same_on_the_fast_path_and_the_full_one(low, k, step, v):
  p = Int(low, low + k * step, step=step)
  fast, full = _checked(p, v), _checked(p, _Int(v))
  assert fast == full and (fast[0] != "ok" or fast[1] is int)

def test_constants_match_themselves_as_nan_and_as_numpy_scalars():
  # a nan constant made the space reject its own decoded configurations (nan != nan), and np.str_('relu') did not match
  # the constant 'relu' although parameters accept numpy scalars
  space = Space({"x": Float(0, 1), "clip": float("nan"), "act": "relu", "bn": True})
  p = space.decode(space.encode({"x": 0.5, "clip": float("nan"), "act": "relu", "bn": True}))
  assert math.isnan(space.validate(p)["clip"])
  assert space.validate({"x": 0.5, "clip": np.float64("nan"), "act": np.str_("relu"), "bn": np.True_})["act"] == "relu"
  with pytest.raises(ValueError, match="constant"): space.validate({"x": 0.5, "clip": 1.0, "act": "relu", "bn": True})

def test_int_ranges_whose_values_do_not_all_decode_to_themselves_are_errors():
  # Int(-(2**52 - 1), 2**52 - 1) decoded 27% of its values to a neighbour; Int(1, 1e15, log=True) 3%
  with pytest.raises(ValueError, match=r"range .* is over 2\*\*52"): Space({"n": Int(-(2**52 - 1), 2**52 - 1)})
  with pytest.raises(ValueError, match=r"log=True\) needs high <= 2\*\*46"): Space({"n": Int(1, 10**15, log=True)})
  rng = np.random.default_rng(0)
  for p in (Int(-(2**51), 2**51), Int(1, 2**46, log=True)):
    space = Space({"n": p})
    vals = np.unique(np.concatenate([rng.integers(p.low, p.high, 3000, endpoint=True), [p.low, p.low + 1, p.high - 1, p.high]]))
    X = space.encode_many([{"n": int(v)} for v in vals])
    assert [space.decode(x)["n"] for x in space.round(X)] == [int(v) for v in vals]

def test_validate_refuses_values_outside_a_narrow_or_tiny_range():
  # the tolerance scaled with the bounds' size, not the range's: 0.0 was accepted for Float(1e-15, 1e-3, log=True) and
  # 1e12 - 0.9 for Float(1e12, 1e12 + 1), each moved to the bound
  for p, bad in ((Float(1e-15, 1e-3, log=True), (0.0, 5e-16)), (Float(1e12, 1e12 + 1), (1e12 - 0.9, 1e12 + 1.9))):
    space = Space({"x": p})
    for v in bad:
      with pytest.raises(ValueError, match="outside"): space.validate({"x": v})
    X = space.round(space.sample(np.random.default_rng(0), 500))
    for x in X: space.validate(space.decode(x))   # every round trip still passes


# ***** a Float with a step: low, low + step, ..., high, searched as an ordered discrete column *****

def test_stepped_float_closed_form():
  s = tb.Space({"d": tb.Float(0.1, 1.0, step=0.1), "lr": tb.Float(1e-4, 1e-1, log=True)})
  p = s.params["d"]
  assert tb.space.all_values(p) == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]   # the decimals a user writes, exactly
  assert list(s.kinds) == [INT, FLOAT] and s.count() == math.inf and tb.space.n_values(p) == 10
  assert tb.Space({"d": tb.Float(0.0, 0.5, step=0.05), "n": tb.Int(1, 3)}).count() == 33
  # the encoding is Int(0, 9)'s: value k in the middle of cell k of 10; any point of a cell decodes to its value
  assert s.encode({"d": 0.3, "lr": 0.01})[0] == pytest.approx(2.5 / 10)
  assert [s.decode(np.array([u, 0.5]))["d"] for u in (0.0, 0.0999, 0.1, 0.55, 0.9999, 1.0)] == [0.1, 0.1, 0.2, 0.6, 1.0, 1.0]
  assert s.round(np.array([[0.33, 0.123]])) == pytest.approx(np.array([[0.35, 0.123]]))
  # float noise in a value is accepted and replaced by the step's own value; a value off the steps is an error
  assert s.validate({"d": 0.1 + 0.2, "lr": 0.01})["d"] == 0.3 and s.key({"d": 0.30000000000000004, "lr": 0.01}) == s.key({"d": 0.3, "lr": 0.01})
  with pytest.raises(ValueError, match=r"^parameter 'd': 0.35 is not one of the values 0.1 \+ k \* 0.1; use 0.3 or 0.4$"):
    s.validate({"d": 0.35, "lr": 0.01})
  assert repr(p) == "Float(0.1, 1.0, step=0.1)" and Float(0, 1, True) == Float(0, 1, log=True)   # log stays the third positional
  # serialization: the step is kept; a space without one writes the JSON it always wrote
  assert tb.Space.from_json(s.to_json()) == s and s != tb.Space({"d": tb.Float(0.1, 1.0), "lr": tb.Float(1e-4, 1e-1, log=True)})
  assert '"step"' not in tb.Space({"x": tb.Float(0, 1)}).to_json()
  assert tb.Space.from_dict({"d": {"type": "float", "min": 0.1, "max": 1.0, "step": 0.1}}) == tb.Space({"d": tb.Float(0.1, 1.0, step=0.1)})
  with pytest.raises(ValueError, match="condition on Float 'd' is not supported.*a stepped one too"):
    tb.Space({"d": tb.Float(0.1, 1.0, step=0.1), "e": tb.Float(0, 1, when={"d": 0.5})})

def test_stepped_float_with_large_bounds_against_its_step():
  # |low| / step ~ 1e7: the float error of high - low and of low + k * step is over a billionth of a step; still the lattice
  p = tb.Space({"a": tb.Float(-99.96, -99.95998, step=1e-05)}).params["a"]
  assert tb.space.all_values(p) == [-99.96, -99.95999, -99.95998]
  assert [tb.Space({"a": p}).validate({"a": v})["a"] for v in (-99.96 + 1e-05, -99.95999)] == [-99.95999, -99.95999]
  assert tb.Float(-99.96, -99.96 + 1e-05, step=1e-05).high == -99.96 + 1e-05 and n_steps(tb.Float(1e6, 1e6 + 1.0, step=1e-6)) == 1_000_000
  with pytest.raises(ValueError, match=r"^parameter 'a': -99.959995 is not one of the values -99.96 \+ k \* 1e-05; use -99.96 or -99.95999$"):
    tb.Space({"a": p}).validate({"a": -99.959995})
  # a step below float resolution at the bounds has no lattice to keep: refused, not rounded onto a wrong one
  with pytest.raises(ValueError, match=r"^parameter 'a': step=1e-13 is below float precision at 100.001; use step >= 3.55e-10 or drop step$"):
    tb.Space({"a": tb.Float(100.0, 100.001, step=1e-13)})

def test_stepped_float_neighbours_and_repeat_radius():
  s = tb.Space({"d": tb.Float(0.0, 0.5, step=0.05), "w": tb.Float(0.0, 10.0, step=0.001)})
  x = s.encode({"d": 0.0, "w": 5.0})
  assert s.decode_many(s.neighbors(x)) == [{"d": 0.05, "w": 5.0}, {"d": 0.0, "w": 4.999}, {"d": 0.0, "w": 5.001}]
  r = s.repeat_radius(1e-3)   # 10,001 values 1 / 10,001 apart: a neighbouring step is another configuration, never a repeat
  assert r[0] == 1e-3 and r[1] == pytest.approx(0.5 / 10_001)

def test_stepped_int_closed_form():
  s = tb.Space({"batch": tb.Int(32, 256, step=32), "opt": tb.Categorical(["sgd", "adam"]),
                "m": tb.Float(0, 1, when={"batch": [64, 128]})})
  p = s.params["batch"]
  assert tb.space.all_values(p) == [32, 64, 96, 128, 160, 192, 224, 256] and s.count() == math.inf and tb.space.n_values(p) == 8
  assert s.encode({"batch": 96, "opt": "sgd"})[0] == pytest.approx(2.5 / 8)   # Int(0, 7)'s encoding of the step index
  assert [s.decode(np.array([u, 1, 0, 0.5]))["batch"] for u in (0.0, 0.124, 0.125, 0.99, 1.0)] == [32, 32, 64, 256, 256]
  got = s.decode_many(s.neighbors(s.encode({"batch": 32, "opt": "adam"})))
  assert got == [{"batch": 64, "opt": "adam", "m": 0.5}, {"batch": 32, "opt": "sgd"}]   # a step up (m comes alive at its fill), the other choice
  with pytest.raises(ValueError, match=r"^parameter 'batch': 100 is not one of the values 32 \+ k \* 32; use 96 or 128$"):
    s.validate({"batch": 100, "opt": "sgd"})
  with pytest.raises(ValueError, match=r"condition value 100 is not a value of 'b' \(an integer in \[32, 256\] in steps of 32 from 32\)"):
    tb.Space({"b": tb.Int(32, 256, step=32), "m": tb.Float(0, 1, when={"b": [64, 100]})})
  # a condition on it: the tree's branches list only its values
  assert sorted(v for b in s.branches() for v in b.values.get("batch", ())) == [32, 64, 96, 128, 160, 192, 224, 256]
  assert tb.Space({"b": tb.Int(32, 256, step=32), "c": tb.Categorical(["x", "y"], when={"b": 64})}).count() == 9
  assert repr(p) == "Int(32, 256, step=32)" and tb.Int(0, 8) == tb.Int(0, 8, step=1) and '"step"' not in tb.Space({"n": tb.Int(0, 8)}).to_json()
  assert tb.Space.from_json(s.to_json()) == s
  assert tb.Space.from_dict({"b": {"type": "int", "min": 32, "max": 256, "step": 32}}) == tb.Space({"b": tb.Int(32, 256, step=32)})
  assert tb.Space({"n": tb.Int(0, 10**6, step=1000)}).repeat_radius(1e-3) == pytest.approx(0.5 / 1001)
