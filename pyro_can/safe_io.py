"""Every file pyro-can writes goes through here, so that three promises hold by construction:

* **atomic**: a file is written to a temporary name in its own folder, fsynced and renamed
  (``os.replace``): an interrupted command leaves the old file or the new one, never half of one;
* **owned**: a run folder keeps ``manifest.json``, every file the run (or a later command) wrote
  there with its size and SHA-256, and the sub-folders pyro-can created. ``--overwrite``
  (``clear``) removes only listed files whose bytes still match and refuses a folder that holds
  anything else, naming it; outputs (``predict``/``export``/``labels --out``) never replace a
  run's own files (``check_output``);
* **exclusive**: ``lock`` makes one process at a time train into a folder (``.pyro-can.lock``,
  holding the owner's PID and host; a lock left by a dead process is taken over).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import tempfile
from pathlib import Path

from .errors import RunFolderError

MANIFEST = "manifest.json"
LOCK = ".pyro-can.lock"
MANIFEST_VERSION = 1
#: files a run folder's own commands write (fit, CANClassifier.save, inspect): never an output's
RUN_FILES = ("config.json", "metrics.json", "history.csv", "checkpoint.pt", "train_data.npz",
             "model.pt", "model.json", "posterior.npz", "workers.csv", "estimator.json",
             MANIFEST, LOCK)
#: sub-folders of a run that pyro-can's own commands create (``inspect``)
RUN_DIRS = ("inspect",)
OUTPUT = "output"  # the role of a file a user named (predict/export/labels --out)

_UMASK = os.umask(0)
os.umask(_UMASK)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _replace(path: Path, write) -> None:
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


def write(path, write_to, role: str = "run") -> None:
    """``write_to(fh)`` into ``path`` atomically, then record it in the manifest of the run
    folder it lies in (its folder, or the run above a run's own sub-folder), if any."""
    path = Path(path)
    try:
        _replace(path, write_to)
        _record(path, role)
    except OSError as e:  # disk full, folder removed or made read-only under a running fit
        raise RunFolderError(f"{path}: cannot write ({e.strerror or e})") from None


def write_bytes(path, data: bytes, role: str = "run") -> None:
    write(path, lambda fh: fh.write(data), role)


# -- the manifest --------------------------------------------------------------------------------
def _empty() -> dict:
    return {"manifest_version": MANIFEST_VERSION, "files": {}, "dirs": []}


def read_manifest(folder) -> dict | None:
    """``folder/manifest.json`` checked, or None when there is none."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
        ok = (isinstance(m, dict) and m.get("manifest_version") == MANIFEST_VERSION
              and isinstance(m.get("files"), dict) and isinstance(m.get("dirs"), list)
              and all(isinstance(k, str) and isinstance(v, dict)
                      and isinstance(v.get("size"), int) and isinstance(v.get("sha256"), str)
                      for k, v in m["files"].items())
              and all(isinstance(d, str) for d in m["dirs"]))
    except (OSError, UnicodeDecodeError, ValueError):
        ok = False
    if not ok:
        raise RunFolderError(f"{path}: damaged or not pyro-can's manifest, so pyro-can cannot "
                             f"tell which files in {folder} it wrote; remove the folder yourself "
                             "or choose another --out")
    return m


def _save_manifest(folder: Path, m: dict) -> None:
    text = json.dumps(m, indent=1, sort_keys=True) + "\n"
    _replace(folder / MANIFEST, lambda fh: fh.write(text.encode()))


def start_manifest(folder) -> None:
    """An empty manifest in a new (or just cleared) run folder."""
    _save_manifest(Path(folder), _empty())


def _owner(path: Path) -> tuple[Path, str] | None:
    """The run folder whose manifest lists ``path``, and its name there."""
    parent = path.parent
    if (parent / MANIFEST).is_file():
        return parent, path.name
    top = parent.parent
    if (top / MANIFEST).is_file():
        m = read_manifest(top)
        if parent.name in m["dirs"]:
            return top, f"{parent.name}/{path.name}"
    return None


def _record(path: Path, role: str) -> None:
    owner = _owner(path)
    if owner is None or path.name == MANIFEST:
        return
    folder, name = owner
    m = read_manifest(folder)
    m["files"][name] = {"size": path.stat().st_size, "sha256": _sha256(path), "role": role}
    _save_manifest(folder, m)


def forget(path) -> None:
    """Remove a file pyro-can wrote (a stale figure, a run's old ``metrics.json``) and its entry."""
    path = Path(path)
    path.unlink(missing_ok=True)
    owner = _owner(path)
    if owner is not None:
        folder, name = owner
        m = read_manifest(folder)
        if m["files"].pop(name, None) is not None:
            _save_manifest(folder, m)


def make_dir(run_dir, name: str) -> Path:
    """``run_dir/name`` (a run's own sub-folder such as ``inspect``), recorded as pyro-can's.
    An existing folder of that name that pyro-can did not create is refused (its files are not
    pyro-can's to replace)."""
    run_dir = Path(run_dir)
    path = run_dir / name
    m = read_manifest(run_dir)
    if m is None:
        path.mkdir(exist_ok=True)
        return path
    if name not in m["dirs"]:
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise RunFolderError(f"{path}: exists and was not created by pyro-can; move it "
                                 "away, its files are not pyro-can's to replace")
        path.mkdir(exist_ok=True)
        m["dirs"].append(name)
        _save_manifest(run_dir, m)
    path.mkdir(exist_ok=True)
    return path


def _is_temp(name: str) -> bool:
    """A temporary file ``_replace`` leaves when killed mid-write (``.NAME.XXXXXXXX.tmp``)."""
    return name.startswith(".") and name.endswith(".tmp")


def changed_since_written(path) -> bool:
    """Whether a file the folder's manifest lists no longer holds the bytes pyro-can wrote
    (False for a file it does not list, or a folder without a manifest)."""
    path = Path(path)
    entry = (read_manifest(path.parent) or _empty())["files"].get(path.name)
    if entry is None or not path.is_file():
        return False
    return path.stat().st_size != entry["size"] or _sha256(path) != entry["sha256"]


def foreign(folder) -> tuple[list[str], list[str], list[str]]:
    """What ``clear`` would remove and what it must leave: (pyro-can's files, pyro-can's
    folders, everything else: files not listed or changed since, folders it did not create)."""
    folder = Path(folder)
    m = read_manifest(folder) or _empty()
    ours, dirs, other = [], [], []
    for root, subdirs, files in os.walk(folder):
        rel_root = Path(root).relative_to(folder)
        for d in list(subdirs):
            rel = str(rel_root / d)
            if rel in m["dirs"] and not (Path(root) / d).is_symlink():
                dirs.append(rel)
            else:
                other.append(rel + "/")
                subdirs.remove(d)  # never look into (or remove from) a folder not ours
        for f in files:
            rel = str(rel_root / f) if str(rel_root) != "." else f
            p = Path(root) / f
            if rel in (MANIFEST, LOCK):
                continue
            entry = m["files"].get(rel)
            if entry is not None and not p.is_symlink() and p.stat().st_size == entry["size"] \
                    and _sha256(p) == entry["sha256"]:
                ours.append(rel)
            elif _is_temp(f) and not p.is_symlink() and (
                    rel_root == Path(".") or str(rel_root) in m["dirs"]):
                ours.append(rel)
            else:
                other.append(rel)
    return ours, dirs, other


def _names(items: list[str]) -> str:
    return ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")


def check_clearable(folder) -> tuple[list[str], list[str]]:
    """What ``clear`` removes (pyro-can's files, pyro-can's folders), or the error naming what
    it must not: a folder that holds a run but no manifest (an older pyro-can's, or not
    pyro-can's) is refused as a whole."""
    folder = Path(folder)
    if read_manifest(folder) is None:
        raise RunFolderError(f"{folder}: holds a run but no {MANIFEST} (written by an older "
                             "pyro-can, or not by pyro-can), so --overwrite cannot tell which "
                             "files are pyro-can's; remove the folder yourself or choose "
                             "another --out")
    ours, dirs, other = foreign(folder)
    if other:
        raise RunFolderError(f"{folder}: --overwrite removes only the files pyro-can wrote, "
                             f"and the folder also holds {_names(other)} (not written by "
                             "pyro-can, or changed since); move them away or choose another "
                             "--out")
    return ours, dirs


def clear(folder) -> None:
    """Empty a run folder for ``--overwrite``: only the files its manifest lists, bytes
    unchanged, and the folders pyro-can created go; anything else is refused, named, before
    anything is removed (``check_clearable``)."""
    folder = Path(folder)
    ours, dirs = check_clearable(folder)
    for rel in ours:
        (folder / rel).unlink()
    for rel in sorted(dirs, key=lambda d: -d.count("/")):
        with contextlib.suppress(OSError):  # a folder left non-empty stays
            (folder / rel).rmdir()
    start_manifest(folder)


def unlisted_run_files(folder) -> list[str]:
    """Files in ``folder`` named like a run's own (``RUN_FILES``) that its manifest does not
    list: a folder without a manifest that holds one is not pyro-can's to write into."""
    folder = Path(folder)
    m = read_manifest(folder) or _empty()
    return [n for n in RUN_FILES if n not in (MANIFEST, LOCK) and (folder / n).exists()
            and n not in m["files"]]


def check_output(out, inputs=()) -> Path:
    """Refuse, before any work, an output file (``predict``/``export``/``labels --out``) that
    would replace a run's own file (``model.pt``, ``checkpoint.pt``, ... in a run folder, or a
    file its manifest lists as the run's), one of ``inputs``, or a folder; or whose folder
    cannot be written."""
    out = Path(out)
    if str(out) == "" or "\0" in str(out):
        raise RunFolderError(f"{str(out)!r}: not a file name")
    if out.is_dir():
        raise RunFolderError(f"{out}: a folder; name the file to write")
    folder = out.parent
    owner = _owner(out)
    if owner is not None:
        entry = read_manifest(owner[0])["files"].get(owner[1])
        if (entry is not None and entry.get("role") != OUTPUT) or owner[1] in RUN_FILES:
            raise RunFolderError(f"{out}: a file of the run in {owner[0]}; pyro-can never "
                                 "writes an output over a run's own files: choose another "
                                 "--out")
    elif out.name in RUN_FILES and ((folder / "config.json").is_file()
                                    or (folder / "estimator.json").is_file()):
        raise RunFolderError(f"{out}: a file of the run in {folder}; pyro-can never writes an "
                             "output over a run's own files: choose another --out")
    for p in inputs:
        if p is not None and out.exists() and Path(p).exists() and os.path.samefile(out, p):
            raise RunFolderError(f"{out}: is the input {p}; write the output to another file")
    if not folder.is_dir():
        raise RunFolderError(f"{out}: no folder {folder} to write into")
    try:  # a real write, not os.access: root passes that on read-only file systems
        os.rmdir(tempfile.mkdtemp(dir=folder, prefix=".pyro-can-probe-"))
    except OSError as e:
        raise RunFolderError(f"{out}: cannot write in {folder} ({e.strerror or e})") from None
    return out


# -- one process per folder ----------------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _holder(path: Path) -> dict | None:
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        return d if isinstance(d, dict) and isinstance(d.get("pid"), int) else None
    except (OSError, ValueError, UnicodeDecodeError):
        return None


@contextlib.contextmanager
def lock(folder):
    """Hold ``folder/.pyro-can.lock`` while the block runs: a second process training into
    the same folder fails at once, naming the holder's PID. The lock is created with its
    contents (a hard link of a written file), so it is never seen half-written; a lock whose
    process has died on this host is stale and taken over."""
    folder = Path(folder)
    path = folder / LOCK
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".lock.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(me, fh)
    try:
        for _ in range(3):
            try:
                os.link(tmp, path)
                break
            except FileExistsError:
                held = _holder(path)
                if held is not None and held.get("host") == me["host"] and not _alive(
                        held["pid"]):
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()  # stale: its process is gone
                    continue
                who = (f"process {held['pid']} on {held.get('host')}" if held
                       else "another process")
                raise RunFolderError(f"{folder}: {who} is writing into this folder "
                                     f"({LOCK}); wait for it to finish or choose another "
                                     f"--out (if no such process runs, delete {path})") from None
        else:
            raise RunFolderError(f"{folder}: cannot take {LOCK}; try again")
    finally:
        os.unlink(tmp)
    try:
        yield folder
    finally:
        if _holder(path) == me:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
