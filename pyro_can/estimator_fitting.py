"""What ``CANClassifier.fit`` needs around the trainer: the caller's global random state kept,
a progress bar, a warning for unscaled inputs, and per-row means of per-item arrays (an item is
a row of X, or with ``crowd="repeat"`` one answer of a row)."""
from __future__ import annotations

import contextlib
import random
import warnings

import numpy as np
import torch

from .errors import DataWarning


@contextlib.contextmanager
def private_global_state():
    """``Trainer`` seeds Python's, NumPy's and torch's global RNGs; give the caller's back
    afterwards, so fitting an estimator has no effect outside it."""
    states = (random.getstate(), np.random.get_state(), torch.get_rng_state(),
              torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if states[3] is not None:
            torch.cuda.set_rng_state_all(states[3])


def epoch_bar(epochs: int):
    """``verbose=True``'s progress: one tqdm bar over the epochs, with the loss; an ``on_epoch``
    callback for ``Trainer.run`` that also has ``close``."""
    from tqdm.auto import tqdm

    bar = tqdm(total=epochs, unit="epoch", dynamic_ncols=True)

    def on_epoch(trainer, record):
        bar.set_postfix(loss=f"{record['loss']:.4f}")
        bar.update(1)
    on_epoch.close = bar.close
    return on_epoch


#: a feature whose mean or standard deviation exceeds this is far from standardized
UNSCALED_AT = 10.0


def warn_unscaled(X: np.ndarray) -> None:
    """Warn (``DataWarning``) when a feature of X is far from standardized: the estimator trains
    on X as given, and inputs in the hundreds saturate the networks (raw 0-255 pixels trained to
    chance accuracy without a word)."""
    if len(X) < 2:
        return
    x = np.asarray(X, np.float64)
    mean, std = np.abs(x.mean(0)), x.std(0)
    worst = int(np.argmax(np.maximum(mean, std)))
    if max(mean[worst], std[worst]) > UNSCALED_AT:
        warnings.warn(f"X is far from standardized (feature {worst}: mean {x[:, worst].mean():.3g}"
                      f", standard deviation {std[worst]:.3g}); the estimator trains on X as "
                      "given, so scale it first: make_pipeline(StandardScaler(), "
                      "CANClassifier(...))", DataWarning, stacklevel=3)


def per_owner_mean(values: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Mean of ``values`` rows grouped by ``owner`` (row -> item in 0..n-1); NaN for no rows."""
    values = values.reshape(len(values), -1).astype(np.float64)
    total = np.zeros((n, values.shape[1]))
    np.add.at(total, owner, values)
    count = np.bincount(owner, minlength=n).astype(np.float64)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)
