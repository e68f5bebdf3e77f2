"""Inferring the tree of a define-by-run space from its trials: which parameter exists under which parent values.

A define-by-run objective (Optuna's `if classifier == "svm": C = trial.suggest_float("C", ...)`) never declares its
tree; its finished trials show it. `infer_conditions(rows, params)` reads the parameter sets of those trials (rows) and
returns tinybo `when=` conditions that reproduce every row:

- A parameter present in every row is unconditional.
- A parameter n present in some rows only is conditioned on one or more parents q. A parent is an Int or Categorical
  parameter with at most MAX_PARENT_VALUES values, present in every row that has n and in some row that lacks n (so a
  sibling that always appears together with n is never its parent, and conditions cannot form a cycle). n exists when
  q takes one of the values it takes in the rows that have n: `when={q: [those values]}`.
- The condition must explain every row: a row where each chosen parent is present with one of its listed values has n.
  Parents are chosen greedily: first the one that leaves the fewest rows unexplained, on ties the one present in the
  fewest rows (the nearest ancestor), then the one with the fewest values, then the one seen first; more are added
  until no row is left unexplained.
- A parameter that no such condition explains (it comes and goes at random, or depends on a float or a wide int) is
  left out of the tree, and so are the parameters that needed it as a parent: the caller samples them independently.

The listed values are those the rows show: a parent value never yet seen together with n does not activate n, until a
row shows that it does and the next inference includes it. Values compare by type and value, as a Categorical's choices
do: 1, True and 1.0 are three values.

A proposal over the inferred tree can still hold a parameter the objective will not ask for: after one row of an "rf"
trial, `depth` looks unconditional, and a proposal of classifier "knn" would carry a depth. `vouched(proposal, rows,
params)` keeps only what the rows vouch for: a parameter n stays when, for every possible parent q suggested before it
(an Int or Categorical as above, first in the rows that have both), some row with n shows q's proposed value (a
categorical) or a value on each side of it (an int); a parameter after a dropped possible parent is dropped too. What is
dropped the caller samples independently, and the next rows show where it belongs.
Holds: infer_conditions, vouched, can_be_parent, MAX_PARENT_VALUES. Imports: space (the parameter types, _plain) only.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tinybo.space import Categorical, Float, Int, _plain, n_values

MAX_PARENT_VALUES = 32  # a wider int (units in 16..512) has a distinct value in nearly every row and "explains" anything

def _n_values(p: Float | Int | Categorical) -> int:   # space.n_values, with 0 for a Float (never a condition's parent)
  return 0 if isinstance(p, Float) else int(n_values(p))

def _key(v: Any) -> tuple:
  """A value as compared here: by type and value, as tinybo.space keys a Categorical's choices (1, True and 1.0 are
  equal in Python, and `in` or dict.fromkeys would merge them); numpy scalars as the Python values they hold."""
  v = _plain(v)
  return type(v), v

def _distinct(values: Iterable) -> list:
  """The values in first-seen order, each once by `_key`, each as first seen."""
  out: dict[tuple, Any] = {}
  for v in values: out.setdefault(_key(v), v)
  return list(out.values())

def can_be_parent(p: Float | Int | Categorical) -> bool:
  """Whether another parameter may be conditioned on p: an Int or Categorical with 2..MAX_PARENT_VALUES values."""
  return isinstance(p, (Int, Categorical)) and 2 <= _n_values(p) <= MAX_PARENT_VALUES

def _explain(n: str, rows: Sequence[Mapping[str, Any]], present: Mapping[str, frozenset], params: Mapping, first: Mapping[str, int]) -> dict | None:
  """The condition of n as {parent: [values]}, or None when no parent explains where n appears."""
  with_n = present[n]
  if not with_n: return None   # never seen: nothing to explain it with
  cands = [q for q in present if q != n and can_be_parent(params[q]) and present[q] > with_n]
  allowed = {q: _distinct(rows[i][q] for i in sorted(with_n)) for q in cands}
  keys = {q: {_key(v) for v in vals} for q, vals in allowed.items()}
  holds = lambda q, i: i in present[q] and _key(rows[i][q]) in keys[q]
  chosen: dict[str, list] = {}
  left = [i for i in range(len(rows)) if i not in with_n]   # rows without n that the condition so far would activate n in
  while left:
    ranked = sorted((sum(holds(q, i) for i in left), len(present[q]), _n_values(params[q]), first[q], q) for q in cands if q not in chosen)
    if not ranked or ranked[0][0] == len(left): return None   # no parent explains one more row
    q = ranked[0][-1]
    chosen[q] = allowed[q]
    left = [i for i in left if holds(q, i)]
  return chosen

def infer_conditions(rows: Sequence[Mapping[str, Any]], params: Mapping[str, Float | Int | Categorical]) -> tuple[dict[str, dict], set[str]]:
  """rows: each finished trial's values, {name: value} with only the parameters it has (values as `params` takes them:
  ints, floats, categorical choices); params: every parameter seen. Returns ({child: {parent: [values]}}, left out): the
  conditions, and the names that no condition explains (see the module docstring for the rule)."""
  first = {}
  for r in rows:
    for k in r: first.setdefault(k, len(first))
  first = {k: first.get(k, len(first) + i) for i, k in enumerate(params)}
  left_out: set[str] = set()
  while True:  # leaving a parent out changes its children's candidates: infer again until nothing more is left out
    present = {k: frozenset(i for i, r in enumerate(rows) if k in r) for k in params if k not in left_out}
    conds, unexplained = {}, set()
    for k in present:
      if len(present[k]) == len(rows): continue
      when = _explain(k, rows, present, params, first)
      if when is None: unexplained.add(k)
      else: conds[k] = when
    if not unexplained: return conds, left_out
    left_out |= unexplained

def _before(rows: Sequence[Mapping[str, Any]], q: str, n: str) -> bool:
  """Whether q was suggested before n: in the first row that has both (a define-by-run objective suggests a parent before
  its children), True when none has both (nothing rules it out)."""
  for r in rows:
    if q in r and n in r:
      for k in r:
        if k in (q, n): return k == q
  return True

def vouched(proposal: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], params: Mapping[str, Float | Int | Categorical]) -> dict:
  """The part of a proposal (a configuration of the inferred tree) that the rows vouch for; rows in suggestion order."""
  keep = dict(proposal)
  changed = True
  while changed:   # a dropped parameter may drop the ones after it: until nothing changes
    changed = False
    for n in list(keep):
      for q, v in proposal.items():
        if q == n or not can_be_parent(params[q]) or not _before(rows, q, n): continue
        seen = [r[q] for r in rows if n in r and q in r]
        ok = q in keep and (_key(v) in {_key(s) for s in seen} if isinstance(params[q], Categorical)
                            else bool(seen) and min(seen) <= v <= max(seen))
        if not ok:
          del keep[n]
          changed = True
          break
  return keep
