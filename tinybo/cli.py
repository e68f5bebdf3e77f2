"""The `tinybo` command line: look at, plot and export SQLite studies; run the benchmarks.

  tinybo show study.db [--name NAME] [--last N] [--recommend [--anywhere] [--gp "noise=0.01;kernel=rbf"]]
  tinybo plot study.db --kind history|curves|heatmap|importance [--x P --y Q] [--step N] [--mix-fidelities] [-o out.png] [--name NAME]
  tinybo export study.db --format csv|json [-o FILE] [--name NAME]
  tinybo bench [ARGS...]            # python -m benchmarks.run ARGS... (needs a source checkout); results in the current folder

show, plot and export only read: they open the study file read-only and create no file next to it, so anyone who may
read a study can look at it without locking its owner out. Everything they print from the file has its control
characters escaped, and CSV cells that a spreadsheet would run as a formula are neutralized.
Imports: storage (read-only studies); inside the commands that need them optimizer, space, bo and arguments (--recommend, --gp), trial, plot.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import subprocess
import sys
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

from tinybo.storage import SQLiteStorage, StorageBusyError, file_path


class CLIError(Exception):
  """A user error: printed as one line, exit status 1."""

# ***** opening studies *****

def safe(text: Any) -> str:
  """str(text) with control, format (bidi overrides) and line-separator characters escaped (\\x1b, \\u202e): a value
  in a study file cannot clear the screen, move the cursor or fake a line of the output."""
  s = str(text)
  if s.isprintable(): return s
  return "".join(c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") else c for c in s)

def _storage(path: str) -> SQLiteStorage:
  if not os.path.exists(path): raise CLIError(f"no such study file '{path}'; pass the .db file given to tb.Optimizer(storage=...)")
  return SQLiteStorage(path, readonly=True, max_wait=10.0)

def study_names(path: str) -> list[tuple[str, str, str, int | None]]:
  """(name, space JSON, direction, seed) of every study in a SQLite study file, read-only."""
  rows = _storage(path).studies()
  if not rows: raise CLIError(f"'{path}' holds no studies yet; run tb.Optimizer(space, storage='{path}', name=...) first")
  return rows

def open_study(path: str, name: str | None = None):
  """A read-only Optimizer of study `name` in `path` (the only one when name is None): it reads the trials, and any
  attempt to change the study is an error."""
  from tinybo.optimizer import Optimizer
  from tinybo.space import Space
  rows = study_names(path)
  names = [r[0] for r in rows]
  if name is None:
    if len(rows) > 1: raise CLIError(f"'{path}' holds {len(rows)} studies ({', '.join(names)}); pick one with --name")
    row = rows[0]
  else:
    row = next((r for r in rows if r[0] == name), None)
    if row is None: raise CLIError(f"no study '{name}' in '{path}'; it holds: {', '.join(names)}")
  try: space = Space.from_json(row[1])
  except (ValueError, TypeError, KeyError, AttributeError, RecursionError, OverflowError) as e:  # a space JSON tinybo did not write
    raise CLIError(f"study '{row[0]}' in '{path}' has an unreadable space ({type(e).__name__}: {str(e)[:200]}); the file is damaged "
                   "or was not written by tinybo") from e
  # "random" never fits anything: opening a study to look at it must not build a GP
  return Optimizer(space, strategy="random", direction=row[2], storage=SQLiteStorage(path, readonly=True, max_wait=10.0), name=row[0], seed=None)

# ***** show *****

def _fmt(v: Any, exact: bool = False) -> str:
  """A cell: floats to 6 significant digits, or `exact` (a stepped Float's value, whose steps 6 digits may not tell
  apart: -99.93002 with step=1e-05) as Python writes it."""
  if isinstance(v, float): return repr(v) if exact else f"{v:.6g}"
  return "-" if v is None else safe(v)

def width(text: str) -> int:
  """Columns `text` takes on a terminal: East Asian wide and full-width characters (学, Ａ) take two, combining marks
  (the accent of a decomposed é) none. len() counted one each, and a table with such a name or value was misaligned."""
  return sum(0 if unicodedata.category(c) in ("Mn", "Me") else 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)

def table(rows: list[list[str]], header: list[str]) -> str:
  w = [max(width(str(x)) for x in col) for col in zip(header, *rows)]
  line = lambda r: "  ".join(str(x) + " " * (n - width(str(x))) for x, n in zip(r, w)).rstrip()
  return "\n".join([line(header), line(["-" * n for n in w])] + [line(r) for r in rows])

def gp_options(text: str) -> dict[str, Any]:
  """--gp 'noise=0.01;kernel=rbf' -> tb.GP's keyword arguments, checked now by building one (a bad key or value is a one-line
  error before any study is read). A study file records no strategy, so the GP the study ran with is the user's to name."""
  from tinybo.arguments import parse_options
  from tinybo.bo import GP
  try: GP(**(options := parse_options(text, GP)))
  except (ValueError, TypeError) as e: raise CLIError(f"--gp {text!r}: {e}") from None
  return options

SHOW_COLUMNS = ["id", "state", "step", "value"]

def column_names(names: list[str], fixed: list[str]) -> list[str]:
  """The column of each parameter beside the `fixed` columns of a table: params.<name> for one named like a fixed column
  (or like such a column already), so a parameter called 'value' or 'step' is never taken for the trial's."""
  return [f"params.{n}" if n in fixed or n.startswith("params.") else n for n in names]

def show(opt, limit: int | None = None, recommend: bool = False, gp: dict[str, Any] | None = None, anywhere: bool = False) -> str:
  """The study as text; `recommend`: also the trial that tb.GP(**gp) fitted to the complete trials believes best;
  `anywhere` (with recommend): also the configuration with its best posterior mean anywhere in the space."""
  from tinybo.bo import GP
  from tinybo.optimizer import best_of
  from tinybo.space import stepped
  from tinybo.trial import TrialState
  trials = opt.trials
  best = best_of(trials, opt.minimize)   # of the trials shown: a worker may finish another meanwhile
  names = opt.space.names
  exact = {n: stepped(opt.space.params[n]) for n in names}
  counts = {s: sum(t.state == s for t in trials) for s in TrialState}
  head = (f"study '{safe(opt.name)}' ({opt.direction}): {len(trials)} trials, {counts[TrialState.COMPLETE]} complete, "
          f"{counts[TrialState.STOPPED]} stopped, {counts[TrialState.PENDING]} pending, {counts[TrialState.FAILED]} failed")
  if opt.space.constants: head += "\nconstants: " + ", ".join(f"{safe(k)}={_fmt(v)}" for k, v in opt.space.constants.items())
  shown = trials if limit is None else trials[max(0, len(trials) - limit):]
  # step: the last step the trial reported at (a stopped trial's value is its report there); an inactive conditional
  # parameter is absent from the trial: an empty cell, never "-" (which a None choice shows)
  rows = [[("*" if best is not None and t.id == best.id else "") + str(t.id), str(t.state), _fmt(t.last_step), _fmt(t.value)]
          + [_fmt(t.params[n], exact[n]) if n in t.params else "" for n in names] for t in shown]
  out = [head, table(rows, SHOW_COLUMNS + [safe(n) for n in column_names(names, SHOW_COLUMNS)])]
  if limit is not None and len(trials) > limit: out.insert(1, f"(last {limit} of {len(trials)} trials)")
  def described(t: Any) -> str:   # a space of constants only searches nothing: no parameters to list after the value
    searched = ", ".join(f"{safe(n)}={_fmt(t.params[n], exact[n])}" for n in names if n in t.params)
    return f"trial {t.id}, value {t.value:.6g}" + (f": {searched}" if searched else "")
  if best is not None: out.append(f"best: {described(best)}")
  else: out.append("best: none yet (no complete trials)")
  if best is not None and recommend:
    # the trial a GP fitted to the complete trials believes best (best posterior mean): not fooled by a lucky noisy draw.
    # Asked for, not by default: a GP fit compiles its programs on a cold cache (seconds), and showing a study is instant
    strategy = GP(**(gp or {}))
    if anywhere: i, where = strategy.recommendations(opt.space, trials, seed=opt.seed, minimize=opt.minimize)   # one fit for both
    else: i, where = strategy.recommend(opt.space, trials, seed=opt.seed, minimize=opt.minimize), None
    rec = trials[i]
    out.append(f"recommended: {described(rec)}")
    if anywhere:
      held = ", ".join(f"{safe(n)}={_fmt(where[n], exact[n])}" for n in names if n in where)
      out.append(f"recommended anywhere: {held or '(no parameters)'}" + (" (trial " + str(rec.id) + "'s)" if where == rec.params else ""))
  return "\n".join(out)

# ***** export *****

def _iso(t: float | None) -> str | None:
  if t is None: return None
  try: return datetime.fromtimestamp(t).isoformat(timespec="seconds")
  except (OverflowError, ValueError, OSError): return repr(t)  # a time no calendar holds (a crafted file): the number itself

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

def csv_cell(v: Any) -> Any:
  """A CSV cell a spreadsheet shows as text, never runs: a string starting with = + - @ tab or CR gets a leading
  apostrophe (OWASP's advice for CSV injection); numbers, and strings that are plain numbers such as '-1.5', stay as they are."""
  if not isinstance(v, str) or not v.startswith(_FORMULA_START): return v
  try: float(v); return v
  except ValueError: return "'" + v

def _json_safe(v: Any) -> Any:
  """v with every non-finite float as the string 'inf', '-inf' or 'nan': standard JSON has no Infinity or NaN, and a
  reader other than Python's refuses them (a constant such as max_steps=math.inf)."""
  if isinstance(v, float) and not math.isfinite(v): return repr(v)
  if isinstance(v, dict): return {k: _json_safe(x) for k, x in v.items()}
  if isinstance(v, (list, tuple)): return [_json_safe(x) for x in v]
  return v

def _param_cell(params: dict, name: str) -> Any:
  # an inactive parameter is an empty cell; a None choice is written None, else a reader could not tell the two apart
  if name not in params: return ""
  return "None" if params[name] is None else params[name]

def export(opt, fmt: str) -> str:
  from tinybo.optimizer import best_of
  names, trials = opt.space.names, opt.trials
  if fmt == "json":
    curves, best = opt.curves, best_of(trials, opt.minimize)   # a best among the trials written, not a later read's
    body = {"study": opt.name, "direction": opt.direction, "space": json.loads(opt.space.to_json()),
            "best": None if best is None else best.id,
            "trials": [{"id": t.id, "state": str(t.state), "value": t.value, "last_step": t.last_step,
                        "params": {n: t.params[n] for n in names if n in t.params},
                        "created": _iso(t.created), "finished": _iso(t.finished), "worker": t.worker,
                        "reports": [[r.step, r.value] for r in curves.get(t.id, [])]} for t in trials]}
    return json.dumps(_json_safe(body), indent=1, default=repr, allow_nan=False) + "\n"
  buf = io.StringIO()
  w = csv.writer(buf, lineterminator="\r\n")  # RFC 4180; and a CR inside a value is then quoted, never a row break
  fixed = ["id", "state", "value", "last_step", "created", "finished", "worker"]
  # a parameter named like a fixed column is written params.<name>: two 'value' columns made a reader take the wrong one
  shown = column_names(names, fixed)
  w.writerow([csv_cell(c) for c in fixed[:4] + shown + fixed[4:]])
  for t in trials:
    w.writerow([csv_cell(c) for c in [t.id, str(t.state), "" if t.value is None else repr(t.value), "" if t.last_step is None else t.last_step]
                + [_param_cell(t.params, n) for n in names] + [_iso(t.created), _iso(t.finished) or "", t.worker or ""]])
  return buf.getvalue()

# ***** bench *****

def bench(args: list[str]) -> int:
  """python -m benchmarks.run ARGS from the source checkout, writing its results into the current folder (or -o DIR),
  never into the checkout."""
  root = Path(__file__).resolve().parent.parent
  if not (root / "benchmarks" / "run.py").exists():
    raise CLIError(f"tinybo bench needs the benchmarks/ folder of a source checkout (not found next to {Path(__file__).parent}); "
                   "run it from a git clone installed with pip install -e .")
  if not any(a in ("-o", "--out", "-h", "--help") or a.startswith("--out=") for a in args): args = [*args, "--out", os.getcwd()]
  env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *filter(None, [os.environ.get("PYTHONPATH")])])}
  return subprocess.call([sys.executable, "-m", "benchmarks.run", *args], env=env)

# ***** main *****

def parser() -> argparse.ArgumentParser:
  ap = argparse.ArgumentParser(prog="tinybo", description="Look at, plot and export tinybo studies (SQLite files); run the benchmarks.")
  sub = ap.add_subparsers(dest="cmd", required=True, metavar="{show,plot,export,bench}")
  s = sub.add_parser("show", help="a table of the trials and the best")
  s.add_argument("db"); s.add_argument("--name", help="study name (default: every study in the file)")
  s.add_argument("--last", type=int, default=None, metavar="N", help="show only the last N trials")
  s.add_argument("--recommend", action="store_true",
                 help="also the recommended trial: the best posterior mean of a GP fitted to the complete trials (for noisy objectives)")
  s.add_argument("--anywhere", action="store_true", help="with --recommend, also the configuration with the best posterior mean anywhere "
                 "in the space, perhaps never evaluated")
  s.add_argument("--gp", metavar="OPTIONS", help="--recommend with the tb.GP options the study ran with (a study file does not record "
                 "them): key=value separated by ';' or ',', e.g. \"noise=0.01;kernel=rbf\" for tb.GP(noise=0.01, kernel='rbf')")
  p = sub.add_parser("plot", help="write a PNG: history, learning curves, heatmap or importance")
  p.add_argument("db"); p.add_argument("--name", help="study name (needed when the file holds several)")
  p.add_argument("--kind", choices=["history", "curves", "heatmap", "importance"], default="history")
  p.add_argument("--x", help="heatmap: parameter on the x axis (default: the most important one)")
  p.add_argument("--y", help="heatmap: parameter on the y axis (default: the next most important)")
  p.add_argument("--step", type=int, default=None, metavar="N",
                 help="heatmap: compare the values reported at step N (default: the last step of most complete trials)")
  p.add_argument("--mix-fidelities", action="store_true",
                 help="heatmap: use every complete and stopped trial as it ended, whatever its step or fidelity (epochs, ...)")
  p.add_argument("-o", "--out", help="output PNG (default: <kind>.png)")
  e = sub.add_parser("export", help="trials as CSV or JSON")
  e.add_argument("db"); e.add_argument("--name", help="study name (needed when the file holds several)")
  e.add_argument("--format", choices=["csv", "json"], default="csv")
  e.add_argument("-o", "--out", help="output file (default: standard output)")
  sub.add_parser("bench", help="run the benchmark suite: python -m benchmarks.run [ARGS...]", add_help=False)
  return ap

def is_study_file(out: str, db: str) -> bool:
  """Whether writing `out` would write over the study file `db` or one of SQLite's files beside it (by name, or the same file)."""
  study = os.path.abspath(db)
  if os.path.abspath(out) in {study + s for s in ("", "-wal", "-shm", "-journal")}: return True
  try: return os.path.samefile(out, db)
  except OSError: return False   # out does not exist yet: only its name could match

def run(argv: list[str]) -> int:
  if argv and argv[0] == "bench": return bench(argv[1:])  # every argument, --help included, belongs to benchmarks.run
  a = parser().parse_args(argv)
  a.db = file_path(a.db)   # the string given to tb.Optimizer(storage=...), 'sqlite:///study.db' too
  if a.cmd == "show" and a.last is not None and a.last < 0: raise CLIError(f"--last {a.last}: use an int >= 0 (how many of the last trials to show)")
  if a.cmd == "show":
    if a.gp is not None and not a.recommend: raise CLIError(f"--gp {a.gp!r} sets the GP of --recommend; add --recommend")
    if a.anywhere and not a.recommend: raise CLIError("--anywhere widens --recommend to the whole space; add --recommend")
    gp = gp_options(a.gp) if a.gp is not None else None
    names = [a.name] if a.name else [r[0] for r in study_names(a.db)]
    print("\n\n".join(show(open_study(a.db, n), a.last, a.recommend, gp, a.anywhere) for n in names))
    return 0
  opt = open_study(a.db, a.name)
  if a.cmd == "export":
    text = export(opt, a.format)
    if a.out:
      if is_study_file(a.out, a.db):   # open(..., "w") would empty the study before a line is written
        raise CLIError(f"-o '{a.out}' is the study file (or its journal) that export reads; writing there would replace the study: "
                       f"pass another path, such as {Path(a.db).stem}.{a.format}")
      try:
        with open(a.out, "w", newline="", encoding="utf-8") as f: f.write(text)   # whatever the locale: names may be any Unicode
      except OSError as e: raise CLIError(f"cannot write '{a.out}' ({e.strerror}); create its folder first or pass another -o") from e
      print(f"wrote {len(opt.trials)} trials to {a.out}", file=sys.stderr)
    else: sys.stdout.write(text)
    return 0
  if a.kind != "heatmap" and (a.step is not None or a.mix_fidelities):
    raise CLIError(f"{'--step' if a.step is not None else '--mix-fidelities'} applies to --kind heatmap only, not --kind {a.kind}")
  if a.step is not None and a.mix_fidelities:   # plot.heatmap would name its Python arguments
    raise CLIError(f"--step {a.step} and --mix-fidelities contradict each other: one step, or every trial as it ended; pass one of them")
  if a.x is not None and a.x == a.y: raise CLIError(f"--x and --y are both '{a.x}'; a heatmap needs two different parameters")
  from tinybo import plot
  out = a.out or f"{a.kind}.png"
  try:
    if a.kind == "history": path = plot.history(opt, out)
    elif a.kind == "curves": path = plot.learning_curves(opt, out)
    elif a.kind == "importance": path = plot.importance(opt, out)
    else:
      names = opt.space.names
      for flag, v in (("--x", a.x), ("--y", a.y)):
        if v is not None and v not in names: raise CLIError(f"unknown parameter '{v}' for {flag}; study '{opt.name}' searches: {', '.join(names)}")
      if len(names) < 2: raise CLIError(f"a heatmap needs two searched parameters; study '{opt.name}' searches: {', '.join(names) or 'none'}")
      if a.x and a.y: ranked = names
      else:
        try: ranked = plot.most_important(opt, k=len(names))
        except ValueError as e:   # too few trials to rank the parameters: say how to pick the two instead
          raise CLIError(f"the heatmap picks its two parameters by importance, which failed ({e}); pass --x and --y") from e
      x = a.x or next(n for n in ranked if n != a.y)
      y = a.y or next(n for n in ranked if n != x)
      path = plot.heatmap(opt, x, y, out, step=a.step, mix_fidelities=a.mix_fidelities)
  except OSError as e: raise CLIError(f"cannot write '{out}' ({e.strerror}); create its folder first or pass another -o") from e
  print(f"wrote {path}")
  return 0

def main(argv: list[str] | None = None) -> int:
  argv = sys.argv[1:] if argv is None else list(argv)
  try: return run(argv)
  except (CLIError, ValueError, ImportError, TypeError, StorageBusyError) as e:
    print(f"tinybo: error: {safe(e)}", file=sys.stderr)  # messages may quote names and values from the file
    return 1
  except BrokenPipeError: return 0  # `tinybo export ... | head`

if __name__ == "__main__":
  sys.exit(main())
