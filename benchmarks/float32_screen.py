"""The GP strategy in float32 on the CPU: what a device without float64 (Metal, WebGPU: `gp.default_dtype`) gets, measured
where float64 is the default. "float32" patches `gp.default_dtype` in this process so that every GPRegressor the strategy
builds is float32 (the noise floor, jitter and lowest noise then take their float32 values); "float32f<v>" does the same
with float32's noise floor and lowest noise (standardized variance, `gp.NOISE_FLOOR`, `gp.LOWEST_NOISE`) set to v; "none"
changes nothing. Each run records its regret, values, min_dist and how many of its suggestions fell back to random
(`GPFallbackWarning`).

  python -m benchmarks.float32_screen --rules float32 --problems branin,hartmann6 --seeds 0-9 --out benchmarks/results/x.json
"""
from __future__ import annotations

import warnings

from tinygrad import dtypes

import tinybo.gp as gp
from benchmarks.warp_screen import screen
from tinybo.bo import GPFallbackWarning

FALLBACKS = [0]

def install(rule: str) -> None:
  if rule.startswith("float32"): gp.default_dtype = lambda device: dtypes.float32
  if rule.startswith("float32f"): gp.NOISE_FLOOR[dtypes.float32] = gp.LOWEST_NOISE[dtypes.float32] = float(rule.removeprefix("float32f"))
  elif rule not in ("none", "float32"): raise SystemExit(f"--rules {rule!r}: use none, float32 or float32f<v>")
  show = warnings.showwarning
  def counted(message, category, *args, **kwargs):   # count the fallbacks, print the rest as usual
    if issubclass(category, GPFallbackWarning): FALLBACKS[0] += 1
    else: show(message, category, *args, **kwargs)
  warnings.showwarning = counted
  warnings.simplefilter("always", GPFallbackWarning)

def record(r: dict) -> dict:
  out = {"regret": r["regret"], "values": r["values"], "min_dist": r.get("min_dist"), "fallbacks": FALLBACKS[0]}
  FALLBACKS[0] = 0
  return out

if __name__ == "__main__":
  screen(["none", "float32", "float32f<v>"], install, lambda rule, strategy: f"{strategy}|{rule}", "branin,camel,hartmann3,hartmann6,mixed",
         __doc__, record=record)
