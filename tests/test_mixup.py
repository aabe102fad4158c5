"""Mixup (``--mixup ALPHA``, ``pyro_can/mixup.py``): the mixed minibatch keeps its shapes and
λ's range, is drawn from the run's seed, and at α → 0 is the un-mixed loss."""
import json

import numpy as np
import pytest
import torch

from pyro_can import api
from pyro_can.config import Config
from pyro_can.mixup import Mixup, draw, mix
from pyro_can.schedules import step_params
from pyro_can.train import Trainer

MUSIC = dict(data="music", hidden="32", batch_size=64)


def _trainer(**kw):
    cfg = Config(**kw).validate()
    data, _ = api.load_data(cfg)
    return Trainer(cfg, data)


def test_mixed_batch_keeps_shapes_and_weights_both_items_answers():
    tr = _trainer(**MUSIC, method="can")
    batch = tr.train_set.batch(torch.arange(40))
    mixed = Mixup(1.0, seed=0)(batch, epoch=0, step=0)
    assert mixed.x.shape == batch.x.shape
    assert torch.equal(mixed.item_idx, batch.item_idx)
    r = len(batch.ann_item)
    assert len(mixed.ann_item) == len(mixed.labels) == len(mixed.ann_worker) == 2 * r
    w = mixed.ann_weight
    own, partner = w[:r], w[r:]
    assert ((own >= 0.5) & (own <= 1.0)).all() and ((partner >= 0) & (partner <= 0.5)).all()
    # each mixed item: its own answers at λ_i, its partner's at 1 − λ_i
    lam = torch.zeros(40, dtype=w.dtype)
    lam[batch.ann_item] = own  # one value per item
    torch.testing.assert_close(own, lam[batch.ann_item])
    torch.testing.assert_close(partner, 1 - lam[mixed.ann_item[r:]])
    assert mixed.to_table(w).shape == mixed.mask.shape
    assert mixed.answer_labels.shape == (2 * batch.max_answers, 40, 10)


def test_lambda_is_folded_beta_and_the_draw_is_seeded():
    lam, perm = draw(1.0, 10_000, np.random.default_rng(0))
    assert lam.min() >= 0.5 and lam.max() <= 1.0
    assert abs(lam.mean() - 0.75) < 0.01  # max(U, 1 − U) for Beta(1, 1) = U(0, 1)
    assert sorted(perm) == list(range(10_000))
    tr = _trainer(data="digits", method="plain")
    batch = tr.train_set.batch(torch.arange(50))
    a, b = Mixup(1.0, 3)(batch, 2, 5), Mixup(1.0, 3)(batch, 2, 5)
    assert torch.equal(a.x, b.x) and torch.equal(a.ann_weight, b.ann_weight)
    c = Mixup(1.0, 4)(batch, 2, 5)
    assert not torch.equal(a.x, c.x)
    assert not torch.equal(a.x, Mixup(1.0, 3)(batch, 2, 6).x)  # a new draw every step


@pytest.mark.parametrize("kw", [
    dict(data="digits", method="plain"),  # one answer per item
    dict(**MUSIC, method="crowd-layer", crowd_layer_mean=True),  # several, with workers
    dict(**MUSIC, method="plain", crowd="majority"),
    # CAN with y summed out and no z: its ELBO is exact, so it can be compared
    dict(**MUSIC, method="can", elbo="enum", quality_dim=0, warmup_epochs=0),
])
def test_alpha_to_zero_is_the_unmixed_loss(kw):
    tr = _trainer(**kw)
    tr.programs.eval()
    batch = tr.train_set.batch(torch.arange(48))
    hp = step_params(tr.cfg, 5.0)
    plain = tr.objective(batch, hp).detach()
    mixed = Mixup(1e-6, seed=0)(batch, 0, 0)
    assert (mixed.ann_weight[:len(batch.ann_item)] > 1 - 1e-6).all()
    torch.testing.assert_close(tr.objective(mixed, hp).detach(), plain, rtol=1e-4, atol=1e-5)
    # and α = 1 is another loss
    assert not torch.allclose(tr.objective(Mixup(1.0, 0)(batch, 0, 0), hp).detach(), plain)


def test_mix_of_hand_made_pairs():
    """Two items swapped at λ = 0.75: inputs and weights as the formula says."""
    tr = _trainer(data="digits", method="plain")
    batch = tr.train_set.batch(torch.arange(2))
    mixed = mix(batch, torch.tensor([0.75, 0.75]), torch.tensor([1, 0]))
    torch.testing.assert_close(mixed.x[0], 0.75 * batch.x[0] + 0.25 * batch.x[1])
    torch.testing.assert_close(mixed.ann_weight, torch.tensor([0.75, 0.75, 0.25, 0.25]))
    assert mixed.ann_item.tolist() == [0, 1, 1, 0]


def test_default_is_off():
    assert Config().mixup == 0.0
    assert _trainer(data="digits", method="plain").mixup is None


def test_can_with_mixup_fits_on_music_from_the_cli(cli, tmp_path):
    code, out, err = cli("fit", "--data", "music", "--method", "can", "--mixup", "1",
                         "--epochs", "2", "--hidden", "32", "--batch-size", "64",
                         "--warmup-epochs", "1", "--out", tmp_path / "run")
    assert code == 0, err
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["epochs"] == 2 and m["test_accuracy"] > 0.1
    assert json.loads((tmp_path / "run" / "config.json").read_text())["mixup"] == 1.0


@pytest.mark.parametrize("kw", [dict(data="digits", method="can"),
                                dict(**MUSIC, method="can", quality_prior="worker"),
                                dict(**MUSIC, method="learnq"),
                                dict(data="digits", method="bootstrap")])
def test_every_method_trains_with_mixup(kw):
    warm = dict(warmup_epochs=1, ramp_epochs=0) if kw["method"] == "can" else {}
    tr = _trainer(**kw, epochs=2, mixup=0.4, **warm)
    result = tr.run()
    assert np.isfinite([r["loss"] for r in result.history]).all()


@pytest.mark.parametrize("method", ["coteaching", "dividemix"])
def test_mixup_is_refused_for_methods_that_split_items_by_their_loss(cli, tmp_path, method):
    code, _, err = cli("fit", "--method", method, "--mixup", "1", "--epochs", "1",
                       "--out", tmp_path / "run")
    assert code != 0 and "--mixup" in err and method in err
    assert not (tmp_path / "run").exists()
