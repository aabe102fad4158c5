"""Score new feature rows with a run's saved classifier (``artifact.load``): the rows are raw, as
in the source data (un-standardized: the run's preprocessing is part of the model), from an
``.npz`` (key ``X``, or its only array), an ``.npy`` or a ``.csv`` of numbers read by ``tables``'
rules (a header row, an ``id`` column kept as the rows' ids, a BOM, quoted fields; an empty
cell or a row of another width refused with its line and column). The output has one row per
input row, in order, named by the input's ids when it has them.

Bad input (an unreadable file, rows of the wrong width, NaN or inf, text in a CSV) is one
``DataError`` naming the file before anything is written, and outputs are written to a temporary
name and renamed (``runs``), so a failed or interrupted ``predict`` never leaves a partial file.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import artifact, metrics, runs, safe_io, tables
from .errors import DataError

BATCH = 4096


def read_rows(path) -> np.ndarray:
    """The feature rows of ``path`` as a float32 (N, D) array, checked finite and non-empty."""
    return read_rows_and_ids(path)[0]


def read_rows_and_ids(path) -> tuple[np.ndarray, list[str] | None]:
    """``read_rows`` and the input's own row ids from the same read: a CSV's ``id`` column, an
    .npz's ``id`` array (as ``labels`` writes); None when it has none (rows are then numbered
    from 0)."""
    path = Path(path)
    ids = None
    if path.is_dir():
        raise DataError(f"{path}: a folder; the run's classifier reads feature rows from an "
                        ".npz, .npy or .csv file (a folder of images needs a run trained on "
                        "images)")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    kind = path.suffix.lower()
    if kind == ".npz":
        x, ids = _npz_rows(path)
    elif kind == ".npy":
        try:
            x = np.load(path, allow_pickle=False)
        except Exception as e:  # pickled objects, truncated files, not .npy
            raise DataError(f"{path}: cannot read as .npy ({type(e).__name__}: {e})") from None
    elif kind == ".csv":
        x, ids = tables.read_numbers(path)
    else:
        raise DataError(f"{path}: unknown input type {kind or '(no suffix)'!r}; expected .npz, "
                        ".npy or .csv")
    if x.ndim == 1 and len(x):
        x = x[None, :]
    if x.ndim != 2:
        raise DataError(f"{path}: expected a 2-D array (rows × features), got shape {x.shape}")
    if len(x) == 0:
        raise DataError(f"{path}: no rows")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise DataError(f"{path}: features must be numbers, got dtype {x.dtype}")
    x = x.astype(np.float32)
    bad = np.flatnonzero(~np.isfinite(x).all(1))
    if len(bad):
        raise DataError(f"{path}: row {bad[0]} holds NaN or inf ({len(bad)} such row(s)); "
                        "expected finite numbers")
    return x, ids


def _npz_rows(path: Path) -> tuple[np.ndarray, list[str] | None]:
    """The rows (``X``, or the one array) and, beside an ``X``, its ``id`` array if it has one
    per row."""
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = list(f.files)
            if "X" in keys:
                x = f["X"]
                ids = f["id"] if "id" in keys else None
                if ids is not None and ids.shape == (len(x),):
                    return x, [str(v) for v in ids.tolist()]
                return x, None
            if len(keys) == 1:
                return f[keys[0]], None
    except Exception as e:  # zip errors, pickled objects, truncated members
        raise DataError(f"{path}: cannot read as .npz ({type(e).__name__}: {e})") from None
    raise DataError(f"{path}: no key 'X' (found: {', '.join(keys) or 'none'}); put the feature "
                    "rows under X")


@torch.no_grad()
def probabilities(predictor, x: np.ndarray, on_batch: Callable[[int], None] | None = None
                  ) -> np.ndarray:
    """``predictor`` on ``x`` in batches; ``on_batch(rows)`` after each (a progress bar)."""
    out = []
    for start in range(0, len(x), BATCH):
        out.append(predictor(torch.as_tensor(x[start:start + BATCH])).numpy())
        if on_batch is not None:
            on_batch(len(out[-1]))
    return np.concatenate(out).astype(np.float64)


def predict(run_dir, input_path, on_batch: Callable[[int], None] | None = None,
            on_start: Callable[[int], None] | None = None) -> dict:
    """Class probabilities (N, C) and the predicted class of every row of ``input_path``:
    single-label, the most probable class; multi-label, every class with probability > 0.5.
    ``on_start(rows)`` is called once the input is read and checked."""
    predictor, spec = artifact.load(run_dir)
    if spec["preprocessing"] == artifact.IMAGES:
        return _predict_images(predictor, spec, run_dir, input_path, on_batch, on_start)
    x, ids = read_rows_and_ids(input_path)
    width = spec["in_features"]
    if x.shape[1] != width:
        raise DataError(f"{input_path}: rows have {x.shape[1]} features; the run's classifier "
                        f"reads {width} (as its training data)")
    if on_start is not None:
        on_start(len(x))
    probs = probabilities(predictor, x, on_batch)
    out = {"probabilities": probs, "class_names": spec["class_names"],
           "single_label": spec["single_label"]}
    if ids is not None:
        out["ids"] = ids
    return out


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
IMAGE_BATCH = 32


def image_files(folder) -> list[str]:
    """Every image file under ``folder`` (by suffix, recursively), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: the run's classifier reads images: give --input a folder "
                        "of image files")
    paths = sorted(str(p) for p in folder.rglob("*")
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not paths:
        raise DataError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    return paths


@torch.no_grad()
def _predict_images(predictor, spec, run_dir, folder, on_batch, on_start) -> dict:
    """A folder of images through the run's prediction view (``image_view``: the centre crop,
    as its test images were scored), every file checked readable before any is scored."""
    from .datasets.image_files import ImageFiles, raise_unreadable
    from .datasets.pixels import check_readable

    paths = image_files(folder)
    check_readable(paths)
    if on_start is not None:
        on_start(len(paths))
    size = spec["image"]["centre_crop"]
    data = ImageFiles(paths, image_view(spec), (3, size, size))
    out = []
    for x, idx, errors in torch.utils.data.DataLoader(data, batch_size=IMAGE_BATCH):
        raise_unreadable(paths, idx, errors)
        out.append(predictor(x).numpy())
        if on_batch is not None:
            on_batch(len(x))
    root = Path(folder)
    return {"probabilities": np.concatenate(out).astype(np.float64),
            "class_names": spec["class_names"], "single_label": spec["single_label"],
            "files": [str(Path(p).relative_to(root)) for p in paths]}


def image_view(spec: dict):
    """The geometry of an image run's view (model.json's ``image``) on an RGB image: short side
    resized, centre crop, pixel values 0..255 as float32 (3, H, W); the predictor normalizes
    them itself. What a user of an exported model writes in torchvision: ``v2.Compose([
    v2.ToImage(), v2.Resize(224), v2.CenterCrop(224), v2.ToDtype(torch.float32)])`` (32 for a
    CIFAR run) on ``PIL.Image.open(f).convert("RGB")``."""
    from torchvision.transforms import v2

    from .backbones import centre_geometry

    view = spec["image"]
    return v2.Compose([*centre_geometry(view["resize"], view["centre_crop"]),
                       v2.ToDtype(torch.float32)])


def predicted_labels(result: dict) -> list[str]:
    names, probs = result["class_names"], result["probabilities"]
    if result["single_label"]:
        return [names[c] for c in probs.argmax(1)]
    return ["+".join(names[c] for c in np.flatnonzero(row > 0.5)) for row in probs]


def write(result: dict, out) -> Path:
    """``out``: ``.npz`` (``probabilities``, ``predicted`` class index (single-label) or 0/1
    matrix (multi-label), ``class_names``) or ``.csv`` (``row``, ``predicted``, ``p_<class>``)."""
    out = safe_io.check_output(out)
    probs = result["probabilities"]
    if out.suffix.lower() == ".npz":
        predicted = (probs.argmax(1) if result["single_label"]
                     else (probs > 0.5).astype(np.int64))
        extra = {k: np.asarray(result[k]) for k in ("files", "ids") if k in result}
        runs.save_npz(out, role=safe_io.OUTPUT, probabilities=probs.astype(np.float32), predicted=predicted,
                      class_names=np.asarray(result["class_names"]), **extra)
        return out
    if out.suffix.lower() != ".csv":
        raise DataError(f"{out}: write predictions to a .csv or .npz file")
    runs.write_text(out, csv_text(result), role=safe_io.OUTPUT)
    return out


def csv_text(result: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    names = result.get("files") or result.get("ids")
    head = "file" if "files" in result else "id" if "ids" in result else "row"
    w.writerow([head, "predicted", *(f"p_{c}" for c in result["class_names"])])
    for i, (label, row) in enumerate(zip(predicted_labels(result), result["probabilities"])):
        w.writerow([names[i] if names else i, label, *(f"{v:.6g}" for v in row)])
    return buf.getvalue()


def class_indices(values, class_names: list[str], where: str) -> np.ndarray:
    """Each label as an index into the run's classes: by class name first (a run trained on
    codes such as 101, 205, 309 names its classes by them), else, for a run whose classes are
    not all named by integers, as an index 0..C-1. Anything else is refused."""
    names = [str(c) for c in class_names]
    by_name = {n: i for i, n in enumerate(names)}
    numeric_names = all(n.lstrip("-").isdigit() for n in names)
    out = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        text = str(v).strip()
        if text in by_name:
            out[i] = by_name[text]
        elif not numeric_names and text.isdigit() and int(text) < len(names):
            out[i] = int(text)
        else:
            shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
            raise DataError(f"{where}: row {i}: label {text!r} is not one of the run's "
                            f"{len(names)} classes ({shown})")
    return out


def read_labelled(path, class_names: list[str], width: int, single_label: bool = True
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows and their labels, checked against the run (classes, label kind, feature
    count) before anything is scored: an ``.npz`` as ``--data npz`` reads it (``X`` and ``y``
    class labels or ``Y`` 0/1 matrix) or a ``.csv`` with a ``label`` column (``tables``).
    Returns the rows (N, D) and a 0/1 (N, C) label matrix."""
    path = Path(path)
    c = len(class_names)
    if path.suffix.lower() == ".csv":
        x, texts, _ = tables.read_labelled(path)
        if not single_label:
            raise DataError(f"{path}: the run is multi-label; give an .npz with a 0/1 'Y' "
                            f"matrix of {c} columns")
        y = np.eye(c, dtype=np.float32)[class_indices(texts, class_names, str(path))]
        _check_width(path, x, width)
        return x.astype(np.float32), y
    if path.suffix.lower() != ".npz" or not path.is_file():
        raise DataError(f"{path}: evaluate --input needs an .npz file with X and y (or Y), or "
                        "a .csv with a 'label' column")
    x = read_rows(path)
    with np.load(path, allow_pickle=False) as f:
        labels = {k: f[k] for k in ("y", "Y") if k in f.files}
    if "Y" in labels:
        y = labels["Y"]
        if y.shape != (len(x), c) or not np.isin(y, (0, 1)).all():
            raise DataError(f"{path}: 'Y' must be a 0/1 matrix of shape ({len(x)}, {c})")
        if single_label and not (y.sum(1) == 1).all():
            raise DataError(f"{path}: 'Y' has rows with other than one class on, but the run "
                            "is single-label; give one class per row (or 'y')")
        y = y.astype(np.float32)
    elif "y" in labels:
        lab = labels["y"]
        if lab.shape != (len(x),) or not np.issubdtype(lab.dtype, np.integer):
            raise DataError(f"{path}: 'y' must hold {len(x)} integer class labels")
        if not single_label:
            raise DataError(f"{path}: the run is multi-label; give a 0/1 'Y' matrix of {c} "
                            "columns")
        y = np.eye(c, dtype=np.float32)[class_indices(lab.tolist(), class_names, str(path))]
    else:
        raise DataError(f"{path}: missing labels: need key 'y' (int labels) or 'Y' (0/1 matrix)")
    _check_width(path, x, width)
    return x, y


def _check_width(path, x, width: int) -> None:
    if x.shape[1] != width:
        raise DataError(f"{path}: rows have {x.shape[1]} features; the run's classifier reads "
                        f"{width}")


def evaluate_file(run_dir, input_path) -> dict:
    """The run's classifier scored on a labelled file (any run, an estimator's included)."""
    predictor, spec = artifact.load(run_dir)
    if spec["preprocessing"] == artifact.IMAGES:
        raise DataError(f"{run_dir}: an image run; evaluate --input reads feature rows. Score "
                        f"it on its own test set (pyro-can evaluate {run_dir}), or predict a "
                        f"folder of images (pyro-can predict {run_dir} --input DIR)")
    x, y = read_labelled(input_path, spec["class_names"], spec["in_features"],
                         spec["single_label"])
    probs = probabilities(predictor, x)
    out = metrics.score(y, probs, spec["class_names"], spec["single_label"])
    out["input"] = os.fspath(input_path)
    out["items"] = len(x)
    return out
