"""The inward probe for integers (inward.int_inward_probe): an integer held at the first or last of its values by the
incumbent, the suggestion and the last INWARD_STALL evaluations is moved one value inside; hand-worked encodings."""
import numpy as np
import pytest

import tinybo as tb
from tinybo.inward import INWARD_STALL, INWARD_STEP, int_cells, int_inward_probe, new_int_end

SPACE = tb.Space({"x": tb.Float(0, 1), "layers": tb.Int(1, 8), "two": tb.Int(0, 1), "w": tb.Int(1, 100, log=True),
                  "opt": tb.Categorical(["a", "b"])})

def enc(x: float, layers: int, opt: str = "a") -> np.ndarray:
  return SPACE.encode({"x": x, "layers": layers, "two": 0, "w": 1, "opt": opt})

def test_int_cells_are_the_value_counts_of_plain_integers_with_three_values_or_more():
  # columns: x, layers, two, w, opt(a), opt(b); Int(0, 1) has no inside value, a log Int has no equal cells
  assert int_cells(SPACE).tolist() == [0, 8, 0, 0, 0, 0]

def test_an_integer_held_at_its_first_value_moves_one_value_inside():
  top = enc(0.50, 1)
  recent = np.array([enc(0.50 + 0.01 * i, 1) for i in range(INWARD_STALL)])
  probe = int_inward_probe(enc(0.52, 1), top, SPACE.kinds, int_cells(SPACE), recent)
  assert SPACE.decode(probe) == {"x": 0.5, "layers": 2, "two": 0, "w": 1, "opt": "a"}
  # the last value: one below it
  top8 = enc(0.5, 8)
  probe8 = int_inward_probe(enc(0.5, 8), top8, SPACE.kinds, int_cells(SPACE), np.array([enc(0.5, 8)] * INWARD_STALL))
  assert SPACE.decode(probe8)["layers"] == 7

def test_no_probe_unless_every_recent_point_holds_the_end_near_the_incumbent():
  cells, top = int_cells(SPACE), enc(0.5, 1)
  held = [enc(0.5, 1)] * INWARD_STALL
  assert int_inward_probe(enc(0.5, 1), top, SPACE.kinds, cells, np.array(held[:-1])) is None   # too few evaluations
  assert int_inward_probe(enc(0.5, 2), top, SPACE.kinds, cells, np.array(held)) is None        # the suggestion moved inside
  assert int_inward_probe(enc(0.5, 1), top, SPACE.kinds, cells, np.array(held[:-1] + [enc(0.5, 3)])) is None
  far = 0.5 + 2 * INWARD_STEP + 0.01   # a float farther than 2 INWARD_STEP from the incumbent's: not a refinement there
  assert int_inward_probe(enc(far, 1), top, SPACE.kinds, cells, np.array(held)) is None
  assert int_inward_probe(enc(0.5, 4), enc(0.5, 4), SPACE.kinds, cells, np.array([enc(0.5, 4)] * INWARD_STALL)) is None   # inside

# ***** new_int_end: UCB's suggestion takes an integer to an end of its range where the incumbent is not *****

def test_new_int_end_is_an_integer_at_an_end_the_incumbent_does_not_hold():
  cells = int_cells(SPACE)
  top = enc(0.5, 3)
  assert new_int_end(enc(0.9, 1), top, cells) and new_int_end(enc(0.1, 8), top, cells)   # the first and the last value
  assert not new_int_end(enc(0.9, 2), top, cells) and not new_int_end(enc(0.9, 7), top, cells)   # inside
  assert not new_int_end(enc(0.2, 1), enc(0.5, 1), cells)   # the incumbent is at that end too (the inward probe's case)
  assert new_int_end(enc(0.2, 8), enc(0.5, 1), cells)       # ... at the other end: a new one
  # Int(0, 1), the log Int and the categorical are no integers of int_cells: no end of theirs counts
  x = SPACE.encode({"x": 0.5, "layers": 3, "two": 1, "w": 100, "opt": "b"})
  assert not new_int_end(x, top, cells)
  assert not new_int_end(enc(0.9, 1), top, np.zeros_like(cells))

@pytest.mark.parametrize("end", [True, False], ids=["end", "inside"])
def test_ucb_at_a_new_integer_end_is_replaced_by_logei_near_the_incumbent(monkeypatch, end):
  # the strategy's wiring: UCB's point (forced to layers = 8) is answered by LogEI's, maximized in a box around the
  # best trial; an interior UCB point (layers = 5) is kept
  import tinybo.bo as bo
  space = tb.Space({"x": tb.Float(0, 1), "layers": tb.Int(1, 8)})
  forced = {"x": 0.77, "layers": 8 if end else 5}
  opt = tb.Optimizer(space, seed=0)
  for _ in range(8):
    t = opt.suggest()
    opt.observe(t, (t.params["x"] - 0.3) ** 2 + 0.1 * (t.params["layers"] - 3) ** 2)
  calls, real = [], bo.optimize_acquisition
  def spy(*a, acquisition, box=None, **k):
    calls.append((acquisition, box))
    x, v = real(*a, acquisition=acquisition, box=box, **k)
    return (space.encode(forced) if acquisition == "ucb" else x), v
  monkeypatch.setattr(bo, "optimize_acquisition", spy)
  t = opt.suggest()
  if not end:
    assert [c[0] for c in calls] == ["ucb"] and t.params == forced
    return
  assert [c[0] for c in calls] == ["ucb", "logei"], calls
  lo, hi = calls[1][1]
  incumbent = space.encode(opt.best.params)
  assert np.all(lo <= incumbent) and np.all(incumbent <= hi) and np.all(hi - lo < 1)   # a box around the best trial
  assert t.params != forced and lo[1] <= space.encode(t.params)[1] <= hi[1]
