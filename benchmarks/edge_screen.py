"""Screen of rules against the guided evaluations that the default GP strategy spends on the box's bounds (camel's
corners). Each rule patches tinybo in this process only, then `benchmarks.run.run_one` (core problems) or
`benchmarks.conditional_bench.run_one` (conditional ones) runs the strategy:
- "none": nothing changed (the strategy as it is);
- "logei": the bound rule of acquisition="edge" on every guided suggestion, deterministic data too: a UCB proposal with a
  float parameter on its bound is replaced by LogEI's proposal (the same second call that tinybo.bo.GP makes under noise);
- "ucb_half": the same, but the replacement is UCB with half the weight;
- "minmean": where the fitted values are log-warped, the GP's prior mean is the lowest target instead of their mean (the
  warp fires on a heavy tail of bad values, so far from the data expect the worst seen, not the average); with
  acquisition="edge" or "auto" not once the data show noise (the fit is then of the raw values).
Every call of the acquisition optimizer is watched: each run records how many guided proposals of each acquisition landed
on a float bound ("bound": {kind: [on a bound, proposals]}; "warped": [suggestions on log-warped values, all];
"noisy": [suggestions that `GP._noisy` calls noisy, calls]). Runs are appended to a JSON file {strategy|rule: {problem:
{seed: {"regret", "values", "min_dist", "bound"}}}}, written after every run.

  python -m benchmarks.edge_screen --rules logei --problems camel --seeds 0-9 --out results/x.json
"""
from __future__ import annotations

import numpy as np

import tinybo.bo as bo
import tinybo.transforms as transforms
from benchmarks.warp_screen import screen

RULES = ("none", "logei", "ucb_half", "minmean")
COUNTS: dict[str, list[int]] = {}
WARPED = [False]   # whether the values of the current suggestion are log-warped (set by the patched _targets)

def _count(kind: str, x: np.ndarray, kinds) -> None:
  c = COUNTS.setdefault(kind, [0, 0])
  c[0] += int(bo.on_float_bound(x, kinds)); c[1] += 1

def patch(rule: str) -> None:
  optimize = bo.optimize_acquisition
  def watched(post, state, space, *args, acquisition: str = "ucb", **kwargs):
    out = optimize(post, state, space, *args, acquisition=acquisition, **kwargs)
    _count(acquisition, out[0], space.kinds)
    if rule in ("logei", "ucb_half") and acquisition == "ucb" and bo.on_float_bound(out[0], space.kinds):
      kw = kwargs if rule == "logei" else {**kwargs, "beta": kwargs["beta"] / 2}
      out = optimize(post, state, space, *args, acquisition="logei" if rule == "logei" else "ucb", **kw)
      _count(rule, out[0], space.kinds)
    return out
  bo.optimize_acquisition = watched
  targets = bo.GP._targets
  def warped_targets(self, space, y, design, minimize):
    WARPED[0] = self._warp_kind(space, design, minimize) == "log"
    COUNTS.setdefault("warped", [0, 0])[0] += WARPED[0]; COUNTS["warped"][1] += 1
    return targets(self, space, y, design, minimize)
  bo.GP._targets = warped_targets
  noisy = bo.GP._noisy
  def watched_noisy(self, model, y, seed):
    out = noisy(self, model, y, seed)
    COUNTS.setdefault("noisy", [0, 0])[0] += out; COUNTS["noisy"][1] += 1
    if out: WARPED[0] = False   # "auto"/"edge" on noisy data: the next fit is of the raw values
    return out
  bo.GP._noisy = watched_noisy
  if rule != "minmean": return
  fit = transforms.YTransform.fit
  def fit_minmean(y: np.ndarray):
    t, std = fit(y)
    if not WARPED[0]: return t, std
    low = float(std.min())   # standardized: the prior mean 0 moves to the lowest target
    t = transforms.YTransform(t.center, t.spread, t.u_mean + low * t.u_scale, t.u_scale)
    return t, std - low
  transforms.YTransform.fit = staticmethod(fit_minmean)

def _record(r: dict) -> dict:
  """What a run keeps: its regret, values and distances, and the counts of its suggestions (then cleared for the next run)."""
  bound = {k: list(v) for k, v in COUNTS.items()}
  COUNTS.clear()
  return {"regret": r["regret"], "values": r["values"], "min_dist": r["min_dist"], "bound": bound}

def main() -> None:
  installed: list[str] = []
  def install(rule: str) -> None:   # the patches wrap what is there: a second rule would stack on the first
    if installed: raise SystemExit(f"--rules {installed[0]},{rule}: one rule per process (each patches tinybo on top of the last)")
    if rule not in RULES: raise SystemExit(f"--rules {rule!r}: use one of {', '.join(RULES)}")
    patch(rule); installed.append(rule)
  screen(RULES, install, lambda rule, strategy: f"{strategy}|{rule}", "camel", __doc__, record=_record)

if __name__ == "__main__":
  main()
