"""Ablation: CAN's guide without the contrastive layer. q(y | x, ỹ) is the additive layer as in
CAN; z keeps its prior, q(z) = N(0, I), so the quality embedding carries no information."""
from __future__ import annotations

import torch

from .can import CANGuide


class AdditiveGuide(CANGuide):
    contrastive_layer = False

    def posterior(self, batch):
        y_logits, _, _ = super().posterior(batch)
        k, r = self.quality_dim, len(batch.ann_idx)
        loc = y_logits.new_zeros(r, k) if k else None
        return y_logits, loc, None if loc is None else torch.ones_like(loc)
