"""What every image loader shares: the raw item list, reading images, the frozen-backbone feature
cache, and the tail that turns cached features plus labels into a :class:`pyro_can.data.Dataset`.

The training loop trains on feature matrices, so an image data set becomes one: the frozen
backbone (``pyro_can.backbones``) runs once over the images and its pooled features are cached in
``<root>/.pyro_can_cache/<arch>-<view>-<hash>.npz`` (``$PYRO_CAN_CACHE`` overrides the folder;
``~/.cache/pyro_can/features`` is used when the root is read-only). The hash covers the backbone,
its weights file's content, the view, mixed precision, and every image's path, size and
modification time, so editing any of them recomputes the features.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import sys
import warnings
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch

from .. import backbones
from ..data import Dataset
from ..device import resolve_device
from ..feature_rows import check_features, split_rows, standardize
from ..errors import DataError
from ..noise import shuffle_labels
from .image_files import ImageFiles, raise_unreadable
from .pixels import Pixels, check_readable

CACHE_DIRNAME = ".pyro_can_cache"
CACHE_VERSION = 1  # bump when the views or the extraction change
EXTRACT_BATCH = {"centre": 32, "six": 8}
HEADER_NAMES = ("image", "path", "file", "filename")


@dataclass
class ImageItems:
    """The raw item list of an image data set, before any backbone runs: what an end-to-end
    trainer would iterate over. ``ids[i]`` names item ``i`` as the source does (VOC id, path
    relative to the root); ``split[i]`` is ``"train"`` or ``"test"``; ``labels`` is the 0/1
    matrix (one-hot when ``single_label``)."""

    root: str
    paths: list[str]
    labels: np.ndarray  # (N, C) float32, 0/1
    split: np.ndarray  # (N,) "train" | "test"
    class_names: list[str]
    single_label: bool
    ids: list[str]
    dropped: int = 0  # items the loader left out (web: no tag maps to a class)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)

    def indices(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.split == split)


# -- options -------------------------------------------------------------------------------------
def image_root(data, images, name: str, layout: str) -> str:
    """The root folder of an image data set, once its image options are checked (option errors
    come before any file is read). ``data``/``images``: the ``DataSection``/``ImageSection``."""
    if images.arch == "mlp":
        raise DataError(f"--data {name} reads images: choose a backbone with --arch resnet18 or "
                        "--arch resnet34, and add --feature-cache")
    backbones.check_arch(images.arch)
    if images.test_crops not in (1, 6):
        raise DataError(f"--test-crops must be 1 or 6, got {images.test_crops}")
    return require_root(data.root or data.path, name, layout)


def require_root(root, name: str, layout: str) -> str:
    if not root:
        raise DataError(f"--data {name} needs --root DIR ({layout})")
    if not os.path.isdir(root):
        raise DataError(f"--root {root}: no such folder (--data {name} expects {layout})")
    return str(root)


# -- reading lists -------------------------------------------------------------------------------
def read_rows(path: str | Path):
    """``(line, image, rest)`` for each row of a CSV whose first column names an image and whose
    other columns hold label text. A first row whose first field is image/path/file/filename is a
    header. Unquoted commas in the label text are kept: ``a.jpg,dog,cat`` gives ``"dog,cat"``."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            rows = []
            for row in reader:
                if not row or not any(c.strip() for c in row):
                    continue
                if not rows and reader.line_num == 1 and row[0].strip().lower() in HEADER_NAMES:
                    continue
                rows.append((reader.line_num, row[0].strip(), ",".join(row[1:])))
            return rows
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: cannot read ({type(e).__name__}: {e})") from None


def split_labels(text: str) -> list[str]:
    """Labels or tags in one field: separated by commas or semicolons when there are any (so a
    label may hold spaces), else by whitespace."""
    text = text.strip()
    if not text:
        return []
    parts = re.split(r"[,;]", text) if re.search(r"[,;]", text) else text.split()
    return [p.strip() for p in parts if p.strip()]


def resolve_image(base: str, name: str, where: str) -> str:
    path = name if os.path.isabs(name) else os.path.join(base, name)
    if not os.path.isfile(path):
        raise DataError(f"{where}: image {name!r} not found (looked for {path})")
    return path


# -- the feature cache ---------------------------------------------------------------------------
def cache_dir(root: str) -> Path:
    env = os.environ.get("PYRO_CAN_CACHE")
    if env:
        return Path(env)
    d = Path(root) / CACHE_DIRNAME
    try:
        d.mkdir(exist_ok=True)
        if os.access(d, os.W_OK):
            return d
    except OSError:
        pass
    return Path.home() / ".cache" / "pyro_can" / "features"


class Extractor:
    """Frozen-backbone features for lists of images, from the cache when it has them; the
    backbone is built only on the first cache miss."""

    def __init__(self, images, device: str = "auto"):
        self.images = images  # the ImageSection: arch, weights, amp, workers
        self.device = resolve_device(device)
        self.half = bool(images.amp and self.device.type == "cuda")
        self.weights_id = backbones.weights_digest(images.weights)
        self._net = None
        self.computed = 0  # images run through the backbone (cache misses), for tests and logs

    @property
    def net(self):
        if self._net is None:
            self._net = backbones.build_backbone(self.images.arch, self.images.weights,
                                                 warn=False).to(self.device)
        return self._net

    def key(self, paths: list[str], view: str, root: str) -> str:
        import torchvision

        h = hashlib.sha256(json.dumps({
            "version": CACHE_VERSION, "arch": self.images.arch, "weights": self.weights_id,
            "view": view, "fp16": self.half, "torchvision": torchvision.__version__.split("+")[0],
        }, sort_keys=True).encode())
        for p in paths:
            st = os.stat(p)
            h.update(f"{os.path.relpath(p, root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()[:20]

    def features(self, paths: list[str], view: str, root: str, desc: str = "") -> np.ndarray:
        """(len(paths), 512) float32 features of ``paths`` seen through ``view``."""
        try:
            key = self.key(paths, view, root)
        except OSError as e:
            raise DataError(f"{e.filename}: cannot read image ({e.strerror})") from None
        path = cache_dir(root) / f"{self.images.arch}-{view}-{key}.npz"
        if path.is_file():
            try:
                with np.load(path, allow_pickle=False) as f:
                    x = f["features"]
                if x.shape == (len(paths), backbones.FEATURE_DIM[self.images.arch]):
                    return x.astype(np.float32)
            except Exception as e:
                warnings.warn(f"{path}: unreadable feature cache ({type(e).__name__}); "
                              "recomputing", UserWarning, stacklevel=2)
        x = self.extract(paths, view, desc)
        self.save(path, x, paths, root)
        return x

    @staticmethod
    def save(path: Path, x: np.ndarray, paths: list[str], root: str) -> None:
        from ..errors import RunFolderError
        from ..safe_io import write

        names = np.array([os.path.relpath(p, root) for p in paths])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write(path, lambda fh: np.savez(fh, features=x, paths=names))  # atomic
        except (OSError, RunFolderError) as e:  # a cache that cannot be written only costs time
            warnings.warn(f"{path}: cannot write the feature cache ({e})", UserWarning,
                          stacklevel=2)

    def extract(self, paths: list[str], view: str, desc: str = "") -> np.ndarray:
        from tqdm.auto import tqdm

        dim = backbones.FEATURE_DIM[self.images.arch]
        out = np.empty((len(paths), dim), dtype=np.float32)
        if not paths:
            return out
        data = ImageFiles(paths, backbones.VIEWS[view](), backbones.VIEW_SHAPES[view])
        loader = torch.utils.data.DataLoader(
            data, batch_size=EXTRACT_BATCH[view], shuffle=False,
            num_workers=max(0, int(self.images.workers)), pin_memory=self.device.type == "cuda")
        net = self.net
        amp = (torch.autocast("cuda", dtype=torch.float16) if self.half
               else contextlib.nullcontext())
        bar = tqdm(loader, desc=f"{self.images.arch} features{' ' + desc if desc else ''}",
                   unit="batch", file=sys.stderr, disable=None, leave=False)
        with torch.inference_mode():
            for x, idx, errors in bar:
                raise_unreadable(paths, idx, errors)
                x = x.to(self.device, non_blocking=True)
                with amp:
                    if view == "six":  # average the six crops' features, not their predictions
                        f = net(x.flatten(0, 1)).view(x.shape[0], x.shape[1], -1).mean(1)
                    else:
                        f = net(x)
                out[idx.numpy()] = f.float().cpu().numpy()
                self.computed += len(idx)
        return out


# -- features + labels -> Dataset ----------------------------------------------------------------
def image_dataset(name: str, items: ImageItems, images, runtime, noise_rate: float,
                  clean_labels: bool, test_items: ImageItems | None = None,
                  extractor: Extractor | None = None) -> Dataset:
    """Cached backbone features of the training items (centre view) and test items (centre view,
    or six crops averaged), standardized with training statistics — or, end to end (without
    ``--feature-cache``), the images themselves (``pixels.py``); ``noise_rate`` shuffles
    training labels as in the paper. ``clean_labels``: the source's training labels are clean
    (VOC), so ``y_train_clean`` is known; web and SD4 training labels are noisy already, and a
    user's folder's are of unknown quality.
    ``test_items`` (all of them test items) replace ``items``' own test split. ``images``,
    ``runtime``: the config's ImageSection and RuntimeSection (seed, device)."""
    train_idx = items.indices("train")
    test_src = items if test_items is None else test_items
    test_idx = items.indices("test") if test_items is None else np.arange(len(test_items))
    if not len(train_idx):
        raise DataError(f"--data {name}: no training images in {items.root}")
    if not len(test_idx):
        raise DataError(f"--data {name}: no test images in {test_src.root}")
    if not images.weights:
        backbones.warn_random_init(images.arch)
    test_view = "six" if images.test_crops == 6 else "centre"
    labelled = partial(_labelled, name, items, seed=runtime.seed, noise_rate=noise_rate,
                       clean_labels=clean_labels, test_src=test_src, train_idx=train_idx,
                       test_idx=test_idx)
    if images.end_to_end:
        return _end_to_end(labelled, items, images, runtime, test_src, train_idx, test_idx,
                           test_view)
    ex = extractor or Extractor(images, runtime.device)
    x_tr = ex.features([items.paths[i] for i in train_idx], "centre", items.root, "(train)")
    x_te = ex.features([test_src.paths[i] for i in test_idx], test_view, test_src.root, "(test)")
    check_features(x_tr, f"{name} training features")
    check_features(x_te, f"{name} test features")
    x_train, x_test, scale = standardize(x_tr.astype(np.float64), x_te.astype(np.float64))
    return replace(labelled(x_train, x_test), feature_scale=scale)


def _end_to_end(labelled, items, images, runtime, test_src, train_idx, test_idx,
                test_view) -> Dataset:
    """The images themselves (``x`` = rows into ``Pixels``' path lists), every file checked."""
    pixels = Pixels(train_paths=[items.paths[i] for i in train_idx],
                    test_paths=[test_src.paths[i] for i in test_idx], test_view=test_view,
                    workers=max(0, int(images.workers)),
                    pin_memory=resolve_device(runtime.device).type == "cuda")
    check_readable(pixels.train_paths + pixels.test_paths)
    data = labelled(np.arange(len(train_idx))[:, None], np.arange(len(test_idx))[:, None])
    return replace(data, pixels=pixels)


def _labelled(name, items, x_train, x_test, *, seed, noise_rate, clean_labels, test_src,
              train_idx, test_idx) -> Dataset:
    y = items.labels[train_idx].astype(np.float32)
    noisy, changed = shuffle_labels(y, noise_rate, np.random.default_rng([seed, 1]))
    n = len(train_idx)
    return Dataset(
        name=name, x_train=x_train, ann_item=np.arange(n), ann_labels=noisy.astype(np.float32),
        ann_worker=np.full(n, -1), x_test=x_test,
        y_test=test_src.labels[test_idx].astype(np.float32), class_names=list(items.class_names),
        single_label=items.single_label and test_src.single_label,
        train_ids=train_idx, test_ids=test_idx,
        y_train_clean=y if clean_labels else None,
        corrupted=changed if clean_labels or noise_rate > 0 else None)


def no_external_test(data, name: str) -> None:
    if data.test:
        raise DataError(f"--test {data.test}: --data {name} has its own test set; --test applies "
                        "to image data sets without one (web, folder)")


def hold_out_split(n: int, test_fraction: float, seed: int, strata, what: str) -> np.ndarray:
    """'train'/'test' per image: ``test_fraction`` held out (stratified when ``strata`` is given)
    for data sets that ship no test split of their own."""
    n_test = int(round(test_fraction * n))
    if n_test < 1 or n_test >= n:
        raise DataError(f"{what}: --test-fraction {test_fraction} of {n} images leaves no test "
                        "or no training image")
    split = np.full(n, "train", dtype=object)
    split[split_rows(n, strata, test_fraction, seed)[1]] = "test"
    return split.astype(str)
