"""The τ and α_t schedules (the paper's formula is not recoverable; these are ours).

Both are functions of the fractional epoch t (epoch + step/steps_per_epoch):

    τ(t) = τ_start · (τ_end / τ_start) ** min(1, t / (E - 1))         geometric decay over the run
    α(t) = α_max · clip((t - warmup) / ramp, 0, 1)                    Eq. 7: CE on ỹ first, then KL

During the first ``warmup`` epochs the classifier learns from the noisy labels directly (networks
fit the clean majority before they memorize noise); α then ramps linearly to ``α_max`` over
``ramp`` epochs, handing the classifier over to the posterior q(y | x, ỹ).
"""
from __future__ import annotations

import torch

from .batch import StepParams


def make_scheduler(cfg, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
    """The learning-rate schedule, stepped once per epoch: ``--schedule step`` (the paper's:
    ``StepLR``, the rate times ``--lr-gamma`` every ``--lr-step`` epochs) or ``cosine`` (torch's
    ``CosineAnnealingLR`` from ``--lr`` to 0 over ``--epochs``, the crowd-learning papers' on
    music)."""
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs, eta_min=0.0)
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.lr_step, gamma=cfg.lr_gamma)


def step_params(cfg, t: float) -> StepParams:
    frac = min(1.0, t / max(1, cfg.epochs - 1))
    tau = cfg.tau_start * (cfg.tau_end / cfg.tau_start) ** frac
    if cfg.ramp_epochs <= 0:
        ramp = 1.0 if t >= cfg.warmup_epochs else 0.0
    else:
        ramp = min(1.0, max(0.0, (t - cfg.warmup_epochs) / cfg.ramp_epochs))
    return StepParams(tau=tau, alpha=cfg.alpha_max * ramp, lam=cfg.lam)


WARMUP, HANDOVER, RAMP, SVI = "warm-up", "hand-over", "ramp", "svi"


def phase(cfg, epoch: int, handover_epoch: int | None) -> str:
    """Which phase of Eq. 7 epoch ``epoch`` (0-based) starts in: ``warm-up`` (α = 0: the warm-up
    likelihood alone), ``hand-over`` (the method's noise model is re-estimated from the warm
    classifier before the epoch runs), ``ramp`` (0 < α < α_max) or ``svi``."""
    if epoch == handover_epoch:
        return HANDOVER
    alpha = step_params(cfg, float(epoch)).alpha
    if alpha <= 0.0 and epoch < cfg.warmup_epochs:
        return WARMUP
    return SVI if alpha >= cfg.alpha_max else RAMP
