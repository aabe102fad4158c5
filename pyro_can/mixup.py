"""Mixup (Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018) for every method,
as a change of the minibatch alone (``--mixup ALPHA``; 0, the default, leaves batches as they are).

Each item i of a minibatch is paired with the item π(i) of a random permutation of the batch and
its input replaced by the mixture

    x̃_i = λ_i x_i + (1 − λ_i) x_π(i),      λ_i ~ Beta(α, α), then λ_i ← max(λ_i, 1 − λ_i)

and the mixed item carries the answers of both: item i's answers weighted λ_i and item π(i)'s
weighted 1 − λ_i (``Batch.ann_weight``), each with its own worker. Every per-answer term of the
model and guide is scaled by that weight (``batch.answers_plate``), and the guide's q(y) counts
each answer's evidence by it. For a net on one label per item this is mixup exactly (the
cross-entropy of the mixed one-hot targets is λ and 1 − λ of the two targets' log-likelihoods);
for CAN it is the ELBO of one latent y per mixed input whose two items' answers are tempered
likelihoods (docs/training.md, "Mixup"). Folding λ to [0.5, 1] keeps the same mixtures (the pair
(i, π(i)) at λ is the pair (π(i), i) at 1 − λ) and makes α → 0 the un-mixed batch: λ = 1, the
partner's answers at weight 0.

λ and π are drawn from a NumPy generator seeded by the run's seed, the epoch and the step, so a
run (and one resumed from a checkpoint) mixes the same pairs every time.
"""
from __future__ import annotations

import numpy as np
import torch

from .batch import Batch


def draw(alpha: float, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """λ (folded to [0.5, 1]) and the partner permutation π for ``size`` items."""
    lam = rng.beta(alpha, alpha, size=size)
    return np.maximum(lam, 1.0 - lam), rng.permutation(size)


def mix(batch: Batch, lam: torch.Tensor, perm: torch.Tensor) -> Batch:
    """The mixed minibatch of ``batch`` for weights ``lam`` (B,) and partners ``perm`` (B,): same
    items (the plates' subsample), mixed inputs, both items' answers with their weights."""
    lam = lam.to(batch.x.dtype)
    shape = (-1,) + (1,) * (batch.x.dim() - 1)
    x = lam.view(shape) * batch.x + (1.0 - lam).view(shape) * batch.x[perm]
    partner = torch.argsort(perm)[batch.ann_item]  # the mixed item each answer is the partner of
    weight = torch.ones_like(lam[batch.ann_item]) if batch.ann_weight is None else batch.ann_weight
    two = lambda t: None if t is None else torch.cat([t, t])  # noqa: E731
    return Batch(
        x=x, labels=two(batch.labels), ann_item=torch.cat([batch.ann_item, partner]),
        item_idx=batch.item_idx, ann_idx=two(batch.ann_idx), num_items=batch.num_items,
        num_annotations=batch.num_annotations, one_answer_each=False,
        max_answers=2 * batch.max_answers, ann_worker=two(batch.ann_worker),
        ann_weight=torch.cat([lam[batch.ann_item] * weight, (1.0 - lam)[partner] * weight]))


class Mixup:
    """``--mixup ALPHA`` for one run: ``mixer(batch, epoch, step)`` is the mixed batch of that
    step, drawn from the run's ``seed``."""

    def __init__(self, alpha: float, seed: int):
        self.alpha, self.seed = float(alpha), int(seed)

    def __call__(self, batch: Batch, epoch: int, step: int) -> Batch:
        rng = np.random.default_rng([self.seed, 5, epoch, step])
        lam, perm = draw(self.alpha, len(batch.item_idx), rng)
        device = batch.x.device
        return mix(batch, torch.as_tensor(lam, device=device),
                   torch.as_tensor(perm, device=device))
