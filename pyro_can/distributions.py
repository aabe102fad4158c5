"""A relaxed Bernoulli whose KL divergence is the discrete Bernoulli one.

The paper samples the clean label y with a Gumbel-softmax relaxation for the reconstruction term
but computes the KL terms in closed form (its appendix). Relaxed-Bernoulli *densities* are a poor
stand-in for that KL: they reward pushing samples to 0/1 and, in our prototype, drove the
classifier to chance. Registering the closed-form KL on this subclass lets Pyro's
``TraceMeanField_ELBO`` use it, while ``rsample`` stays the relaxed, reparameterized one.
"""
from __future__ import annotations

from pyro.distributions import Bernoulli, RelaxedBernoulli
from pyro.distributions.kl import kl_divergence, register_kl


class ConcreteBernoulli(RelaxedBernoulli):
    """RelaxedBernoulli(temperature, logits) with ``kl_divergence`` to another one defined as
    KL(Bernoulli(q) ‖ Bernoulli(p)) of the underlying probabilities."""

    def as_bernoulli(self) -> Bernoulli:
        return Bernoulli(logits=self.logits)

    def entropy(self):
        return self.as_bernoulli().entropy()


@register_kl(ConcreteBernoulli, ConcreteBernoulli)
def _kl_concrete_concrete(q, p):
    return kl_divergence(q.as_bernoulli(), p.as_bernoulli())
