"""Crowd Layer baseline (Rodrigues & Pereira, "Deep Learning from Crowds", AAAI 2018), its MW
variant: every worker w has a C×C matrix W_w that maps the classifier's class probabilities to
the logits of that worker's answer,

    ỹ_ir ~ Categorical(logits = W_{w(r)} · softmax f_θ(x_i))           one per answer r of item i

with W_w starting at the identity (every worker first trusted as the classifier itself). The
classifier and the matrices train end to end on the answers' likelihood, and the classifier alone
predicts. For multi-label data the same layer maps per-class sigmoid probabilities to per-class
Bernoulli logits.

Written as a Pyro model with no latent variables (the empty guide), like the plain net: the
answers are observed in the answers plate nested in the items plate, so a minibatch's likelihood
is scaled to the data set as every other method's is: the loss is the sum over each item's
answers, averaged over items. ``--crowd-layer-mean`` makes it the mean over the minibatch's
answers instead (the crowd-learning papers' cross-entropy with its ``mean`` reduction): the same
gradient direction, the step of each minibatch divided by its answers per item. It needs each answer's worker
(``Batch.ann_worker``): answers pooled by ``--crowd majority|dawid-skene|glad`` have none, nor
does single-annotator data.
"""
from __future__ import annotations

import pyro
import torch
from pyro import poutine
from torch import nn

from pyro_can.batch import answers_plate, items_plate
from pyro_can.distributions import class_probs, label_dist
from pyro_can.noisy_label_model import ModelBase


class CrowdLayer(nn.Module):
    """One C×C matrix per worker, initialised at the identity; ``forward(probs, worker)`` gives
    each answer's logits W_w · p (``probs``: class probabilities of the answer's item, (B, C)
    broadcast against ``worker``'s answers × items table (A, B), or one row per answer)."""

    def __init__(self, num_workers: int, num_classes: int):
        super().__init__()
        self.weight = nn.Parameter(torch.eye(num_classes).repeat(num_workers, 1, 1))

    def forward(self, probs: torch.Tensor, worker: torch.Tensor) -> torch.Tensor:
        return torch.einsum("...rij,...rj->...ri", self.weight[worker], probs)


class CrowdLayerModel(ModelBase):
    """The classifier and the per-worker matrices (``num_workers`` of them)."""

    def __init__(self, method, schedule, num_classes: int, input_net, num_workers: int = 1):
        super().__init__()
        self.classifier = input_net(num_classes)
        self.crowd_layer = CrowdLayer(num_workers, num_classes)
        self.categorical_y = method.categorical_y
        self.mean_over_answers = method.crowd_layer_mean

    def answer_matrix(self) -> None:
        """No one p(ỹ | y): every worker has its own matrix (and the matrices act on
        probabilities, not on a class), so the noisy-label answer scores are not computed."""
        return None

    def forward(self, batch, hp):
        probs = class_probs(batch.classifier_output(self.classifier), self.categorical_y)  # (B, C)
        worker = batch.to_table(batch.ann_worker, 0)  # padding: any worker, masked out
        # --crowd-layer-mean: per item (the objective's scale) times items per answer
        scale = len(batch.item_idx) / batch.total_weight if self.mean_over_answers else 1.0
        with items_plate(batch), answers_plate(batch), poutine.scale(scale=scale):
            logits = self.crowd_layer(probs, worker)
            pyro.sample("ytilde", label_dist(logits, self.categorical_y), obs=batch.answer_labels)
