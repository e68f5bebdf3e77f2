"""Screen of rules for the last digits of a deterministic objective under `min_distance` (camel: with no suggestion
within 1e-3 of an observed point, the regret is set by how close to the minimizer the first point that lands near it
is). Each rule patches tinybo in this process only, then `benchmarks.run.run_one` (or conditional_bench's) runs the
strategy:
- "none": nothing changed;
- "exploit<r>" (e.g. exploit0.01): when a UCB proposal lies within r (max-norm, unit cube) of the best observed point and
  the fitted model's noise variance is at the numerical floor (`noise.NEGLIGIBLE_NOISE` times `gp.NOISE_FLOOR`, in
  standardized units: the data look deterministic), suggest instead the maximizer of the posterior mean (the same
  optimizer, UCB with beta = 0, still honouring min_distance);
- "exploitls<c>": the same, with the radius c times the smallest fitted lengthscale;
- "minmeandet": session 9's "minmean" (where the values are log-warped, the GP's prior mean is the lowest target), only
  while the previous suggestion's fit passes the same gate (the first guided suggestion counts as deterministic);
- "both<r>": exploit<r> and minmeandet together;
- "exploitlcb<r>", "bothlcb<r>": the same, but the step is taken only where the model is sure it improves: the lower
  confidence bound (mean − √beta sd) at the mean's maximizer above the best observed target;
- "exploitalt<r>", "bothalt<r>": the same, but never while the best observed point is one a mean step suggested.
A suffix "@<v>" (e.g. exploit0.1@1e-3) counts the data as deterministic while the fitted noise variance (standardized) is
at most v instead (@inf: always); "@ev": while `noise.noise_evidence` of the fit is at most NOISE_MARGIN (acquisition="auto"'s
test; computed once per fit, only where a rule asks). The gate sees the suggestions' fits only: recommend's (keep=False)
never change what the study suggests next.
Each run records its regret, values, min_dist, counts {"fired": [mean steps, UCB proposals], "det":
[checks the gate passed, checks]}, per kept fit its noise variance ("noise"), and per mean step the max-norm distances
[UCB point - incumbent, mean point - incumbent, UCB point - mean point] ("steps").

  python -m benchmarks.s10_camel_screen --rules exploit0.01 --problems camel --seeds 0-9 --out results/x.json
"""
from __future__ import annotations

import numpy as np

import tinybo.bo as bo
import tinybo.transforms as transforms
from benchmarks.warp_screen import screen
from tinybo.gp import NOISE_FLOOR
from tinybo.noise import NEGLIGIBLE_NOISE, NOISE_MARGIN, noise_evidence

COUNTS: dict[str, list[int]] = {}
NOISES: list[float] = []
STEPS: list[list[float]] = []   # per mean step: [distance UCB point - incumbent, mean point - incumbent, UCB - mean point]
LAST: dict = {"model": None}
WARPED = [False]
TAKEN: list = []   # the points the mean steps suggested in this run

GATE = [None]   # the noise variance (standardized) at or below which the data count as deterministic; None: the floor's

def _deterministic() -> bool:
  m = LAST["model"]
  if GATE[0] == "ev":   # the noise test of acquisition="auto": no evidence of noise
    if m is None: return False
    if "ev" not in LAST: LAST["ev"] = noise_evidence(m, LAST["y"], seed=int(LAST["seed"] or 0) & 0xFFFFFFFF)
    _count("det", LAST["ev"] <= NOISE_MARGIN)
    return LAST["ev"] <= NOISE_MARGIN
  thr = NEGLIGIBLE_NOISE * NOISE_FLOOR.get(m.dtype, 1e-4) if GATE[0] is None or m is None else GATE[0]
  return m is not None and m.hyperparameters["noise"] <= thr

def _count(k: str, hit: bool) -> None:
  c = COUNTS.setdefault(k, [0, 0]); c[0] += int(hit); c[1] += 1

def patch(rule: str) -> None:
  fit = bo.GP._fit
  def watched_fit(self, *args, **kwargs):
    model = fit(self, *args, **kwargs)
    if not kwargs.get("keep", True): return model   # recommend's fits (keep=False) never change what the study suggests next
    LAST.clear(); LAST.update(model=model, y=np.asarray(args[2]), seed=args[3])
    NOISES.append(float(model.hyperparameters["noise"]))
    if GATE[0] != "ev": _count("det", _deterministic())   # the evidence costs a fit: computed only where a rule asks
    return model
  bo.GP._fit = watched_fit
  rule, _, gate = rule.partition("@")
  GATE[0] = gate if gate == "ev" else float(gate) if gate else None
  if rule.startswith(("exploit", "both")):
    ls_rel, lcb, alt = rule.startswith("exploitls"), "lcb" in rule, "alt" in rule
    r = float(rule.removeprefix("exploitls").removeprefix("exploit").removeprefix("both").removeprefix("lcb").removeprefix("alt"))
    optimize = bo.optimize_acquisition
    def exploit(post, state, space, *args, acquisition: str = "ucb", **kwargs):
      out = optimize(post, state, space, *args, acquisition=acquisition, **kwargs)
      top = kwargs.get("X_top")
      if acquisition != "ucb" or top is None or not len(top) or kwargs.get("box") is not None: return out
      radius = r * float(np.min(kwargs["lengthscales"])) if ls_rel else r
      near = float(np.abs(out[0] - top[0]).max()) <= radius
      fire = near and _deterministic()
      if fire and alt and any(np.abs(np.asarray(p) - top[0]).max() < 1e-12 for p in TAKEN):   # the incumbent is a mean step's
        _count("alt_refused", True)
        fire = False
      _count("fired", fire)
      if not fire: return out
      mean = optimize(post, state, space, *args, acquisition="ucb", **{**kwargs, "beta": 0.0})
      if lcb:   # only where the model is sure the mean's maximizer beats the best observed value
        m, v = LAST["model"].predict(mean[0][None])
        if not float(m[0]) - (kwargs["beta"] * float(v[0])) ** 0.5 > float(np.max(LAST["y"])):
          _count("lcb_refused", True)
          return out
      STEPS.append([float(np.abs(out[0] - top[0]).max()), float(np.abs(mean[0] - top[0]).max()), float(np.abs(out[0] - mean[0]).max())])
      TAKEN.append(mean[0].copy())
      return mean
    bo.optimize_acquisition = exploit
  if rule == "minmeandet" or rule.startswith("both"):
    targets = bo.GP._targets
    def warped_targets(self, space, y, design, minimize):
      WARPED[0] = self._warp_kind(space, design, minimize) == "log" and (LAST["model"] is None or _deterministic())
      return targets(self, space, y, design, minimize)
    bo.GP._targets = warped_targets
    yfit = transforms.YTransform.fit
    def fit_minmean(y: np.ndarray):
      t, std = yfit(y)
      if not WARPED[0]: return t, std
      low = float(std.min())
      return transforms.YTransform(t.center, t.spread, t.u_mean + low * t.u_scale, t.u_scale), std - low
    transforms.YTransform.fit = staticmethod(fit_minmean)

def _record(r: dict) -> dict:
  out = {"regret": r["regret"], "values": r["values"], "min_dist": r["min_dist"], "counts": {k: list(v) for k, v in COUNTS.items()},
         "noise": list(NOISES), "steps": list(STEPS)}
  COUNTS.clear(); NOISES.clear(); STEPS.clear(); TAKEN.clear(); LAST.clear(); LAST["model"] = None
  return out

def main() -> None:
  installed: list[str] = []
  def install(rule: str) -> None:
    if installed: raise SystemExit(f"--rules {installed[0]},{rule}: one rule per process (each patches tinybo on top of the last)")
    if rule.partition("@")[0] not in ("none", "minmeandet") and not rule.startswith(("exploit", "both")):
      raise SystemExit(f"--rules {rule!r}: see the docstring")
    patch(rule); installed.append(rule)
  screen(["none", "exploit<r>", "exploitls<c>", "minmeandet", "both<r>"], install, lambda rule, strategy: f"{strategy}|{rule}", "camel", __doc__,
         record=_record)

if __name__ == "__main__":
  main()
