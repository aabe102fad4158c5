"""CAN's generative model (Yao et al., Sec. III-A).

    y_i  ~ Bernoulli(sigmoid f_θ(x_i))          per class, relaxed at temperature τ for training
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

from pyro_can.distributions import ConcreteBernoulli
from pyro_can.nets import MLP, Decoder


def build(cfg, in_dim: int, num_classes: int) -> dict:
    return {
        "classifier": MLP(in_dim, num_classes, cfg.hidden_sizes),
        "decoder": Decoder(num_classes, cfg.quality_dim, kind=cfg.decoder),
    }


def gradient_share(t: torch.Tensor, share: float) -> torch.Tensor:
    """Same value as ``t``; gradients through it are multiplied by ``share``."""
    return t if share == 1.0 else share * t + (1.0 - share) * t.detach()


def model(nets, batch, hp, cfg):
    classifier = pyro.module("classifier", nets["classifier"])
    decoder = pyro.module("decoder", nets["decoder"])
    logits = batch.logits(classifier)
    if cfg.prior == "uniform":
        prior_logits = torch.zeros_like(logits)
    else:
        prior_logits = gradient_share(logits, hp.alpha)
    tau = torch.as_tensor(hp.tau, dtype=logits.dtype, device=logits.device)
    with pyro.plate("items", batch.num_items, subsample=batch.item_idx):
        y = pyro.sample("y", ConcreteBernoulli(tau, logits=prior_logits).to_event(1))
    k = cfg.quality_dim
    with pyro.plate("annotations", batch.num_annotations, subsample=batch.ann_idx):
        z = None
        if k > 0:
            with poutine.scale(scale=cfg.kl_z_weight):
                z = pyro.sample("z", dist.Normal(logits.new_zeros(k), 1.0).to_event(1))
        pyro.sample("ytilde", dist.Bernoulli(logits=decoder(y[batch.ann_item], z)).to_event(1),
                    obs=batch.labels)
        if hp.alpha < 1.0:
            ce = F.binary_cross_entropy_with_logits(
                logits[batch.ann_item], batch.labels, reduction="none").sum(-1)
            pyro.factor("warmup_ce", -(1.0 - hp.alpha) * ce)
