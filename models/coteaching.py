"""Co-teaching (Han et al., "Co-teaching: Robust Training of Deep Neural Networks with Extremely
Noisy Labels", NeurIPS 2018): two networks of the same shape, started from different weights,
each picking the (1 − R(t)) share of a minibatch's answers with the smallest loss under itself;
each network is then trained on the answers its peer picked. Small-loss answers are likely
clean, and the two nets filter different errors, so neither confirms its own mistakes.

The forget rate follows the authors' schedule: R rises linearly from 0 at the first epoch to τ
at epoch T_k (``--forget-rate``, ``--forget-epochs``; their code: ``linspace(0, τ, T_k)`` over
epochs 0..T_k − 1, then τ). Their default τ is the known noise rate, which a user does not have:
here it is an option (0.2 by default) and searched by ``pyro-can tune``. The loss of each net is
the mean cross-entropy over the answers kept, as in their code.

The Trainer sets the epoch's forget rate through ``start_epoch`` (called before each epoch), so
a resumed run picks up the schedule where it stopped. The shipped classifier is the first
network (``classifier``; the second is ``peer``): the authors report each net on its own.
A Pyro model with no latent variables: the two nets' losses enter through ``pyro.factor`` scaled
to the data set. Single-label data only.
"""
from __future__ import annotations

import pyro
import torch

from pyro_can.noisy_label_model import ModelBase

from .softmax_labels import answer_log_prob, require_softmax

SEARCH_SPACE = {"forget_rate": (0.0, 0.8), "forget_epochs": (1, 30)}


def forget_rate(epoch: int, rate: float, ramp_epochs: int) -> float:
    """R(epoch): τ·epoch/(T_k − 1) for epoch < T_k (from 0, reaching τ at epoch T_k − 1), then τ."""
    if ramp_epochs <= 1 or epoch >= ramp_epochs - 1:
        return rate
    return rate * epoch / (ramp_epochs - 1)


def small_loss(losses: torch.Tensor, rate: float) -> torch.Tensor:
    """Indices of the ⌊(1 − rate)·n⌋ smallest ``losses`` (at least one)."""
    keep = max(1, int((1.0 - rate) * len(losses)))
    return torch.argsort(losses.detach(), stable=True)[:keep]


def coteaching_loss(loss_a: torch.Tensor, loss_b: torch.Tensor, rate: float) -> torch.Tensor:
    """Each net's mean loss over the answers its peer picked, summed over the two nets."""
    picked_by_a, picked_by_b = small_loss(loss_a, rate), small_loss(loss_b, rate)
    return loss_a[picked_by_b].mean() + loss_b[picked_by_a].mean()


class CoTeachingModel(ModelBase):
    """The two networks, ``classifier`` (shipped) and ``peer``, and the epoch's forget rate."""

    def __init__(self, method, schedule, num_classes: int, input_net, num_workers: int = 0):
        super().__init__()
        require_softmax(method)
        self.classifier = input_net(num_classes)
        self.peer = input_net(num_classes)
        self.max_rate = method.coteaching.forget_rate
        self.ramp_epochs = method.coteaching.forget_epochs
        self.rate = forget_rate(0, self.max_rate, self.ramp_epochs)

    def start_epoch(self, epoch: int, train_set) -> None:
        self.rate = forget_rate(epoch, self.max_rate, self.ramp_epochs)

    def forward(self, batch, hp):
        item = batch.ann_item  # every answer of the batch, flat
        ce = [-answer_log_prob(net(batch.x)[item], batch.labels)
              for net in (self.classifier, self.peer)]
        # a mean over answers; × the data set's answers gives the per-item scale of the others
        pyro.factor("coteaching", -batch.num_annotations * coteaching_loss(*ce, self.rate))
