"""The benchmark runner's parallel schedules (benchmarks/run.py): "S@qK", batches of K asked before any is told, and
"S@aK", K asynchronous workers with random evaluation times, each asking as soon as it is free. Checked against a spy
adapter that logs every ask and tell, and against an independent replay of the workers' clock."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks.functions import PROBLEMS
from benchmarks.run import DURATION_SALT, run_one, schedule_of


class Spy:
  """Random configurations of the problem's space; logs ("ask", index, running) and ("tell", index) events."""
  def __init__(self, problem, seed):
    self.space, self.rng, self.log, self.running, self.asked = problem.space, np.random.default_rng(seed), [], {}, 0

  def ask(self):
    p = self.space.decode(self.rng.random(self.space.dim))
    self.log.append(("ask", self.asked, len(self.running)))
    self.running[self.space.key(p)] = self.asked
    self.asked += 1
    return p

  def tell(self, params, value):
    self.log.append(("tell", self.running.pop(self.space.key(params))))

  def recommend(self): return self.space.decode(np.full(self.space.dim, 0.5))


def spy_run(strategy, problem="camel", seed=0, budget=10):
  spies = []
  def make(name, problem, seed):
    assert name == schedule_of(strategy)[0]   # the adapter is made for the strategy without its schedule
    spies.append(Spy(problem, seed))
    return spies[-1]
  return run_one(problem, strategy, seed, budget=budget, make=make), spies[0].log

def test_schedule_names():
  assert schedule_of("gp") == ("gp", 1, False) and schedule_of("gp:beta=3") == ("gp:beta=3", 1, False)
  assert schedule_of("gp@q4") == ("gp", 4, False) and schedule_of("optuna-gp@a8") == ("optuna-gp", 8, True)
  for bad in ("gp@q0", "gp@qx", "gp@a", "gp@a-2"):
    with pytest.raises(ValueError, match="int >= 1"): schedule_of(bad)

def test_batches_are_asked_whole_then_told_whole():
  r, log = spy_run("random@q4", budget=10)
  # three rounds, 4 + 4 + 2 (the last cut to the budget): every ask of a round before any tell, nothing left running
  kinds = "".join(e[0][0] for e in log)
  assert kinds == "aaaatttt" + "aaaatttt" + "aatt"
  assert [e[2] for e in log if e[0] == "ask"] == [0, 1, 2, 3] * 2 + [0, 1]
  assert r["batch"] == 4 and len(r["values"]) == 10 and len(r["suggest_s"]) == 10
  # a batch is told in the order it was asked, each value the objective's at its ask index
  assert r["values"] == [PROBLEMS["camel"].observe(p, 0, i) for i, p in enumerate(_replay_params(0, 10))]

def test_a_batch_of_one_is_the_sequential_run():
  seq, _ = spy_run("random", budget=8)
  one, log = spy_run("random@q1", budget=8)
  assert one["values"] == seq["values"] and "".join(e[0][0] for e in log) == "at" * 8 and "batch" not in one

def test_asynchronous_workers_follow_their_clock():
  r, log = spy_run("random@a3", seed=5, budget=9)
  # an independent replay: each evaluation lasts U(0.5, 1.5) drawn in ask order; a worker asks again when its evaluation ends
  rng, clock, running, asked, told = np.random.default_rng([5, DURATION_SALT]), 0.0, [], 0, []
  while len(told) < 9:
    while len(running) < 3 and asked < 9:
      running.append((clock + rng.uniform(0.5, 1.5), asked)); asked += 1
    running.sort()
    clock, i = running.pop(0)
    told.append(i)
  assert [e[1] for e in log if e[0] == "tell"] == told
  # each ask after the first three sees the two other workers' evaluations running, until the budget is asked
  assert [e[2] for e in log if e[0] == "ask"] == [0, 1, 2, 2, 2, 2, 2, 2, 2]
  # values are recorded in the order evaluations finish
  asked_values = [PROBLEMS["camel"].observe(p, 5, i) for i, p in enumerate(_replay_params(5, 9))]
  assert r["values"] == [asked_values[i] for i in told] and r["workers"] == 3

def _replay_params(seed, n):
  space, rng = PROBLEMS["camel"].space, np.random.default_rng(seed)
  return [space.decode(rng.random(space.dim)) for _ in range(n)]

def test_a_noisy_batch_run_recommends_at_the_first_round_end_past_each_ten():
  r, _ = spy_run("random@q4", problem="branin_noisy", budget=30)
  assert r["rec_at"] == [12, 20, 30]

def test_tinybo_batches_come_from_one_suggest_call(monkeypatch):
  import tinybo as tb
  calls = []
  real = tb.Optimizer.suggest
  def counting(self, n=None):
    calls.append(n)
    return real(self, n)
  monkeypatch.setattr(tb.Optimizer, "suggest", counting)
  r = run_one("camel", "random@q4", 0, budget=10)
  assert calls == [4, 4, 2] and len(r["values"]) == 10
  calls.clear()
  run_one("camel", "random@a4", 0, budget=6)
  assert calls == [None] * 6   # asynchronous workers ask one at a time, the others' trials pending

@pytest.mark.optuna
def test_the_constant_liar_peer_is_tpe_with_constant_liar():
  pytest.importorskip("optuna")
  from benchmarks.peers import make_adapter
  assert make_adapter("optuna-tpe-cl", PROBLEMS["branin"], 0).study.sampler._constant_liar is True
  assert make_adapter("optuna-tpe", PROBLEMS["branin"], 0).study.sampler._constant_liar is False
