"""The SVI objective as one ``torch.nn.Module``: Pyro's ``ELBO(model, guide)`` module.

Pyro's ELBOs, called on a (model, guide) pair of modules, return an ``ELBOModule`` whose forward
is the differentiable loss and whose parameters are the networks'. That is what a torch optimizer,
``DistributedDataParallel`` and the training loop need, with no parameter store: the networks are
read by the model and guide directly (no ``pyro.module`` registration on every step).
"""
from __future__ import annotations

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


class TraceGraph_ELBO(pyro.infer.TraceGraph_ELBO):
    """Pyro's TraceGraph_ELBO with the ``differentiable_loss`` the other ELBOs have (it only has
    ``loss_and_grads``), so that it too works as an ``ELBOModule``: the value is −ELBO, the
    gradient that of Pyro's TraceGraph surrogate (score-function terms with their baselines)."""

    def differentiable_loss(self, model, guide, *args, **kwargs):
        elbo, surrogate = self._loss_and_surrogate_loss(model, guide, args, kwargs)
        return surrogate + (-elbo - surrogate).detach()
