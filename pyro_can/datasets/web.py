"""Web images with user tags (the paper's noisy training source), mapped to the 20 VOC classes.

Layout: ``ROOT/images/...`` and ``ROOT/tags.csv`` with columns ``image,tags``: the image path
relative to ``ROOT/images`` and its tags, separated by commas or semicolons when there are any,
else by spaces (so ``dining table`` needs commas). A tag turns a class on when it is one of the
class's synonyms in ``pyro_can/resources/voc_synonyms.json``, or in ``ROOT/synonyms.json`` when
that exists (same shape: ``{"class": ["word", ...]}``; its keys become the classes). Tags and
synonyms are compared lower-cased, without a leading ``#``, with ``_``/``-`` read as spaces, and
a plural tag (``-s``, ``-es``, ``-ies``) also matches its singular. Images none of whose tags
map to a class are dropped and counted (a warning says how many).

Testing: ``--test voc07:DIR`` scores on the clean VOC2007 test set (the paper's protocol).
Without it a ``--test-fraction`` of the web images is held out, whose labels are the same noisy
tags (a warning says so).
"""
from __future__ import annotations

import json
import os
import re
import warnings
from importlib import resources

import numpy as np

from ..errors import DataError
from .images import ImageItems, hold_out_split, image_root, image_dataset, read_rows, \
    resolve_image, split_labels
from .voc import external_test, parse_test

LAYOUT = "ROOT/images/... and ROOT/tags.csv with columns image,tags"
SYNONYMS_FILE = "synonyms.json"


def normalize(word: str) -> str:
    word = word.strip().lower().lstrip("#")
    return " ".join(re.sub(r"[_\-]+", " ", word).split())


def load_synonyms(root: str | None = None):
    """``(class_names, {normalized word: [class indices]}, source)`` from ``ROOT/synonyms.json``
    when present, else the packaged VOC table."""
    user = os.path.join(root, SYNONYMS_FILE) if root else None
    try:
        if user and os.path.isfile(user):
            source = user
            with open(user, encoding="utf-8") as fh:
                table = json.load(fh)
        else:
            source = "pyro_can/resources/voc_synonyms.json"
            with resources.files("pyro_can.resources").joinpath("voc_synonyms.json").open(
                    encoding="utf-8") as fh:
                table = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{user if user and os.path.isfile(user) else 'synonyms'}: cannot read "
                        f"({type(e).__name__}: {e})") from None
    if not isinstance(table, dict) or not table or not all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(w, str) for w in v)
            for k, v in table.items()):
        raise DataError(f"{source}: expected an object mapping each class name to a list of "
                        'words, e.g. {"aeroplane": ["airplane", "plane"]}')
    names = list(table)
    words: dict[str, list[int]] = {}
    for c, name in enumerate(names):
        for w in [name, *table[name]]:
            key = normalize(w)
            if key and c not in words.setdefault(key, []):
                words[key].append(c)
    return names, words, source


def tag_classes(tag: str, words: dict[str, list[int]]) -> list[int]:
    t = normalize(tag)
    plurals = (t[:-3] + "y" if t.endswith("ies") else None, t[:-1] if t.endswith("s") else None,
               t[:-2] if t.endswith("es") else None)
    for cand in (t, *plurals):
        if cand and cand in words:
            return words[cand]
    return []


def items(root: str, test_fraction: float = 0.25, seed: int = 0,
          hold_out: bool = True) -> ImageItems:
    """The raw item list: every image with at least one mapped tag, its tag-derived labels
    (multi-label) and, with ``hold_out``, a random ``test_fraction`` of them marked ``test``."""
    tags_csv = os.path.join(root, "tags.csv")
    if not os.path.isfile(tags_csv):
        raise DataError(f"{tags_csv}: missing (--data web expects {LAYOUT})")
    names, words, source = load_synonyms(root)
    base = os.path.join(root, "images")
    rows = read_rows(tags_csv)
    if not rows:
        raise DataError(f"{tags_csv}: no image rows")
    order: dict[str, int] = {}
    paths, labels = [], []
    dropped = 0
    for line, image, text in rows:
        classes = sorted({c for tag in split_labels(text) for c in tag_classes(tag, words)})
        if not classes:
            dropped += 1
            continue
        if image not in order:  # a repeated image gets the union of its rows' tags
            order[image] = len(paths)
            paths.append(resolve_image(base, image, f"{tags_csv} line {line}"))
            labels.append(np.zeros(len(names), dtype=np.float32))
        labels[order[image]][classes] = 1.0
    if not paths:
        raise DataError(f"{tags_csv}: none of its {len(rows)} images has a tag that maps to a "
                        f"class in {source}; edit the synonyms or add ROOT/{SYNONYMS_FILE}")
    if dropped:
        warnings.warn(f"{tags_csv}: {dropped} of {len(rows)} images have no tag that maps to a "
                      f"class in {source}; dropped", UserWarning, stacklevel=2)
    n = len(paths)
    split = (hold_out_split(n, test_fraction, seed, None, "--data web (or give --test voc07:DIR)")
             if hold_out else np.full(n, "train"))
    return ImageItems(root=root, paths=paths, labels=np.stack(labels), split=split,
                      class_names=names, single_label=False, ids=list(order), dropped=dropped)


def load_web(data, images, runtime):
    """Web images with noisy tags (--root, layout above); tested on --test voc07:DIR when given,
    else on held-out web images with noisy labels."""
    root = image_root(data, images, "web", LAYOUT)
    parse_test(data)  # a malformed --test fails before any file is read
    found = items(root, data.test_fraction, runtime.seed, hold_out=not data.test)
    test = external_test(data, found.class_names)
    if test is None:
        warnings.warn("--data web without --test: testing on held-out web images whose labels "
                      "are noisy tags; give --test voc07:DIR for a clean test set",
                      UserWarning, stacklevel=2)
    return image_dataset("web", found, images, runtime, data.noise_rate, clean_labels=False,
                         test_items=test)
