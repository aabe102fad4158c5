"""Cheap guards for CAN's training health: no collapse, and no loss against plain on a
noisy-label validation split (the score settings are chosen by; test labels are not used)."""
import numpy as np
import pytest

from pyro_can import api
from pyro_can.config import Config
from pyro_can.metrics import collapsed

# the default schedule (the hand-over needs it: a 30-epoch run with a short ramp leaves CAN 2 points
# below plain on this score); about 25 s per fit on 2 cores
SETTINGS = dict(noise_rate=0.6, val_fraction=0.1, seed=0)


@pytest.fixture(scope="module")
def short_fits():
    return {m: api.fit(Config(method=m, **SETTINGS)) for m in ("plain", "can")}


def test_can_not_below_plain_on_noisy_validation(short_fits):
    can = short_fits["can"].metrics["val_noisy_mAP"]
    plain = short_fits["plain"].metrics["val_noisy_mAP"]
    # measured: CAN 0.3624, plain 0.3519 (seed 0; both softmax classifiers); tolerance 0.01
    assert can >= plain - 0.01, (can, plain)


def test_can_does_not_collapse_and_logs_elbo_terms(short_fits):
    res = short_fits["can"]
    assert not res.metrics["collapsed"]
    assert res.metrics["test_accuracy"] > 0.7
    last = res.history[-1]
    for term in ("recon", "kl_y", "kl_z", "mi"):
        assert np.isfinite(last[term])
    # the posterior stays tied to the labels: the decoder explains ỹ better than label marginals
    assert last["recon"] > -3.2  # Σ_c H(0.1) = 3.25 nats is what labels that say nothing cost


def test_collapse_detector():
    rng = np.random.default_rng(0)
    healthy = rng.random((200, 10))
    one_class = np.tile(np.eye(10)[3], (200, 1)) + 0.01 * rng.random((200, 10))
    flat = np.full((200, 10), 0.1)
    assert not collapsed(healthy)
    assert collapsed(one_class) and collapsed(flat)


def test_posterior_overrules_labels_at_high_noise():
    """At P = 0.8 the anchor hand-over must stop q(y | x, ỹ) from copying ỹ (with the old fixed
    start it agreed with ỹ on 98-100% of items, and CAN trained like the plain net)."""
    from pyro_can.posterior import posterior
    from pyro_can.train import Trainer

    cfg = Config(method="can", noise_rate=0.8, seed=0, val_fraction=0.1)
    data, val = api.load_data(cfg)
    tr = Trainer(cfg, data, val)
    res = tr.run()
    post = posterior(tr)
    agree = float((post["q_y"].argmax(1) == post["ann_labels"].argmax(1)).mean())
    # measured 0.276 (0.654 with --prior-init 1); the estimate of how often an answer is right
    # (true: 0.28) is 0.20-0.42
    assert agree < 0.85, agree
    hit = np.array(res.metrics["label_hit"])
    assert 0.15 < hit.mean() < 0.5, hit
    assert not res.metrics["collapsed"]
