"""tinybo: Gaussian-process Bayesian optimization on tinygrad."""
from tinybo.trial import Trial, TrialState

# TEMPORARY while the modules are written in parallel: each import is guarded so one missing module does not block
# work on the others. Integration replaces this with plain imports.
try:
  from tinybo.space import Categorical, Float, Int, Space
except ImportError: pass
try:
  from tinybo.strategies import Grid, Random, SearchExhausted, Strategy
except ImportError: pass
try:
  from tinybo.bo import GP
except ImportError: pass
try:
  from tinybo.optimizer import Optimizer
except ImportError: pass

__all__ = ["Space", "Float", "Int", "Categorical", "Trial", "TrialState", "Optimizer", "Strategy", "Random", "Grid", "GP",
           "SearchExhausted"]
__version__ = "0.1.0"
