"""bench/oracle_noise.py hands CAN and LearnQ the true noise matrix, an analysis of what the anchor
estimate costs: the matrix must be the clean labels' own, and each method must use it and keep it."""
import os
import sys

import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.oracle_noise import give_true_noise, true_transition  # noqa: E402
from pyro_can import api  # noqa: E402
from pyro_can.config import Config  # noqa: E402
from pyro_can.train import Trainer  # noqa: E402

SMALL = dict(noise_rate=0.4, hidden="32,8", lr=0.05, seed=0)


def trainer(**options) -> Trainer:
    cfg = Config(**{**SMALL, **options})
    return Trainer(cfg, *api.load_data(cfg))


def test_the_true_matrix_is_how_often_each_class_was_answered_right():
    tr = trainer()
    data = tr.data
    t = true_transition(data)
    assert np.allclose(t.sum(1), 1)
    clean = data.y_train_clean.argmax(1)
    kept = np.array([1 - data.corrupted[clean == c].mean() for c in range(data.num_classes)])
    assert np.allclose(np.diag(t), kept, atol=0.02)  # floored at 0.01 and renormalized
    assert 0.5 < np.diag(t).mean() < 0.75  # 40% shuffled


def test_can_uses_the_true_matrix_instead_of_the_anchor_estimate_and_holds_it():
    options = dict(epochs=3, warmup_epochs=1, ramp_epochs=1, noise_init="transition",
                   hold_noise=True)
    anchored = trainer(**options)
    anchored.run()
    oracle = trainer(**options)
    t = true_transition(oracle.data)
    give_true_noise(oracle, t)
    oracle.run()
    recorded = np.array(oracle.label_reliability["label_transition"])
    assert np.allclose(recorded, t)
    assert not np.allclose(np.array(anchored.label_reliability["label_transition"]), t,
                           atol=0.01)
    y, z = torch.eye(10), torch.randn(10, oracle.cfg.quality_dim)
    with torch.no_grad():  # held: the decoder is still T* two epochs after the hand-over
        decoded = torch.softmax(oracle.model.decoder(y, z), -1).numpy()
    assert np.allclose(decoded, t, atol=1e-5)
    evidence = oracle.guide.additive.answer_evidence.detach().numpy()
    assert np.allclose(evidence, np.log(t), atol=1e-5)


def test_learnq_becomes_forward_correction_with_the_true_matrix():
    tr = trainer(method="learnq", epochs=2)
    t = true_transition(tr.data)
    give_true_noise(tr, t)
    tr.run()
    assert np.allclose(tr.model.noise_adaptation.matrix().detach().numpy(), t, atol=1e-5)


def test_other_methods_are_refused():
    with pytest.raises(SystemExit, match="--hold-noise"):
        give_true_noise(trainer(epochs=1), np.eye(10))
