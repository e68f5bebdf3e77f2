"""The GP strategy (`tb.GP`): a scrambled-Sobol initial design, then GP-guided suggestions that maximize an acquisition
function (on a small discrete space: the best of every untaken configuration); pending trials are fantasized (Kriging
believer); any numerical failure falls back to random with a warning; `recommend` is the best posterior mean.
With reports (intermediate values of training runs), the GP models (configuration, step) and targets the final step:
fidelity.py builds that data. Holds: GP, GPFallbackWarning, default_initial_size. Imports: strategies (History, Random's helpers), fidelity,
transforms, gp, noise (acquisition "edge" and "auto"), inward (the inward probe), acquisition (names), optim_acqf, discrete, arguments (checks),
tree (conditional spaces), seen (wide categoricals), sobol, kernels (names), subset, space, trial, trust_region (trust_region=True and
"edge" under noise), _tinygrad (the device lock), numpy.
Glossary: d encoded dimension (space.dim), p searchable parameters; X[n, d] encoded complete trials, y[n] their values
sign-flipped so that larger is better; X_pend[q, d] pending trials and this batch's points, fantasized at the GP mean.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from tinybo._tinygrad import device_work
from tinybo.acquisition import check_acquisition
from tinybo.arguments import check_device, check_int, check_real
from tinybo.discrete import all_configs, best_untaken, enumerable
from tinybo.fidelity import CurveData, at_target, curve_data, trend
from tinybo.gp import LENGTHSCALE_PRIORS, GPRegressor, check_noise, posterior
from tinybo.inward import INWARD_STALL, int_cells, int_inward_probe, inward_probe, new_int_end, on_float_bound
from tinybo.kernels import check_kernel
from tinybo.noise import NOISE_MARGIN, RETEST_GROWTH, negligible_noise, noise_evidence
from tinybo.optim_acqf import optimize_acquisition
from tinybo.seen import SeenChoices
from tinybo.sobol import sobol
from tinybo.space import CAT, Space
from tinybo.strategies import History, exhausted, history_rng, n_configs, random_configs, seed32, seed_words, unmeasured
from tinybo.subset import DEFAULT_MAX_POINTS, fit_subset
from tinybo.transforms import far_below, heavy_bad_tail, power_values, warp_resolution, warp_values
from tinybo.tree import BranchOptimism, TreeInputs, parent_columns
from tinybo.trial import Report, Trial, TrialState
from tinybo.trust_region import in_box, local_turn, trust_box, trust_length

# the acquisitions that are UCB until the data show noise (noise.noise_evidence), and what each is then: "auto" LogEI
# against the best observed value; "edge" UCB, but for a suggestion that UCB puts on a float parameter's bound LogEI within
# EDGE_LENGTH's box around the incumbent (see GP)
NOISY_RULES = {"edge": "edge", "auto": "logei"}   # the default first: the order an error lists them in
EDGE_LENGTH = 0.4   # "edge" under noise: the side of trust_region.trust_box around the incumbent where LogEI replaces UCB's bound point

def follows_first(i: int, first: np.ndarray | None, near_best: tuple[np.ndarray, np.ndarray] | None, acquisition: str) -> bool:
  """Whether point i of a batch searches only `near_best` (the box around the incumbent, trust_region.trust_box): a later
  point (i >= 1) on data that test deterministic (acquisition "ucb") of a batch whose first point lies in that box."""
  return i >= 1 and acquisition == "ucb" and first is not None and near_best is not None and in_box(first, near_best)

def default_initial_size(p: int, conditional: bool = False) -> int:
  """Initial design points for p parameters: 2p + 1, at least 5, at most max(10, p + 1). The cap is Optuna's 10 startup
  trials, or HEBO's p + 1 in many dimensions: past it, design points are evaluations the model could have guided, and
  a 2p + 1 design left too few of them to leave a local optimum on the benchmark suite (benchmarks/README.md). A
  conditional space keeps 2p + 1 uncapped: its design must also reach every branch, and with the cap runs settled in a
  wrong branch (benchmarks/README.md, the conditional problems)."""
  return max(5, 2 * p + 1 if conditional else min(2 * p + 1, max(10, p + 1)))

# lengthscale_prior="auto": Hvarfner et al.'s dimension-scaled prior on spaces of this many parameters or more and no
# conditions, Optuna's "unit" elsewhere. "unit" pulls every lengthscale towards 1, so in many dimensions the model keeps
# every input relevant and spreads its data thin; the lognormal's mode grows like √p and its tail lets irrelevant inputs
# go long. On the benchmark suite the lognormal was ahead on the problems of 10, 20 and 25 parameters and behind on
# Ackley-5, camel and Branin (2-5 parameters), level on Ackley-7 and behind in the 80th percentile on Ackley-8. A
# conditional space activates fewer parameters at once than it has, and on the 11-parameter training_recipe the lognormal
# was behind too (benchmarks/README.md, "Issue 11, session 18")
HVARFNER_FROM = 10

def many_parameters(p: int, conditional: bool = False) -> bool:
  """Whether a space of p parameters (with or without conditions) is one that lengthscale_prior="auto" and warp="auto"
  treat as high-dimensional: HVARFNER_FROM parameters or more and no conditions."""
  return p >= HVARFNER_FROM and not conditional

def lengthscale_prior_for(kind: str, p: int, conditional: bool = False) -> str:
  """The prior a GP(lengthscale_prior=kind) fits with on a space of p parameters: "auto" resolves by `many_parameters`."""
  if kind != "auto": return kind
  return "hvarfner" if many_parameters(p, conditional) else "unit"

# warp="auto" on the spaces that get Hvarfner's prior (HVARFNER_FROM parameters or more, no conditions) and whose values
# have no long tail of bad values: HEBO's maximum-likelihood power transform of the values (`power_values`). With many
# parameters and few evaluations per dimension most of a study's values sit on a plateau (Ackley's ~21) and the few good
# ones are outliers that a stationary GP on the raw values smooths away; the power transform evens the spread out. Over
# 40 seeds it was ahead on Ackley-10 and Ackley-20 and level on Hartmann6-25d (one of three ten-seed halves was behind on
# each); on 2-5 parameters in place of the log warp it was behind (benchmarks/README.md, "Issue 11, session 6" and
# "session 20")
def value_warp_for(warp: bool | str, heavy_tail: bool, p: int, conditional: bool = False) -> str | None:
  """The warp of the values a GP(warp=warp) fits on a space of p parameters whose initial design has (or has not) a long
  tail of bad values: "log", "power" or None. "auto" log-warps a heavy tail and power-transforms the values of a large
  space (HVARFNER_FROM or more parameters, no conditions); "power" power-transforms wherever "auto" warps."""
  if warp is False: return None
  if warp is True: return "log"
  if heavy_tail: return "power" if warp == "power" else "log"
  return "power" if many_parameters(p, conditional) else None

# kernel="auto" chooses among these by the fitted model's evidence: Matérn-5/2 (Optuna's, BoTorch's; the first is kept unless
# another is clearly better) and Matérn-3/2 (HEBO's). Clearly: its log evidence higher by AUTO_MARGIN, a likelihood ratio of
# e³ ≈ 20, "strong" on Kass and Raftery's scale; with fewer than ~20 trials the kernels differ by less than a nat, and a
# rougher kernel chosen that early changed Hartmann6's paths for the worse (benchmarks/README.md, Ackley)
AUTO_KERNELS, AUTO_MARGIN = ("matern52", "matern32"), 3.0
TRUST_KERNELS = ("matern52", "matern32", "matern12")   # GP(trust_region=True): the local model's kernel chain, smoothest first

def kernel_candidates(kernel: str | tuple[str, ...]) -> tuple[str, ...]:
  """The kernels a GP(kernel=...) chooses among, the first kept unless another clears AUTO_MARGIN: one name -> itself."""
  return AUTO_KERNELS if kernel == "auto" else kernel if isinstance(kernel, tuple) else (kernel,)

def check_kernel_choice(kernel: object) -> str | tuple[str, ...]:
  """GP's kernel argument: a kernel name, "auto", or a tuple (list) of two or more distinct names to choose among."""
  if isinstance(kernel, (tuple, list)):
    names = tuple(kernel)
    if len(names) < 2 or len(set(names)) != len(names):
      raise ValueError(f"kernel={kernel!r}: give two or more distinct kernel names to choose among, e.g. ('matern52', 'matern32')")
    for k in names: check_kernel(k)
    return names
  if kernel != "auto": check_kernel(kernel)
  return kernel

def _rows_in_state(cd: CurveData, trials: Sequence[Trial], states: tuple[TrialState, ...]) -> np.ndarray:
  """bool[n]: the curve rows whose trial is in one of `states`."""
  return np.isin(cd.ids, [t.id for t in trials if t.state in states])

def _design_trials(trials: Sequence[Trial], n0: int) -> list[int]:
  """The indices of the initial design's trials (n0 of them, fewer while the study is short), failed ones left out, as
  `GP.suggest` chose them: trial k came from the design when fewer than n0 of the trials before it held a design slot at
  its creation. A failed trial frees its slot for the trials created after it failed (a failure without a finish time:
  before them all, as in a sequential study); a pending or stopped one holds it, a stopped one without a value (an
  Optuna trial pruned before any report: nothing measured) frees it as a failed one does. Not simply the first n0 trials
  with a value: with parallel workers a guided trial can finish before a design trial, or be created before one fails."""
  out: list[int] = []
  failed: list[float | None] = []   # the finish times of the failed trials before k
  for k, t in enumerate(trials):
    if k - len(failed) >= n0: break   # k minus the failures before it never decreases: no later trial is a design one
    held = k - sum(f is None or f <= t.created for f in failed)
    if t.state == TrialState.FAILED or unmeasured(t): failed.append(t.finished)
    elif held < n0: out.append(k)
  return out

def _finite_fit(model: GPRegressor) -> GPRegressor:
  """The model, or FloatingPointError when a hyperparameter is not finite: its predictions would be NaN, read as a
  probability or an acquisition value instead of a failed fit."""
  hp = model.hyperparameters
  if not all(np.all(np.isfinite(np.asarray(v, dtype=np.float64))) for v in hp.values()):
    raise FloatingPointError(f"the GP fit returned non-finite hyperparameters {hp}")
  return model

def _one_at_a_time(method):
  """A GP method that uses the device, run under `DEVICE_LOCK` (`device_work`): tinybo's captured programs and staging buffers are shared by
  every study of the process, so two studies in two threads take turns (one study's Optimizer already serializes its own)."""
  @functools.wraps(method)
  def locked(*args, **kwargs):
    with device_work(): return method(*args, **kwargs)
  return locked

class GPFallbackWarning(RuntimeWarning):
  """The GP strategy could not use its model for a suggestion and used random search instead; the message says why."""

class GP:
  """Gaussian-process Bayesian optimization. `GP(kernel="matern52", acquisition="edge", n_initial=None, beta=2.0)`.

  The first n_initial suggestions (default `default_initial_size(p)` for p parameters, 2p + 1 in a conditional space)
  come from a scrambled Sobol sequence drawn from the seed; after that each suggestion maximizes the acquisition of a
  Matérn GP fitted to the completed trials (the sequence continues while their values are all equal). Each fit
  warm-starts from the previous one.
  `acquisition`: "edge" (default), "auto", or one throughout: "logei", "ei", "ucb" (with `beta`), "pi", "logpi".
  "edge": UCB with beta = 2 (it measured best on the deterministic problems of the benchmark suite, benchmarks/README.md)
  while the data look deterministic, and once they show observation noise UCB still, except that a suggestion UCB puts
  on the bound of a float parameter is replaced by LogEI's (against the best observed value, on the raw values as
  "auto"), maximized within TuRBO's box of side EDGE_LENGTH around the best observed point (trust_region.trust_box; a
  local turn's own box where it has one): under noise a smooth model extrapolates its slope to the cube's bound, where
  UCB then exploits a flat edge it is sure of (a noisy Branin's x0 = 10, beside the minimizer); over the whole cube LogEI
  would spend the rest of a 6-dimensional study in the corners (see "auto"). On deterministic data it is "ucb", suggestion for
  suggestion, but for the inward probes below. The noise test (`noise.noise_evidence`: the fitted noise beats an
  interpolating fit by NOISE_MARGIN nats;
  always noisy with a noise variance given; never with noise="deterministic" or learning curves) costs a second, cold
  fit, so a study runs it only when the data have grown `noise.RETEST_GROWTH` times since its last test, and keeps the
  verdict in between; `recommend` tests its own data. Noisy values that the GP would warp are modelled raw (below), on
  a warm-start chain of their own.
  "auto": the same switch, with LogEI for every suggestion once the data show noise, on the raw values (warp="auto" does
  not warp them: the log warp stretches the noise of the values near the best). UCB trusts the posterior mean, and under
  noise a smooth model's mean can rank a flat edge above the optimum beside it; the noisy incumbent (a lucky draw, above
  every posterior mean) makes LogEI go where the model is unsure (Optuna's GPSampler does the same). `recommend` uses the
  same values. A deterministic objective with structure finer than the model resolves (Ackley's ripple) shows "noise"
  too, and then also turns to LogEI. LogEI's incumbent is above every posterior mean by the luck of the best draw, so it
  ranks points by posterior sd, largest in the corners of the cube, where a study in several dimensions then spends its
  evaluations; "edge" uses it only where UCB goes to a bound.
  Both, on a space without conditions or curves, while the data test deterministic: where the last INWARD_STALL
  evaluations and the suggestion all refine the best point along a float parameter's bound, the suggestion is that best
  point moved INWARD_STEP inside instead, unless a trial lies near there already (`inward_probe`): a model fitted mostly
  on a face extrapolates its slope through the inside it never observed. Likewise for an integer (at least 3 values,
  not log) that those evaluations, the best point and the suggestion all hold at its first or last value, with the
  floats within 2 INWARD_STEP of the best point's: the best point with the integer one value inside, unless that
  configuration is taken (`int_inward_probe`). On noisy data the best point is partly a lucky draw, and "edge" already
  answers UCB's bound suggestions with LogEI's. And where UCB's suggestion holds such an integer at its first or last
  value while the best point holds another (`new_int_end`), LogEI's within EDGE_LENGTH's box around the best point
  replaces it (not on a small discrete space, which is scored whole): UCB's variance bonus peaks at the ends of an
  integer's range, and a study following it tries the other parameters at the end values one after another.
  Batches (`suggest(n)`): each point after the first is chosen on the model conditioned on the points before it at their
  posterior mean (Kriging believer); on data that test deterministic (acquisition "ucb"), where the batch's first point
  lies in EDGE_LENGTH's box around the best point (a local turn: in its region), the later points are UCB's within that
  box too (`follows_first`): the first point refines the incumbent, and over the whole cube the others would go where
  the fantasies left variance, the far corners. Trials pending from other workers are conditioned on the same way.
  `kernel`: "matern52" (default), "matern32", "matern12", "rbf", or "auto": at every cold fit (the first, then each time the
  data grew 1.5x) fit every kernel of AUTO_KERNELS and keep the one with the higher MAP evidence, continued by the warm
  fits in between (selection by the marginal likelihood; a cold fit then costs one fit per kernel). The first kernel of
  AUTO_KERNELS (Matérn-5/2) is kept unless another's MAP objective is lower by AUTO_MARGIN (3 nats). A tuple of kernel
  names, smoothest first, such as ("matern52", "matern32", "matern12"), chooses among those as a chain: the next kernel is
  taken while its MAP objective is lower than the one before it by AUTO_MARGIN.
  `warp`: fit the GP to `warp_values` of the observations (True), to the raw values (False), or decide from the values of
  the initial design ("auto", the default): log-warp when they have a long tail of bad values (`heavy_bad_tail`), and on
  spaces of HVARFNER_FROM or more parameters without conditions fit the maximum-likelihood Box-Cox / Yeo-Johnson transform
  of the values otherwise (`power_values`, as HEBO; see `value_warp_for`). "power": wherever "auto" warps, use the power
  transform.
  `lengthscale_prior`: "auto" (default): "hvarfner" on spaces of HVARFNER_FROM or more parameters without conditions,
  "unit" on the others; or one of them throughout (see gp.log_prior and `lengthscale_prior_for`).
  `max_points`: the most complete trials the GP is fitted on (default 512; None: all of them, whose cost grows as n³).
  A larger study fits on `subset.fit_subset`'s choice: the best half, the most recent eighth, a space-filling rest; and
  conditions on its max_points // 8 most recent failed trials. Up to max_points the GP is exact, suggestions unchanged.
  `curves`: learn from learning curves ("auto", the default: whenever the study has reports; False: never). The GP then
  models the value as a function of (configuration, step), fitted to every trial's thinned reports, stopped and running
  trials included, and maximizes the acquisition at the target step, the end of a full run (see tinybo/fidelity.py).
  "additive": the same, with the kernel an asymptote plus a gap that vanishes at the target step (gp.GPRegressor's
  structure="additive") instead of one kernel over (configuration, step).
  `noise`: what the objective's observation noise is. None (default): unknown, its variance is fitted with the other
  hyperparameters. "deterministic": none, the model interpolates the data (and `recommend` is the best trial). A float
  v > 0: the noise variance is at least v, in the objective's units squared (noise sd 0.1: v = 0.01); the values are
  then never warped (a warp would change those units), so `warp=True` with a float is an error.
  `warp_floor`: where the values are log-warped, lower the GP's noise floor by `warp_resolution` (True, the default: the
  warp's scale is frozen on the initial design, so once the suggestions crowd the best their differences shrink below
  the floor and the model stops resolving them); False: the fixed floor everywhere.
  `min_distance`: no suggestion lies closer than this (max-norm, unit-cube encoding) to an observed or pending trial while
  a farther one is left: for a deterministic objective such a point repeats what is known. 0 allows near-repeats.
  `conditional`: how the GP sees a conditional space: "tree" (default; tree.py: an inactive parameter adds no noise to
  distances, the acquisition is optimized per branch, and a little-tried choice of a categorical parent gets a bandit's
  optimism bonus, so a run does not settle in the branch its design happened to sample best) or "flatten" (inactive
  columns at a fixed fill value). With
  learning curves (reports) the (configuration, step) model sees the space flattened.
  `trust_region`: a local search where the data are rougher than the kernel (Ackley's funnel and ripple): every other
  guided suggestion fits a second GP whose kernel is chosen among TRUST_KERNELS as the kernel tuple chooses (its own
  warm-start chain), and where that is rougher than Matérn-5/2, maximizes its acquisition only within TuRBO-1's box
  around the best observed point (trust_region.py: the side length follows TuRBO's success and failure counts). Where the
  evidence keeps Matérn-5/2 the suggestion is the usual one. A small discrete space, scored whole, fits no local model.
  True is the default; False: every suggestion is the usual one.
  """
  def __init__(self, kernel: str = "matern52", acquisition: str = "edge", n_initial: int | None = None, beta: float = 2.0,
               device: str | None = None, seed: int | None = None, *, n_raw: int = 1024, n_starts: int = 10, n_steps: int = 25,
               warp: bool | str = "auto", lengthscale_prior: str = "auto", noise: float | str | None = None,
               max_points: int | None = DEFAULT_MAX_POINTS, curves: bool | str = "auto", min_distance: float = 1e-3,
               conditional: str = "tree", warp_floor: bool = True, trust_region: bool = True):
    check_acquisition(acquisition, also=tuple(NOISY_RULES))
    n_initial = check_int("n_initial", n_initial, 1, none="default_initial_size(p) for p parameters")
    beta = check_real("beta", beta, 0.0, "the UCB exploration weight")
    if warp not in (True, False, "auto", "power"): raise ValueError(f"warp={warp!r}: use True, False, 'auto' or 'power'")
    if conditional not in ("tree", "flatten"): raise ValueError(f"conditional={conditional!r}: use 'tree' or 'flatten'")
    if not isinstance(warp_floor, bool): raise ValueError(f"warp_floor={warp_floor!r}: use True or False")
    if not isinstance(trust_region, bool): raise ValueError(f"trust_region={trust_region!r}: use True or False")
    if curves not in (True, False, "auto", "additive"):
      raise ValueError(f"curves={curves!r}; use 'auto' (learn from reports when there are any), 'additive' (the same, additive kernel) or False")
    noise = check_noise(noise)
    if isinstance(noise, float) and noise == 0:
      raise ValueError("GP(noise=0.0): a noise variance must be > 0; for an objective without noise use noise='deterministic'")
    if isinstance(noise, float) and warp is True:
      raise ValueError(f"GP(noise={noise!r}, warp=True): a noise variance is in the objective's units, which the warp changes; "
                       "use warp='auto' or False")
    min_distance = check_real("min_distance", min_distance, 0.0, "the max-norm distance in the unit cube below which a point repeats a trial")
    if not min_distance < 1: raise ValueError(f"min_distance={min_distance!r}: use a float in [0, 1) (max-norm distance in the unit cube)")
    kernel = check_kernel_choice(kernel)
    max_points = check_int("max_points", max_points, 8, none="all trials (the most trials the GP is fitted on)")
    seed = check_int("seed", seed, -2**63, none="the optimizer's seed")
    n_raw, n_starts, n_steps = check_int("n_raw", n_raw, 2), check_int("n_starts", n_starts, 1), check_int("n_steps", n_steps, 0)
    check_device(device)
    self.kernel, self.acquisition, self.n_initial, self.beta, self.device, self.seed = kernel, acquisition, n_initial, beta, device, seed
    self.n_raw, self.n_starts, self.n_steps, self.warp = n_raw, n_starts, n_steps, warp if warp in ("auto", "power") else bool(warp)
    self.noise, self.min_distance, self.conditional, self.warp_floor = noise, float(min_distance), conditional, warp_floor
    self.trust_region = trust_region
    if isinstance(lengthscale_prior, list) or lengthscale_prior not in ("auto", *LENGTHSCALE_PRIORS):
      raise ValueError(f"lengthscale_prior={lengthscale_prior!r}; use 'auto' or one of {LENGTHSCALE_PRIORS}")
    self.lengthscale_prior, self.max_points, self.curves = lengthscale_prior, max_points, "auto" if curves is True else curves
    self._model: GPRegressor | None = None  # the last fitted model, the next fit's warm start; the data and space it was fitted on
    self._model_key, self._model_space = b"", ""
    # noisy data whose targets are warped: the model of the raw values (see acquisition), a warm-start chain of its own
    # (started from the main chain's model), so that each suggestion continues from the last raw fit, not the warped one
    self._raw_model: GPRegressor | None = None
    self._raw_model_key, self._raw_model_space = b"", ""
    self._local_model: GPRegressor | None = None   # trust_region: the last local fit (its kernel chain's warm start)
    self._local_model_space = ""
    self.last_fallback: str | None = None  # why the last suggestion fell back to random (None: it did not)
    self._configs: tuple[str, np.ndarray | None] = ("", None)  # (space JSON, every configuration encoded, or None: too many)
    self._chance_fit: tuple[bytes, GPRegressor | None] = (b"", None)  # final_chance's hyperparameters: (key of the space and finished curves, fit)
    self._noise_test: tuple[str, int, float] = ("", 0, 0.0)   # "auto"/"edge": the last noise test's (space JSON, n, evidence); see _noisy
    self._space: tuple[Space | None, str] = (None, "")   # the last Space object seen and its JSON, the key of the kept fits (_space_json)
    self._lineage: set[bytes] = set()   # the complete trials (`_rows`) the last suggestion saw: what the kept fits were fitted on

  def __repr__(self) -> str:
    names = ("kernel", "acquisition", "n_initial", "beta", "warp", "lengthscale_prior", "noise", "max_points", "curves", "min_distance",
             "conditional", "warp_floor", "trust_region")
    return "GP(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in names) + ")"

  def prior_for(self, space: Space) -> str:
    """The lengthscale prior this GP fits with on `space` (`lengthscale_prior_for` its parameter count under "auto")."""
    return lengthscale_prior_for(self.lengthscale_prior, space.n_varying, space.conditional)

  def initial_size(self, space: Space) -> int: return self.n_initial or default_initial_size(space.n_varying, space.conditional)

  # ***** the Strategy protocol *****

  @_one_at_a_time
  def suggest(self, space: Space, trials: Sequence[Trial], n: int, *, seed: int = 0, minimize: bool = True,
              reports: Mapping[int, Sequence[Report]] | None = None) -> list[dict]:
    """`reports`: every trial's intermediate values by id (the Optimizer passes them); without any, or with curves=False,
    the GP models the complete trials' values alone."""
    if n < 1: return []
    seed = self.seed if self.seed is not None else seed
    self.last_fallback = None
    h = History.of(space, trials)
    self._follow(h)
    total = n_configs(space)
    if total <= len(h.taken): raise exhausted(total, h.n_pending)
    n = int(min(n, total - len(h.taken)))  # a finite space nearly tried: what is left, not an error
    taken = set(h.taken)
    curves = bool(reports) and self.curves is not False
    marked = self._outliers_failed(space, trials, reports if curves else None, minimize)
    cd = curve_data(space, marked, reports) if curves else None
    # the design continues while observations + stopped + pending trials are fewer than n_initial (a stopped trial used its
    # design point; one stopped without a value measured nothing, see unmeasured), or while there are < 2 distinct values to fit
    y_fit = h.y if cd is None else cd.y
    # values that are all equal (a flat region, a broken objective) hold nothing a model can fit: its variance alone
    # would steer, to the corners and beside the points there; the space-filling design continues instead
    n_design = max(0, self.initial_size(space) - len(h.y) - h.n_stopped - h.n_pending) if len(y_fit) >= 2 and y_fit.max() > y_fit.min() else n
    out = self._design(space, h, taken, min(n, n_design), seed) if n_design else []
    if len(out) < n:
      if any(m is not t for m, t in zip(marked, trials)): h = History.of(space, marked)   # outliers as failed trials
      out += self._guided(space, h, taken, out, n - len(out), seed, minimize, cd)
    return out

  @_one_at_a_time
  def recommend(self, space: Space, trials: Sequence[Trial], *, seed: int = 0, minimize: bool = True) -> int | None:
    """Index in `trials` of the complete trial with the best posterior mean of the GP fitted to all complete trials: the
    configuration the model believes best, which one lucky draw of a noisy objective does not fool. It never changes
    what the study suggests next. None before the first finite value. The best observed trial (earliest on ties) when
    noise="deterministic", when the data test deterministic (`noise.noise_evidence`, whatever the acquisition: then no
    draw is lucky, and a model of warped values could rank the best ones by a noise it does not believe in), with a
    single value, or when the fit fails (then with a GPFallbackWarning). Over max_points complete trials the GP is fitted
    on `fit_subset`'s rows, as suggest's, and its mean compared at every trial."""
    fitted = self._recommend_fit(space, trials, seed, minimize)
    return None if fitted is None else fitted[0][int(np.argmax(fitted[2]))]

  @_one_at_a_time
  def recommend_anywhere(self, space: Space, trials: Sequence[Trial], *, seed: int = 0, minimize: bool = True) -> dict | None:
    """The configuration of the whole space with the best posterior mean of `recommend`'s model, observed or not: on a
    noisy objective the mean between the observed points knows more than any one of them (BoTorch's posterior-mean
    recommendation). Where `recommend` takes the best observed trial (deterministic data, one value, a failed fit), that
    trial's configuration. The mean is ascended from the trials it ranks best; where no point beats the best of them,
    or the point's posterior variance exceeds every trial's (an optimum the model extrapolates, outside its data), or the
    ascent fails (with a GPFallbackWarning), `recommend`'s trial's configuration. None before the first finite value."""
    return self._recommendations(space, trials, seed, minimize)[1]

  @_one_at_a_time
  def recommendations(self, space: Space, trials: Sequence[Trial], *, seed: int = 0, minimize: bool = True
                      ) -> tuple[int | None, dict | None]:
    """(`recommend`, `recommend_anywhere`) from one fit of the model: both at the cost of the second alone."""
    return self._recommendations(space, trials, seed, minimize)

  def _recommendations(self, space: Space, trials: Sequence[Trial], seed: int, minimize: bool) -> tuple[int | None, dict | None]:
    seed = self.seed if self.seed is not None else seed
    fitted = self._recommend_fit(space, trials, seed, minimize, stacklevel=5)
    if fitted is None: return None, None
    rows, X, mean, model = fitted
    index = rows[int(np.argmax(mean))]
    return index, self._anywhere(space, trials, seed, fitted, dict(trials[index].params))

  def _anywhere(self, space: Space, trials: Sequence[Trial], seed: int,
                fitted: tuple[Sequence[int], np.ndarray, np.ndarray, GPRegressor | None], best: dict) -> dict:
    """recommend_anywhere's ascent of `fitted`'s posterior mean (see _recommend_fit); `best` where it finds nothing better."""
    rows, X, mean, model = fitted
    if model is None: return best
    gx, _ = self._inputs(space, X)   # the map _recommend_fit's model takes
    tree = gx if isinstance(gx, TreeInputs) else None
    try:
      with np.errstate(all="ignore"):
        state, ls = model.posterior_state(), np.asarray(model.hyperparameters["lengthscales"], dtype=np.float64)
        post, args, augment = posterior, {}, None
        if isinstance(gx, SeenChoices): ls, args, augment = gx.lengthscales(ls), {"seen": gx}, gx.to_width(state[0].shape[-1])
        if tree is not None:
          state, ls, post = (*state, *tree.tensors(state[0].dtype, state[0].device, state[0].shape[-1])), tree.lengthscales(ls), tree.posterior
          args, augment = {"augment": tree.augment, "branches": space.branches(), "fixed": parent_columns(space), "seen": tree.seen}, tree.augment
        X_all = self._all_configs(space)
        if X_all is not None:   # a small discrete space: every configuration scored
          x, _ = best_untaken(post, state, X_all, np.zeros((0, space.dim)), best=0.0, acquisition="ucb", beta=0.0, bucket=self.n_raw,
                              augment=augment)
        else:   # UCB with beta = 0 is the posterior mean; ascended from the best trials by mean, among Sobol points
          x, _ = optimize_acquisition(post, state, space, best=0.0, rng=history_rng(seed, len(trials), salt=5), acquisition="ucb", beta=0.0,
                                      X_top=X[np.argsort(-mean, kind="stable")[:5]], lengthscales=ls, n_raw=self.n_raw,
                                      n_starts=self.n_starts, n_steps=self.n_steps, **args)
      if not np.all(np.isfinite(x)): raise FloatingPointError("the posterior mean's maximization returned a non-finite point")
      # the point only where its mean beats every trial's, within the data's support: its posterior variance no larger
      # than at the trial the data support least. Away from the data a smooth mean can extrapolate a slope to a peak the
      # model has never seen (batches spread a study's trials thin; benchmarks/README.md, session 39)
      m, v = model.predict(gx(x[None]))
      return space.decode(x) if m[0] > float(np.max(mean)) and v[0] <= float(np.max(model.predict(gx(X))[1])) else best
    except Exception as e:  # noqa: BLE001 - the model's best trial is still a recommendation
      warnings.warn(f"tinybo GP strategy: recommend_anywhere() could not maximize the posterior mean ({type(e).__name__}: {e}); "
                    "returning the recommended trial's configuration", GPFallbackWarning, stacklevel=5)
      return best

  def _recommend_fit(self, space: Space, trials: Sequence[Trial], seed: int, minimize: bool, stacklevel: int = 4
                     ) -> tuple[Sequence[int], np.ndarray, np.ndarray, GPRegressor | None] | None:
    """(rows, X, mean, model) for `recommend`: rows[k] the index in trials of complete trial k, X[k] its encoding, mean[k]
    the model's posterior mean there (larger is better), or its target where the best observed value decides (then
    model is None: see recommend; a failed fit warns). None before the first finite value."""
    seed = self.seed if self.seed is not None else seed
    full = History.of(space, trials)
    marked = self._outliers_failed(space, trials, None, minimize)
    h = History.of(space, marked) if any(m is not t for m, t in zip(marked, trials)) else full
    if len(h.y) == 0: return None
    rows = h.rows
    yy = self._targets(space, h.y, h.y, minimize)
    if self.noise == "deterministic" or len(h.y) < 2: return rows, h.X, yy, None
    gx, cats = self._inputs(space, h.X)
    # the kept fit is this study's (see _follow): its rows as suggest saw them, outliers included (else never warm with one)
    warm = self._lineage <= self._rows(full)
    # a large study: the fit on suggest's bounded subset (an exact GP on thousands of trials takes minutes), the
    # posterior mean at every trial
    X_all = gx(h.X)
    keep = self._subset(X_all, yy)
    try:
      y_fit = yy[keep]
      model = self._fit(space, X_all[keep], y_fit, seed, cats, keep=False, floor_scale=self._floor_scale(space, y_fit, h.y, minimize), warm=warm)
      # the test on these data, whatever suggest's last verdict; noisy data: the model of the raw values (see acquisition)
      if not self._noisy(space, model, y_fit, seed, keep=False, any_acquisition=True): return rows, h.X, yy, None
      if not np.array_equal(raw := -h.y if minimize else h.y, yy):
        model = self._fit(space, X_all[keep], raw[keep], seed, cats, keep=False, warm=warm, raw=True)
      mean = model.predict(X_all)[0]
    except Exception as e:  # noqa: BLE001 - a model that cannot be fitted still leaves the best observed trial
      warnings.warn(f"tinybo GP strategy: recommend() could not fit the GP ({type(e).__name__}: {e}); returning the best observed trial",
                    GPFallbackWarning, stacklevel=stacklevel)
      return rows, h.X, yy, None
    return rows, h.X, mean, model

  # ***** the model's outlook on a running trial (tb.ModelStopping asks it through the Optimizer) *****

  @_one_at_a_time
  def final_chance(self, space: Space, trials: Sequence[Trial], reports: Mapping[int, Sequence[Report]], trial_id: int, *,
                   seed: int = 0, minimize: bool = True) -> float | None:
    """The posterior probability that trial `trial_id`'s value at the target step (the end of a full run) beats the
    incumbent: the best complete trial's final value or, before any trial completed, the best final value the model
    predicts for the other stopped trials. The model is suggest's (configuration, step) GP over every trial's thinned
    curve, running ones included, with the hyperparameters of `chance_model` (refitted only when a trial finishes);
    each call puts the rows, detrended and standardized as the finished ones were, under them, factors once and
    predicts one point. A study over max_points rows:
    the prediction on the max_points rows nearest the trial's configuration (lengthscale-scaled; its own included).
    A pure function of (trials, reports, seed): every process reaches the same number.
    None when the model has nothing to say: curves=False, fewer than two finished trials with curves, the trial without
    reports or outside the space, or a failed fit (with a GPFallbackWarning)."""
    if self.curves is False or not reports or not reports.get(trial_id): return None
    trials = self._outliers_failed(space, trials, reports, minimize)
    cd = curve_data(space, trials, reports)
    if cd is None or not (mine := cd.ids == trial_id).any(): return None
    done = _rows_in_state(cd, trials, (TrialState.COMPLETE, TrialState.STOPPED))
    complete = cd.final & _rows_in_state(cd, trials, (TrialState.COMPLETE,))
    try:
      fitted = self._chance_fitted(space, cd, done, seed, minimize)
      if fitted is None: return None
      # the average curve and the units of the finished trials, as the hyperparameters were fitted: a running trial's own
      # reports (a diverged run's 1e6) would drag the trend and the spread with them, and read a hopeless curve as a
      # likely winner
      yy = self._detrended(space, cd, cd.X, cd.y, minimize, trend_rows=done)
      rows = np.arange(len(yy))
      if self.max_points is not None and len(yy) > self.max_points:   # a large study: the rows nearest the trial decide its posterior
        ls = np.asarray(fitted.hyperparameters["lengthscales"], dtype=np.float64)[:-1]
        dist = np.sum(((cd.X[:, :-1] - cd.X[mine][0, :-1]) / ls) ** 2, axis=1)   # its own rows at 0
        rows = np.sort(np.argsort(dist, kind="stable")[:self.max_points])
      model = fitted.with_data(cd.X[rows], yy[rows], keep_units=True)
      if complete.any(): best = float(np.max(yy[complete]))
      else:
        others = np.unique(cd.X[done & ~mine][:, :-1], axis=0)
        if not len(others): return None
        best = float(np.max(model.predict(at_target(others))[0]))
      mean, var = model.predict(at_target(cd.X[mine][:1, :-1]))
    except Exception as e:  # noqa: BLE001 - a model that cannot say never stops a trial, loudly
      warnings.warn(f"tinybo GP strategy: final_chance could not use the GP ({type(e).__name__}: {e}); the trial continues",
                    GPFallbackWarning, stacklevel=2)
      return None
    sd = math.sqrt(max(float(var[0]), 0.0))
    if sd == 0.0: return float(mean[0] > best)
    return 0.5 * math.erfc((best - float(mean[0])) / (sd * math.sqrt(2)))

  @_one_at_a_time
  def chance_model(self, space: Space, trials: Sequence[Trial], reports: Mapping[int, Sequence[Report]], *, seed: int = 0,
                   minimize: bool = True) -> GPRegressor | None:
    """The GP whose hyperparameters final_chance uses: fitted cold, from the seed, to the finished (complete and stopped)
    trials' curves only (a study over max_points rows: `fit_subset`'s rows, as suggest fits), cached under their hash and the space's,
    so running trials' reports never refit it. The Optimizer calls it before a report's write transaction, so a refit
    never holds the study's lock. None with fewer than two finished curves, curves=False, or a failed fit (warned once)."""
    if self.curves is False or not reports: return None
    trials = self._outliers_failed(space, trials, reports, minimize)
    cd = curve_data(space, trials, reports)
    if cd is None: return None
    return self._chance_fitted(space, cd, _rows_in_state(cd, trials, (TrialState.COMPLETE, TrialState.STOPPED)), seed, minimize)

  def _detrended(self, space: Space, cd: CurveData, X: np.ndarray, y: np.ndarray, minimize: bool,
                  trend_rows: np.ndarray | None = None, ids: np.ndarray | None = None) -> np.ndarray:
    """What suggest fits: the values to maximize (warped where suggest warps) minus the average learning curve (fitted to
    the rows `trend_rows`, a bool mask; None: all). `ids`: the rows' trial ids (None: cd.ids, X being cd.X)."""
    yy = self._targets(space, y, cd.last, minimize)
    ids = cd.ids if ids is None else ids
    if trend_rows is None: return yy - self._trend(X[:, -1], yy, ids)
    return yy - self._trend(X[trend_rows, -1], yy[trend_rows], ids[trend_rows], at=X[:, -1])

  def _trend(self, z: np.ndarray, y: np.ndarray, ids: np.ndarray, at: np.ndarray | None = None) -> np.ndarray:
    """The average learning curve at z (or `at`) the targets are detrended by: fidelity.trend, a quadratic in z. `ids`
    (each row's trial) go unused here; a curve read within trials needs them (benchmarks/shared_trend.py, session 28)."""
    return trend(z, y, at)

  def _chance_fitted(self, space: Space, cd: CurveData, done: np.ndarray, seed: int, minimize: bool) -> GPRegressor | None:
    if len(np.unique(cd.ids[done])) < 2: return None
    seed = self.seed if self.seed is not None else seed
    X_done, y_done = cd.X[done], self._detrended(space, cd, cd.X[done], cd.y[done], minimize, ids=cd.ids[done])
    keep = self._subset(X_done, y_done)   # a large study: a bounded subset, as suggest fits
    X_done, y_done = X_done[keep], y_done[keep]
    # the space too: two spaces can encode to the same X (a 2-choice Categorical's one-hot columns and two Floats at 0 and
    # 1) while the fit differs (categorical groups, lengthscale prior)
    key = hashlib.sha1(X_done.tobytes() + y_done.tobytes() + repr(self.kernel).encode() + repr(self.noise).encode() + str(seed).encode()
                       + self._space_json(space).encode()).digest()
    if self._chance_fit[0] != key:
      model: GPRegressor | None = None
      try: model = _finite_fit(self._fit_kernels(X_done, y_done, space.cat_groups, seed, None, self.prior_for(space), curves=True))
      except Exception as e:  # noqa: BLE001 - no model: no trial is stopped by it, loudly, once per set of finished curves
        warnings.warn(f"tinybo GP strategy: the model that judges running trials could not be fitted ({type(e).__name__}: {e}); "
                      "no trial is stopped by it until another one finishes", GPFallbackWarning, stacklevel=3)
        model = None
      self._chance_fit = (key, model)
    return self._chance_fit[1]

  # ***** the initial design *****

  def _design(self, space: Space, h: History, taken: set, n: int, seed: int) -> list[dict]:
    """Next n points of the seed's scrambled Sobol sequence that are not taken. The sequence depends on the seed only,
    so trial k of a study gets point k whatever the timing; no point is placed for a benchmark's sake (no centre)."""
    rng = np.random.default_rng([2, *seed_words(seed)])
    m = 1 << max(4, int(h.n_trials + n - 1).bit_length() + 1)
    out = []
    for p in space.decode_many(space.round(sobol(m, space.dim, rng)) if space.dim else np.zeros((m, 0))):
      if (k := space.key(p)) in taken: continue
      taken.add(k); out.append(p)
      if len(out) == n: return out
    return out + random_configs(space, history_rng(seed, h.n_trials + len(out), salt=1), taken, n - len(out))

  # ***** GP-guided suggestions *****

  def _targets(self, space: Space, y: np.ndarray, design: np.ndarray, minimize: bool) -> np.ndarray:
    """The values the GP fits, larger is better: y sign-flipped for minimization, then warped as `_warp_kind` says."""
    yy, kind = -y if minimize else y, self._warp_kind(space, design, minimize)
    if kind == "log": return warp_values(yy, n_scale=self.initial_size(space))
    return power_values(yy) if kind == "power" else yy

  def _outliers_failed(self, space: Space, trials: Sequence[Trial], reports: Mapping[int, Sequence[Report]] | None,
                       minimize: bool) -> list[Trial]:
    """The trials, with every finished one (complete or stopped) whose value, or any report with `reports`, lies
    `far_below` the initial design's trials' (their every value and report; `_design_trials`) marked FAILED: a failed
    configuration never enters the fit and is conditioned on at the worst fitted value, so the acquisition leaves its
    neighbourhood alone. Fitted, one diverged run's 1e6 after losses of 0.1-2 set the values' spread by itself and bent
    the model around one point, and the next suggestions scattered over the cube; a run stopped at a loss of 10 beside
    curves of 0.1-1 bent the (configuration, step) model alike. The design is `_design_trials`' (not the first complete
    values: with parallel workers a guided run can finish before a design one, and a diverged value there set the range
    and was never flagged); nothing is flagged while a design trial has no value yet. Running trials are left as they
    are (a rule judges them). Called at every report (through final_chance): each trial's values are gathered once."""
    trials = list(trials)
    sign, design = (-1.0 if minimize else 1.0), _design_trials(trials, self.initial_size(space))
    def values(t: Trial) -> list[float]:
      v = [r.value for r in reports.get(t.id, ())] if reports else []
      if t.state == TrialState.COMPLETE and t.value is not None: v.append(float(t.value))
      return [sign * x for x in v if math.isfinite(x)]
    # without reports a stopped trial's value is from an earlier step, no final value: it neither measures nor is measured
    ref = [values(trials[i]) for i in design if reports or trials[i].state != TrialState.STOPPED]
    if not all(ref): return trials
    ref_flat, in_design = [x for v in ref for x in v], set(design)
    later = [(i, v) for i, t in enumerate(trials)
             if i not in in_design and t.state in (TrialState.COMPLETE, TrialState.STOPPED) and (v := values(t))]
    if len(ref_flat) < 2 or not later: return trials
    bad = far_below(np.array(ref_flat + [min(v) for _, v in later]), len(ref_flat))[len(ref_flat):]
    for (i, _), b in zip(later, bad):
      if b: trials[i] = dataclasses.replace(trials[i], state=TrialState.FAILED)
    return trials

  def _warp_kind(self, space: Space, design: np.ndarray, minimize: bool) -> str | None:
    """The warp of the values: "log", "power" or None, as `warp` says, decided from the first values of `design` (the
    trials' final values; the log warp's scale comes from the initial design too); never when `noise` is a variance in
    the objective's units."""
    if isinstance(self.noise, float): return None
    tail = heavy_bad_tail((-design if minimize else design)[:self.initial_size(space)])
    return value_warp_for(self.warp, tail, space.n_varying, space.conditional)

  def _floor_scale(self, space: Space, yy: np.ndarray, design: np.ndarray, minimize: bool) -> float:
    """The factor of the GP's noise floor for targets yy = `_targets`(space, y, design, minimize): `warp_resolution`
    where warp_floor is set and yy is log-warped, else 1."""
    return warp_resolution(yy) if self.warp_floor and self._warp_kind(space, design, minimize) == "log" else 1.0

  def _space_json(self, space: Space) -> str:
    """space.to_json(), serialized once per Space object (a Space is not changed after it is made): the key under which
    the fits, the noise verdict and the enumerated configurations are kept, read several times per suggestion."""
    if self._space[0] is not space: self._space = (space, space.to_json())
    return self._space[1]

  def _all_configs(self, space: Space) -> np.ndarray | None:
    """Every configuration of a small discrete space, encoded (None for other spaces); enumerated once per space."""
    sj = self._space_json(space)
    if self._configs[0] != sj: self._configs = (sj, all_configs(space) if enumerable(space) else None)
    return self._configs[1]

  def _inputs(self, space: Space, X_held: np.ndarray) -> tuple[Callable[[np.ndarray], np.ndarray], list[slice]]:
    """(gx, categorical): the map of space-encoded rows to the GP's inputs and the GP's one-hot blocks, for a model of
    rows X_held: the tree's (a conditional space, tree.py), the unheld choices' (a wide categorical, seen.py), or none."""
    tree = self._tree(space, X_held)
    if tree is not None: return tree, tree.categorical
    seen = SeenChoices.of(space, X_held)
    return (seen, seen.categorical) if seen is not None else ((lambda X: X), space.cat_groups)

  def _tree(self, space: Space, X_held: np.ndarray) -> TreeInputs | None:
    """The tree map of a conditional space's encoded rows to the GP's inputs (tree.py), with a wide categorical's choices
    that no row of X_held holds as one column (seen.py), or None: the GP sees the rows as they are."""
    if self.conditional != "tree" or not space.conditional: return None
    return TreeInputs.of(space, seen=SeenChoices.of(space, X_held))

  def _noisy(self, space: Space, model: GPRegressor, y: np.ndarray, seed: int, keep: bool = True, any_acquisition: bool = False) -> bool:
    """acquisition="auto" or "edge": whether the objective is treated as noisy, given `model` fitted to the targets y
    (False for any other acquisition): a given noise variance says so; a fitted one within `noise.negligible_noise` says
    not; else the data's evidence of noise (`noise.noise_evidence`, a second, cold fit). keep=True (suggest): the test runs
    when the data have grown RETEST_GROWTH times since the last one (the first: at once; fewer data than then: another
    history, at once too) and its verdict stands in between. keep=False (recommend): the test on these data, not kept.
    any_acquisition (recommend): the test whatever the acquisition."""
    if (self.acquisition not in NOISY_RULES and not any_acquisition) or self.noise == "deterministic": return False
    if isinstance(self.noise, float): return True
    if negligible_noise(model): return False
    sj, n = self._space_json(space), len(y)
    tested_space, n_tested, evidence = self._noise_test
    if not (keep and tested_space == sj and n_tested <= n < RETEST_GROWTH * n_tested):
      evidence = noise_evidence(model, y, seed=seed32(seed), margin=NOISE_MARGIN)   # only its side of the margin counts
      if keep: self._noise_test = (sj, n, evidence)
    return evidence > NOISE_MARGIN

  def _fit(self, space: Space, X: np.ndarray, y: np.ndarray, seed: int, categorical: list[slice], keep: bool = True,
           floor_scale: float = 1.0, curves: bool = False, warm: bool = True, raw: bool = False) -> GPRegressor:
    """The GP on (X, y), warm-started from the last kept fit (warm=False: cold, that fit being another study's, see
    `_follow`); keep=False leaves that chain as it was (a fit is path dependent, so `recommend` must not change what the
    next suggestions are). floor_scale: see GPRegressor.fit. raw=True: the raw values' chain (noisy data whose targets
    are warped), warm-started from its last fit, or before it has one from the main chain's."""
    key = hashlib.sha1(X.tobytes() + y.tobytes() + repr(self.kernel).encode() + repr(self.noise).encode() + repr(floor_scale).encode()).digest()
    sj = self._space_json(space)
    last, last_key, last_space = (self._raw_model, self._raw_model_key, self._raw_model_space) if raw else \
      (self._model, self._model_key, self._model_space)
    if last is not None and last_key == key and last_space == sj: return last
    if raw and (last is None or last_space != sj): last, last_space = self._model, self._model_space
    model = _finite_fit(self._fit_kernels(X, y, categorical, seed, last if warm and last_space == sj else None, self.prior_for(space),
                                         floor_scale, curves=curves))
    if keep and raw: self._raw_model, self._raw_model_key, self._raw_model_space = model, key, sj
    elif keep: self._model, self._model_key, self._model_space = model, key, sj
    return model

  def _subset(self, X: np.ndarray, y: np.ndarray) -> np.ndarray | slice:
    """The rows a fit on (X, y) keeps: `fit_subset`'s above max_points, every row (slice(None)) up to it."""
    return fit_subset(X, y, self.max_points) if self.max_points is not None and len(y) > self.max_points else slice(None)

  @staticmethod
  def _rows(h: History) -> set[bytes]:
    """The complete trials of a history, each its encoded row and value as bytes: a later history of the same study holds them all."""
    return {h.X[i].tobytes() + h.y[i:i + 1].tobytes() for i in range(len(h.y))}

  def _follow(self, h: History) -> None:
    """Start the kept fits (the warm-start chains, the noise verdict) afresh where `h` does not hold every complete trial
    the last suggestion saw: this object suggests for another study now (one GP reused for several seeds or problems),
    whose suggestions must not depend on what it ran before. Within a study the complete trials only grow (in any
    order), and every chain continues as before."""
    rows = self._rows(h)
    if not self._lineage <= rows:
      self._model, self._model_key, self._model_space = None, b"", ""
      self._raw_model, self._raw_model_key, self._raw_model_space = None, b"", ""
      self._local_model, self._local_model_space = None, ""
      self._noise_test = ("", 0, 0.0)
    self._lineage = rows

  def _fit_kernels(self, X: np.ndarray, y: np.ndarray, categorical: list[slice], seed: int, warm_start: GPRegressor | None,
                   prior: str, floor_scale: float = 1.0, kernels: str | tuple[str, ...] | None = None, curves: bool = False) -> GPRegressor:
    """The GP of `self.kernel` on (X, y), warm-started when given. kernel="auto" (or a tuple of names): the warm start's
    kernel continues, and whenever the fit is cold (the first, and each time n has grown 1.5x: gp.GPRegressor.fit's policy)
    every candidate kernel is fitted cold too, and the chain from the first candidate steps to the next one while that
    one's MAP evidence is higher (its objective, negative log marginal likelihood minus log prior, the same priors for
    each, lower) by AUTO_MARGIN: model selection by the marginal likelihood, where a rougher kernel must clearly explain
    the data better than the smoother one before it. Two candidates: the second if it clears the margin over the first.
    Between cold fits a suggestion costs what a single kernel costs. `kernels`: another choice than self.kernel."""
    seed = seed32(seed)
    candidates = kernel_candidates(self.kernel if kernels is None else kernels)
    kernel = warm_start.kernel if warm_start is not None and len(candidates) > 1 else candidates[0]
    structure = "additive" if curves and self.curves == "additive" else "product"   # curves: X's last column is the fidelity
    model = GPRegressor(kernel, device=self.device, lengthscale_prior=prior, structure=structure)
    model.fit(X, y, categorical=categorical, seed=seed, warm_start=warm_start, noise=self.noise, floor_scale=floor_scale)
    if len(candidates) == 1 or model.n_cold != model.n: return model
    fits = {kernel: model}
    for other in candidates:
      if other not in fits: fits[other] = GPRegressor(other, device=self.device, lengthscale_prior=prior, structure=structure).fit(
        X, y, categorical=categorical, seed=seed, noise=self.noise, floor_scale=floor_scale)
    chosen = candidates[0]
    for other in candidates[1:]:  # a chain: each kernel must clear the margin over the one before it
      if fits[other].objective >= fits[chosen].objective - AUTO_MARGIN: break
      chosen = other
    return fits[chosen]

  def _fit_local(self, space: Space, X: np.ndarray, y: np.ndarray, seed: int, categorical: list[slice], floor_scale: float) -> GPRegressor | None:
    """trust_region: the local model, TRUST_KERNELS' choice on (X, y) warm-started from the last local fit (a chain of its
    own, so the global one is what it would be without it), or None where the evidence keeps their first kernel. The
    choice is made at the chain's cold fits (as kernel="auto"); while it is the first kernel the warm fits in between are
    skipped: the study is then the one without trust_region, and pays no fit for it."""
    sj = self._space_json(space)
    warm = self._local_model if self._local_model is not None and self._local_model_space == sj else None
    if warm is not None and warm.kernel == TRUST_KERNELS[0] and len(X) < 1.5 * warm.n_cold: return None
    model = self._fit_kernels(X, y, categorical, seed, warm, self.prior_for(space), floor_scale, kernels=TRUST_KERNELS)
    self._local_model, self._local_model_space = model, sj
    return model if model.kernel != TRUST_KERNELS[0] else None

  def _guided(self, space: Space, h: History, taken: set, chosen: list[dict], n: int, seed: int, minimize: bool,
              cd: CurveData | None = None) -> list[dict]:
    rng = history_rng(seed, h.n_trials, salt=3)
    X_avoid = np.concatenate([h.X, h.X_other])  # every trial that fits the space: never suggest any of them again
    # with curves the model has one more column, the step (fidelity.py); the points the strategy adds sit at the target step
    X_fit, y_raw, lift = (h.X, h.y, lambda X: X) if cd is None else (cd.X, cd.y, at_target)
    yy = self._targets(space, y_raw, h.y if cd is None else cd.last, minimize)
    if cd is not None: yy = yy - self._trend(cd.X[:, -1], yy, cd.ids)   # the average learning curve: the GP fits each one's difference to it
    out: list[dict] = []
    X_pend = np.concatenate([h.X_pending, space.encode_valid(chosen)])
    # a conditional space as a tree (tree.py) or flattened, a wide categorical's unheld choices as one column (seen.py);
    # gx maps space-encoded rows to the GP's inputs
    held = np.concatenate([X_avoid, h.X_failed, X_pend])
    tree = self._tree(space, held) if cd is None else None
    seen = SeenChoices.of(space, held) if cd is None and tree is None else None
    gx = tree if tree is not None else seen if seen is not None else lift
    cats = tree.categorical if tree is not None else seen.categorical if seen is not None else space.cat_groups
    X_rows = X_fit   # space-encoded: a wide categorical whose held choices grow within a batch maps them again
    if tree is not None or seen is not None: X_fit = gx(X_fit)
    # a large study: fit on a bounded subset (the exact GP while it has at most max_points rows)
    keep, X_failed = self._subset(X_fit, yy), h.X_failed
    X_fit, X_rows, y_fit, final = X_fit[keep], X_rows[keep], yy[keep], None if cd is None else cd.final[keep]
    if self.max_points is not None and len(X_failed) > self.max_points // 8: X_failed = X_failed[-(self.max_points // 8):]
    acquisition = "ucb" if self.acquisition in NOISY_RULES else self.acquisition
    X_all = self._all_configs(space)  # a small discrete space: score every configuration (and never search a trust region)
    try:
      floor_scale = self._floor_scale(space, y_fit, h.y, minimize) if cd is None else 1.0   # detrended curves are not warped values
      model = self._fit(space, X_fit, y_fit, seed, cats, floor_scale=floor_scale, curves=cd is not None)
      if cd is None and self._noisy(space, model, y_fit, seed):   # "auto" or "edge" on noisy data: on the raw values
        acquisition = NOISY_RULES[self.acquisition]
        if not np.array_equal(raw := -h.y if minimize else h.y, yy):   # they were warped: the model of the raw values, on their own warm-start chain
          yy, y_fit = raw, raw[keep]
          model = self._fit(space, X_fit, y_fit, seed, cats, raw=True)
      # failed configurations (crashes, NaN) never enter the fit, but the acquisition must not keep proposing their
      # neighbourhood: condition on them at the worst observed value, with the hyperparameters fitted on real data
      base = model = model.condition(gx(X_failed), np.full(len(X_failed), yy.min())) if len(X_failed) else model
      # a stopped run says little about its final value, so the target's variance stays high there and the acquisition
      # would return to it: fantasize stopped configurations at the target, at the posterior mean, as pending ones
      if cd is not None and len(cd.stopped): base = model = base.condition(at_target(cd.stopped))
      if len(X_pend): model = base.condition(gx(X_pend))
      # the incumbent and the points to refine: the best observed values, or with curves the best predicted at the target
      if cd is None: best, X_top = float(np.max(base.y_train)), h.X[np.argsort(-yy, kind="stable")[:min(5, len(h.X))]]
      else:
        best = float(np.max(base.y_train[:len(y_fit)][final] if final.any() else base.y_train))
        X_top = cd.configs[np.argsort(-base.predict(at_target(cd.configs))[0], kind="stable")[:5]]
      # trust_region: where the evidence prefers a rougher kernel, the local turns' model (curves never: no incumbent
      # point; a small discrete space never: it is scored whole, so the model would go unused)
      n0, local_base = self.initial_size(space), None
      if self.trust_region and cd is None and X_all is None and any(local_turn(h.n_trials + i, n0) for i in range(n)):
        local_base = self._fit_local(space, X_fit, y_fit, seed, cats, floor_scale)
        if local_base is not None and len(X_failed): local_base = local_base.condition(gx(X_failed), np.full(len(X_failed), yy.min()))
    except Exception as e:  # noqa: BLE001 - any failure of the model must degrade to random, loudly
      return self._fallback(space, h, taken, len(chosen), n, seed, f"the GP fit failed ({type(e).__name__}: {e})")
    tree_args = {} if tree is None else {"augment": tree.augment, "branches": space.branches(), "fixed": parent_columns(space)}
    post = posterior if tree is None else tree.posterior

    # the local turns search TuRBO's box around the incumbent
    length = trust_length(-h.y if minimize else h.y, n0, space.n_varying) if local_base is not None else None

    def propose(kind: str, state: tuple, ls: np.ndarray, best: float, box: tuple | None = None) -> np.ndarray:   # the point that maximizes `kind`
      if X_all is not None:
        return best_untaken(post, state, X_all, np.concatenate([X_avoid, X_pend]), best=best, acquisition=kind,
                            beta=self.beta, bucket=self.n_raw,
                            augment=tree_args.get("augment", None if seen is None else seen.to_width(state[0].shape[-1])))[0]
      return optimize_acquisition(post, state, space, best=best, rng=rng, acquisition=kind, beta=self.beta,
                                  X_observed=X_avoid, X_pending=X_pend, X_top=X_top, lengthscales=ls, n_raw=self.n_raw,
                                  n_starts=self.n_starts, n_steps=self.n_steps, min_distance=self.min_distance, box=box,
                                  seen=seen if tree is None else tree.seen, **tree_args)[0]

    # the inward probes (inward.py): on data that test deterministic (the acquisition is UCB), without conditions or curves
    probing = self.acquisition in NOISY_RULES and acquisition == "ucb" and not space.conditional and cd is None
    cells = int_cells(space) if probing else np.zeros(0, dtype=np.int64)
    first = None   # the batch's first point (space-encoded)
    for i in range(n):
      try:
        with np.errstate(all="ignore"):
          local = length is not None and local_base is not None and local_turn(h.n_trials + i, n0)
          turn = model if not local else local_base.condition(gx(X_pend)) if len(X_pend) else local_base
          best_i = float(np.max(local_base.y_train)) if local else best   # in the units of the turn's model
          state, ls = turn.posterior_state(), np.asarray(turn.hyperparameters["lengthscales"], dtype=np.float64)
          if seen is not None: ls = seen.lengthscales(ls)
          if tree is not None:
            state, ls = (*state, *tree.tensors(state[0].dtype, state[0].device, state[0].shape[-1])), tree.lengthscales(ls)
            # the branch bonus (tree.BranchOptimism): every evaluation of the study and this batch's points count as tries
            scale = math.sqrt(self.beta * float(turn.hyperparameters["outputscale"]))
            optimism = BranchOptimism.of(space, np.concatenate([X_avoid, X_pend[len(h.X_pending):]]), scale)
            tree_args["augment"] = lambda X, o=optimism, t=tree: t.augment(X, o)
          movable = np.asarray(space.kinds) != CAT
          box = trust_box(X_top[0], ls[:space.dim], length, movable) if local else None
          # where UCB's point is refused, LogEI against the best observed value near the incumbent (a local turn: in its
          # region): over the whole cube LogEI chases the far corners, where the raw values' GP reverts to the data's
          # mean, above what the plateau of a peaked objective really gives
          near_best = box if box is not None else trust_box(X_top[0], ls[:space.dim], EDGE_LENGTH, movable)
          if follows_first(i, first, near_best, acquisition):
            # deterministic data, a batch whose first point refines the incumbent's neighbourhood: so do the others. With
            # the first point fantasized, UCB over the whole cube sends them where the variance is left, the far corners
            x = propose("ucb", state, ls, best_i, near_best)
          elif acquisition == "edge":   # UCB, unless it goes to the cube's edge: then LogEI near the best point
            x = propose("ucb", state, ls, best_i, box)
            if on_float_bound(x, space.kinds): x = propose("logei", state, ls, best_i, near_best)
          else: x = propose(acquisition, state, ls, best_i, box)
          # deterministic data: UCB's point takes an integer to an end of its range where the best point is not: LogEI
          # near the best point instead, as "edge" answers a float's bound under noise (see new_int_end; a small
          # discrete space is scored whole, where a box does not apply)
          if probing and X_all is None and cells.any() and new_int_end(x, X_top[0], cells): x = propose("logei", state, ls, best_i, near_best)
          # "edge"/"auto" on data that test deterministic: a point on a face where the best point is too: observe just
          # inside it once (a space without conditions only: an inactive column's bound means nothing; curves' incumbent
          # is a prediction; noisy data: the best point is partly a lucky draw, and edge's LogEI handles the bounds there)
          if probing and on_float_bound(x, space.kinds):
            probe = inward_probe(x, X_top[0], space.kinds, h.X[-INWARD_STALL:], np.concatenate([X_avoid, X_pend]))
            if probe is not None: x = probe
          # the same for an integer held at the first or last of its values (its encoding never reaches 0 or 1)
          if probing and cells.any():
            probe = int_inward_probe(x, X_top[0], space.kinds, cells, h.X[-INWARD_STALL:])
            if probe is not None and space.key(space.decode(probe)) not in taken: x = probe
        if i == 0: first = np.asarray(x, dtype=np.float64)
        if not np.all(np.isfinite(x)): raise FloatingPointError("the acquisition optimizer returned a non-finite point")
        p = space.decode(x)
        if space.key(p) in taken: raise FloatingPointError("the acquisition optimizer returned a point that is already taken")
      except Exception as e:  # noqa: BLE001
        out += self._fallback(space, h, taken, len(chosen) + len(out), 1, seed, f"the acquisition optimization failed ({type(e).__name__}: {e})")
        continue
      taken.add(space.key(p)); out.append(p)
      if i + 1 < n:  # Kriging believer: fantasize this point at the posterior mean and condition, no refit
        X_pend = np.concatenate([X_pend, x[None]])
        try:
          held_map = seen if tree is None else tree.seen
          if held_map is not None and held_map.takes_unheld(x[None])[0]:
            # the next points' model must tell this choice from the other unheld ones: the map (flat or the tree's) with it
            # held, the same models on it, from their space-encoded rows (the fit's, then the failed ones conditioned on)
            grown = np.concatenate([held, X_pend])
            if tree is None:
              seen = SeenChoices.of(space, grown)
              gx, cats = (seen, seen.categorical) if seen is not None else (lift, space.cat_groups)
            else:
              tree = self._tree(space, grown)
              gx, cats, post = tree, tree.categorical, tree.posterior
            rows = np.concatenate([X_rows, X_failed])
            base = base.with_inputs(gx(rows), cats)
            if local_base is not None: local_base = local_base.with_inputs(gx(rows), cats)
          model = base.condition(gx(X_pend))
        except Exception as e:  # noqa: BLE001
          return out + self._fallback(space, h, taken, len(chosen) + len(out), n - len(out), seed,
                                      f"conditioning on pending points failed ({type(e).__name__}: {e})")
    return out

  def _fallback(self, space: Space, h: History, taken: set, n_chosen: int, n: int, seed: int, why: str) -> list[dict]:
    """n random configurations that are not taken (n_chosen: those this call chose already), with a warning that says why."""
    self.last_fallback = why
    warnings.warn(f"tinybo GP strategy: {why}; suggesting {n} random configuration(s) instead", GPFallbackWarning, stacklevel=3)
    return random_configs(space, history_rng(seed, h.n_trials + n_chosen, salt=1), taken, n)
