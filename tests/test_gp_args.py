"""Issue 15, item 13's GP(...) part: a bad argument of the GP strategy is a one-line error at definition that names the
value and the fix, never a crash inside a suggestion nor a silent random search (each case was accepted before, or
raised a bare TypeError from a comparison)."""
import math

import pytest
from tinygrad import Device

import tinybo as tb


def one_line(excinfo, *parts: str) -> str:
  msg = str(excinfo.value)
  assert "\n" not in msg and all(p in msg for p in parts), msg
  return msg

@pytest.mark.parametrize("kwargs, error, parts", [
  ({"beta": float("nan")}, ValueError, ["beta=nan", "finite number >= 0"]),
  ({"beta": math.inf}, ValueError, ["beta=inf", "finite number >= 0"]),
  ({"beta": -1}, ValueError, ["beta=-1", ">= 0"]),
  ({"beta": "2"}, TypeError, ["beta='2'", "finite number"]),
  ({"beta": True}, TypeError, ["beta=True"]),
  ({"n_initial": "5"}, TypeError, ["n_initial='5'", "use an int >= 1, or None"]),
  ({"n_initial": 2.5}, TypeError, ["n_initial=2.5", "use an int >= 1"]),
  ({"n_initial": 0}, ValueError, ["n_initial=0", "use an int >= 1"]),
  ({"n_initial": True}, TypeError, ["n_initial=True"]),
  ({"seed": "a"}, TypeError, ["seed='a'", "use an int"]),
  ({"seed": 1.5}, TypeError, ["seed=1.5"]),
  ({"n_raw": 0}, ValueError, ["n_raw=0", "use an int >= 2"]),
  ({"n_starts": "10"}, TypeError, ["n_starts='10'"]),
  ({"n_steps": -1}, ValueError, ["n_steps=-1", ">= 0"]),
  ({"kernel": ["matern52"]}, ValueError, ["kernel=['matern52']", "two or more distinct"]),
  ({"kernel": ("matern52", "matern52")}, ValueError, ["kernel=('matern52', 'matern52')", "two or more distinct"]),
  ({"kernel": ("matern52", "cubic")}, ValueError, ["unknown kernel 'cubic'", "matern12"]),
  ({"acquisition": 3}, ValueError, ["unknown acquisition 3"]),
  ({"acquisition": ["ucb"]}, ValueError, ["unknown acquisition ['ucb']", "edge, auto, logei"]),   # was a bare "unhashable type: 'list'"
  ({"acquisition": "UCB"}, ValueError, ["unknown acquisition 'UCB'", "edge, auto, logei"]),   # the list named neither the default nor "auto"
  ({"lengthscale_prior": None}, ValueError, ["lengthscale_prior=None"]),
  ({"noise": float("nan")}, ValueError, ["noise=nan", "'deterministic'"]),
  ({"noise": 0.0}, ValueError, ["noise=0.0", "must be > 0", "noise='deterministic'"]),   # was accepted, and meant "noisy"
  ({"trust_region": "yes"}, ValueError, ["trust_region='yes'", "True or False"]),
  ({"device": ""}, TypeError, ["device=''", "None for"]),
  ({"device": 0}, TypeError, ["device=0"]),
  ({"device": "NO_SUCH_DEVICE"}, ValueError, ["device='NO_SUCH_DEVICE'", "cannot open it", "use one of: CPU"]),
])
def test_bad_gp_arguments_fail_at_definition(kwargs, error, parts):
  with pytest.raises(error) as e:
    tb.GP(**kwargs)
  one_line(e, *parts)

def test_an_absent_cuda_device_fails_at_definition():
  if "CUDA" in Device.get_available_devices(): pytest.skip("CUDA opens on this machine")
  with pytest.raises(ValueError) as e:
    tb.GP(device="CUDA")
  one_line(e, "device='CUDA'", "cannot open it", "or None for")

def test_good_arguments_are_kept():
  gp = tb.GP(beta=0, n_initial=3, seed=7, device="CPU", noise=0.5, n_steps=0)
  assert (gp.beta, gp.n_initial, gp.seed, gp.device, gp.noise, gp.n_steps) == (0.0, 3, 7, "CPU", 0.5, 0)
  assert "noise=0.5" in repr(gp) and tb.GP(noise="deterministic").noise == "deterministic" and tb.GP().noise is None

def test_gp_options_parse_as_the_benchmark_runner_spells_them():
  # `tinybo show --gp` and benchmarks.run's gp:key=value;... read one syntax: literals, bare words, a|b tuples, ';' or ','
  from tinybo.arguments import parse_options
  text = "warp=False; beta=1.5,kernel=matern52|matern32;acquisition=logei;max_points=None;noise=deterministic"
  assert parse_options(text, tb.GP) == {"warp": False, "beta": 1.5, "kernel": ("matern52", "matern32"), "acquisition": "logei",
                                        "max_points": None, "noise": "deterministic"}
  assert parse_options("", tb.GP) == {}
  gp = tb.GP(**parse_options(text, tb.GP))
  assert (gp.warp, gp.beta, gp.kernel, gp.max_points) == (False, 1.5, ("matern52", "matern32"), None)
  with pytest.raises(ValueError) as e: parse_options("beta=1;nosie=0.1", tb.GP)
  one_line(e, "unknown GP option 'nosie'", "use one of: kernel, acquisition,", "noise")
