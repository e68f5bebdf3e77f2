"""The one L-BFGS against scipy's L-BFGS-B (the reference, test-only) on Rosenbrock and Styblinski-Tang from many starts,
with and without box bounds; its memory carried from one call to the next (warm starts)."""
import numpy as np
import pytest
from scipy.optimize import fmin_l_bfgs_b

from tinybo.lbfgs import Curvature, lbfgs


def rosenbrock(x):
  f = (100 * (x[..., 1:] - x[..., :-1] ** 2) ** 2 + (1 - x[..., :-1]) ** 2).sum(-1)
  g = np.zeros_like(x)
  g[..., :-1] += -400 * x[..., :-1] * (x[..., 1:] - x[..., :-1] ** 2) - 2 * (1 - x[..., :-1])
  g[..., 1:] += 200 * (x[..., 1:] - x[..., :-1] ** 2)
  return f, g

def styblinski_tang(x): return 0.5 * (x ** 4 - 16 * x ** 2 + 5 * x).sum(-1), 0.5 * (4 * x ** 3 - 32 * x + 5)

def batched(fn):
  calls = [0]
  def fg(X):
    calls[0] += 1
    return fn(X)
  return fg, calls

TIGHT = dict(max_evals=3000, gtol=1e-11, ftol=0.0)
ST_MINIMA = (-2.903534, 2.746803)  # each coordinate's two local minimizers (roots of 4x³ − 32x + 5), the local maximum at 0.157

def scipy_min(fn, x0, box):
  bounds = None if box is None else [tuple(None if np.isinf(v) else v for v in box)] * len(x0)
  x, f, info = fmin_l_bfgs_b(fn, x0, bounds=bounds, m=10, factr=10, pgtol=1e-10, maxfun=5000)
  return x, f

def starts_for(fn, p, box, rng, n=40):
  if fn is rosenbrock: return rng.uniform(*(box or (-2.0, 2.0)), size=(n, p))
  # Styblinski-Tang has 2^p minimizers: start inside a basin, 0.7 around a minimizer, so that the same minimizer is the
  # right answer (from anywhere, both methods' first steps can jump across basins, each its own way)
  centre = np.array(ST_MINIMA)[rng.integers(0, 2, size=(n, p))]
  if box is not None: centre = np.maximum(centre, box[0] + 0.7)
  return centre + rng.uniform(-0.7, 0.7, size=(n, p))

# (function, dimension, box): the bounds cut off the unconstrained minimum ((1, ..., 1) for Rosenbrock, -2.90 in every
# coordinate for Styblinski-Tang), so minimizers lie on the boundary. Styblinski-Tang's is bounded below only: in a
# closed box scipy's first step is the whole gradient (L-BFGS-B's rule), which jumps across this function's basins
CASES = [(rosenbrock, 2, None), (rosenbrock, 5, None), (rosenbrock, 4, (-2.0, 0.7)),
         (styblinski_tang, 3, None), (styblinski_tang, 6, None), (styblinski_tang, 4, (-2.5, np.inf))]

@pytest.mark.parametrize("fn,p,box", CASES, ids=[f"{f.__name__}-{p}-{'box' if b else 'free'}" for f, p, b in CASES])
def test_reaches_the_minimizers_scipy_reaches(fn, p, box):
  starts = starts_for(fn, p, box, np.random.default_rng(p))
  lo, hi = box or (-np.inf, np.inf)
  x, f, _ = lbfgs(batched(fn)[0], starts, np.full(p, lo), np.full(p, hi), **TIGHT)
  same = 0
  for r, x0 in enumerate(starts):
    # where we stop is a minimizer for scipy too: started there, it stays, at the same value
    xs, fs = scipy_min(fn, x[r], box)
    np.testing.assert_allclose(xs, x[r], rtol=0, atol=1e-7)
    assert f[r] == pytest.approx(fs, rel=1e-12, abs=1e-12)
    # and from the same start, scipy's minimizer (5-d Rosenbrock has a second one, near x_1 = -1: a start may cross over)
    same += np.abs(scipy_min(fn, x0, box)[0] - x[r]).max() < 1e-6
  assert same >= 0.95 * len(starts), f"{same} of {len(starts)} starts reach scipy's minimizer"

def test_minimizers_of_the_bounded_problems_are_on_the_boundary():
  x, _, _ = lbfgs(batched(rosenbrock)[0], np.zeros((1, 4)), np.full(4, -2.0), np.full(4, 0.7), **TIGHT)
  assert np.isclose(x[0], 0.7).any()  # the unconstrained minimizer (1, 1, 1, 1) is outside the box
  x, _, _ = lbfgs(batched(styblinski_tang)[0], np.full((1, 4), -1.0), np.full(4, -2.5), np.full(4, 4.0), **TIGHT)
  np.testing.assert_allclose(x[0], -2.5)  # each coordinate's global minimizer -2.9035 is outside

def test_rows_are_independent_and_evaluated_together():
  # b rows in lock-step follow the paths each row follows alone; one batched call per step of the slowest row
  starts = np.random.default_rng(0).uniform(-2, 2, size=(8, 3))
  free = np.full(3, -np.inf), np.full(3, np.inf)
  fg, calls = batched(rosenbrock)
  x, f, _ = lbfgs(fg, starts, *free, **TIGHT)
  solo_x, solo_calls = [], []
  for s in starts:
    fg1, c1 = batched(rosenbrock)
    solo_x.append(lbfgs(fg1, s[None], *free, **TIGHT)[0][0]); solo_calls.append(c1[0])
  np.testing.assert_allclose(x, np.array(solo_x), rtol=0, atol=1e-12)
  assert calls[0] == max(solo_calls)

def test_non_finite_rows_and_max_evals():
  def fg(X): return np.where(X[:, 0] > 5, np.inf, (X ** 2).sum(1)), 2 * X
  x, f, _ = lbfgs(fg, np.array([[1.0, 1.0], [6.0, 0.0]]), np.full(2, -10.0), np.full(2, 10.0))
  assert f[0] == pytest.approx(0.0, abs=1e-12) and f[1] == np.inf and np.array_equal(x[1], [6.0, 0.0])
  fg2, calls = batched(rosenbrock)
  lbfgs(fg2, np.full((2, 4), -1.5), np.full(4, -np.inf), np.full(4, np.inf), max_evals=7)
  assert calls[0] == 7

def quadratic(A, b):
  def fg(X): return 0.5 * np.einsum("ri,ij,rj->r", X, A, X) - X @ b, X @ A - b
  return fg

def test_a_warm_restart_from_the_history_needs_fewer_evaluations():
  # an ill-conditioned quadratic in 6 variables; the second problem's minimizer is moved a little (a new observation
  # moves the GP's optimum a little): continuing with the first run's curvature pairs beats starting cold
  rng = np.random.default_rng(1)
  Q = np.linalg.qr(rng.standard_normal((6, 6)))[0]
  A = Q @ np.diag(np.geomspace(1, 300, 6)) @ Q.T
  b1, b2 = rng.standard_normal(6), None
  b2 = b1 + 0.05 * rng.standard_normal(6)
  lower, upper = np.full(6, -np.inf), np.full(6, np.inf)
  x1, _, hist = lbfgs(quadratic(A, b1), np.zeros((1, 6)), lower, upper, gtol=1e-10, ftol=0.0, max_evals=500)
  assert isinstance(hist, Curvature) and hist.n[0] > 0
  kept = hist.S.copy()
  fg_cold, cold = batched(quadratic(A, b2))
  fg_warm, warm = batched(quadratic(A, b2))
  xc, _, _ = lbfgs(fg_cold, x1, lower, upper, gtol=1e-10, ftol=0.0, max_evals=500)
  xw, _, hist2 = lbfgs(fg_warm, x1, lower, upper, gtol=1e-10, ftol=0.0, max_evals=500, history=hist)
  target = np.linalg.solve(A, b2)
  np.testing.assert_allclose(xw[0], target, atol=1e-7); np.testing.assert_allclose(xc[0], target, atol=1e-7)
  assert warm[0] < cold[0], (warm[0], cold[0])
  # the returned history feeds back in: a third problem warm-started from the second run's history
  assert hist2.n[0] > 0 and np.array_equal(hist.S, kept)  # the input history is not modified
  fg3, calls3 = batched(quadratic(A, b1))
  x3, _, _ = lbfgs(fg3, xw, lower, upper, gtol=1e-10, ftol=0.0, max_evals=500, history=hist2.row(0))
  np.testing.assert_allclose(x3[0], x1[0], atol=1e-7)
  assert calls3[0] < cold[0]

def test_history_of_the_wrong_shape_is_an_error():
  with pytest.raises(ValueError, match="history"):
    lbfgs(quadratic(np.eye(2), np.ones(2)), np.zeros((2, 2)), np.full(2, -1.0), np.full(2, 1.0), history=Curvature.empty(1, 10, 2))

def test_enough_stops_every_row_once_the_best_value_is_low_enough():
  def fg(x): return (x ** 2).sum(1), 2 * x
  x0 = np.array([[3.0, -2.0], [1.0, 1.0]])
  calls = []
  x, f, _ = lbfgs(lambda x: calls.append(1) or fg(x), x0, np.full(2, -5.0), np.full(2, 5.0), enough=lambda f: f.min() <= 1.0)
  assert f.min() <= 1.0 and len(calls) < 5   # stopped on the way: the minimum, 0, takes more steps
  x_full, f_full, _ = lbfgs(fg, x0, np.full(2, -5.0), np.full(2, 5.0))
  assert f_full.max() < 1e-12
