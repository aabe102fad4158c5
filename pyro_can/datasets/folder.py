"""Any folder of images with clean labels, in one of two layouts:

* ``ROOT/<class>/*.jpg`` (torchvision ``ImageFolder``; single-label; class folders sorted by
  name; folders starting with ``.`` are skipped), or
* ``ROOT/labels.csv`` with columns ``image,labels``: the image path relative to ``ROOT`` and its
  labels, separated by commas or semicolons when there are any, else by spaces. Rows may carry
  several labels (multi-label); when every row has exactly one the set is single-label. Classes
  are the labels seen, sorted, or the lines of ``ROOT/classes.txt`` in that order when present.

The items are split by ``--test-fraction`` and ``--seed`` (stratified for single-label data), and
``--noise-rate`` applies the paper's shuffle noise to the training labels.
"""
from __future__ import annotations

import os

import numpy as np

from ..data import one_hot
from ..errors import DataError
from .images import ImageItems, hold_out_split, image_root, image_dataset, read_rows, \
    resolve_image, split_labels
from .voc import external_test, parse_test

LAYOUT = "ROOT/<class>/*.jpg, or ROOT/labels.csv with columns image,labels"


def image_folder(path: str):
    """``(paths, class indices, class names)`` of an ImageFolder tree, hidden folders (such as the
    feature cache) skipped."""
    from torchvision.datasets import ImageFolder

    class _Visible(ImageFolder):
        def find_classes(self, directory):
            classes = sorted(e.name for e in os.scandir(directory)
                             if e.is_dir() and not e.name.startswith("."))
            if not classes:
                raise FileNotFoundError(f"no class folder in {directory}")
            return classes, {c: i for i, c in enumerate(classes)}

    if not os.path.isdir(path):
        raise DataError(f"{path}: no such folder")
    try:
        tree = _Visible(path)
    except (FileNotFoundError, OSError) as e:
        raise DataError(f"{path}: not an image-folder tree <class>/<image> ({e})") from None
    paths = [p for p, _ in tree.samples]
    return paths, np.array([c for _, c in tree.samples], dtype=np.int64), list(tree.classes)


def read_label_table(root: str):
    """``(paths, ids, 0/1 labels, class names)`` from ``ROOT/labels.csv``."""
    table = os.path.join(root, "labels.csv")
    rows = read_rows(table)
    if not rows:
        raise DataError(f"{table}: no image rows")
    classes_txt = os.path.join(root, "classes.txt")
    fixed = None
    if os.path.isfile(classes_txt):
        with open(classes_txt, encoding="utf-8") as fh:
            fixed = [ln.strip() for ln in fh if ln.strip()]
    order: dict[str, int] = {}
    paths, sets = [], []
    for line, image, text in rows:
        labels = split_labels(text)
        if fixed is not None:
            unknown = [lab for lab in labels if lab not in fixed]
            if unknown:
                raise DataError(f"{table} line {line}: label {unknown[0]!r} is not in "
                                f"{classes_txt}")
        if image not in order:  # a repeated image gets the union of its rows' labels
            order[image] = len(paths)
            paths.append(resolve_image(root, image, f"{table} line {line}"))
            sets.append(set())
        sets[order[image]].update(labels)
    names = fixed if fixed is not None else sorted(set().union(*sets))
    if not names:
        raise DataError(f"{table}: no labels in any row")
    index = {c: i for i, c in enumerate(names)}
    y = np.zeros((len(paths), len(names)), dtype=np.float32)
    for i, labels in enumerate(sets):
        y[i, [index[lab] for lab in labels]] = 1.0
    return paths, list(order), y, names


def items(root: str, test_fraction: float = 0.25, seed: int = 0,
          hold_out: bool = True) -> ImageItems:
    """The raw item list, with ``test_fraction`` of it marked ``test`` (stratified by class for
    single-label data) when ``hold_out``."""
    if os.path.isfile(os.path.join(root, "labels.csv")):
        paths, ids, y, names = read_label_table(root)
        single = bool((y.sum(1) == 1).all())
    else:
        paths, target, names = image_folder(root)
        if not paths:
            raise DataError(f"{root}: no images found ({LAYOUT})")
        ids = [os.path.relpath(p, root) for p in paths]
        y, single = one_hot(target, len(names)), True
    n = len(paths)
    split = (hold_out_split(n, test_fraction, seed, y.argmax(1) if single else None,
                            "--data folder") if hold_out else np.full(n, "train"))
    return ImageItems(root=root, paths=paths, labels=y, split=split,
                      class_names=names, single_label=single, ids=ids)


def load_folder(data, images, runtime):
    """Images labelled by --root (layout above), split by --test-fraction/--seed; --noise-rate
    shuffles training labels. The labels are the user's own, of unknown quality, so no true
    training labels are claimed (only the mask of what --noise-rate changed). --test voc07:DIR
    tests on VOC instead."""
    root = image_root(data, images, "folder", LAYOUT)
    parse_test(data)  # a malformed --test fails before any file is read
    found = items(root, data.test_fraction, runtime.seed, hold_out=not data.test)
    return image_dataset("folder", found, images, runtime, data.noise_rate, clean_labels=False,
                         test_items=external_test(data, found.class_names))
