"""CAN's generative model (Yao et al., Sec. III-A).

    y_i  ~ Bernoulli(sigmoid f_θ(x_i))          per class, relaxed at temperature τ for training
           (``--latent categorical``: y_i ~ Categorical(softmax f_θ(x_i)), one class per item,
           relaxed to the simplex; the default for single-label data)
    z_ir ~ Normal(0, I_K)                        one quality vector per annotation r of item i
    ỹ_ir ~ Bernoulli(decoder(y_i, z_ir))         observed

Eq. 7's warm-up enters here: the classifier's gradient is (1-α)·∇CE(f_θ, ỹ) + α·∇KL(q(y)‖p_θ(y)).
"""
from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from torch.nn import functional as F

from pyro_can.anchors import evidence_weights, label_reliability
from pyro_can.distributions import ConcreteBernoulli, ConcreteCategorical, label_dist
from pyro_can.nets import Decoder, input_net


def build(cfg, in_dim: int, num_classes: int) -> dict:
    return {
        "classifier": input_net(cfg, in_dim, num_classes),
        "decoder": Decoder(num_classes, cfg.quality_dim, kind=cfg.decoder,
                           copy_init=cfg.copy_init),
    }


def gradient_share(t: torch.Tensor, share: float) -> torch.Tensor:
    """Same value as ``t``; gradients through it are multiplied by ``share``."""
    return t if share == 1.0 else share * t + (1.0 - share) * t.detach()


def alpha_scale(hp) -> float:
    """α_t as a ``poutine.scale`` factor, which must be positive: 1e-6 stands for "off"."""
    return max(hp.alpha, 1e-6)


def elbo_weight(hp, cfg) -> float:
    """Eq. 7 read two ways: ``classifier`` scales only the classifier's share of the KL gradient by
    α; ``all`` scales the whole ELBO by α, so guide and decoder also wait for a trained classifier
    instead of learning during warm-up that ỹ is always right."""
    return alpha_scale(hp) if cfg.warmup_scope == "all" else 1.0


def model(nets, batch, hp, cfg):
    classifier = nets["classifier"]
    decoder = nets["decoder"]
    logits = batch.logits(classifier)
    if cfg.prior == "uniform":
        prior_logits = torch.zeros_like(logits)
    elif cfg.warmup_scope == "all":
        prior_logits = logits
    else:
        prior_logits = gradient_share(logits, hp.alpha)
    tau = torch.as_tensor(hp.tau, dtype=logits.dtype, device=logits.device)
    k = cfg.quality_dim
    with poutine.scale(scale=elbo_weight(hp, cfg)):
        with pyro.plate("items", batch.num_items, subsample=batch.item_idx):
            y = pyro.sample("y", y_dist(cfg, tau, prior_logits))
        with pyro.plate("annotations", batch.num_annotations, subsample=batch.ann_idx):
            z = None
            if k > 0:
                with poutine.scale(scale=cfg.kl_z_weight):
                    z = pyro.sample("z", dist.Normal(logits.new_zeros(k), 1.0).to_event(1))
            pyro.sample("ytilde", label_dist(cfg, decoder(y[batch.ann_item], z)),
                        obs=batch.labels)
    if hp.alpha < 1.0:
        with pyro.plate("annotations_ce", batch.num_annotations, subsample=batch.ann_idx):
            pyro.factor("warmup_ce", -(1.0 - hp.alpha) * warmup_ce(logits, batch, cfg))


def y_dist(cfg, tau, logits):
    """The relaxed clean-label distribution of one item: per-class Bernoullis, or one categorical
    (``cfg.categorical_y``). Both carry the closed-form KL of their discrete counterparts."""
    if cfg.categorical_y:
        return ConcreteCategorical(tau, logits=logits)
    return ConcreteBernoulli(tau, logits=logits).to_event(1)


def warmup_ce(logits, batch, cfg=None):
    """Eq. 7's cross-entropy of the classifier against each noisy label, per annotation: softmax
    cross-entropy when y is categorical, per-class binary cross-entropy otherwise."""
    if cfg is not None and cfg.categorical_y:
        return -(batch.labels * torch.log_softmax(logits[batch.ann_item], -1)).sum(-1)
    return F.binary_cross_entropy_with_logits(
        logits[batch.ann_item], batch.labels, reduction="none").sum(-1)


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
