"""Make `import tinybo` resolve to this checkout (an editable install made before tinybo/__init__.py existed maps it
as a namespace package, which hides the package's exports)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
