"""tinybo: Gaussian-process Bayesian optimization on tinygrad.

    import tinybo as tb
    opt = tb.Optimizer(tb.Space({"lr": tb.Float(1e-4, 1e-1, log=True), "act": tb.Categorical(["relu", "gelu"])}))
    trial = opt.suggest(); opt.observe(trial, train(**trial.params))
"""
from tinybo.bo import GP, GPFallbackWarning
from tinybo.optimizer import Optimizer, TrialFailedWarning, TrialHandle
from tinybo.space import Categorical, Float, Int, Space
from tinybo.stopping import ASHA, History, Hyperband, MedianStopping, ModelStopping, StoppingRule, StopTrial
from tinybo.storage import InMemoryStorage, SQLiteStorage, StorageBusyError
from tinybo.strategies import Grid, Random, SearchExhausted, Strategy
from tinybo.terminate import Terminated
from tinybo.threads import TinygradThreadsWarning
from tinybo.trial import Report, Trial, TrialState

__all__ = ["Space", "Float", "Int", "Categorical", "Trial", "TrialState", "Optimizer", "Strategy", "Random", "Grid", "GP",
           "SearchExhausted", "InMemoryStorage", "SQLiteStorage", "StorageBusyError", "TrialFailedWarning", "Report", "TrialHandle",
           "StoppingRule", "History", "MedianStopping", "ASHA", "Hyperband", "ModelStopping",
           "StopTrial", "TinygradThreadsWarning", "Terminated", "GPFallbackWarning"]
__version__ = "0.1.0"
