"""The package's layering, as written in the code: no import cycle inside tinybo/, and every module's docstring (but the package's __init__)
names each tinybo module it imports ("Imports: ...")."""
import ast
import re
from pathlib import Path

import tinybo

ROOT = Path(tinybo.__file__).parent

def module_name(path: Path) -> str:
  parts = path.relative_to(ROOT.parent).with_suffix("").parts
  return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

def tinybo_imports(path: Path) -> set[str]:
  """Every tinybo module `path` imports, at the top or inside a function (a lazy import is an import too)."""
  out = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import): out |= {a.name for a in node.names if a.name.split(".")[0] == "tinybo"}
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "tinybo":
      for a in node.names:  # `from tinybo import plot` imports the module tinybo.plot
        sub = f"{node.module}.{a.name}"
        out.add(sub if (ROOT.parent / sub.replace(".", "/")).with_suffix(".py").exists() else node.module)
  return out - {module_name(path)}

def import_graph() -> dict[str, set[str]]:
  return {module_name(p): tinybo_imports(p) for p in sorted(ROOT.rglob("*.py"))}

def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
  done, path = set(), []
  def visit(m: str) -> list[str] | None:
    if m in path: return path[path.index(m):] + [m]
    if m in done: return None
    path.append(m)
    for n in sorted(graph.get(m, ())):
      if (c := visit(n)): return c
    path.pop(); done.add(m)
    return None
  return next((c for m in graph if (c := visit(m))), None)

def test_the_walker_finds_a_cycle():
  assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
  assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
  assert "tinybo.gp" in import_graph()["tinybo.bo"] and "tinybo.plot" in import_graph()["tinybo.cli"]

def test_no_import_cycle_inside_tinybo():
  cycle = find_cycle(import_graph())
  assert cycle is None, "import cycle: " + " -> ".join(cycle or [])

def test_modules_name_what_they_import():
  checked = 0
  for p in sorted(ROOT.rglob("*.py")):   # integrations/ too
    doc = ast.get_docstring(ast.parse(p.read_text())) or ""
    line = re.search(r"Imports?:([^\n]*(?:\n(?!\n)[^\n]*)*)", doc)
    if line is None: continue
    checked += 1
    named = set(re.findall(r"[A-Za-z_]+", line.group(1)))
    for m in tinybo_imports(p):
      assert m.split(".")[-1] in named, f"{p.name} imports {m} but its docstring's 'Imports:' does not name it"
  assert checked >= 30   # every module but tinybo/__init__

def test_no_silent_fallback():
  for p in ROOT.rglob("*.py"):
    assert not re.search(r"except Exception:\s*pass", p.read_text()), f"{p.name}: a silent `except Exception: pass`"
