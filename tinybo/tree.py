"""The GP's view of a conditional space (`tb.GP(conditional="tree")`): an input map under which an inactive parameter adds
no noise to the distance between two configurations, and the posterior over space-encoded query points that applies it.
Holds: `TreeInputs` (the map: numpy for the fit, tinygrad for the acquisition), `TreePosterior`, `BranchOptimism` (the
acquisition's bonus for little-tried choices of the tree, each weighed by `activated_weights`), ARC, WEIGH_BY_ACTIVATED, CAP_AT_PRIOR.
Imports: gp (posterior), seen (a wide categorical's columns), _tinygrad (upload, buckets), space (column kinds), tinygrad, numpy.

The map is the arc embedding of Swersky et al. 2013 ("Raiders of the lost architecture: kernels for Bayesian
optimization in conditional parameter spaces"): a conditional float or int column x ∈ [0, 1] becomes the two columns
m · (cos ARC·x, sin ARC·x) / ARC, m = 1 when its parameter is active and 0 when not. Two active values are a chord apart
(≈ |x − x'| for small differences), an active and an inactive value exactly 1/ARC apart whatever the active value is, two
inactive values 0 apart. A flattened space instead puts the inactive column at a fill value c, so an active value x is
|x − c| from every inactive one: noise in the distance that depends on a parameter that does not exist there.
The pair shares one lengthscale: it is given to the GP as a "categorical" block, whose columns weigh ½ (kernels.py),
so the pair is scaled by √2. One-hot columns of a conditional categorical are already all zero when inactive (1/√2 from
every active choice): they pass through, masked. Unconditional columns pass through unchanged.
With a wide categorical (seen.py: its choices that no modelled row holds are one column to the GP) the map works on
seen's narrower layout of the space's columns: a point's unheld choice becomes that block's "unseen" column, 0 where the
categorical is inactive, before the map, so the map and its programs never see the K-wide block.
Glossary: d space.dim; d' the map's layout columns (d, or seen's width, padded to a column bucket); w the GP's input
width (d' plus one column per conditional float/int); M[m, d'] space.active_mask in the layout; P, C, S [d', w] maps:
z = (M ⊙ X) P + (M ⊙ cos ARC·X) C + (M ⊙ sin ARC·X) S; runs: the same map as slices of the layout's columns, in the
GP's column order: (a, b, False) passes columns a..b through, (a, b, True) puts each one's arc pair.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tinygrad import Tensor
from tinygrad.dtype import DType

from tinybo._tinygrad import D_BUCKETS, bucket, upload
from tinybo.gp import posterior
from tinybo.seen import SeenChoices
from tinybo.space import CAT, Categorical, Space

# radians spanned by a conditional column's [0, 1]. An active and an inactive value are 1/ARC apart, two active ones the
# chord 2 sin(ARC Δ/2)/ARC (Δ at small Δ, 0.84 at Δ = 1 for ARC = 2). At 1 radian (1 apart) configurations of two branches
# were so far apart that the GP learned each branch alone; 2 halves that distance, nearer flattening's root-mean-square
# 0.29, without its dependence on values that do not exist (benchmarks/README.md measures 1, 2, 3 and flattening).
ARC = 2.0

# whether `BranchOptimism` weighs a choice's bonus by the parameters it activates (`activated_weights`); False: every
# choice of a categorical parent weighs 1, the bonus as it was first built (benchmarks/README.md measures both)
WEIGH_BY_ACTIVATED = True

# whether `BranchOptimism` caps each choice's UCB1 term at 1, the bonus at the GP's prior standard deviation (scale); False:
# the term grows as 1/sqrt(n) without bound, the bonus as first built (benchmarks/README.md measures both)
CAP_AT_PRIOR = True

# `TreePosterior` maps points by slices of the layout where the [d, w] maps have MIN_SLICED entries or more and the layout
# at most MAX_SLICES runs: the maps' products cost m·d·w (seconds per 1024 points on a 300-choice one-hot), slices m·w;
# but each run is a branch to compile on the first suggestion (a tree of 15 choices, each with its float, 30 runs,
# compiled 1.7x longer than by maps), and every layout is a program of its own, where the maps serve every layout of one
# shape. The two give the same values; their gradients can differ in the last bit (another order of operations).
MIN_SLICED, MAX_SLICES = 4096, 12

@dataclass(frozen=True)
class TreeInputs:
  """The input map of one conditional space. `column[c]`: the GP column that carries space column c (the first of an arc
  pair), for mapping lengthscales back; `categorical`: the GP's tied-lengthscale blocks (one-hot blocks and arc pairs);
  `seen`: the layout of a wide categorical's unheld choices as one column (None: the space's columns)."""
  space: Space
  P: np.ndarray
  C: np.ndarray
  S: np.ndarray
  column: np.ndarray
  categorical: list[slice]
  arc: float
  runs: tuple[tuple[int, int, bool], ...]
  seen: SeenChoices | None = None

  @staticmethod
  def of(space: Space, radians: float | None = None, seen: SeenChoices | None = None) -> TreeInputs:
    """radians: the angle a conditional column's [0, 1] spans (default `ARC`); active and inactive values are 1/radians apart.
    seen: the map works on seen's layout (padded to a column bucket, so the programs of one bucket serve every held set),
    applied by maps, not slices (slices make every layout a program of its own)."""
    radians = ARC if radians is None else float(radians)
    if not 0 < radians < 2 * math.pi: raise ValueError(f"radians={radians!r}: use a float in (0, 2π), the angle a conditional column spans")
    d = space.dim
    conditional = np.zeros(d, dtype=bool)
    for k, conds in space.conditions.items():   # a condition on a constant always holds: such a parameter is unconditional
      if any(q in space.params for q in conds): conditional[space.columns[k]] = True
    arc = conditional & (np.asarray(space.kinds) != CAT)
    at = np.arange(d) if seen is None else seen.column   # the layout column of each space column (contiguous per parameter)
    d2 = d if seen is None else bucket(seen.width, D_BUCKETS)
    w = int(at.max()) + 1 + int(arc.sum())
    P, C, S, column = np.zeros((d2, w)), np.zeros((d2, w)), np.zeros((d2, w)), np.zeros(d, dtype=np.int64)
    j, categorical, runs = 0, [], []
    for k in space.names:
      cols = np.arange(d)[space.columns[k]]
      a, b = int(at[cols].min()), int(at[cols].max()) + 1
      if arc[cols[0]]:
        C[a, j], S[a, j + 1], column[cols] = math.sqrt(2) / radians, math.sqrt(2) / radians, j
        categorical.append(slice(j, j + 2)); j += 2
        runs.append((a, b, True))
      else:
        if np.asarray(space.kinds)[cols[0]] == CAT: categorical.append(slice(j, j + b - a))
        column[cols] = j + at[cols] - a
        for c in range(a, b): P[c, j] = 1.0; j += 1
        runs.append((a, b, False))
      if len(runs) > 1 and runs[-2][2] == runs[-1][2] and runs[-2][1] == runs[-1][0]:   # one run per stretch of one kind
        runs[-2:] = [(runs[-2][0], runs[-1][1], runs[-1][2])]
    return TreeInputs(space, P, C, S, column, categorical, radians, tuple(runs) if seen is None else (), seen)

  def layout(self, X: np.ndarray, M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(X, M) [m, d] space-encoded points and their activity -> the same in the map's layout [m, d']: unchanged without
    `seen`; with it seen's columns (an unheld choice's block as its unseen column) and each column's activity, zero-padded."""
    if self.seen is None: return X, M
    pad = [(0, 0), (0, self.P.shape[0] - self.seen.width)]
    return np.pad(self.seen(X), pad), np.pad(M[:, self.seen.representative], pad)

  @property
  def width(self) -> int: return self.P.shape[1]

  def augment(self, X: np.ndarray, optimism: BranchOptimism | None = None) -> np.ndarray:
    """Space-encoded points [m, d] -> [m, 2d' + 1]: the points and their activity masks in the map's layout, and each
    point's branch bonus (0 without `optimism`), what `TreePosterior` queries take."""
    bonus = np.zeros((len(X), 1)) if optimism is None else optimism(X)[:, None]
    return np.concatenate([*self.layout(X, self.space.active_mask(X).astype(np.float64)), bonus], axis=1)

  def __call__(self, X: np.ndarray) -> np.ndarray:
    """Space-encoded points [m, d] -> the GP's inputs [m, w] (numpy; `embed` is the same map on Tensors)."""
    X = np.asarray(X, dtype=np.float64).reshape(-1, self.space.dim)
    if len(X) == 0: return np.zeros((0, self.width))
    X, M = self.layout(X, self.space.active_mask(X).astype(np.float64))
    return (M * X) @ self.P + (M * np.cos(self.arc * X)) @ self.C + (M * np.sin(self.arc * X)) @ self.S

  @property
  def posterior(self) -> TreePosterior:
    """The posterior at augmented space points for this map (the acquisition's `posterior`; state + `tensors()`): by
    slices of its layout where the maps are large and the slices few (MIN_SLICED, MAX_SLICES), else by the maps."""
    return TreePosterior(self.runs if self.sliced else None)

  @property
  def sliced(self) -> bool: return bool(self.runs) and self.P.size >= MIN_SLICED and len(self.runs) <= MAX_SLICES

  def tensors(self, dtype: DType, device: str, width: int | None = None) -> tuple[Tensor, ...]:
    """The tail of `TreePosterior`'s state on the device: (K, A) by slices, (P, C, S, A) by maps; K[d'] the scale of a
    column's arc pair (√2/ARC; 1 elsewhere, unused), A[d'] the angle per unit of column value (the arc is data, not a
    constant of the captured program). width: with `seen`, the maps' columns zero-padded to the GP's column bucket (its
    padding columns are zero too), so the held sets of one bucket replay one program."""
    angle = np.full(self.P.shape[0], self.arc)
    pad = [(0, 0), (0, max(0, (width or 0) - self.width) if self.seen is not None else 0)]
    if not self.sliced: return tuple(upload(a, dtype, device) for a in (*(np.pad(m, pad) for m in (self.P, self.C, self.S)), angle))
    return tuple(upload(a, dtype, device) for a in (np.where(self.C.any(axis=1), self.C.sum(axis=1), 1.0), angle))

  def lengthscales(self, gp_lengthscales: Sequence[float]) -> np.ndarray:
    """The GP's lengthscales [w] -> one per space column [d] (the ascent's preconditioning)."""
    return np.asarray(gp_lengthscales, dtype=np.float64).reshape(-1)[self.column]

def embed(Xa: Tensor, K: Tensor, A: Tensor, runs: Sequence[tuple[int, int, bool]]) -> Tensor:
  """Xa[..., 2d + 1] = [X | M | bonus] -> the GP's inputs [..., w] by slices of the layout `runs`: `TreeInputs.__call__`
  on Tensors (the same numbers: each GP column there is one product plus zeros); differentiable in X (an inactive
  column's gradient is 0). m·w work, where the maps' products cost m·d·w: seconds for 1024 points on a wide one-hot."""
  d = K.shape[0]
  X, M = Xa[..., :d], Xa[..., d:2 * d]
  parts = []
  for a, b, arc in runs:
    if not arc: parts.append(M[..., a:b] * X[..., a:b]); continue
    angle = A[a:b] * X[..., a:b]
    pair = (M[..., a:b] * angle.cos() * K[a:b]).stack(M[..., a:b] * angle.sin() * K[a:b], dim=-1)   # [..., b - a, 2]
    parts.append(pair.reshape(*pair.shape[:-2], 2 * (b - a)))
  return parts[0].cat(*parts[1:], dim=-1).contiguous()   # one kernel holds the branches; the posterior's kernels read it

def embed_by_maps(Xa: Tensor, P: Tensor, C: Tensor, S: Tensor, A: Tensor) -> Tensor:
  """`embed` by the [d, w] maps, for any layout: the same numbers, m·d·w work. The products' inputs are computed once
  first: fused into the products, the cosines were computed w times each."""
  d = P.shape[0]
  X, M = Xa[..., :d], Xa[..., d:2 * d]
  return (M * X).contiguous() @ P + (M * (A * X).cos()).contiguous() @ C + (M * (A * X).sin()).contiguous() @ S

@dataclass(frozen=True)
class TreePosterior:
  """gp.posterior at augmented space points Xa[..., 2d + 1] (`TreeInputs.augment`), the mean raised by each point's branch
  bonus (the last column); state = posterior_state() + TreeInputs.tensors(). The map by slices of the layout `runs`, or
  by the maps (None). A value, not a closure: the captured programs are keyed (and named on disk) by it, one per layout."""
  runs: tuple[tuple[int, int, bool], ...] | None

  def __call__(self, X: Tensor, alpha: Tensor, Linv0: Tensor, hyper: Tensor, *tail: Tensor) -> tuple[Tensor, Tensor]:
    *maps, Xa = tail
    d = maps[-1].shape[0]
    z = embed_by_maps(Xa, *maps) if self.runs is None else embed(Xa, *maps, self.runs)
    mean, var = posterior(X, alpha, Linv0, hyper, z)
    return mean + Xa[..., 2 * d], var

@dataclass(frozen=True)
class BranchOptimism:
  """A branch-level optimism bonus: UCB1's exploration term over the choices of the tree, in the GP's units.

  Why: the GP's posterior in a branch is only as good as its hyperparameters, fitted by maximum likelihood to a few
  points there; when a branch's first points (a random design over its 2-3 more parameters) are poor, the fit says
  confidently that the branch is poor, UCB's σ(x) is small all over it, and the search never returns: the run settles
  in the branch its design happened to sample best. A tree model knows which evaluations tested which choice, so it
  can treat each choice of a parent (an optimizer, a regularizer) as an arm of a bandit (as bandit-over-categories methods
  do, e.g. Nguyen et al. 2020, "Bayesian optimization for categorical and category-specific continuous inputs"): a
  point's posterior mean is raised by sqrt(β) σ_f sqrt(2 ln N / n), N the study's evaluations, n the evaluations of the
  least-tried choice on the point's path (a branch is as unexplored as its least-tried choice; two parents need not
  have every combination tried). The term decays as a choice is tried and grows slowly with N, so no choice is
  abandoned for good; σ_f (the GP's output scale) and the UCB weight β set its size in the acquisition's units, so
  β = 0 (pure exploitation) turns it off. Only categorical parents are arms: their choices are unordered, so the GP
  learns each one from its own evaluations; an Int parent (a depth) is ordinal, its lengthscale carries what one value
  teaches about the next, and a bonus per value spent evaluations on every depth (1-layer nets included) that the
  model had already ruled out (benchmarks/README.md). The price: evaluations spent on other choices are not spent
  refining the best branch. Flattening cannot do this: it does not know which columns exist.
  Each choice's term is weighed by the parameters it activates (`activated_weights`, with `WEIGH_BY_ACTIVATED`): what the
  bonus corrects is a fit that saw a choice's own parameters only at a few random values, and a choice that activates
  none (a regularizer "none", an optimizer with no parameter of its own) has no such region: its points differ from
  the others only in its one-hot column, which the GP learns from them as it learns any column. A point's bonus is the
  largest weighed term over the categorical parents on its path (with every weight 1: the term of the least-tried choice).
  Each term is capped at 1 (`CAP_AT_PRIOR`), the bonus at σ_f sqrt(β), what UCB adds at a point the data do not inform:
  the bonus stands in for the uncertainty a fit on a few points misses, and the most it can miss is all of it, which
  leaves the prior's. UCB1's uncapped term exceeds 1 while n < 2 ln N, when a choice is less known than a point no
  evaluation informs: the choices tried that few times (most leaves of a deep tree after a random design, which splits
  its points among many branches) would be ranked by their design counts (2 random points against 4), not by what the
  GP learned there. Capped, they are all as unexplored as the prior says, their posterior means decide among them, and
  the bonus still lifts them above the choices tried more than 2 ln N times.
  `seen[q]` = (codes, counts): the choices of categorical parent q among the evaluations where q is active, and how
  often each; `weights[q][c]`: choice c's weight."""
  space: Space
  seen: dict
  total: int
  scale: float
  weights: dict
  cap: bool

  @staticmethod
  def of(space: Space, X_seen: np.ndarray, scale: float, weigh: bool | None = None, cap: bool | None = None) -> BranchOptimism:
    """X_seen[n, d]: every evaluation of the study (complete, failed, pending, stopped) and this batch's points; weigh: weigh
    each choice by the parameters it activates (default `WEIGH_BY_ACTIVATED`) or not (every weight 1); cap: cap each
    choice's UCB1 term at 1 (default `CAP_AT_PRIOR`) or not."""
    X_seen = np.asarray(X_seen, dtype=np.float64).reshape(-1, space.dim)
    codes, M = space.parent_codes(X_seen), space.active_mask(X_seen)
    seen = {q: np.unique(c[M[:, space.columns[q].start]], return_counts=True) for q, c in codes.items()
            if isinstance(space.params[q], Categorical)}
    weigh = WEIGH_BY_ACTIVATED if weigh is None else weigh
    weights = activated_weights(space) if weigh else {q: np.ones(len(space.params[q].choices)) for q in seen}
    cap = CAP_AT_PRIOR if cap is None else cap
    return BranchOptimism(space, seen, len(X_seen), float(scale), {q: weights[q] for q in seen}, bool(cap))

  def __call__(self, X: np.ndarray) -> np.ndarray:
    """[m]: the bonus of each encoded point, `scale` times the largest over the categorical parents active on its path of
    weight(choice) sqrt(2 ln N / max(n(choice), 1)), the root capped at 1 with `cap` (0 where no categorical parent is active)."""
    X = np.asarray(X, dtype=np.float64).reshape(-1, self.space.dim)
    out = np.zeros(len(X))
    if self.scale == 0.0 or self.total == 0: return out
    codes, M = self.space.parent_codes(X), self.space.active_mask(X)
    for q, (values, count) in self.seen.items():
      i = np.clip(np.searchsorted(values, codes[q]), 0, max(len(values) - 1, 0))
      n = np.where(values[i] == codes[q], count[i], 0) if len(values) else np.zeros(len(X))
      term = np.sqrt(2.0 * math.log(max(self.total, 2)) / np.maximum(n, 1.0))
      term = self.weights[q][codes[q]] * (np.minimum(term, 1.0) if self.cap else term)
      out = np.where(M[:, self.space.columns[q].start], np.maximum(out, term), out)
    return self.scale * out

def activated_weights(space: Space) -> dict[str, np.ndarray]:
  """{categorical parent q: weight[choice]}: the parameters a choice activates, over the most any choice of q activates; a
  choice that activates none weighs 0. A choice activates the children that need it (a condition on q that some other
  choice does not meet: a child of every choice is q's whether q is this or that) and, transitively, their children."""
  out = {}
  for q, p in space.params.items():
    if not isinstance(p, Categorical): continue
    counts = np.zeros(len(p.choices))
    for c, choice in enumerate(p.choices):
      # a condition lists q's own choices, distinct; 1 == True == 1.0 in Python, so a choice matches by type too (as Space's)
      on = {k for k, conds in space.conditions.items() if q in conds and len(conds[q]) < len(p.choices)
            and any(type(v) is type(choice) and v == choice for v in conds[q])}
      grown = True
      while grown:
        more = {k for k, conds in space.conditions.items() if k not in on and any(a in on for a in conds)}
        on, grown = on | more, bool(more)
      counts[c] = len(on)
    out[q] = counts / max(counts.max(), 1.0)
  return out

def parent_columns(space: Space) -> np.ndarray:
  """bool[d]: the columns of the parameters that others are conditioned on (the acquisition's ascent keeps them fixed)."""
  out = np.zeros(space.dim, dtype=bool)
  for conds in space.conditions.values():
    for q in conds:
      if q in space.params: out[space.columns[q]] = True
  return out
