"""Plots of a study, each saved as a PNG: optimization history, learning curves (every trial's reports against step),
two-parameter interaction heatmap (observed trials and the GP posterior mean, at one step), parameter importance from
the fitted ARD lengthscales.

  from tinybo import plot
  plot.history(opt, "history.png"); plot.learning_curves(opt, "curves.png")
  plot.heatmap(opt, "lr", "width", "heatmap.png"); plot.importance(opt, "importance.png")

`study` is a tb.Optimizer (or anything with .space, .trials and .direction). matplotlib is the `plot` extra.
Imports: space, trial, gp (the posterior mean), subset (a large study's rows), _tinygrad (the device lock), stopping (value_at),
arguments (checks), numpy, matplotlib.
"""
from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from tinybo.arguments import check_device, check_int
from tinybo.space import INT, Categorical, Float, Int, Space, stepped
from tinybo.stopping import value_at
from tinybo.subset import DEFAULT_MAX_POINTS, fit_subset
from tinybo.trial import Report, Trial, TrialState

# searchable parameters with these names are fidelities: a heatmap keeps only the trials at one value of each
FIDELITY_NAMES = ("epochs", "epoch", "n_epochs", "max_epochs", "steps", "n_steps", "max_steps", "iterations", "n_iter", "max_iter",
                  "budget", "fidelity", "resource", "train_steps", "num_epochs")

def _plt():
  try:
    import matplotlib
    matplotlib.use("Agg")  # files only: never needs a display
    import matplotlib.pyplot as plt
  except ImportError as e:
    raise ImportError("tinybo.plot needs matplotlib; install it with: pip install 'tinybo[plot]' (or pip install matplotlib)") from e
  return plt

def _parts(study: Any) -> tuple[Space, list[Trial], bool, str]:
  try: space, trials, direction = study.space, study.trials, study.direction
  except AttributeError as e:
    raise TypeError(f"{study!r} is not a study; pass a tb.Optimizer (e.g. tb.Optimizer(space, storage='study.db', name=...))") from e
  return space, list(trials), direction == "minimize", getattr(study, "name", "study")

# the arguments the plots share, checked before any work: a bad one is a one-line error naming it, never a TypeError
# from inside matplotlib (after a GP fit's worth of work, for a heatmap)
def _check_path(path: Any) -> None:
  if not isinstance(path, (str, os.PathLike)):
    raise TypeError(f"path={path!r} is a {type(path).__name__}; use a file name such as 'plot.png'")

def _check_label(label: Any) -> None:
  if not isinstance(label, str):
    raise TypeError(f"label={label!r} is a {type(label).__name__}; use a str naming the metric, such as 'val loss'")

def _complete(trials: list[Trial]) -> list[Trial]: return [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]

def _curves(study: Any) -> dict[int, list[Report]]:
  """Every trial's reports ({} for a study object without them: nothing was ever reported)."""
  return dict(getattr(study, "curves", None) or {})

def _save(fig, path: str | os.PathLike) -> str:
  path = str(path)
  # a name without an image format's extension ("history", "lr_0.5") gets .png, as matplotlib does for the first only:
  # the file written is the path returned
  if os.path.splitext(path)[1][1:].lower() not in fig.canvas.get_supported_filetypes(): path += ".png"
  if os.path.dirname(path): os.makedirs(os.path.dirname(path), exist_ok=True)
  fig.savefig(path, dpi=120, bbox_inches="tight")
  _plt().close(fig)
  return path

SCALE_MAX = 1e300   # the largest magnitude a plot's scale holds; beyond, values sit off scale at its edge

def _limits(values: np.ndarray, minimize: bool) -> tuple[float, float]:
  """Colour/axis limits that keep the interesting (good) end readable: the worst 10% of values (diverged runs, e.g.
  accuracy 0 or a loss of 1e6) are clipped instead of stretching the scale."""
  values = np.clip(values, -SCALE_MAX, SCALE_MAX)   # a penalty such as sys.float_info.max: its padding would overflow to inf
  lo, hi = float(values.min()), float(values.max())
  if len(values) >= 10:   # an observed value, never one interpolated between an outlier and the rest
    if minimize: hi = float(np.quantile(values, 0.9, method="lower"))
    else: lo = float(np.quantile(values, 0.1, method="higher"))
  if hi <= lo: lo, hi = lo - 0.5 * (abs(lo) or 1.0), hi + 0.5 * (abs(hi) or 1.0)
  return float(lo), float(hi)

def _integer_ticks():
  from matplotlib.ticker import MaxNLocator
  return MaxNLocator(integer=True)

def _cmap(minimize: bool) -> str: return "viridis_r" if minimize else "viridis"  # the best end is always bright yellow

# ***** history *****

def history(study: Any, path: str | os.PathLike = "history.png", title: str | None = None, label: str = "value") -> str:
  """Every complete trial's value against its trial id (the number `tinybo show`, `opt.best` and the learning curves
  name it by), the best so far as a step line, failed trials as red ticks at the bottom. `label` names the metric on
  the axis. Returns the PNG's path."""
  _check_path(path); _check_label(label)
  plt = _plt()
  space, trials, minimize, name = _parts(study)
  done = _complete(trials)
  if not done: raise ValueError(f"study '{name}' has no complete trials to plot; observe some results first")
  order = sorted(trials, key=lambda t: t.id)
  num = {t.id: t.id for t in order}
  x, v = np.array([num[t.id] for t in done]), np.array([t.value for t in done])
  best = (np.minimum if minimize else np.maximum).accumulate(v)
  lo, hi = _limits(v, minimize)
  pad = 0.05 * (hi - lo)
  lo, hi = lo - pad, hi + pad
  fig, ax = plt.subplots(figsize=(7, 4))
  inside = (v >= lo) & (v <= hi)
  ax.scatter(x[inside], v[inside], s=22, color="tab:blue", alpha=0.75, label="trial value", zorder=3)
  if (~inside).any():  # clipped outliers stay visible at the edge instead of squashing the scale
    ax.scatter(x[~inside], np.clip(v[~inside], lo, hi), s=30, marker="v" if minimize is False else "^", color="tab:gray",
               label=f"off scale ({(~inside).sum()})", zorder=3)
  ax.step(np.append(x, order[-1].id), np.append(best, best[-1]), where="post", color="tab:orange", lw=2, label="best so far", zorder=2)
  failed = [num[t.id] for t in trials if t.state == TrialState.FAILED]
  if failed: ax.scatter(failed, np.full(len(failed), lo), marker="x", color="tab:red", label=f"failed ({len(failed)})", zorder=3)
  stopped = [num[t.id] for t in trials if t.state == TrialState.STOPPED]  # their values are at an earlier step: a tick, no value
  if stopped: ax.scatter(stopped, np.full(len(stopped), lo), marker="|", s=80, color="tab:gray", label=f"stopped early ({len(stopped)})", zorder=3)
  ax.set_ylim(lo, hi)
  ax.set_xlabel("trial id")
  ax.xaxis.set_major_locator(_integer_ticks())   # trial ids: no tick at 1.5
  ax.set_ylabel(label + (" (lower is better)" if minimize else " (higher is better)"))
  ax.set_title(title or f"{name}: optimization history ({len(done)} complete, best {best[-1]:.4g})")
  ax.grid(alpha=0.3)
  ax.legend(loc="best", fontsize=8)
  return _save(fig, path)

# ***** learning curves *****

def learning_curves(study: Any, path: str | os.PathLike = "curves.png", title: str | None = None, label: str = "value") -> str:
  """Every trial's reported values against step. Complete trials: blue lines ending in a dot, the best one orange on top;
  stopped early: grey dashed lines ending in a grey x at the step they stopped; failed: red dotted lines ending in a red X
  (the step after their last finite report is where they broke); still running: thin green lines. Diverged values beyond
  the scale are clipped to its edge, as in history(). Returns the PNG's path."""
  _check_path(path); _check_label(label)
  plt = _plt()
  _, trials, minimize, name = _parts(study)
  curves = _curves(study)
  if not curves: raise ValueError(f"study '{name}' has no reports to plot; call opt.report(trial, value, step) while training")
  by_id = {t.id: t for t in trials}
  best = min(_complete(trials), key=lambda t: (t.value if minimize else -t.value, t.id), default=None)
  lo, hi = _curve_limits(np.array([r.value for c in curves.values() for r in c]), minimize)
  pad = 0.05 * (hi - lo)
  lo, hi = lo - pad, hi + pad
  style = {TrialState.COMPLETE: dict(color="tab:blue", ls="-", lw=1.1, alpha=0.55, marker="o", ms=4, label="complete"),
           TrialState.STOPPED: dict(color="tab:gray", ls="--", lw=1.0, alpha=0.8, marker="x", ms=7, label="stopped early"),
           TrialState.FAILED: dict(color="tab:red", ls=":", lw=1.2, alpha=0.9, marker="X", ms=8, label="failed"),
           TrialState.PENDING: dict(color="tab:green", ls="-", lw=0.8, alpha=0.8, marker=">", ms=5, label="running")}
  fig, ax = plt.subplots(figsize=(8, 4.5))
  labelled: set = set()         # the states with a legend entry already
  shown = [(tid, c) for tid, c in curves.items() if tid in by_id]
  counts = Counter(by_id[tid].state for tid, _ in shown)   # the curves drawn, by state (the title)
  # hundreds of curves: thinner, fainter, smaller end markers, so that the crowd stopped at the first rung does not
  # hide the rest; stopped and failed curves under the complete ones, the best on top
  fade = {state: min(1.0, math.sqrt(100 / n)) for state, n in counts.items()}   # by state: 20 complete curves stay as they are
  layer = {TrialState.STOPPED: 1, TrialState.FAILED: 2, TrialState.PENDING: 2, TrialState.COMPLETE: 3}
  for tid, curve in shown:
    t = by_id[tid]
    st = dict(style[t.state])
    kind = st.pop("label")
    is_best = best is not None and tid == best.id
    lab = kind if t.state not in labelled and not is_best else None   # one legend entry per state, in the state's own colour
    if lab is not None: labelled.add(t.state)
    mk, ms = st.pop("marker"), st.pop("ms")
    x, v = np.array([r.step for r in curve]), np.clip(np.array([r.value for r in curve]), lo, hi)
    if is_best: st.update(color="tab:orange", lw=2.4, alpha=1.0)
    else:
      f = fade[t.state]
      st.update(alpha=max(0.08, st["alpha"] * f), lw=st["lw"] * max(0.5, f)); ms = max(2.0, ms * f)
    ax.plot(x, v, marker=mk, ms=ms, markevery=[len(x) - 1], zorder=4 if is_best else layer[t.state], label=lab, **st)
  if best is not None and best.id in curves:
    ax.plot([], [], color="tab:orange", lw=2.4, label=f"best: trial {best.id} ({best.value:.4g})")
  ax.set_ylim(lo, hi)
  ax.set_xlabel("step")
  ax.xaxis.set_major_locator(_integer_ticks())   # steps are ints: a short run would get ticks at 1.25, 1.5, ...
  ax.set_ylabel(label + (" (lower is better)" if minimize else " (higher is better)"))
  parts = [f"{counts[s]} {style[s]['label']}" for s in (TrialState.COMPLETE, TrialState.STOPPED, TrialState.FAILED, TrialState.PENDING) if counts[s]]
  ax.set_title(title or f"{name}: learning curves ({', '.join(parts)})")
  ax.grid(alpha=0.3)
  for handle in ax.legend(loc="upper right", fontsize=8, framealpha=0.85).legend_handles:   # a faded crowd's entry stays legible
    handle.set_alpha(1.0)
  return _save(fig, path)

def _curve_limits(values: np.ndarray, minimize: bool) -> tuple[float, float]:
  """Axis limits for learning curves: early steps are legitimately bad, so only far outliers are clipped (beyond the
  10-90% quantile range stretched three times toward the bad end: a diverged run, a loss of 1e6)."""
  values = np.clip(values, -SCALE_MAX, SCALE_MAX)
  lo, hi = float(values.min()), float(values.max())
  q10, q90 = (float(q) for q in np.quantile(values, [0.1, 0.9]))
  if minimize: hi = min(hi, q90 + 3 * (q90 - q10))
  else: lo = max(lo, q10 - 3 * (q90 - q10))
  if hi <= lo: lo, hi = lo - 0.5 * (abs(lo) or 1.0), hi + 0.5 * (abs(hi) or 1.0)
  return lo, hi

def default_step(trials: list[Trial], curves: dict[int, list[Report]]) -> int | None:
  """The step a heatmap compares trials at when none is given: the most common last step of the complete trials that
  reported (the length of a full run), the larger on ties; of every trial that reported when none is complete."""
  last = [t.last_step for t in trials if t.state == TrialState.COMPLETE and t.last_step is not None and t.id in curves]
  if not last: last = [c[-1].step for c in curves.values() if c]
  if not last: return None
  counts = Counter(last)
  return max(counts, key=lambda s: (counts[s], s))

def trials_at_step(trials: list[Trial], curves: dict[int, list[Report]], step: int | None = None,
                   mix_fidelities: bool = False) -> tuple[list[Trial], int | None]:
  """The trials a heatmap compares, with the values it shows, and the step they are at. A study without reports: its
  complete trials (step None). With reports: every trial that reported at `step` (default: `default_step`), valued at
  that report, so a short run is never compared with a long one. mix_fidelities=True: every complete trial's value and
  every stopped trial's last value, whatever their steps."""
  step = check_int("step", step, 0, none="the default step (see default_step)")   # a str would fail deep in a bisect
  if not isinstance(mix_fidelities, (bool, np.bool_)):   # "no" is truthy: it would mix silently
    raise TypeError(f"mix_fidelities={mix_fidelities!r} is a {type(mix_fidelities).__name__}; use True or False")
  if mix_fidelities:
    if step is not None: raise ValueError(f"step={step!r} and mix_fidelities=True contradict each other; pass one of them")
    return [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.STOPPED) and t.value is not None], None
  if not curves:
    if step is not None: raise ValueError(f"step={step!r}: this study has no reports; leave step out to use its complete trials")
    return _complete(trials), None
  if step is None: step = default_step(trials, curves)
  out = [replace(t, value=v) for t in trials if (v := value_at(curves.get(t.id, ()), step)) is not None]
  return out, step

# ***** heatmap *****

def _axis(space: Space, name: str, base: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, list[str] | None, str]:
  """Grid along one parameter with the other columns at `base`: (plot coordinates [m], encoded points [m, dim],
  tick labels for categoricals or None, axis scale)."""
  p, c = space.params[name], space.columns[name]
  if isinstance(p, Categorical):
    X = np.repeat(base[None], len(p.choices), 0)
    X[:, c] = np.eye(len(p.choices))
    return np.arange(len(p.choices), dtype=np.float64), X, [str(ch) for ch in p.choices], "linear"
  X = np.repeat(base[None], k, 0)
  X[:, c] = np.linspace(0.0, 1.0, k)[:, None]
  if space.kinds[c.start] == INT:  # each integer (or step of a stepped Float) once: the GP sees only valid configurations
    X = space.round(X)
    X = X[np.unique(X[:, c.start], return_index=True)[1]]
  vals = np.array([d[name] for d in space.decode_many(X)], dtype=np.float64)
  return vals, X, None, "log" if p.log else "linear"

def _coord(space: Space, name: str, values: list) -> np.ndarray:
  p = space.params[name]
  if isinstance(p, Categorical): return np.array([p.choices.index(v) for v in values], dtype=np.float64)
  return np.array(values, dtype=np.float64)

def _fit_gp(space: Space, trials: list[Trial], minimize: bool, device: str | None = None):
  """The GP on the trials' values; a study over DEFAULT_MAX_POINTS trials: on `fit_subset`'s rows (the best half by
  the study's direction, the most recent, a space-filling cover), as the GP strategy fits, since an exact GP on 5,000
  trials took minutes and gigabytes for one picture. Callers hold `_tinygrad.DEVICE_LOCK` over the fit and every use of
  the model: its captured programs and buffers are the process's, and a study suggesting in another thread would
  overwrite them."""
  from tinybo.gp import GPRegressor
  X = space.encode_many([t.params for t in trials])
  y = np.array([t.value for t in trials], dtype=np.float64)
  if len(y) > DEFAULT_MAX_POINTS:
    keep = fit_subset(X, -y if minimize else y, DEFAULT_MAX_POINTS)
    X, y = X[keep], y[keep]
  return GPRegressor(device=device).fit(X, y, space.cat_groups)

def _is_number(v: Any) -> bool: return isinstance(v, (int, float)) and not isinstance(v, bool)

def fidelity_filter(space: Space, trials: list[Trial], keep: tuple[str, ...] = (), at: dict | None = None) -> tuple[list[Trial], dict]:
  """Trials at one fidelity: for each searchable fidelity parameter (a name in FIDELITY_NAMES) not in `keep`, keep only
  the trials at `at[name]`, by default its highest observed value. Returns (trials, {name: value kept})."""
  fixed = {}
  for n in space.names:
    if n in keep or n.lower() not in FIDELITY_NAMES: continue
    vals = [t.params[n] for t in trials if n in t.params]   # a conditional fidelity: trials without it are kept
    if not vals: continue
    numeric = isinstance(space.params[n], (Int, Float)) or all(_is_number(u) for u in vals)
    v = (at or {}).get(n, max(vals) if numeric else max(vals, key=space.params[n].choices.index))   # the highest, or the last choice
    trials, fixed[n] = [t for t in trials if n not in t.params or t.params[n] == v], v
  return trials, fixed

def held_configuration(space: Space, ranked: list[Trial], at: dict) -> dict:
  """The configuration a heatmap holds every other parameter at: the best trial's (ranked[0]; `ranked`: the trials, best
  first), with `at` over it. Where `at` switches a conditional branch, the parameters it deactivates are dropped and those
  it activates come from the best trial that has them (else the middle of their range), so a partial `at` such as
  {"opt": "adam"} is enough."""
  merged = {**ranked[0].params, **at}
  middle = space.decode(space.round(np.full((1, space.dim), 0.5))[0])
  for _ in range(len(space.names) + 1):   # each round may activate another level of children
    act = space.active(merged)
    params = {k: v for k, v in merged.items() if k in act or k not in space.names}
    missing = [k for k in act if k not in params]
    if not missing: return params
    for k in missing: params[k] = next((t.params[k] for t in ranked if k in t.params), middle.get(k))
    merged = params
  return merged

def heatmap(study: Any, x: str, y: str, path: str | os.PathLike = "heatmap.png", *, at: dict | None = None, step: int | None = None,
            mix_fidelities: bool = False, resolution: int = 60, device: str | None = None, label: str = "value") -> str:
  """Interaction of parameters x and y, metric as colour. Left: the observed trials. Right: the GP posterior mean over
  (x, y) with every other parameter held at the best configuration (or at `at`). Trials at different fidelities are never
  mixed: in a study with reports, only the values reported at one step (`step`, default: the last step of most complete
  trials, see trials_at_step), and of a searchable `epochs`, `steps`, `budget`, ... only the trials at its highest value
  (or `at[name]`); mix_fidelities=True uses every complete and stopped trial as it ended. `label` names the metric on the
  colour bar. Returns the PNG's path."""
  _check_path(path); _check_label(label)
  check_int("resolution", resolution, 2)
  if at is not None and not isinstance(at, Mapping):
    raise TypeError(f"at={at!r} is a {type(at).__name__}; use a dict of parameter name -> value, such as at={{'opt': 'adam'}}")
  device = check_device(device)
  plt = _plt()
  from matplotlib.colors import Normalize
  from matplotlib.ticker import FuncFormatter
  space, trials, minimize, name = _parts(study)
  for p in (x, y):
    if p not in space.names:
      raise ValueError(f"unknown parameter '{p}' for a heatmap; study '{name}' searches {space.names}")
  if x == y: raise ValueError(f"heatmap needs two different parameters, got x=y='{x}'")
  fit, at_step = trials_at_step(trials, _curves(study), step, mix_fidelities)
  fixed: dict = {}
  if not mix_fidelities: fit, fixed = fidelity_filter(space, fit, keep=(x, y), at=at)
  done = [t for t in fit if x in t.params and y in t.params]  # conditional x or y: plot the trials where both exist, fit on all
  if len(done) < 2:
    both = f" with both '{x}' and '{y}' active" if space.conditions else ""
    where = " at " + str({**fixed, **({"step": at_step} if at_step is not None else {})}) if fixed or at_step is not None else ""
    what = "trials" if at_step is not None else "complete trials"
    fix = ("; pass another step (step=, or --step in the CLI) or every trial as it ended (mix_fidelities=True, or --mix-fidelities)"
           if at_step is not None or fixed else "")
    raise ValueError(f"study '{name}' has {len(done)} {what}{both}{where}; a heatmap needs at least 2{fix}")
  vals = np.array([t.value for t in done])
  ranked = sorted(done, key=lambda t: t.value if minimize else -t.value)   # stable: the first of equals, as min and max
  best = ranked[0]
  base_params = held_configuration(space, ranked, {**(at or {}), **fixed})
  base = space.encode(base_params)
  xv, Xx, xt, xs = _axis(space, x, base, resolution)
  yv, Xy, yt, ys = _axis(space, y, base, resolution)
  # the grid: x's columns from Xx, y's columns from Xy, everything else at base
  G = np.repeat(base[None], len(xv) * len(yv), 0)
  G[:, space.columns[x]] = np.tile(Xx[:, space.columns[x]], (len(yv), 1))
  G[:, space.columns[y]] = np.repeat(Xy[:, space.columns[y]], len(xv), 0)
  G = space.round(G)  # when x or y is a parent, the grid switches its children on and off: each cell a valid configuration
  from tinybo._tinygrad import DEVICE_LOCK
  with DEVICE_LOCK: mean = _fit_gp(space, fit, minimize, device).predict(G)[0].reshape(len(yv), len(xv))   # see _fit_gp
  lo, hi = _limits(vals, minimize)
  norm, cmap = Normalize(lo, hi, clip=False), plt.get_cmap(_cmap(minimize))
  extend = "max" if minimize else "min"

  px, py = _coord(space, x, [t.params[x] for t in done]), _coord(space, y, [t.params[y] for t in done])
  rng = np.random.default_rng(0)  # jitter categorical axes so trials at the same choice do not hide each other
  jx = px + (rng.uniform(-0.15, 0.15, len(px)) if xt else 0.0)
  jy = py + (rng.uniform(-0.15, 0.15, len(py)) if yt else 0.0)
  fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharex=True, sharey=True, constrained_layout=True)
  shrink = min(1.0, math.sqrt(50 / len(done)))   # thousands of trials at full size hid each other and the colours
  axes[0].scatter(jx, jy, c=vals, cmap=cmap, norm=norm, s=max(8.0, 70 * shrink), edgecolors="k", linewidths=0.5 * shrink, zorder=3)
  axes[0].set_title(f"observed trials ({len(done)})")
  mesh = axes[1].pcolormesh(xv, yv, mean, cmap=cmap, norm=norm, shading="nearest")
  if not xt and not yt and len(xv) > 2 and len(yv) > 2:  # contours only inside the colour range: none crowd the clipped region
    axes[1].contour(xv, yv, mean, levels=np.linspace(lo, hi, 9)[1:-1], colors="white", linewidths=0.5, alpha=0.6)
  axes[1].scatter(jx, jy, s=max(3.0, 12 * shrink), c="white", edgecolors="k", linewidths=0.4 * shrink, zorder=3, label="observed")
  axes[1].scatter(_coord(space, x, [best.params[x]]), _coord(space, y, [best.params[y]]), marker="*", s=260, c="red", edgecolors="white",
                  zorder=4, label="best")
  axes[1].legend(loc="upper right", fontsize=8, framealpha=0.8)
  others = {k: base_params[k] for k in space.names if k not in (x, y) and k in base_params}
  held = ", ".join(f"{k}={_fmt(v, stepped(space.params[k]))}" for k, v in others.items())
  axes[1].set_title("GP posterior mean, others at best" if not at else "GP posterior mean, others fixed", fontsize=10)
  for ax in axes:
    ax.set_xscale(xs); ax.set_yscale(ys)
    if xt: ax.set_xticks(range(len(xt)), xt); ax.set_xlim(-0.5, len(xt) - 0.5)
    if yt: ax.set_yticks(range(len(yt)), yt); ax.set_ylim(-0.5, len(yt) - 0.5)
    # an Int takes whole values only: Int(1, 4) got ticks at 1.5, 2.5 (a log Int axis gets its own formatters below)
    for axis, p, scale in ((ax.xaxis, x, xs), (ax.yaxis, y, ys)):
      if scale == "linear" and isinstance(space.params[p], Int): axis.set_major_locator(_integer_ticks())
    ax.set_xlabel(x)
  axes[0].set_ylabel(y)
  for axis, vals, scale, ticks in ((axes[0].xaxis, xv, xs, xt), (axes[0].yaxis, yv, ys, yt)):
    if ticks: continue
    # the observed points at the bounds stay whole: half a grid cell of room on each side, as the mesh has
    lo_, hi_ = (np.log(vals.min()), np.log(vals.max())) if scale == "log" else (vals.min(), vals.max())
    pad = 0.5 * (hi_ - lo_) / max(len(vals) - 1, 1)
    lim = (np.exp(lo_ - pad), np.exp(hi_ + pad)) if scale == "log" else (lo_ - pad, hi_ + pad)
    (axes[0].set_xlim if axis is axes[0].xaxis else axes[0].set_ylim)(*lim)
    if scale == "log" and isinstance(space.params[x if axis is axes[0].xaxis else y], Int):
      axis.set_major_formatter(FuncFormatter(_plain_tick)); axis.set_minor_formatter(FuncFormatter(_minor_tick))
  fig.colorbar(mesh, ax=axes, extend=extend, label=label + (" (lower is better)" if minimize else " (higher is better)"))
  fixed_all = {**({"step": at_step} if at_step is not None else {}), **fixed}
  exact = {k: k in space.params and stepped(space.params[k]) for k in fixed_all}
  fid = ("; " + ", ".join(f"only {k}={_fmt(v, exact[k])}" for k, v in fixed_all.items()) if fixed_all
         else "; every fidelity mixed" if mix_fidelities else "")
  fig.suptitle(f"{name}: {x} × {y}{fid}\nheld: {held}" if held else f"{name}: {x} × {y}{fid}", fontsize=10)
  return _save(fig, path)

def _plain_tick(v: float, _=None) -> str: return f"{v:g}"
def _minor_tick(v: float, _=None) -> str:   # 20, 30, 50, 200, ...: plain numbers on a log int axis, not crowded
  return f"{v:g}" if v > 0 and round(v / 10 ** math.floor(math.log10(v))) in (2, 3, 5) else ""

def _fmt(v: Any, exact: bool = False) -> str:
  """A value in a title: floats to 3 significant digits, or `exact` (a stepped Float's, whose steps 3 digits may not
  tell apart: -99.93002 with step=1e-05) as Python writes it."""
  return (repr(v) if exact else f"{v:.3g}") if isinstance(v, float) else str(v)

# ***** importance *****

def importance_scores(study: Any, device: str | None = None) -> dict[str, float]:
  """Relative importance of each searched parameter from a GP fitted to the complete trials: the inverse ARD
  lengthscale (a short lengthscale means the metric changes fast along that parameter), the largest over a
  parameter's encoded columns, normalized to sum to 1. Single-value parameters, and those the complete trials never
  varied, score 0. Over DEFAULT_MAX_POINTS complete trials the GP is fitted on a subset of them (`_fit_gp`)."""
  device = check_device(device)
  space, trials, minimize, name = _parts(study)
  if not space.names: raise ValueError(f"study '{name}' searches no parameter (its space holds constants only); nothing to rank")
  done = _complete(trials)
  if len(done) < 3: raise ValueError(f"study '{name}' has {len(done)} complete trials; parameter importance needs at least 3")
  from tinybo._tinygrad import DEVICE_LOCK
  with DEVICE_LOCK: ls = np.asarray(_fit_gp(space, done, minimize, device).hyperparameters["lengthscales"], dtype=np.float64).reshape(-1)
  raw = {}
  for n in space.names:
    p = space.params[n]
    single = (isinstance(p, Categorical) and len(p.choices) == 1) or (isinstance(p, (Int, Float)) and p.low == p.high)
    # a parameter the complete trials never varied (one value, or never active): its lengthscale is the prior's, not the data's
    seen = {repr(t.params[n]) for t in done if n in t.params}
    raw[n] = 0.0 if single or len(seen) <= 1 else float(np.max(1.0 / ls[space.columns[n]]))
  total = sum(raw.values()) or 1.0
  return {n: v / total for n, v in raw.items()}

def most_important(study: Any, k: int = 2, device: str | None = None) -> list[str]:
  """The k searched parameters with the highest importance_scores (the default axes of a heatmap)."""
  k = check_int("k", k, 1)
  scores = importance_scores(study, device)
  return sorted(scores, key=lambda n: -scores[n])[:k]

def importance(study: Any, path: str | os.PathLike = "importance.png", device: str | None = None) -> str:
  """Horizontal bar chart of importance_scores (most important on top). Returns the PNG's path."""
  _check_path(path)
  plt = _plt()
  _, trials, _, name = _parts(study)
  scores = importance_scores(study, device)
  items = sorted(scores.items(), key=lambda kv: kv[1])
  fig, ax = plt.subplots(figsize=(6.5, 0.5 * len(items) + 1.4))
  bars = ax.barh([k for k, _ in items], [v for _, v in items], color="tab:blue")
  ax.bar_label(bars, labels=[f"{v:.2f}" for _, v in items], padding=3, fontsize=8)
  ax.set_xlim(0, max(v for _, v in items) * 1.18 or 1.0)
  ax.set_xlabel("importance (inverse ARD lengthscale, normalized)")
  ax.set_title(f"{name}: parameter importance ({len(_complete(trials))} complete trials)")
  ax.grid(axis="x", alpha=0.3)
  return _save(fig, path)
