"""GP-Hedge (Hoffman, Brochu and de Freitas 2011): a portfolio of acquisitions chosen online. Each arm (an acquisition)
proposes a point; one proposal is evaluated, chosen with probability softmax(eta * gains); after the next fit each arm
gains the new posterior mean at its own last proposal, so an arm whose proposals the model comes to rate well is
chosen more often. Holds: HEDGE_ARMS, HEDGE_ETA, hedge_probabilities, hedge_choice, Hedge (the gains and last proposals
of one study). Imports: numpy.
"""
from __future__ import annotations

import numpy as np

HEDGE_ARMS = ("ucb", "logei", "logei_obs")
HEDGE_ETA = 1.0  # the softmax's inverse temperature on gains in standardized units (the paper's eta = 1)

def hedge_probabilities(gains: np.ndarray, eta: float = HEDGE_ETA) -> np.ndarray:
  """softmax(eta * gains), computed from the largest gain so that no exp overflows."""
  g = eta * (np.asarray(gains, dtype=np.float64) - np.max(gains))
  p = np.exp(g)
  return p / p.sum()

def hedge_choice(gains: np.ndarray, u: float, eta: float = HEDGE_ETA) -> int:
  """The arm drawn by u ~ U[0, 1) from hedge_probabilities: the first whose cumulative probability exceeds u."""
  c = np.cumsum(hedge_probabilities(gains, eta))
  return int(min(np.searchsorted(c, u, side="right"), len(c) - 1))

class Hedge:
  """One study's portfolio state: the arms' cumulative gains and their proposals at the last guided suggestion, made
  when the study had `n_trials` trials. Gains are added once per new trial count (`reward`), so a repeated suggest
  for the same history does not count twice."""
  def __init__(self, n_arms: int):
    self.gains = np.zeros(n_arms)
    self.proposals: np.ndarray | None = None  # [n_arms, d]: each arm's last proposal (GP inputs)
    self.n_trials = -1                         # the trial count when they were proposed

  def reward(self, mean_at: np.ndarray, n_trials: int) -> None:
    """mean_at[n_arms]: the new model's posterior mean at each arm's last proposal, when the study has n_trials > the
    count at which they were proposed."""
    if self.proposals is not None and n_trials > self.n_trials: self.gains = self.gains + np.asarray(mean_at, dtype=np.float64)
    self.proposals = None

  def propose(self, proposals: np.ndarray, n_trials: int) -> None:
    self.proposals, self.n_trials = np.asarray(proposals, dtype=np.float64), n_trials
