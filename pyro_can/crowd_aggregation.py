"""``--crowd dawid-skene|glad``: one label per item from several workers' answers, by crowd-kit's
aggregators (an optional extra: ``pip install -e '.[compare]'``).

The aggregated label then trains like any single answer (``Dataset.with_crowd``); the worker
models themselves stay crowd-kit's, which is what a comparison with them needs."""
from __future__ import annotations

import warnings

import numpy as np

from .data import Dataset, one_hot
from .errors import DataError

#: --crowd name -> crowd-kit aggregator (crowdkit.aggregation class name, keyword arguments)
AGGREGATORS = {
    "dawid-skene": ("DawidSkene", {"n_iter": 100}),  # per-worker confusion matrices, EM
    "glad": ("GLAD", {"n_iter": 100}),  # per-worker ability × per-item difficulty, EM
}


def aggregate(data: Dataset, mode: str) -> np.ndarray:
    """One label per item from crowd-kit's aggregator ``mode`` (single-label crowd data only);
    crowd-kit is an optional extra, so a missing one is a clear error naming it."""
    try:
        import pandas as pd
        from crowdkit import aggregation
    except ImportError:
        raise DataError(f"--crowd {mode} needs crowd-kit: pip install -e '.[compare]'") from None
    if not data.single_label:
        raise DataError(f"--crowd {mode} works on single-label data only")
    if (data.ann_worker < 0).any():
        raise DataError(f"--crowd {mode} needs each answer's worker; {data.name} has answers "
                        "without one")
    name, kwargs = AGGREGATORS[mode]
    answers = pd.DataFrame({"task": data.ann_item, "worker": data.ann_worker,
                            "label": data.ann_labels.argmax(1)})
    with warnings.catch_warnings():  # crowd-kit's own pandas deprecations, not the user's
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        labels = getattr(aggregation, name)(**kwargs).fit_predict(answers)
    return one_hot(labels.reindex(np.arange(data.num_items)).to_numpy().astype(int),
                   data.num_classes)
