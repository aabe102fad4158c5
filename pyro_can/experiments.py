"""Grids of runs (``compare`` and ``sweep``): one run folder per cell, resumable, parallel, and the
paper-style summary (results.csv, table.md, a figure).

A cell is finished when its folder holds ``metrics.json``; finished cells are never re-run, so an
interrupted grid continues where it stopped.
"""
from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

import numpy as np

from . import runs
from .config import Config

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


def grid(base: Config, methods, noise_rates, seeds, param: str = "", values=(None,)) -> list[Cell]:
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


def _run_cell(cell: Cell, folder: str) -> dict:
    import torch

    from . import api

    torch.set_num_threads(int(os.environ.get("PYRO_CAN_THREADS", "1")))
    api.fit(cell.cfg, out=folder, overwrite=True)
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


def run_grid(cells: list[Cell], out: str | Path, jobs: int = 1,
             on_cell: Callable[[Cell, dict, bool], None] | None = None) -> list[dict]:
    """Run every unfinished cell (``jobs`` processes at a time) and return one row per cell."""
    out = Path(out)
    (out / "cells").mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict] = {}
    todo = []
    for cell in cells:
        folder = out / "cells" / cell.name
        if (folder / runs.METRICS).exists():
            rows[cell.name] = row(cell, runs.read_json(folder / runs.METRICS), folder)
            if on_cell:
                on_cell(cell, rows[cell.name], True)
        else:
            todo.append(cell)
    if jobs <= 1:
        for cell in todo:
            folder = out / "cells" / cell.name
            rows[cell.name] = row(cell, _run_cell(cell, str(folder)), folder)
            write_results(out, [rows[c.name] for c in cells if c.name in rows])
            if on_cell:
                on_cell(cell, rows[cell.name], False)
    else:
        import multiprocessing

        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_run_cell, c, str(out / "cells" / c.name)): c for c in todo}
            for fut in as_completed(futures):
                cell = futures[fut]
                rows[cell.name] = row(cell, fut.result(), out / "cells" / cell.name)
                write_results(out, [rows[c.name] for c in cells if c.name in rows])
                if on_cell:
                    on_cell(cell, rows[cell.name], False)
    ordered = [rows[c.name] for c in cells]
    write_results(out, ordered)
    return ordered


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
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)


def write_summary(out: Path, rows: list[dict], column: str, title: str, figure: str,
                  xlabel: str) -> None:
    table = table_markdown(rows, column, title)
    if any(r.get("test_accuracy") is not None for r in rows):
        table += "\nTest accuracy:\n\n" + table_markdown(rows, column, title, "test_accuracy")
    tmp = out / ".table.md.tmp"
    tmp.write_text(table)
    os.replace(tmp, out / "table.md")
    plot(rows, out / figure, column, xlabel)

