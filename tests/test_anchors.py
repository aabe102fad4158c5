"""The anchor estimate of label reliability (pyro_can/anchors.py) and CAN's hand-over from it."""
import numpy as np
import pytest
import torch

from pyro_can.anchors import anchor_rows, evidence_weights, label_reliability, transition_matrix
from pyro_can.config import Config
from pyro_can.errors import OptionError
from pyro_can.noise import shuffle_labels


def _noisy_digits_like(rate: float, n: int = 3000, c: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    clean = np.eye(c)[y]
    noisy, _ = shuffle_labels(clean, rate, rng)
    return clean, noisy


def test_perfect_ranking_recovers_shuffle_noise_rates():
    # shuffle noise P: the answer is right with 1 - P + P/C, a given wrong class with P/C
    for rate in (0.0, 0.4, 0.8):
        clean, noisy = _noisy_digits_like(rate)
        scores = clean + 0.01 * np.random.default_rng(1).random(clean.shape)
        hit, fa = label_reliability(*anchor_rows(scores, np.arange(len(noisy)), noisy),
                                    single_label=True)
        assert np.allclose(hit.mean(), max(0.01, min(0.99, 1 - rate + rate / 10)), atol=0.03)
        assert np.allclose(fa.mean(), max(0.01, rate / 10), atol=0.02)


def _pair_flips(rate: float, n: int = 4000, c: int = 4, seed: int = 0):
    """Class-dependent noise: an item of class k is answered k + 1 (mod C) with ``rate``."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    said = np.where(rng.random(n) < rate, (y + 1) % c, y)
    return y, np.eye(c)[said]


def test_transition_matrix_recovers_pair_flips_that_reliability_spreads():
    y, noisy = _pair_flips(0.3)
    scores = np.eye(4)[y] + 0.01 * np.random.default_rng(1).random((len(y), 4))
    rows, low = anchor_rows(scores, np.arange(len(y)), noisy)
    t = transition_matrix(rows)
    truth = 0.7 * np.eye(4) + 0.3 * np.roll(np.eye(4), 1, axis=1)
    assert np.allclose(t.sum(1), 1.0)
    assert np.abs(t - truth).max() < 0.05
    # the per-class rates see the same hits but spread the flips over every other class
    hit, fa = label_reliability(rows, low, single_label=True)
    assert np.allclose(hit, np.diag(t), atol=0.03)
    assert np.allclose(fa, 0.1, atol=0.03)  # 0.3 / 3, where T says 0.3 for one class, 0 else
    # floored: a class never answered keeps a finite log-likelihood
    assert t.min() > 0.0


def test_evidence_weights_are_half_log_ratios_and_never_negative():
    hit, fa = np.array([0.28, 0.05]), np.array([0.08, 0.10])
    w = evidence_weights(hit, fa, categorical=True)
    assert np.isclose(w[0], 0.5 * np.log(0.28 / 0.08))
    assert w[1] == 0.05  # no signal: floored, an answer never counts against its class
    wb = evidence_weights(hit, fa, categorical=False)
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    assert np.isclose(wb[0], 0.5 * (logit(0.28) - logit(0.08)))


def test_crowd_answers_share_an_item_vote():
    # two items of class 0, each with 3 answers (2 right, 1 wrong) -> hit 2/3
    scores = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8]])
    ann_item = np.array([0, 0, 0, 1, 1, 1, 2, 3])
    ann_labels = np.eye(2)[[0, 0, 1, 0, 0, 1, 1, 1]]
    hit, fa = label_reliability(*anchor_rows(scores, ann_item, ann_labels, share=1.0), True,
                                floor=0.0)
    assert np.isclose(hit[0], 2 / 3)


def test_handover_sets_decoder_and_additive_layer():
    from pyro_can import api
    from pyro_can.train import Trainer

    cfg = Config(noise_rate=0.8, latent="categorical", epochs=1, warmup_epochs=1, seed=0)
    data, val = api.load_data(cfg)
    tr = Trainer(cfg, data, val)
    assert tr.handover_epoch == 1
    tr.run()
    assert tr.label_reliability == {}  # 1 epoch: the hand-over epoch was never reached
    tr.handover()
    w = tr.model.decoder.copy_weight.detach()
    assert torch.allclose(tr.guide.additive.label_weight.detach(), w)
    # an untrained-ish classifier and 80% shuffled labels: labels look weak, far from the
    # fixed start (--copy-init 2, 86% right)
    assert float(w.mean()) < 1.0
    assert len(tr.label_reliability["label_hit"]) == 10


def test_hold_noise_keeps_the_noise_model_at_the_handover_estimate(tmp_path):
    """--hold-noise: after the hand-over the decoder and q's weights on answers and classifier
    keep the anchor estimate while the classifier and q's MLP train on; a resumed run holds
    them too (requires_grad is not in a state dict)."""
    from pyro_can import api
    from pyro_can.train import Trainer

    cfg = Config(noise_rate=0.6, epochs=4, warmup_epochs=1, ramp_epochs=1, hold_noise=True,
                 hidden="32,8", seed=0)
    data, val = api.load_data(cfg)
    tr = Trainer(cfg, data, val)
    seen = {}

    def snapshot(trainer, record):
        seen[record["epoch"]] = {
            "decoder": {k: v.clone() for k, v in trainer.model.decoder.state_dict().items()},
            "label_weight": trainer.guide.additive.label_weight.detach().clone(),
            "classifier": trainer.model.classifier.net[0].weight.detach().clone()}
    tr.run(on_epoch=snapshot)
    after, last = seen[2], seen[4]  # epoch 2 began with the hand-over
    for k, v in after["decoder"].items():
        assert torch.equal(v, last["decoder"][k]), k
    assert torch.equal(after["label_weight"], last["label_weight"])
    assert not torch.equal(after["classifier"], last["classifier"])
    held = Trainer(cfg, data, val)
    held.load_state_dict(tr.state_dict())
    assert not any(p.requires_grad for p in held.model.decoder.parameters())
    assert not held.guide.additive.prior_weight.requires_grad
    fresh = Trainer(cfg, data, val)
    assert all(p.requires_grad for p in fresh.model.decoder.parameters())
    with pytest.raises(OptionError, match="--hold-noise .* needs --method can and "
                                          "--noise-init anchor or"):
        api.fit(Config(hold_noise=True, noise_init="fixed", epochs=1))


def test_transition_handover_makes_q_the_bayes_posterior_of_the_estimate():
    """--noise-init transition: at the hand-over the decoder is T itself (softmax of its logits
    for a clean class y is T[y, :], whatever z) and q(y | x, ỹ) reads each answer as log T[:, ỹ];
    the estimate is recorded, and held with --hold-noise."""
    from pyro_can import api
    from pyro_can.train import Trainer

    cfg = Config(noise_rate=0.4, epochs=6, warmup_epochs=6, noise_init="transition",
                 hold_noise=True, hidden="32,8", lr=0.05, seed=0)
    data, val = api.load_data(cfg)
    tr = Trainer(cfg, data, val)
    assert tr.handover_epoch == 6
    tr.run()  # the warm-up's epochs
    tr.handover()
    t = torch.tensor(tr.label_reliability["label_transition"])
    assert t.shape == (10, 10) and torch.allclose(t.sum(1), torch.ones(10), atol=1e-6)
    # 40% shuffled (64% right): a 6-epoch net's anchors still find most classes' answers right
    assert float(torch.diag(t).mean()) > 0.45
    assert int((t.argmax(1) == torch.arange(10)).sum()) >= 7
    dec = tr.model.decoder
    y, z = torch.eye(10), torch.randn(10, cfg.quality_dim)
    assert torch.allclose(torch.softmax(dec(y, z), -1), t.to(torch.float32), atol=1e-5)
    add = tr.guide.additive
    assert torch.equal(add.label_weight.detach(), torch.zeros(10))
    # one answer of class 3: its evidence for each y is log T[y, 3], on top of the prior's
    prior = torch.randn(1, 10)
    answer = torch.eye(10)[[3]]
    with torch.no_grad():
        q = torch.softmax(add(prior, answer, torch.tensor([0])), -1)[0]
    bayes = torch.softmax(add.prior_weight.detach() * prior[0] + torch.log(t[:, 3]).float(), -1)
    assert torch.allclose(q, bayes, atol=1e-5)
    assert not add.answer_evidence.requires_grad and not dec.transition.requires_grad
    for per_class in (dict(latent="bernoulli"),  # per-class answers (multi-label likelihood)
                      dict(latent="bernoulli", ytilde_likelihood="categorical")):  # multi-hot y
        with pytest.raises(OptionError, match="--noise-init transition .* single-label"):
            api.fit(Config(noise_init="transition", epochs=1, **per_class))


def test_noise_inits_run_through_the_cli(cli, tmp_path):
    """Each hand-over estimate trains through ``sweep`` (fit per cell); only ``transition``
    records the matrix, and both hold with --hold-noise."""
    import csv
    import json

    code, _, err = cli("sweep", "--param", "noise-init", "--values", "anchor,transition",
                       "--methods", "can", "--seeds", "0", "--epochs", "6", "--warmup-epochs", "4",
                       "--ramp-epochs", "1", "--lr", "0.05", "--hidden", "32,8", "--hold-noise",
                       "--out", tmp_path / "sw")
    assert code == 0, err
    rows = list(csv.DictReader(open(tmp_path / "sw" / "results.csv")))
    metrics = {json.load(open(f"{r['run_dir']}/config.json"))["noise_init"]:
               json.load(open(f"{r['run_dir']}/metrics.json")) for r in rows}
    assert set(metrics) == {"anchor", "transition"}
    assert "label_transition" not in metrics["anchor"]
    assert np.array(metrics["transition"]["label_transition"]).shape == (10, 10)
    assert all(m["test_accuracy"] > 0.4 for m in metrics.values())  # chance: 0.1


def test_answer_scores_read_the_classifier_through_the_noise_model():
    """Noisy-label validation of a noise model: a classifier that knows the clean class, read
    through the true pair-flip matrix, predicts the noisy labels better (lower NLL) than the same
    classifier taken as a prediction of the labels, and better than a wrong matrix."""
    from pyro_can.metrics import answer_scores

    y, noisy = _pair_flips(0.3, n=2000)
    probs = 0.9 * np.eye(4)[y] + 0.025
    truth = 0.7 * np.eye(4) + 0.3 * np.roll(np.eye(4), 1, axis=1)
    uniform = 0.7 * np.eye(4) + 0.1 * (1 - np.eye(4))
    through_t = answer_scores(noisy, probs, truth, prefix="")
    as_is = answer_scores(noisy, probs, None, prefix="")
    assert as_is["answer_accuracy"] == float((y == noisy.argmax(1)).mean())  # ~0.7
    assert through_t["answer_nll"] < answer_scores(noisy, probs, uniform, prefix="")[
        "answer_nll"] < as_is["answer_nll"]
    assert np.isclose(through_t["answer_accuracy"], as_is["answer_accuracy"])  # argmax: still y


def test_a_fit_with_a_validation_split_records_the_answer_scores():
    from pyro_can import api

    res = api.fit(Config(method="learnq", noise_rate=0.4, epochs=2, hidden="32,8",
                         val_fraction=0.2, seed=0))
    m = res.metrics
    assert 0 < m["val_noisy_answer_nll"] < 10 and 0 <= m["val_noisy_answer_accuracy"] <= 1
