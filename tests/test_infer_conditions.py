"""Inferring a define-by-run tree from rows of parameter sets (tinybo/integrations/conditions.py): hand-worked trees, and
random trees whose sampled configurations must each validate against the inferred tree."""
import dataclasses

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_conditional import SETTINGS, st_tree

import tinybo as tb
from tinybo.integrations.conditions import MAX_PARENT_VALUES, can_be_parent, infer_conditions, vouched

PARAMS = {"clf": tb.Categorical(["svm", "rf", "knn"]), "x": tb.Float(0, 1), "C": tb.Float(1e-3, 1e3, log=True),
          "kernel": tb.Categorical(["lin", "rbf", "poly"]), "gamma": tb.Float(1e-4, 1, log=True), "degree": tb.Int(2, 5),
          "depth": tb.Int(1, 20), "k": tb.Int(1, 10), "n_layers": tb.Int(1, 4), "units_3": tb.Int(16, 512, log=True)}

def rows_of(*rows: str) -> list[dict]:
  """'clf=svm C kernel=rbf gamma' -> {"clf": "svm", "C": 1.0, "kernel": "rbf", "gamma": 1.0}: named values where they matter."""
  out = []
  for r in rows:
    d = {}
    for item in r.split():
      k, _, v = item.partition("=")
      d[k] = (int(v) if v.isdigit() else v) if v else 1.0
    out.append(d)
  return out

def used(rows: list[dict]) -> dict:
  """PARAMS restricted to the names the rows use (a name in no row has nothing to explain it: it is left out)."""
  return {k: p for k, p in PARAMS.items() if any(k in r for r in rows)}

def test_a_classifier_tree_with_a_chain_and_siblings():
  rows = rows_of("clf=svm x C kernel=rbf gamma", "clf=svm x C kernel=lin", "clf=rf x depth=3", "clf=knn x k=2",
                 "clf=svm x C kernel=poly gamma degree=3", "clf=rf x depth=9")
  conds, left_out = infer_conditions(rows, used(rows))
  assert not left_out
  # C and kernel are siblings under svm: neither is the other's parent; gamma's nearest explaining ancestor is kernel
  assert conds == {"C": {"clf": ["svm"]}, "kernel": {"clf": ["svm"]}, "gamma": {"kernel": ["rbf", "poly"]},
                   "degree": {"kernel": ["poly"]}, "depth": {"clf": ["rf"]}, "k": {"clf": ["knn"]}}
  # the rows as a tinybo space: every row holds exactly its active parameters
  space = tb.Space({k: dataclasses.replace(p, when=conds.get(k)) for k, p in used(rows).items()})
  for r in rows: assert space.validate(r) == r

def test_an_int_parent_lists_the_values_seen_and_grows_with_them():
  rows = rows_of("n_layers=3 units_3=64", "n_layers=1", "n_layers=2")
  assert infer_conditions(rows, used(rows)) == ({"units_3": {"n_layers": [3]}}, set())
  rows += rows_of("n_layers=4 units_3=128")          # a row shows n_layers=4 has units_3 too: the next inference includes it
  assert infer_conditions(rows, used(rows)) == ({"units_3": {"n_layers": [3, 4]}}, set())

def test_two_parents_when_one_does_not_explain():
  # degree exists for kernel=poly with clf=svm only; kernel alone does not explain it (a gp with kernel=poly has none)
  rows = rows_of("clf=svm kernel=poly degree=2", "clf=svm kernel=rbf", "clf=rf kernel=poly", "clf=rf kernel=lin")
  conds, left_out = infer_conditions(rows, used(rows))
  assert conds == {"degree": {"kernel": ["poly"], "clf": ["svm"]}} and not left_out

def test_what_no_parent_explains_is_left_out_with_its_children():
  # gamma comes and goes at random under one kernel value; degree hangs off gamma's presence only through kernel
  rows = rows_of("kernel=rbf gamma", "kernel=rbf", "kernel=lin", "kernel=rbf gamma")
  assert infer_conditions(rows, used(rows)) == ({}, {"gamma"})
  # a wide int never explains anything, though its values differ in every row
  rows = rows_of("units_3=17 C", "units_3=300", "units_3=20 C")
  assert infer_conditions(rows, used(rows)) == ({}, {"C"})
  assert not can_be_parent(PARAMS["units_3"]) and not can_be_parent(PARAMS["x"]) and can_be_parent(PARAMS["depth"])
  assert not can_be_parent(tb.Int(0, MAX_PARENT_VALUES)) and not can_be_parent(tb.Categorical(["only"]))

def test_no_rows_and_unconditional_rows():
  assert infer_conditions([], {}) == ({}, set())
  assert infer_conditions(rows_of("x"), {"x": PARAMS["x"], "C": PARAMS["C"]}) == ({}, {"C"})   # never seen: nothing explains it
  assert infer_conditions(rows_of("x clf=rf", "x clf=svm"), {"x": PARAMS["x"], "clf": PARAMS["clf"]}) == ({}, set())

def test_a_proposal_keeps_only_what_the_rows_vouch_for():
  # one rf row: depth looks unconditional, but nothing says it exists for knn, nor does x (suggested after classifier)
  rows = rows_of("clf=rf x depth=3")
  assert vouched({"clf": "knn", "x": 0.5, "depth": 4}, rows, PARAMS) == {"clf": "knn"}
  assert vouched({"clf": "rf", "x": 0.5, "depth": 4}, rows, PARAMS) == {"clf": "rf", "x": 0.5, "depth": 4}
  # a parameter suggested before the new value stays; after a dropped parent, its children go too
  rows = rows_of("x clf=svm C kernel=rbf gamma", "x clf=svm C kernel=lin")
  proposal = {"x": 0.1, "clf": "svm", "C": 1.0, "kernel": "poly", "gamma": 1.0}
  assert vouched(proposal, rows, PARAMS) == {"x": 0.1, "clf": "svm", "C": 1.0, "kernel": "poly"}
  # an int parent: values between the ones seen with the child are vouched for, values outside are not
  rows = rows_of("n_layers=1 depth=5", "n_layers=3 depth=5")
  assert vouched({"n_layers": 2, "depth": 6}, rows, PARAMS) == {"n_layers": 2, "depth": 6}
  assert vouched({"n_layers": 4, "depth": 6}, rows, PARAMS) == {"n_layers": 4}

@settings(max_examples=150, **SETTINGS)
@given(st_tree(), st.integers(0, 2**32 - 1), st.integers(1, 40))
def test_every_row_of_a_random_tree_validates_against_the_inferred_tree(tree, seed, m):
  space, _ = tree
  rows = [{k: v for k, v in p.items() if k in space.params} for p in space.decode_many(space.sample(np.random.default_rng(seed), m))]
  seen = {k for r in rows for k in r}
  params = {k: dataclasses.replace(p, when=None) for k, p in space.params.items() if k in seen}
  conds, left_out = infer_conditions(rows, params)
  # the true parents always explain the rows, so nothing is left out
  assert not left_out
  for child, when in conds.items():
    for q, vals in when.items():
      assert can_be_parent(params[q]) and vals and all(any(r.get(q) == v and child in r for r in rows) for v in vals)
  inferred = tb.Space({k: dataclasses.replace(p, when=conds.get(k)) for k, p in params.items()})
  for r in rows: assert inferred.validate(r) == r and vouched(r, rows, params) == r   # a row vouches for itself

def test_values_equal_in_python_but_of_different_types_stay_apart():
  # 1 == True == 1.0 and 0 == False: `in` and dict.fromkeys merged them, so a row of a=True without x "contradicted"
  # x's condition a=1 and x was left out, or the inferred values lost a type; the tinybo space they go into keys
  # Categorical choices by (type, value), and is the reference: each row must hold exactly its active parameters
  params = {"a": tb.Categorical([1, True, 1.0, 0, False, "s"]), "x": tb.Float(0, 1), "y": tb.Float(0, 1)}
  cases = [(["a=1 x", "a=True", "a=s"], {"x": {"a": [1]}}),
           (["a=True x", "a=1 x", "a=1.0", "a=s"], {"x": {"a": [True, 1]}}),
           (["a=1.0 x", "a=1", "a=True"], {"x": {"a": [1.0]}}),
           (["a=0 x", "a=False y", "a=s"], {"x": {"a": [0]}, "y": {"a": [False]}})]
  for spec, expected in cases:
    rows = [{k: {"1": 1, "True": True, "1.0": 1.0, "0": 0, "False": False}.get(v, v) if v else 0.5
             for k, _, v in (item.partition("=") for item in r.split())} for r in spec]
    seen = {k: p for k, p in params.items() if any(k in r for r in rows)}
    conds, left_out = infer_conditions(rows, seen)
    assert not left_out and conds == expected, spec
    assert all([type(v) for v in conds[c]["a"]] == [type(v) for v in expected[c]["a"]] for c in expected), spec
    space = tb.Space({k: dataclasses.replace(p, when=conds.get(k)) for k, p in seen.items()})
    for r in rows: assert space.active(r) == set(r), (spec, r)
  # a proposal of a=True is not vouched for by rows that show x with a=1 only
  rows = [{"a": 1, "x": 0.5}, {"a": "s"}]
  assert vouched({"a": True, "x": 0.1}, rows, params) == {"a": True}
  assert vouched({"a": 1, "x": 0.1}, rows, params) == {"a": 1, "x": 0.1}
