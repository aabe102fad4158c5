"""Ablation: CAN's guide without the contrastive layer. q(y | x, ỹ) is the additive layer as in
CAN; z keeps its prior, q(z) = N(0, I), so the quality embedding carries no information."""
from __future__ import annotations

import torch

from .latents import answer_trust, prior_judgement, sample_latents


def build(cfg, in_dim: int, num_classes: int) -> dict:
    from .can import build as can_build

    nets = can_build(cfg, in_dim, num_classes)
    nets.pop("contrastive", None)
    return nets


def posterior(nets, batch, cfg):
    p_logits = prior_judgement(nets, batch, cfg)
    y_logits = nets["additive"](p_logits, batch.labels, batch.ann_item,
                                answer_trust(nets, batch, p_logits.device))
    k, r = cfg.quality_dim, len(batch.ann_idx)
    loc = y_logits.new_zeros(r, k) if k else None
    return y_logits, loc, None if loc is None else torch.ones_like(loc)


def guide(nets, batch, hp, cfg):
    sample_latents(nets, batch, hp, cfg, *posterior(nets, batch, cfg))
