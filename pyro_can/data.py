"""Data sets as arrays: features, per-annotation noisy labels, clean test labels.

Every data set is stored in one shape. A training item may carry several noisy label vectors
(crowd answers); each is an *annotation* row ``(ann_item, ann_labels, ann_worker)``. Ordinary data
sets have exactly one annotation per item, so single-annotator data is just the special case.
Labels are always 0/1 matrices with C columns (single-label data is one-hot).
"""
from __future__ import annotations

import dataclasses
import os
import warnings
from dataclasses import dataclass
from importlib import resources

import numpy as np

from .errors import DataError, DataWarning
from .noise import shuffle_labels


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
        if mode in AGGREGATORS:
            n = self.num_items
            return dataclasses.replace(
                self, ann_item=np.arange(n), ann_labels=aggregate(self, mode),
                ann_worker=np.full(n, -1))
        raise DataError(f"--crowd: unknown mode {mode!r}; "
                        f"known: model, majority, repeat, {', '.join(AGGREGATORS)}")


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


def standardization(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation of the training rows (1 for a constant
    feature): what ``_standardize`` applies, and what a run saves to preprocess new rows."""
    mean = x_train.mean(0)
    std = x_train.std(0)
    std[std == 0] = 1.0
    return mean, std


def _standardize(x_train: np.ndarray, x_test: np.ndarray):
    """Both splits scaled by the training rows' ``standardization``, and that (mean, std)."""
    mean, std = standardization(x_train)
    return (((x_train - mean) / std).astype(np.float32), ((x_test - mean) / std).astype(np.float32),
            (mean, std))


def _check_features(x: np.ndarray, where: str):
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


def _split(n: int, strata: np.ndarray, test_fraction: float, seed: int, where: str = "data"):
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


def _clean_label_dataset(name, x, y, train_idx, test_idx, noise_rate, seed, class_names,
                         single_label, image_shape=None, standardize=True, feature_scale=None,
                         truth="labels"):
    """Shared tail of loaders over labelled rows: split, standardize, add the paper's noise.
    ``feature_scale``: the (mean, std) the loader already applied to ``x`` (without
    ``standardize``), recorded as the run's preprocessing.

    ``truth`` says what the data set knows about its true labels, so that nothing is ever scored
    against a truth nobody has: ``"labels"``, ``y`` itself is clean (a curated benchmark:
    digits); ``None``, it is not known (a user's own file): no ``y_train_clean``, and a
    corruption mask only where ``noise_rate`` corrupts ``y`` (what the artificial noise changed);
    or an (N, C) array of true labels the source carries (``y_true``), which then also labels the
    test items."""
    x_train, x_test = x[train_idx].astype(np.float32), x[test_idx].astype(np.float32)
    if standardize:
        x_train, x_test, feature_scale = _standardize(x_train.astype(np.float64),
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


def load_digits(seed: int = 0, noise_rate: float = 0.0, test_fraction: float = 0.25, **_):
    """scikit-learn's bundled 8×8 digits (1,797 real images, 10 classes), stratified split by seed."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    train_idx, test_idx = _split(len(d.target), d.target, test_fraction, seed)
    # pixels are scaled to [0, 1], not standardized: per-pixel z-scores blow up the near-constant
    # border pixels and make a net memorize noisy labels much faster
    return _clean_label_dataset(
        "digits", d.data / 16.0, one_hot(d.target, 10), np.sort(train_idx), np.sort(test_idx),
        noise_rate, seed, [str(c) for c in range(10)], True, image_shape=(8, 8), standardize=False,
        feature_scale=(np.zeros(64), np.full(64, 16.0)))


def load_npz(path: str | None = None, seed: int = 0, noise_rate: float = 0.0,
             test_fraction: float = 0.25, **_):
    """Arrays ``X`` and ``y`` (int labels) or ``Y`` (0/1 matrix); optional ``train_idx``/``test_idx``
    and ``class_names``; ``--noise-rate`` corrupts the training labels. The file's labels are the
    user's own, of unknown quality: nothing is scored against them as a truth (the test set is
    scored against them, as the only labels there are). Only an explicit ``y_true`` (int labels,
    or a 0/1 matrix of ``Y``'s shape) says what the true labels are; it then labels the test
    items too, and the training labels' accuracy and the wrong labels are measured against it."""
    if not path:
        raise DataError("--data npz needs --path FILE.npz (or FILE.csv)")
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    if path.lower().endswith(".csv"):
        arrays = _csv_arrays(path)
    else:
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
        except Exception as e:  # zip errors, pickled objects, truncated files
            raise DataError(f"{path}: cannot read as .npz ({type(e).__name__}: {e})") from None
    where = path
    if "X" not in arrays:
        raise DataError(f"{where}: missing key 'X' (found: {', '.join(sorted(arrays)) or 'none'})")
    x = arrays["X"]
    _check_features(x, where)
    if "Y" in arrays:
        y = arrays["Y"]
        if y.ndim != 2:
            raise DataError(f"{where}: 'Y' must be a 2-D 0/1 matrix (items × classes), got {y.shape}")
        if not np.isin(y, (0, 1)).all():
            raise DataError(f"{where}: 'Y' must hold only 0 and 1")
        per_row = y.sum(1)
        single = bool((per_row == 1).all())
        empty = np.flatnonzero(per_row == 0)
        if len(empty) and (per_row <= 1).all():  # one-hot but for some rows: a lost label
            raise DataError(f"{where}: 'Y' row {empty[0]} has no class on ({len(empty)} such "
                            "row(s)) while every other row has exactly one; a single-label 'Y' "
                            "needs one 1 per row (or give int labels as 'y')")
    elif "y" in arrays:
        labels = arrays["y"]
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"{where}: 'y' must be a 1-D array of int class labels, got "
                            f"shape {labels.shape} dtype {labels.dtype}")
        if len(labels) and labels.min() < 0:  # -1 often means "no label": never a class
            raise DataError(f"{where}: 'y' holds negative labels (min {labels.min()}); "
                            "expected 0..C-1")
        if "class_names" not in arrays:  # codes such as 101, 205, 309: classes named by them
            labels, arrays["class_names"] = _codes_to_classes(labels)
        num_classes = len(arrays["class_names"])
        if len(labels) and labels.max() >= num_classes:
            raise DataError(f"{where}: 'y' holds label {labels.max()} but 'class_names' has only "
                            f"{num_classes} classes; expected 0..{num_classes - 1}")
        y = one_hot(labels, num_classes)
        single = True
    else:
        raise DataError(f"{where}: missing labels: need key 'y' (int labels) or 'Y' (0/1 matrix)")
    if len(y) != len(x):
        raise DataError(f"{where}: X has {len(x)} rows but the labels have {len(y)}")
    n = len(x)
    if "train_idx" in arrays or "test_idx" in arrays:
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
    else:
        train_idx, test_idx = _split(n, y.argmax(1) if single else None, test_fraction, seed,
                                     where)
    names = arrays.get("class_names")
    names = [str(c) for c in names] if names is not None else [str(c) for c in range(y.shape[1])]
    if len(names) != y.shape[1]:
        raise DataError(f"{where}: 'class_names' has {len(names)} names for {y.shape[1]} classes")
    truth = _true_labels(arrays, y, "Y" in arrays, where)
    return _clean_label_dataset(os.path.basename(path), x, y, np.asarray(train_idx),
                                np.asarray(test_idx), noise_rate, seed, names, single,
                                truth=truth)


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


def load_music(seed: int = 0, noise_rate: float = 0.0, **_):
    """Rodrigues et al.'s music-genre set with 2,945 real AMT answers from 44 workers (package data;
    citation in ``pyro_can/resources/CITATION.md``). Published split: 700 train, 300 test."""
    if noise_rate:
        raise DataError("--data music carries real crowd noise; --noise-rate must be 0")
    with resources.files("pyro_can.resources").joinpath("music_genre_mturk.npz").open("rb") as fh:
        with np.load(fh, allow_pickle=False) as f:
            d = {k: f[k] for k in f.files}
    return crowd_dataset("music", d["X"], d["annotations"], d["y_true"], d["train_idx"],
                         d["test_idx"], [str(c) for c in d["class_names"]],
                         where="music_genre_mturk.npz")


def section_loader(load):
    """The registry's ``loader(data, images, runtime)`` over a feature-vector loader above, which
    takes plain keyword arguments so that it can be called on its own: it is handed
    ``--path``, ``--noise-rate`` and ``--test-fraction`` from the data section and the seed."""
    def loader(data, images, runtime):
        return load(path=data.path, seed=runtime.seed, noise_rate=data.noise_rate,
                    test_fraction=data.test_fraction)

    loader.__name__ = loader.__qualname__ = load.__name__
    loader.__doc__ = load.__doc__
    return loader


def crowd_dataset(name, x, annotations, y_true, train_idx, test_idx, class_names, where):
    """Build a single-label crowd data set from (item, worker, label) rows over the items of ``x``;
    annotations on test items are dropped so the test set stays clean."""
    _check_features(x, where)
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
    x_train, x_test, scale = _standardize(x[train_idx].astype(np.float64),
                                          x[test_idx].astype(np.float64))
    labels = one_hot(label[keep], c)
    return Dataset(
        name=name, x_train=x_train, ann_item=pos[item[keep]], ann_labels=labels,
        ann_worker=worker[keep], x_test=x_test, y_test=one_hot(y_true[test_idx], c),
        class_names=class_names, single_label=True, train_ids=np.asarray(train_idx),
        test_ids=np.asarray(test_idx), y_train_clean=one_hot(y_true[train_idx], c),
        feature_scale=scale)


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
