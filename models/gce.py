"""Generalized cross-entropy (Zhang & Sabuncu, "Generalized Cross Entropy Loss for Training Deep
Neural Networks with Noisy Labels", NeurIPS 2018): the classifier is trained on

    L_q(x, ỹ) = (1 − p(ỹ | x)^q) / q,

the negative Box-Cox transform of the answered class's probability. q → 0 is cross-entropy, q = 1
the mean absolute error (robust to symmetric noise but slow to fit); the paper's default, used
here, is q = 0.7 (``--gce-q``). The paper's truncated variant (L_q clipped at a threshold k, with
a per-epoch pruning of items) is not implemented: its reported gains over plain L_q are small.

A Pyro model with no latent variables: each answer's −L_q enters through ``pyro.factor`` in the
answers plate inside the items plate, scaled to the data set like every other method's
likelihood. Single-label data only (``models/softmax_labels.py``).
"""
from __future__ import annotations

import pyro
import torch

from pyro_can.batch import answers_plate, items_plate
from pyro_can.noisy_label_model import ModelBase

from .softmax_labels import answer_log_prob, require_softmax

#: tuned by ``pyro-can tune`` beside the shared optimizer options (``pyro_can/tune.py``)
SEARCH_SPACE = {"gce_q": (0.1, 1.0)}


def gce_loss(log_p: torch.Tensor, q: float) -> torch.Tensor:
    """(1 − p^q) / q from log p, elementwise; at q = 0 its limit, −log p (cross-entropy)."""
    if q == 0:
        return -log_p
    return -torch.expm1(q * log_p) / q


class GCEModel(ModelBase):
    """The softmax classifier trained on L_q of each answer (``--gce-q``)."""

    def __init__(self, method, schedule, num_classes: int, input_net, num_workers: int = 0):
        super().__init__()
        require_softmax(method)
        self.classifier = input_net(num_classes)
        self.q = method.gce.gce_q

    def forward(self, batch, hp):
        log_p = answer_log_prob(batch.classifier_output(self.classifier), batch.answer_labels)
        with items_plate(batch), answers_plate(batch):
            pyro.factor("ytilde", -gce_loss(log_p, self.q))
