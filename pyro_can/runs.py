"""Run folders: everything a run leaves behind, written atomically.

    RUN/config.json      every option (enough to rebuild the data and the nets)
    RUN/train_data.npz   the training labels the run saw (noisy annotations, corruption mask, ids)
    RUN/checkpoint.pt    networks, optimizer, scheduler and RNG state after the last full epoch
    RUN/history.csv      one row per epoch: loss, ELBO terms, schedule values, test mAP
    RUN/metrics.json     final metrics; its presence marks the run as finished

Each file is written to a temporary name in the same folder, fsynced and renamed, so a killed run
never leaves a half-written file.
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from .errors import RunFolderError

_UMASK = os.umask(0)
os.umask(_UMASK)

CONFIG, METRICS, HISTORY, CHECKPOINT, TRAIN_DATA = (
    "config.json", "metrics.json", "history.csv", "checkpoint.pt", "train_data.npz")


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: Path, obj) -> None:
    _atomic_write(Path(path), lambda fh: fh.write(
        (json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n").encode()))


def _jsonable(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def write_csv(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    fields: list[str] = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    w.writerows(rows)
    _atomic_write(Path(path), lambda fh: fh.write(buf.getvalue().encode()))


def save_torch(path: Path, obj) -> None:
    _atomic_write(Path(path), lambda fh: torch.save(obj, fh))


def save_npz(path: Path, **arrays) -> None:
    _atomic_write(Path(path), lambda fh: np.savez_compressed(fh, **arrays))


def read_json(path: Path):
    with open(path) as fh:
        return json.load(fh)


def prepare(out: str | os.PathLike, overwrite: bool = False, resume: bool = False,
            create: bool = True) -> Path:
    """Create the run folder, refusing one that already holds a run unless ``overwrite``
    (``create=False``: only check)."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise RunFolderError(f"{path}: exists and is not a folder")
    holds_run = any((path / f).exists() for f in (CONFIG, METRICS, CHECKPOINT))
    if holds_run and not (overwrite or resume):
        raise RunFolderError(f"{path}: already holds a run; use --overwrite to replace it "
                             "or --resume to continue it")
    if not create:
        return path
    if overwrite and holds_run:
        for f in (CONFIG, METRICS, HISTORY, CHECKPOINT, TRAIN_DATA):
            (path / f).unlink(missing_ok=True)
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_out(cfg) -> Path:
    """runs/<data>-<method>-<n>: the first number not taken."""
    base = Path("runs")
    n = 1
    while (base / f"{cfg.data}-{cfg.method}-{n}").exists():
        n += 1
    return base / f"{cfg.data}-{cfg.method}-{n}"


def require(path: Path, name: str) -> Path:
    f = Path(path) / name
    if not f.exists():
        raise RunFolderError(f"{path}: not a run folder (no {name})")
    return f
