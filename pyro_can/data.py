"""Data sets as arrays: features, per-annotation noisy labels, clean test labels.

Every data set is stored in one shape. A training item may carry several noisy label vectors
(crowd answers); each is an *annotation* row ``(ann_item, ann_labels, ann_worker)``. Ordinary data
sets have exactly one annotation per item, so single-annotator data is just the special case.
Labels are always 0/1 matrices with C columns (single-label data is one-hot).

This module holds the record and what is done to one: a subset of its items, how crowd answers
enter training (``with_crowd``), the validation splits, and the checks of what it can be scored
against. The loaders that build one are elsewhere, sharing ``feature_rows``' steps:
``feature_loaders`` (digits, music), ``npz_file`` (a user's arrays) and ``datasets/`` (image sets,
crowd tables, CIFAR-10N).
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np

from .errors import DataError, DataWarning


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray  # (N, D) float32, standardized with training statistics
    ann_item: np.ndarray  # (R,) int64, item of each annotation
    ann_labels: np.ndarray  # (R, C) float32, 0/1
    ann_worker: np.ndarray  # (R,) int64, -1 when unknown
    x_test: np.ndarray  # (M, D)
    y_test: np.ndarray  # (M, C) clean 0/1
    class_names: list[str]
    single_label: bool
    train_ids: np.ndarray  # ids of the training items in the source data
    test_ids: np.ndarray
    y_train_clean: np.ndarray | None = None  # (N, C) when known (for inspection only, never training)
    corrupted: np.ndarray | None = None  # (N,) bool, items whose label the noise protocol changed
    image_shape: tuple[int, ...] | None = None  # e.g. (8, 8) for digits, for figures
    # end-to-end image data: x_train / x_test hold rows into these images (datasets/pixels.py)
    pixels: "Pixels | None" = None  # noqa: F821
    # --val-from-test: test items set aside to choose settings on (clean labels, never trained on)
    x_val: np.ndarray | None = None  # (V, D)
    y_val: np.ndarray | None = None  # (V, C) clean 0/1
    # feature rows: x = (raw - mean) / std, the run's preprocessing of new rows (``predict``);
    # None where the inputs are not the source's feature rows (images, backbone features)
    feature_scale: "tuple[np.ndarray, np.ndarray] | None" = None
    # the user's id of each worker index of ann_worker (a crowd table's ids), for workers.csv
    worker_ids: list[str] | None = None

    @property
    def num_classes(self) -> int:
        return self.ann_labels.shape[1]

    @property
    def num_items(self) -> int:
        return self.x_train.shape[0]

    @property
    def num_annotations(self) -> int:
        return self.ann_labels.shape[0]

    @property
    def has_crowd(self) -> bool:
        return self.num_annotations != self.num_items or not np.array_equal(
            self.ann_item, np.arange(self.num_items))

    def item_labels(self, rng: np.random.Generator | None = None) -> np.ndarray:
        """One noisy label vector per item: the answer itself, or the (majority) vote of several
        (``voted_labels``)."""
        return voted_labels(self.ann_item, self.ann_labels, self.num_items, self.single_label,
                            rng)

    def subset(self, items: np.ndarray) -> "Dataset":
        """The training items ``items`` (sorted indices) with their annotations; test set kept."""
        items = np.asarray(items)
        remap = np.full(self.num_items, -1)
        remap[items] = np.arange(len(items))
        keep = remap[self.ann_item] >= 0
        return dataclasses.replace(
            self, x_train=self.x_train[items], ann_item=remap[self.ann_item[keep]],
            ann_labels=self.ann_labels[keep], ann_worker=self.ann_worker[keep],
            train_ids=self.train_ids[items],
            y_train_clean=None if self.y_train_clean is None else self.y_train_clean[items],
            corrupted=None if self.corrupted is None else self.corrupted[items])

    def with_crowd(self, mode: str, rng: np.random.Generator) -> "Dataset":
        """How several answers per item enter training: ``model`` keeps them as annotations of one
        item (one latent y, one quality z per answer), ``majority`` keeps one voted label per item,
        ``repeat`` makes each answer its own item (a copy of x with its own y)."""
        if mode == "model" or not self.has_crowd:
            return self
        if mode == "majority":
            n = self.num_items
            return dataclasses.replace(
                self, ann_item=np.arange(n), ann_labels=self.item_labels(rng),
                ann_worker=np.full(n, -1))
        if mode == "repeat":
            item = self.ann_item
            return dataclasses.replace(
                self, x_train=self.x_train[item], ann_item=np.arange(len(item)),
                train_ids=self.train_ids[item],
                y_train_clean=None if self.y_train_clean is None else self.y_train_clean[item],
                corrupted=None if self.corrupted is None else self.corrupted[item])
        from .crowd_aggregation import AGGREGATORS, aggregate

        if mode in AGGREGATORS:
            n = self.num_items
            return dataclasses.replace(
                self, ann_item=np.arange(n), ann_labels=aggregate(self, mode),
                ann_worker=np.full(n, -1))
        raise DataError(f"--crowd: unknown mode {mode!r}; "
                        f"known: model, majority, repeat, {', '.join(AGGREGATORS)}")


def voted_labels(ann_item: np.ndarray, ann_labels: np.ndarray, num_items: int,
                 single_label: bool, rng: np.random.Generator | None = None) -> np.ndarray:
    """One label vector per item from its answers (``ann_item``: the item of each answer).

    Single-label: the most voted class, ties broken at random with ``rng`` (first class if
    none). Multi-label: a class is on when at least half the answers say so."""
    votes = np.zeros((num_items, ann_labels.shape[1]))
    np.add.at(votes, ann_item, ann_labels)
    counts = np.bincount(ann_item, minlength=num_items)[:, None]
    if not single_label:
        return (votes >= 0.5 * np.maximum(counts, 1)).astype(np.float32)
    if rng is not None:
        votes = votes + rng.random(votes.shape) * 1e-3  # random tie-break, never flips a vote
    out = np.zeros_like(votes, dtype=np.float32)
    out[np.arange(num_items), votes.argmax(1)] = 1.0
    return out


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    out = np.zeros((len(labels), num_classes), dtype=np.float32)
    out[np.arange(len(labels)), labels] = 1.0
    return out


def truth_known(data: Dataset) -> str:
    """What the data set knows about its training labels' truth: ``"true labels"`` (digits,
    music, CIFAR-10N, VOC, a .npz with ``y_true``), ``"noise mask"`` (only which labels the
    artificial noise changed: a user's own labels under ``--noise-rate``) or ``"unknown"`` (a
    user's own labels as given): nothing may be scored against a truth that is not known."""
    if data.y_train_clean is not None:
        return "true labels"
    return "noise mask" if data.corrupted is not None else "unknown"


def untrained_test_classes(data: Dataset) -> list[str]:
    """Classes with test items but no training item (by the clean training labels when known,
    else the noisy ones): their test AP measures nothing the model could learn."""
    if len(data.y_test) == 0:
        return []
    train = data.y_train_clean if data.y_train_clean is not None else data.ann_labels
    missing = np.flatnonzero((data.y_test.sum(0) > 0) & (train.sum(0) == 0))
    return [data.class_names[c] for c in missing]


def check_split(data: Dataset) -> Dataset:
    """Refuse data that cannot train a classifier (single-label labels of fewer than two
    classes: every score would be 1.0), and warn about data that would train but be scored
    misleadingly: a class with test items and no training item (with a single such class, a
    test mAP of 1.0 is possible). A warning, not an error: tiny multi-label samples lack some
    classes by chance; the run's metrics.json lists them (``test_classes_without_training``)."""
    if data.single_label:
        seen = np.flatnonzero(data.ann_labels.sum(0) > 0)
        if data.num_classes < 2 or len(seen) < 2:
            only = ", ".join(repr(data.class_names[c]) for c in seen) or "none"
            raise DataError(f"{data.name}: the training labels hold {len(seen)} class(es) "
                            f"({only}); a classifier needs at least two (every score of a "
                            "one-class model is perfect and means nothing)")
    missing = untrained_test_classes(data)
    if missing:
        names = ", ".join(repr(c) for c in missing[:5]) + (", ..." if len(missing) > 5 else "")
        warnings.warn(f"{data.name}: {len(missing)} class(es) ({names}) have test items but no "
                      "training item; their test AP is meaningless and counts in the test mAP "
                      "(check the split, train_idx/test_idx or --train-fraction)", DataWarning,
                      stacklevel=2)
    return data


def validation_from_test(data: Dataset, count: int, seed: int) -> Dataset:
    """Set ``count`` of the test items aside as a validation set (``x_val``/``y_val``), seeded and
    stratified by class, the rest staying the test set: the crowd-learning papers' protocol on
    music (100 of the 300 test clips choose the settings, 200 are reported). Their labels are
    clean, unlike ``validation_split``'s, but the items are never trained on."""
    if count <= 0:
        return data
    m = len(data.y_test)
    if count >= m:
        raise DataError(f"{data.name}: --val-from-test {count} takes all {m} test item(s); "
                        "leave at least one to report")
    from sklearn.model_selection import train_test_split

    idx = np.arange(m)
    strata = data.y_test.argmax(1) if data.single_label else None
    try:
        val, test = train_test_split(idx, train_size=count, random_state=seed, stratify=strata)
    except ValueError:  # a class too small to stratify: a plain random split
        val, test = train_test_split(idx, train_size=count, random_state=seed)
    val, test = np.sort(val), np.sort(test)
    return dataclasses.replace(data, x_test=data.x_test[test], y_test=data.y_test[test],
                               test_ids=data.test_ids[test], x_val=data.x_test[val],
                               y_val=data.y_test[val])


def validation_split(data: Dataset, fraction: float, seed: int):
    """Carve ``fraction`` of the training items out as a validation set scored against their
    *noisy* labels, so settings can be chosen without ever looking at clean labels."""
    if fraction <= 0:
        return data, None
    rng = np.random.default_rng([seed, 2])
    perm = rng.permutation(data.num_items)
    n_val = max(1, int(round(fraction * data.num_items)))
    if n_val >= data.num_items:
        raise DataError(f"{data.name}: --val-fraction {fraction} of {data.num_items} training "
                        "item(s) leaves none to train on")
    return data.subset(np.sort(perm[n_val:])), data.subset(np.sort(perm[:n_val]))
