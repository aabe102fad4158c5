"""Bootstrap baseline (Reed et al., "Training deep neural networks on noisy labels with
bootstrapping", 2014): the classifier is trained on β·ỹ + (1 − β)·prediction, soft (the predicted
probabilities) or hard (the predicted label). β = 1 is the plain net.

With a softmax classifier (``--latent categorical``, single-label data) this is the original's
softmax cross-entropy; otherwise per-class sigmoid cross-entropy, where "hard" takes a 0.5
threshold for multi-label data. The prediction is a constant target (no gradient through it), as
in the paper's EM reading.
"""
from __future__ import annotations

import pyro
import torch
from torch.nn import functional as F

from pyro_can.batch import answers_plate, items_plate
from pyro_can.noisy_label_model import ModelBase


def prediction_target(logits: torch.Tensor, kind: str, single_label: bool,
                      softmax: bool = False) -> torch.Tensor:
    probs = torch.softmax(logits.detach(), -1) if softmax else torch.sigmoid(logits.detach())
    if kind == "soft":
        return probs
    if single_label:
        return F.one_hot(probs.argmax(-1), probs.shape[-1]).to(probs.dtype)
    return (probs > 0.5).to(probs.dtype)


class BootstrapModel(ModelBase):
    """The classifier's likelihood of the bootstrapped target (``--beta``, ``--bootstrap``)."""

    def __init__(self, method, schedule, num_classes: int, input_net, num_workers: int = 0):
        super().__init__()
        self.classifier = input_net(num_classes)
        self.options = method.bootstrap  # sections.BootstrapOptions: beta, bootstrap
        self.categorical_y = method.categorical_y

    def forward(self, batch, hp):
        logits = batch.classifier_output(self.classifier)
        single = bool((batch.labels.sum(-1) == 1).all())
        beta = self.options.beta
        target = beta * batch.answer_labels + (1 - beta) * prediction_target(
            logits, self.options.bootstrap, single, self.categorical_y)
        with items_plate(batch), answers_plate(batch):
            if self.categorical_y:
                nll = -(target * torch.log_softmax(logits, -1)).sum(-1)
            else:
                nll = F.binary_cross_entropy_with_logits(logits.expand_as(target), target,
                                                         reduction="none").sum(-1)
            pyro.factor("ytilde", -nll)
