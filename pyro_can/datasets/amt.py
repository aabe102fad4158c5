"""Crowd-labelled feature vectors (e.g. Amazon Mechanical Turk answers), single-label. Every
worker's answer is kept as its own annotation of the item (several per item).

Layout (``--root ROOT``):

* ``features.npy`` — (N, D) numbers, row ``i`` is item ``i``; or ``features.csv`` — N rows of D
  comma-separated numbers (an optional header row is skipped; ``pyro_can.tables``' rules).
* ``annotations.csv`` — header ``item,worker,label``: item row (0-based), worker id (integers
  >= 0 are kept; any other ids are numbered in sorted order), label (class index 0..C-1, or a
  class name from ``classes.txt``).
* ``truth.csv`` — header ``item,label``: clean labels of the test items (more items allowed;
  when every training item has one, they are kept for inspection, never for training).
* ``classes.txt`` (optional) — one class name per line; it fixes C. Without it C is one more than
  the largest label in ``truth.csv`` and the classes are named ``0..C-1``.
* ``split.json`` (optional) — ``{"train": [items], "test": [items]}``. Without it the test items
  are those in ``truth.csv`` that no worker labelled, and the training items those with answers.
"""
from __future__ import annotations

import dataclasses
import json
import os
import warnings

import numpy as np

from ..feature_rows import check_features, crowd_dataset
from ..errors import DataError
from ..tables import read_numbers, read_records

LAYOUT = "ROOT/features.npy (or features.csv), annotations.csv, truth.csv [, split.json]"


@dataclasses.dataclass
class CrowdTable:
    x: np.ndarray  # (N, D)
    annotations: np.ndarray  # (R, 3) item, worker, label
    truth: dict[int, int]  # item -> clean label
    class_names: list[str]
    train_idx: np.ndarray
    test_idx: np.ndarray
    worker_ids: list[str]  # original id of each worker number


def _features(root: str) -> np.ndarray:
    npy, csv_path = os.path.join(root, "features.npy"), os.path.join(root, "features.csv")
    if os.path.isfile(npy):
        try:
            x = np.load(npy, allow_pickle=False)
        except Exception as e:
            raise DataError(f"{npy}: cannot read ({type(e).__name__}: {e})") from None
        where = npy
    elif os.path.isfile(csv_path):
        where = csv_path
        x = read_numbers(csv_path)[0]  # tables' rules: header, BOM, empty cells refused
    else:
        raise DataError(f"{root}: no features.npy or features.csv (--data amt expects {LAYOUT})")
    check_features(np.asarray(x), where)
    return np.asarray(x)


def _rows(path: str, columns: tuple[str, ...]):
    if not os.path.isfile(path):
        raise DataError(f"{path}: missing (--data amt expects {LAYOUT})")
    return read_records(path, columns)  # tables' rules: one record per line, or refused


def _int(text: str, what: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise DataError(f"{where}: {what} {text!r} is not an integer") from None


def read(root: str) -> CrowdTable:
    """The raw crowd table: features, (item, worker, label) rows, truth and split."""
    x = _features(root)
    n = len(x)
    classes_txt = os.path.join(root, "classes.txt")
    names = None
    if os.path.isfile(classes_txt):
        with open(classes_txt, encoding="utf-8") as fh:
            names = [ln.strip() for ln in fh if ln.strip()]
    truth_csv = os.path.join(root, "truth.csv")
    labels = _Labels(names, n, classes_txt if names is not None else (
        f"{truth_csv}'s labels; add classes.txt to fix the classes"))
    truth: dict[int, int] = {}
    for line, row in _rows(truth_csv, ("item", "label")):
        where = f"{truth_csv} line {line}"
        truth[labels.item(row["item"], where)] = labels.label(row["label"], where,
                                                              len(names) if names else None)
    if not truth:
        raise DataError(f"{truth_csv}: no rows")
    num_classes = len(names) if names is not None else max(truth.values()) + 1
    annotations, worker_ids = _annotations(os.path.join(root, "annotations.csv"), labels,
                                           num_classes)
    split_json = os.path.join(root, "split.json")
    if os.path.isfile(split_json):
        train_idx, test_idx = _split_file(split_json, n)
    else:
        annotated = np.unique(annotations[:, 0])
        test_idx = np.array(sorted(set(truth) - set(annotated.tolist())), dtype=np.int64)
        train_idx = annotated
        if not len(test_idx):
            raise DataError(f"{root}: every item in truth.csv has worker answers, so there is no "
                            "test set; add split.json with 'train' and 'test' item lists")
    no_truth = [int(i) for i in test_idx if int(i) not in truth]
    if no_truth:
        raise DataError(f"{truth_csv}: test item {no_truth[0]} has no clean label")
    return CrowdTable(x=x, annotations=annotations, truth=truth,
                      class_names=names if names is not None else
                      [str(c) for c in range(num_classes)],
                      train_idx=np.sort(train_idx), test_idx=np.sort(test_idx),
                      worker_ids=worker_ids)


@dataclasses.dataclass(frozen=True)
class _Labels:
    """How a table's cells become item rows and class indices: ``names`` from classes.txt (or
    None), ``n`` items, and ``source``, where the classes come from, for an out-of-range label."""
    names: list[str] | None
    n: int
    source: str

    def label(self, text: str, where: str, num_classes: int | None) -> int:
        if self.names is not None and text in self.names and not text.isdigit():
            return self.names.index(text)
        value = _int(text, "label", where)
        if num_classes is None:
            if value < 0:
                raise DataError(f"{where}: label {value} is negative; expected 0..C-1")
        elif not 0 <= value < num_classes:
            raise DataError(f"{where}: label {value} is out of range 0..{num_classes - 1} "
                            f"({num_classes} classes, from {self.source})")
        return value

    def item(self, text: str, where: str) -> int:
        value = _int(text, "item", where)
        if not 0 <= value < self.n:
            raise DataError(f"{where}: item {value} is out of range 0..{self.n - 1} (rows of the "
                            "features)")
        return value


def _annotations(ann_csv: str, labels: _Labels, num_classes: int):
    """annotations.csv as (item, worker number, label) rows, and each worker number's own id:
    integer ids are kept, any other ids numbered in sorted order."""
    raw = []
    for line, row in _rows(ann_csv, ("item", "worker", "label")):
        where = f"{ann_csv} line {line}"
        if not row["worker"]:
            raise DataError(f"{where}: empty worker id")
        raw.append((labels.item(row["item"], where), row["worker"],
                    labels.label(row["label"], where, num_classes)))
    if not raw:
        raise DataError(f"{ann_csv}: no rows")
    ids = sorted({w for _, w, _ in raw})
    if all(w.isdigit() for w in ids):
        number = {w: int(w) for w in ids}
        worker_ids = [str(i) for i in range(max(number.values()) + 1)]
    else:
        number = {w: i for i, w in enumerate(ids)}
        worker_ids = ids
    return np.array([(i, number[w], lab) for i, w, lab in raw], dtype=np.int64), worker_ids


def _split_file(split_json: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """split.json's training and test items, checked: non-empty, in range, disjoint."""
    try:
        with open(split_json, encoding="utf-8") as fh:
            split = json.load(fh)
        train_idx = np.array(split["train"], dtype=np.int64)
        test_idx = np.array(split["test"], dtype=np.int64)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{split_json}: expected {{\"train\": [items], \"test\": [items]}} "
                        f"({type(e).__name__}: {e})") from None
    for key, idx in (("train", train_idx), ("test", test_idx)):
        if idx.ndim != 1 or not len(idx) or idx.min() < 0 or idx.max() >= n:
            raise DataError(f"{split_json}: '{key}' must be a non-empty list of items in "
                            f"0..{n - 1}")
    both = np.intersect1d(train_idx, test_idx)
    if len(both):
        raise DataError(f"{split_json}: item {both[0]} is in both 'train' and 'test'")
    return train_idx, test_idx


def load_amt(data, images, runtime):
    """Crowd answers on feature vectors from --root (layout above); every answer is kept. The
    split is the folder's own (``truth.csv``): the seed is not read."""
    if images.arch != "mlp":
        raise DataError(f"--data amt reads feature vectors, not images; use --arch mlp "
                        f"(got --arch {images.arch})")
    if data.test:
        raise DataError(f"--test {data.test}: --data amt has its own test set (truth.csv)")
    if data.noise_rate:
        raise DataError("--data amt carries real crowd noise; --noise-rate must be 0")
    root = data.root or data.path
    if not root:
        raise DataError(f"--data amt needs --root DIR ({LAYOUT})")
    if not os.path.isdir(root):
        raise DataError(f"--root {root}: no such folder (--data amt expects {LAYOUT})")
    t = read(root)
    answered = np.isin(t.train_idx, t.annotations[:, 0])
    if not answered.all():
        warnings.warn(f"{root}: {int((~answered).sum())} training item(s) have no worker answer; "
                      "left out", UserWarning, stacklevel=2)
    train_idx = t.train_idx[answered]
    if not len(train_idx):
        raise DataError(f"{root}: no training item has a worker answer")
    y_true = np.zeros(len(t.x), dtype=np.int64)
    for i, c in t.truth.items():
        y_true[i] = c
    loaded = crowd_dataset("amt", t.x, t.annotations, y_true, train_idx, t.test_idx,
                           t.class_names, where=os.path.join(root, "annotations.csv"))
    if not all(int(i) in t.truth for i in train_idx):
        loaded = dataclasses.replace(loaded, y_train_clean=None)
    return loaded
