"""GP-Hedge (`portfolio.py`): the softmax over gains against scipy, the draw's frequencies against its probabilities, the
gains' bookkeeping, and the GP strategy's acquisition="hedge": UCB bit for bit on deterministic data, a portfolio of
seeded draws once the data are noisy."""
import math

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

import tinybo as tb
import tinybo.bo as bo
from tinybo.portfolio import HEDGE_ARMS, HEDGE_ETA, Hedge, hedge_choice, hedge_probabilities

gains_lists = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=6)

@given(gains_lists, st.floats(0.01, 10.0))
@settings(max_examples=60, deadline=None)
def test_probabilities_are_scipys_softmax_of_eta_times_the_gains(gains, eta):
  np.testing.assert_allclose(hedge_probabilities(np.array(gains), eta), scipy.special.softmax(eta * np.array(gains)), rtol=1e-12, atol=1e-300)

def test_the_draw_follows_the_probabilities():
  gains = np.array([0.3, -1.2, 0.9])
  u = (np.arange(100000) + 0.5) / 100000   # a uniform grid on [0, 1): each arm's share of it is its probability
  counts = np.bincount([hedge_choice(gains, v) for v in u], minlength=3) / len(u)
  np.testing.assert_allclose(counts, scipy.special.softmax(HEDGE_ETA * gains), atol=2e-5)
  assert hedge_choice(np.array([0.0, -800.0]), 0.999999) == 0   # an arm of probability ~e^-800 is never drawn

def test_gains_add_the_mean_at_the_last_proposals_once_per_new_trial():
  hedge = Hedge(3)
  hedge.reward(np.array([1.0, 2.0, 3.0]), 5)   # nothing proposed yet: no gain
  assert np.array_equal(hedge.gains, np.zeros(3))
  hedge.propose(np.zeros((3, 2)), 5)
  hedge.reward(np.array([0.5, -0.25, 1.0]), 5)   # the same history (no new trial): proposals dropped, no gain
  assert np.array_equal(hedge.gains, np.zeros(3)) and hedge.proposals is None
  hedge.propose(np.zeros((3, 2)), 5)
  hedge.reward(np.array([0.5, -0.25, 1.0]), 6)
  hedge.propose(np.zeros((3, 2)), 6)
  hedge.reward(np.array([0.5, 0.5, -2.0]), 7)
  np.testing.assert_allclose(hedge.gains, [1.0, 0.25, -1.0])

SPACE = tb.Space({"x0": tb.Float(0.0, 1.0), "x1": tb.Float(0.0, 1.0)})

def branin_unit(p: dict) -> float:
  x0, x1 = -5 + 15 * p["x0"], 15 * p["x1"]
  return (x1 - 5.1 / (4 * math.pi ** 2) * x0 ** 2 + 5 / math.pi * x0 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x0) + 10

def run(strategy, f, n: int, seed: int = 3) -> tuple[list[dict], tb.Optimizer]:
  opt = tb.Optimizer(SPACE, strategy=strategy, seed=seed)
  for i in range(n):
    t = opt.suggest()
    opt.observe(t, f(t.params, i))
  return [t.params for t in opt.trials], opt

@pytest.mark.slow
def test_hedge_is_ucb_on_deterministic_data_and_a_seeded_portfolio_under_noise(monkeypatch):
  assert run(tb.GP(acquisition="hedge"), lambda p, i: branin_unit(p), 16)[0] == run(tb.GP(), lambda p, i: branin_unit(p), 16)[0]
  noise = np.random.default_rng(0).standard_normal(40)
  noisy = lambda p, i: branin_unit(p) + 3.0 * noise[i]   # noqa: E731
  steps: list = []
  inner = bo.GP._hedge_step
  monkeypatch.setattr(bo.GP, "_hedge_step", lambda self, *a: steps.append(r := inner(self, *a)) or r)
  first, opt = run(tb.GP(acquisition="hedge"), noisy, 25)
  assert steps and all(arm in HEDGE_ARMS for arm, _ in steps)
  # every arm is rewarded with the mean at its own proposal: the gains are finite and not all equal after a few steps
  gains = opt.strategy._hedge[1].gains
  assert len(steps) >= 3 and np.all(np.isfinite(gains)) and np.ptp(gains) > 0
  # deterministic given the seed: a second study repeats the first point for point
  assert run(tb.GP(acquisition="hedge"), noisy, 25)[0] == first
