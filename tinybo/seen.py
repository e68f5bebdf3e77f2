"""A wide categorical's untried choices as one column of the GP's input: to the model they are interchangeable.
Holds: `SeenChoices` (the map of space-encoded rows to the GP's narrower inputs), MIN_UNSEEN. Imports: numpy.

Why it is exact: a categorical's one-hot columns weigh ½ and share one lengthscale (kernels.py), so two rows are at
squared distance 1/ℓ² in that block when their choices differ and 0 when they agree: Hamming. A choice no modelled row
holds (observed, failed or pending) is at distance 1/ℓ² from every modelled row, whichever choice it is; so the posterior
at a query row does not depend on which unheld choice it takes. Such choices' columns are summed into one "unseen" column:
a query at any of them has a 1 there, 0 in the held choices' columns, and the same distances to every modelled row as in
the full one-hot block (two flipped bits: its unseen column and the row's choice). The GP's block is then |held| + 1
columns wide instead of K; the posterior, the fit and the lengthscale are the same up to the order of the kernel's sums.
What it does not hold for: two query rows with different unheld choices look equal to each other, so a joint posterior of
several query rows (pending points conditioned on) must see their choices as held: `of` takes the pending rows.
In a conditional space an inactive categorical's block is all zeros, and its unseen column is 0 there too (the block's
sum minus its held columns): the distances are the full block's again. The tree's map (tree.py) works on this map's
columns (`representative` gives their activity).
Glossary: d the space's columns, w the GP's (w ≤ d); column[d] the GP column that carries each space column (an unheld
choice's: its block's unseen column), so a gradient with respect to the GP's inputs pulls back as g[:, column] (the map
sums columns) and per column lengthscales map back as ls[column].
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# a block is mapped only when at least this many of its choices are unheld: the map saves columns in proportion to them,
# and every mapped layout sums the kernel's distances in another order than the space's (last-bit differences), so a
# narrow categorical keeps its one-hot block as it was
MIN_UNSEEN = 16

@dataclass(frozen=True)
class SeenChoices:
  """The map of one space and one set of held choices. `source[w]`: the space column each GP column copies, −1 for an
  unseen column (the last of its block: the sum of the block's unheld columns); `categorical`: the GP's one-hot blocks,
  `blocks` the space's block of each;
  `names`: the mapped categoricals, `held` and `unheld` their choices (indices) of each kind."""
  d: int
  source: np.ndarray
  column: np.ndarray
  categorical: list[slice]
  blocks: list[slice]
  names: tuple[str, ...]
  held: tuple[np.ndarray, ...]
  unheld: tuple[np.ndarray, ...]

  @staticmethod
  def of(space, X_held: np.ndarray) -> SeenChoices | None:
    """The map for a space whose rows X_held[n, d] (every modelled row: observed, failed, pending) hold their choices
    (an inactive block holds none); None where no categorical has MIN_UNSEEN unheld choices (the GP sees the space's columns)."""
    if not space.cat_groups: return None
    X_held = np.asarray(X_held, dtype=np.float64).reshape(-1, space.dim)
    held = (X_held > 0.5).any(0) if len(X_held) else np.zeros(space.dim, dtype=bool)
    names = [k for k in space.params if space.columns[k] in space.cat_groups and (~held[space.columns[k]]).sum() >= MIN_UNSEEN]
    if not names: return None
    blocks = [space.columns[k] for k in names]
    source, unseen, categorical, c = [], [], [], 0   # unseen: per unseen column, the space columns it sums
    for b in sorted(space.cat_groups, key=lambda s: s.start):
      source += list(range(c, b.start))
      cols = np.arange(b.start, b.stop)
      if b in blocks:
        kept = cols[held[cols]]
        categorical.append(slice(len(source), len(source) + len(kept) + 1))
        source += list(kept) + [-1]
        unseen.append(cols[~held[cols]])
      else:
        categorical.append(slice(len(source), len(source) + len(cols)))
        source += list(cols)
      c = b.stop
    source += list(range(c, space.dim))
    source_a = np.array(source, dtype=np.int64)
    column = np.zeros(space.dim, dtype=np.int64)
    column[source_a[source_a >= 0]] = np.flatnonzero(source_a >= 0)
    for j, w in enumerate(np.flatnonzero(source_a < 0)): column[unseen[j]] = w
    return SeenChoices(space.dim, source_a, column, categorical, sorted(space.cat_groups, key=lambda s: s.start), tuple(names),
                       tuple(np.flatnonzero(held[space.columns[k]]) for k in names), tuple(np.flatnonzero(~held[space.columns[k]]) for k in names))

  @property
  def width(self) -> int: return len(self.source)

  @functools.cached_property
  def representative(self) -> np.ndarray:
    """[w]: a space column standing for each GP column: its source, an unseen column's first unheld choice (a column of
    the same block, active where the block is: what an activity mask needs)."""
    out = self.source.copy()
    for j in np.flatnonzero(out < 0): out[j] = np.flatnonzero(self.column == j)[0]
    return out

  def __call__(self, X: np.ndarray) -> np.ndarray:
    """The GP's inputs [m, w] of space-encoded rows X[m, d] (valid rows: one 1 in each active block, all zeros in an
    inactive one). An unseen column is the block's sum (1, or 0 where inactive) minus its held columns: exactly its
    unheld columns' sum."""
    X = np.asarray(X, dtype=np.float64)
    out = X[..., np.maximum(self.source, 0)]
    for b, whole in zip(self.categorical, self.blocks):   # a mapped block's unseen column is its last
      if self.source[b.stop - 1] < 0: out[..., b.stop - 1] = X[..., whole].sum(-1) - out[..., b.start:b.stop - 1].sum(-1)
    return out

  def to_width(self, D: int) -> Callable[[np.ndarray], np.ndarray]:
    """This map with its rows zero-padded to D ≥ width columns (the GP's bucket, whose padding columns are zero too:
    they add no distance), so every layout in one bucket replays one captured acquisition program, not one per width."""
    if D < self.width: raise ValueError(f"D={D}: pad to at least the map's width {self.width}")
    return lambda X: np.pad(self(X), [(0, 0)] * (np.ndim(X) - 1) + [(0, D - self.width)])

  def lengthscales(self, ls: np.ndarray) -> np.ndarray:
    """Per space column lengthscales [d] from the GP's per input column ones [w] (a block's columns share one)."""
    return np.asarray(ls)[self.column]

  def pull(self, g: np.ndarray) -> np.ndarray:
    """A gradient [m, d] with respect to the space's columns from one [m, w] with respect to the GP's inputs."""
    return np.asarray(g)[..., self.column]

  def takes_unheld(self, X: np.ndarray) -> np.ndarray:
    """Per row of X[m, d], whether it takes a choice this map counts as unheld."""
    return self(X)[..., self.source < 0].sum(-1) > 0 if (self.source < 0).any() else np.zeros(len(X), dtype=bool)

  def inverse(self, Z: np.ndarray) -> np.ndarray:
    """The space-encoded rows [m, d] of GP inputs Z[m, w] that take held choices only (a modelled row's)."""
    Z = np.asarray(Z, dtype=np.float64)
    out, kept = np.zeros(Z.shape[:-1] + (self.d,)), self.source >= 0
    out[..., self.source[kept]] = Z[..., kept]
    return out

  def switches(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per mapped categorical, the choices (indices) a local search switches a point to: the held ones and one unheld
    one drawn at random, which stands for them all (which unheld choice a point takes is the model's coin to toss)."""
    return {k: np.append(h, u[rng.integers(len(u))]) for k, h, u in zip(self.names, self.held, self.unheld)}
