"""tinybo: Gaussian-process Bayesian optimization on tinygrad."""
from tinybo.space import Categorical, Float, Int, Space
from tinybo.trial import Trial, TrialState
from tinybo.strategies import Grid, Random, SearchExhausted, Strategy

try:  # the GP strategy lands with tinybo/bo.py
  from tinybo.bo import GP
except ImportError:  # pragma: no cover - only while bo.py is being written
  GP = None  # type: ignore[assignment,misc]
from tinybo.optimizer import Optimizer

__all__ = ["Space", "Float", "Int", "Categorical", "Trial", "TrialState", "Optimizer", "Strategy", "Random", "Grid", "GP",
           "SearchExhausted"]
__version__ = "0.1.0"
