"""A noisy web training set with a clean test set, single-label (torchvision ``ImageFolder``):

``ROOT/train/<class>/*.jpg`` — labels as the web gave them (noisy), and
``ROOT/test/<class>/*.jpg`` — clean labels.

Classes are the training class folders, sorted; every test class must be one of them (a training
class may lack test images).
"""
from __future__ import annotations

import os

import numpy as np

from ..data import one_hot
from ..errors import DataError
from .folder import image_folder
from .images import ImageItems, image_root, image_dataset, no_external_test

LAYOUT = "ROOT/train/<class>/*.jpg (noisy) and ROOT/test/<class>/*.jpg (clean)"


def items(root: str) -> ImageItems:
    """The raw item list: ``train/`` items then ``test/`` items, labels one-hot."""
    parts = {}
    for split in ("train", "test"):
        d = os.path.join(root, split)
        if not os.path.isdir(d):
            raise DataError(f"{d}: missing (--data sd4 expects {LAYOUT})")
        parts[split] = image_folder(d)
    names = parts["train"][2]
    extra = [c for c in parts["test"][2] if c not in names]
    if extra:
        raise DataError(f"{os.path.join(root, 'test')}: class folder(s) {', '.join(extra)} have "
                        "no training folder in train/")
    paths, labels, split, ids = [], [], [], []
    for name, (p, target, classes) in parts.items():
        remap = np.array([names.index(c) for c in classes], dtype=np.int64)
        paths += p
        labels.append(one_hot(remap[target], len(names)))
        split += [name] * len(p)
        ids += [os.path.relpath(x, root) for x in p]
    return ImageItems(root=root, paths=paths, labels=np.concatenate(labels),
                      split=np.array(split), class_names=names, single_label=True, ids=ids)


def load_sd4(data, images, runtime):
    """Noisy training images and clean test images in ImageFolder trees under --root."""
    root = image_root(data, images, "sd4", LAYOUT)
    no_external_test(data, "sd4")
    return image_dataset("sd4", items(root), images, runtime, data.noise_rate,
                         clean_labels=False)
