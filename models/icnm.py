"""ICNM baseline (Misra et al., "Seeing through the human reporting bias", CVPR 2016): a visual
presence head v = σ(f(x)) (the classifier we ship) and a second, human-relevance head r(x) that
gives p(ỹ=1 | y=1, x) and p(ỹ=1 | y=0, x), so p(ỹ=1 | x) = r1·v + r0·(1 − v).

Differences from the original: the relevance head is a separate MLP of the classifier's shape on
the same input rather than a branch of a shared convolutional trunk; and the visual-presence head
gets CAN's Eq. 7 warm-up (cross-entropy on ỹ, handed over to the ICNM likelihood by α_t). Without
it the relevance head, as strong as the classifier, explains ỹ alone and leaves v unidentified
(measured: chance-level test accuracy after 12 epochs on digits).
"""
from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from pyro.nn import pyro_method

from pyro_can.batch import answers_plate, items_plate
from pyro_can.noisy_label_model import ModelBase

from .plain import observe_from_classifier


class ICNMModel(ModelBase):
    """The visual-presence head ``classifier`` and the human-relevance head ``relevance``."""

    def __init__(self, method, schedule, num_classes: int, input_net, num_workers: int = 0):
        super().__init__()
        relevance = input_net(2 * num_classes)
        with torch.no_grad():  # start from "humans report what is there": r1 high, r0 low
            bias = relevance.output_layer.bias
            bias[:num_classes] = 3.0
            bias[num_classes:] = -3.0
        self.classifier = input_net(num_classes)
        self.relevance = relevance
        self.categorical_y = method.categorical_y

    def forward(self, batch, hp):
        v = torch.sigmoid(batch.classifier_output(self.classifier))
        r1, r0 = torch.sigmoid(self.relevance(batch.x)).chunk(2, dim=-1)
        probs = (r1 * v + r0 * (1 - v)).clamp(1e-6, 1 - 1e-6)
        with items_plate(batch), answers_plate(batch):
            pyro.sample("ytilde", dist.Bernoulli(probs=probs).to_event(1), obs=batch.answer_labels)

    @pyro_method
    def warmup_model(self, batch, hp):
        """CAN's Eq. 7 warm-up (``CANModel.warmup_model``) for the visual-presence head;
        ``objective.py`` weights it by 1 − α_t."""
        observe_from_classifier(self.classifier, batch, self.categorical_y)
