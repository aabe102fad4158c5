"""The training objective, written once: for a minibatch at schedule values (α_t, λ, τ),

    loss = w_t·[ −ELBO(model, guide) + λ·R(q) ] + (1 − α_t)·[ −log p_warm-up(ỹ | x) ]      (per item)

* ``ELBO(model, guide)`` is Pyro's ELBO module (``--elbo``) on the method's model and guide, which
  know neither α nor λ;
* the warm-up likelihood (Eq. 7) is the model's ``warmup_model``: the classifier's own likelihood
  of the noisy labels read as clean ones (methods without one, the baselines, train on the ELBO
  alone at weight 1);
* R is the regularizer on q (``--regularizer``, ``regularizers.py``) read from the guide's
  ``posterior(batch)`` parameters, in closed form;
* w_t = α_t with ``--warmup-scope all`` (the default: guide and decoder wait for a trained
  classifier), or 1 with ``--warmup-scope classifier``, where α_t instead scales only the
  classifier's share of the prior's gradient (``gradient_share``).

During the pure warm-up (α_t = 0, scope ``all``) only the warm-up term is computed: no latent is
sampled and no ELBO traced. Every term is a per-item mean: the plates scale a minibatch to the
whole data set and the objective's 1/N ``poutine.scale`` around the ELBO and the warm-up
divides by N again, so ``--lr`` means what it means for a plain net.

The model and guide are ``PyroModule``s that own their networks (``models/``, ``guides/``; a
network both read, such as the classifier, is one shared submodule). Pyro's ELBOs, called on the
pair, return an ``ELBOModule`` whose forward is the differentiable loss; the ``Objective`` module
holds it, so its parameters are the networks' (a torch optimizer, ``DistributedDataParallel`` and
the loop need nothing else). The PyroModules keep their parameters local, as torch does
(``pyro.settings`` ``module_local_params``, set in ``pyro_can/__init__.py``): the global
parameter store holds only TraceGraph_ELBO's decaying-average baselines.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import pyro.infer
import torch
from pyro import poutine


def gradient_share(t: torch.Tensor, share: float) -> torch.Tensor:
    """Same value as ``t``; gradients through it are multiplied by ``share``."""
    return t if share == 1.0 else share * t + (1.0 - share) * t.detach()


class Objective(torch.nn.Module):
    """The loss above as one module. ``elbo``: a Pyro ELBO instance; ``model``/``guide``: the
    method's PyroModules (``model.warmup_model`` and ``guide.posterior`` are None where the
    method has none: ``noisy_label_model.py``);
    ``regularizer``: R(batch, y_logits, z_loc, z_scale), a function of ``regularizers.py`` bound
    to the method's section, or None; ``n``: training items; ``warmup_scope``: what α_t scales
    (``--warmup-scope``: ``all`` or ``classifier``)."""

    def __init__(self, elbo, model, guide, regularizer: Callable | None, n: int,
                 warmup_scope: str = "all"):
        super().__init__()
        self.model, self.guide = model, guide
        self.elbo = elbo(model, guide)
        self.scale = 1.0 / n
        self.warmup = model.warmup_model  # None: no warm-up (noisy_label_model.py)
        self.posterior = guide.posterior  # None: a guide without latents
        self.regularizer = regularizer if self.posterior is not None else None
        self.warmup_scope = warmup_scope

    def elbo_weight(self, hp) -> float:
        """w_t: α_t for a method with a warm-up under ``--warmup-scope all``, else 1."""
        if self.warmup is None or self.warmup_scope != "all":
            return 1.0
        return hp.alpha

    def warmup_loss(self, batch, hp) -> torch.Tensor:
        """−log p(ỹ | x) of the warm-up model, per item (it has no latent: one trace is exact)."""
        with poutine.scale(scale=self.scale):
            return -poutine.trace(self.warmup).get_trace(batch, hp).log_prob_sum()

    def elbo_loss(self, batch, hp) -> torch.Tensor:
        """−ELBO(model, guide), per item."""
        with poutine.scale(scale=self.scale):
            return self.elbo(batch, hp)

    def regularizer_loss(self, batch) -> torch.Tensor:
        return self.regularizer(batch, *self.posterior(batch))

    def forward(self, batch, hp) -> torch.Tensor:
        loss = batch.x.new_zeros((), dtype=torch.float32)
        alpha = hp.alpha if self.warmup is not None else 1.0
        if alpha < 1.0:
            loss = (1.0 - alpha) * self.warmup_loss(batch, hp)
        w = self.elbo_weight(hp)
        if w > 0.0:
            svi_batch = batch
            if self.warmup is not None and self.warmup_scope != "all" and alpha < 1.0:
                classifier = self.model.classifier
                shared = gradient_share(batch.logits(classifier), alpha)
                svi_batch = dataclasses.replace(batch, _cache={id(classifier): shared})
            svi = self.elbo_loss(svi_batch, hp)
            if hp.lam and self.regularizer is not None:
                svi = svi + hp.lam * self.regularizer_loss(svi_batch)
            loss = loss + w * svi
        return loss


class TraceGraph_ELBO(pyro.infer.TraceGraph_ELBO):
    """Pyro's TraceGraph_ELBO with the ``differentiable_loss`` the other ELBOs have (it only has
    ``loss_and_grads``), so that it too works as an ``ELBOModule``: the value is −ELBO, the
    gradient that of Pyro's TraceGraph surrogate (score-function terms with their baselines,
    and the neural baseline's squared-error loss)."""

    def differentiable_loss(self, model, guide, *args, **kwargs):
        elbo, surrogate = self._loss_and_surrogate_loss(model, guide, args, kwargs)
        return surrogate + (-elbo - surrogate).detach()
