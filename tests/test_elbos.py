"""The estimators behind --elbo: tracegraph samples a discrete y with Pyro's score-function
baselines, enum sums it out exactly; both estimate the same ELBO and its gradient."""
import math

import pyro
import torch
from pyro import poutine

from pyro_can.batch import StepParams
from pyro_can.config import Config
from pyro_can.feature_loaders import load_digits
from pyro_can.train import Trainer

HP = StepParams(tau=0.5, alpha=1.0, lam=0.0)


def _trainer(**kw):
    return Trainer(Config(epochs=1, seed=0, **kw), load_digits(seed=0, noise_rate=0.4))


def test_tracegraph_samples_a_discrete_y_with_baselines():
    tr = _trainer(elbo="tracegraph", baseline="nn")
    batch = tr.train_set.batch(torch.arange(6))
    guide = tr.loss.programs[1]  # the guide as TraceGraph_ELBO runs it (its baselines set)
    site = poutine.trace(guide).get_trace(batch, HP).nodes["y"]
    assert not site["fn"].has_rsample  # a one-hot categorical, not its relaxation
    assert set(site["value"].sum(-1).tolist()) == {1.0}
    assert set(torch.unique(site["value"]).tolist()) <= {0.0, 1.0}
    baseline = site["infer"]["baseline"]
    assert baseline["use_decaying_avg_baseline"] and baseline["nn_baseline"] is tr.guide.baseline
    for _ in range(2):
        assert math.isfinite(tr.step(tr.train_set.batch(torch.arange(6)), HP))
    assert tr.guide.baseline.net.output_layer.weight.grad is not None  # trained by Pyro
    assert "__baseline_avg_downstream_cost_y" in pyro.get_param_store()


def test_enum_is_the_exact_elbo():
    """quality_dim 0 leaves y as the only latent: TraceEnum's loss is then deterministic and equals
    KL(q ‖ p) − Σ_c q_c log p(ỹ | y = c) per item, computed by hand."""
    tr = _trainer(elbo="enum", quality_dim=0)
    batch = tr.train_set.batch(torch.arange(7))
    loss = tr.loss(batch, HP).detach()  # (TraceEnum needs the graph)
    with torch.no_grad():
        q_logits, _, _ = tr.guide.posterior(batch)
        log_q = torch.log_softmax(q_logits, -1)
        log_p = torch.log_softmax(tr.model.classifier(batch.x), -1)
        eye = torch.eye(10)
        recon = torch.stack([  # log p(ỹ_i | y_i = c), (7, 10)
            (batch.labels * torch.log_softmax(tr.model.decoder(eye[c].expand(7, 10), None), -1))
            .sum(-1) for c in range(10)], -1)
        expected = (log_q.exp() * (log_q - log_p - recon)).sum(-1).mean()
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)


def test_tracegraph_gradient_is_unbiased_against_enum():
    """The score-function gradient of q's logits, averaged over draws, matches the exact one."""
    grads = {}
    for elbo, draws in (("enum", 1), ("tracegraph", 400)):
        tr = _trainer(elbo=elbo, quality_dim=0)
        batch = tr.train_set.batch(torch.arange(5))
        total = 0.0
        pyro.set_rng_seed(0)
        for _ in range(draws):
            tr.programs.zero_grad()
            tr.loss(tr.train_set.batch(torch.arange(5)), HP).backward()
            total = total + tr.guide.additive.label_weight.grad.clone()
        grads[elbo] = total / draws
        del batch
    err = (grads["tracegraph"] - grads["enum"]).norm() / grads["enum"].norm()
    assert err < 0.25, (err, grads)


def test_enum_with_several_answers_per_item_is_exact():
    """Crowd data: each item's answers sit in a plate nested in the items' plate, so y_i is
    summed out against its own answers only (checked by hand with quality_dim 0)."""
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))
    from bench.run import make_dataset

    data = make_dataset(120, 8, 4, seed=0, crowd=True)
    tr = Trainer(Config(epochs=1, elbo="enum", quality_dim=0, hidden="16"), data)
    batch = tr.train_set.batch(torch.arange(0, 120, 11))
    assert not batch.one_answer_each and len(batch.ann_idx) > len(batch.item_idx)
    loss = tr.loss(batch, HP).detach()
    with torch.no_grad():
        q_logits, _, _ = tr.guide.posterior(batch)
        log_q = torch.log_softmax(q_logits, -1)
        log_p = torch.log_softmax(tr.model.classifier(batch.x), -1)
        b = len(batch.item_idx)
        recon = torch.zeros(b, 4)
        for c in range(4):
            out = torch.log_softmax(tr.model.decoder(torch.eye(4)[c].expand(len(batch.ann_idx),
                                                                                4), None), -1)
            recon[:, c].index_add_(0, batch.ann_item, (batch.labels * out).sum(-1))
        expected = (log_q.exp() * (log_q - log_p - recon)).sum(-1).mean()
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)
    tg = Trainer(Config(epochs=1, elbo="tracegraph", hidden="16"), data)
    assert math.isfinite(tg.step(tg.train_set.batch(torch.arange(0, 120, 11)), HP))


def test_relaxed_density_is_finite_for_a_confident_posterior():
    """A relaxed-Bernoulli sample of a confident q rounds to 0.0 or 1.0 in float32, where
    torch's density overflows to -inf (log1p of exp(~100)); one such loss made every weight NaN
    (then torch's Bernoulli refused its NaN probabilities). The softplus form stays finite and
    equals torch's wherever torch's is finite."""
    from torch.distributions import RelaxedBernoulli

    from pyro_can.distributions import ConcreteBernoulli

    tau = torch.tensor(0.5)
    logits = torch.tensor([120.0, -120.0, 30.0, 2.0, -3.0, 0.0])
    y = RelaxedBernoulli(tau, logits=logits).rsample(torch.Size([200]))
    ours = ConcreteBernoulli(tau, logits=logits).log_prob(y)
    theirs = RelaxedBernoulli(tau, logits=logits).log_prob(y)
    assert torch.isfinite(ours).all()
    finite = torch.isfinite(theirs)
    assert not finite.all()  # the case torch's formula cannot represent occurs here
    torch.testing.assert_close(ours[finite], theirs[finite], rtol=1e-5, atol=1e-4)

    tr = _trainer(elbo="trace", latent="bernoulli")
    with torch.no_grad():  # q(y) as sure of the answers as a long-trained one can be
        tr.guide.additive.label_weight.fill_(120.0)
    with pyro.validation_enabled(False):
        loss = tr.step(tr.train_set.batch(torch.arange(20)), HP)
    assert math.isfinite(loss)
    assert all(torch.isfinite(p).all() for p in tr.programs.parameters())


def test_the_estimator_is_applied_outside_the_model_and_guide():
    """The model and guide sample y from its discrete distribution under every --elbo; the
    objective's programs relax it at τ (meanfield: in q and in the prior, on the same logits) or
    mark it for enumeration (enum)."""
    from pyro.distributions import OneHotCategorical

    from pyro_can.distributions import ConcreteCategorical

    tr = _trainer(elbo="meanfield")
    batch = tr.train_set.batch(torch.arange(6))
    discrete = poutine.trace(tr.guide).get_trace(batch, HP).nodes["y"]["fn"]
    assert isinstance(discrete, OneHotCategorical)
    model, guide = tr.loss.programs
    guide_tr = poutine.trace(guide).get_trace(batch, HP)
    model_tr = poutine.trace(poutine.replay(model, trace=guide_tr)).get_trace(batch, HP)
    for site in (guide_tr.nodes["y"], model_tr.nodes["y"]):
        assert isinstance(site["fn"], ConcreteCategorical) and site["fn"].has_rsample
        assert float(site["fn"].temperature) == HP.tau
    assert torch.equal(guide_tr.nodes["y"]["fn"].logits, discrete.logits)
    assert isinstance(poutine.trace(tr.model).get_trace(batch, HP).nodes["y"]["fn"],
                      OneHotCategorical)

    enum = _trainer(elbo="enum")
    site = poutine.trace(enum.loss.programs[1]).get_trace(batch, HP).nodes["y"]
    assert site["infer"]["enumerate"] == "parallel"
    assert "enumerate" not in poutine.trace(enum.guide).get_trace(batch, HP).nodes["y"]["infer"]
