"""CAN's encoder (Yao et al., Sec. III-B): prior judgement p = sigmoid f_φ(x), the additive layer
for q(y | x, ỹ) and the contrastive layer for one q(z | x, ỹ_r) per annotation."""
from __future__ import annotations

from pyro_can.distributions import class_probs
from pyro_can.nets import AdditiveLayer, ContrastiveLayer, input_net

from .latents import answer_trust, build_baseline, prior_judgement, sample_latents


def build(cfg, in_dim: int, num_classes: int) -> dict:
    nets = {"additive": AdditiveLayer(num_classes, label_init=cfg.label_init,
                                      categorical=cfg.latent == "categorical",
                                      prior_init=cfg.prior_init)}
    if cfg.quality_dim > 0:
        nets["contrastive"] = ContrastiveLayer(num_classes, cfg.quality_dim)
    if cfg.prior_judgement == "separate":
        nets["prior_judgement"] = input_net(cfg, in_dim, num_classes)
    nets.update(build_baseline(cfg, num_classes))
    return nets


def posterior(nets, batch, cfg):
    """q's parameters: y's logits per item, z's loc and scale per annotation (None without z)."""
    p_logits = prior_judgement(nets, batch, cfg)
    y_logits = nets["additive"](p_logits, batch.labels, batch.ann_item,
                                answer_trust(nets, batch, p_logits.device))
    loc = scale = None
    if cfg.quality_dim > 0:
        loc, scale = nets["contrastive"](class_probs(cfg, p_logits)[batch.ann_item], batch.labels)
    return y_logits, loc, scale


def guide(nets, batch, hp, cfg):
    sample_latents(nets, batch, hp, cfg, *posterior(nets, batch, cfg))
