"""Screen of remedies for Ackley-5 (issue 11, session 9): each rule patches the GP strategy in this process, then
`benchmarks.warp_screen.screen` runs the strategy on the problems and seeds; regrets go to --out as {rule: {problem: {seed: regret}}}.

  PYTHONPATH=$PWD DEV=CPU python -m benchmarks.s9_ackley_screen --rules power --problems ackley5 --seeds 0-9 --out results/x.json

The tr-* rules patch the first GP(trust_region=True) of commit 6e16dc6 (every guided suggestion of a local turn in the box,
with the global model) and ran there (`git archive 6e16dc6`); the committed GP(trust_region=True) is "tr-chain" built in.
Rules: "tr-m12", "tr-m32": `GP(trust_region=True)` (every other guided suggestion in TuRBO's box around the incumbent)
whose local suggestions use a GP of another kernel (Matérn-1/2 or 3/2, its own warm-start chain) fitted to the same
data, while the global ones keep the strategy's (sequential studies: one suggestion per fit). "tr-chain", "tr-auto": the
local turns' kernel chosen by evidence at each cold fit (the chain 5/2, 3/2, 1/2 or 5/2, 3/2 of GP(kernel=tuple)); while
it is Matérn-5/2 the turn is main's global suggestion.
"power": HEBO's output transform on every study (`transforms.power_values`, the maximum-likelihood Box-Cox /
Yeo-Johnson), not only where the initial design has a long tail of bad values (main's `heavy_bad_tail` never fires on
Ackley, whose long tail is of good values).
"""
from __future__ import annotations

import tinybo.bo as bo
from benchmarks.warp_screen import screen
from tinybo.gp import GPRegressor
from tinybo.trust_region import local_turn

_MAIN_WARP_KIND = bo.GP._warp_kind

def _power_always(self, space, design, minimize):
  if isinstance(self.noise, float) or self.warp is False: return None
  return "power"

_MAIN_FIT = bo.GP._fit

def local_model_fit(kernel: str):
  """GP._fit that, on a trust-region turn of a sequential study (X holds every complete trial), fits `kernel` instead,
  warm-started from its own last fit; the global chain is left as it was."""
  def fit(self, space, X, y, seed, categorical, keep=True, floor_scale=1.0):
    if not (self.trust_region and keep and local_turn(len(X), self.initial_size(space))):
      return _MAIN_FIT(self, space, X, y, seed, categorical, keep, floor_scale)
    warm = getattr(self, "_local_model", None)
    m = GPRegressor(kernel, device=self.device, lengthscale_prior=self.lengthscale_prior)
    m.fit(X, y, categorical=categorical, seed=int(seed or 0) & 0xFFFFFFFF, warm_start=warm, noise=self.noise, floor_scale=floor_scale)
    self._local_model = m
    return m
  return fit

_MAIN_TURN = bo.local_turn
_ROUGH = {"on": True}   # whether the last local turn's model is rougher than Matérn-5/2 (read by the patched local_turn)

def local_chain_fit(chain: tuple[str, ...]):
  """GP._fit that, on a trust-region turn of a sequential study, fits the kernel chain `chain` (GP(kernel=tuple)'s rule,
  its own warm-start chain); where the chain keeps its first kernel the turn is main's (global, main's fit), so a study
  whose evidence never leaves Matérn-5/2 is main's run."""
  def fit(self, space, X, y, seed, categorical, keep=True, floor_scale=1.0):
    if not (self.trust_region and keep and _MAIN_TURN(len(X), self.initial_size(space))):
      return _MAIN_FIT(self, space, X, y, seed, categorical, keep, floor_scale)
    kernel, self.kernel = self.kernel, chain
    try: m = self._fit_kernels(X, y, categorical, seed, getattr(self, "_local_model", None), self.prior_for(space), floor_scale)
    finally: self.kernel = kernel
    self._local_model = m
    _ROUGH["on"] = m.kernel != chain[0]
    return m if _ROUGH["on"] else _MAIN_FIT(self, space, X, y, seed, categorical, keep, floor_scale)
  return fit

def _install(warp_kind, fit, turn=_MAIN_TURN):
  bo.GP._warp_kind, bo.GP._fit, bo.local_turn = warp_kind, fit, turn

PATCHES = {"main": lambda: _install(_MAIN_WARP_KIND, _MAIN_FIT),
           "power": lambda: _install(_power_always, _MAIN_FIT),
           "tr-m12": lambda: _install(_MAIN_WARP_KIND, local_model_fit("matern12")),
           "tr-m32": lambda: _install(_MAIN_WARP_KIND, local_model_fit("matern32")),
           "tr-chain": lambda: _install(_MAIN_WARP_KIND, local_chain_fit(("matern52", "matern32", "matern12")),
                                        lambda n, n0: _ROUGH["on"] and _MAIN_TURN(n, n0)),
           "tr-auto": lambda: _install(_MAIN_WARP_KIND, local_chain_fit(("matern52", "matern32")),
                                       lambda n, n0: _ROUGH["on"] and _MAIN_TURN(n, n0))}

def main() -> None:
  screen(PATCHES, lambda name: PATCHES[name](), lambda name, strategy: name if strategy == "gp" else f"{name}+{strategy}", "ackley5", __doc__)

if __name__ == "__main__":
  main()
