"""bench/crowd_label_quality.py bounds what knowing each worker can add: its per-worker oracle
must find planted worker differences and must not invent them in a crowd of equal workers."""
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.crowd_label_quality import oracle_accuracy  # noqa: E402


def planted_crowd(accuracies, items=3000, answers=3, classes=5, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.integers(classes, size=items)
    item = np.repeat(np.arange(items), answers)
    worker = np.concatenate([rng.choice(len(accuracies), answers, replace=False)
                             for _ in range(items)])
    right = rng.random(len(item)) < np.asarray(accuracies)[worker]
    said = np.where(right, truth[item], rng.integers(classes, size=len(item)))
    return item, said, worker, truth, classes


def test_per_worker_oracles_find_planted_spammers():
    args = planted_crowd([0.1] * 3 + [0.85] * 7)
    crowd = oracle_accuracy(*args, "crowd")
    assert oracle_accuracy(*args, "one-coin", 10.0) > crowd + 0.05
    assert oracle_accuracy(*args, "confusion", 10.0) > crowd + 0.03


def test_per_worker_oracles_add_nothing_to_equal_workers():
    args = planted_crowd([0.7] * 10)
    crowd = oracle_accuracy(*args, "crowd")
    assert 0.75 < crowd < 0.95
    assert oracle_accuracy(*args, "one-coin", 10.0) < crowd + 0.01
    assert oracle_accuracy(*args, "confusion", 10.0) < crowd + 0.01
