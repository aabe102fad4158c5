"""The paper's artificial label noise (Sec. IV-C4): with probability P, shuffle the elements of an
item's label vector. Applied to training labels only; the mask records items whose label changed."""
from __future__ import annotations

import numpy as np


def shuffle_labels(labels: np.ndarray, rate: float, rng: np.random.Generator):
    """Return ``(noisy, changed)``: a copy of the 0/1 matrix ``labels`` where each row was, with
    probability ``rate``, replaced by a random permutation of its own elements, and the boolean mask
    of rows whose value actually changed (a shuffle can give back the same vector)."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"noise rate must be in [0, 1], got {rate}")
    noisy = labels.copy()
    picked = np.flatnonzero(rng.random(len(labels)) < rate)
    perms = np.argsort(rng.random((len(picked), labels.shape[1])), axis=1)  # one per picked row
    noisy[picked] = np.take_along_axis(labels[picked], perms, axis=1)
    changed = (noisy != labels).any(axis=1)
    return noisy, changed
