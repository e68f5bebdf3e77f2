"""benchmarks/shared_trend.py's average learning curve (shared_trend): one shape shared by every curve, each at its
own level, read within curves; and the study it un-sticks, curves of one shape where stopped trials show only their
first steps (benchmarks/shared_curve.py, benchmarks/README.md sessions 27-28)."""
import warnings

import numpy as np

import tinybo as tb
from benchmarks.shared_trend import TREND_SMOOTH, SharedTrendGP, hat_basis, knots, shared_trend
from tinybo.fidelity import at_target, curve_data, fidelity


def reference_shared_trend(z, y, ids, at):
  """The same least squares written another way: a column per trial (its level) and the hat functions of the knots but
  the one at z = 0, the smoothness penalty as extra rows, solved by lstsq instead of the within-curve normal equations."""
  kn = knots(z)
  trials = np.unique(ids)
  levels = (ids[:, None] == trials[None, :]).astype(float)
  B = hat_basis(z, kn)[:, 1:]
  slopes = np.diff(np.eye(len(kn)), axis=0) / np.diff(kn)[:, None]
  P = (np.diff(slopes, axis=0) * np.mean(np.diff(kn)))[:, 1:] * np.sqrt(TREND_SMOOTH * len(y))
  A = np.block([[levels, B], [np.zeros((len(P), len(trials))), P]])
  coef = np.linalg.lstsq(A, np.concatenate([y, np.zeros(len(P))]), rcond=None)[0]
  g = np.concatenate([[0.0], coef[len(trials):]])
  return np.interp(at, kn, g)

def test_trend_is_the_least_squares_shared_curve():
  rng = np.random.default_rng(0)
  steps = np.array([1, 2, 4, 8, 16, 27])
  z, y, ids = [], [], []
  for i in range(7):
    n = rng.integers(1, len(steps) + 1)   # curves stopped at every length, one of a single report
    for s in steps[:n]: z.append(fidelity(s, 27)); y.append(rng.normal() + np.sin(3 * fidelity(s, 27)) + 0.1 * rng.normal()); ids.append(10 + i)
  z, y, ids = np.array(z), np.array(y), np.array(ids)
  at = np.linspace(0, 1, 11)
  np.testing.assert_allclose(shared_trend(z, y, ids), reference_shared_trend(z, y, ids, z), atol=1e-8)
  np.testing.assert_allclose(shared_trend(z, y, ids, at=at), reference_shared_trend(z, y, ids, at), atol=1e-8)

def test_trend_reads_the_shape_within_curves_not_across_them():
  """Curves of one shape 1/step, the bad ones stopped early: the trend is the shape (0 at the target), whatever the
  levels, where a curve through all the rows (early rows bad, late rows good) would bend by the levels' difference."""
  T, z, y, ids = 64, [], [], []
  for i, (level, last) in enumerate([(0.0, 64), (0.1, 64), (2.0, 2), (3.0, 4), (2.5, 1)]):
    for s in (1, 2, 4, 8, 16, 32, 64):
      if s <= last: z.append(fidelity(s, T)); y.append(level + 1.0 / s); ids.append(i)
  z, y, ids = np.array(z), np.array(y), np.array(ids)
  at = fidelity(np.array([1, 2, 4, 8, 16, 32, 64]), T)
  np.testing.assert_allclose(shared_trend(z, y, ids, at=at), 1.0 / np.array([1, 2, 4, 8, 16, 32, 64]) - 1 / 64, atol=0.01)
  assert np.all(shared_trend(np.full(3, 0.5), np.arange(3.0), np.arange(3)) == 0.0)   # one fidelity: no shape to read
  assert np.all(shared_trend(z, y, np.arange(len(z))) == 0.0)   # no curve of two rows: nothing within curves

def test_a_stopped_trials_first_steps_tell_its_final_value():
  """benchmarks/shared_curve.py's study in small: value = |x − 0.3|² + 1/step, 60 steps, four complete curves and
  eight trials stopped at step 1 or 3. The model suggest fits predicts each stopped trial's final value (its level +
  1/60) from its first steps within 0.05 of the truth; the default's quadratic trend read them 0.05-0.65 too good
  (0.02-0.08 where the truth is 0.08-0.72)."""
  T = 60
  space = tb.Space({f"x{i}": tb.Float(0.0, 1.0) for i in range(3)})
  gp = SharedTrendGP(warp=False)
  opt = tb.Optimizer(space, strategy=gp, seed=0)
  rng = np.random.default_rng(1)
  final = lambda x: float(((x - 0.3) ** 2).sum())
  stopped = []
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    for i in range(12):
      x = rng.uniform(0.0, 1.0, 3) if i >= 4 else np.full(3, 0.3) + rng.uniform(-0.15, 0.15, 3)
      opt.enqueue({f"x{j}": float(x[j]) for j in range(3)})
      t = opt.suggest()
      last = T if i < 4 else (1, 3)[i % 2]
      for s in range(1, last + 1): opt.report(t, final(x) + 1.0 / s, s)
      if last == T: opt.observe(t, final(x) + 1.0 / T)
      else: opt.stop(t); stopped.append(x)
    opt.suggest()   # fits the model on the twelve curves
  cd = curve_data(space, opt.trials[:12], opt.curves)
  # the detrended targets (larger is better) are −value − g(z); g at the target step is what a final row lost to it
  yy = gp._detrended(space, cd, cd.X, cd.y, True)
  g0 = float(np.mean((-cd.y - yy)[cd.final]))
  pred = -(gp._model.predict(at_target(np.array(stopped)))[0] + g0)
  truth = np.array([final(x) + 1.0 / T for x in stopped])
  np.testing.assert_allclose(pred, truth, atol=0.05)
