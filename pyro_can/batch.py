"""What one SVI step sees: a minibatch of items with their annotations, and the schedule values."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class StepParams:
    """Schedule values for the current step (see ``schedules.py``)."""

    tau: float = 0.5  # relaxed-Bernoulli temperature for y
    alpha: float = 1.0  # (objective.py only) Eq. 7: share of the classifier's gradient from the KL term (rest: CE on ỹ)
    lam: float = 0.3  # λ, weight of the regularizer (read by objective.py only)


@dataclass
class Batch:
    x: torch.Tensor  # (B, ...) inputs of the batch's items
    labels: torch.Tensor  # (Rb, C) noisy labels, one row per annotation of these items
    ann_item: torch.Tensor  # (Rb,) position of each annotation's item inside the batch
    item_idx: torch.Tensor  # (B,) indices of the items in the training set (plate subsample)
    ann_idx: torch.Tensor  # (Rb,) indices of the annotations in the training set
    num_items: int  # training-set sizes, so plates scale minibatch terms to the full data
    num_annotations: int
    one_answer_each: bool = False  # annotations are the items themselves (no crowd)
    ann_worker: torch.Tensor | None = None  # (Rb,) worker of each annotation (-1: unknown)
    _cache: dict = field(default_factory=dict, repr=False)

    def logits(self, net: torch.nn.Module) -> torch.Tensor:
        """Classifier logits f_θ(x), computed once per step and shared by model and guide (the
        guide's prior judgement can reuse the classifier instead of a second forward pass)."""
        key = id(net)
        if key not in self._cache:
            self._cache[key] = net(self.x)
        return self._cache[key]


def items_plate(batch: Batch):
    """The plate of per-item sites (y), subsampled to the batch's items."""
    import pyro

    return pyro.plate("items", batch.num_items, subsample=batch.item_idx)


def answers_plate(batch: Batch, items=None):
    """The plate of per-answer sites (z, ỹ). With one answer per item it is the items' plate
    itself (``items``, when the program has opened it already: a plate is created once per run), so that TraceGraph_ELBO sees that ỹ_i depends on y_i alone (its score-function terms
    are Rao-Blackwellized per item) and TraceEnum_ELBO sums y_i out item by item."""
    import pyro

    if batch.one_answer_each:
        return items if items is not None else items_plate(batch)
    return pyro.plate("annotations", batch.num_annotations, subsample=batch.ann_idx)


def answer_rows(t, batch: Batch):
    """Per-item rows of ``t`` (batch dim -2, leading enumeration dims kept) repeated per answer."""
    if batch.one_answer_each:
        return t
    t = t.expand(t.shape[:-2] + (len(batch.item_idx), t.shape[-1]))  # an enumerated y: (C, 1, C)
    return t[..., batch.ann_item, :]


def per_item(t, batch: Batch):
    """Per-answer values ``t`` (answer dim -1) summed over each item's answers."""
    out = t.new_zeros(t.shape[:-1] + (len(batch.item_idx),))
    return out.index_add(-1, batch.ann_item, t)
