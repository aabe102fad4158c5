"""Symmetric cross-entropy (Wang et al., "Symmetric Cross Entropy for Robust Learning with Noisy
Labels", ICCV 2019): the classifier is trained on α·CE + β·RCE, where the reverse cross-entropy

    RCE(x, ỹ) = −Σ_k p(k | x) log q(k | ỹ)

swaps the roles of prediction and label. The one-hot label's log 0 is clamped to a constant A;
the authors' code clamps the one-hot label at 1e-4 before its natural log (the paper's "A = −4"
is that clamp in base 10), so RCE = −ln(1e-4) · Σ_{k ≠ ỹ} p(k | x) ≈ 9.21 · (1 − p(ỹ | x)), with
the prediction clamped at 1e-7 below as there. Defaults are the paper's CIFAR-10 ones, α = 0.1,
β = 1 (``--sce-alpha``, ``--sce-beta``).

A Pyro model with no latent variables: each answer's loss enters through ``pyro.factor``.
Single-label data only (``models/softmax_labels.py``).
"""
from __future__ import annotations

import math

import pyro
import torch

from pyro_can.batch import answers_plate, items_plate
from pyro_can.noisy_label_model import ModelBase

from .softmax_labels import answer_log_prob, require_softmax

SEARCH_SPACE = {"sce_alpha": (0.01, 10.0, "log"), "sce_beta": (0.1, 10.0, "log")}

#: the clamp of the one-hot label before its log (the authors' code): A = ln(1e-4)
LABEL_CLAMP = 1e-4
PREDICTION_CLAMP = 1e-7


def reverse_cross_entropy(logits: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    """−Σ_k p_k log clamp(ỹ_k, 1e-4, 1) for one-hot ``answers`` (B, C) or (A, B, C)."""
    p = torch.softmax(logits, -1).clamp_min(PREDICTION_CLAMP)
    return -math.log(LABEL_CLAMP) * (p * (1.0 - answers)).sum(-1)


class SCEModel(ModelBase):
    """The softmax classifier trained on α·CE + β·RCE of each answer."""

    def __init__(self, method, schedule, num_classes: int, input_net, num_workers: int = 0):
        super().__init__()
        require_softmax(method)
        self.classifier = input_net(num_classes)
        self.alpha, self.beta = method.sce.sce_alpha, method.sce.sce_beta

    def forward(self, batch, hp):
        logits = batch.classifier_output(self.classifier)
        answers = batch.answer_labels
        loss = (-self.alpha * answer_log_prob(logits, answers)
                + self.beta * reverse_cross_entropy(logits, answers))
        with items_plate(batch), answers_plate(batch):
            pyro.factor("ytilde", -loss)
