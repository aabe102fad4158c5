"""Sites and shapes of the CAN model/guide traces, and the MI term against closed forms."""
import math

import numpy as np
import pyro
import torch
from pyro import poutine

from pyro_can.batch import StepParams
from pyro_can.config import Config
from pyro_can.data import load_digits
from pyro_can.train import Trainer, elbo_terms


def _trainer(**kw):
    cfg = Config(epochs=1, **{"latent": "bernoulli", **kw})  # the per-class model, unless asked
    return Trainer(cfg, load_digits(seed=0, noise_rate=0.4))


def test_can_trace_sites_and_shapes():
    tr = _trainer()
    batch = tr.train_set.batch(torch.arange(7))
    hp = StepParams(tau=0.5, alpha=0.5, lam=0.3)
    guide_tr = poutine.trace(tr.guide).get_trace(batch, hp)
    model_tr = poutine.trace(poutine.replay(tr.model, trace=guide_tr)).get_trace(batch, hp)
    assert guide_tr.nodes["y"]["value"].shape == (7, 10)
    assert guide_tr.nodes["z"]["value"].shape == (7, 4)
    obs = model_tr.nodes["ytilde"]
    assert obs["is_observed"] and obs["value"].shape == (7, 10)
    assert set(torch.unique(obs["value"]).tolist()) <= {0.0, 1.0}
    assert model_tr.nodes["y"]["fn"].event_shape == (10,)
    # the plates scale minibatch terms to the training set; with the default warm-up scope the
    # whole ELBO is weighted by α (0.5 here) and the warm-up CE by 1 - α
    assert math.isclose(model_tr.nodes["ytilde"]["scale"], tr.data.num_items / 7 * 0.5)
    assert math.isclose(model_tr.nodes["warmup_ce"]["scale"], tr.data.num_items / 7)
    assert {"warmup_ce", "y", "z", "ytilde"} <= set(model_tr.nodes)


def test_quality_dim_zero_removes_z():
    tr = _trainer(quality_dim=0)
    batch = tr.train_set.batch(torch.arange(5))
    guide_tr = poutine.trace(tr.guide).get_trace(batch, StepParams())
    assert "z" not in guide_tr.nodes and "y" in guide_tr.nodes


def test_mi_term_is_closed_form_entropy():
    """λ·(H(q(y)) + H(q(z))) from the guide's factor sites equals the Bernoulli and Normal
    entropies computed by hand from the guide's own parameters."""
    tr = _trainer()
    batch = tr.train_set.batch(torch.arange(4))
    lam = 0.3
    guide_tr = poutine.trace(tr.guide).get_trace(batch, StepParams(tau=0.5, alpha=1.0, lam=lam))
    q = torch.sigmoid(guide_tr.nodes["y"]["fn"].base_dist.logits)
    h_y = -(q * q.log() + (1 - q) * (1 - q).log()).sum(-1)
    scale = guide_tr.nodes["z"]["fn"].base_dist.scale
    h_z = (0.5 * math.log(2 * math.pi * math.e) + scale.log()).sum(-1)
    got_y = guide_tr.nodes["mi_y"]["fn"].log_prob(guide_tr.nodes["mi_y"]["value"])
    got_z = guide_tr.nodes["mi_z"]["fn"].log_prob(guide_tr.nodes["mi_z"]["value"])
    torch.testing.assert_close(got_y, lam * h_y)
    torch.testing.assert_close(got_z, lam * h_z)


def test_mi_factor_adds_to_the_loss():
    """The regularizer is added to -ELBO (not subtracted): loss(λ) - loss(0) = λ·E[H]."""
    tr = _trainer()
    batch = tr.train_set.batch(torch.arange(6))
    elbo = pyro.infer.TraceMeanField_ELBO()
    pyro.set_rng_seed(1)
    l0 = elbo.loss(tr.model, tr.guide, batch, StepParams(tau=0.5, alpha=1.0, lam=0.0))
    pyro.set_rng_seed(1)
    l1 = elbo.loss(tr.model, tr.guide, batch, StepParams(tau=0.5, alpha=1.0, lam=1.0))
    terms = elbo_terms(tr.model, tr.guide, batch, StepParams(tau=0.5, alpha=1.0, lam=1.0))
    assert math.isclose(l1 - l0, terms["mi"] * tr.data.num_items, rel_tol=1e-4)


def test_kl_y_is_closed_form_bernoulli_kl():
    tr = _trainer()
    batch = tr.train_set.batch(torch.arange(3))
    hp = StepParams(tau=0.5, alpha=1.0, lam=0.0)
    terms = elbo_terms(tr.model, tr.guide, batch, hp)
    with torch.no_grad():
        guide_tr = poutine.trace(tr.guide).get_trace(batch, hp)
        q = torch.sigmoid(guide_tr.nodes["y"]["fn"].base_dist.logits)
        p = torch.sigmoid(tr.nets["classifier"](batch.x))
    kl = (q * (q / p).log() + (1 - q) * ((1 - q) / (1 - p)).log()).sum()
    expected = float(kl) / 3  # per item
    assert math.isclose(terms["kl_y"], expected, rel_tol=1e-4)


def test_gradient_share_keeps_value_scales_gradient():
    from pyro_can.models.can import gradient_share

    t = torch.tensor([1.0, -2.0], requires_grad=True)
    out = gradient_share(t, 0.25)
    assert torch.equal(out.detach(), t.detach())
    out.sum().backward()
    assert np.allclose(t.grad.numpy(), 0.25)


def test_bernoulli_kl_is_finite_and_exact_for_extreme_logits():
    from pyro.distributions.kl import kl_divergence

    from pyro_can.distributions import ConcreteBernoulli

    tau = torch.tensor(0.5)
    q = ConcreteBernoulli(tau, logits=torch.tensor([5.0, 0.3, -40.0]))
    p = ConcreteBernoulli(tau, logits=torch.tensor([17.0, -1.0, 30.0]))
    kl = kl_divergence(q, p)
    assert torch.isfinite(kl).all()
    q64, p64 = torch.tensor([5.0, 0.3, -40.0], dtype=torch.float64), \
        torch.tensor([17.0, -1.0, 30.0], dtype=torch.float64)
    expected = kl_divergence(torch.distributions.Bernoulli(logits=q64),
                             torch.distributions.Bernoulli(logits=p64))
    torch.testing.assert_close(kl.double(), expected, rtol=1e-4, atol=1e-5)


def test_categorical_latent_sites_kl_and_entropy():
    """--latent categorical: y is one relaxed one-hot per item, its KL is the categorical KL of
    softmax(q) to softmax(f_θ), the MI term the categorical entropy, and the metrics rank the
    classifier's softmax scores."""
    tr = _trainer(latent="categorical")
    assert tr.cfg.categorical_y and tr.cfg.ytilde_likelihood == "categorical"
    batch = tr.train_set.batch(torch.arange(5))
    hp = StepParams(tau=0.5, alpha=1.0, lam=0.3)
    terms = elbo_terms(tr.model, tr.guide, batch, hp)
    with torch.no_grad():
        guide_tr = poutine.trace(tr.guide).get_trace(batch, hp)
        y = guide_tr.nodes["y"]["value"]
        torch.testing.assert_close(y.sum(-1), torch.ones(5))
        q = torch.softmax(guide_tr.nodes["y"]["fn"].logits, -1)
        p = torch.softmax(tr.nets["classifier"](batch.x), -1)
        got_h = guide_tr.nodes["mi_y"]["fn"].log_prob(guide_tr.nodes["mi_y"]["value"])
    torch.testing.assert_close(got_h, 0.3 * -(q * q.log()).sum(-1))
    assert math.isclose(terms["kl_y"], float((q * (q / p).log()).sum()) / 5, rel_tol=1e-4)
    scores = tr.evaluate()
    assert 0.0 <= scores["test_mAP"] <= 1.0
    from pyro_can.train import class_scores
    s = class_scores(tr.cfg, tr.predict_logits(tr.data.x_test[:3]))
    np.testing.assert_allclose(s.sum(1), 1.0, rtol=1e-5)


def test_latent_auto_resolves_by_data_and_method():
    tr = _trainer(latent="auto")
    assert tr.cfg.latent == "categorical"  # digits is single-label
    plain = _trainer(method="plain", latent="auto").cfg  # baselines get a softmax classifier too
    assert plain.latent == "categorical" and plain.ytilde_likelihood == "categorical"
    assert _trainer(method="icnm", latent="auto").cfg.latent == "bernoulli"  # per-class head
    assert Config().latent == "auto"
    assert _trainer().cfg.latent == "bernoulli" and _trainer().cfg.ytilde_likelihood == "bernoulli"
