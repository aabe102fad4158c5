"""The part every CAN guide shares: sample y and z from given parameters, add the MI regularizer.

The regularizer λ·(H(q(y)) + H(q(z))) is added to the loss as a guide factor (a guide factor's
value is added to the loss); minimizing it makes the posteriors confident. H(q(y)) is the
closed-form Bernoulli (or, for a categorical y, categorical) entropy, H(q(z)) the Normal one.
"""
from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine



def prior_judgement(nets, batch, cfg) -> torch.Tensor:
    """Logits of p = sigmoid f_φ(x): the guide's own net (``separate``) or the classifier's
    forward pass reused with its gradient stopped (``shared``, the default: one forward per step)."""
    if cfg.prior_judgement == "separate":
        return batch.logits(nets["prior_judgement"])
    logits = batch.logits(nets["classifier"])
    return logits if cfg.prior == "uniform" else logits.detach()


def sample_latents(batch, hp, cfg, y_logits, z_loc=None, z_scale=None):
    from pyro_can.models.can import elbo_weight

    with poutine.scale(scale=elbo_weight(hp, cfg)):
        _sample_latents(batch, hp, cfg, y_logits, z_loc, z_scale)


def _sample_latents(batch, hp, cfg, y_logits, z_loc, z_scale):
    from pyro_can.models.can import y_dist

    tau = torch.as_tensor(hp.tau, dtype=y_logits.dtype, device=y_logits.device)
    with pyro.plate("items", batch.num_items, subsample=batch.item_idx):
        qy = y_dist(cfg, tau, y_logits)
        pyro.sample("y", qy)
        if hp.lam:
            entropy_y = qy.entropy()
            pyro.factor("mi_y", hp.lam * entropy_y, has_rsample=True)
    if cfg.quality_dim == 0:
        return
    with pyro.plate("annotations", batch.num_annotations, subsample=batch.ann_idx):
        qz = dist.Normal(z_loc, z_scale).to_event(1)
        with poutine.scale(scale=cfg.kl_z_weight):
            pyro.sample("z", qz)
        if hp.lam:
            pyro.factor("mi_z", hp.lam * qz.entropy(), has_rsample=True)
