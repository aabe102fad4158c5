"""The worker-aware quality prior (``--quality-prior worker``): the answer of worker w depends on
y, on its quality z and on w, through a hierarchical prior on the quality,

    μ_w  ~ Normal(0, I_K)                       one latent per worker (plate ``workers``)
    z_ir ~ Normal(μ_{w(i,r)}, I_K)               instead of the paper's Normal(0, I_K)

plus a latent per-worker strength of the decoder's identity path, d_w ~ Normal(0, 1) (ỹ's logits
+ d_w·(2y − 1): a one-coin worker model inside CAN's decoder; a decoder MLP reads z's dimensions
slowly, and the worker's reliability needs a direct path; as a latent with a prior, a worker with
few answers stays near the crowd's average). The model holds the priors and reads each answer's
worker slot (``worker_slots``); the guide holds the variational parameters (``WorkerQuality``):
q(μ_w) = Normal(m_w, s_w), q(d_w) = Normal(e_w, r_w), the same m_w added to q(z_ir | x, ỹ_ir)'s
mean, and a per-worker weight t_w on each answer's evidence in
q(y | x, ỹ) (the Bayes posterior of a worker-confusion model weighs each answer by its worker's
log-likelihood ratio). Answers of unknown workers (-1) and the table's padding share one extra
slot.

A worker's reliability is what the model predicts for a fresh item: the decoder's probability of
answering the clean class at the worker's mean quality, averaged over classes.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

_SOFTPLUS_ONE = math.log(math.e - 1.0)  # softplus(_SOFTPLUS_ONE) = 1


def count_workers(ann_worker) -> int:
    """Worker ids run 0..W-1 (-1: unknown); W."""
    ann_worker = np.asarray(ann_worker)
    return int(ann_worker.max()) + 1 if ann_worker.size and ann_worker.max() >= 0 else 0


def worker_slots(ann_worker: torch.Tensor | None, n: int, num_workers: int,
                 device) -> torch.Tensor:
    """Each of the ``n`` answers' slot among the ``num_workers`` + 1: its worker, or
    ``num_workers`` when unknown (-1, or no worker ids at all)."""
    if ann_worker is None:
        return torch.full((n,), num_workers, dtype=torch.long, device=device)
    return torch.where(ann_worker >= 0, ann_worker, torch.full_like(ann_worker, num_workers))


class WorkerQuality(nn.Module):
    """The guide's per-worker variational parameters: q(μ_w)'s (loc, scale), q(d_w)'s
    (copy_offset, offset_scale) and the evidence weights t_w, for W workers plus the
    unknown-worker slot (index W)."""

    def __init__(self, num_workers: int, quality_dim: int, min_scale: float = 1e-3):
        super().__init__()
        self.num_workers = num_workers
        self.loc = nn.Parameter(torch.zeros(num_workers + 1, quality_dim))
        self.raw_scale = nn.Parameter(torch.full((num_workers + 1, quality_dim), -2.0))
        self.raw_trust = nn.Parameter(torch.full((num_workers + 1,), _SOFTPLUS_ONE))
        self.copy_offset = nn.Parameter(torch.zeros(num_workers + 1))  # e_w = E q(d_w)
        self.raw_offset_scale = nn.Parameter(torch.full((num_workers + 1,), -2.0))
        self.min_scale = min_scale

    def index(self, ann_worker: torch.Tensor | None, n: int, device) -> torch.Tensor:
        """Each answer's slot: its worker, or W when unknown (``worker_slots``)."""
        return worker_slots(ann_worker, n, self.num_workers, device)

    def scale(self) -> torch.Tensor:
        return F.softplus(self.raw_scale) + self.min_scale

    def offset_scale(self) -> torch.Tensor:
        return F.softplus(self.raw_offset_scale) + self.min_scale

    def trust(self) -> torch.Tensor:
        return F.softplus(self.raw_trust)


@torch.no_grad()
def decoder_reliability(decoder, wq: WorkerQuality, num_classes: int,
                        categorical: bool) -> np.ndarray:
    """(W + 1,) the decoder's mean probability, over the classes c, that worker w's answer says c
    when y = c (per-class Bernoulli decoders: that ỹ_c is on), at the worker's mean quality."""
    loc = wq.loc
    eye = torch.eye(num_classes, dtype=loc.dtype, device=loc.device)
    y = eye.unsqueeze(0).expand(len(loc), -1, -1)  # (W, C, C)
    z = loc.unsqueeze(1).expand(-1, num_classes, -1)
    logits = decoder(y, z) + wq.copy_offset[:, None, None] * (2.0 * y - 1.0)
    p = torch.softmax(logits, -1) if categorical else torch.sigmoid(logits)
    return (p * eye).sum(-1).mean(-1).cpu().numpy()
