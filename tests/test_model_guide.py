"""Sites and shapes of the CAN model/guide traces, and the MI term against closed forms."""
import math

import numpy as np
import pyro
import pytest
import torch
from pyro import poutine

from pyro_can.batch import StepParams
from pyro_can.config import Config
from pyro_can.diagnostics import elbo_terms
from pyro_can.feature_loaders import load_digits
from pyro_can.train import Trainer


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
    # the plates scale minibatch terms to the training set; α and λ are not in model or guide
    assert math.isclose(model_tr.nodes["ytilde"]["scale"], tr.data.num_items / 7)
    assert {"y", "z", "ytilde"} == {n for n, s in model_tr.nodes.items()
                                    if s["type"] == "sample" and n != "items"}
    assert {"y", "z"} == {n for n, s in guide_tr.nodes.items()
                          if s["type"] == "sample" and n != "items"}


def test_objective_composes_alpha_warmup_and_lambda():
    """loss = α·(−ELBO + λ·R) + (1 − α)·warm-up NLL, each term per item; the warm-up term is the
    classifier's own label likelihood (softmax cross-entropy for a categorical y)."""
    tr = _trainer(latent="categorical")
    batch = tr.train_set.batch(torch.arange(9))
    hp = StepParams(tau=0.5, alpha=0.3, lam=0.7)
    pyro.set_rng_seed(3)
    loss = tr.loss(batch, hp)
    pyro.set_rng_seed(3)
    elbo = tr.loss.elbo_loss(batch, hp)
    reg = tr.loss.regularizer_loss(batch)
    logits = tr.model.classifier(batch.x)
    ce = -(batch.labels * torch.log_softmax(logits, -1)).sum(-1).mean()
    torch.testing.assert_close(tr.loss.warmup_loss(batch, hp), ce)
    torch.testing.assert_close(loss, 0.3 * (elbo + 0.7 * reg) + 0.7 * ce)


def test_pure_warmup_runs_the_warmup_term_alone():
    """α = 0: no latent is sampled, only the classifier learns, and the loss is the plain net's."""
    from pyro_can.models.plain import observe_from_classifier

    tr = _trainer()

    def plain(batch, hp):  # the plain net's model on CAN's classifier, per item
        with poutine.scale(scale=1 / tr.data.num_items):
            observe_from_classifier(tr.model.classifier, batch, categorical=False)
    with torch.no_grad():
        nll = -poutine.trace(plain).get_trace(tr.train_set.batch(torch.arange(8)),
                                              StepParams()).log_prob_sum()
    state = torch.get_rng_state()
    loss = tr.step(tr.train_set.batch(torch.arange(8)), StepParams(tau=0.5, alpha=0.0, lam=0.3))
    assert torch.equal(state, torch.get_rng_state())  # nothing drawn
    with_grad = {".".join(n.split(".")[:2]) for n, p in tr.programs.named_parameters()
                 if p.grad is not None}
    assert with_grad == {"model.classifier"}
    assert math.isclose(loss, float(nll), rel_tol=1e-5)


def test_entropy_regularizer_is_closed_form():
    """--regularizer entropy: E H(q(y)) + (R/N)·E H(q(z)), from the guide's own parameters."""
    from pyro_can import regularizers

    tr = _trainer(kl_z_weight=0.5)
    batch = tr.train_set.batch(torch.arange(4))
    y_logits, loc, scale = tr.guide.posterior(batch)
    q = torch.sigmoid(y_logits)
    h_y = -(q * q.log() + (1 - q) * (1 - q).log()).sum(-1)
    h_z = (0.5 * math.log(2 * math.pi * math.e) + scale.log()).sum(-1)
    got = regularizers.entropy(tr.cfg, batch, y_logits, loc, scale)
    torch.testing.assert_close(got, h_y.mean() + 0.5 * h_z.mean())  # z under KL_z's weight


def test_mi_regularizer_is_minus_the_mutual_information():
    """--regularizer mi: 0 when every item has the same q(y); −log C when each item is certain
    and the batch covers the C classes evenly (the all-same collapse is not rewarded)."""
    from pyro_can import regularizers

    cfg = _trainer(latent="categorical", quality_dim=0).cfg
    batch = None  # no z: the batch's sizes are not read
    same = torch.randn(1, 10).expand(20, 10)
    torch.testing.assert_close(regularizers.mutual_information(cfg, batch, same),
                               torch.tensor(0.0), atol=1e-5, rtol=0)
    certain = 30.0 * torch.eye(10).repeat(2, 1)
    torch.testing.assert_close(regularizers.mutual_information(cfg, batch, certain),
                               torch.tensor(-math.log(10)), atol=1e-4, rtol=0)
    collapsed = 30.0 * torch.eye(10)[[3] * 20]
    assert regularizers.entropy(cfg, batch, collapsed) < 1e-6  # entropy alone rewards collapse
    assert regularizers.mutual_information(cfg, batch, collapsed) > -1e-4


def test_regularizer_adds_to_the_loss():
    """The regularizer is added to -ELBO (not subtracted): loss(λ) - loss(0) = λ·R."""
    tr = _trainer()
    batch = tr.train_set.batch(torch.arange(6))
    pyro.set_rng_seed(1)
    l0 = tr.loss(batch, StepParams(tau=0.5, alpha=1.0, lam=0.0)).item()
    pyro.set_rng_seed(1)
    l1 = tr.loss(batch, StepParams(tau=0.5, alpha=1.0, lam=1.0)).item()
    terms = elbo_terms(tr.model, tr.guide, batch, StepParams(tau=0.5, alpha=1.0, lam=1.0),
                       tr.loss.regularizer_loss)
    assert math.isclose(l1 - l0, terms["mi"], rel_tol=1e-4)


def test_kl_y_is_closed_form_bernoulli_kl():
    tr = _trainer()
    batch = tr.train_set.batch(torch.arange(3))
    hp = StepParams(tau=0.5, alpha=1.0, lam=0.0)
    terms = elbo_terms(tr.model, tr.guide, batch, hp)
    with torch.no_grad():
        guide_tr = poutine.trace(tr.guide).get_trace(batch, hp)
        q = torch.sigmoid(guide_tr.nodes["y"]["fn"].base_dist.logits)
        p = torch.sigmoid(tr.model.classifier(batch.x))
    kl = (q * (q / p).log() + (1 - q) * ((1 - q) / (1 - p)).log()).sum()
    expected = float(kl) / 3  # per item
    assert math.isclose(terms["kl_y"], expected, rel_tol=1e-4)


def test_gradient_share_keeps_value_scales_gradient():
    from pyro_can.objective import gradient_share

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
    softmax(q) to softmax(f_θ), the entropy regularizer the categorical entropy (plus z's), and the metrics rank the
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
        p = torch.softmax(tr.model.classifier(batch.x), -1)
        got_h = tr.loss.regularizer_loss(batch)  # --regularizer entropy: categorical H(q(y))
        _, _, scale = tr.guide.posterior(batch)
    h_z = (0.5 * math.log(2 * math.pi * math.e) + scale.log()).sum(-1).mean()
    torch.testing.assert_close(got_h, (-(q * q.log()).sum(-1)).mean() + h_z)
    assert math.isclose(terms["kl_y"], float((q * (q / p).log()).sum()) / 5, rel_tol=1e-4)
    scores = tr.evaluate()
    assert 0.0 <= scores["test_mAP"] <= 1.0
    from pyro_can.scoring import class_scores
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


def test_uniform_prior_changes_only_the_prior():
    """``--prior uniform`` keeps the guide's gradient stop: once α = 1 the classifier gets no
    gradient at all (it reached the objective only through the prior), while q still trains."""
    hp = StepParams(tau=0.5, alpha=1.0, lam=0.0)
    for prior, classifier_learns in (("classifier", True), ("uniform", False)):
        tr = _trainer(prior=prior, latent="categorical")
        tr.objective(tr.train_set.batch(torch.arange(20)), hp).backward()
        grads = [p.grad for p in tr.model.classifier.parameters()]
        moved = any(g is not None and g.abs().sum() > 0 for g in grads)
        assert moved == classifier_learns, prior
        assert any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in tr.guide.additive.parameters())


def test_model_and_guide_are_pyro_modules_owning_their_networks():
    """CANModel owns the classifier and decoder, CANGuide the additive and contrastive layers and
    reads the model's classifier (one module, its parameters once in the optimizer); the
    parameters stay local to the modules (no parameter store), and the shipped classifier keeps
    the plain MLP's state-dict keys."""
    from pyro.nn import PyroModule

    from pyro_can.guides.can import CANGuide
    from pyro_can.models.can import CANModel

    tr = _trainer()
    assert isinstance(tr.model, CANModel) and isinstance(tr.guide, CANGuide)
    assert isinstance(tr.model, PyroModule) and isinstance(tr.guide, PyroModule)
    assert tr.guide.prior_judgement is tr.model.classifier
    assert {n for n, _ in tr.model.named_children()} == {"classifier", "decoder"}
    assert {n for n, _ in tr.guide.named_children()} == {"additive", "contrastive",
                                                          "prior_judgement"}
    params = list(tr.programs.parameters())
    assert len({id(p) for p in params}) == len(params)
    in_optimizer = [p for g in tr.optimizer.param_groups for p in g["params"]]
    assert {id(p) for p in in_optimizer} == {id(p) for p in params}
    assert set(tr.model.classifier.state_dict()) == {f"net.{i}.{w}" for i in (0, 2, 4)
                                                     for w in ("weight", "bias")}
    for alpha in (0.0, 1.0):  # warm-up and SVI steps
        tr.step(tr.train_set.batch(torch.arange(6)), StepParams(tau=0.5, alpha=alpha, lam=0.3))
    # the global store holds TraceGraph's decaying-average baselines (the default estimator's)
    # and nothing of the networks
    assert all(name.startswith("__baseline") for name in pyro.get_param_store().keys())


def test_networks_are_built_from_their_sections():
    """registry.model_and_guide reads the resolved config's sections only: the method section
    sizes the networks, the schedule section picks how the guide's y is estimated (here the
    score function with the guide's neural baseline, set by the objective)."""
    from pyro_can import registry
    from pyro_can.objective import estimator_programs
    from pyro_can.sections import sections

    data = load_digits(seed=0, noise_rate=0.4)
    cfg = Config(hidden="12,5", quality_dim=3, prior_judgement="separate", elbo="tracegraph",
                 baseline="nn").resolve(data)
    s = sections(cfg)
    model, guide = registry.model_and_guide(s, data.x_train.shape[1], data.num_classes)
    widths = [m.out_features for m in model.classifier.net if isinstance(m, torch.nn.Linear)]
    assert widths == [12, 5, 10]
    assert guide.prior_judgement is not model.classifier  # --prior-judgement separate: f_φ
    assert guide.contrastive.fc.out_features == 2 * 3 and guide.baseline is not None
    batch = Trainer(cfg, data).train_set.batch(torch.arange(4))
    _, scored_guide = estimator_programs(registry.ELBOS[cfg.elbo](), model, guide)
    site = poutine.trace(scored_guide).get_trace(batch, StepParams(tau=0.5)).nodes["y"]
    assert not site["fn"].has_rsample and site["infer"]["baseline"]["nn_baseline"] is guide.baseline


def test_a_checkpoint_of_flat_networks_loads_into_the_modules():
    """A checkpoint written before the model and guide owned their networks (one flat dict of
    networks by name, the classifier once) loads into the modules with the same weights."""
    from pyro_can.checkpoint import programs_state

    src = _trainer()
    src.step(src.train_set.batch(torch.arange(6)), StepParams(tau=0.5, alpha=1.0, lam=0.0))
    flat = {}
    for part in ("model", "guide"):
        for name, net in src.programs[part].named_children():
            if part == "guide" and net is src.model.classifier:
                continue  # the shared prior judgement was not saved a second time
            flat.update({f"{name}.{k}": v for k, v in net.state_dict().items()})
    assert "classifier.net.0.weight" in flat and "additive.g1.weight" in flat
    dst = _trainer(seed=1)
    dst.load_state_dict({"nets": flat}, weights_only=True)
    for (k, a), (_, b) in zip(src.programs.state_dict().items(),
                              dst.programs.state_dict().items()):
        assert torch.equal(a, b), k
    current = src.programs.state_dict()
    assert programs_state(dst.programs, current) is current  # today's layout: as it is
    del flat["decoder.copy_weight"]
    with pytest.raises(KeyError):
        programs_state(dst.programs, flat)
