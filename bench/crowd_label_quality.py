"""How much can modelling *who* answered help on a crowd set? Label accuracy of the aggregates,
and the ceiling of a per-worker noise model, measured against the training items' true labels.

A worker-aware model (CAN's ``--quality-prior worker``, Dawid–Skene, the Crowd Layer) can only
beat a worker-blind one by as much as knowing each worker's confusion improves the posterior of
the clean label. This script estimates that gain with the truth, which no training run ever
reads. It is an estimate, not a bound: the oracles read the answers only, not x, and each one's
matrices are counted from the other folds' items (9/10 of a worker's answers by default):

- the workers' accuracies (how different they are: a homogeneous crowd leaves nothing to learn);
- the label accuracy of majority vote, Dawid–Skene and GLAD (crowd-kit, the ``compare`` extra);
- an *oracle* posterior argmax_y ∏_r T[y, ỹ_r] with one class-to-answer matrix T for the whole
  crowd, with the crowd's matrix carrying each worker's own accuracy (one-coin), and with one
  matrix per worker (both shrunk toward the crowd's by ``--kappa`` pseudo-answers), all counted
  from the true labels of the other folds' items (``--folds``, cross-fitted, so a worker's oracle
  is never scored on the answers it was counted from).

    python bench/crowd_label_quality.py --data music
    python bench/crowd_label_quality.py --data cifar10n --root ../shared/data/cifar10n

Music: Rodrigues, Pereira and Ribeiro, Pattern Recognition Letters 34(12), 2013 (audio from GTZAN;
bundled, see ``pyro_can/resources/CITATION.md``). CIFAR-10N: Wei et al., ICLR 2022 (labels CC BY-NC
4.0), the three answers per image (``--labels crowd``).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from pyro_can.api import load_data  # noqa: E402
from pyro_can.config import Config  # noqa: E402
from pyro_can.crowd_aggregation import AGGREGATORS, aggregate  # noqa: E402


def oracle_accuracy(ann_item, answers, workers, truth, num_classes: int, kind: str,
                    kappa: float = 10.0, folds: int = 10, seed: int = 0) -> float:
    """Cross-fitted accuracy of argmax_y ∏_r T_r[y, ỹ_r] (a uniform prior over y): the items are
    split into ``folds`` folds, and each fold's answers are read with matrices counted from the
    true labels of the other folds' items. ``kind``: ``crowd``, one T for every answer;
    ``confusion``, one T per worker shrunk toward the crowd's by ``kappa`` > 0 pseudo-answers;
    ``one-coin``, the crowd's T with each worker's own accuracy on the diagonal (shrunk the same
    way) and the crowd's off-diagonal shares, rescaled."""
    if kappa <= 0 or folds < 2:
        raise ValueError(f"kappa must be > 0 and folds >= 2; got {kappa}, {folds}")
    n = len(truth)
    fold = np.random.default_rng(seed).permutation(n) % folds
    hits = 0
    for f in range(folds):
        count = fold[ann_item] != f
        crowd = np.full((num_classes, num_classes), 1e-3)
        np.add.at(crowd, (truth[ann_item[count]], answers[count]), 1.0)
        crowd /= crowd.sum(1, keepdims=True)
        scored = ~count
        if kind == "crowd":
            log_t = np.log(crowd[:, answers[scored]]).T
        elif kind == "confusion":
            tw = np.tile(kappa * crowd, (workers.max() + 1, 1, 1))
            np.add.at(tw, (workers[count], truth[ann_item[count]], answers[count]), 1.0)
            tw /= tw.sum(2, keepdims=True)
            log_t = np.log(tw[workers[scored], :, answers[scored]])
        else:
            right = answers[count] == truth[ann_item[count]]
            prior = right.mean()
            acc = ((np.bincount(workers[count], right, workers.max() + 1) + kappa * prior)
                   / (np.bincount(workers[count], minlength=workers.max() + 1) + kappa))
            acc = np.clip(acc, 1e-3, 1 - 1e-3)
            off = crowd * (1 - np.eye(num_classes))
            off /= off.sum(1, keepdims=True)
            a = acc[workers[scored]][:, None]  # (answers, 1)
            wrong = off[:, answers[scored]].T  # (answers, C): T[y, ỹ] for y ≠ ỹ
            said = np.eye(num_classes)[answers[scored]]
            log_t = np.log(said * a + (1 - said) * (1 - a) * np.maximum(wrong, 1e-6))
        score = np.zeros((n, num_classes))
        np.add.at(score, ann_item[scored], log_t)
        items = fold == f
        hits += (score[items].argmax(1) == truth[items]).sum()
    return hits / n


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="music", choices=("music", "cifar10n"))
    p.add_argument("--root", default=None, help="CIFAR-10N's folder (--data cifar10n)")
    p.add_argument("--kappa", default="1,10,50",
                   help="pseudo-answers pulling each worker's oracle matrix to the crowd's")
    p.add_argument("--folds", type=int, default=10, help="cross-fitting folds of the oracles")
    args = p.parse_args(argv)
    extra = dict(root=args.root, labels="crowd", features=os.path.join(
        args.root or "", "features", "cifar10_kmeans400_pca256.npz")) if args.data == "cifar10n" \
        else {}
    data, _ = load_data(Config(data=args.data, val_fraction=0.0, **extra).validate())
    if data.y_train_clean is None or (data.ann_worker < 0).any():
        raise SystemExit(f"{args.data}: needs true training labels and every answer's worker")
    truth = data.y_train_clean.argmax(1)
    answers, workers, item = data.ann_labels.argmax(1), data.ann_worker, data.ann_item
    right = answers == truth[item]
    per_worker = np.bincount(workers, right) / np.maximum(np.bincount(workers), 1)
    counts = np.bincount(workers)
    active = counts > 0
    print(f"{args.data}: {data.num_items} items, {len(answers)} answers, {active.sum()} workers, "
          f"{len(answers) / data.num_items:.2f} answers per item")
    acc = per_worker[active]
    q = np.percentile(acc, [10, 25, 50, 75, 90])
    print(f"worker accuracy: mean {acc.mean():.3f}, sd {acc.std():.3f}, deciles 10/25/50/75/90: "
          f"{' / '.join(f'{v:.2f}' for v in q)}; answers per worker median "
          f"{int(np.median(counts[active]))}")
    print(f"answers right: {right.mean():.4f}")
    print("| labels | accuracy on the training items |\n|---|---|")
    voted = data.item_labels(np.random.default_rng(0)).argmax(1)
    print(f"| majority vote | {(voted == truth).mean():.4f} |")
    for mode in AGGREGATORS:
        print(f"| {mode} (crowd-kit) | {(aggregate(data, mode).argmax(1) == truth).mean():.4f} |")
    c = data.num_classes
    print(f"| oracle, one matrix for the crowd ({args.folds}-fold) | "
          f"{oracle_accuracy(item, answers, workers, truth, c, 'crowd', folds=args.folds):.4f} |")
    for kind, what in (("one-coin", "the crowd's matrix with each worker's accuracy"),
                       ("confusion", "one matrix per worker")):
        for kappa in (float(k) for k in args.kappa.split(",")):
            acc = oracle_accuracy(item, answers, workers, truth, c, kind, kappa, args.folds)
            print(f"| oracle, {what}, κ = {kappa:g} ({args.folds}-fold) | {acc:.4f} |")


if __name__ == "__main__":
    main()
