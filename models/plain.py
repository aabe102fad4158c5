"""The plain baseline (the paper's MLPN/ResnetN): the classifier trained on ỹ with per-class BCE.

Written as a Pyro model with no latent variables, so it runs through the same SVI loop and its
loss is exactly the negative log-likelihood of the noisy labels. Several answers per item are
several observations of the same prediction.
"""
from __future__ import annotations

import pyro
import pyro.distributions as dist

from pyro_can.nets import input_net


def build(cfg, in_dim: int, num_classes: int) -> dict:
    return {"classifier": input_net(cfg, in_dim, num_classes)}


def model(nets, batch, hp, cfg):
    classifier = nets["classifier"]
    logits = batch.logits(classifier)
    with pyro.plate("annotations", batch.num_annotations, subsample=batch.ann_idx):
        pyro.sample("ytilde", dist.Bernoulli(logits=logits[batch.ann_item]).to_event(1),
                    obs=batch.labels)
