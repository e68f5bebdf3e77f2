"""The inward probe for integers (inward.int_inward_probe): an integer held at the first or last of its values by the
incumbent, the suggestion and the last INWARD_STALL evaluations is moved one value inside; hand-worked encodings."""
import numpy as np

import tinybo as tb
from tinybo.inward import INWARD_STALL, INWARD_STEP, int_cells, int_inward_probe

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
