"""The λ-weighted regularizers on the posteriors q(y | x, ỹ) and q(z | x, ỹ) (the paper's MI term).

Each returns a per-item loss term for one minibatch (added to −ELBO/N by ``objective.py``), from
the guide's distribution parameters (``guide.posterior``), in closed form, reading the options of
the method's section (``sections.MethodSection``: ``latent``, ``kl_z_weight``):

``entropy``  E_batch H(q(y)) + w_z·(R_b/B)·E_batch H(q(z)): the conditional entropy alone;
             minimizing it makes each posterior confident, and nothing stops them all agreeing on
             one class (the all-off collapse that forced λ = 0 by default).
``mi``       −Î(y) − w_z·(R_b/B)·Î(z), with Î(y) = H(E_batch q(y)) − E_batch H(q(y)), the mutual
             information between an item and its clean label under q: confident per item, but
             spread over the classes across the batch. For z the aggregate E_batch q(z) (a mixture
             of Normals) is replaced by the Normal with its mean and covariance (diagonal), whose
             entropy bounds the mixture's from above.

w_z is ``--kl-z-weight``: the z term sits under the same weight as KL_z. R_b/B (answers per item in
the batch) turns the batch mean over answers into a per-item sum, as the nested plates do.
"""
from __future__ import annotations

import math

import torch

from .distributions import label_dist

_HALF_LOG_2PI_E = 0.5 * math.log(2 * math.pi * math.e)


def _z_share(batch, method) -> float:
    """Answers per item of this batch (the batch mean over answers times it is the per-item sum,
    an unbiased estimate of the data's, as the nested plates make the ELBO's)."""
    return method.kl_z_weight * len(batch.ann_idx) / len(batch.item_idx)


def entropy(method, batch, y_logits, z_loc=None, z_scale=None) -> torch.Tensor:
    out = label_dist(y_logits, method.categorical_y).entropy().mean()
    if z_scale is not None:
        out = out + _z_share(batch, method) * (_HALF_LOG_2PI_E + z_scale.log()).sum(-1).mean()
    return out


def marginal_y_entropy(y_logits, categorical: bool) -> torch.Tensor:
    """H(E_batch q(y)): the entropy of the batch's average posterior over the classes."""
    if categorical:
        p = torch.softmax(y_logits, -1).mean(0)
        return -(p * p.clamp_min(1e-12).log()).sum()
    p = torch.sigmoid(y_logits).mean(0).clamp(1e-6, 1 - 1e-6)
    return -(p * p.log() + (1 - p) * (1 - p).log()).sum()


def marginal_z_entropy(z_loc, z_scale) -> torch.Tensor:
    """Entropy of the Normal matched to E_batch q(z) (per-dimension mean and variance)."""
    var = (z_scale ** 2).mean(0) + z_loc.var(0, unbiased=False)
    return (_HALF_LOG_2PI_E + 0.5 * var.log()).sum()


def mutual_information(method, batch, y_logits, z_loc=None, z_scale=None) -> torch.Tensor:
    """Minus the batch estimate of I(item; y) (and of I(annotation; z)), so minimizing it
    maximizes the MI."""
    h_y = label_dist(y_logits, method.categorical_y).entropy().mean()
    out = h_y - marginal_y_entropy(y_logits, method.categorical_y)
    if z_scale is not None:
        h_z = (_HALF_LOG_2PI_E + z_scale.log()).sum(-1).mean()
        out = out + _z_share(batch, method) * (h_z - marginal_z_entropy(z_loc, z_scale))
    return out
