"""Early-learning regularization (Liu et al., "Early-Learning Regularization Prevents
Memorization of Noisy Labels", NeurIPS 2020): cross-entropy on the noisy labels plus

    λ · log(1 − ⟨t_i, p(· | x_i)⟩),

where t_i is a per-item running average of the classifier's own past predictions (temporal
ensembling, t_i ← β t_i + (1 − β) p̂_i, updated each time item i is in a minibatch). Early in
training the net fits the clean majority; the term pulls each prediction towards what it said
then, so that it does not later memorize a wrong label. As in the authors' code the prediction is
clamped to [1e-4, 1 − 1e-4], the target is the clamped prediction renormalized and held constant
(no gradient), and t starts at 0. Defaults are their CIFAR-10 ones: λ = 3, β = 0.7
(``--elr-lambda``, ``--elr-beta``). ELR+ (two nets, weight averaging, mixup) is not implemented.

The targets are a buffer of the model (one row per training item, indexed by the batch's
``item_idx``), so checkpoints carry them and ``--resume`` continues with the same targets.
A Pyro model with no latent variables: the cross-entropy of each answer is observed as the plain
net's, the regularizer enters per item through ``pyro.factor``. Single-label data only.
"""
from __future__ import annotations

import pyro
import torch

from pyro_can.batch import answers_plate, items_plate
from pyro_can.noisy_label_model import ModelBase

from .softmax_labels import answer_log_prob, require_softmax

SEARCH_SPACE = {"elr_lambda": (0.3, 10.0, "log"), "elr_beta": (0.5, 0.99)}

PREDICTION_CLAMP = 1e-4


def update_targets(targets: torch.Tensor, items: torch.Tensor, probs: torch.Tensor,
                   beta: float) -> torch.Tensor:
    """t[items] ← β·t[items] + (1 − β)·p̂ in place, p̂ the clamped ``probs`` renormalized;
    returns the new rows."""
    p = probs.detach().clamp(PREDICTION_CLAMP, 1.0 - PREDICTION_CLAMP)
    targets[items] = beta * targets[items] + (1.0 - beta) * p / p.sum(-1, keepdim=True)
    return targets[items]


def elr_penalty(target: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """log(1 − ⟨t, p⟩) per item (p clamped as in the update); minimizing it raises ⟨t, p⟩."""
    p = probs.clamp(PREDICTION_CLAMP, 1.0 - PREDICTION_CLAMP)
    return torch.log1p(-(target * p).sum(-1))


class ELRModel(ModelBase):
    """The softmax classifier and the per-item targets t (``targets``, N × C; sized on the first
    batch, when the number of training items is known)."""

    def __init__(self, method, schedule, num_classes: int, input_net, num_workers: int = 0):
        super().__init__()
        require_softmax(method)
        self.classifier = input_net(num_classes)
        self.lam, self.beta = method.elr.elr_lambda, method.elr.elr_beta
        self.register_buffer("targets", torch.zeros(0, num_classes))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """A checkpoint's targets have the data set's size: take that size before loading."""
        saved = state_dict.get(prefix + "targets")
        if saved is not None:
            self._buffers["targets"] = self.targets.new_zeros(saved.shape)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, batch, hp):
        logits = batch.classifier_output(self.classifier)
        if self.targets.shape[0] != batch.num_items:
            self._buffers["targets"] = logits.new_zeros(batch.num_items, logits.shape[-1])
        probs = torch.softmax(logits, -1)
        if self.training:
            target = update_targets(self.targets, batch.item_idx, probs, self.beta)
        else:
            target = self.targets[batch.item_idx]
        log_p = answer_log_prob(logits, batch.answer_labels)
        with items_plate(batch):
            pyro.factor("elr", -self.lam * elr_penalty(target, probs))
            with answers_plate(batch):
                pyro.factor("ytilde", log_p)
