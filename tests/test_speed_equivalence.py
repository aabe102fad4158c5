"""The cheaper step computes what the step computed before: the same loss and gradients with the
networks read through ``NetworkOwner`` as through ``PyroModule``'s own attribute lookup, and no
per-weight param messages left in the traces."""
from __future__ import annotations

import pyro
import pytest
import torch
from pyro import poutine
from pyro.nn import PyroModule

from pyro_can.batch import StepParams
from pyro_can.config import Config
from pyro_can.feature_loaders import load_digits
from pyro_can.network_owner import NetworkOwner
from pyro_can.train import Trainer

HP = StepParams(tau=0.5, alpha=0.7, lam=0.3)


@pytest.fixture(scope="module")
def digits():
    return load_digits(seed=0, noise_rate=0.4)


def _loss_and_grads(trainer, items, seed):
    trainer.programs.zero_grad(set_to_none=True)
    pyro.set_rng_seed(seed)
    with pyro.validation_enabled(False):
        loss = trainer.objective(trainer.train_set.batch(items), HP)
        loss.backward()
    return loss.item(), {k: p.grad.clone() for k, p in trainer.programs.named_parameters()
                         if p.grad is not None}


@pytest.mark.parametrize("kw", [{}, {"elbo": "meanfield", "latent": "bernoulli"},
                                {"elbo": "tracegraph", "baseline": "nn"}])
def test_network_owner_gives_the_same_loss_and_gradients(digits, kw, monkeypatch):
    trainer = Trainer(Config(epochs=1, seed=0, warmup_scope="classifier", **kw), digits)
    items = torch.arange(40)
    loss, grads = _loss_and_grads(trainer, items, 3)
    monkeypatch.setattr(NetworkOwner, "__getattr__", PyroModule.__getattr__)
    pyro.clear_param_store()  # TraceGraph's decaying baseline starts again at zero
    loss_before, grads_before = _loss_and_grads(trainer, items, 3)
    assert loss == loss_before
    assert set(grads) == set(grads_before)
    for name, g in grads_before.items():
        assert torch.equal(grads[name], g), name


def test_no_param_message_per_weight(digits):
    trainer = Trainer(Config(epochs=1, seed=0), digits)
    batch = trainer.train_set.batch(torch.arange(8))
    tr = poutine.trace(trainer.guide).get_trace(batch, HP)
    model_tr = poutine.trace(poutine.replay(trainer.model, trace=tr)).get_trace(batch, HP)
    for t in (tr, model_tr):
        assert not [n for n, s in t.nodes.items() if s["type"] == "param"]
        assert "y" in t.nodes


def test_eval_every_scores_the_last_epoch_with_the_same_keys(tmp_path):
    import json

    from pyro_can import api

    common = dict(epochs=4, hidden="16", warmup_epochs=1, ramp_epochs=1, seed=0)
    every = api.fit(Config(**common), out=tmp_path / "every")
    sparse = api.fit(Config(**common, eval_every=3), out=tmp_path / "sparse")
    scored = [r["epoch"] for r in sparse.history if "test_mAP" in r]
    assert scored == [3, 4]  # every third, and the last
    assert [r["epoch"] for r in sparse.history] == [1, 2, 3, 4]
    keys = [set(json.loads((tmp_path / run / "metrics.json").read_text())) for run in
            ("every", "sparse")]
    assert keys[0] == keys[1]
    assert sparse.metrics["epochs"] == 4 and "test_mAP" in sparse.metrics
    header = (tmp_path / "sparse" / "history.csv").read_text().splitlines()[0].split(",")
    assert "test_mAP" in header
