"""The input-warp screen's Kumaraswamy CDF (benchmarks/input_warp_screen.py): the inverse undoes it, it is monotone and
maps the unit interval onto itself, and it equals scipy's Kumaraswamy CDF, 1 - (1 - u^a)^b, written independently."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.input_warp_screen import EPS, kumaraswamy, kumaraswamy_inverse

ab = st.floats(0.1, 10.0)

@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=20), ab, ab)
def test_the_inverse_undoes_the_warp_and_the_warp_is_monotone(u, a, b):
  u = np.sort(np.array(u))
  w = kumaraswamy(u, np.float64(a), np.float64(b))
  assert np.all((w >= 0) & (w <= 1)) and np.all(np.diff(w) >= 0)
  # the inverse is exact where the warp is not flat at double precision: compare in w, where it always is
  np.testing.assert_allclose(kumaraswamy(kumaraswamy_inverse(w, a, b), a, b), w, atol=1e-9)

def test_the_warp_is_the_kumaraswamy_cdf():
  from scipy import stats  # the beta-family reference: Kumaraswamy(a, b) is the law of X^(1/a) with X ~ Beta(1, b)
  u = np.linspace(0.0, 1.0, 101)
  for a, b in [(0.5, 2.0), (1.0, 1.0), (3.0, 0.7)]:
    ref = stats.beta(1.0, b).cdf((EPS + (1 - 2 * EPS) * u) ** a)
    np.testing.assert_allclose(kumaraswamy(u, a, b), ref, atol=1e-12)
