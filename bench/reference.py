"""CAN's training loss written directly in PyTorch, with no Pyro in the step.

It reuses the Trainer's ``nn.Module``s (classifier, decoder, additive and contrastive layers) and
computes the scalar that ``TraceMeanField_ELBO`` (``elbo=meanfield``) minimizes for
``models/can.py`` + ``guides/can.py`` with the default config (``prior=classifier``,
``prior_judgement=shared``, ``warmup_scope=classifier``)::

    loss = 1/N · [ N/B · Σ_items  KL(Bern(q_y) ‖ Bern(p_θ))                      (w·)
                 + N/B · Σ_ann    kl_z_weight · KL(N(μ,σ) ‖ N(0,I))            (w·)
                 − N/B · Σ_ann    log Bern(ỹ | decoder(y, z))                  (w·)
                 + N/B · Σ_items  λ·H(q_y)   +   N/B · Σ_ann λ·kl_z_weight·H(q_z)  (w·)
                 + N/B · Σ_ann    (1−α)·CE(f_θ(x), ỹ) ]                         (only when α<1)

with w = α_t under ``warmup_scope=all`` (the default), else 1 (``pyro_can/objective.py``). The
answers sit in a plate nested in the items plate (``pyro_can/batch.py``), so every term has the
items plate's N/B, then the trainer's ``poutine.scale(1/N)``. y and z are drawn with the same
``torch.distributions`` ``rsample`` calls, in the same order (guide: y, then z, the latter over the
padded answers × items table), as the Pyro guide, so after the same seed the two losses agree to
float rounding.

``kl="mc"`` gives the objective of ``Trace_ELBO`` instead (the KL terms are replaced by log q − log p
at the sample, using the relaxed-Bernoulli density for y). (``--elbo tracegraph`` samples a discrete
y with a score-function gradient, which this file does not write.)
"""
from __future__ import annotations

# the model this file writes by hand: per-class y, with the MI term (the library's defaults are a
# categorical y for single-label data and λ = 0); the bench and its test build their Trainer with it
CONFIG = {"latent": "bernoulli", "lam": 0.3, "elbo": "meanfield"}

import math

import torch
from torch import distributions as td
from torch.nn import functional as F

from pyro_can.distributions import relaxed_bernoulli_log_prob

_HALF_LOG_2PI_E = 0.5 + 0.5 * math.log(2 * math.pi)


def _check_supported(cfg) -> None:
    unsupported = {
        "method": ("can", cfg.method), "guide": ("can", cfg.guide),
        "prior": ("classifier", cfg.prior), "prior_judgement": ("shared", cfg.prior_judgement),
    }
    bad = {k: v for k, (want, v) in unsupported.items() if v != want}
    if bad:
        raise NotImplementedError(f"reference loss covers the default CAN config only, got {bad}")
    if cfg.quality_dim <= 0:
        raise NotImplementedError("reference loss needs quality_dim > 0")


def _gradient_share(t: torch.Tensor, share: float) -> torch.Tensor:
    return t if share == 1.0 else share * t + (1.0 - share) * t.detach()


def _bernoulli_entropy(logits: torch.Tensor) -> torch.Tensor:
    # = torch Bernoulli(logits).entropy()
    return F.binary_cross_entropy_with_logits(logits, torch.sigmoid(logits), reduction="none")


def _bernoulli_kl(q_logits: torch.Tensor, p_logits: torch.Tensor) -> torch.Tensor:
    """KL(Bern(q) ‖ Bern(p)) from logits; same formula as torch's _kl_bernoulli_bernoulli."""
    q = torch.sigmoid(q_logits)
    t1 = q * (F.softplus(-p_logits) - F.softplus(-q_logits))
    t1 = torch.where(q == 0, torch.zeros_like(t1), t1)
    t2 = (1 - q) * (F.softplus(p_logits) - F.softplus(q_logits))
    t2 = torch.where(q == 1, torch.zeros_like(t2), t2)
    return t1 + t2


def reference_loss(model, guide, batch, hp, cfg, kl: str = "closed") -> torch.Tensor:
    """The differentiable scalar the Pyro step minimizes (see the module docstring), on the
    networks of the Trainer's ``model`` and ``guide`` modules."""
    _check_supported(cfg)
    n_items, b = batch.num_items, len(batch.item_idx)
    w = hp.alpha if cfg.warmup_scope == "all" else 1.0
    s_items = (n_items / b) / n_items * w  # plate "items" scale (answers nested), then 1/N
    s_ann = s_items
    labels, ann_item = batch.labels, batch.ann_item

    # -- guide: prior judgement (shared classifier, gradient stopped), q(y), q(z) ----------------
    logits = model.classifier(batch.x)
    p_logits = logits.detach()
    y_logits = guide.additive(p_logits, labels, ann_item)
    loc, scale = guide.contrastive(torch.sigmoid(p_logits)[ann_item], labels)
    tau = torch.as_tensor(hp.tau, dtype=y_logits.dtype, device=y_logits.device)
    qy = td.RelaxedBernoulli(tau, logits=y_logits, validate_args=False)
    y = qy.rsample()  # same draw as the guide's pyro.sample("y", ...)
    qz = td.Normal(loc, scale, validate_args=False)
    # same draw as the guide's pyro.sample("z", ...): over the padded table, then the answers' rows
    z = batch.from_table(td.Normal(batch.to_table(loc), batch.to_table(scale, 1.0),
                                   validate_args=False).rsample())

    # -- model ----------------------------------------------------------------------------------
    prior_logits = logits if cfg.warmup_scope == "all" else _gradient_share(logits, hp.alpha)
    dec_logits = model.decoder(y[ann_item], z)
    recon = -F.binary_cross_entropy_with_logits(dec_logits, labels, reduction="none").sum()

    if kl == "closed":
        kl_y = _bernoulli_kl(y_logits, prior_logits).sum()
        kl_z = (-torch.log(scale) + 0.5 * (scale * scale + loc * loc) - 0.5).sum()
    elif kl == "mc":
        # the softplus form of the relaxed density (torch's overflows to -inf for |logits| > ~90)
        kl_y = (relaxed_bernoulli_log_prob(y_logits, tau, y)
                - relaxed_bernoulli_log_prob(prior_logits, tau, y)).sum()
        pz = td.Normal(torch.zeros_like(loc), torch.ones_like(scale), validate_args=False)
        kl_z = (qz.log_prob(z) - pz.log_prob(z)).sum()
    else:
        raise ValueError(f"kl must be 'closed' or 'mc', got {kl!r}")

    loss = s_items * kl_y + s_ann * (cfg.kl_z_weight * kl_z - recon)
    if hp.lam:
        h_y = _bernoulli_entropy(y_logits).sum()
        h_z = (_HALF_LOG_2PI_E + torch.log(scale)).sum()
        loss = loss + hp.lam * (s_items * h_y + s_ann * cfg.kl_z_weight * h_z)
    if hp.alpha < 1.0:
        ce = F.binary_cross_entropy_with_logits(logits[ann_item], labels, reduction="none").sum()
        loss = loss + (1.0 - hp.alpha) * ce / b
    return loss


def reference_step(model, guide, optimizer, batch, hp, cfg, kl: str = "closed") -> float:
    """One hand-written SGD step: zero_grad, loss, backward, step (skipped on a non-finite loss,
    as ``Trainer.step`` skips it). Returns the loss value."""
    optimizer.zero_grad(set_to_none=True)
    loss = reference_loss(model, guide, batch, hp, cfg, kl=kl)
    loss.backward()
    value = loss.item()
    if math.isfinite(value):
        optimizer.step()
    return value
