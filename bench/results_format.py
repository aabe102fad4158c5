"""How a record's rows print: one function per kind of table of docs/results.md.

Each takes the rows of a table's record (``bench/results.py``; a measured table's numbers as
floats, a kept table's cells as text) and returns markdown; the ``*_values`` functions return the
{row: (mean, text)} that README's summary compares. Nothing here trains or reads a file.
"""
from __future__ import annotations

import os
import sys
from typing import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from pyro_can.experiments import mean_sd, summarize, table_markdown  # noqa: E402


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _mean(values) -> float:
    return sum(values) / len(values)


def pivot(metric: str, column: str = "noise_rate", title: str = "P") -> Callable:
    """Mean ± sd per method × column (``experiments.table_markdown``, the grids' own table)."""
    return lambda rows: table_markdown(rows, column, title, metric).rstrip("\n")


def pivot_values(rows, metric: str) -> dict:
    """{"METHOD@COLUMN": (mean, "mean ± sd")} of a compare grid, as its table prints them."""
    return {f"{label}@{_fmt(col)}": (mean, f"{mean:.3f} ± {sd:.3f}")
            for (label, col), (mean, sd, _) in summarize(rows, "noise_rate", metric).items()}


def digits_methods(rows) -> str:
    return (f"Test mAP (best of each column in bold):\n\n{pivot('test_mAP')(rows)}\n\n"
            f"Test accuracy:\n\n{pivot('test_accuracy')(rows)}")


def quickstart(rows) -> str:
    r = rows[0]
    return (f"`can: test mAP {r['test_mAP']:.4f}  test accuracy {r['test_accuracy']:.4f}` "
            f"(metrics.json: {r['test_mAP']!r} / {r['test_accuracy']!r}); `training labels "
            f"right: given {r['train_given_label_accuracy']:.4f}, cleaned "
            f"{r['train_cleaned_label_accuracy']:.4f}`; training took {r['seconds']:.1f} s.")


def lowest_seed(rows) -> str:
    lines = ["| P | test mAP | lowest seed |", "|---|---|---|"]
    for rate in sorted({r["noise_rate"] for r in rows}):
        runs = [r for r in rows if r["noise_rate"] == rate]
        low = min(runs, key=lambda r: r["test_mAP"])
        mean = _mean([r["test_mAP"] for r in runs])
        lines.append(f"| {rate:g} | {mean_sd([r['test_mAP'] for r in runs], 3)} | "
                     f"{low['test_mAP']:.3f}, seed {low['seed']:g} "
                     f"({100 * (mean - low['test_mAP']):.1f} below the mean) |")
    return "\n".join(lines)


SELECTION = {"prior1": "step 1: anchor, λ = 0, `--prior-init 1`",
             "prior1-lam0.3": "step 1: `--lam 0.3`",
             "prior1-fixed": "step 1: `--noise-init fixed` (copy 2, label 2)",
             "prior1-fixed-0.6-1.2": "step 1: `--noise-init fixed --copy-init 0.6 "
                                     "--label-init 1.2`",
             "prior1.5": "step 2: `--prior-init 1.5`", "prior2": "step 2: `--prior-init 2`",
             "prior3": "step 2: `--prior-init 3`", "prior4": "step 2: `--prior-init 4`"}


def selection(rows) -> str:
    """Mean noisy-validation mAP / accuracy per variant and noise rate; best mean mAP bold."""
    stats = {}
    for variant in SELECTION:
        runs = [r for r in rows if r["variant"] == variant]
        per = {rate: [r for r in runs if r["noise_rate"] == rate] for rate in (0.6, 0.8)}
        cells = {rate: (_mean([r["val_noisy_mAP"] for r in rs]),
                        _mean([r["val_noisy_accuracy"] for r in rs])) for rate, rs in per.items()}
        stats[variant] = (cells, tuple(_mean([c[i] for c in cells.values()]) for i in (0, 1)))
    best = max(m[0] for _, m in stats.values())
    lines = ["| variant | P = 0.6 | P = 0.8 | mean |", "|---|---|---|---|"]
    for variant, (cells, (m_map, m_acc)) in stats.items():
        text = f"{m_map:.4f}"
        lines.append(f"| {SELECTION[variant]} | " + " | ".join(
            f"{a:.4f} / {b:.3f}" for a, b in cells.values())
            + f" | {f'**{text}**' if m_map == best else text} / {m_acc:.3f} |")
    return "\n".join(lines)


def by_value(rows) -> str:
    """A sweep's means per value (rows: the scores; the best of each row in bold)."""
    values = sorted({r["value"] for r in rows})
    lines = ["| λ | " + " | ".join(f"{v:g}" for v in values) + " |", "|---" * (len(values) + 1)
             + "|"]
    for metric, title, digits in (("val_noisy_mAP", "val mAP (noisy)", 4),
                                  ("val_noisy_accuracy", "val accuracy (noisy)", 3),
                                  ("test_mAP", "test mAP", 4),
                                  ("test_accuracy", "test accuracy", 3)):
        means = [round(_mean([r[metric] for r in rows if r["value"] == v]), digits)
                 for v in values]
        lines.append(f"| {title} | " + " | ".join(f"**{m:.{digits}f}**" if m == max(means) else
                                                 f"{m:.{digits}f}" for m in means) + " |")
    return "\n".join(lines)


def parse_variance(text: str) -> list[dict]:
    """bench/gradient_variance.py's two printed tables as rows (its numbers as printed)."""
    rows, weights = [], ""
    for line in text.splitlines():
        if line.startswith("Weights: "):
            weights = "classifier" if line == "Weights: classifier" else "all networks"
        elif line.startswith("| `") and not line.startswith("| `--elbo`"):
            elbo, mean_sq, one, many, _ = [c.strip() for c in line.strip("|").split("|")]
            rows.append({"cell": f"{weights}: {elbo.strip('`')}", "weights": weights,
                         "elbo": elbo.strip("`"), "mean_sq": mean_sq, "var_one_batch": one,
                         "var_batches": many})
    return rows


def variance(rows) -> str:
    lines = ["| `--elbo` | classifier: ‖mean‖² / var one batch / var 50 batches | all networks: "
             "‖mean‖² / var one batch / var 50 batches |", "|---|---|---|"]
    for elbo in dict.fromkeys(r["elbo"] for r in rows):
        parts = [next(r for r in rows if r["elbo"] == elbo and r["weights"] == w)
                 for w in ("classifier", "all networks")]
        lines.append(f"| `{elbo}` | " + " | ".join(
            f"{_g(p['mean_sq'])} / {_g(p['var_one_batch'])} / {_g(p['var_batches'])}"
            for p in parts) + " |")
    return "\n".join(lines)


def _g(v: float) -> str:
    return f"{v:.4g}"


MUSIC_ROWS = {("", "plain", "majority"): "plain on majority vote",
              ("", "plain", "dawid-skene"): "plain on Dawid–Skene labels (crowd-kit)",
              ("", "plain", "glad"): "plain on GLAD labels (crowd-kit)",
              ("", "crowd-layer", "model"): "Crowd Layer (`--method crowd-layer`, SGD)",
              ("", "can", "model"): "CAN (the defaults: worker-blind, `--elbo tracegraph`)",
              ("transition", "can", "model"): "CAN `--noise-init transition`"}


def music_groups(rows) -> dict:
    return {label: [r for r in rows if (r["variant"], r["method"], r["crowd"]) == key]
            for key, label in MUSIC_ROWS.items()}


def music(rows) -> str:
    lines = ["| method | test accuracy (200 clips) | worst seed | validation accuracy (100) | "
             "s/run | seeds |", "|---|---|---|---|---|---|"]
    for label, rs in music_groups(rows).items():
        acc = [r["test_accuracy"] for r in rs]
        lines.append(f"| {label} | {mean_sd(acc, 3)} | {min(acc):.3f} | "
                     f"{_mean([r['val_clean_accuracy'] for r in rs]):.3f} | "
                     f"{_mean([r['seconds'] for r in rs]):.1f} | {len(rs)} |")
    return "\n".join(lines)


def music_values(rows, metric) -> dict:
    return {label: (_mean([r[metric] for r in rs]), mean_sd([r[metric] for r in rs], 3))
            for label, rs in music_groups(rows).items()}


PROTOCOL_ROWS = {("plain", "majority"): "plain on majority", ("plain", "dawid-skene"):
                 "plain on dawid-skene", ("plain", "glad"): "plain on glad",
                 ("crowd-layer", "model"): "crowd-layer", ("can", "model"): "can"}


def protocol_groups(rows) -> dict:
    """{(row name, mixup α): runs} of the Annot-Mix protocol grid, in the bench's order."""
    groups: dict = {}
    for r in rows:
        groups.setdefault((PROTOCOL_ROWS[(r["method"], r["crowd"])], r["mixup"]), []).append(r)
    return groups


def protocol(rows) -> str:
    lines = ["| method | mixup α | test accuracy (200 clips) | worst seed | validation accuracy "
             "(100) | seconds per run | seeds |", "|---|---|---|---|---|---|---|"]
    for (name, alpha), rs in protocol_groups(rows).items():
        acc = [r["test_accuracy"] for r in rs]
        lines.append(f"| {name} | {alpha:g} | {mean_sd(acc)} | {min(acc):.3f} | "
                     f"{mean_sd([r['val_clean_accuracy'] for r in rs])} | "
                     f"{_mean([r['seconds'] for r in rs]):.1f} | {len(rs)} |")
    return "\n".join(lines)


def protocol_values(rows, metric) -> dict:
    return {f"{name}|{alpha:g}": (_mean([r[metric] for r in rs]),
                                  mean_sd([r[metric] for r in rs], 3))
            for (name, alpha), rs in protocol_groups(rows).items()}


#: CAN's variants under the protocol: variant -> (name, mixup α)
CAN_VARIANTS = {"default": ("default (`--noise-init anchor`)", 0),
                "mixup-default": ("default", 1),
                "noise-init": ("`--noise-init transition`", 0),
                "mixup-noise-init": ("`--noise-init transition`", 1),
                "mixup-quality-prior": ("`--quality-prior worker`", 1),
                "mixup-transition-worker": ("`--noise-init transition --quality-prior worker`", 1)}


def _first_seeds(runs, n=3):
    return [r for r in runs if r["seed"] < n]


def can_variants(rows) -> str:
    """Validation and test per CAN variant (seeds 0–2), and test over seeds 0–4 where run;
    the best validation mean in bold."""
    groups = {v: [r for r in rows if r["variant"] == v] for v in CAN_VARIANTS}
    val = {v: round(_mean([r["val_clean_accuracy"] for r in _first_seeds(rs)]), 3)
           for v, rs in groups.items()}
    lines = ["| CAN variant | mixup α | validation (100), seeds 0–2 | test (200), seeds 0–2 | "
             "test, seeds 0–4 |", "|---|---|---|---|---|"]
    for v, rs in groups.items():
        name, alpha = CAN_VARIANTS[v]
        five = mean_sd([r["test_accuracy"] for r in rs], 3) if len(rs) >= 5 else "—"
        text = f"{val[v]:.3f}"
        text = f"**{text}**" if val[v] == max(val.values()) else text
        lines.append(f"| {name} | {alpha} | {text} | "
                     f"{_mean([r['test_accuracy'] for r in _first_seeds(rs)]):.3f} | {five} |")
    return "\n".join(lines)


def can_variant_values(rows, metric) -> dict:
    out = {}
    for v, (name, alpha) in CAN_VARIANTS.items():
        values = [r[metric] for r in rows if r["variant"] == v]
        out[f"{name}|{alpha}"] = (_mean(values), mean_sd(values, 3))
    return out


#: the estimator table's rows: (--elbo, --alpha-max, what the row is)
ESTIMATORS = (("meanfield", 1.0, ""), ("tracegraph", 1.0, " (**music default**)"),
              ("enum", 1.0, ""), ("meanfield", 0.9, ""),
              ("tracegraph", 0.9, " (**digits default**)"), ("enum", 0.9, ""),
              ("meanfield", 0.8, ""))


def _scores(runs) -> str:
    """Mean val mAP / test mAP ± sd / mean test accuracy of some runs (runs that collapsed
    onto one class counted)."""
    return (f"{_mean([r['val_noisy_mAP'] for r in runs]):.3f} / "
            f"{mean_sd([r['test_mAP'] for r in runs], 3)} / "
            f"{_mean([r['test_accuracy'] for r in runs]):.3f}")


def estimators(rows) -> str:
    lines = ["| `--elbo` | `--alpha-max` | digits P = 0.6 val mAP / test mAP / test acc | digits "
             "P = 0.8 val mAP / test mAP / test acc | music val mAP / test mAP / test acc | "
             "runs that collapsed |", "|---|---|---|---|---|---|"]
    for elbo, alpha, note in ESTIMATORS:
        runs = [r for r in rows if r["elbo"] == elbo and r["alpha_max"] == alpha]
        parts = [[r for r in runs if r["variant"].endswith("digits") and r["noise_rate"] == p]
                 for p in (0.6, 0.8)] + [[r for r in runs if r["variant"].endswith("music")]]
        collapsed = [("music" if r["variant"].endswith("music") else
                      f"digits P = {r['noise_rate']:g}") + f" seed {r['seed']:g}"
                     for r in runs if r["collapsed"] == "True"]
        lines.append(f"| `{elbo}` | {alpha:g}{note} | " + " | ".join(_scores(p) for p in parts)
                     + f" | {', '.join(collapsed) or 'none'} |")
    per_epoch = []
    for elbo in ("meanfield", "tracegraph", "enum"):
        runs = [r for r in rows if r["elbo"] == elbo and r["alpha_max"] == 1.0]
        per_epoch.append(f"`{elbo}` " + ", ".join(
            f"{_mean([r['seconds'] / r['epochs'] for r in runs if r['variant'].endswith(d)]):.2f}"
            for d in ("digits", "music")))
    return ("\n".join(lines) + "\n\nSeconds per epoch at α_max = 1 (digits, music; the mean over "
            "the runs, on the shared machine): " + "; ".join(per_epoch) + ".")


def kept(rows) -> str:
    """A kept table: its rows as measured, printed as they are."""
    head = list(rows[0])
    return "\n".join(["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
                     + ["| " + " | ".join(r[h] for h in head) + " |" for r in rows])


def kept_values(keys: int) -> Callable:
    """{"FIRST|SECOND": (mean, text)} of a kept table: its first ``keys`` columns name a row."""
    def values(rows, column):
        out = {}
        for r in rows:
            text = r[column].replace("**", "")
            try:
                out["|".join(list(r.values())[:keys])] = (float(text.split(" ")[0]), text)
            except ValueError:  # a blank or "—": no value
                pass
        return out
    return values
