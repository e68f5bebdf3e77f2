"""Screen of rules for camel's last digits under today's default (`edge`, `trust_region=True`), gated on the strategy's own
kept noise verdict (`GP._noisy` of the suggestion being made: edge's test, rerun only when the data grew RETEST_GROWTH
times) instead of session 10's per-fit `noise_evidence`. Each rule patches tinybo in this process only; one rule per process.
- "none": nothing changed;
- "ex<r>": when the suggestion's verdict is "not noisy" and UCB's proposal (a global turn: no trust-region box) lies
  within r (max-norm, unit cube) of the best observed point, suggest instead the posterior mean's maximizer (the same
  optimizer with beta = 0, min_distance kept): session 10's exploit step;
- "ex<r>nb": the same, but not where the best observed point or the mean's maximizer lies on a float bound (a
  constrained optimum on the box's face, such as Branin's x0 = 10 at 1.943, where the steps slide along the face);
- "ex<r>nb1": "ex<r>nb", at most one step per incumbent (not while the best observed point is a step's own point);
- a suffix "w" (e.g. ex0.01nbw): only where the values are log-warped;
- "mm": session 9's minmean (where the values are log-warped, the GP's prior mean is the lowest target) while the last
  kept verdict (the previous suggestion's) is "not noisy"; the first guided suggestion counts as not noisy;
  It acts on suggest's fits of the warped values only: not on the raw values' refit once the verdict is noisy, nor in
  `recommend` (the noisy problems' regret);
- "mm<N>": the same, only once the study has at least N complete trials;
- "mmu<N>": the same, only while the study has fewer than N complete trials (the corner visits come early);
- "mmf<v>": "mm", only while the previous suggestion's fit has a noise variance (standardized) at most v;
- "<ex rule>+<mm rule>": both, e.g. ex0.01nb+mm.
Each run records its regret, values, min_dist, counts {"fired": [steps, steps], "bound_refused": [steps refused on a bound, the same],
"mm": [fits with the lowest prior mean, fits]} and per suggestion [n, kept verdict noisy, the fit's noise variance
(standardized), the last noise test's evidence] ("verdicts").

  python -m benchmarks.s11_camel_screen --rules ex0.01nb --problems camel --seeds 0-9 --out results/x.json
"""
from __future__ import annotations

import numpy as np

import tinybo.bo as bo
import tinybo.transforms as transforms
from benchmarks.warp_screen import screen

COUNTS: dict[str, list[int]] = {}
VERDICTS: list[list] = []   # per suggestion: [n complete trials, kept verdict noisy, fitted noise variance, last test's evidence]
TAKEN: list[np.ndarray] = []   # the points the steps suggested in this run
WARPED = [False]   # "mm": whether this fit's prior mean is the lowest target
RECOMMENDING = [False]   # inside GP.recommend
LOG_WARPED = [False]   # whether the suggestion being made fits log-warped values

def _count(k: str, hit: bool) -> None:
  c = COUNTS.setdefault(k, [0, 0]); c[0] += int(hit); c[1] += 1

def _noisy_now() -> bool:
  """The kept verdict of the suggestion being made (the last keep=True call of GP._noisy); True before any."""
  return bool(VERDICTS[-1][1]) if VERDICTS else True

def _patch_exploit(part: str) -> None:
  """"ex<r>", "ex<r>nb", "ex<r>nb1": see the docstring."""
  body = part.removeprefix("ex")
  warped_only, body = body.endswith("w"), body.removesuffix("w")
  once = body.endswith("nb1")
  body = body.removesuffix("nb1") + "nb" if once else body
  nb, r = body.endswith("nb"), float(body.removesuffix("nb"))
  optimize = bo.optimize_acquisition
  def exploit(post, state, space, *args, acquisition: str = "ucb", **kwargs):
    out = optimize(post, state, space, *args, acquisition=acquisition, **kwargs)
    top = kwargs.get("X_top")
    if acquisition != "ucb" or top is None or not len(top) or kwargs.get("box") is not None or kwargs.get("beta") == 0.0: return out
    if _noisy_now() or float(np.abs(out[0] - top[0]).max()) > r or warped_only and not LOG_WARPED[0]: return out
    if nb and bo.on_float_bound(top[0], space.kinds): _count("bound_refused", True); return out
    if once and any(np.abs(p - top[0]).max() < 1e-12 for p in TAKEN): _count("once_refused", True); return out
    mean = optimize(post, state, space, *args, acquisition="ucb", **{**kwargs, "beta": 0.0})
    if nb and bo.on_float_bound(mean[0], space.kinds): _count("bound_refused", True); return out
    _count("fired", True)
    TAKEN.append(mean[0].copy())
    return mean
  bo.optimize_acquisition = exploit

def _patch_minmean(part: str) -> None:
  """"mm", "mm<N>", "mmu<N>", "mmf<v>": see the docstring."""
  body = part.removeprefix("mm")
  max_noise = float(body.removeprefix("f")) if body.startswith("f") else np.inf
  n_max = int(body.removeprefix("u")) if body.startswith("u") else np.inf
  n_min = 0 if body[:1] in ("f", "u") else int(body or 0)
  targets = bo.GP._targets
  def warped_targets(self, space, y, design, minimize):
    quiet = not VERDICTS or not VERDICTS[-1][1] and VERDICTS[-1][2] <= max_noise
    WARPED[0] = self._warp_kind(space, design, minimize) == "log" and quiet and n_min <= len(y) < n_max and not RECOMMENDING[0]
    return targets(self, space, y, design, minimize)
  bo.GP._targets = warped_targets
  yfit = transforms.YTransform.fit
  def fit_minmean(y: np.ndarray):
    t, std = yfit(y)
    _count("mm", WARPED[0])
    if not WARPED[0]: return t, std
    low = float(std.min())
    return transforms.YTransform(t.center, t.spread, t.u_mean + low * t.u_scale, t.u_scale), std - low
  transforms.YTransform.fit = staticmethod(fit_minmean)

def patch(rule: str) -> None:
  noisy = bo.GP._noisy
  def watched_noisy(self, space, model, y, seed, keep=True):
    v = noisy(self, space, model, y, seed, keep)
    if keep: VERDICTS.append([len(y), bool(v), float(model.hyperparameters["noise"]), float(self._noise_test[2])])
    if v: WARPED[0] = False   # the raw values' refit of a noisy verdict keeps the average prior mean
    return v
  bo.GP._noisy = watched_noisy
  targets = bo.GP._targets
  def watched_targets(self, space, y, design, minimize):
    LOG_WARPED[0] = self._warp_kind(space, design, minimize) == "log"
    return targets(self, space, y, design, minimize)
  bo.GP._targets = watched_targets
  recommend = bo.GP.recommend
  def plain_recommend(self, *args, **kwargs):   # "mm" acts on suggest's fits only: recommend's are the default's
    RECOMMENDING[0] = True
    try: return recommend(self, *args, **kwargs)
    finally: RECOMMENDING[0] = False
  bo.GP.recommend = plain_recommend
  for part in [] if rule == "none" else rule.split("+"):
    if part.startswith("ex"): _patch_exploit(part)
    elif part.startswith("mm"): _patch_minmean(part)
    else: raise SystemExit(f"--rules {rule!r}: see the docstring")

def _record(r: dict) -> dict:
  out = {"regret": r["regret"], "values": r["values"], "min_dist": r.get("min_dist"), "counts": {k: list(v) for k, v in COUNTS.items()},
         "verdicts": list(VERDICTS)}
  COUNTS.clear(); VERDICTS.clear(); TAKEN.clear(); WARPED[0] = LOG_WARPED[0] = False
  return out

def main() -> None:
  installed: list[str] = []
  def install(rule: str) -> None:
    if installed: raise SystemExit(f"--rules {installed[0]},{rule}: one rule per process (each patches tinybo on top of the last)")
    patch(rule); installed.append(rule)
  rules = ["none", "ex<r>", "ex<r>nb", "ex<r>nb1", "mm", "mm<N>", "mmu<N>", "<ex>+<mm>"]
  screen(rules, install, lambda rule, strategy: f"{strategy}|{rule}", "camel",
         __doc__, record=_record)

if __name__ == "__main__":
  main()
