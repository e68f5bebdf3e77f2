"""Screen of UCB weights for log-warped values: each rule sets the GP strategy's `beta` before every guided suggestion of
a run whose values are log-warped (`tinybo.bo.GP._warp_kind` == "log"), from r = `transforms.warp_resolution` of the
warped values ((median distance below the best / the design's scale)²: small once the suggestions crowd the best);
unwarped runs keep the strategy's beta. The rule replaces `tinybo.bo.GP._floor_scale` in this process (it is called once
per fit, before the acquisition), then `benchmarks.run.run_one` runs the given strategy. Regrets are appended to a JSON
file {rule+strategy: {problem: {seed: regret}}}.

  python -m benchmarks.beta_screen --rules warped1,late0.04 --problems camel --seeds 0-9 --out results/x.json
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

import tinybo.bo as bo
from benchmarks.warp_screen import screen
from tinybo.transforms import warp_resolution

# (beta of the strategy, r) -> the beta of this suggestion where the values are log-warped
RULES: dict[str, Callable[[float, float], float]] = {
  "warped1": lambda beta, r: 1.0,                                  # beta 1 wherever the values are log-warped
  "late0.04": lambda beta, r: 1.0 if r < 0.04 else beta,           # ... once the median distance is below 0.2 of the design's
  "late0.01": lambda beta, r: 1.0 if r < 0.01 else beta,           # ... below 0.1 of it
}

def patch(rule: Callable[[float, float], float]) -> None:
  floor_scale = bo.GP._floor_scale
  def patched(self: bo.GP, space, yy: np.ndarray, design: np.ndarray, minimize: bool) -> float:
    if not hasattr(self, "_screen_beta"): self._screen_beta = self.beta   # the strategy's own beta, kept once
    warped = self._warp_kind(space, design, minimize) == "log"
    self.beta = rule(self._screen_beta, warp_resolution(yy)) if warped else self._screen_beta
    return floor_scale(self, space, yy, design, minimize)
  bo.GP._floor_scale = patched

def main() -> None:
  original = bo.GP._floor_scale
  def install(name: str) -> None:
    bo.GP._floor_scale = original
    patch(RULES[name])
  screen(RULES, install, lambda name, strategy: f"{name}+{strategy}", "camel", __doc__)

if __name__ == "__main__":
  main()
