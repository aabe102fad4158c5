"""Grids of runs (``compare`` and ``sweep``): one run folder per cell, resumable, parallel, and the
paper-style summary (results.csv, table.md, a figure).

A cell is finished when its folder holds ``metrics.json``; a finished cell is reused only when
its stored, resolved config equals the one the grid asks for now (and its data is the same),
a started one is resumed under the same condition, so an interrupted grid continues where it
stopped; any other existing cell is refused, naming the options that differ, unless
``--overwrite``. Repeated grid values are refused.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

import numpy as np

from . import runs, safe_io
from .config import Config, flag
from .errors import Interrupted, OptionError, PyroCanError, RunFolderError

RESULT_FIELDS = ("method", "guide", "prior", "crowd", "noise_rate", "seed", "param", "value",
                 "test_mAP", "test_accuracy", "val_noisy_mAP", "val_noisy_accuracy",
                 "val_noisy_answer_nll", "val_noisy_answer_accuracy", "val_clean_mAP",
                 "val_clean_accuracy", "worker_reliability_spearman",
                 "train_given_label_accuracy", "train_cleaned_label_accuracy", "seconds",
                 "run_dir")

# sweep parameters: CLI spelling -> Config field
SWEEP_PARAMS = {"lambda": "lam", "train-fraction": "train_fraction", "noise-rate": "noise_rate",
                "quality-dim": "quality_dim", "kl-z-weight": "kl_z_weight",
                "warmup-epochs": "warmup_epochs", "alpha-max": "alpha_max", "beta": "beta",
                "quality-prior": "quality_prior", "noise-init": "noise_init"}


@dataclasses.dataclass(frozen=True)
class Cell:
    name: str
    cfg: Config
    param: str = ""
    value: object = None


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def distinct(option: str, values) -> None:
    """A grid's values, each once: a repeated seed or method would average copies of one run."""
    seen, repeated = set(), []
    for v in values:
        key = _fmt(v)
        if key in seen and key not in repeated:
            repeated.append(key)
        seen.add(key)
    if repeated:
        raise OptionError(f"{option}: {', '.join(repeated)} given more than once; each value "
                          "runs once (a repeat would count one run as several)")


def grid(base: Config, methods, noise_rates, seeds, param: str = "", values=(None,)) -> list[Cell]:
    distinct("--methods", methods)
    distinct("--noise-rates", noise_rates)
    distinct("--seeds", seeds)
    if param:
        distinct("--values", values)
    cells = []
    field = SWEEP_PARAMS.get(param, param)
    for method in methods:
        for rate in noise_rates:
            for value in values:
                for seed in seeds:
                    changes = {"method": method, "noise_rate": rate, "seed": seed}
                    if field:
                        changes[field] = value
                    cfg = dataclasses.replace(base, **changes)
                    label = f"{method}" + (f"-{cfg.guide}" if method == "can" and
                                           cfg.guide != "can" else "")
                    label += f"-P{_fmt(rate)}" + (f"-{param}{_fmt(value)}" if field else "")
                    cells.append(Cell(f"{label}-s{seed}", cfg.validate(), param, value))
    return cells


#: options that change how a run is computed, not what it computes: a finished cell is reused
#: whatever they were
RUNTIME_ONLY = ("workers",)


def _differences(stored: Config, wanted: Config) -> list[str]:
    a, b = stored.to_dict(), wanted.to_dict()
    return [f"{flag(k)} {_fmt(a[k])} (now {_fmt(b[k])})" for k in b
            if k not in RUNTIME_ONLY and a.get(k) != b[k]]


def plan(cells: list[Cell], out: Path, overwrite: bool = False) -> tuple[dict, list, list]:
    """Every cell checked before the first one trains: its config resolved against its data
    (the trainer built, so option combinations are checked too) and its folder judged. Returns
    ({name: metrics} of finished cells to reuse, cells to resume, cells to (re)train); a
    finished or started cell whose stored config differs from the one asked for now is refused,
    naming the options, unless ``overwrite``."""
    from . import api, artifact
    from .train import Trainer

    reuse, resume, train, conflicts = {}, [], [], []
    for cell in cells:
        try:
            data, val = api.load_data(cell.cfg)
            wanted = Trainer(cell.cfg, data, val).cfg
        except PyroCanError as e:
            raise type(e)(f"cell {cell.name}: {e}") from None
        folder = out / "cells" / cell.name
        if not (folder / runs.CONFIG).is_file():
            train.append(cell)
            continue
        stored = runs.read_config(folder)
        diff = _differences(stored, wanted)
        if not diff and (folder / runs.METRICS).is_file():
            try:
                artifact.check_data(folder, data)  # same options, but has the data changed?
                reuse[cell.name] = runs.read_json(folder / runs.METRICS)
                continue
            except RunFolderError:
                diff = ["the data (features differ from those the cell trained on)"]
        if not diff:
            resume.append(cell)
        elif overwrite:
            train.append(cell)
        else:
            conflicts.append(f"{cell.name}: {'; '.join(diff)}")
    if conflicts:
        raise RunFolderError(f"{out}: {len(conflicts)} cell(s) were run with other options "
                             f"than this grid asks for: {' | '.join(conflicts[:3])}"
                             f"{' | ...' if len(conflicts) > 3 else ''}; re-run them with "
                             "--overwrite, or choose another --out")
    return reuse, resume, train


_CELL_RUNNING = False  # in a grid's worker process: a cell is training (Ctrl-C stops it)
_STOPPING = False  # in a grid's worker process: Ctrl-C came, start no further cell


def _worker_init() -> None:
    """A grid worker: Ctrl-C (SIGINT to the process group) stops the cell it trains, which
    keeps its last complete epoch (``Interrupted``); an idle worker ignores it and exits when
    the grid shuts the pool down. SIGINT was blocked when the worker was started, so none
    arrives before this handler is in place."""
    signal.signal(signal.SIGINT, _on_sigint)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _on_sigint(signum, frame):
    global _CELL_RUNNING, _STOPPING
    _STOPPING = True
    if _CELL_RUNNING:  # once: a second Ctrl-C does not interrupt the cell's own clean-up
        _CELL_RUNNING = False
        raise KeyboardInterrupt


def _run_cell(cell: Cell, folder: str, resume: bool = False) -> dict | None:
    """Train one cell and return its metrics; None when Ctrl-C came before it started."""
    global _CELL_RUNNING
    if _STOPPING:
        return None
    import torch

    from . import api

    torch.set_num_threads(int(os.environ.get("PYRO_CAN_THREADS", "1")))
    _CELL_RUNNING = True
    try:
        if resume:
            api.resume(folder)
        else:
            api.fit(cell.cfg, out=folder, overwrite=(Path(folder) / runs.CONFIG).exists())
    finally:
        _CELL_RUNNING = False
    return runs.read_json(Path(folder) / runs.METRICS)


def row(cell: Cell, metrics: dict, folder: Path) -> dict:
    c = cell.cfg
    return {"method": c.method, "guide": c.guide if c.method == "can" else "",
            "prior": c.prior if c.method == "can" else "", "crowd": c.crowd,
            "noise_rate": c.resolved_noise_rate(),
            "seed": c.seed, "param": cell.param, "value": cell.value,
            "test_mAP": metrics["test_mAP"], "test_accuracy": metrics.get("test_accuracy"),
            "val_noisy_mAP": metrics.get("val_noisy_mAP"),
            "val_noisy_accuracy": metrics.get("val_noisy_accuracy"),
            "val_noisy_answer_nll": metrics.get("val_noisy_answer_nll"),
            "val_noisy_answer_accuracy": metrics.get("val_noisy_answer_accuracy"),
            "val_clean_mAP": metrics.get("val_clean_mAP"),
            "val_clean_accuracy": metrics.get("val_clean_accuracy"),
            "worker_reliability_spearman": metrics.get("worker_reliability_spearman"),
            "train_given_label_accuracy": metrics.get("train_given_label_accuracy"),
            "train_cleaned_label_accuracy": metrics.get("train_cleaned_label_accuracy"),
            "seconds": metrics["seconds"],
            "run_dir": str(folder)}


GRID_FILES = ("results.csv", "table.md")


def _claim_grid(out: Path) -> None:
    """The grid folder: its manifest lists results.csv, table.md and the figure; a folder
    holding such files that no manifest lists is not pyro-can's to write over."""
    out.mkdir(parents=True, exist_ok=True)
    if safe_io.read_manifest(out) is None:
        theirs = [n for n in GRID_FILES if (out / n).exists()]
        if theirs:
            raise RunFolderError(f"{out}: holds {', '.join(theirs)} that no {safe_io.MANIFEST} "
                                 "lists (not written by this pyro-can); choose another --out")
        safe_io.start_manifest(out)
    safe_io.make_dir(out, "cells")


def run_grid(cells: list[Cell], out: str | Path, jobs: int = 1,
             on_cell: Callable[[Cell, dict, bool], None] | None = None,
             overwrite: bool = False) -> list[dict]:
    """Run every unfinished cell (``jobs`` processes at a time) and return one row per cell.
    Every cell is checked first (``plan``); one process at a time runs a grid folder; Ctrl-C
    starts no further cell, stops the running ones at their last complete epoch, keeps the
    finished ones (results.csv lists them) and raises ``Interrupted``."""
    out = Path(out)
    names = [c.name for c in cells]
    if len(set(names)) != len(names):
        raise OptionError(f"the grid names some cells twice ({_fmt(names)}); give each value "
                          "once")
    _claim_grid(out)
    with safe_io.lock(out):
        try:
            reuse, resume, train = plan(cells, out, overwrite)
            rows: dict[str, dict] = {}
            for cell in cells:
                if cell.name in reuse:
                    rows[cell.name] = row(cell, reuse[cell.name], out / "cells" / cell.name)
                    if on_cell:
                        on_cell(cell, rows[cell.name], True)
            todo = [(c, True) for c in resume] + [(c, False) for c in train]
            todo.sort(key=lambda t: names.index(t[0].name))

            def done(cell, metrics):
                rows[cell.name] = row(cell, metrics, out / "cells" / cell.name)
                write_results(out, [rows[c.name] for c in cells if c.name in rows])
                if on_cell:
                    on_cell(cell, rows[cell.name], False)

            if jobs <= 1:
                for cell, again in todo:
                    done(cell, _run_cell(cell, str(out / "cells" / cell.name), again))
            else:
                _run_parallel(todo, out, jobs, done)
        except (KeyboardInterrupt, Interrupted):
            finished = sum((out / "cells" / c.name / runs.METRICS).is_file() for c in cells)
            raise Interrupted(f"interrupted: {finished} of {len(cells)} cells finished (kept "
                              f"in {out}/cells, listed in results.csv); run the same command "
                              "again to continue") from None
    ordered = [rows[c.name] for c in cells]
    write_results(out, ordered)
    return ordered


def _run_parallel(todo, out: Path, jobs: int, done) -> None:
    """``todo`` cells on ``jobs`` spawned processes. SIGINT is blocked while they start (they
    unblock it once their handler is set, ``_worker_init``); on Ctrl-C the queue is cancelled
    and the running cells, which got the signal too, end at their last complete epoch."""
    import multiprocessing

    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_init)
        futures = {pool.submit(_run_cell, c, str(out / "cells" / c.name), again): c
                   for c, again in todo}
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    reported = set()
    try:
        for fut in as_completed(futures):
            reported.add(fut)
            done(futures[fut], fut.result())
    except BaseException:
        workers = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in workers:  # a SIGINT to this process alone reaches the workers too
            with contextlib.suppress(OSError, ValueError):
                os.kill(proc.pid, signal.SIGINT)
        for fut in futures:  # queued cells return at once, running ones at their epoch's end
            if fut in reported or fut.cancelled():
                continue
            with contextlib.suppress(BaseException):
                metrics = fut.result(timeout=60)
                if metrics is not None:  # finished just as Ctrl-C came: listed too
                    done(futures[fut], metrics)
        raise
    finally:
        pool.shutdown(wait=True)


def write_results(out: Path, rows: list[dict]) -> None:
    runs.write_csv(out / "results.csv", [{k: r.get(k) for k in RESULT_FIELDS} for r in rows])


def summarize(rows: list[dict], column: str = "noise_rate", metric: str = "test_mAP"):
    """{(method label, column value): (mean, sd, n)} over seeds."""
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        label = r["method"] + (f" ({r['guide']})" if r["guide"] not in ("", "can") else "")
        if r["prior"] not in ("", "classifier"):
            label += f" [prior {r['prior']}]"
        if r.get("crowd") not in (None, "", "model"):  # answers pooled before training
            label += f" on {r['crowd']}"
        key = (label, r["value"] if column == "value" else r[column])
        if r.get(metric) is not None:
            groups.setdefault(key, []).append(float(r[metric]))
    return {k: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, len(v))
            for k, v in groups.items()}


def mean_sd(values, digits: int = 4) -> str:
    """``"mean ± sd"`` of the values that are not None (sd over seeds: ddof 1; "–" for none)."""
    values = [float(v) for v in values if v is not None]
    if not values:
        return "–"
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return f"{np.mean(values):.{digits}f} ± {sd:.{digits}f}"


def table_markdown(rows: list[dict], column: str = "noise_rate", title: str = "P",
                   metric: str = "test_mAP") -> str:
    """Mean ± sd per method (rows) × column value, the best mean of each column in bold."""
    stats = summarize(rows, column, metric)
    labels = list(dict.fromkeys(k[0] for k in stats))
    cols = sorted({k[1] for k in stats}, key=lambda v: (v is None, v))
    best = {c: max(stats[(m, c)][0] for m in labels if (m, c) in stats) for c in cols}
    lines = ["| method | " + " | ".join(f"{title}={_fmt(c)}" for c in cols) + " |",
             "|---" * (len(cols) + 1) + "|"]
    for m in labels:
        cells = []
        for c in cols:
            if (m, c) not in stats:
                cells.append("")
                continue
            mean, sd, n = stats[(m, c)]
            text = f"{mean:.3f} ± {sd:.3f}"
            cells.append(f"**{text}**" if mean == best[c] else text)
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path, column: str = "noise_rate", xlabel: str = "noise rate P",
         metric: str = "test_mAP") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stats = summarize(rows, column, metric)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for label in dict.fromkeys(k[0] for k in stats):
        xs = sorted(k[1] for k in stats if k[0] == label)
        ax.errorbar(xs, [stats[(label, x)][0] for x in xs], yerr=[stats[(label, x)][1] for x in xs],
                    marker="o", capsize=3, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{metric.replace('_', ' ')}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        safe_io.write(path, lambda fh: fig.savefig(fh, format="png", dpi=120))
    finally:
        plt.close(fig)


def write_summary(out: Path, rows: list[dict], column: str, title: str, figure: str,
                  xlabel: str) -> None:
    table = table_markdown(rows, column, title)
    if any(r.get("test_accuracy") is not None for r in rows):
        table += "\nTest accuracy:\n\n" + table_markdown(rows, column, title, "test_accuracy")
    safe_io.write_bytes(out / "table.md", table.encode())
    plot(rows, out / figure, column, xlabel)

