"""Answers nested in items: on music (1 to 6+ real answers per clip) the loss of a minibatch,
averaged over the minibatches of an epoch, is the full-data loss. That makes it an unbiased
estimate of the full-data loss under random minibatches. A flat plate of annotations scaled by
R/R_b (the layout before) is biased."""
import numpy as np
import pyro
import pytest
import torch
from pyro import poutine

from pyro_can.batch import StepParams
from pyro_can.config import Config
from pyro_can.feature_loaders import load_music
from pyro_can.distributions import label_dist
from pyro_can.train import Trainer


@pytest.fixture(scope="module")
def music():
    return load_music()


def _epoch_mean(loss_of_batch, n, batch_size, seed=0):
    """Σ_k (B_k/N)·loss_k over one random partition of the items, as ``train_epoch`` averages."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return sum(len(b) / n * loss_of_batch(b) for b in order.split(batch_size))


def test_music_answers_per_item_vary(music):
    counts = np.bincount(music.ann_item, minlength=music.num_items)
    assert counts.min() >= 1 and counts.max() > 2 * counts.min()
    batch = Trainer(Config(epochs=1, hidden="8"), music).train_set.batch(torch.arange(9))
    assert batch.mask.shape == (counts.max(), 9)
    assert batch.mask.sum(0).tolist() == counts[:9].tolist()
    torch.testing.assert_close(batch.from_table(batch.answer_labels), batch.labels)


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_exact_minibatch_loss_averages_to_the_full_data_loss(music, alpha):
    """--elbo enum with no z: the loss is exact (y summed out), so the check is deterministic;
    α = 0.5 adds the warm-up likelihood, which sits in the same nested plates."""
    tr = Trainer(Config(epochs=1, elbo="enum", quality_dim=0, hidden="16", seed=0), music)
    hp = StepParams(alpha=alpha, lam=0.0)
    loss = lambda b: tr.loss(tr.train_set.batch(b), hp).detach()  # noqa: E731 (enum: grad on)
    full = loss(torch.arange(music.num_items))
    for size in (50, 64, 1):
        torch.testing.assert_close(_epoch_mean(loss, music.num_items, size), full,
                                   rtol=1e-5, atol=1e-6)


def test_single_sample_elbo_at_fixed_latents_averages_to_the_full_data_value(music):
    """The default (relaxed y, z per answer) ELBO estimate log q − log p at latents drawn once for
    the whole training set: every site's scale (N/B from the items plate, masks for padding)
    makes the minibatch values average to the full-data one."""
    tr = Trainer(Config(epochs=1, hidden="16", seed=0), music)
    hp = StepParams(alpha=1.0, lam=0.0)
    everything = tr.train_set.batch(torch.arange(music.num_items))
    with torch.no_grad():
        pyro.set_rng_seed(0)
        draws = poutine.trace(tr.guide).get_trace(everything, hp)
        y, z = draws.nodes["y"]["value"], draws.nodes["z"]["value"]  # (N, C), (A, N, K)
        assert z.shape[:2] == everything.mask.shape

        def value(batch, latents):
            g, m = (poutine.trace(poutine.scale(poutine.condition(p, data=latents),
                                                tr.loss.scale)).get_trace(batch, hp)
                    for p in (tr.guide, tr.model))  # per item, as the objective's 1/N
            return g.log_prob_sum() - m.log_prob_sum()

        full = value(everything, {"y": y, "z": z})
        mean = _epoch_mean(lambda b: value(tr.train_set.batch(b), {"y": y[b], "z": z[:, b]}),
                           music.num_items, 50)
    torch.testing.assert_close(mean, full, rtol=1e-5, atol=1e-5)


def test_flat_annotations_plate_scaled_by_r_over_rb_is_biased(music):
    """The same warm-up likelihood in a flat plate of annotations (scale R/R_b): with batches of
    one item (where an epoch's mean is the expectation over a uniformly drawn item) it is the
    per-item mean of each clip's *mean* answer likelihood times R, not the data's total. (After
    two warm-up epochs, so that the classifier fits some clips' answers better than others'.)"""
    tr = Trainer(Config(epochs=2, warmup_epochs=5, hidden="16", seed=0), music)
    for _ in range(2):
        tr.train_epoch()
    ts, n = tr.train_set, music.num_items
    classifier = tr.model.classifier
    hp = StepParams(alpha=0.0, lam=0.0)

    def flat(batch):
        logits = classifier(batch.x)
        with poutine.scale(scale=1 / n), \
                pyro.plate("annotations", batch.num_annotations, subsample=batch.ann_idx):
            pyro.sample("ytilde", label_dist(logits[batch.ann_item], True),
                        obs=batch.labels)

    def flat_loss(items):
        return -poutine.trace(flat).get_trace(ts.batch(items)).log_prob_sum()

    with torch.no_grad():  # α = 0: the warm-up term alone, no ELBO traced
        nested_full = tr.loss(ts.batch(torch.arange(n)), hp)
        torch.testing.assert_close(flat_loss(torch.arange(n)), nested_full)  # same full value
        nested = _epoch_mean(lambda b: tr.loss(ts.batch(b), hp), n, 1)
        biased = _epoch_mean(flat_loss, n, 1)
    torch.testing.assert_close(nested, nested_full, rtol=1e-5, atol=1e-6)
    assert abs(biased - nested_full) / nested_full > 1e-3, (biased, nested_full)
