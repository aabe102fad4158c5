"""LearnQ baseline (Sukhbaatar et al., "Training convolutional networks with noisy labels", ICLR
workshop 2015): a linear noise-adaptation layer Q on top of the classifier,
p(ỹ_j | x) = Σ_i p(y_i | x) Q_ij, with Q row-stochastic and a trace penalty that pushes the noise
into Q rather than into the classifier.

With a softmax classifier (``--latent categorical``, single-label data) this is the original:
p(ỹ | x) = softmax(f(x)) Q, one categorical per answer. Otherwise the classifier has per-class
sigmoid outputs (multi-label is first class here), so the noisy-label probability is σ(f(x)) Q
clamped to (0, 1) and observed per class. Q is parameterized by a row-wise softmax
(row-stochastic by construction) instead of projected.
"""
from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from pyro_can.batch import answers_plate, items_plate
from pyro_can.noisy_label_model import ModelBase


class NoiseAdaptation(nn.Module):
    def __init__(self, num_classes: int, diagonal: float = 4.0):
        super().__init__()
        self.weight = nn.Parameter(diagonal * torch.eye(num_classes))  # starts near identity

    def matrix(self) -> torch.Tensor:
        return torch.softmax(self.weight, dim=1)


class LearnQModel(ModelBase):
    """The classifier and the noise-adaptation layer Q, with its trace penalty
    (``--learnq-trace``)."""

    def __init__(self, method, schedule, num_classes: int, input_net, num_workers: int = 0):
        super().__init__()
        self.classifier = input_net(num_classes)
        self.noise_adaptation = NoiseAdaptation(num_classes)
        self.categorical_y = method.categorical_y
        self.trace_weight = method.learnq.learnq_trace

    @torch.no_grad()
    def answer_matrix(self) -> torch.Tensor | None:
        """Q, p(ỹ = k | y = c), for a softmax classifier (None for per-class sigmoids, whose
        σ(f) Q is not one class per answer)."""
        return self.noise_adaptation.matrix() if self.categorical_y else None

    def forward(self, batch, hp):
        q = self.noise_adaptation.matrix()
        logits = batch.classifier_output(self.classifier)
        with items_plate(batch), answers_plate(batch):
            if self.categorical_y:
                noisy = dist.OneHotCategorical(probs=torch.softmax(logits, -1) @ q)
            else:
                probs = (torch.sigmoid(logits) @ q).clamp(1e-6, 1 - 1e-6)
                noisy = dist.Bernoulli(probs=probs).to_event(1)
            pyro.sample("ytilde", noisy, obs=batch.answer_labels)
        # trace penalty, once per item of the data set (the plates scale the likelihood the same
        # way)
        pyro.factor("trace_penalty", -self.trace_weight * batch.num_items * torch.trace(q))
