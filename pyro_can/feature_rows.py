"""Feature rows into a ``Dataset``: the steps every loader of arrays shares.

A loader reads its source (a bundled file, a user's ``.npz``/CSV, a crowd table, cached image
features) into rows ``x`` with labels or crowd answers; what follows is the same for all of them,
so it is written once here: the rows are checked (``check_features``), split into training and
test items (``split_rows``), scaled by the training rows' statistics (``standardize``), and the
training labels get the paper's noise protocol (``labelled_dataset``) or the answers become
annotations (``crowd_dataset``)."""
from __future__ import annotations

import numpy as np

from .data import Dataset, one_hot
from .errors import DataError
from .noise import shuffle_labels


def check_features(x: np.ndarray, where: str):
    """Refuse rows that are no table of finite numbers (``where`` names the source)."""
    if x.ndim != 2:
        raise DataError(f"{where}: X must be a 2-D array (items × features), got shape {x.shape}")
    if len(x) == 0:
        raise DataError(f"{where}: X is empty (0 items)")
    if x.shape[1] == 0:
        raise DataError(f"{where}: X has no feature columns (shape {x.shape}); a classifier "
                        "needs at least one feature per item")
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{where}: X must be numeric, got dtype {x.dtype}")
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).any(axis=1).sum())
        raise DataError(f"{where}: X holds NaN or inf in {bad} row(s); expected finite numbers")


def split_rows(n: int, strata: np.ndarray, test_fraction: float, seed: int, where: str = "data"):
    """(training rows, test rows) of ``n`` rows, seeded and stratified by ``strata`` where every
    class is large enough (scikit-learn's ``train_test_split``)."""
    from sklearn.model_selection import train_test_split

    n_test = int(np.ceil(test_fraction * n))  # scikit-learn's rounding
    if n_test < 1 or n - n_test < 1:
        raise DataError(f"{where}: {n} item(s) are too few to split with --test-fraction "
                        f"{test_fraction} (needs at least one training and one test item)")
    idx = np.arange(n)
    try:
        return train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=strata)
    except ValueError:  # a class too small to stratify: fall back to a plain random split
        return train_test_split(idx, test_size=test_fraction, random_state=seed)


def standardization(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation of the training rows (1 for a constant
    feature): what ``standardize`` applies, and what a run saves to preprocess new rows."""
    mean = x_train.mean(0)
    std = x_train.std(0)
    std[std == 0] = 1.0
    return mean, std


def standardize(x_train: np.ndarray, x_test: np.ndarray):
    """Both splits scaled by the training rows' ``standardization``, and that (mean, std)."""
    mean, std = standardization(x_train)
    return (((x_train - mean) / std).astype(np.float32), ((x_test - mean) / std).astype(np.float32),
            (mean, std))


def labelled_dataset(name, x, y, train_idx, test_idx, noise_rate, seed, class_names,
                     single_label, image_shape=None, standardize_rows=True, feature_scale=None,
                     truth="labels"):
    """Shared tail of loaders over labelled rows: split, standardize, add the paper's noise.
    ``feature_scale``: the (mean, std) the loader already applied to ``x`` (without
    ``standardize_rows``), recorded as the run's preprocessing.

    ``truth`` says what the data set knows about its true labels, so that nothing is ever scored
    against a truth nobody has: ``"labels"``, ``y`` itself is clean (a curated benchmark:
    digits); ``None``, it is not known (a user's own file): no ``y_train_clean``, and a
    corruption mask only where ``noise_rate`` corrupts ``y`` (what the artificial noise changed);
    or an (N, C) array of true labels the source carries (``y_true``), which then also labels the
    test items."""
    x_train, x_test = x[train_idx].astype(np.float32), x[test_idx].astype(np.float32)
    if standardize_rows:
        x_train, x_test, feature_scale = standardize(x_train.astype(np.float64),
                                                     x_test.astype(np.float64))
    y_given = y[train_idx].astype(np.float32)
    noisy, changed = shuffle_labels(y_given, noise_rate, np.random.default_rng([seed, 1]))
    y_test = y[test_idx].astype(np.float32)
    if isinstance(truth, str) and truth == "labels":
        y_clean, corrupted = y_given, changed
    elif truth is None:
        y_clean, corrupted = None, changed if noise_rate > 0 else None
    else:  # the true labels, beside the given ones: which labels are wrong follows from them
        y_clean, corrupted = truth[train_idx].astype(np.float32), None
        y_test = truth[test_idx].astype(np.float32)
    n = len(train_idx)
    return Dataset(
        name=name, x_train=x_train, ann_item=np.arange(n), ann_labels=noisy.astype(np.float32),
        ann_worker=np.full(n, -1), x_test=x_test, y_test=y_test,
        class_names=list(class_names), single_label=single_label,
        train_ids=np.asarray(train_idx), test_ids=np.asarray(test_idx),
        y_train_clean=y_clean, corrupted=corrupted, image_shape=image_shape,
        feature_scale=feature_scale)


def crowd_dataset(name, x, annotations, y_true, train_idx, test_idx, class_names, where):
    """Build a single-label crowd data set from (item, worker, label) rows over the items of ``x``;
    annotations on test items are dropped so the test set stays clean."""
    check_features(x, where)
    annotations = np.asarray(annotations)
    if annotations.ndim != 2 or annotations.shape[1] != 3:
        raise DataError(f"{where}: annotations must be (item, worker, label) rows, "
                        f"got shape {annotations.shape}")
    item, worker, label = annotations.T
    c = len(class_names)
    for field, values, hi in (("item", item, len(x)), ("label", label, c)):
        bad = np.flatnonzero((values < 0) | (values >= hi))
        if len(bad):
            raise DataError(f"{where}: annotation row {bad[0]} has {field} {values[bad[0]]}, "
                            f"expected 0..{hi - 1}")
    bad = np.flatnonzero(worker < 0)
    if len(bad):
        raise DataError(f"{where}: annotation row {bad[0]} has negative worker id {worker[bad[0]]}")
    pos = np.full(len(x), -1)
    pos[train_idx] = np.arange(len(train_idx))
    keep = pos[item] >= 0
    x_train, x_test, scale = standardize(x[train_idx].astype(np.float64),
                                         x[test_idx].astype(np.float64))
    labels = one_hot(label[keep], c)
    return Dataset(
        name=name, x_train=x_train, ann_item=pos[item[keep]], ann_labels=labels,
        ann_worker=worker[keep], x_test=x_test, y_test=one_hot(y_true[test_idx], c),
        class_names=class_names, single_label=True, train_ids=np.asarray(train_idx),
        test_ids=np.asarray(test_idx), y_train_clean=one_hot(y_true[train_idx], c),
        feature_scale=scale)
