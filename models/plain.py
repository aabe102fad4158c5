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
from pyro_can.nets import input_net


def build(cfg, in_dim: int, num_classes: int) -> dict:
    return {"classifier": input_net(cfg, in_dim, num_classes)}


def model(nets, batch, hp, cfg):
    classifier = nets["classifier"]
    logits = batch.logits(classifier)
    with items_plate(batch), answers_plate(batch):
        pyro.sample("ytilde", label_dist(cfg, logits), obs=batch.answer_labels)
