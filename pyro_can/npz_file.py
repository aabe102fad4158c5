"""``--data npz``: a user's own arrays, from an ``.npz`` file or a CSV table.

The file holds ``X`` and its labels, ``y`` (int labels) or ``Y`` (a 0/1 matrix), and optionally
``train_idx``/``test_idx``, ``class_names`` and ``y_true``. Everything in it is checked before a
``Dataset`` is built, and a bad file is one ``DataError`` naming the key and what was expected
(``docs/bad-input.md``). The labels are the user's own, of unknown quality: only an explicit
``y_true`` says what the true labels are."""
from __future__ import annotations

import os

import numpy as np

from .data import one_hot
from .errors import DataError
from .feature_rows import check_features, labelled_dataset, split_rows


def load_npz(path: str | None = None, seed: int = 0, noise_rate: float = 0.0,
             test_fraction: float = 0.25, **_):
    """Arrays ``X`` and ``y`` (int labels) or ``Y`` (0/1 matrix); optional ``train_idx``/``test_idx``
    and ``class_names``; ``--noise-rate`` corrupts the training labels. The file's labels are the
    user's own, of unknown quality: nothing is scored against them as a truth (the test set is
    scored against them, as the only labels there are). Only an explicit ``y_true`` (int labels,
    or a 0/1 matrix of ``Y``'s shape) says what the true labels are; it then labels the test
    items too, and the training labels' accuracy and the wrong labels are measured against it."""
    arrays = _read_arrays(path)
    where = path
    if "X" not in arrays:
        raise DataError(f"{where}: missing key 'X' (found: {', '.join(sorted(arrays)) or 'none'})")
    x = arrays["X"]
    check_features(x, where)
    y, single, names = _label_matrix(arrays, where)
    if len(y) != len(x):
        raise DataError(f"{where}: X has {len(x)} rows but the labels have {len(y)}")
    train_idx, test_idx = _train_test_rows(arrays, len(x), y, single, test_fraction, seed,
                                           where)
    names = [str(c) for c in names] if names is not None else [str(c) for c in range(y.shape[1])]
    if len(names) != y.shape[1]:
        raise DataError(f"{where}: 'class_names' has {len(names)} names for {y.shape[1]} classes")
    truth = _true_labels(arrays, y, "Y" in arrays, where)
    return labelled_dataset(os.path.basename(path), x, y, np.asarray(train_idx),
                            np.asarray(test_idx), noise_rate, seed, names, single, truth=truth)


def _read_arrays(path: str | None) -> dict:
    """The file's arrays by key: an ``.npz`` as saved, a ``.csv`` as ``_csv_arrays`` reads it."""
    if not path:
        raise DataError("--data npz needs --path FILE.npz (or FILE.csv)")
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    if path.lower().endswith(".csv"):
        return _csv_arrays(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except Exception as e:  # zip errors, pickled objects, truncated files
        raise DataError(f"{path}: cannot read as .npz ({type(e).__name__}: {e})") from None


def _label_matrix(arrays: dict, where: str) -> tuple[np.ndarray, bool, np.ndarray | None]:
    """The labels as an (N, C) 0/1 matrix, whether they are single-label, and the class names
    (the file's, those ``_codes_to_classes`` gives integer codes, or None: ``"0"``..)."""
    if "Y" in arrays:
        y = arrays["Y"]
        if y.ndim != 2:
            raise DataError(f"{where}: 'Y' must be a 2-D 0/1 matrix (items × classes), got {y.shape}")
        if not np.isin(y, (0, 1)).all():
            raise DataError(f"{where}: 'Y' must hold only 0 and 1")
        per_row = y.sum(1)
        empty = np.flatnonzero(per_row == 0)
        if len(empty) and (per_row <= 1).all():  # one-hot but for some rows: a lost label
            raise DataError(f"{where}: 'Y' row {empty[0]} has no class on ({len(empty)} such "
                            "row(s)) while every other row has exactly one; a single-label 'Y' "
                            "needs one 1 per row (or give int labels as 'y')")
        return y, bool((per_row == 1).all()), arrays.get("class_names")
    if "y" not in arrays:
        raise DataError(f"{where}: missing labels: need key 'y' (int labels) or 'Y' (0/1 matrix)")
    labels, names = arrays["y"], arrays.get("class_names")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{where}: 'y' must be a 1-D array of int class labels, got "
                        f"shape {labels.shape} dtype {labels.dtype}")
    if len(labels) and labels.min() < 0:  # -1 often means "no label": never a class
        raise DataError(f"{where}: 'y' holds negative labels (min {labels.min()}); "
                        "expected 0..C-1")
    if names is None:  # codes such as 101, 205, 309: classes named by them
        labels, names = _codes_to_classes(labels)
    if len(labels) and labels.max() >= len(names):
        raise DataError(f"{where}: 'y' holds label {labels.max()} but 'class_names' has only "
                        f"{len(names)} classes; expected 0..{len(names) - 1}")
    return one_hot(labels, len(names)), True, names


def _train_test_rows(arrays: dict, n: int, y: np.ndarray, single: bool, test_fraction: float,
                     seed: int, where: str):
    """The file's ``train_idx``/``test_idx``, checked (each a set of rows, disjoint), or a
    seeded split stratified by class (``--test-fraction``)."""
    if "train_idx" not in arrays and "test_idx" not in arrays:
        return split_rows(n, y.argmax(1) if single else None, test_fraction, seed, where)
    if not ("train_idx" in arrays and "test_idx" in arrays):
        raise DataError(f"{where}: give both 'train_idx' and 'test_idx' or neither")
    train_idx, test_idx = arrays["train_idx"], arrays["test_idx"]
    for key, idx in (("train_idx", train_idx), ("test_idx", test_idx)):
        if (idx.ndim != 1 or len(idx) == 0 or not np.issubdtype(idx.dtype, np.integer)
                or idx.min() < 0 or idx.max() >= n):
            raise DataError(f"{where}: '{key}' must be a non-empty 1-D array of integer row "
                            f"indices in [0, {n})")
        if len(np.unique(idx)) != len(idx):
            raise DataError(f"{where}: '{key}' lists some rows more than once")
    both = np.intersect1d(train_idx, test_idx)
    if len(both):
        raise DataError(f"{where}: 'train_idx' and 'test_idx' share {len(both)} row(s) "
                        f"(first: {both[0]}); a test item seen in training leaks its label")
    return train_idx, test_idx


def _true_labels(arrays: dict, y: np.ndarray, matrix: bool, where: str) -> np.ndarray | None:
    """The file's explicit ``y_true`` in ``y``'s (N, C) 0/1 form, checked; None without one."""
    if "y_true" not in arrays:
        return None
    t = arrays["y_true"]
    if matrix:
        if t.shape != y.shape or not np.isin(t, (0, 1)).all():
            raise DataError(f"{where}: 'y_true' must be a 0/1 matrix of Y's shape {y.shape}, "
                            f"got shape {t.shape}")
        return t.astype(np.float32)
    if t.ndim != 1 or not np.issubdtype(t.dtype, np.integer) or len(t) != len(y):
        raise DataError(f"{where}: 'y_true' must be a 1-D array of {len(y)} int class labels "
                        f"like 'y', got shape {t.shape} dtype {t.dtype}")
    if len(t) and (t.min() < 0 or t.max() >= y.shape[1]):
        raise DataError(f"{where}: 'y_true' holds label {t.min() if t.min() < 0 else t.max()}; "
                        f"expected 0..{y.shape[1] - 1}")
    return one_hot(t, y.shape[1])


def _codes_to_classes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer labels without ``class_names``: labels already 0..C-1 stay as they are (class
    ``c`` named ``"c"``); any other set of codes (101, 205, 309; or 1..C) becomes the classes
    0..K-1 in sorted order, each named by its code, so a run never holds classes no item has."""
    codes = np.unique(labels)
    if len(codes) and (codes == np.arange(len(codes))).all():
        return labels, np.asarray([str(c) for c in codes])
    return np.searchsorted(codes, labels), np.asarray([str(c) for c in codes])


def _csv_arrays(path: str) -> dict:
    """``--data npz --path F.csv``: a header row naming a ``label`` (or ``y``) column, every
    other column a feature number, an optional ``id`` column (``tables``' rules). Labels are
    class names: integer codes are mapped as ``_codes_to_classes`` maps them, text labels in
    sorted order."""
    from .tables import read_labelled

    x, texts, _ = read_labelled(path)
    if all(t.lstrip("-").isdigit() for t in texts):
        return {"X": x, "y": np.asarray([int(t) for t in texts], dtype=np.int64)}
    names = sorted(set(texts))
    index = {n: i for i, n in enumerate(names)}
    return {"X": x, "y": np.asarray([index[t] for t in texts], dtype=np.int64),
            "class_names": np.asarray(names)}
