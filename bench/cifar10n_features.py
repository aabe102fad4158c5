"""CIFAR-10N in feature mode on CPUs: every method on real human label noise, seeds, one table.

CIFAR-10N is Wei et al., "Learning with Noisy Labels Revisited: A Study Using Real-World Human
Annotations", ICLR 2022 (labels CC BY-NC 4.0); images Krizhevsky 2009. The features are the shared
copy's unsupervised k-means features (``features/cifar10_kmeans400_pca256.npz``, 256-d; no label
was used to make them), so the MLP heads (D-1024-30-C) train on CPU.

    python bench/cifar10n_features.py --out runs/cifar10n-features          # the README table
    python bench/cifar10n_features.py --seeds 0 --labels worst --methods plain,can --out DIR
    python bench/cifar10n_features.py --labels worst,random1 --methods can-transition --out DIR
    python bench/cifar10n_features.py --labels crowd --out DIR \
        --crowd-rows can,can-worker,can-transition,crowd-layer,plain-majority,plain-dawid-skene

Settings (the presets ``configs/cifar10n-features-LABELS.toml``) were chosen on a noisy-label
validation split (``--val-fraction`` of the
training items, scored against their noisy labels), never on the test set; the table reports the
clean test set and, beside it, the noisy validation accuracy the choice was made on. Finished cells
are never re-run (the grid is resumable); the table is printed and written to ``OUT/table.md``.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from pyro_can import experiments  # noqa: E402
from pyro_can.experiments import mean_sd  # noqa: E402
from pyro_can import presets  # noqa: E402

SHARED = os.path.join(ROOT, "..", "shared", "data", "cifar10n")
#: the settings of each label set, one preset each (``configs/cifar10n-features-LABELS.toml``):
#: the shared schedule, chosen on noisy-label validation (--val-fraction 0.1, seed 0), never on
#: the test set, and a row per method (its weight decay; CAN's --hold-noise on worst and random1)
#: and per variant (``can-transition``; the worker-aware rows on ``crowd``)
PRESET = "cifar10n-features-{}"
#: overrides on top of the presets (none: the table is the presets')
SCHEDULE: dict = {}
DEFAULT_CROWD_ROWS = "can,plain-majority,plain-dawid-skene"
PUBLISHED = ("Published, not measured here (ResNet-34 trained end to end on the images, CIFAR-N "
             "protocol, as tabulated by ProMix): CE 87.77 (aggre), 85.02 (random1), 77.69 "
             "(worst); DivideMix 92.56 and ProMix 96.34 on worst.")


def preset(label_set: str):
    """The preset of one label set (``configs/cifar10n-features-LABELS.toml``)."""
    return presets.read(PRESET.format(label_set))


def cells(root: str, features: str, labels, methods, seeds, schedule: dict | None = None,
          crowd_rows=DEFAULT_CROWD_ROWS.split(",")):
    """(label set, row name, Cell) for every run of the table: each row's settings from its
    label set's preset, ``schedule`` on top of the preset's shared settings."""
    out = []
    source = dict(root=root, features=features)
    for label_set in labels:
        p = preset(label_set)
        p = dataclasses.replace(p, shared={**p.shared, **(schedule or {})})
        if label_set == "crowd":
            for row in crowd_rows:
                if row not in p.rows:
                    raise SystemExit(f"--crowd-rows: unknown row {row!r}; known: "
                                     f"{', '.join(p.rows)}")
                for seed in seeds:
                    cfg = p.config(row, dict(source, seed=seed))
                    out.append((label_set, row,
                                experiments.Cell(f"crowd-{row}-s{seed}", cfg.validate())))
            continue
        names = ["plain"] if label_set == "clean" else methods
        for name in names:
            if name not in p.rows:
                raise SystemExit(f"--methods: no row {name!r} in {p.path}; rows: "
                                 f"{', '.join(p.rows)}")
            cfg = p.config(name, source)
            method = cfg.method
            prior = p.rows[name].get("prior_init")
            named = name if prior is None else f"{name}-prior{prior:g}"  # a cell per setting
            for cell in experiments.grid(cfg, [method], [0.0], seeds):
                cell_name = f"{label_set}-{cell.name.replace(method, named, 1)}"
                out.append((label_set, name, dataclasses.replace(cell, name=cell_name)))
    return out


def table(runs, results: dict[str, dict]) -> str:
    lines = ["| labels | method | test accuracy | test mAP | noisy-val accuracy | noisy-val answer "
             "NLL | training labels right: given / cleaned | s/epoch | seconds | seeds |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    groups: dict[tuple, list] = {}
    for label_set, row_name, cell in runs:
        groups.setdefault((label_set, row_name), []).append(results[cell.name])
    for (label_set, row_name), rows in groups.items():
        lines.append(
            f"| {label_set} | {row_name} | {mean_sd([r['test_accuracy'] for r in rows])} | "
            f"{mean_sd([r['test_mAP'] for r in rows])} | "
            f"{mean_sd([r['val_noisy_accuracy'] for r in rows])} | "
            f"{_nll(rows)} | "
            f"{_labels(rows)} | "
            f"{statistics.mean(r['seconds'] / r['epochs'] for r in rows):.2f} | "
            f"{statistics.mean(r['seconds'] for r in rows):.0f} | {len(rows)} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default=SHARED)
    p.add_argument("--features", default=None,
                   help="default: ROOT/features/cifar10_kmeans400_pca256.npz")
    p.add_argument("--labels", default="worst,random1,crowd,aggre,clean")
    p.add_argument("--methods", default="plain,learnq,icnm,bootstrap,can")
    p.add_argument("--crowd-rows", default=DEFAULT_CROWD_ROWS,
                   help=f"rows on --labels crowd, from: {', '.join(preset('crowd').rows)}")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    features = args.features or os.path.join(args.root, "features",
                                             "cifar10_kmeans400_pca256.npz")
    runs = cells(args.root, features, args.labels.split(","), args.methods.split(","),
                 [int(s) for s in args.seeds.split(",")], SCHEDULE, args.crowd_rows.split(","))

    def on_cell(cell, row, skipped):
        print(f"{'(done) ' if skipped else ''}{cell.name}: test accuracy "
              f"{row['test_accuracy']:.4f}, noisy-val {row['val_noisy_accuracy']:.4f}, "
              f"{row['seconds']:.0f} s", flush=True)

    rows = experiments.run_grid([c for _, _, c in runs], args.out, jobs=args.jobs,
                                on_cell=on_cell)
    results = {Path(r["run_dir"]).name: {**r, **_from_run(r)} for r in rows}
    used = ", ".join(PRESET.format(label_set) for label_set in args.labels.split(","))
    text = "\n\n".join([f"Settings: the presets {used} (configs/)", table(runs, results),
                         PUBLISHED])
    print(text)
    Path(args.out, "table.md").write_text(text + "\n")


def _labels(rows) -> str:
    """Given / cleaned training-label accuracy (``metrics.label_accuracy``)."""
    return (f"{statistics.mean(r['train_given_label_accuracy'] for r in rows):.4f} / "
            f"{mean_sd([r['train_cleaned_label_accuracy'] for r in rows])}")


def _nll(rows) -> str:
    values = [r["val_noisy_answer_nll"] for r in rows]
    return "" if None in values else mean_sd(values)


def _from_run(row: dict) -> dict:
    """The run's epochs, its noisy-val answer NLL (``metrics.answer_scores``) and how many of its
    cleaned training labels are right (``metrics.label_accuracy``), re-scored from the run folder
    (``api.evaluate``: the saved classifier and noise model on the same validation split;
    ``posterior.npz``; never re-trained), so that every row is scored by this code, runs that
    finished before the score existed or changed included."""
    import numpy as np

    from pyro_can import api, runs
    from pyro_can.data import voted_labels
    from pyro_can.metrics import label_accuracy

    folder = Path(row["run_dir"])
    m = runs.read_json(folder / runs.METRICS)
    nll = None
    if m.get("val_noisy_accuracy") is not None:
        nll = api.evaluate(row["run_dir"]).get("val_noisy_answer_nll")
    keys = ("train_given_label_accuracy", "train_cleaned_label_accuracy")
    if all(k in m for k in keys):
        labels = {k: m[k] for k in keys}
    else:  # a run finished before fit scored its cleaned labels: the same score, from its files
        train = runs.read_npz(folder / runs.TRAIN_DATA,
                              ("ann_item", "ann_labels", "y_train_clean"))
        cleaned = runs.read_npz(folder / "posterior.npz", ("posterior",))["posterior"]
        given = voted_labels(train["ann_item"], train["ann_labels"], len(cleaned), True,
                             np.random.default_rng(0))
        labels = label_accuracy(train["y_train_clean"], given, cleaned)
    return {"epochs": m["epochs"], "val_noisy_answer_nll": nll, **labels}


if __name__ == "__main__":
    main()
