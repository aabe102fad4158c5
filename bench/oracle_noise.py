"""How much does CAN lose by estimating the noise? CAN and LearnQ given the *true* noise matrix.

CAN (``--noise-init transition --hold-noise``) starts its decoder and q at a class-to-answer matrix
T[y, ỹ] that the hand-over estimates from the warm classifier's anchors, and holds it; LearnQ
learns its Q. This script hands both the true T instead, counted from the training items' clean
labels, and holds it: CAN's hand-over sets T* where it would set the anchor estimate, and LearnQ
becomes forward correction (Patrini et al., CVPR 2017) with the true matrix. Everything else is the
CIFAR-10N feature table's row (``bench/cifar10n_features.py``: the same schedule, weight decay and
prior weight, chosen there on noisy-label validation).

The clean training labels are read here and only here, so these rows are an analysis, never a
method: what a perfect noise model would give, against which the anchor estimate's cost and a goal's
margin can be judged. CIFAR-10N: Wei et al., ICLR 2022 (labels CC BY-NC 4.0).

    python bench/oracle_noise.py --labels worst,random1 --seeds 0,1,2 --jobs 2 --out DIR
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for path in (ROOT, HERE):
    if path not in sys.path:
        sys.path.insert(0, path)

import cifar10n_features as table  # noqa: E402
from pyro_can import anchors, api  # noqa: E402
from pyro_can.anchors import NoiseEstimate  # noqa: E402
from pyro_can.config import Config  # noqa: E402
from pyro_can.experiments import mean_sd  # noqa: E402
from pyro_can.train import Trainer  # noqa: E402

#: the table's rows this script re-runs with the true matrix
ROWS = ("can-transition", "learnq")


def true_transition(data) -> np.ndarray:
    """(C, C) T*[y, ỹ]: the share of the answers on items of clean class y that say ỹ, floored
    and renormalized as the anchor estimate is (``anchors.transition_matrix``)."""
    if data.y_train_clean is None or not data.single_label:
        raise SystemExit("the true transition needs single-label data with clean training labels")
    c = data.num_classes
    counts = np.zeros((c, c))
    np.add.at(counts, data.y_train_clean.argmax(1)[data.ann_item], data.ann_labels)
    return anchors.transition_matrix(counts / np.maximum(counts.sum(1, keepdims=True), 1))


def give_true_noise(trainer: Trainer, t_true: np.ndarray) -> None:
    """Make ``trainer``'s method use ``t_true`` as its noise model.

    CAN: its own hand-over runs (the classifier is scored, the guide set up), but the decoder and
    the guide get T* in place of the anchor estimate; ``--hold-noise`` then keeps it. LearnQ: Q is
    set to T* and frozen from the start (frozen parameters get no gradient, so neither the
    optimizer nor weight decay moves them)."""
    model = trainer.model
    if trainer.cfg.method == "learnq":
        with torch.no_grad():
            weight = model.noise_adaptation.weight
            weight.copy_(torch.log(torch.as_tensor(t_true, dtype=weight.dtype)))
        weight.requires_grad_(False)
        return
    if trainer.cfg.method != "can" or trainer.cfg.noise_init != "transition" \
            or not trainer.cfg.hold_noise:
        raise SystemExit("the true noise is handed to learnq, or to can with --noise-init "
                         "transition --hold-noise")
    anchored = model.handover

    def handover(scores, data) -> NoiseEstimate:
        estimate = dataclasses.replace(anchored(scores, data), transition=t_true)
        model.start_noise_model(estimate)  # over the anchor estimate's start
        return estimate

    model.handover = handover  # this trainer's model only


def run_cell(cfg: Config) -> dict:
    """Train ``cfg`` with the true noise (no run folder) and return its metrics."""
    torch.set_num_threads(int(os.environ.get("PYRO_CAN_THREADS", "1")))  # as the table's cells
    data, val = api.load_data(cfg)
    trainer = Trainer(cfg, data, val)
    t_true = true_transition(trainer.data)
    give_true_noise(trainer, t_true)
    metrics = trainer.run().metrics
    if cfg.method == "learnq":  # Q must have stayed T*
        q = trainer.model.noise_adaptation.matrix().detach().cpu().numpy()
        assert np.allclose(q, t_true, atol=1e-5), "LearnQ's Q moved"
    return {k: metrics.get(k) for k in ("test_accuracy", "test_mAP", "val_noisy_accuracy")}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default=table.SHARED)
    p.add_argument("--features", default=None,
                   help="default: ROOT/features/cifar10_kmeans400_pca256.npz")
    p.add_argument("--labels", default="worst,random1")
    p.add_argument("--rows", default=",".join(ROWS), help=f"from: {', '.join(ROWS)}")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--out", required=True, help="folder for results.json and table.md")
    args = p.parse_args(argv)
    rows = args.rows.split(",")
    unknown = sorted(set(rows) - set(ROWS))
    if unknown:
        raise SystemExit(f"--rows: unknown {', '.join(unknown)}; known: {', '.join(ROWS)}")
    features = args.features or os.path.join(args.root, "features",
                                             "cifar10_kmeans400_pca256.npz")
    cells = [(label_set, row, cell) for label_set, row, cell in
             table.cells(args.root, features, args.labels.split(","), rows,
                         [int(s) for s in args.seeds.split(",")], table.SCHEDULE)
             if row in rows]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    saved = out / "results.json"
    results = json.loads(saved.read_text()) if saved.exists() else {}  # resumable
    todo = [c for _, _, c in cells if c.name not in results]
    with ProcessPoolExecutor(max(1, args.jobs),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        for cell, metrics in zip(todo, pool.map(run_cell, [c.cfg for c in todo])):
            results[cell.name] = metrics
            saved.write_text(json.dumps(results, indent=1))
            print(f"{cell.name} with the true T: test accuracy {metrics['test_accuracy']:.4f}",
                  flush=True)
    lines = ["| labels | row, given the true T | test accuracy | test mAP | seeds |",
             "|---|---|---|---|---|"]
    groups: dict[tuple, list] = {}
    for label_set, row, cell in cells:
        groups.setdefault((label_set, row), []).append(results[cell.name])
    for (label_set, row), got in groups.items():
        lines.append(f"| {label_set} | {row} | {mean_sd([g['test_accuracy'] for g in got])} | "
                     f"{mean_sd([g['test_mAP'] for g in got])} | {len(got)} |")
    text = "\n".join(lines)
    print(text)
    (out / "table.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
