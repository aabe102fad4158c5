"""CAN's generative model (Yao et al., Sec. III-A).

    y_i  ~ Bernoulli(sigmoid f_θ(x_i))          per class, relaxed at temperature τ for training
           (``--latent categorical``: y_i ~ Categorical(softmax f_θ(x_i)), one class per item,
           relaxed to the simplex; the default for single-label data)
    z_ir ~ Normal(0, I_K)                        one quality vector per annotation r of item i
    ỹ_ir ~ Bernoulli(decoder(y_i, z_ir))         observed

Eq. 7's warm-up is ``warmup_model``: the classifier's likelihood of ỹ read as y. The objective
(``pyro_can/objective.py``) weights the two by α_t; neither model knows α.
"""
from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine

from pyro_can.anchors import evidence_weights, label_reliability
from pyro_can.batch import answers_plate, items_plate
from pyro_can.distributions import label_dist, y_dist
from pyro_can.nets import Decoder, input_net


def build(cfg, in_dim: int, num_classes: int) -> dict:
    return {
        "classifier": input_net(cfg, in_dim, num_classes),
        "decoder": Decoder(num_classes, cfg.quality_dim, kind=cfg.decoder,
                           copy_init=cfg.copy_init),
    }


def model(nets, batch, hp, cfg):
    """The generative model alone: no α, no λ (``pyro_can/objective.py`` weights it). The answers
    plate sits inside the items plate, so with a discrete y TraceGraph_ELBO's score terms for
    y_i see item i's answers alone (Rao-Blackwellized) and TraceEnum_ELBO sums y_i out per item."""
    classifier = nets["classifier"]
    decoder = nets["decoder"]
    logits = batch.logits(classifier)
    prior_logits = torch.zeros_like(logits) if cfg.prior == "uniform" else logits
    tau = torch.as_tensor(hp.tau, dtype=logits.dtype, device=logits.device)
    k = cfg.quality_dim
    z_prior = offset = None
    if "workers" in nets:
        z_prior, offset = worker_quality_prior(nets, batch, logits, k)
    with items_plate(batch):
        y = pyro.sample("y", y_dist(cfg, tau, prior_logits))
        with answers_plate(batch):
            z = None
            if k > 0:
                with poutine.scale(scale=cfg.kl_z_weight):
                    loc = logits.new_zeros(k) if z_prior is None else z_prior
                    z = pyro.sample("z", dist.Normal(loc, 1.0).to_event(1))
            out = decoder(y, z)
            if offset is not None:  # the worker's own strength of the identity path
                out = out + offset * (2.0 * y - 1.0)
            pyro.sample("ytilde", label_dist(cfg, out), obs=batch.answer_labels)


def worker_quality_prior(nets, batch, logits, k):
    """``--quality-prior worker``: μ_w ~ N(0, I) and d_w ~ N(0, 1) per worker; returns each
    answer's prior mean μ_{w(r)} and the identity path's strength d_{w(r)}, as answers × items
    tables (K and 1 wide; ``pyro_can/worker_quality.py``)."""
    wq = nets["workers"]
    with pyro.plate("workers", wq.num_workers + 1):
        mu = pyro.sample("worker_quality", dist.Normal(logits.new_zeros(k), 1.0).to_event(1))
        d = pyro.sample("worker_strength", dist.Normal(logits.new_zeros(()), 1.0))
    w = wq.index(batch.ann_worker, len(batch.ann_idx), logits.device)
    return batch.to_table(mu[w]), batch.to_table(d[w, None])


def warmup_model(nets, batch, hp, cfg):
    """Eq. 7's warm-up likelihood: each noisy label observed straight from the classifier, as if
    ỹ were y (the plain net's model, with the classifier's own output type: softmax for a
    categorical y, per-class sigmoid otherwise). ``objective.py`` weights it by 1 − α_t."""
    logits = batch.logits(nets["classifier"])
    with items_plate(batch), answers_plate(batch):
        pyro.sample("ytilde", label_dist(cfg, logits, cfg.categorical_y), obs=batch.answer_labels)


def handover(nets, scores, data, cfg) -> dict:
    """Eq. 7's hand-over from ỹ to q (the Trainer calls it once, with ``--noise-init anchor``):
    start the decoder's identity path and the additive layer's label term at the label
    reliability estimated from the warm classifier's anchors (``pyro_can/anchors.py``).
    Returns the estimate, for the run's record."""
    hit, false_alarm = label_reliability(scores, data.ann_item, data.ann_labels,
                                         data.single_label)
    decoder = nets["decoder"]
    ref = decoder.copy_weight
    as_t = lambda a: torch.as_tensor(a, dtype=ref.dtype, device=ref.device)  # noqa: E731
    categorical = cfg.ytilde_likelihood == "categorical"
    if categorical:  # no class favoured a priori
        bias = torch.zeros_like(ref)
    else:  # the base rate: halfway between the two rates' log-odds
        bias = 0.5 * (torch.logit(as_t(hit)) + torch.logit(as_t(false_alarm)))
    decoder.set_reliability(as_t(evidence_weights(hit, false_alarm, categorical)), bias)
    if "additive" in nets:
        nets["additive"].set_label_evidence(
            as_t(evidence_weights(hit, false_alarm, cfg.categorical_y)))
    return {"label_hit": hit.tolist(), "label_false_alarm": false_alarm.tolist()}
