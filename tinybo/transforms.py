"""Every map of the observed values before the GP sees them: the strategy's optional log warp (`warp_values`, chosen by
`heavy_bad_tail`; `unwarp_values` inverts it) or power transform (`power_values`: Box-Cox / Yeo-Johnson), then the
GP's robust standardization with a logarithmic squash of extreme spreads (`YTransform`).
Holds pure numpy functions and one frozen dataclass. Imports: numpy.
Glossary: y raw values (the strategy passes values to maximize); z = (y − center) / spread, a robust z-score (median and
scaled MAD); u = squash(z); the GP's standardized targets are (u − u_mean) / u_scale.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SQUASH = 20.0  # robust z-scores beyond ±SQUASH grow logarithmically

def squash(z:np.ndarray) -> np.ndarray:
  a = np.abs(z)
  return np.where(a > SQUASH, np.sign(z) * (SQUASH + np.log1p(np.maximum(a - SQUASH, 0))), z)

def unsquash(u:np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """The inverse of squash and its derivative (for the variance by the delta method)."""
  a = np.abs(u)
  big = a > SQUASH
  ex = np.expm1(np.minimum(np.maximum(a - SQUASH, 0), 700))
  return np.where(big, np.sign(u) * (SQUASH + ex), u), np.where(big, ex + 1, 1.0)

def median_of_halves(x:np.ndarray) -> float:
  """The median, computed on x / 2 and doubled: numpy's median of an even count adds the middle two values, which
  overflows near ±1.8e308. For normal floats the same number as np.median (halving and doubling are exact)."""
  return float(np.median(x / 2)) * 2

@dataclass(frozen=True)
class YTransform:
  """y -> standardized targets: squash((y − center) / spread), then centered and scaled to unit variance."""
  center: float; spread: float; u_mean: float; u_scale: float

  @staticmethod
  def fit(y:np.ndarray) -> tuple[YTransform, np.ndarray]:
    """The transform of finite-or-not y[n] and the standardized targets. ±inf are clipped to the extremes seen; NaN becomes
    the minimum (the strategies maximize: NaN is the worst). Needs one finite value at least."""
    finite = np.isfinite(y)
    y = np.where(np.isnan(y), y[finite].min(), np.clip(y, y[finite].min(), y[finite].max()))
    center = median_of_halves(y)
    with np.errstate(over="ignore", invalid="ignore"):
      dev = np.abs(y / 2 - center / 2) * 2  # halves: no overflow near ±1.8e308
      scale = float(np.median(dev)) * 1.4826
      if not np.isfinite(scale) or scale <= 0: scale = float(np.mean(dev))
      if not np.isfinite(scale) or scale <= 0: scale = 1.0
      z = np.clip((y / 2 - center / 2) / scale * 2, -1e300, 1e300)
    u = squash(np.nan_to_num(z))
    t = YTransform(center, scale, float(u.mean()), float(u.std()) or 1.0)
    return t, (u - t.u_mean) / t.u_scale

  def __call__(self, y:np.ndarray) -> np.ndarray:
    """Finite y in the units of the fit -> standardized targets."""
    with np.errstate(over="ignore"):  # halves, as `fit`: a y and a center near ∓1.8e308 would overflow their difference
      z = np.clip((np.asarray(y, dtype=np.float64) / 2 - self.center / 2) / self.spread * 2, -1e300, 1e300)
    return (squash(z) - self.u_mean) / self.u_scale

  @property
  def affine(self) -> tuple[float, float]:
    """(y_mean, y_scale): y ≈ y_mean + y_scale · standardized, exact unless the fit squashed (then valid in the central range)."""
    with np.errstate(over="ignore"):
      return float(np.nan_to_num(self.center + self.spread * self.u_mean)), float(np.nan_to_num(self.spread * self.u_scale))

  def to_y_units(self, mean:np.ndarray, var:np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standardized (mean, var) -> units of y: the inverse squash, with the delta-method variance."""
    z, dz = unsquash(self.u_mean + self.u_scale * np.asarray(mean, dtype=np.float64))
    with np.errstate(over="ignore"):
      y = (self.center / 2 + self.spread * (z / 2)) * 2   # halves: a finite y beside a center near ∓1.8e308 stays finite
      v = np.asarray(var, dtype=np.float64) * (self.u_scale * self.spread * dz) ** 2
    return np.nan_to_num(y), np.nan_to_num(np.maximum(v, 0.0), posinf=np.finfo(np.float64).max)

def warp_scale(y:np.ndarray, n_scale:int|None=None) -> float:
  """s of `warp_values`: the median distance below the best, d = (max y − y) / 2, of the first n_scale values (None: all),
  or of the positive distances when that median is 0; 1 when every value is the best. A finite, positive, normal float."""
  d = np.max(y) / 2 - y / 2   # halves: a spread near 1.8e308 would overflow; the warp is scale-free
  s = median_of_halves(d[:n_scale]) if n_scale is None or n_scale > 0 else 0.0
  if not s > 0 and (d > 0).any(): s = median_of_halves(d[d > 0])
  # a subnormal median (values 1e-309 apart next to ones 1 apart) would overflow d / s: s stays >= max(d) / 1e300
  # and a normal float at least (every distance subnormal would leave s subnormal)
  return max(s, float(d.max()) / 1e300, np.finfo(np.float64).tiny) if s > 0 else 1.0

def warp_values(y:np.ndarray, n_scale:int|None=None) -> np.ndarray:
  """Values to maximize -> a monotone warp the GP fits better: the distance below the best, d >= 0, becomes log1p(d / s)
  with s = `warp_scale`, the median distance of the first n_scale values (the initial design). Far-off bad values (a
  corner 100x worse than the rest) are compressed logarithmically, so they neither dominate the standardization nor drown
  the small differences near the optimum that decide the last digits. The best point maps to 0; the order of the values
  never changes (`unwarp_values` inverts it). s comes from the space-filling design because a median over all values
  collapses once later suggestions crowd the incumbent: then every gain larger than s looks out of reach to the model,
  which keeps probing beside the incumbent."""
  return -np.log1p((np.max(y) / 2 - y / 2) / warp_scale(y, n_scale))

def warp_resolution(w:np.ndarray) -> float:
  """(median(d) / s)², at most 1, of values warped by `warp_values` (w = −log1p(d / s), d the distances below the best):
  how much less a frozen scale s resolves the differences near the best (where the warp is d / s) than the scale that
  follows all the values, median(d), would. Once the suggestions crowd the best, those differences are a tiny part of
  the targets' spread, below a fixed noise floor; the GP strategy multiplies its noise floor by this (`GP(warp_floor=True)`).
  1 when at least half the values tie the best or w is not finite."""
  with np.errstate(over="ignore", invalid="ignore"):
    r = float(np.median(np.expm1(-np.asarray(w, dtype=np.float64))))
  return min(1.0, max(r * r, np.finfo(np.float64).tiny)) if math.isfinite(r) and r > 0 else 1.0

def unwarp_values(w:np.ndarray, y_best:float, s:float) -> np.ndarray:
  """The inverse of `warp_values` for values whose best is y_best and whose warp scale is s."""
  return 2 * (y_best / 2 - s * np.expm1(-np.asarray(w, dtype=np.float64)))   # halves, as the warp: no overflow

def heavy_bad_tail(y:np.ndarray) -> bool:
  """Whether values to maximize have a long tail of bad values (a few far below the rest: Branin's corners), measured
  as a negative skewness. Called on the space-filling initial design, an unbiased sample of the objective over the
  space: later suggestions crowd the optimum and would make any objective look skewed this way."""
  if len(y) < 3 or not np.ptp(y / 2) > 0: return False
  z = y / np.max(np.abs(y))   # unit scale first: the moments of values near ±1e300 would overflow
  z = z - np.mean(z)
  return bool(np.std(z) > 0 and np.mean(z ** 3) < 0)

# how far below the initial design's worst value (in design ranges) a value counts as an outlier: a diverged training
# run's loss of 1e6 after a design of losses 0.1-2 lies ~1e6 ranges below, the corners of the benchmark suite's
# polynomials (camel) 3-16
OUTLIER_RANGES = 10.0

def far_below(y:np.ndarray, n_design:int, ranges:float=OUTLIER_RANGES) -> np.ndarray:
  """Which values to maximize lie more than `ranges` design ranges below the worst of the first n_design values (the
  initial design, a sample of the objective over the space): a bool mask, never True for a design value. All False
  when the design has fewer than two distinct values (no range to measure by)."""
  y = np.asarray(y, dtype=np.float64)
  ref = y[:n_design]
  if len(ref) < 2 or not np.all(np.isfinite(ref)): return np.zeros(len(y), dtype=bool)
  lo = float(np.min(ref))
  with np.errstate(over="ignore"):
    r = float(np.max(ref) - lo)
  # a range past 1.8e308 overflows: its halves then (halving first always loses a subnormal range such as 5e-324 to 0)
  if not math.isfinite(r): r = float(np.max(ref) / 2 - lo / 2) * 2
  if not (np.isfinite(r) and r > 0): return np.zeros(len(y), dtype=bool)
  with np.errstate(over="ignore", invalid="ignore"):
    bound = lo - ranges * r
  out = y < bound if np.isfinite(bound) else np.zeros(len(y), dtype=bool)
  out[:n_design] = False
  return out

POWER_LAMBDAS = np.linspace(-3.0, 3.0, 121)  # the grid the power transform's λ is chosen on

def box_cox(x:np.ndarray, lam:float) -> np.ndarray:
  """x > 0 -> (x^λ − 1) / λ, log x at λ = 0."""
  return np.log(x) if abs(lam) < 1e-12 else np.expm1(lam * np.log(x)) / lam

def yeo_johnson(x:np.ndarray, lam:float) -> np.ndarray:
  """Box-Cox of 1 + x for x >= 0 and −BoxCox_{2−λ}(1 − x) for x < 0: defined on the whole line, monotone for every λ."""
  pos = x >= 0
  out = np.empty_like(x, dtype=np.float64)
  out[pos] = box_cox(1 + x[pos], lam)
  out[~pos] = -box_cox(1 - x[~pos], 2 - lam)
  return out

def _profile_loglik(t:np.ndarray, log_jac:float) -> float:
  v = float(np.var(t))
  return -0.5 * len(t) * math.log(v) + log_jac if v > 0 and math.isfinite(v) else -math.inf

def power_lambda(x:np.ndarray, method:str) -> float:
  """The maximum-likelihood λ of a Box-Cox ("box-cox", x > 0) or Yeo-Johnson transform to a normal sample, on the grid
  POWER_LAMBDAS (the profile log-likelihood −n/2 log var(T(x)) + (λ − 1) Σ log Jacobian)."""
  if method == "box-cox": lj, f = np.log(x).sum(), box_cox
  else: lj, f = (np.sign(x) * np.log1p(np.abs(x))).sum(), yeo_johnson
  with np.errstate(over="ignore", invalid="ignore"):
    ll = [_profile_loglik(f(x, lam), (lam - 1) * lj) for lam in POWER_LAMBDAS]
  return float(POWER_LAMBDAS[int(np.argmax(ll))])

def power_values(y:np.ndarray) -> np.ndarray:
  """Values to maximize -> a monotone power transform of the loss −y chosen by maximum likelihood (as HEBO): the loss
  is divided by its standard deviation, then Box-Cox if it is positive, else Yeo-Johnson, with λ on POWER_LAMBDAS.
  Unlike `warp_values` it is anchored at 0 of the loss, not at the incumbent, so near-ties of the incumbent stay near-ties
  whatever the later suggestions. Returns −T(−y / std); the order of the values never changes."""
  loss = -np.asarray(y, dtype=np.float64)
  big = float(np.max(np.abs(loss)))
  if not big > 0 or not math.isfinite(big): return np.asarray(y, dtype=np.float64)
  sd = float(np.std(loss / big)) * big
  if not sd > 0: return np.asarray(y, dtype=np.float64)
  x = loss / sd
  method = "box-cox" if x.min() > 0 else "yeo-johnson"
  lam = power_lambda(x, method)
  with np.errstate(over="ignore"):
    t = (box_cox if method == "box-cox" else yeo_johnson)(x, lam)
  # a loss far from 0 against its spread (1e4 + [0, 1]) gives a likelihood the rounding decides, and a λ whose transform
  # merges distinct values into ties: then the values as they are
  if not np.isfinite(t).all() or len(np.unique(t)) < len(np.unique(x)): return np.asarray(y, dtype=np.float64)
  return -t

def inv_box_cox(t:np.ndarray, lam:float) -> np.ndarray:
  """The inverse of `box_cox`."""
  return np.exp(t) if abs(lam) < 1e-12 else np.exp(np.log1p(lam * np.asarray(t, dtype=np.float64)) / lam)

def inv_yeo_johnson(t:np.ndarray, lam:float) -> np.ndarray:
  """The inverse of `yeo_johnson` (its sign is that of x: T(0) = 0)."""
  t = np.asarray(t, dtype=np.float64)
  pos = t >= 0
  out = np.empty_like(t)
  out[pos] = inv_box_cox(t[pos], lam) - 1
  out[~pos] = 1 - inv_box_cox(-t[~pos], 2 - lam)
  return out
