"""GCE, SCE, ELR, Co-teaching and DivideMix: each loss against a hand computation, the
small-loss exchange, the mixture split, and a short fit of each from the CLI on digits."""
import json
import math

import numpy as np
import pytest
import torch

from pyro_can import api
from pyro_can.config import Config
from pyro_can.feature_loaders import load_digits
from pyro_can.models.coteaching import coteaching_loss, forget_rate, small_loss
from pyro_can.models.dividemix import clean_probability, sharpen
from pyro_can.models.elr import elr_penalty, update_targets
from pyro_can.models.gce import gce_loss
from pyro_can.models.sce import reverse_cross_entropy
from pyro_can.models.softmax_labels import answer_log_prob
from pyro_can.train import Trainer

LOGITS = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
LABELS = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def _p(row, col):
    z = [math.exp(v) for v in LOGITS[row].tolist()]
    return z[col] / sum(z)


def test_gce_is_cross_entropy_as_q_goes_to_zero_and_mae_at_one():
    log_p = answer_log_prob(LOGITS, LABELS)
    ce = torch.tensor([-math.log(_p(0, 0)), -math.log(_p(1, 2))])
    torch.testing.assert_close(gce_loss(log_p, 1e-6), ce, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(gce_loss(log_p, 0.0), ce)
    torch.testing.assert_close(gce_loss(log_p, 1.0), torch.tensor([1 - _p(0, 0), 1 - _p(1, 2)]))
    q = 0.7
    torch.testing.assert_close(gce_loss(log_p, q),
                               torch.tensor([(1 - _p(0, 0) ** q) / q, (1 - _p(1, 2) ** q) / q]))


def test_sce_reverse_term_is_the_clamped_log_of_the_label():
    # −Σ_k p_k log clamp(onehot_k, 1e-4): only the classes not answered count, each at ln 1e4
    want = torch.tensor([math.log(1e4) * (_p(0, 1) + _p(0, 2)),
                         math.log(1e4) * (_p(1, 0) + _p(1, 1))])
    torch.testing.assert_close(reverse_cross_entropy(LOGITS, LABELS), want)


def test_elr_target_is_a_running_average_of_predictions():
    targets = torch.zeros(4, 3)
    p1 = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    p2 = torch.tensor([[0.5, 0.4, 0.1], [0.2, 0.3, 0.5]])
    items = torch.tensor([3, 1])
    update_targets(targets, items, p1, beta=0.7)
    torch.testing.assert_close(targets[items], 0.3 * p1)
    got = update_targets(targets, items, p2, beta=0.7)
    torch.testing.assert_close(got, 0.7 * 0.3 * p1 + 0.3 * p2)
    assert torch.all(targets[[0, 2]] == 0)  # items not in the batch keep their targets
    want = torch.log(1 - (got * p2).sum(-1))
    torch.testing.assert_close(elr_penalty(got, p2), want)


def test_elr_targets_travel_with_the_checkpoint():
    data = load_digits(seed=0, noise_rate=0.4)
    tr = Trainer(Config(method="elr", epochs=1), data)
    tr.run()
    assert tr.model.targets.shape == (data.num_items, 10) and tr.model.targets.sum() > 0
    fresh = Trainer(Config(method="elr", epochs=1), data)
    fresh.load_state_dict(tr.state_dict())
    torch.testing.assert_close(fresh.model.targets, tr.model.targets)


def test_coteaching_each_net_learns_from_its_peers_small_loss_picks():
    loss_a = torch.tensor([0.1, 5.0, 0.2, 4.0], requires_grad=True)
    loss_b = torch.tensor([3.0, 0.1, 0.2, 6.0], requires_grad=True)
    assert sorted(small_loss(loss_a, 0.5).tolist()) == [0, 2]
    assert sorted(small_loss(loss_b, 0.5).tolist()) == [1, 2]
    total = coteaching_loss(loss_a, loss_b, 0.5)
    torch.testing.assert_close(total, torch.tensor((5.0 + 0.2) / 2 + (3.0 + 0.2) / 2))
    total.backward()
    assert loss_a.grad.nonzero().flatten().tolist() == [1, 2]  # net a: b's picks
    assert loss_b.grad.nonzero().flatten().tolist() == [0, 2]  # net b: a's picks


def test_forget_rate_rises_linearly_to_tau():
    assert [forget_rate(e, 0.4, 5) for e in range(7)] == pytest.approx(
        [0.0, 0.1, 0.2, 0.3, 0.4, 0.4, 0.4])
    assert forget_rate(0, 0.4, 1) == 0.4


def test_dividemix_mixture_splits_planted_clean_and_noisy_losses():
    rng = np.random.default_rng(0)
    clean, noisy = rng.gamma(2.0, 0.05, 800), rng.normal(2.5, 0.5, 200).clip(0.5)
    prob = clean_probability(np.concatenate([clean, noisy]))
    assert (prob[:800] > 0.5).mean() > 0.97
    assert (prob[800:] < 0.5).mean() > 0.97
    s = sharpen(torch.tensor([[0.6, 0.4]]), 0.5)
    torch.testing.assert_close(s, torch.tensor([[0.36 / 0.52, 0.16 / 0.52]]))


@pytest.mark.parametrize("method,option", [("gce", ("--gce-q", "0.5")),
                                           ("sce", ("--sce-alpha", "0.5")),
                                           ("elr", ("--elr-lambda", "2")),
                                           ("coteaching", ("--forget-rate", "0.3")),
                                           ("dividemix", ("--dividemix-warmup", "1"))])
def test_two_epoch_fit_from_the_cli(cli, tmp_path, method, option):
    out = tmp_path / "run"
    code, stdout, err = cli("fit", "--method", method, *option, "--epochs", "2",
                            "--val-fraction", "0.2", "--out", out)
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    config = json.loads((out / "config.json").read_text())
    assert metrics["method"] == method and metrics["epochs"] == 2
    assert config[option[0][2:].replace("-", "_")] == float(option[1])
    assert metrics["test_accuracy"] > 0.1 and "val_noisy_answer_nll" in metrics
    code, stdout, err = cli("evaluate", out)  # the shipped classifier reloads alone
    assert code == 0 and f"test_accuracy {metrics['test_accuracy']:.6f}" in stdout


def test_dividemix_split_starts_after_its_warmup():
    data = load_digits(seed=0, noise_rate=0.6)
    tr = Trainer(Config(method="dividemix", epochs=2, dividemix_warmup=1), data)
    tr.train_epoch()
    assert tr.model.clean is None
    tr.epoch = 1
    tr.train_epoch()
    split = tr.model.clean[0].numpy()
    # the items the noise changed get a lower clean probability than those it kept
    corrupted = data.corrupted
    assert split[~corrupted].mean() > split[corrupted].mean() + 0.2


def test_softmax_losses_refuse_multi_label_data(cli, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype(np.float32)
    y = (rng.random((60, 3)) < 0.5).astype(np.float32)
    np.savez(tmp_path / "m.npz", X=x, Y=y)
    code, _, err = cli("fit", "--data", "npz", "--path", tmp_path / "m.npz", "--method", "sce",
                       "--epochs", "1", "--out", tmp_path / "run")
    assert code == 2 and "--method sce is a loss on one class per item" in err
    assert not (tmp_path / "run").exists()


def test_dividemix_asks_for_pooled_crowd_answers(cli, tmp_path):
    code, _, err = cli("fit", "--data", "music", "--method", "dividemix", "--epochs", "1",
                       "--out", tmp_path / "run")
    assert code == 2 and "pool them with --crowd majority" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("method", ["coteaching", "elr"])
def test_the_estimator_trains_the_new_baselines(method):
    from pyro_can.estimator import CANClassifier

    data = load_digits(seed=0, noise_rate=0.4)
    y = data.item_labels().argmax(1)
    clf = CANClassifier(method=method, epochs=2, hidden="64").fit(data.x_train, y)
    acc = (clf.predict(data.x_test) == data.y_test.argmax(1)).mean()
    assert acc > 0.25 and clf.predict_proba(data.x_test).shape == (len(data.x_test), 10)
