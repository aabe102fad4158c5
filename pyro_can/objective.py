"""The training objective, written once: for a minibatch at schedule values (α_t, λ, τ),

    loss = w_t·[ −ELBO(model, guide) + λ·R(q) ] + (1 − α_t)·[ −log p_warm-up(ỹ | x) ]      (per item)

* ``ELBO(model, guide)`` is Pyro's ELBO module (``--elbo``) on the method's model and guide, which
  know neither α nor λ;
* the warm-up likelihood (Eq. 7) is the method's ``warmup_model``: the classifier's own likelihood
  of the noisy labels read as clean ones (methods without one, the baselines, train on the ELBO
  alone at weight 1);
* R is the regularizer on q (``--regularizer``, ``regularizers.py``) read from the guide's
  ``posterior`` parameters, in closed form;
* w_t = α_t with ``--warmup-scope all`` (the default: guide and decoder wait for a trained
  classifier), or 1 with ``--warmup-scope classifier``, where α_t instead scales only the
  classifier's share of the prior's gradient (``gradient_share``).

During the pure warm-up (α_t = 0, scope ``all``) only the warm-up term is computed: no latent is
sampled and no ELBO traced. Every term is a per-item mean: the plates scale a minibatch to the
whole data set and ``Program``'s 1/N scale divides by N again, so ``--lr`` means what it means for
a plain net.

Pyro's ELBOs, called on a (model, guide) pair of modules, return an ``ELBOModule`` whose forward
is the differentiable loss; the ``Objective`` module holds it, so its parameters are the networks'
(a torch optimizer, ``DistributedDataParallel`` and the loop need nothing else, and there is no
parameter store for the networks).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import pyro.infer
import torch
from pyro import poutine


class Program(torch.nn.Module):
    """A model or guide function bound to the networks it reads, as a module.

    ``scale`` multiplies every log-density: 1/N turns the plates' full-data sums into per-item
    means, so ``--lr`` means what it means for a plain net."""

    def __init__(self, fn: Callable, nets: torch.nn.ModuleDict, cfg, scale: float = 1.0):
        super().__init__()
        self.fn, self.nets, self.cfg, self.scale = fn, nets, cfg, scale

    def forward(self, batch, hp):
        if self.scale == 1.0:
            return self.fn(self.nets, batch, hp, self.cfg)
        with poutine.scale(scale=self.scale):
            return self.fn(self.nets, batch, hp, self.cfg)


def gradient_share(t: torch.Tensor, share: float) -> torch.Tensor:
    """Same value as ``t``; gradients through it are multiplied by ``share``."""
    return t if share == 1.0 else share * t + (1.0 - share) * t.detach()


class Objective(torch.nn.Module):
    """The loss above as one module. ``elbo``: a Pyro ELBO instance; ``model_mod``/``guide_mod``:
    the method's model and guide modules (``warmup_model`` and ``posterior`` are optional);
    ``regularizer``: a function of ``regularizers.py`` or None; ``n``: training items."""

    def __init__(self, elbo, nets: torch.nn.ModuleDict, cfg, model_mod, guide_mod,
                 regularizer: Callable | None, n: int):
        super().__init__()
        self.cfg, self.nets = cfg, nets
        self.elbo = elbo(Program(model_mod.model, nets, cfg, 1 / n),
                         Program(guide_mod.guide, nets, cfg, 1 / n))
        warmup = getattr(model_mod, "warmup_model", None)
        self.warmup = None if warmup is None else Program(warmup, nets, cfg, 1 / n)
        self.posterior = getattr(guide_mod, "posterior", None)
        self.regularizer = regularizer if self.posterior is not None else None

    def elbo_weight(self, hp) -> float:
        """w_t: α_t for a method with a warm-up under ``--warmup-scope all``, else 1."""
        if self.warmup is None or self.cfg.warmup_scope != "all":
            return 1.0
        return hp.alpha

    def warmup_loss(self, batch, hp) -> torch.Tensor:
        """−log p(ỹ | x) of the warm-up model, per item (it has no latent: one trace is exact)."""
        return -poutine.trace(self.warmup).get_trace(batch, hp).log_prob_sum()

    def regularizer_loss(self, batch) -> torch.Tensor:
        return self.regularizer(self.cfg, batch, *self.posterior(self.nets, batch, self.cfg))

    def forward(self, batch, hp) -> torch.Tensor:
        loss = batch.x.new_zeros((), dtype=torch.float32)
        alpha = hp.alpha if self.warmup is not None else 1.0
        if alpha < 1.0:
            loss = (1.0 - alpha) * self.warmup_loss(batch, hp)
        w = self.elbo_weight(hp)
        if w > 0.0:
            svi_batch = batch
            if self.warmup is not None and self.cfg.warmup_scope != "all" and alpha < 1.0:
                classifier = self.nets["classifier"]
                shared = gradient_share(batch.logits(classifier), alpha)
                svi_batch = dataclasses.replace(batch, _cache={id(classifier): shared})
            svi = self.elbo(svi_batch, hp)
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
