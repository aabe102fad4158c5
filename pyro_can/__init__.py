"""pyro-can: the CAN model (Yao et al.) for learning from noisy labels, in Pyro.

Notebook entry points: ``CANClassifier`` / ``PlainClassifier`` (scikit-learn estimators),
``fit``/``evaluate`` (run folders, as the CLI), ``inspect`` (posterior inspection of a run).

The models and guides are ``PyroModule``s trained by a torch optimizer through Pyro's
``ELBOModule``; Pyro asks for ``module_local_params`` with that interface (a PyroModule's
parameters are then its own, as a torch module's are, not entries of the global parameter store),
and a PyroModule reads the setting when it is built, so it is set here, before any is.
"""
import pyro as _pyro

_pyro.settings.set(module_local_params=True)

from .api import evaluate, fit, load
from .config import Config
from .estimator import CANClassifier, PlainClassifier

__all__ = ["CANClassifier", "PlainClassifier", "Config", "fit", "evaluate", "load", "inspect"]
__version__ = "0.1.0"


def inspect(run_dir, **kwargs):
    """Posterior inspection of a run folder (see ``pyro_can.inspection.inspect``)."""
    from .inspection import inspect as _inspect

    return _inspect(run_dir, **kwargs)
