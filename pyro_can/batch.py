"""What one SVI step sees: a minibatch of items with their annotations, and the schedule values."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class StepParams:
    """Schedule values for the current step (see ``schedules.py``)."""

    tau: float = 0.5  # relaxed-Bernoulli temperature for y
    alpha: float = 1.0  # Eq. 7: share of the classifier's gradient from the KL term (rest: CE on ỹ)
    lam: float = 0.3  # weight of the entropy (mutual-information) regularizer


@dataclass
class Batch:
    x: torch.Tensor  # (B, ...) inputs of the batch's items
    labels: torch.Tensor  # (Rb, C) noisy labels, one row per annotation of these items
    ann_item: torch.Tensor  # (Rb,) position of each annotation's item inside the batch
    item_idx: torch.Tensor  # (B,) indices of the items in the training set (plate subsample)
    ann_idx: torch.Tensor  # (Rb,) indices of the annotations in the training set
    num_items: int  # training-set sizes, so plates scale minibatch terms to the full data
    num_annotations: int
    _cache: dict = field(default_factory=dict, repr=False)

    def logits(self, net: torch.nn.Module) -> torch.Tensor:
        """Classifier logits f_θ(x), computed once per step and shared by model and guide (the
        guide's prior judgement can reuse the classifier instead of a second forward pass)."""
        key = id(net)
        if key not in self._cache:
            self._cache[key] = net(self.x)
        return self._cache[key]
