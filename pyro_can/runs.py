"""Run folders: everything a run leaves behind, written atomically.

    RUN/config.json      every option resolved against the data, and its format_version
                         (enough to rebuild the data and the nets; read back, never re-resolved)
    RUN/train_data.npz   the training labels the run saw (noisy annotations, corruption mask, ids)
    RUN/checkpoint.pt    networks, optimizer, scheduler and RNG state after the last full epoch
    RUN/history.csv      one row per epoch: loss, ELBO terms, schedule values, test mAP
    RUN/model.pt, model.json, posterior.npz   the finished run's classifier with its
                         preprocessing, and its training items' posterior (``artifact.py``)
    RUN/metrics.json     final metrics; its presence marks the run as finished

Each file is written to a temporary name in the same folder, fsynced and renamed, so a killed run
never leaves a half-written file.

Every command that reads a run folder (``evaluate``, ``inspect``, ``labels``, ``fit --resume``,
``CANClassifier.load``) reads it through ``run_folder.RunFolder``, which reads each file through
``read_config``/``read_json``/``read_checkpoint``/``read_npz`` here: a missing, truncated, unparsable or foreign file is one ``RunFolderError``
naming the file and the fix, and checkpoints are never unpickled (``weights_only=True``).
"""
from __future__ import annotations

import csv
import io
import json
import os
import contextlib
import tempfile
from pathlib import Path

import numpy as np
import torch

from . import safe_io
from .errors import OptionError, RunFolderError

CONFIG, METRICS, HISTORY, CHECKPOINT, TRAIN_DATA = (
    "config.json", "metrics.json", "history.csv", "checkpoint.pt", "train_data.npz")


def _atomic_write(path: Path, write, role: str = "run") -> None:
    safe_io.write(path, write, role)


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


def save_with(path: Path, write, role: str = "run") -> None:
    """``write(fh)`` into ``path``, atomically (an exporter's own writer)."""
    _atomic_write(Path(path), write, role)


def write_text(path: Path, text: str, role: str = "run") -> None:
    _atomic_write(Path(path), lambda fh: fh.write(text.encode()), role)


def save_torch(path: Path, obj, role: str = "run") -> None:
    _atomic_write(Path(path), lambda fh: torch.save(obj, fh), role)


def save_npz(path: Path, role: str = "run", **arrays) -> None:
    _atomic_write(Path(path), lambda fh: np.savez_compressed(fh, **arrays), role)


def damaged(path: Path, problem: str) -> RunFolderError:
    run = Path(path).parent
    return RunFolderError(f"{path}: {problem}; the run folder is damaged or not pyro-can's: "
                          f"re-run it (pyro-can fit ... --out {run} --overwrite)")


def _exists(path: Path) -> Path:
    path = Path(path)
    if not path.parent.is_dir():
        raise RunFolderError(f"{path.parent}: no such run folder")
    if not path.is_file():
        raise damaged(path, "missing")
    return path


def read_json(path: Path, kind: type = dict):
    """A run folder's JSON file, which must hold a ``kind`` (an object)."""
    path = _exists(path)
    try:
        with open(path, encoding="utf-8") as fh:
            obj = json.load(fh)
    except (OSError, UnicodeDecodeError, ValueError) as e:  # JSONDecodeError is a ValueError
        raise damaged(path, f"not readable as JSON ({type(e).__name__}: {e})") from None
    if not isinstance(obj, kind):
        raise damaged(path, f"holds a {type(obj).__name__}, expected a JSON object")
    return obj


def write_config(run_dir, cfg) -> None:
    """``config.json``: the resolved config (``Config.resolve``) and its ``format_version``."""
    from .config import FORMAT_VERSION

    if cfg.unresolved():  # a programming error, not a user's: never store "auto"
        raise ValueError(f"config not resolved: {', '.join(cfg.unresolved())}")
    write_json(Path(run_dir) / CONFIG, {"format_version": FORMAT_VERSION, **cfg.to_dict()})


def old_format(path: Path, what: str) -> RunFolderError:
    run = Path(path).parent
    return RunFolderError(f"{path}: {what}; the run folder was written by an older pyro-can, "
                          f"whose config.json kept data-dependent options unresolved: re-run it "
                          f"(pyro-can fit ... --out {run} --overwrite)")


def read_config(run_dir) -> "Config":  # noqa: F821
    """The run's ``config.json`` as a checked, resolved Config (every field by its rule), read
    back as it was resolved at fit time, never re-resolved. A folder of an older format (no
    ``format_version``, or ``auto``/``null`` values left) is one RunFolderError saying so."""
    from .config import FORMAT_VERSION, Config

    path = require(run_dir, CONFIG)
    d = dict(read_json(path))
    version = d.pop("format_version", None)
    if version is None:
        raise old_format(path, "no format_version")
    if version != FORMAT_VERSION:
        raise damaged(path, f"format_version is {version!r}, this pyro-can reads "
                            f"{FORMAT_VERSION}")
    try:
        cfg = Config.from_dict(d).validate()
    except (OptionError, TypeError) as e:
        raise damaged(path, str(e)) from None
    if cfg.unresolved():
        raise old_format(path, f"{', '.join(cfg.unresolved())} not resolved")
    return cfg


def read_checkpoint(run_dir, device="cpu") -> dict:
    """``checkpoint.pt`` loaded without unpickling (``weights_only=True``: tensors, numbers,
    strings and containers only) and checked to be a trainer's state."""
    path = _exists(Path(run_dir) / CHECKPOINT)
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # zip, unpickler and storage errors alike: the file is unusable
        raise damaged(path, f"not a readable checkpoint ({type(e).__name__}: "
                       f"{str(e).splitlines()[0] if str(e) else ''})") from None
    missing = [k for k in ("epoch", "nets", "optimizer", "scheduler", "history", "rng")
               if not isinstance(state, dict) or k not in state]
    if missing:
        raise damaged(path, f"not a pyro-can checkpoint (no {', '.join(missing)})")
    if not isinstance(state["epoch"], int) or state["epoch"] < 0:
        raise damaged(path, f"epoch is {state['epoch']!r}, expected a count of epochs")
    if not isinstance(state["history"], list) or not all(isinstance(r, dict)
                                                         for r in state["history"]):
        raise damaged(path, "history is not a list of per-epoch records")
    return state


def damaged_checkpoint(run_dir, error: Exception) -> RunFolderError:
    """The error for a checkpoint that loads but does not fit the run's networks."""
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return damaged(Path(run_dir) / CHECKPOINT, f"does not match the run's networks ({first})")


def read_npz(path: Path, keys: tuple[str, ...]) -> dict:
    """A run folder's arrays (no pickles), which must hold ``keys``."""
    path = _exists(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as e:  # zip errors, truncated members, pickled objects
        raise damaged(path, f"not readable as .npz ({type(e).__name__}: {e})") from None
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise damaged(path, f"missing {', '.join(missing)}")
    return arrays


def check_writable(out) -> Path:
    """Refuse an output folder that cannot be created or written, before any work: a path
    through an existing file, or a parent folder without write permission."""
    path = Path(out)
    if str(out) == "" or "\0" in str(out):
        raise RunFolderError(f"{str(out)!r}: not a folder name")
    if path.exists() and not path.is_dir():
        raise RunFolderError(f"{path}: exists and is not a folder")
    probe = path
    while not probe.exists():  # the nearest existing ancestor must be a writable folder
        if probe.is_symlink():
            raise RunFolderError(f"{probe}: a broken symbolic link")
        probe = probe.parent
    if not probe.is_dir():
        raise RunFolderError(f"{path}: {probe} is a file, not a folder")
    try:  # a real write, not os.access: root passes that on read-only or virtual file systems
        os.rmdir(tempfile.mkdtemp(dir=probe, prefix=".pyro-can-probe-"))
    except OSError as e:
        raise RunFolderError(f"{path}: cannot write in {probe} ({e.strerror or e})") from None
    return path


def prepare(out: str | os.PathLike, overwrite: bool = False, resume: bool = False,
            create: bool = True) -> Path:
    """Check (``create=False``) or create the run folder: one that already holds a run is
    refused unless ``overwrite``, which removes only the files its manifest lists
    (``safe_io.clear``); a folder holding a file named like a run's own that no manifest lists
    is refused. Call it with ``create=True`` inside ``claimed`` (the folder's lock)."""
    path = check_writable(out)
    holds_run = any((path / f).exists() for f in (CONFIG, METRICS, CHECKPOINT))
    if holds_run and not (overwrite or resume):
        raise RunFolderError(f"{path}: already holds a run; use --overwrite to replace it "
                             "or --resume to continue it")
    if path.is_dir() and not resume:
        if overwrite and holds_run:
            if not create:  # before any work; with create, clear below checks the same first
                safe_io.check_clearable(path)  # refused, naming what is not ours
        else:
            mine = safe_io.unlisted_run_files(path)
            if mine:
                raise RunFolderError(f"{path}: holds {', '.join(mine)}, not written by a "
                                     "pyro-can run (no manifest lists them); pyro-can never "
                                     "writes over them: choose another --out")
    if not create:
        return path
    if overwrite and holds_run:
        safe_io.clear(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunFolderError(f"{path}: cannot create the folder ({e.strerror or e})") from None
    if safe_io.read_manifest(path) is None:
        safe_io.start_manifest(path)
    return path


@contextlib.contextmanager
def claimed(out, overwrite: bool = False):
    """A run folder created (or cleared, with ``overwrite``) and locked for this process while
    the block writes into it; a folder this call created and left without a run is removed."""
    path = check_writable(out)
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunFolderError(f"{path}: cannot create the folder ({e.strerror or e})") from None
    try:
        with safe_io.lock(path):
            prepare(path, overwrite=overwrite)
            yield path
    except BaseException:
        if created and not (path / CONFIG).exists():
            _remove_if_only_manifest(path)
        raise


def _remove_if_only_manifest(path: Path) -> None:
    with contextlib.suppress(OSError):
        if {p.name for p in path.iterdir()} <= {safe_io.MANIFEST}:
            (path / safe_io.MANIFEST).unlink(missing_ok=True)
            path.rmdir()


def claim_default(cfg, base: str | os.PathLike = "runs") -> Path:
    """Create and return runs/<data>-<method>-<n> for the first free n. ``os.mkdir`` either
    creates a folder or fails, so two fits started at once never get the same one."""
    base = check_writable(base)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunFolderError(f"{base}: cannot create the folder ({e.strerror or e})") from None
    n = 1
    while True:
        path = base / f"{cfg.data}-{cfg.method}-{n}"
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            n += 1
        except OSError as e:
            raise RunFolderError(f"{path}: cannot create the folder ({e.strerror or e})") \
                from None


def require(path: Path, name: str) -> Path:
    """``path/name``, which marks ``path`` as a run folder."""
    if not Path(path).is_dir():
        raise RunFolderError(f"{path}: no such run folder")
    f = Path(path) / name
    if not f.is_file():
        raise RunFolderError(f"{path}: not a run folder (no {name})")
    return f
