"""The hand-written PyTorch CAN loss in bench/reference.py equals the Pyro ELBO's loss and gradients,
so the benchmark in bench/run.py compares the same computation."""
from __future__ import annotations

import os
import sys

import pyro
import pytest
import torch

from pyro_can.batch import StepParams
from pyro_can.config import Config
from pyro_can.feature_loaders import load_digits
from pyro_can.train import Trainer

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))
from bench.reference import CONFIG as REFERENCE, reference_loss  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    return load_digits(seed=0, noise_rate=0.4)


def _pyro_loss_and_grads(trainer, batch, hp, seed):
    trainer.programs.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    with pyro.validation_enabled(False):
        loss = trainer.objective(batch, hp)
        loss.backward()
    loss = loss.item()
    grads = {k: p.grad.clone() for k, p in trainer.programs.named_parameters() if p.grad is not None}
    return loss, grads


def _reference_loss_and_grads(trainer, batch, hp, seed, kl="closed"):
    trainer.programs.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    loss = reference_loss(trainer.model, trainer.guide, batch, hp, trainer.cfg, kl=kl)
    loss.backward()
    grads = {k: p.grad.clone() for k, p in trainer.programs.named_parameters() if p.grad is not None}
    return loss.item(), grads


def _fresh_batch(trainer, items):
    return trainer.train_set.batch(items)  # new Batch each time: its logits cache is per step


@pytest.mark.parametrize("elbo,kl", [("meanfield", "closed"), ("trace", "mc")])
@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_reference_matches_pyro(digits, alpha, elbo, kl):
    trainer = Trainer(Config(**{**REFERENCE, "epochs": 1, "device": "cpu", "elbo": elbo}), digits)
    hp = StepParams(tau=0.5, alpha=alpha, lam=0.3)
    items = torch.randperm(digits.num_items, generator=torch.Generator().manual_seed(1))[:50]
    # a few SGD steps first so that the nets are not at their (symmetric) initialization
    for step in range(3):
        with pyro.validation_enabled(False):
            trainer.step(_fresh_batch(trainer, (items + step) % digits.num_items), hp)

    for seed in (0, 7):
        loss_p, grads_p = _pyro_loss_and_grads(trainer, _fresh_batch(trainer, items), hp, seed)
        loss_r, grads_r = _reference_loss_and_grads(trainer, _fresh_batch(trainer, items), hp,
                                                    seed, kl=kl)
        assert loss_r == pytest.approx(loss_p, rel=1e-5, abs=1e-6)
        assert set(grads_r) == set(grads_p)
        for name, g in grads_p.items():
            tol = 1e-4 if kl == "mc" else 1e-5
            atol = tol * (1e-2 + g.abs().max().item())
            torch.testing.assert_close(grads_r[name], g, rtol=tol, atol=atol,
                                       msg=lambda m, name=name: f"{name}: {m}")


def test_reference_matches_pyro_on_crowd_batches():
    """Several answers per item (R_b != B): the nested plates' N/B scaling and the padded table."""
    import numpy as np

    from bench.run import make_dataset

    data = make_dataset(300, 16, 4, seed=0, crowd=True)
    trainer = Trainer(Config(epochs=1, device="cpu", hidden="32,8", **REFERENCE), data)
    hp = StepParams(tau=0.7, alpha=0.5, lam=0.3)
    items = torch.as_tensor(np.arange(0, 300, 7))
    loss_p, grads_p = _pyro_loss_and_grads(trainer, _fresh_batch(trainer, items), hp, 3)
    loss_r, grads_r = _reference_loss_and_grads(trainer, _fresh_batch(trainer, items), hp, 3)
    assert loss_r == pytest.approx(loss_p, rel=1e-5)
    for name, g in grads_p.items():
        torch.testing.assert_close(grads_r[name], g, rtol=1e-5, atol=1e-6)
