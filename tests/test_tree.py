"""The tree-aware GP inputs (tinybo/tree.py) against a numpy reference written from the definition (distances read from
the activity of each parameter, not from the embedding), the per-branch acquisition optimizer against brute force, and
GP suggestions on random conditional spaces in both modes."""
import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_conditional import st_tree
from tinygrad import Tensor, dtypes

import tinybo as tb
import tinybo.tree
from tinybo._tinygrad import upload
from tinybo.bo import GPFallbackWarning
from tinybo.gp import GPRegressor, posterior
from tinybo.kernels import matern52
from tinybo.optim_acqf import AcquisitionEvaluator, optimize_acquisition
from tinybo.optimizer import TrialFailedWarning
from tinybo.tree import ARC, CAP_AT_PRIOR, BranchOptimism, TreeInputs, activated_weights, embed, embed_by_maps, parent_columns

SPACE = tb.Space({
  "opt": tb.Categorical(["sgd", "adam", "rms"]),
  "lr": tb.Float(1e-4, 1.0, log=True),
  "momentum": tb.Float(0.0, 0.99, when={"opt": "sgd"}),
  "beta": tb.Float(0.5, 0.999, when={"opt": ["adam", "rms"]}),
  "n_layers": tb.Int(1, 3),
  "width_2": tb.Int(16, 512, log=True, when={"n_layers": [2, 3]}),
  "act": tb.Categorical(["relu", "tanh"], when={"n_layers": [2, 3]}),
  "epochs": 5,
})

def ref_sqdist(space, ls: dict, a: dict, b: dict, arc: float = ARC) -> float:
  """Σ over parameters of a's and b's contribution, from the definition: both active -> the distance of their encodings
  (the chord 2 sin(arc Δ / 2) / arc for a conditional float or int, Hamming for a categorical), one active -> 1/arc² for
  a conditional float or int and ½ for a categorical, none -> 0; each divided by the parameter's lengthscale²."""
  out = 0.0
  for k, p in space.params.items():
    ea, eb = space.encode(a)[space.columns[k]], space.encode(b)[space.columns[k]]
    both, one = k in a and k in b, (k in a) != (k in b)
    if isinstance(p, tb.Categorical): d2 = 0.5 * float(np.sum((ea - eb) ** 2)) if both else 0.5 * one
    elif not any(q in space.params for q in space.conditions.get(k, {})): d2 = float((ea - eb)[0] ** 2)   # a condition on a constant holds
    else: d2 = (2 * math.sin(arc * (ea - eb)[0] / 2) / arc) ** 2 if both else one / arc ** 2
    out += d2 / ls[k] ** 2
  return out

def matern52_np(u: np.ndarray) -> np.ndarray:
  s = np.sqrt(5 * u)
  return (1 + s + s * s / 3) * np.exp(-s)

def configs(space, n, seed):
  return space.decode_many(space.sample(np.random.default_rng(seed), n))

@pytest.mark.parametrize("radians", [None, 2.0, 3.0])
def test_kernel_on_tree_inputs_matches_the_reference(radians):
  tree, ps = TreeInputs.of(SPACE, radians), configs(SPACE, 24, 0)
  rng = np.random.default_rng(1)
  ls = {k: float(rng.uniform(0.2, 2.0)) for k in SPACE.names}
  X = tree(SPACE.encode_many(ps))
  # the GP's lengthscale per input column: a parameter's lengthscale on each of its columns
  gl = np.ones(tree.width)
  for k in SPACE.names:
    for c in range(*SPACE.columns[k].indices(SPACE.dim)): gl[tree.column[c]] = ls[k]
  for s in tree.categorical: gl[s] = gl[s.start]
  from tinygrad import Tensor, dtypes
  K = matern52(Tensor(X, dtype=dtypes.float64), Tensor(X, dtype=dtypes.float64), Tensor(gl, dtype=dtypes.float64),
               categorical=tree.categorical).numpy()
  ref = matern52_np(np.array([[ref_sqdist(SPACE, ls, a, b, ARC if radians is None else radians) for b in ps] for a in ps]))
  np.testing.assert_allclose(K, ref, rtol=1e-9, atol=1e-12)

def test_a_condition_on_a_constant_leaves_a_parameter_unconditional_in_the_tree_inputs():
  """A condition on a constant always holds: the GP sees such a parameter as the same space without that condition
  does (one plain column, its own lengthscale), not as an arc pair for a parameter that comes and goes."""
  with_const = tb.Space({"k": "on", "opt": tb.Categorical(["sgd", "adam"]), "m": tb.Float(0, 1, when={"opt": "sgd"}),
                         "z": tb.Float(0, 1, when={"k": "on"}), "n": tb.Int(1, 4, when={"k": ["on", "off"], "opt": "adam"})})
  plain = tb.Space({"k": "on", "opt": tb.Categorical(["sgd", "adam"]), "m": tb.Float(0, 1, when={"opt": "sgd"}),
                    "z": tb.Float(0, 1), "n": tb.Int(1, 4, when={"opt": "adam"})})
  a, b = TreeInputs.of(with_const), TreeInputs.of(plain)
  X = with_const.sample(np.random.default_rng(0), 16)
  np.testing.assert_array_equal(a(X), b(X))
  assert a.categorical == b.categorical and np.array_equal(a.column, b.column)

def test_an_inactive_parameter_adds_no_noise_to_distances():
  """Moving a parameter that exists in a but not in b leaves the distance between them unchanged (flattened inputs,
  with the inactive column at a fill value, move it)."""
  tree = TreeInputs.of(SPACE)
  a = {"opt": "sgd", "lr": 0.01, "momentum": 0.1, "n_layers": 1, "epochs": 5}
  b = {"opt": "adam", "lr": 0.01, "beta": 0.9, "n_layers": 1, "epochs": 5}
  dist = lambda f, p, q: float(np.sum((f(SPACE.encode_many([p])) - f(SPACE.encode_many([q]))) ** 2))
  moved = [{**a, "momentum": m} for m in (0.0, 0.3, 0.6, 0.98)]
  assert np.ptp([dist(tree, m, b) for m in moved]) < 1e-12
  assert np.ptp([dist(lambda X: X, m, b) for m in moved]) > 0.1
  assert dist(tree, a, a) == 0.0
  with pytest.raises(ValueError, match=r"radians=7.0: use a float in \(0, 2π\)"): TreeInputs.of(SPACE, 7.0)

def _fitted(seed=0, n=40, radians=None):
  tree, ps = TreeInputs.of(SPACE, radians), configs(SPACE, n, seed)
  y = np.array([math.log10(p["lr"]) ** 2 + p.get("momentum", 0.5) + (p["opt"] == "adam") for p in ps])
  gp = GPRegressor().fit(tree(SPACE.encode_many(ps)), y, categorical=tree.categorical, seed=seed)
  return tree, gp

@pytest.fixture(params=["slices", "maps"])
def mapped_by(request, monkeypatch):
  """Both ways `TreePosterior` maps points: by slices of the layout and by the [d, w] maps (SPACE's are 10 x 13)."""
  monkeypatch.setattr(tinybo.tree, "MIN_SLICED", 10**9 if request.param == "maps" else 0)
  monkeypatch.setattr(tinybo.tree, "MAX_SLICES", 100)
  return request.param

@pytest.mark.parametrize("radians", [None, 2.0])   # the angle is data of one captured program: both run it
def test_tree_posterior_on_space_points_matches_the_gp_on_mapped_points(radians, mapped_by):
  tree, gp = _fitted(radians=radians)
  assert (tree.posterior.runs is None) == (mapped_by == "maps")
  Xq = SPACE.round(SPACE.sample(np.random.default_rng(5), 17))
  state = (*gp.posterior_state(), *tree.tensors(gp.dtype, gp.device))
  mean, var = tree.posterior(*state, upload(tree.augment(Xq), gp.dtype, gp.device))
  m_ref, v_ref = gp._posterior_np(tree(Xq))
  np.testing.assert_allclose(mean.numpy(), m_ref, rtol=1e-9, atol=1e-9)
  np.testing.assert_allclose(var.numpy(), v_ref, rtol=1e-9, atol=1e-9)

def test_two_layouts_at_the_same_shapes_run_their_own_programs(mapped_by):
  """Two spaces of 4 columns whose GP inputs are 5 wide, the arc pair of the conditional float at another column: the
  captured programs are keyed by the layout, so each scores its own map (the plain posterior on numpy-mapped points,
  another program, is the reference), whichever runs first."""
  one = tb.Space({"p": tb.Categorical([0, 1]), "u": tb.Float(0.0, 1.0, when={"p": 0}), "v": tb.Float(0.0, 1.0)})
  two = tb.Space({"p": tb.Categorical([0, 1]), "u": tb.Float(0.0, 1.0), "v": tb.Float(0.0, 1.0, when={"p": 0})})
  trees = [TreeInputs.of(s) for s in (one, two)]
  assert [t.width for t in trees] == [5, 5] and trees[0].runs != trees[1].runs
  for space, tree in zip((one, two), trees):
    ps = configs(space, 12, 3)
    y = np.array([p.get("u", 0.2) - 2 * p.get("v", 0.6) + p["p"] for p in ps])
    gp = GPRegressor().fit(tree(space.encode_many(ps)), y, categorical=tree.categorical, seed=0)
    Xq = space.round(space.sample(np.random.default_rng(4), 9))
    got = AcquisitionEvaluator(tree.posterior, (*gp.posterior_state(), *tree.tensors(gp.dtype, gp.device)), "ucb", 0.0, 2.0,
                               tree.augment).values(Xq, bucket=16)
    ref = AcquisitionEvaluator(posterior, gp.posterior_state(), "ucb", 0.0, 2.0).values(tree(Xq), bucket=16)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)

def test_acquisition_gradient_is_zero_on_inactive_columns_and_matches_finite_differences(mapped_by):
  tree, gp = _fitted(1)
  state = (*gp.posterior_state(), *tree.tensors(gp.dtype, gp.device))
  ev = AcquisitionEvaluator(tree.posterior, state, "ucb", 0.0, 2.0, tree.augment)
  X = SPACE.round(SPACE.sample(np.random.default_rng(2), 8))
  a, g = ev.values_and_grads(X)
  mask = SPACE.active_mask(X)
  assert g.shape == X.shape and np.all(g[~mask] == 0.0)
  floats = [SPACE.columns[k].start for k, p in SPACE.params.items() if isinstance(p, tb.Float)]
  for i in range(len(X)):
    for c in floats:
      if not mask[i, c] or not 1e-3 < X[i, c] < 1 - 1e-3: continue
      h = 1e-6
      Xp, Xm = X[i:i + 1].copy(), X[i:i + 1].copy()
      Xp[0, c] += h; Xm[0, c] -= h
      fd = (ev.values(Xp, bucket=1)[0] - ev.values(Xm, bucket=1)[0]) / (2 * h)
      assert g[i, c] == pytest.approx(fd, rel=1e-4, abs=1e-6)

def ref_weights(space, n: int = 4000) -> dict:
  """From the definition, over random configurations: choice c of categorical parent q activates the parameters that are
  active in some configuration with q = c, never active without q, and active under some but not all of q's choices;
  its weight is their number over the most any choice of q activates (all 0 when every choice activates none)."""
  ps = configs(space, n, 11)
  out = {}
  for q, p in space.params.items():
    if not isinstance(p, tb.Categorical): continue
    counts = []
    for c in p.choices:
      counts.append(sum(1 for k in space.names if k != q and any(k in s and s[q] == c for s in ps if q in s)
                        and not any(k in s and q not in s for s in ps) and len({s[q] for s in ps if k in s}) < len(p.choices)))
    out[q] = {c: k / max(max(counts), 1) for c, k in zip(p.choices, counts)}
  return out

def ref_bonus(space, seen: list[dict], p: dict, scale: float, weights: dict | None = None, cap: bool = True) -> float:
  """From the definition, over configurations: for each categorical parent active in p, its choice's weight (1 without
  `weights`) times sqrt(2 ln N / max(n, 1)), at most 1 with `cap`, n the evaluations that have the parent active at p's
  value (an Int parent is no arm); scale times the largest, 0 with no categorical parent active."""
  parents = {q for conds in space.conditions.values() for q in conds if isinstance(space.params[q], tb.Categorical)}
  def root(q):
    r = math.sqrt(2 * math.log(max(len(seen), 2)) / max(sum(1 for s in seen if q in s and s[q] == p[q]), 1))
    return min(r, 1.0) if cap else r
  terms = [(1.0 if weights is None else weights[q][p[q]]) * root(q) for q in parents if q in p]
  return scale * max(terms) if terms else 0.0

WEIGHTED = tb.Space({"x1": tb.Categorical([0, 1]), "x2": tb.Categorical(["a", "b", "c"], when={"x1": 1}),
                     "u": tb.Float(0.0, 1.0, when={"x1": 0}), "v": tb.Float(0.0, 1.0, when={"x2": "c"}),
                     "z": tb.Int(1, 9, when={"x2": ["b", "c"]}), "w": tb.Float(0.0, 1.0), "x3": tb.Categorical(["p", "q"]),
                     "y": tb.Float(0.0, 1.0, when={"x3": ["p", "q"]}), "x4": tb.Categorical(["e", "f"], when={"x3": "p"})})

def test_activated_weights_match_the_definition_over_configurations():
  got = activated_weights(WEIGHTED)
  ref = ref_weights(WEIGHTED)
  assert set(got) == set(ref)
  for q, w in ref.items(): np.testing.assert_allclose(got[q], [w[c] for c in WEIGHTED.params[q].choices], rtol=1e-12)
  # worked by hand: x1 = 0 activates u, x1 = 1 x2, v, z; x2 = "b" z, "c" v and z; x3 = "p" x4 (y exists under both)
  np.testing.assert_allclose(got["x1"], [1 / 3, 1]); np.testing.assert_allclose(got["x2"], [0, 0.5, 1])
  np.testing.assert_allclose(got["x3"], [1, 0]); np.testing.assert_allclose(got["x4"], [0, 0])

def test_activated_weights_tell_apart_choices_that_python_calls_equal():
  # 1 == True and 0 == False: matched by value alone, True activated b and d too, and False activated b (it activates none)
  space = tb.Space({"c": tb.Categorical([1, True, "x"]), "a": tb.Float(0, 1, when={"c": True}), "b": tb.Float(0, 1, when={"c": 1}),
                    "d": tb.Int(0, 3, when={"c": 1})})
  assert [space.active({"c": c}) - {"c"} for c in space.params["c"].choices] == [{"b", "d"}, {"a"}, set()]
  np.testing.assert_allclose(activated_weights(space)["c"], [1, 0.5, 0])
  space = tb.Space({"c": tb.Categorical([0, False]), "a": tb.Float(0, 1, when={"c": [0, False]}), "b": tb.Float(0, 1, when={"c": 0})})
  np.testing.assert_allclose(activated_weights(space)["c"], [1, 0])   # a exists under both: neither choice activates it

@pytest.mark.parametrize("weigh", [False, True])
@pytest.mark.parametrize("cap", [False, True])
def test_weighted_branch_optimism_matches_the_reference(weigh, cap):
  seen = configs(WEIGHTED, 30, 2)[:11] + [configs(WEIGHTED, 1, 3)[0]] * 4
  opt = BranchOptimism.of(WEIGHTED, WEIGHTED.encode_many(seen), 0.9, weigh=weigh, cap=cap)
  query = configs(WEIGHTED, 60, 4)
  got = opt(WEIGHTED.encode_many(query))
  weights = ref_weights(WEIGHTED) if weigh else None
  want = np.array([ref_bonus(WEIGHTED, seen, p, 0.9, weights, cap) for p in query])
  np.testing.assert_allclose(got, want, rtol=1e-12)
  assert np.ptp(got) > 0
  # 15 evaluations: a choice tried fewer than 2 ln 15 = 5.4 times is capped, so the cap must bind somewhere here
  uncapped = np.array([ref_bonus(WEIGHTED, seen, p, 0.9, weights, False) for p in query])
  assert np.any(want < uncapped) if cap else np.array_equal(want, uncapped)
  if cap: assert np.all(got <= 0.9 + 1e-12)

def test_capped_bonus_by_hand():
  """x1 = 0 tried 6 times, x1 = 1 twice: N = 8, 2 ln 8 = 4.159; x1 = 0's root sqrt(4.159 / 6) = 0.8326, x1 = 1's
  sqrt(4.159 / 2) = 1.442, capped at 1 (every weight 1: each choice activates one float)."""
  space = tb.Space({"x1": tb.Categorical([0, 1]), "u": tb.Float(0.0, 1.0, when={"x1": 0}), "v": tb.Float(0.0, 1.0, when={"x1": 1})})
  seen = space.encode_many([{"x1": 0, "u": 0.1 * i} for i in range(6)] + [{"x1": 1, "v": 0.3}, {"x1": 1, "v": 0.6}])
  query = space.encode_many([{"x1": 0, "u": 0.5}, {"x1": 1, "v": 0.5}])
  np.testing.assert_allclose(BranchOptimism.of(space, seen, 0.5, cap=True)(query), [0.5 * 0.83255, 0.5], rtol=1e-4)
  np.testing.assert_allclose(BranchOptimism.of(space, seen, 0.5, cap=False)(query), [0.5 * 0.83255, 0.5 * 1.44197], rtol=1e-4)
  assert CAP_AT_PRIOR and BranchOptimism.of(space, seen, 0.5).cap   # the default caps

def test_nested_choices_count_each_trial_once_per_choice_it_took():
  """x1 = "B" activates x2, whose "c" activates x3. A trial counts once for each choice on its path, at its own level,
  and for no choice it did not take: 3 trials of A, 2 of B/a, 1 of B/c/p, 2 of B/c/q make x1 A 3, B 5; x2 a 2, b 0,
  c 3; x3 p 1, q 2; N = 8. The bonus of a point is then its least-tried choice's root: B/b's n is 0 (as 1), B/c/q's 2."""
  space = tb.Space({"x1": tb.Categorical(["A", "B"]), "x2": tb.Categorical(["a", "b", "c"], when={"x1": "B"}),
                    "x3": tb.Categorical(["p", "q"], when={"x2": "c"}), "u": tb.Float(0, 1, when={"x3": "q"}), "w": tb.Float(0, 1)})
  trials = ([{"x1": "A", "w": 0.1}] * 3 + [{"x1": "B", "x2": "a", "w": 0.2}] * 2 + [{"x1": "B", "x2": "c", "x3": "p", "w": 0.3}]
            + [{"x1": "B", "x2": "c", "x3": "q", "u": 0.5, "w": 0.4}] * 2)
  X = space.encode_many(trials)
  X[:3, space.columns["x2"]], X[:3, space.columns["x3"]] = [0, 0, 1], [1, 0]   # stale columns of choices A did not take
  opt = BranchOptimism.of(space, X, 1.0, weigh=False, cap=False)
  counts = {q: dict(zip((space.params[q].choices[c] for c in codes), count.tolist())) for q, (codes, count) in opt.seen.items()}
  assert counts == {"x1": {"A": 3, "B": 5}, "x2": {"a": 2, "c": 3}, "x3": {"p": 1, "q": 2}} and opt.total == 8
  query = space.encode_many([{"x1": "A", "w": 0.5}, {"x1": "B", "x2": "b", "w": 0.5}, {"x1": "B", "x2": "c", "x3": "q", "u": 0.5, "w": 0.5}])
  np.testing.assert_allclose(opt(query), [math.sqrt(2 * math.log(8) / n) for n in (3, 1, 2)], rtol=1e-12)

def test_branch_optimism_matches_counts_over_decoded_configurations():
  seen = configs(SPACE, 30, 7)[:12] + [configs(SPACE, 1, 8)[0]] * 3   # repeats count as tries
  opt = BranchOptimism.of(SPACE, SPACE.encode_many(seen), 0.7, weigh=False)
  query = configs(SPACE, 40, 9)
  got = opt(SPACE.encode_many(query))
  np.testing.assert_allclose(got, [ref_bonus(SPACE, seen, p, 0.7, cap=CAP_AT_PRIOR) for p in query], rtol=1e-12)
  assert np.all(BranchOptimism.of(SPACE, SPACE.encode_many(seen), 0.0)(SPACE.encode_many(query)) == 0.0)   # beta 0: off

def test_tree_posterior_adds_the_branch_bonus_to_the_mean_only():
  tree, gp = _fitted()
  Xq = SPACE.round(SPACE.sample(np.random.default_rng(5), 17))
  opt = BranchOptimism.of(SPACE, SPACE.round(SPACE.sample(np.random.default_rng(6), 9)), 0.5)
  state = (*gp.posterior_state(), *tree.tensors(gp.dtype, gp.device))
  mean, var = tree.posterior(*state, upload(tree.augment(Xq, opt), gp.dtype, gp.device))
  m_ref, v_ref = gp._posterior_np(tree(Xq))
  assert np.ptp(opt(Xq)) > 0   # the query points lie on branches tried a different number of times
  np.testing.assert_allclose(mean.numpy(), m_ref + opt(Xq), rtol=1e-9, atol=1e-9)
  np.testing.assert_allclose(var.numpy(), v_ref, rtol=1e-9, atol=1e-9)

@pytest.mark.parametrize("optimism", [False, True])
def test_per_branch_optimization_reaches_the_brute_force_optimum(optimism):
  """On a tree whose best branch is a deep one (x1 = 1, x2 = "c": a random tree reaches it one time in six), the
  optimizer's maximum of the posterior mean (UCB with beta 0) matches a dense per-branch grid search of the same mean.
  With a branch bonus that favours the branch tried once (x2 = "a"), the maximum of mean + bonus moves there, and
  matches the grid search of mean + the reference bonus."""
  space = tb.Space({"x1": tb.Categorical([0, 1]), "x2": tb.Categorical(["a", "b", "c"], when={"x1": 1}),
                    "u": tb.Float(0.0, 1.0, when={"x1": 0}), "v": tb.Float(0.0, 1.0, when={"x2": "c"}),
                    "w": tb.Float(0.0, 1.0)})
  def f(p):
    base = {0: 0.5 + (p.get("u", 0) - 0.3) ** 2}.get(p["x1"], None)
    if base is None: base = {"a": 0.8, "b": 0.9}.get(p["x2"], (p.get("v", 0) - 0.65) ** 2)
    return base + (p["w"] - 0.4) ** 2
  tree = TreeInputs.of(space)
  ps = configs(space, 80, 3)
  gp = GPRegressor().fit(tree(space.encode_many(ps)), -np.array([f(p) for p in ps]), categorical=tree.categorical, seed=0)
  state = (*gp.posterior_state(), *tree.tensors(gp.dtype, gp.device))
  seen = [{"x1": 0, "u": 0.5, "w": 0.5}] * 20 + [{"x1": 1, "x2": "b", "w": 0.5}] * 10 + [{"x1": 1, "x2": "c", "v": 0.5, "w": 0.5}] * 10
  seen += [{"x1": 1, "x2": "a", "w": 0.5}]
  bonus = BranchOptimism.of(space, space.encode_many(seen), 3.0 if optimism else 0.0, weigh=False, cap=False)   # the optimizer on its own
  x, _ = optimize_acquisition(tree.posterior, state, space, best=0.0, rng=np.random.default_rng(0), acquisition="ucb", beta=0.0,
                              augment=lambda X: tree.augment(X, bonus), branches=space.branches(), fixed=parent_columns(space))
  # brute force: every branch and parent value, a 51 x 51 grid of its active floats
  g = np.linspace(0, 1, 51)
  grid = []
  for b in space.branches():
    for parents in itertools.product(*([(q, v) for v in vs] for q, vs in b.values.items())):
      for v1 in g if b.active & {"u", "v"} else [None]:
        for v2 in g:
          p = {**dict(parents), "w": v2, **{k: v1 for k in b.active & {"u", "v"}}}
          grid.append(space.validate(p))
  G = space.encode_many(grid)
  mean = gp._posterior_np(tree(G))[0] + np.array([ref_bonus(space, seen, p, 3.0, cap=False) if optimism else 0.0 for p in grid])
  best = grid[int(np.argmax(mean))]
  got = space.decode(x)
  assert {k: v for k, v in got.items() if not isinstance(v, float)} == {k: v for k, v in best.items() if not isinstance(v, float)}
  # without the bonus the fitted mean's best branch is the true one; with it, the branch tried once
  assert (got["x1"], got["x2"]) == ((1, "a") if optimism else (1, "c"))
  for k in ("u", "v", "w"):
    if k in best: assert got[k] == pytest.approx(best[k], abs=0.03)

@pytest.mark.slow
@settings(max_examples=3, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["tree", "flatten"]))
def test_gp_suggestions_are_valid_trees_in_both_modes(seed, mode):
  rng = np.random.default_rng(seed)
  opt = tb.Optimizer(SPACE, strategy=tb.GP(n_initial=4, conditional=mode), seed=seed)
  with warnings.catch_warnings():
    warnings.simplefilter("error", GPFallbackWarning)   # the model must work on the tree, not fall back to random
    for _ in range(6):
      t = opt.suggest()
      assert SPACE.validate(t.params) == t.params and set(t.params) - {"epochs"} == SPACE.active(t.params)
      opt.observe(t, float(rng.normal()))
    for t in opt.suggest(2): assert SPACE.validate(t.params) == t.params

def test_conditional_mode_is_checked():
  with pytest.raises(ValueError, match="conditional='cart'"): tb.GP(conditional="cart")
  assert "conditional='flatten'" in repr(tb.GP(conditional="flatten"))

@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st_tree(), st.integers(0, 2**32 - 1))
def test_both_maps_of_any_tree_give_the_numpy_map_and_one_gradient(tree_spec, seed):
  """For any conditional space: `embed` (slices of the layout) and `embed_by_maps` give the same GP inputs, equal to the
  numpy map `TreeInputs.__call__` up to the cosine's last bits, and the same gradient in every space column."""
  space, _ = tree_spec
  tree = TreeInputs.of(space)
  X = space.round(space.sample(np.random.default_rng(seed), 7))
  Xa = tree.augment(X)
  K = Tensor(np.where(tree.C.any(axis=1), tree.C.sum(axis=1), 1.0), dtype=dtypes.float64)
  P, C, S, A = (Tensor(a, dtype=dtypes.float64) for a in (tree.P, tree.C, tree.S, np.full(space.dim, tree.arc)))
  w = Tensor(np.random.default_rng(seed + 1).standard_normal(tree.width), dtype=dtypes.float64)
  out = {}
  for name, f in (("slices", lambda xa: embed(xa, K, A, tree.runs)), ("maps", lambda xa: embed_by_maps(xa, P, C, S, A))):
    xa = Tensor(Xa, dtype=dtypes.float64)
    z = f(xa)
    (g,) = ((z * w).sum() ** 2).gradient(xa)
    out[name] = z.numpy(), g.numpy()[:, :space.dim]
  np.testing.assert_array_equal(out["slices"][0], out["maps"][0])
  np.testing.assert_allclose(out["slices"][0], tree(X), rtol=0, atol=1e-12)
  np.testing.assert_allclose(out["slices"][1], out["maps"][1], rtol=1e-12, atol=1e-12)

# ***** a wide categorical inside a tree: seen.py's layout under the tree's map *****

WIDE = tb.Space({"branch": tb.Categorical(["wide", "plain"]), "lr": tb.Float(1e-4, 1.0, log=True),
                 "c": tb.Categorical([f"c{i}" for i in range(60)], when={"branch": "wide"}),
                 "x": tb.Float(0, 1, when={"c": ["c0", "c1", "c2"]}), "y": tb.Float(0, 1, when={"branch": "plain"})})

def _wide_models(seed: int = 0):
  """(full tree map, narrow tree map, GP on the full map, the same hyperparameters on the narrow map, held rows)."""
  from tinybo.seen import SeenChoices
  X = WIDE.round(WIDE.sample(np.random.default_rng(seed), 30))
  ps = WIDE.decode_many(X)
  y = -np.array([(math.log10(p["lr"]) + 2) ** 2 + (0.1 * int(p["c"][1:]) if "c" in p else 3 + p["y"]) + (p.get("x", 0.5) - 0.4) ** 2 for p in ps])
  seen = SeenChoices.of(WIDE, X)
  full, narrow = TreeInputs.of(WIDE), TreeInputs.of(WIDE, seen=seen)
  gp = GPRegressor().fit(full(X), y, categorical=full.categorical, seed=seed)
  return full, narrow, gp, gp.with_inputs(narrow(X), narrow.categorical), X

def test_a_wide_categorical_in_a_tree_keeps_the_full_maps_distances_and_posterior():
  full, narrow, gp, gp_narrow, X = _wide_models()
  assert narrow.seen is not None and narrow.width < full.width - 30 and narrow.posterior.runs is None
  Q = WIDE.round(WIDE.sample(np.random.default_rng(1), 60))
  takes = narrow.seen.takes_unheld(Q)
  assert takes.any() and (WIDE.active_mask(Q)[:, WIDE.columns["c"].start] == 0).any()   # unheld choices and the other branch
  # the reference distances, parameter by parameter from the definition, with the GP's lengthscales per parameter
  ls = {k: float(np.asarray(gp.hyperparameters["lengthscales"])[full.column[WIDE.columns[k].start]]) for k in WIDE.names}
  k_ref = np.array([[ref_sqdist(WIDE, ls, a, b) for b in WIDE.decode_many(X)] for a in WIDE.decode_many(Q)])
  ln = narrow.lengthscales(gp_narrow.hyperparameters["lengthscales"])
  Zq, Zx = narrow(Q), narrow(X)
  w = np.ones(narrow.width)
  for b in narrow.categorical: w[b] = 0.5   # one-hot blocks and arc pairs weigh ½ (kernels.py)
  per_col = np.asarray(gp_narrow.hyperparameters["lengthscales"])
  k_narrow = (w * (Zq[:, None] - Zx[None]) ** 2 / per_col ** 2).sum(-1)
  np.testing.assert_allclose(k_narrow, k_ref, rtol=1e-9, atol=1e-12)
  assert ln.shape == (WIDE.dim,)
  # the posterior through the narrow map, in numpy and through the acquisition's padded layout, is the full map's
  m_full, v_full = gp.predict(full(Q))
  m_n, v_n = gp_narrow.predict(Zq)
  np.testing.assert_allclose(m_n, m_full, rtol=1e-8, atol=1e-9)
  np.testing.assert_allclose(v_n, v_full, rtol=1e-8, atol=1e-9)
  state = gp_narrow.posterior_state()
  mean, var = narrow.posterior(*state, *narrow.tensors(gp.dtype, gp.device, state[0].shape[-1]), upload(narrow.augment(Q), gp.dtype, gp.device))
  m_ref, v_ref = gp._posterior_np(full(Q))
  np.testing.assert_allclose(mean.numpy(), m_ref, rtol=1e-8, atol=1e-9)
  np.testing.assert_allclose(var.numpy(), v_ref, rtol=1e-8, atol=1e-9)

def test_a_wide_categorical_in_a_tree_gives_the_full_maps_acquisition_and_float_gradients():
  full, narrow, gp, gp_narrow, X = _wide_models(1)
  Q = WIDE.round(WIDE.sample(np.random.default_rng(2), 40))
  best = float(np.max(gp.y_train))
  ev_full = AcquisitionEvaluator(full.posterior, (*gp.posterior_state(), *full.tensors(gp.dtype, gp.device)), "logei", best,
                                 augment=full.augment)
  s = gp_narrow.posterior_state()
  ev_narrow = AcquisitionEvaluator(narrow.posterior, (*s, *narrow.tensors(gp.dtype, gp.device, s[0].shape[-1])), "logei", best,
                                   augment=narrow.augment, pull=narrow.seen.pull)
  a_full, g_full = ev_full.values_and_grads(Q)
  a_n, g_n = ev_narrow.values_and_grads(Q)
  np.testing.assert_allclose(a_n, a_full, rtol=1e-7, atol=1e-9)
  floats = np.asarray(WIDE.kinds) != tb.space.CAT
  np.testing.assert_allclose(g_n[:, floats], g_full[:, floats], rtol=1e-6, atol=1e-8)
  assert np.abs(g_full[:, floats]).max() > 1e-3   # a gradient that is there to compare

def test_a_study_with_a_wide_categorical_in_a_tree_stays_narrow_and_never_falls_back(monkeypatch):
  space = tb.Space({"branch": tb.Categorical(["wide", "plain"]), "u": tb.Float(0, 1),
                    "c": tb.Categorical([f"c{i}" for i in range(300)], when={"branch": "wide"}),
                    "v": tb.Float(0, 1, when={"branch": "plain"})})
  off = np.random.default_rng(0).normal(size=300)
  gp = tb.GP(beta=25.0)   # an explorer: its batches take unheld choices
  opt = tb.Optimizer(space, strategy=gp, seed=0)
  widths, regrown = [], []
  inner = GPRegressor.with_inputs
  monkeypatch.setattr(GPRegressor, "with_inputs", lambda self, X, c: regrown.append(X.shape) or inner(self, X, c))
  with warnings.catch_warnings():
    warnings.simplefilter("error", GPFallbackWarning)
    warnings.simplefilter("ignore", TrialFailedWarning)   # the NaN values below, failed on purpose
    for _ in range(8):
      trials = opt.suggest(3)
      for t in trials:
        p = t.params
        assert space.key(space.validate(p)) == space.key(p)
        value = (p["u"] - 0.3) ** 2 + (off[int(p["c"][1:])] if p["branch"] == "wide" else 0.5 + p["v"])
        opt.observe(t, float("nan") if t.id % 7 == 3 else value)   # failed trials are modelled rows too
      if gp._model is not None: widths.append(gp._model.d)
  assert widths and max(widths) < 40   # the GP never saw the 300-wide block
  assert regrown   # a batch point took an unheld choice: the models were put on the grown layout
  assert len({space.key(t.params) for t in opt.trials}) == len(opt.trials) == 24
  assert any(t.state == tb.TrialState.FAILED for t in opt.trials)

@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st_tree(), st.integers(0, 2**32 - 1))
def test_branch_leads_groups_by_each_parameters_activity_as_by_every_column(tree_spec, seed):
  from tinybo.optim_acqf import branch_leads
  space, _ = tree_spec
  rng = np.random.default_rng(seed)
  cand = space.round(space.sample(rng, 64))
  vals = rng.standard_normal(64)
  vals[rng.random(64) < 0.2] = -np.inf
  _, group = np.unique(space.active_mask(cand), axis=0, return_inverse=True)   # the grouping by every column
  group = group.reshape(-1)
  ref = [int(np.argmax(np.where(group == g, vals, -np.inf))) for g in range(group.max() + 1) if np.isfinite(vals[group == g]).any()]
  assert branch_leads(space, vals, cand) == ref

def test_the_ascent_on_a_wide_categoricals_tree_layout_reaches_a_stationary_point_of_the_full_map(monkeypatch):
  """optimize_acquisition pulls the gradient through the narrow layout back to the space's columns: where its ascent
  stops, the full map's gradient vanishes in every active float column inside its bounds (the gradient of the wrong
  columns would stop it elsewhere)."""
  import tinybo.optim_acqf as oa
  full, narrow, gp, gp_narrow, X = _wide_models(2)
  s = gp_narrow.posterior_state()
  state = (*s, *narrow.tensors(gp.dtype, gp.device, s[0].shape[-1]))
  ev = AcquisitionEvaluator(full.posterior, (*gp.posterior_state(), *full.tensors(gp.dtype, gp.device)), "ucb", 0.0, 0.0, augment=full.augment)
  ascended = []
  inner = oa.ascend
  monkeypatch.setattr(oa, "ascend", lambda *a, **k: ascended.append(out := inner(*a, **k)) or out)
  optimize_acquisition(narrow.posterior, state, WIDE, best=0.0, rng=np.random.default_rng(0), acquisition="ucb", beta=0.0, n_steps=60,
                       augment=narrow.augment, branches=WIDE.branches(), fixed=parent_columns(WIDE), seen=narrow.seen, X_observed=X, n_raw=64)
  (Xs, As), = ascended
  a, g = ev.values_and_grads(Xs)
  np.testing.assert_allclose(a, As, rtol=1e-8)
  inside = (np.asarray(WIDE.kinds) != tb.space.CAT) & (WIDE.active_mask(Xs) > 0) & (Xs > 1e-6) & (Xs < 1 - 1e-6)
  assert inside[:, WIDE.columns["x"].start].any()   # a float whose column lies past the wide block
  np.testing.assert_allclose(g[inside], 0.0, atol=1e-3)

@st.composite
def st_tree_with_a_wide_categorical(draw):
  """A random conditional space (st_tree) with a categorical of 17-60 choices added, under one of its small parents'
  values or unconditional (a conditional space still, through the others)."""
  space, spec = draw(st_tree(max_params=5))
  parents = [q for q, p in space.params.items() if isinstance(p, (tb.Int, tb.Categorical)) and len(tb.space.all_values(p)) <= 4]
  when = {}
  if parents and draw(st.booleans()):
    q = draw(st.sampled_from(parents))
    when = {q: [draw(st.sampled_from(tb.space.all_values(space.params[q])))]}
  k = draw(st.integers(17, 60))
  params = {**space.params, **{c: v for c, v in space.constants.items()}, "wide": tb.Categorical([f"w{i}" for i in range(k)], when=when or None)}
  try: return tb.Space(params)
  except ValueError as e:
    assume("can never be active" not in str(e))
    raise

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st_tree_with_a_wide_categorical(), st.integers(0, 2**32 - 1))
def test_any_tree_with_a_wide_categorical_keeps_every_distance_of_the_full_map(space, seed):
  """The distances the kernel sees (per parameter, from the definition: ref_sqdist) between modelled rows and any query
  rows are the full map's, through the narrow layout, whichever rows are held."""
  from tinybo.seen import SeenChoices
  rng = np.random.default_rng(seed)
  X = space.encode_many(space.decode_many(space.sample(rng, int(rng.integers(1, 8)))))
  Q = space.encode_many(space.decode_many(space.sample(rng, 12)))
  seen = SeenChoices.of(space, X)
  assume(seen is not None)
  narrow = TreeInputs.of(space, seen=seen)
  ls = {k: float(rng.uniform(0.3, 2.0)) for k in space.names}
  per_col = np.ones(narrow.width)
  w = np.ones(narrow.width)
  for k in space.names:   # the narrow map's lengthscale per GP column, from each parameter's
    per_col[np.unique(narrow.column[space.columns[k]])] = ls[k]
  for b in narrow.categorical: w[b] = 0.5
  for b in narrow.categorical:   # an arc pair's second column shares its parameter's lengthscale
    per_col[b] = per_col[b.start]
  Zx, Zq = narrow(X), narrow(Q)
  got = (w * (Zq[:, None] - Zx[None]) ** 2 / per_col ** 2).sum(-1)
  px, pq = space.decode_many(X), space.decode_many(Q)
  ref = np.array([[ref_sqdist(space, ls, a, b) for b in px] for a in pq])
  np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)

def batches_are_valid_and_never_fall_back(space, seed):
  """Five batches of 2 from a GP study with a 4-point design, random values: every suggestion valid, GPFallbackWarning an error."""
  rng = np.random.default_rng(seed)
  opt = tb.Optimizer(space, strategy=tb.GP(n_initial=4), seed=seed)
  with warnings.catch_warnings():
    warnings.simplefilter("error", GPFallbackWarning)
    for _ in range(5):
      for t in opt.suggest(2):
        assert space.validate(t.params) == t.params
        opt.observe(t, float(rng.normal()))

@pytest.mark.slow
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st_tree_with_a_wide_categorical(), st.integers(0, 10_000))
def test_gp_suggestions_on_any_tree_with_a_wide_categorical_are_valid_and_never_fall_back(space, seed):
  batches_are_valid_and_never_fall_back(space, seed)

def test_a_batch_that_takes_the_first_choice_of_a_wide_categorical_no_trial_held_keeps_the_model():
  # found by the hypothesis test above (session 39): the wide categorical sits under p1 = "a" under p0 = 0, no design
  # point reached it, so its block was one column (every choice unheld); a batch's point took a choice, the block grew to
  # two columns, and the models' regrowth refused the new layout: a fallback to random
  space = tb.Space({"p0": tb.Int(0, 2, when={"k": ["on", "off"]}), "p1": tb.Categorical(["a", "b"], when={"p0": 0}),
                    "p2": tb.Categorical(["a", "b"], when={"p0": 0}), "p3": tb.Float(-1.0, 1.0), "p4": tb.Float(0.001, 10.0, log=True),
                    "k": "on", "wide": tb.Categorical([f"w{i}" for i in range(17)], when={"p1": "a"})})
  batches_are_valid_and_never_fall_back(space, 0)

def test_regrown_groups_lets_only_a_one_column_block_become_a_block():
  from tinybo.gp import regrown_groups
  # columns: 0 float, 1 a one-column block (a wide categorical with no choice held), 2 float
  assert regrown_groups(3, [slice(1, 2)], 4, [slice(1, 3)])            # the block gained a column
  assert regrown_groups(4, [slice(1, 3)], 5, [slice(1, 4)])            # a block that grows stays a block
  assert not regrown_groups(3, [], 4, [slice(1, 3)])                    # a float column never becomes a block
  assert not regrown_groups(4, [slice(1, 3)], 3, [])                    # a block never becomes a column
  assert not regrown_groups(3, [slice(1, 2)], 5, [slice(1, 3), slice(3, 5)])   # another number of groups
