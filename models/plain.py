"""The plain baseline (the paper's MLPN/ResnetN): the classifier trained on ỹ with per-class BCE,
or with softmax cross-entropy when the classifier is a softmax one (``--latent categorical``).

Written as a Pyro model with no latent variables, so it runs through the same SVI loop and its
loss is exactly the negative log-likelihood of the noisy labels. Several answers per item are
several observations of the same prediction.
"""
from __future__ import annotations

import pyro

from pyro_can.batch import answers_plate, items_plate
from pyro_can.distributions import label_dist
from pyro_can.noisy_label_model import ModelBase


def observe_from_classifier(classifier, batch, categorical: bool) -> None:
    """Each noisy label observed straight from the classifier's logits (one categorical, or
    per-class Bernoullis): the plain net's likelihood, and Eq. 7's warm-up likelihood of the
    models that have one (``CANModel.warmup_model``)."""
    logits = batch.classifier_output(classifier)
    with items_plate(batch), answers_plate(batch):
        pyro.sample("ytilde", label_dist(logits, categorical), obs=batch.answer_labels)


class PlainModel(ModelBase):
    """ỹ observed straight from the classifier's output."""

    def __init__(self, method, schedule, num_classes: int, input_net, num_workers: int = 0):
        super().__init__()
        self.classifier = input_net(num_classes)
        self.categorical_ytilde = method.categorical_ytilde

    def forward(self, batch, hp):
        observe_from_classifier(self.classifier, batch, self.categorical_ytilde)
