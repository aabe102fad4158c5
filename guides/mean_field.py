"""Ablation: a mean-field guide q(y | x) q(z) that never sees ỹ. q(y | x) = Bernoulli(σ f_φ(x))
with its own network f_φ; q(z) = N(μ, σ) with μ, σ learned but shared by all annotations."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .latents import LatentGuide


class GlobalNormal(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(dim))
        self.raw_scale = nn.Parameter(torch.zeros(dim))

    def forward(self, n: int):
        return self.loc.expand(n, -1), (F.softplus(self.raw_scale) + 1e-3).expand(n, -1)


class MeanFieldGuide(LatentGuide):
    """q(y | x) by its own network ``mean_field_y``; q(z) by ``mean_field_z``."""

    def __init__(self, method, schedule, num_classes: int, input_net, model):
        super().__init__(method, model)
        self.mean_field_y = input_net(num_classes)
        self.mean_field_z = GlobalNormal(method.quality_dim) if method.quality_dim > 0 else None

    def posterior(self, batch):
        y_logits = self.mean_field_y(batch.x)
        loc = scale = None
        if self.mean_field_z is not None:
            loc, scale = self.mean_field_z(len(batch.ann_idx))
        return y_logits, loc, scale
