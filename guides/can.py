"""CAN's encoder (Yao et al., Sec. III-B): prior judgement p = sigmoid f_φ(x), the additive layer
for q(y | x, ỹ) and the contrastive layer for one q(z | x, ỹ_r) per annotation."""
from __future__ import annotations

import torch

from pyro_can.anchors import evidence_weights
from pyro_can.distributions import class_probs
from pyro_can.nets import AdditiveLayer, ContrastiveLayer

from .latents import LatentGuide


class CANGuide(LatentGuide):
    """q(y | x, ỹ) by the ``additive`` layer, q(z | x, ỹ_r) by the ``contrastive`` layer (with
    ``--quality-dim`` > 0), both reading the prior judgement ``prior_judgement``: the model's
    classifier with its gradient stopped (``--prior-judgement shared``, the default: one forward
    per step), or a network of the guide's own (``separate``).

    The stop holds whatever the prior (``--prior uniform`` changes the model's prior and nothing
    else): the classifier learns from the KL term to q, never from the guide's side of it."""

    contrastive_layer = True  # the additive ablation (guides/additive.py) has none

    def __init__(self, method, schedule, num_classes: int, input_net, model):
        super().__init__(method, model)
        self.additive = AdditiveLayer(num_classes, label_init=method.label_init,
                                      categorical=method.categorical_y,
                                      prior_init=method.prior_init,
                                      transition=method.noise_init == "transition")
        self.contrastive = (ContrastiveLayer(num_classes, method.quality_dim)
                            if self.contrastive_layer and method.quality_dim > 0 else None)
        self.shared_judgement = method.prior_judgement == "shared"
        self.prior_judgement = (model.classifier if self.shared_judgement
                                else input_net(num_classes))

    @property
    def reads_classifier(self) -> bool:
        return self.shared_judgement

    def prior_logits(self, batch) -> torch.Tensor:
        """Logits of the prior judgement p = sigmoid f_φ(x): the step's classifier logits
        (``Batch.classifier_output``), their gradient stopped, or the guide's own network's."""
        if self.shared_judgement:
            return batch.classifier_output(self.prior_judgement).detach()
        return self.prior_judgement(batch.x)

    def posterior(self, batch):
        """q's parameters: y's logits per item, z's loc and scale per annotation (None without
        z)."""
        p_logits = self.prior_logits(batch)
        y_logits = self.additive(p_logits, batch.labels, batch.ann_item,
                                 self.answer_trust(batch, p_logits.device))
        loc = scale = None
        if self.contrastive is not None:
            loc, scale = self.contrastive(class_probs(p_logits, self.categorical_y)[batch.ann_item],
                                          batch.labels)
        return y_logits, loc, scale

    @torch.no_grad()
    def handover(self, estimate) -> None:
        """Eq. 7's hand-over (after ``CANModel.handover``): weigh each answer's evidence in q by
        what the model estimated from the warm classifier (``anchors.NoiseEstimate``): the
        per-class reliability, or, with ``--noise-init transition``, log T[y, ỹ] per answer."""
        ref = self.additive.label_weight  # new_tensor: its dtype and device
        if estimate.transition is not None:
            self.additive.set_transition(torch.log(ref.new_tensor(estimate.transition)))
            return
        self.additive.set_label_evidence(ref.new_tensor(
            evidence_weights(estimate.hit, estimate.false_alarm, self.categorical_y)))

    def hold_noise_model(self) -> None:
        """``--hold-noise``: keep the weights q gives each answer and the classifier's judgement
        at their hand-over values (``CANModel.hold_noise_model``); q's MLP still learns."""
        self.additive.label_weight.requires_grad_(False)
        self.additive.prior_weight.requires_grad_(False)
        if self.additive.answer_evidence is not None:
            self.additive.answer_evidence.requires_grad_(False)
