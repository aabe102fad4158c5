"""Crowd baselines on music's real answers: the Crowd Layer, crowd-kit's aggregators, and the
crowd-learning papers' protocol (a validation set carved from the test clips, their MLP)."""
import csv
import json

import numpy as np
import pytest
import torch

from pyro_can import api
from pyro_can.config import Config
from pyro_can.data import validation_from_test
from pyro_can.feature_loaders import load_music
from pyro_can.errors import DataError, OptionError
from pyro_can.estimator import CANClassifier
from pyro_can.nets import MLP
from pyro_can.train import Trainer


def test_crowd_layer_starts_at_identity_and_moves():
    data = load_music()
    tr = Trainer(Config(data="music", method="crowd-layer", epochs=4, lr=0.05), data)
    w0 = tr.model.crowd_layer.weight.detach().clone()
    assert w0.shape == (int(data.ann_worker.max()) + 1, 10, 10)
    torch.testing.assert_close(w0, torch.eye(10).expand_as(w0))
    result = tr.run()
    w = tr.model.crowd_layer.weight.detach()
    moved = (w - w0).abs().amax((1, 2))
    answered = np.unique(data.ann_worker)
    assert (moved[answered] > 1e-3).all()  # every worker with answers got its own update
    # and not all alike: the matrices learn different workers, not one shared confusion
    assert (w[answered] - w[answered].mean(0)).abs().max() > 1e-3
    assert result.metrics["test_accuracy"] > 0.3  # chance is 0.1 on ten genres


def test_adam_is_the_optimizer_when_asked_and_trains_the_crowd_layer():
    data = load_music()
    tr = Trainer(Config(data="music", method="crowd-layer", epochs=3, lr=0.005,
                        optimizer="adam"), data)
    assert isinstance(tr.optimizer, torch.optim.Adam)
    w0 = tr.model.crowd_layer.weight.detach().clone()
    result = tr.run()
    assert (tr.model.crowd_layer.weight.detach() - w0).abs().max() > 1e-3
    assert result.metrics["test_accuracy"] > 0.3
    assert isinstance(Trainer(Config(data="music", method="plain"), data).optimizer,
                      torch.optim.SGD)  # the default stays the paper's SGD


@pytest.mark.parametrize("args, message", [
    (("--data", "digits"), "needs each answer's worker id; --data digits"),
    (("--data", "music", "--crowd", "majority"), "needs --crowd model, not --crowd majority"),
])
def test_crowd_layer_without_workers_is_one_clear_error(cli, tmp_path, args, message):
    out = tmp_path / "run"
    code, _, err = cli("fit", "--method", "crowd-layer", *args, "--epochs", "1", "--out", out)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not out.exists()  # refused before the run folder is written


def test_crowd_layer_and_glad_run_through_fit_and_compare(cli, tmp_path):
    pytest.importorskip("crowdkit")
    code, _, err = cli("fit", "--data", "music", "--method", "crowd-layer", "--epochs", "2",
                       "--out", tmp_path / "fit")
    assert code == 0, err
    assert (tmp_path / "fit" / "workers.csv").exists()
    code, _, err = cli("evaluate", tmp_path / "fit")
    assert code == 0, err
    out = tmp_path / "cmp"
    code, stdout, err = cli("compare", "--data", "music", "--methods", "plain,crowd-layer",
                            "--noise-rates", "0", "--seeds", "0", "--epochs", "2",
                            "--val-from-test", "100", "--out", out)
    assert code == 0, err
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [r["method"] for r in rows] == ["plain", "crowd-layer"]
    assert all(float(r["val_clean_accuracy"]) > 0 for r in rows)
    # no latent y: the cleaned labels are the classifier's predictions, scored all the same
    assert all(0.0 <= float(r["train_cleaned_label_accuracy"]) <= 1.0 for r in rows)
    code, stdout, err = cli("compare", "--data", "music", "--methods", "plain", "--crowd", "glad",
                            "--noise-rates", "0", "--seeds", "0", "--epochs", "2",
                            "--out", tmp_path / "glad")
    assert code == 0, err
    assert "plain on glad" in stdout  # the table names the labels the net trained on


@pytest.mark.parametrize("mode", ["dawid-skene", "glad"])
def test_crowd_kit_aggregates_beat_the_majority_vote(mode):
    pytest.importorskip("crowdkit")
    data = load_music()
    truth = data.y_train_clean.argmax(1)
    rng = np.random.default_rng(0)
    voted = data.with_crowd("majority", rng).ann_labels.argmax(1)
    pooled = data.with_crowd(mode, rng)
    assert pooled.num_annotations == pooled.num_items == data.num_items
    assert (pooled.ann_worker == -1).all()
    # music's answers are about 70% right per item by vote; EM that weighs workers does better
    assert (pooled.ann_labels.argmax(1) == truth).mean() > (voted == truth).mean() + 0.03


def test_missing_crowd_kit_names_the_extra(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_crowdkit(name, *args, **kwargs):
        if name.startswith("crowdkit"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_crowdkit)
    with pytest.raises(DataError, match=r"--crowd glad needs crowd-kit: pip install "
                                        r"-e '\.\[compare\]'"):
        load_music().with_crowd("glad", np.random.default_rng(0))


def test_validation_from_test_is_a_seeded_stratified_split():
    data = load_music()
    a, b, c = (validation_from_test(data, 100, seed) for seed in (0, 0, 1))
    assert len(a.y_val) == 100 and len(a.y_test) == 200
    assert len(np.intersect1d(a.test_ids, data.test_ids)) == 200
    np.testing.assert_array_equal(a.y_val, b.y_val)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.test_ids, c.test_ids)
    # stratified: each genre's share of the 100 within one clip of its share of the 300
    share = data.y_test.sum(0) / 3
    assert np.abs(a.y_val.sum(0) - share).max() <= 1
    rows = {tuple(r) for r in data.x_test}
    assert {tuple(r) for r in a.x_val} | {tuple(r) for r in a.x_test} == rows
    assert validation_from_test(data, 0, 0) is data
    with pytest.raises(DataError, match="takes all 300 test item"):
        validation_from_test(data, 300, 0)


def test_published_protocol_reports_200_and_scores_100(tmp_path):
    cfg = Config(data="music", method="plain", crowd="majority", epochs=2, val_from_test=100,
                 hidden="256,128", batch_norm=True, dropout=0.5)
    m = api.fit(cfg, out=tmp_path / "run").metrics
    assert m["test_items"] == 200 and 0 < m["val_clean_accuracy"] <= 1
    saved = json.load(open(tmp_path / "run" / "metrics.json"))
    again = api.evaluate(tmp_path / "run")  # the run folder rebuilds the same split
    assert again["test_accuracy"] == saved["test_accuracy"]
    assert again["val_clean_accuracy"] == saved["val_clean_accuracy"]


def test_batch_norm_and_dropout_mlp():
    net = MLP(124, 10, (256, 128), batch_norm=True, dropout=0.5)
    kinds = [type(layer).__name__ for layer in net.net]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 2 + ["Linear"]
    assert [type(layer).__name__ for layer in MLP(124, 10, (256, 128)).net] == \
        ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    x = torch.randn(32, 124)
    net.train()
    assert not torch.equal(net(x), net(x))  # dropout draws a new mask each call
    net.eval()
    torch.testing.assert_close(net(x), net(x))
    with pytest.raises(OptionError, match="--dropout"):
        Config(dropout=1.0).validate()


def test_crowd_layer_estimator_saves_and_loads(tmp_path):
    data = load_music()
    rows = np.stack([data.ann_item, data.ann_worker, data.ann_labels.argmax(1)], 1)
    est = CANClassifier(method="crowd-layer", epochs=2).fit(data.x_train, annotations=rows)
    est.save(tmp_path / "est")
    again = CANClassifier.load(tmp_path / "est")
    np.testing.assert_array_equal(again.predict(data.x_test), est.predict(data.x_test))


def test_batch_norm_skips_a_last_batch_of_one_item():
    cfg = Config(data="music", method="plain", crowd="majority", epochs=1, batch_size=699,
                 hidden="16", batch_norm=True)
    m = api.fit(cfg).metrics  # 700 items: batches of 699 and 1; batch norm cannot train on 1
    assert np.isfinite(m["test_accuracy"])


def test_any_amt_set_runs_the_crowd_baselines_and_the_protocol(tmp_path):
    pytest.importorskip("crowdkit")
    from fixtures_images import make_amt

    root = make_amt(tmp_path / "amt")
    for method, crowd in (("crowd-layer", "model"), ("plain", "glad")):
        cfg = Config(data="amt", root=str(root), arch="mlp", method=method, crowd=crowd,
                     epochs=2, batch_size=8, val_from_test=4, hidden="8", batch_norm=True,
                     dropout=0.5)
        m = api.fit(cfg).metrics
        assert m["test_items"] == 8 and 0 <= m["val_clean_accuracy"] <= 1
