"""What one SVI step sees: a minibatch of items with their answers, and the schedule values.

Crowd answers are laid out as NumPyro's ``examples/annotation.py`` lays them out: a padded table
of answer slots × items with a mask, observed in an ``answers`` plate nested inside the
``items`` plate. Minibatches are drawn by item, so the items plate's N/B is the one scale every
term gets, and the minibatch loss is an unbiased estimate of the full-data loss however many
answers each item has (a flat plate of annotations scaled by R/R_b is not: R_b varies with the
items drawn). In the tensors the answers dim is -2 and the items dim -1, so per-item sites (y)
keep their (B, C) shape and broadcast over an item's answers.

Two fields are the step's, not the data's: the objective (``objective.py``) fills them once per
step, so that the programs and the regularizer share one computation of each:
``classifier_logits``, the classifier's f_θ(x) (read by the warm-up, the model's prior and the
guide's prior judgement), and ``posterior``, q's parameters from the guide's ``posterior(batch)``
(which the guide samples from and the regularizer reads).
"""
from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import torch

ITEMS_DIM, ANSWERS_DIM = -1, -2
MAX_PLATE_NESTING = 2  # items, answers (TraceEnum_ELBO enumerates y to their left)


@dataclass
class StepParams:
    """Schedule values for the current step (see ``schedules.py``)."""

    tau: float = 0.5  # temperature of y's relaxation (relaxation.py: --elbo meanfield|trace)
    # (objective.py only) Eq. 7: share of the classifier's gradient from the KL term (rest: CE
    # on ỹ)
    alpha: float = 1.0
    lam: float = 0.3  # λ, weight of the regularizer (read by objective.py only)


@dataclass
class Batch:
    x: torch.Tensor  # (B, ...) inputs of the batch's items
    labels: torch.Tensor  # (Rb, C) noisy labels, one row per answer of these items, item by item
    ann_item: torch.Tensor  # (Rb,) position of each answer's item inside the batch
    item_idx: torch.Tensor  # (B,) indices of the items in the training set (plate subsample)
    ann_idx: torch.Tensor  # (Rb,) indices of the answers in the training set
    num_items: int  # training-set sizes, so plates scale minibatch terms to the full data
    num_annotations: int
    one_answer_each: bool = False  # annotations are the items themselves (no crowd)
    max_answers: int = 0  # answer slots per item (the data set's most answers; 0: the batch's)
    ann_worker: torch.Tensor | None = None  # (Rb,) worker of each answer (-1: unknown)
    # (Rb,) weight of each answer's terms in the likelihood (mixup's λ and 1 − λ,
    # ``pyro_can/mixup.py``); None: every answer counts once
    ann_weight: torch.Tensor | None = None
    # -- the step's shared values (filled by the objective; None in a batch read outside a step)
    classifier_logits: torch.Tensor | None = None  # (B, C) f_θ(x) of the model's classifier
    posterior: tuple | None = None  # q's parameters: guide.posterior(batch)

    def classifier_output(self, classifier: torch.nn.Module) -> torch.Tensor:
        """f_θ(x) of the model's ``classifier``: ``classifier_logits`` when the objective
        computed them for this step, else the classifier's output now (a batch read outside a
        training step: a pass over the posterior, a test)."""
        if self.classifier_logits is not None:
            return self.classifier_logits
        return classifier(self.x)

    def posterior_of(self, guide) -> tuple:
        """q's parameters from ``guide``: ``posterior`` when the objective computed them for
        this step, else ``guide.posterior`` of the batch now."""
        return self.posterior if self.posterior is not None else guide.posterior(self)

    # -- the padded answers × items table -----------------------------------------------------
    @functools.cached_property
    def _layout(self):
        """(slot of each answer among its item's answers, slots per item)."""
        b, item = len(self.item_idx), self.ann_item
        counts = torch.bincount(item, minlength=b)
        starts = torch.cumsum(counts, 0) - counts
        order = torch.argsort(item, stable=True)
        slot = torch.empty_like(item)
        slot[order] = torch.arange(len(item), device=item.device) - starts[item[order]]
        a = (self.max_answers or int(counts.max())) if len(item) else max(1, self.max_answers)
        return slot, a

    def to_table(self, t: torch.Tensor, fill=0.0) -> torch.Tensor:
        """Per-answer rows ``t`` (Rb, ...) placed in the (A, B, ...) table, ``fill`` in the
        padding (differentiable in ``t``). With one answer per item, ``t`` itself."""
        if self.one_answer_each:
            return t
        slot, a = self._layout
        out = t.new_full((a, len(self.item_idx)) + t.shape[1:], fill)
        out[slot, self.ann_item] = t
        return out

    def from_table(self, t: torch.Tensor) -> torch.Tensor:
        """The answers' rows (Rb, ...) of a table (A, B, ...); the inverse of ``to_table``."""
        if self.one_answer_each:
            return t
        return t[self._layout[0], self.ann_item]

    @functools.cached_property
    def mask(self) -> torch.Tensor | None:
        """(A, B) True where a slot holds a real answer; None with one answer per item."""
        if self.one_answer_each:
            return None
        return self.to_table(
            torch.ones(len(self.ann_item), dtype=torch.bool, device=self.ann_item.device), False)

    @property
    def total_weight(self) -> float:
        """How many answers the batch counts: their number, or the sum of their weights."""
        return float(len(self.ann_item) if self.ann_weight is None else self.ann_weight.sum())

    @functools.cached_property
    def answer_labels(self) -> torch.Tensor:
        """The observed ỹ table (A, B, C): padding holds a valid label row (masked out), so
        distributions' argument checks pass. With one answer per item, ``labels`` (B, C)."""
        if self.one_answer_each:
            return self.labels
        slot, a = self._layout
        out = self.labels[:1].expand((a, len(self.item_idx), self.labels.shape[-1])).clone()
        out[slot, self.ann_item] = self.labels
        return out


def items_plate(batch: Batch):
    """The plate of per-item sites (y), subsampled to the batch's items: scale N/B."""
    import pyro

    return pyro.plate("items", batch.num_items, subsample=batch.item_idx, dim=ITEMS_DIM)


def answers_plate(batch: Batch):
    """The plate of per-answer sites (z, ỹ), to be opened inside ``items_plate``: the answer
    slots of each item, padding masked out. With one answer per item there is no such plate (the
    answers are the items: per-answer sites sit in the items plate itself, the fast path). Weighted
    answers (``Batch.ann_weight``, mixup) scale every per-answer site by their weight."""
    import pyro
    from pyro import poutine

    if batch.one_answer_each:
        return contextlib.nullcontext()
    stack = contextlib.ExitStack()
    stack.enter_context(pyro.plate("answers", batch.mask.shape[0], dim=ANSWERS_DIM))
    stack.enter_context(poutine.mask(mask=batch.mask))
    if batch.ann_weight is not None:  # Pyro's scales are positive: 0 as the smallest one
        w = batch.ann_weight
        w = w.clamp_min(torch.finfo(w.dtype).tiny)
        stack.enter_context(poutine.scale(scale=batch.to_table(w, 1.0)))
    return stack
