"""The Gumbel-softmax relaxation of the clean label y, applied to a model and a guide from outside.

The model and the guide state the discrete model: y is one class (a one-hot categorical) or
per-class Bernoullis, whatever the estimator. How an ELBO gets y's gradient is the estimator's
concern, not theirs: TraceGraph_ELBO scores the discrete draw, TraceEnum_ELBO sums over its
values, and the reparameterized ELBOs (``--elbo meanfield|trace``, the paper's estimator) need a
continuous draw. For those, ``Relaxation`` swaps the y site's distribution for its relaxation at
temperature τ (``ConcreteCategorical``: Gumbel-softmax samples on the simplex; or
``ConcreteBernoulli``), in the model's prior and in q alike, before the site is sampled or
replayed, so the trace holds the relaxed distribution (its closed-form KL is the discrete one,
``distributions.py``). It is a Pyro effect handler, as ``poutine.reparam`` is, but it changes no
site structure: the site keeps its name, plates and value shape.
"""
from __future__ import annotations

import torch
from pyro.distributions import Bernoulli, Independent, OneHotCategorical
from pyro.poutine.messenger import Messenger

from .distributions import ConcreteBernoulli, ConcreteCategorical


def relaxed(fn, temperature: float):
    """The relaxation of a one-hot categorical, or of independent Bernoullis, at ``temperature``
    (a tensor of the logits' dtype and device, as the distributions expect)."""
    if isinstance(fn, OneHotCategorical):
        tau = torch.as_tensor(temperature, dtype=fn.logits.dtype, device=fn.logits.device)
        return ConcreteCategorical.relaxing(fn, tau)
    if isinstance(fn, Independent) and isinstance(fn.base_dist, Bernoulli):
        logits = fn.base_dist.logits
        tau = torch.as_tensor(temperature, dtype=logits.dtype, device=logits.device)
        return ConcreteBernoulli(tau, logits=logits).to_event(fn.reinterpreted_batch_ndims)
    raise TypeError(f"no relaxation of {type(fn).__name__}: a one-hot categorical or "
                    "independent Bernoullis is relaxed")


class Relaxation(Messenger):
    """Relaxes the latent sample sites ``sites`` (y) at ``temperature``; observed sites and the
    others are left as they are."""

    def __init__(self, temperature: float, sites=("y",)):
        super().__init__()
        self.temperature, self.sites = temperature, frozenset(sites)

    def _pyro_sample(self, msg) -> None:
        if msg["name"] in self.sites and not msg["is_observed"]:
            msg["fn"] = relaxed(msg["fn"], self.temperature)


def relax(program):
    """``program(batch, hp)`` with y relaxed at the step's temperature ``hp.tau``."""
    def relaxed_program(batch, hp):
        with Relaxation(hp.tau):
            return program(batch, hp)
    return relaxed_program
