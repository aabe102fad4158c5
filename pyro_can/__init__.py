"""pyro-can: the CAN model (Yao et al.) for learning from noisy labels, in Pyro.

Notebook entry points: ``CANClassifier`` / ``PlainClassifier`` (scikit-learn estimators),
``fit``/``evaluate`` (run folders, as the CLI), ``inspect`` (posterior inspection of a run).
"""
from .api import evaluate, fit, load
from .config import Config
from .estimator import CANClassifier, PlainClassifier

__all__ = ["CANClassifier", "PlainClassifier", "Config", "fit", "evaluate", "load", "inspect"]
__version__ = "0.1.0"


def inspect(run_dir, **kwargs):
    """Posterior inspection of a run folder (see ``pyro_can.inspection.inspect``)."""
    from .inspection import inspect as _inspect

    return _inspect(run_dir, **kwargs)
