"""CIFAR-10N: CIFAR-10's training images with real human label noise from Mechanical Turk.

Cite: J. Wei, Z. Zhu, H. Cheng, T. Liu, G. Niu, Y. Liu, "Learning with Noisy Labels Revisited: A
Study Using Real-World Human Annotations", ICLR 2022 (labels CC BY-NC 4.0); images: A. Krizhevsky,
"Learning Multiple Layers of Features from Tiny Images", 2009.

``--data cifar10n --root DIR --labels SET`` where DIR holds

* the images, in either layout: torchvision's ``cifar-10-batches-py`` (read by
  ``torchvision.datasets.CIFAR10(download=False)``, which checks every batch file's MD5 against
  the published one before reading it, so only the official pickles are ever opened), or the
  folder layout ``images/train/<class>/NNNN.jpg`` + ``images/test/<class>/NNNN.jpg`` (class folders
  alphabetical; file NNNN of class c is the NNNN-th training image of class c in the python order);
* ``CIFAR-10_human.pt`` (``--label-file``), the published labels, indexed by the python order. It is
  a torch zip holding numpy arrays; it is read with ``torch.load(weights_only=True)`` and numpy's
  array types allow-listed, so a file holding any other object is refused, never unpickled;
* for ``--labels crowd``: ``side_info_cifar10N.csv`` (``--side-info``), the worker of each answer.

Label sets: ``aggre`` (majority of three, 9% wrong), ``worst`` (a wrong answer whenever one exists,
40% wrong), ``random1..3`` (one worker's answers, 17–18% wrong), ``crowd`` (all three answers with
their workers, one annotation each, for ``--crowd model|majority|dawid-skene|glad``,
``--method crowd-layer`` and workers.csv), and
``clean`` (CIFAR-10's own labels: the ceiling; otherwise clean labels are kept for inspection only).

``--features FILE.npz`` trains the MLP heads on precomputed features instead of images: ``X`` with
the 50,000 training rows first (python order), then the 10,000 test rows in the folder layout's
test order (class by class, file order), as the shared copy's
``features/cifar10_kmeans400_pca256.npz``. The test set is always CIFAR-10's 10,000 clean images.
"""
from __future__ import annotations

import csv
import os
import sys

import numpy as np
import torch

from ..data import Dataset
from ..feature_rows import check_features, crowd_dataset
from ..errors import DataError

CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck"]
LABEL_SETS = {"aggre": "aggre_label", "worst": "worse_label", "random1": "random_label1",
              "random2": "random_label2", "random3": "random_label3", "clean": "clean_label",
              "crowd": None}
ANSWERS = ("random_label1", "random_label2", "random_label3")
LABEL_FILE = "CIFAR-10_human.pt"
SIDE_INFO = "side_info_cifar10N.csv"
PYTHON_LAYOUT = "cifar-10-batches-py"
ARCHS = ("cifar-resnet18", "cifar-resnet34")
LAYOUT = (f"DIR/{LABEL_FILE}, DIR/{SIDE_INFO} (for --labels crowd), and the images as "
          f"DIR/{PYTHON_LAYOUT}/ or DIR/images/{{train,test}}/<class>/NNNN.jpg")


def _numpy_safe_globals():
    """The numpy types a pickled numpy array needs, and nothing else."""
    core = getattr(np, "_core", None) or np.core
    allowed = [(core.multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),
               core.multiarray._reconstruct, np.ndarray, np.dtype, (np.dtype, "numpy.dtype")]
    allowed += [t for t in vars(np.dtypes).values() if isinstance(t, type)]
    return allowed


def read_human_labels(path: str) -> dict[str, np.ndarray]:
    """The published label file as ``{name: (N,) int64}``, read without unpickling anything but
    numpy arrays; checked for the keys, equal lengths and labels in 0..9."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file (the CIFAR-10N label file; --label-file FILE)")
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a foreign object, not a torch file, truncated
        raise DataError(f"{path}: cannot read as the CIFAR-10N label file; only numpy arrays are "
                        f"allowed in it ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a dict of label arrays, got {type(raw).__name__}")
    need = ["clean_label", "aggre_label", "worse_label", *ANSWERS]
    missing = [k for k in need if k not in raw]
    if missing:
        raise DataError(f"{path}: missing {', '.join(missing)} (found {', '.join(map(str, raw))})")
    out = {}
    for k in need:
        a = np.asarray(raw[k])
        if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
            raise DataError(f"{path}: '{k}' must be a 1-D integer array, got {a.shape} {a.dtype}")
        if len(a) and (a.min() < 0 or a.max() >= len(CLASS_NAMES)):
            raise DataError(f"{path}: '{k}' holds labels outside 0..9")
        out[k] = a.astype(np.int64)
    if len({len(a) for a in out.values()}) != 1:
        raise DataError(f"{path}: the label arrays differ in length")
    return out


def read_side_info(path: str, n: int) -> np.ndarray:
    """(n, 3) worker id of each of the three answers (``random_label1..3``) per training image,
    from the published CSV whose row ``a--b`` names the workers of images a..b."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file (CIFAR-10N's worker table, needed by "
                        "--labels crowd; --side-info FILE)")
    workers = np.full((n, 3), -1, dtype=np.int64)
    cols = ["Image-batch", "Worker1-id", "Worker2-id", "Worker3-id"]
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in cols if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: needs columns {', '.join(cols)} (missing "
                            f"{', '.join(missing)})")
        for row in reader:
            try:
                lo, hi = (int(v) for v in row["Image-batch"].split("--"))
                ids = [int(row[c]) for c in cols[1:]]
            except (ValueError, AttributeError):
                raise DataError(f"{path}, line {reader.line_num}: expected 'a--b' and integer "
                                "worker ids") from None
            if not 0 <= lo <= hi < n or min(ids) < 0:
                raise DataError(f"{path}, line {reader.line_num}: images {lo}--{hi} or worker ids "
                                f"out of range (images 0..{n - 1}, ids >= 0)")
            workers[lo:hi + 1] = ids
    unnamed = np.flatnonzero((workers < 0).any(1))
    if len(unnamed):
        raise DataError(f"{path}: no worker for training image {unnamed[0]} "
                        f"({len(unnamed)} image(s) in all)")
    return workers


def _decode(paths: list[str], desc: str) -> torch.Tensor:
    """The RGB images at ``paths`` as one (N, 3, H, W) uint8 tensor (PIL, with a progress bar)."""
    from PIL import Image
    from tqdm import tqdm

    out = []
    for p in tqdm(paths, desc=desc, unit="img", file=sys.stderr, disable=None, leave=False,
                  mininterval=2.0):
        try:
            with Image.open(p) as im:
                out.append(np.asarray(im.convert("RGB")))
        except Exception as e:  # missing, truncated, not an image
            raise DataError(f"{p}: cannot read image ({type(e).__name__}: {e})") from None
    shapes = {a.shape for a in out}
    if len(shapes) > 1:
        raise DataError(f"{desc}: images differ in size ({', '.join(map(str, sorted(shapes)))})")
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()


def folder_images(root: str, clean: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """(train uint8 (N, 3, H, W) in the python order, test uint8, test labels) from
    ``images/{train,test}/<class>/NNNN.jpg``; training image i is file number rank(i) of folder
    ``clean[i]``, its rank among the images of that class."""
    base = os.path.join(root, "images")
    files = {}
    for split in ("train", "test"):
        files[split] = []
        for c, name in enumerate(CLASS_NAMES):
            folder = os.path.join(base, split, name)
            if not os.path.isdir(folder):
                raise DataError(f"{folder}: missing (--data cifar10n expects {LAYOUT})")
            names = sorted(f for f in os.listdir(folder) if f.lower().endswith(".jpg"))
            files[split].append([os.path.join(folder, f) for f in names])
    train_paths = []
    rank = np.zeros(len(CLASS_NAMES), dtype=np.int64)
    for i, c in enumerate(clean):
        if rank[c] >= len(files["train"][c]):
            raise DataError(f"{os.path.join(base, 'train', CLASS_NAMES[c])}: holds "
                            f"{len(files['train'][c])} images, but the label file has more "
                            f"training images of class {CLASS_NAMES[c]} (image {i})")
        train_paths.append(files["train"][c][rank[c]])
        rank[c] += 1
    counts = np.array([len(f) for f in files["train"]])
    if (counts != rank).any():
        c = int(np.flatnonzero(counts != rank)[0])
        raise DataError(f"{os.path.join(base, 'train', CLASS_NAMES[c])}: {counts[c]} images, but "
                        f"the label file has {rank[c]} of class {CLASS_NAMES[c]}")
    test_paths = [p for per_class in files["test"] for p in per_class]
    y_test = np.repeat(np.arange(len(CLASS_NAMES)), [len(f) for f in files["test"]])
    return (_decode(train_paths, "cifar10n train images"),
            _decode(test_paths, "cifar10n test images"), y_test)


def python_images(root: str) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    """(train uint8 (N, 3, 32, 32), test uint8, train labels, test labels) through torchvision."""
    from torchvision.datasets import CIFAR10

    sets = []
    for train in (True, False):
        try:
            d = CIFAR10(root, train=train, download=False)
        except RuntimeError as e:  # torchvision: "Dataset not found or corrupted"
            raise DataError(f"{os.path.join(root, PYTHON_LAYOUT)}: {e} (torchvision checks each "
                            "batch file against the published MD5)") from None
        sets.append((torch.from_numpy(np.ascontiguousarray(d.data)).permute(0, 3, 1, 2)
                     .contiguous(), np.asarray(d.targets, dtype=np.int64)))
    (x_tr, y_tr), (x_te, y_te) = sets
    return x_tr, x_te, y_tr, y_te


def _file(data, option: str, default: str) -> str:
    """``--label-file``/``--side-info`` when given, else ``default`` in ``--root``."""
    return getattr(data, option) or os.path.join(data.root, default)


def load_cifar10n(data, images, runtime) -> Dataset:
    """CIFAR-10N with ``--labels`` as the training labels (module docstring). The split is
    CIFAR-10's own: the seed is not read."""
    if data.noise_rate:
        raise DataError("--data cifar10n carries real human noise; --noise-rate must be 0")
    if not data.root or not os.path.isdir(data.root):
        raise DataError(f"--data cifar10n needs --root DIR ({LAYOUT}); got {data.root!r}")
    if data.labels not in LABEL_SETS:
        raise DataError(f"--labels {data.labels!r}: known label sets are {', '.join(LABEL_SETS)}")
    if data.features is None and images.arch not in ARCHS:
        raise DataError(f"--data cifar10n trains on the images with --arch {' or --arch '.join(ARCHS)}"
                        f", or on precomputed features with --features FILE.npz (got --arch "
                        f"{images.arch})")
    if data.features is not None and images.arch != "mlp":
        raise DataError(f"--features trains the MLP heads; use --arch mlp (got --arch {images.arch})")
    labels = read_human_labels(_file(data, "label_file", LABEL_FILE))
    clean = labels["clean_label"]
    n = len(clean)
    if data.labels == "crowd":
        workers = read_side_info(_file(data, "side_info", SIDE_INFO), n)
        answers = np.stack([labels[k] for k in ANSWERS], 1)  # (n, 3)
        annotations = np.stack([np.repeat(np.arange(n), 3), workers.reshape(-1),
                                answers.reshape(-1)], 1)
    else:
        annotations = np.stack([np.arange(n), np.zeros(n, np.int64),
                                labels[LABEL_SETS[data.labels]]], 1)
    if data.features is not None:
        x, y_test = _features(data.features, clean)
        pixels, train_rows, test_rows = None, x[:n], x[n:]
    else:
        pixels, y_test = _images(data.root, clean)
        train_rows = np.arange(n, dtype=np.float32)[:, None]
        test_rows = np.arange(len(y_test), dtype=np.float32)[:, None]
    loaded = _dataset(train_rows, test_rows, annotations, clean, y_test,
                      standardize=pixels is None, crowd=data.labels == "crowd")
    loaded.pixels, loaded.image_shape = pixels, (32, 32, 3)
    return loaded


def _features(path: str, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``X`` of the features file (training rows first), checked against the label file."""
    if not os.path.isfile(path):
        raise DataError(f"--features {path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as f:
            x = f["X"]
            y_clean = f["y_clean"] if "y_clean" in f.files else None
    except KeyError:
        raise DataError(f"--features {path}: missing key 'X' (rows: training images, then test "
                        "images)") from None
    except Exception as e:
        raise DataError(f"--features {path}: cannot read as .npz ({type(e).__name__}: {e})") from None
    check_features(x, f"--features {path}")
    n = len(clean)
    if len(x) <= n:
        raise DataError(f"--features {path}: X has {len(x)} rows; expected the {n} training rows "
                        "followed by the test rows")
    if y_clean is None:
        raise DataError(f"--features {path}: missing key 'y_clean' (the clean label of every row, "
                        "used to check the rows line up with the label file)")
    if len(y_clean) != len(x) or not np.array_equal(y_clean[:n], clean):
        raise DataError(f"--features {path}: its training rows do not line up with the label "
                        "file's clean labels (rows must follow CIFAR-10's python order)")
    return x, np.asarray(y_clean[n:], dtype=np.int64)


def _images(root: str, clean: np.ndarray):
    from .tensor_images import TensorPixels

    if os.path.isdir(os.path.join(root, PYTHON_LAYOUT)):
        x_tr, x_te, y_tr, y_te = python_images(root)
        if len(y_tr) != len(clean) or not np.array_equal(y_tr, clean):
            raise DataError(f"{os.path.join(root, PYTHON_LAYOUT)}: its training labels do not "
                            "match the label file's clean labels (another copy of CIFAR-10?)")
    elif os.path.isdir(os.path.join(root, "images")):
        x_tr, x_te, y_te = folder_images(root, clean)
    else:
        raise DataError(f"--root {root}: no images found (--data cifar10n expects {LAYOUT})")
    return TensorPixels(train=x_tr, test=x_te), y_te


def _dataset(x_train, x_test, annotations, clean, y_test, standardize: bool, crowd: bool
             ) -> Dataset:
    """Training items 0..n-1, test items n..n+m-1 of one crowd table (test items carry none)."""
    n = len(clean)
    x = np.concatenate([x_train, x_test]).astype(np.float32)
    y_true = np.concatenate([clean, y_test])
    data = crowd_dataset("cifar10n", x, annotations, y_true, np.arange(n),
                         np.arange(n, n + len(y_test)), list(CLASS_NAMES), where="cifar10n")
    if not standardize:  # image rows, not features
        data.x_train, data.x_test = np.asarray(x_train, np.float32), np.asarray(x_test, np.float32)
        data.feature_scale = None
    if not crowd:  # one answer per image, from no one worker
        data.ann_worker = np.full(data.num_annotations, -1)
    return data


__all__ = ["load_cifar10n", "read_human_labels", "read_side_info"]
