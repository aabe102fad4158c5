"""The clean label's and the answers' distributions, and the relaxations of y with the discrete KL.

y is one class (one-hot categorical) or per-class Bernoullis; the model and the guide sample it
from that discrete distribution (``label_dist``), and the reparameterized estimators relax it
(``relaxation.py``). The paper samples y with a Gumbel-softmax relaxation for the reconstruction
term but computes the KL terms in closed form (its appendix). Relaxed-Bernoulli *densities* are a
poor stand-in for that KL: they reward pushing samples to 0/1 and, in our prototype, drove the
classifier to chance. Registering the closed-form KL on the relaxed subclasses here lets Pyro's
``TraceMeanField_ELBO`` use it, while ``rsample`` stays the relaxed, reparameterized one.
"""
from __future__ import annotations

import torch
from pyro.distributions import (Bernoulli, Categorical, OneHotCategorical, RelaxedBernoulli,
                                RelaxedOneHotCategorical)
from pyro.distributions.kl import register_kl
from torch.nn import functional as F


class ConcreteBernoulli(RelaxedBernoulli):
    """RelaxedBernoulli(temperature, logits) with ``kl_divergence`` to another one defined as
    KL(Bernoulli(q) ‖ Bernoulli(p)) of the underlying probabilities."""

    def as_bernoulli(self) -> Bernoulli:
        return Bernoulli(logits=self.logits)

    def entropy(self):
        return self.as_bernoulli().entropy()

    def log_prob(self, value):
        """The relaxed density, finite for any logits (``relaxed_bernoulli_log_prob``)."""
        return relaxed_bernoulli_log_prob(self.logits, self.temperature, value)


def relaxed_bernoulli_log_prob(logits, temperature, value):
    """log density of RelaxedBernoulli(temperature, logits) at ``value`` in (0, 1), written with
    softplus. torch's ``LogitRelaxedBernoulli.log_prob`` computes ``2·log1p(exp(d))``, which is
    inf once d = logits − τ·logit(value) passes ~88 in float32: a confident q (|logits| ~ 100)
    whose sample rounds to 1.0 then has density −inf, and one −inf loss turns every weight NaN.
    The value is clamped into the open interval as torch's sigmoid transform clamps it."""
    finfo = torch.finfo(value.dtype)
    v = value.clamp(min=finfo.tiny, max=1.0 - finfo.eps)
    x = torch.log(v) - torch.log1p(-v)  # logit(value)
    d = logits - x * temperature
    # base density in logit space, minus log |d sigmoid(x) / dx| = −softplus(x) − softplus(−x)
    return (torch.log(temperature) + d - 2.0 * F.softplus(d)
            + F.softplus(x) + F.softplus(-x))


def bernoulli_kl_from_logits(q_logits, p_logits):
    """KL(Bernoulli(σ q) ‖ Bernoulli(σ p)) computed from logits with softplus, finite for any
    logits (torch's probability-space formula gives inf once σ(p) rounds to 1, near logit 17)."""
    q = q_logits.sigmoid()
    return (q * (F.softplus(-p_logits) - F.softplus(-q_logits))
            + (1 - q) * (F.softplus(p_logits) - F.softplus(q_logits)))


@register_kl(ConcreteBernoulli, ConcreteBernoulli)
def _kl_concrete_concrete(q, p):
    return bernoulli_kl_from_logits(q.logits, p.logits)


class ConcreteCategorical(RelaxedOneHotCategorical):
    """RelaxedOneHotCategorical(temperature, logits) (Gumbel-softmax samples on the simplex) whose
    ``kl_divergence`` to another one and ``entropy`` are those of the underlying categorical: the
    clean label of a single-label item is one class, and the posterior over it sums to one."""

    @classmethod
    def relaxing(cls, categorical: OneHotCategorical, temperature) -> "ConcreteCategorical":
        """The relaxation of ``categorical`` at ``temperature``, on the categorical's own
        normalized logits (built anew from them, torch would normalize them a second time, which
        moves some by an ulp)."""
        relaxed = cls(temperature, logits=categorical.logits)
        relaxed.base_dist._categorical = categorical._categorical
        return relaxed

    def as_categorical(self) -> Categorical:
        return Categorical(logits=self.logits)

    def entropy(self):
        return self.as_categorical().entropy()


def categorical_kl_from_logits(q_logits, p_logits):
    """KL(Categorical(softmax q) ‖ Categorical(softmax p)) over the last dimension."""
    log_q = torch.log_softmax(q_logits, -1)
    return (log_q.exp() * (log_q - torch.log_softmax(p_logits, -1))).sum(-1)


@register_kl(ConcreteCategorical, ConcreteCategorical)
def _kl_concrete_categorical(q, p):
    return categorical_kl_from_logits(q.logits, p.logits)


def class_probs(logits: torch.Tensor, categorical: bool) -> torch.Tensor:
    """Per-class probabilities of the clean label from logits: softmax for a categorical y,
    per-class sigmoid otherwise."""
    return torch.softmax(logits, -1) if categorical else torch.sigmoid(logits)


def label_dist(logits: torch.Tensor, categorical: bool):
    """A label's distribution from logits: one class (a one-hot categorical: ``--latent
    categorical`` for y, ``--ytilde-likelihood categorical`` for the answers) or per-class
    Bernoullis. The clean label y has it in the model's prior and in q, whatever the estimator
    (``relaxation.py`` relaxes it for ``--elbo meanfield|trace``); its closed-form entropy is what
    the regularizers read. The warm-up reads ỹ with the classifier's own output type
    (``categorical`` = a categorical y)."""
    if categorical:
        return OneHotCategorical(logits=logits)
    return Bernoulli(logits=logits).to_event(1)
