"""Ablation: a mean-field guide q(y | x) q(z) that never sees ỹ. q(y | x) = Bernoulli(σ f_φ(x))
with its own network f_φ; q(z) = N(μ, σ) with μ, σ learned but shared by all annotations."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from pyro_can.nets import input_net

from .latents import build_baseline, sample_latents


class GlobalNormal(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(dim))
        self.raw_scale = nn.Parameter(torch.zeros(dim))

    def forward(self, n: int):
        return self.loc.expand(n, -1), (F.softplus(self.raw_scale) + 1e-3).expand(n, -1)


def build(cfg, in_dim: int, num_classes: int) -> dict:
    nets = {"mean_field_y": input_net(cfg, in_dim, num_classes)}
    if cfg.quality_dim > 0:
        nets["mean_field_z"] = GlobalNormal(cfg.quality_dim)
    nets.update(build_baseline(cfg, num_classes))
    return nets


def posterior(nets, batch, cfg):
    y_logits = batch.logits(nets["mean_field_y"])
    loc = scale = None
    if cfg.quality_dim > 0:
        loc, scale = nets["mean_field_z"](len(batch.ann_idx))
    return y_logits, loc, scale


def guide(nets, batch, hp, cfg):
    sample_latents(nets, batch, hp, cfg, *posterior(nets, batch, cfg))
