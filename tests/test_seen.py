"""seen.py: a wide categorical's unheld choices as one column of the GP's input. The map must leave the model as it was:
the posterior at any valid row (a held or an unheld choice) against a numpy GP on the Hamming kernel, the fit's optimum
against the fit on the full one-hot block, the acquisition's gradient on the float columns against the full-width one; and
a study on a wide categorical must run on the narrow model, batches included."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinybo as tb
from tinybo.bo import GPFallbackWarning
from tinybo.gp import GPRegressor, posterior
from tinybo.optim_acqf import AcquisitionEvaluator, local_search
from tinybo.seen import MIN_UNSEEN, SeenChoices
from tinybo.sobol import sobol
from tinybo.space import Space


def wide_space(k: int = 60) -> Space:
  return Space({"x": tb.Float(0, 1), "c": tb.Categorical([f"c{i}" for i in range(k)]), "y": tb.Float(-1, 1),
                "small": tb.Categorical(["a", "b", "c"])})

def rows(space: Space, rng: np.random.Generator, n: int, choices: np.ndarray | None = None) -> np.ndarray:
  X = space.round(space.sample(rng, n))
  if choices is not None:   # only these choices of "c"
    c = space.columns["c"]
    X[:, c] = 0.0
    X[np.arange(n), c.start + np.asarray(choices)[rng.permutation(n) % len(choices)]] = 1.0   # each choice, when n allows
  return X

def numpy_posterior(space: Space, X: np.ndarray, y: np.ndarray, Q: np.ndarray, ls: dict, sf2: float, sn2: float):
  """Matérn-5/2 GP with a Hamming term per categorical, in numpy, on the standardized targets."""
  def r2(A, B):
    out = np.zeros((len(A), len(B)))
    for k, p in space.params.items():
      a, b = A[:, space.columns[k]], B[:, space.columns[k]]
      if isinstance(p, tb.Categorical): out += (a.argmax(1)[:, None] != b.argmax(1)[None, :]) / ls[k] ** 2
      else: out += ((a[:, None, 0] - b[None, :, 0]) / ls[k]) ** 2
    return out
  def k(A, B):
    r = np.sqrt(r2(A, B)) * np.sqrt(5)
    return sf2 * (1 + r + r ** 2 / 3) * np.exp(-r)
  K = k(X, X) + sn2 * np.eye(len(X))
  Kq = k(Q, X)
  mean = Kq @ np.linalg.solve(K, y)
  var = sf2 - np.einsum("ij,ji->i", Kq, np.linalg.solve(K, Kq.T))
  return mean, var

def fitted(space: Space, held_choices: np.ndarray, n: int = 24, seed: int = 0):
  rng = np.random.default_rng(seed)
  X = rows(space, rng, n, held_choices)
  y = np.sin(6 * X[:, 0]) + X[:, space.columns["y"].start] + 0.3 * X[:, space.columns["c"]].argmax(1) % 3
  return X, y

def test_the_map_keeps_the_held_choices_and_one_unseen_column():
  space = wide_space(60)
  X = rows(space, np.random.default_rng(0), 10, np.array([3, 7, 20]))
  seen = SeenChoices.of(space, X)
  assert seen is not None and seen.names == ("c",)
  # x | c's three held choices and its unseen column | y | small's three columns
  assert seen.width == 1 + 4 + 1 + 3 and [(b.start, b.stop) for b in seen.categorical] == [(1, 5), (6, 9)]
  np.testing.assert_array_equal(seen.held[0], [3, 7, 20])
  assert len(seen.unheld[0]) == 57
  Z = seen(X)
  np.testing.assert_array_equal(Z[:, 4], 0.0)   # every modelled row holds its choice: the unseen column is 0
  np.testing.assert_array_equal(seen.inverse(Z), X)
  Q = rows(space, np.random.default_rng(1), 50)
  unheld = ~np.isin(Q[:, space.columns["c"]].argmax(1), [3, 7, 20])
  np.testing.assert_array_equal(seen(Q)[:, 4], unheld.astype(float))
  np.testing.assert_array_equal(seen.takes_unheld(Q), unheld)

def test_no_map_without_enough_unheld_choices():
  space = wide_space(MIN_UNSEEN + 2)
  assert SeenChoices.of(space, rows(space, np.random.default_rng(0), 5, np.array([0, 1, 2]))) is None   # 15 unheld
  assert SeenChoices.of(space, rows(space, np.random.default_rng(0), 5, np.array([0]))) is not None    # 17 unheld

def test_a_conditional_space_maps_its_inactive_blocks_to_zero_and_keeps_hamming_distances():
  space = Space({"branch": tb.Categorical(["wide", "plain"]), "c": tb.Categorical([f"c{i}" for i in range(60)], when={"branch": "wide"}),
                 "x": tb.Float(0, 1, when={"c": ["c0", "c1"]}), "y": tb.Float(0, 1, when={"branch": "plain"})})
  rng = np.random.default_rng(3)
  X = space.round(space.sample(rng, 12))
  seen = SeenChoices.of(space, X)
  assert seen is not None and seen.names == ("c",)
  Q = space.round(space.sample(rng, 200))
  c = space.columns["c"]
  active = Q[:, c].sum(1) == 1
  assert active.any() and (~active).any()
  unseen = seen.categorical[1].stop - 1
  held = np.isin(Q[:, c].argmax(1), seen.held[0]) & active
  np.testing.assert_array_equal(seen(Q)[:, unseen], (active & ~held).astype(float))   # 0 where inactive or held
  # the block's squared distances (½ per differing column) between modelled rows and any query rows, as in the full block
  full = 0.5 * ((X[:, None, c] - Q[None, :, c]) ** 2).sum(-1)
  b = seen.categorical[1]
  mapped = 0.5 * ((seen(X)[:, None, b] - seen(Q)[None, :, b]) ** 2).sum(-1)
  np.testing.assert_array_equal(mapped, full)
  # a representative column shares each GP column's activity
  M, r = space.active_mask(Q), seen.representative
  np.testing.assert_array_equal(M[:, r[unseen]], active)
  np.testing.assert_array_equal(M[:, r[seen.source >= 0]], M[:, seen.source[seen.source >= 0]])
  assert r[unseen] in np.arange(space.dim)[c][seen.unheld[0]]

@settings(max_examples=40, deadline=None)
@given(k=st.integers(MIN_UNSEEN + 1, 80), n_held=st.integers(1, 12), seed=st.integers(0, 2**31 - 1))
def test_hamming_distances_to_modelled_rows_are_the_one_hot_blocks(k, n_held, seed):
  """In the ½-weighted block, a query's squared distance to every modelled row is the same through the map: the
  property that makes the posterior the same."""
  space = wide_space(k)
  rng = np.random.default_rng(seed)
  held = rng.choice(k, size=min(n_held, k - MIN_UNSEEN), replace=False)
  X, Q = rows(space, rng, 8, held), rows(space, rng, 30)
  seen = SeenChoices.of(space, X)
  c, b = space.columns["c"], seen.categorical[0]
  full = 0.5 * ((Q[:, None, c] - X[None, :, c]) ** 2).sum(-1)
  mapped = 0.5 * ((seen(Q)[:, None, b] - seen(X)[None, :, b]) ** 2).sum(-1)
  np.testing.assert_array_equal(mapped, full)
  np.testing.assert_array_equal(seen(Q)[:, b].sum(1), 1.0)   # still one 1 per row in the block
  # lengthscales and gradients go back by column: every column of c's block reads the block's one value
  assert (seen.lengthscales(np.arange(seen.width, dtype=float))[c] >= b.start).all()

def test_the_posterior_on_the_map_is_the_numpy_hamming_gp_at_held_and_unheld_choices():
  space = wide_space(60)
  X, y = fitted(space, np.array([2, 5, 11, 40]))
  seen = SeenChoices.of(space, X)
  model = GPRegressor("matern52").fit(seen(X), y, seen.categorical, seed=0)
  Q = rows(space, np.random.default_rng(3), 64)   # most of them take unheld choices
  h = model.hyperparameters
  ls = {"x": h["lengthscales"][0], "c": h["lengthscales"][1], "y": h["lengthscales"][seen.categorical[0].stop],
        "small": h["lengthscales"][-1]}
  mean_np, var_np = numpy_posterior(space, X, model.y_train, Q, ls, h["outputscale"], h["noise"] + model.jitter)
  mean, var = model.predict(seen(Q))
  np.testing.assert_allclose(mean, model.to_y_units(mean_np, var_np)[0], rtol=1e-7, atol=1e-9)
  np.testing.assert_allclose(var, model.to_y_units(mean_np, var_np)[1], rtol=1e-6, atol=1e-10)

def test_the_fit_on_the_map_is_the_fit_on_the_full_block():
  space = wide_space(60)
  X, y = fitted(space, np.array([2, 5, 11, 40]), n=30, seed=1)
  seen = SeenChoices.of(space, X)
  full = GPRegressor("matern52").fit(X, y, space.cat_groups, seed=0)
  narrow = GPRegressor("matern52").fit(seen(X), y, seen.categorical, seed=0)
  assert narrow.objective == pytest.approx(full.objective, rel=1e-7, abs=1e-7)
  np.testing.assert_allclose(seen.lengthscales(narrow.hyperparameters["lengthscales"]), full.hyperparameters["lengthscales"], rtol=1e-4)
  Q = rows(space, np.random.default_rng(2), 40)
  # the two fits stop within L-BFGS's tolerance of one optimum, not at one point: predictions agree to 1e-4 of the values' range
  np.testing.assert_allclose(narrow.predict(seen(Q))[0], full.predict(Q)[0], rtol=0, atol=1e-4 * np.ptp(y))
  # the same model in another layout (a choice that became held, as a batch's point does): the same posterior
  grown = SeenChoices.of(space, np.concatenate([X, Q[:1]]))
  moved = narrow.with_inputs(grown(X), grown.categorical)
  np.testing.assert_allclose(moved.predict(grown(Q))[0], narrow.predict(seen(Q))[0], rtol=1e-10, atol=1e-12)
  with pytest.raises(ValueError, match="lengthscale groups"): narrow.with_inputs(X[:, :3], [])

def test_warm_start_carries_across_a_block_that_grew():
  space = wide_space(60)
  X, y = fitted(space, np.array([2, 5, 11, 40]), n=30, seed=1)
  seen = SeenChoices.of(space, X[:-1])
  first = GPRegressor("matern52").fit(seen(X[:-1]), y[:-1], seen.categorical, seed=0)
  X2 = X.copy(); X2[-1, space.columns["c"]] = 0.0; X2[-1, space.columns["c"].start + 50] = 1.0   # a new choice
  grown = SeenChoices.of(space, X2)
  assert grown.width == seen.width + 1
  warm = GPRegressor("matern52").fit(grown(X2), y, grown.categorical, seed=0, warm_start=first)
  assert warm.n_cold == first.n_cold   # continued from the first fit, not a cold one

def test_the_acquisition_gradient_pulls_back_to_the_full_width_one():
  space = wide_space(60)
  X, y = fitted(space, np.array([2, 5, 11, 40]))
  seen = SeenChoices.of(space, X)
  full = GPRegressor("matern52").fit(X, y, space.cat_groups, seed=0)
  narrow = full.with_inputs(seen(X), seen.categorical)
  Q = rows(space, np.random.default_rng(4), 16)
  a_full, g_full = AcquisitionEvaluator(posterior, full.posterior_state(), "logei", float(np.max(full.y_train))).values_and_grads(Q)
  ev = AcquisitionEvaluator(posterior, narrow.posterior_state(), "logei", float(np.max(narrow.y_train)), augment=seen, pull=seen.pull)
  a, g = ev.values_and_grads(Q)
  floats = [space.columns["x"].start, space.columns["y"].start]
  np.testing.assert_allclose(a, a_full, rtol=1e-8, atol=1e-10)
  np.testing.assert_allclose(g[:, floats], g_full[:, floats], rtol=1e-6, atol=1e-9)
  np.testing.assert_allclose(ev.values(Q, bucket=16), a_full, rtol=1e-8, atol=1e-10)
  # padded to the GP's bucket width (one captured program for every layout of the bucket): the same values and gradient
  D = narrow.posterior_state()[0].shape[-1]
  assert D > seen.width
  padded = AcquisitionEvaluator(posterior, narrow.posterior_state(), "logei", float(np.max(narrow.y_train)), augment=seen.to_width(D), pull=seen.pull)
  a2, g2 = padded.values_and_grads(Q)
  np.testing.assert_allclose(a2, a, rtol=1e-12, atol=1e-14)
  np.testing.assert_allclose(g2, g, rtol=1e-10, atol=1e-12)
  with pytest.raises(ValueError, match="at least the map's width"): seen.to_width(seen.width - 1)

def test_the_local_search_switches_to_the_held_choices_and_one_unheld():
  space = wide_space(60)
  X, y = fitted(space, np.array([2, 5, 11, 40]))
  seen = SeenChoices.of(space, X)
  x = X[0]
  full = space.neighbors(x)
  some = space.neighbors(x, choices=seen.switches(np.random.default_rng(0)))
  assert len(full) == 59 + 2 and len(some) == 4 + 1 + 2 - 1   # the other 3 held, one unheld, small's 2
  assert all((full == r).all(1).any() for r in some)   # each a neighbour of the full search
  narrow = GPRegressor("matern52").fit(seen(X), y, seen.categorical, seed=0)
  ev = AcquisitionEvaluator(posterior, narrow.posterior_state(), "ucb", 0.0, augment=seen, pull=seen.pull)
  a0 = ev.values(x[None], bucket=64)
  rng = np.random.default_rng(1)
  Xs, As = local_search(ev, space, x[None], a0, np.zeros((0, space.dim)), 64, switch=lambda: seen.switches(rng))
  # the search ends where no switch scores higher, judged on the full neighbourhood by the same model
  assert As[0] >= ev.values(space.neighbors(Xs[0]), bucket=64).max() - 1e-9

def test_a_study_on_a_wide_categorical_suggests_from_the_narrow_model_with_batches():
  space = {"x": tb.Float(-2, 2), "c": tb.Categorical([f"c{i}" for i in range(300)])}
  offsets = np.random.default_rng(0).normal(size=300)
  opt = tb.Optimizer(space, strategy="gp", seed=0)
  with warnings.catch_warnings():
    warnings.simplefilter("error", GPFallbackWarning)
    for _ in range(14):
      t = opt.suggest()
      opt.observe(t, (t.params["x"] - 0.5) ** 2 + offsets[int(t.params["c"][1:])])
    batch = opt.suggest(4)
  model = opt.strategy._model
  assert model.d < 20   # x and the held choices' columns and one unseen column, not 301
  assert len({(t.params["x"], t.params["c"]) for t in batch}) == 4
  assert all(isinstance(t.params["c"], str) and -2 <= t.params["x"] <= 2 for t in batch)

def test_sobol_running_xor_equals_the_per_bit_sum():
  """sobol() builds point i as a running XOR over rows; the reference sums each of gray(i)'s bits' direction numbers."""
  from tinybo.sobol import _BITS, _direction_numbers
  for n, d in ((1, 3), (5, 2), (100, 7), (1024, 40)):
    V = _direction_numbers(d)
    gray = np.arange(n) ^ (np.arange(n) >> 1)
    X = np.zeros((n, d), dtype=np.int64)
    for k in range(_BITS): X ^= ((gray >> k) & 1)[:, None] * V[:, k][None, :]
    np.testing.assert_array_equal(sobol(n, d), X.astype(np.float64) / float(1 << _BITS))

def test_sobol_configs_give_a_wide_categorical_one_column_and_every_choice_evenly():
  from tinybo.optim_acqf import sobol_configs
  space = wide_space(60)
  np.testing.assert_array_equal(sobol_configs(space, 256, np.random.default_rng(3)), space.round(sobol(256, space.dim, np.random.default_rng(3))))
  X = sobol_configs(space, 1200, np.random.default_rng(3), ("c",))
  np.testing.assert_array_equal(space.round(X), X)   # valid configurations
  counts = np.bincount(X[:, space.columns["c"]].argmax(1), minlength=60)
  assert counts.min() >= 19 and counts.max() <= 21   # a stratified draw: 20 of each choice, give or take the scramble
  assert np.ptp(X[:, space.columns["x"]]) > 0.99 and len(np.unique(X[:, space.columns["small"]].argmax(1))) == 3

def test_recommendations_on_a_wide_categorical_come_from_the_narrow_model():
  space = {"x": tb.Float(-2, 2), "c": tb.Categorical([f"c{i}" for i in range(300)])}
  offsets = np.random.default_rng(1).normal(size=300)
  opt = tb.Optimizer(space, strategy=tb.GP(noise=1e-4), seed=1)   # a noise floor: recommend() asks the model
  for _ in range(14):
    t = opt.suggest()
    opt.observe(t, (t.params["x"] - 0.5) ** 2 + offsets[int(t.params["c"][1:])] + 0.01 * np.random.default_rng(len(opt.trials)).normal())
  with warnings.catch_warnings():
    warnings.simplefilter("error", GPFallbackWarning)
    rec, anywhere = opt.recommend(), opt.recommend(observed=False)
  assert any(rec.params == t.params for t in opt.trials)   # a trial's configuration
  assert -2 <= anywhere["x"] <= 2 and anywhere["c"] in space["c"].choices   # a valid configuration, the ascent through the map
