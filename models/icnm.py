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

from pyro_can.batch import answers_plate, items_plate
from pyro_can.models.can import warmup_model  # noqa: F401  (objective.py weights it by 1 − α_t)
from pyro_can.nets import input_net


def build(cfg, in_dim: int, num_classes: int) -> dict:
    relevance = input_net(cfg, in_dim, 2 * num_classes)
    with torch.no_grad():  # start from "humans report what is there": r1 high, r0 low
        bias = relevance.output_layer.bias
        bias[:num_classes] = 3.0
        bias[num_classes:] = -3.0
    return {"classifier": input_net(cfg, in_dim, num_classes), "relevance": relevance}


def model(nets, batch, hp, cfg):
    classifier = nets["classifier"]
    relevance = nets["relevance"]
    logits = batch.logits(classifier)
    v = torch.sigmoid(logits)
    r1, r0 = torch.sigmoid(relevance(batch.x)).chunk(2, dim=-1)
    probs = (r1 * v + r0 * (1 - v)).clamp(1e-6, 1 - 1e-6)
    with items_plate(batch), answers_plate(batch):
        pyro.sample("ytilde", dist.Bernoulli(probs=probs).to_event(1), obs=batch.answer_labels)
