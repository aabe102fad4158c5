"""CAN's generative model (Yao et al., Sec. III-A).

    y_i  ~ Bernoulli(sigmoid f_θ(x_i))          per class (``--latent categorical``:
           y_i ~ Categorical(softmax f_θ(x_i)), one class per item; the default for single-label
           data). The model states the discrete y; the reparameterized estimators relax it at
           temperature τ from outside (``pyro_can/objective.py``, ``pyro_can/relaxation.py``)
    z_ir ~ Normal(0, I_K)                        one quality vector per annotation r of item i
    ỹ_ir ~ Bernoulli(decoder(y_i, z_ir))         observed

Eq. 7's warm-up is ``CANModel.warmup_model``: the classifier's likelihood of ỹ read as y. The
objective (``pyro_can/objective.py``) weights the two by α_t; neither program knows α.
"""
from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from pyro.nn import pyro_method

from pyro_can.anchors import NoiseEstimate, estimate_noise, evidence_weights
from pyro_can.batch import answers_plate, items_plate
from pyro_can.distributions import label_dist
from pyro_can.nets import Decoder
from pyro_can.noisy_label_model import ModelBase
from pyro_can.worker_quality import worker_slots

from .plain import observe_from_classifier


class CANModel(ModelBase):
    """The generative model with its networks: ``classifier`` f_θ (the prior p(y | x), the network
    CAN ships) and ``decoder`` p(ỹ | y, z). With ``--quality-prior worker`` it has the per-worker
    priors on ``num_workers`` workers (``pyro_can/worker_quality.py``; their variational
    parameters are the guide's)."""

    def __init__(self, method, schedule, num_classes: int, input_net, num_workers: int = 0):
        super().__init__()
        self.classifier = input_net(num_classes)
        self.transition_init = method.noise_init == "transition"
        self.decoder = Decoder(num_classes, method.quality_dim, kind=method.decoder,
                               copy_init=method.copy_init, transition=self.transition_init)
        self.worker_quality, self.num_workers = method.worker_quality, num_workers
        self.uniform_prior = method.prior == "uniform"
        self.quality_dim, self.kl_z_weight = method.quality_dim, method.kl_z_weight
        self.categorical_y = method.categorical_y
        self.categorical_ytilde = method.categorical_ytilde

    def forward(self, batch, hp):
        """The generative model alone: no α, no λ (``pyro_can/objective.py`` weights it). The
        answers plate sits inside the items plate, so with a discrete y TraceGraph_ELBO's score
        terms for y_i see item i's answers alone (Rao-Blackwellized) and TraceEnum_ELBO sums y_i
        out per item."""
        logits = batch.classifier_output(self.classifier)
        prior_logits = torch.zeros_like(logits) if self.uniform_prior else logits
        k = self.quality_dim
        z_prior = offset = None
        if self.worker_quality:
            z_prior, offset = self.worker_quality_prior(batch, logits)
        with items_plate(batch):
            y = pyro.sample("y", label_dist(prior_logits, self.categorical_y))
            with answers_plate(batch):
                z = None
                if k > 0:
                    with poutine.scale(scale=self.kl_z_weight):
                        loc = logits.new_zeros(k) if z_prior is None else z_prior
                        z = pyro.sample("z", dist.Normal(loc, 1.0).to_event(1))
                out = self.decoder(y, z)
                if offset is not None:  # the worker's own strength of the identity path
                    out = out + offset * (2.0 * y - 1.0)
                pyro.sample("ytilde", label_dist(out, self.categorical_ytilde),
                            obs=batch.answer_labels)

    def worker_quality_prior(self, batch, logits):
        """``--quality-prior worker``: μ_w ~ N(0, I) and d_w ~ N(0, 1) per worker; returns each
        answer's prior mean μ_{w(r)} and the identity path's strength d_{w(r)}, as answers × items
        tables (K and 1 wide; ``pyro_can/worker_quality.py``)."""
        k = self.quality_dim
        with pyro.plate("workers", self.num_workers + 1):
            mu = pyro.sample("worker_quality", dist.Normal(logits.new_zeros(k), 1.0).to_event(1))
            d = pyro.sample("worker_strength", dist.Normal(logits.new_zeros(()), 1.0))
        w = worker_slots(batch.ann_worker, len(batch.ann_idx), self.num_workers, logits.device)
        return batch.to_table(mu[w]), batch.to_table(d[w, None])

    @pyro_method
    def warmup_model(self, batch, hp):
        """Eq. 7's warm-up likelihood: each noisy label observed straight from the classifier, as
        if ỹ were y (the plain net's model, with the classifier's own output type: softmax for a
        categorical y, per-class sigmoid otherwise). ``objective.py`` weights it by 1 − α_t."""
        observe_from_classifier(self.classifier, batch, self.categorical_y)

    @torch.no_grad()
    def handover(self, scores, data) -> NoiseEstimate:
        """Eq. 7's hand-over from ỹ to q (the Trainer calls it once): estimate how the answers
        relate to the clean label from the warm classifier's anchors (``pyro_can/anchors.py``)
        and start the decoder there (``start_noise_model``). Returns the estimate, for the
        guide's own hand-over and the run's record."""
        estimate = estimate_noise(scores, data.ann_item, data.ann_labels, data.single_label,
                                  self.transition_init)
        self.start_noise_model(estimate)
        return estimate

    @torch.no_grad()
    def start_noise_model(self, estimate: NoiseEstimate) -> None:
        """Start p(ỹ | y, z) at ``estimate``: ``--noise-init anchor`` sets the decoder's identity
        path to the per-class reliability, ``transition`` the whole decoder to the
        class-to-answer matrix T (``bench/oracle_noise.py`` hands it the true T here)."""
        ref = self.decoder.copy_weight  # new_tensor: its dtype and device
        if estimate.transition is not None:
            self.decoder.set_transition(torch.log(ref.new_tensor(estimate.transition)))
            return
        hit, false_alarm, categorical = estimate.hit, estimate.false_alarm, self.categorical_ytilde
        if categorical:  # no class favoured a priori
            bias = torch.zeros_like(ref)
        else:  # the base rate: halfway between the two rates' log-odds
            bias = 0.5 * (torch.logit(ref.new_tensor(hit))
                          + torch.logit(ref.new_tensor(false_alarm)))
        self.decoder.set_reliability(
            ref.new_tensor(evidence_weights(hit, false_alarm, categorical)), bias)

    @torch.no_grad()
    def answer_matrix(self) -> torch.Tensor | None:
        """(C, C) p(ỹ = k | y = c) at the prior's mean quality z = 0 (and no worker offset), the
        noise model that turns the classifier into a prediction of the answers: the model's own
        with ``--noise-init transition --hold-noise`` (its decoder then ignores z), a plug-in
        approximation of its average over z otherwise. None for per-class Bernoulli answers,
        which are not one class each (the answer scores are then not computed)."""
        if not self.categorical_ytilde:
            return None
        ref = self.decoder.copy_weight
        eye = torch.eye(len(ref), dtype=ref.dtype, device=ref.device)
        z = eye.new_zeros(len(ref), self.quality_dim) if self.quality_dim > 0 else None
        return torch.softmax(self.decoder(eye, z), -1)

    def hold_noise_model(self) -> None:
        """``--hold-noise``: keep p(ỹ | y, z) as the hand-over set it. Left to train, the decoder
        can drift back to trusting every label (on CIFAR-10N's ``worst`` its label weight rose
        from ~1.4 to 2.4 and q came to agree with 97.5% of the labels, 40% of them wrong).

        With ``--quality-prior worker`` the per-worker posteriors (the guide's ``workers``) keep
        learning: each worker's quality is a departure from the held crowd model, shrunk to it by
        its prior."""
        self.decoder.requires_grad_(False)
