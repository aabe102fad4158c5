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
network both read, such as the classifier, is one shared submodule). They state the discrete
model and know nothing of the estimator: how the ELBO gets y's gradient is set here, from outside
(``estimator_programs``: y relaxed, scored with baselines, or enumerated). Each step computes
the classifier's logits and q's parameters once (``Batch.classifier_logits``,
``Batch.posterior``): the warm-up, the model, the guide and the regularizer read the same ones.
Pyro's ELBOs, called on the pair, return an ``ELBOModule`` whose forward is the differentiable
loss; the ``Objective`` module holds it and the two PyroModules, so its parameters are the
networks' (a torch optimizer, ``DistributedDataParallel`` and the loop need nothing else). The
PyroModules keep their parameters local, as torch does (``pyro.settings`` ``module_local_params``,
set in ``pyro_can/__init__.py``): the global parameter store holds only TraceGraph_ELBO's
decaying-average baselines.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import pyro.infer
import torch
from pyro import poutine

from .nets import ScoreBaseline
from .relaxation import relax


def gradient_share(t: torch.Tensor, share: float) -> torch.Tensor:
    """Same value as ``t``; gradients through it are multiplied by ``share``."""
    return t if share == 1.0 else share * t + (1.0 - share) * t.detach()


def score_baseline(schedule, num_classes: int) -> ScoreBaseline | None:
    """``--elbo tracegraph --baseline nn``: a small network that estimates the downstream cost
    of y's score-function term from q's logits (TraceGraph_ELBO's ``nn_baseline``), or None. The
    guide holds it as ``baseline`` (``registry.model_and_guide`` gives it one; Pyro's guides own
    their baseline networks), so the optimizer steps it and the checkpoint saves it with the
    guide's networks; ``estimator_programs`` hands it to the ELBO."""
    if schedule.elbo == "tracegraph" and schedule.baseline == "nn":
        return ScoreBaseline(num_classes)
    return None


def with_score_baselines(guide):
    """``guide(batch, hp)`` with TraceGraph_ELBO's baselines on y's site: the decaying average,
    and the guide's neural baseline (``guide.baseline``, None without one) read from q's y
    logits."""
    network = guide.baseline

    def guide_with_baselines(batch, hp):
        options = {"use_decaying_avg_baseline": True}
        if network is not None:
            options.update(nn_baseline=network, nn_baseline_input=batch.posterior_of(guide)[0])
        with poutine.infer_config(
                config_fn=lambda site: {"baseline": options} if site["name"] == "y" else {}):
            return guide(batch, hp)
    return guide_with_baselines


def estimator_programs(elbo, model, guide) -> tuple:
    """The model and guide as ``elbo`` runs them. They sample y from its discrete distribution;
    how each of Pyro's ELBOs gets its gradient is applied here:

    * ``TraceEnum_ELBO`` (``--elbo enum``): y summed out, the guide's discrete sites enumerated in
      parallel (``config_enumerate``, as Pyro's ``examples/vae/ss_vae_M2.py`` marks its guide);
    * ``TraceGraph_ELBO`` (``tracegraph``): the score function of the discrete draw, with Pyro's
      baselines set on y's site (``with_score_baselines``, by ``poutine.infer_config``);
    * ``Trace_ELBO``, ``TraceMeanField_ELBO`` (``trace``, ``meanfield``): y relaxed at the step's
      τ in both programs (``relaxation.py``), a reparameterized draw (the paper's estimator)."""
    if isinstance(elbo, pyro.infer.TraceEnum_ELBO):
        return model, pyro.infer.config_enumerate(guide, "parallel")
    if isinstance(elbo, pyro.infer.TraceGraph_ELBO):
        return model, with_score_baselines(guide)
    return relax(model), relax(guide)


class Objective(torch.nn.Module):
    """The loss above as one module. ``elbo``: a Pyro ELBO instance; ``model``/``guide``: the
    method's PyroModules (``model.warmup_model`` and ``guide.posterior`` are None where the
    method has none: ``noisy_label_model.py``);
    ``regularizer``: R(batch, y_logits, z_loc, z_scale), a function of ``regularizers.py`` bound
    to the method's section, or None; ``n``: training items; ``warmup_scope``: what α_t scales
    (``--warmup-scope``: ``all`` or ``classifier``). ``programs``: the model and guide as the
    ELBO runs them (``estimator_programs``; the pair itself for a guide with no latents), for
    whatever else traces them (``diagnostics.elbo_terms``)."""

    def __init__(self, elbo, model, guide, regularizer: Callable | None, n: int,
                 warmup_scope: str = "all"):
        super().__init__()
        self.model, self.guide = model, guide
        self.warmup = model.warmup_model  # None: no warm-up (noisy_label_model.py)
        self.posterior = guide.posterior  # None: a guide without latents
        self.regularizer = regularizer if self.posterior is not None else None
        self.programs = (estimator_programs(elbo, model, guide) if self.posterior is not None
                         else (model, guide))
        self.elbo = elbo(*self.programs)
        self.scale = 1.0 / n
        self.warmup_scope = warmup_scope
        self.guide_reads_classifier = guide.reads_classifier

    def elbo_weight(self, hp) -> float:
        """w_t: α_t for a method with a warm-up under ``--warmup-scope all``, else 1."""
        if self.warmup is None or self.warmup_scope != "all":
            return 1.0
        return hp.alpha

    def with_classifier_logits(self, batch, warmup: bool):
        """``batch`` with the classifier's logits of its items (``Batch.classifier_logits``),
        computed once for the step where more than one program reads them: the warm-up
        likelihood (``warmup``: the step has its term) and the model, or the guide's prior
        judgement (``reads_classifier``) and the model. Otherwise the model computes them in its
        own place in the step, so that the random draws (dropout, the latents) keep their order."""
        if not (warmup and self.warmup is not None) and not self.guide_reads_classifier:
            return batch
        return dataclasses.replace(batch, classifier_logits=self.model.classifier(batch.x))

    def with_posterior(self, batch):
        """``batch`` with q's parameters (``Batch.posterior``), computed once for the step: the
        guide samples from them and the regularizer reads them."""
        if self.posterior is None:
            return batch
        return dataclasses.replace(batch, posterior=self.posterior(batch))

    def step_batch(self, batch):
        """``batch`` with the step's shared values, as an SVI step computes them."""
        return self.with_posterior(self.with_classifier_logits(batch, warmup=False))

    def warmup_loss(self, batch, hp) -> torch.Tensor:
        """−log p(ỹ | x) of the warm-up model, per item (it has no latent: one trace is exact)."""
        with poutine.scale(scale=self.scale):
            return -poutine.trace(self.warmup).get_trace(batch, hp).log_prob_sum()

    def elbo_loss(self, batch, hp) -> torch.Tensor:
        """−ELBO(model, guide), per item."""
        with poutine.scale(scale=self.scale):
            return self.elbo(batch, hp)

    def regularizer_loss(self, batch) -> torch.Tensor:
        return self.regularizer(batch, *batch.posterior_of(self.guide))

    def forward(self, batch, hp) -> torch.Tensor:
        loss = batch.x.new_zeros((), dtype=torch.float32)
        alpha = hp.alpha if self.warmup is not None else 1.0
        batch = self.with_classifier_logits(batch, warmup=alpha < 1.0)
        if alpha < 1.0:
            loss = (1.0 - alpha) * self.warmup_loss(batch, hp)
        w = self.elbo_weight(hp)
        if w > 0.0:
            if self.warmup is not None and self.warmup_scope != "all" and alpha < 1.0:
                shared = gradient_share(batch.classifier_logits, alpha)
                batch = dataclasses.replace(batch, classifier_logits=shared)
            batch = self.with_posterior(batch)
            svi = self.elbo_loss(batch, hp)
            if hp.lam and self.regularizer is not None:
                svi = svi + hp.lam * self.regularizer_loss(batch)
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
