"""The README's quick start runs as written: its first Python block (ask / tell into a SQLite study) is extracted and
executed, with a stand-in `train` and fewer evaluations, so a renamed argument or method fails here, not for a reader."""
import math
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"

def quick_start() -> str:
  return re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)

def train(lr: float, units: int, act: str, epochs: int) -> float:   # the parameters the quick start's space names
  return (math.log10(lr) + 2) ** 2 + (math.log2(units) - 6) ** 2 / 10 + (act != "gelu") + 0 * epochs

def test_the_quick_start_runs_as_written(tmp_path, monkeypatch, capsys):
  code = quick_start()
  assert "opt.suggest()" in code and "opt.observe(trial, train(**trial.params))" in code and "range(30)" in code
  monkeypatch.chdir(tmp_path)                      # it writes study.db in the current folder
  ns = {"train": train}
  exec(compile(code.replace("range(30)", "range(4)"), str(README), "exec"), ns)   # 4 evaluations: the initial design
  opt = ns["opt"]
  assert (tmp_path / "study.db").exists() and len(opt.trials) == 4 and all(t.state == "complete" for t in opt.trials)
  out = capsys.readouterr().out
  assert str(opt.best.params) in out and "'epochs': 5" in out   # what its last line prints: the best params, the constant too

def test_the_conditional_parameters_block_runs_as_written():
  # it used @dataclass without importing it
  block = next(b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if "class HParams" in b)
  import tinybo as tb
  ns = {"tb": tb}
  exec(compile(block, str(README), "exec"), ns)
  assert ns["HParams"]().optimizer is not None and "momentum" in ns["space"].names
