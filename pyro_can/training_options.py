"""The options of how a run trains: the objective and its schedules, the optimizer, and the
runtime (seed, device, how often it scores): the ``schedule``, ``optimizer`` and ``runtime``
sections of ``Config`` (``config.py`` says how an option is declared)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .declaration import LATENT, MIXES, RELAXED, SCORE, SGD, WARM, option, registry_names
from .rules import Choice, Device, Interval

# the choices whose names are the option's own (the registry's tables hold the named parts)
Baseline = Literal["avg", "nn"]
WarmupScope = Literal["classifier", "all"]
Optimizer = Literal["sgd", "adam", "radam"]
LrSchedule = Literal["step", "cosine"]

_SEED = Interval(0, 2**32 - 1, kind=int)  # NumPy's and scikit-learn's seeds are 32-bit


@dataclass
class TrainingOptions:
    # -- objective and schedules ---------------------------------------------------------------
    elbo: str = option(
        "tracegraph", Choice("ELBO", registry_names("ELBOS")),
        "tracegraph (discrete y, score function with baselines), meanfield (relaxed y, "
        "closed-form KL), enum (y summed out exactly; single-label data) or trace (relaxed y, "
        "sampled KL)", section="schedule", expert=True)  # every method's loss is an ELBO
    baseline: Baseline = option(
        "avg", None,
        "tracegraph's baseline for y's score function: avg (decaying average) or nn (plus a "
        "small neural baseline)", section="schedule", expert=True, applies=SCORE)
    regularizer: str = option(
        "entropy", Choice("regularizer", registry_names("REGULARIZERS")),
        "λ's term: entropy (λ·E H(q)) or mi (−λ·(H(E q) − E H(q)), the mutual information)",
        section="schedule", expert=True, applies=LATENT)
    lam: float = option(
        0.0, Interval(0, None),
        "λ, weight of the regularizer on q(y) and q(z) (the paper's 0.3 collapses q(y) at "
        "P = 0.8: docs/training.md)", section="schedule", expert=True, applies=LATENT)
    tau_start: float = option(
        1.0, Interval(0, None, lo_open=True), "relaxed-Bernoulli temperature at the start",
        section="schedule", expert=True, applies=RELAXED)
    tau_end: float = option(
        0.5, Interval(0, None, lo_open=True), "temperature at the end (geometric decay)",
        section="schedule", expert=True, applies=RELAXED)
    warmup_epochs: float | None = option(
        None, Interval(0, None, optional=True),
        "epochs of pure cross-entropy on ỹ before α_t ramps up (Eq. 7) [default: 20; 5 with "
        "several answers per item (--crowd model)]", section="schedule", expert=True, auto=True,
        applies=WARM)
    ramp_epochs: float = option(
        10.0, Interval(0, None), "epochs over which α_t ramps to alpha_max", section="schedule",
        expert=True, applies=WARM)
    alpha_max: float | None = option(
        None, Interval(0, 1, optional=True),
        "final α_t: the ELBO's weight at the end of the ramp, the warm-up cross-entropy keeping "
        "1 − α_max [default: 0.9; 1 with several answers per item]", section="schedule",
        expert=True, auto=True, applies=WARM)
    warmup_scope: WarmupScope = option(
        "all", None, "what α_t scales: classifier or all (see models/can.py)",
        section="schedule", expert=True, what="warm-up scope", applies=WARM)
    epochs: int = option(90, Interval(1, 10**6, kind=int), "training epochs", section="schedule")
    # -- optimization --------------------------------------------------------------------------
    batch_size: int = option(50, Interval(1, 10**7, kind=int), "minibatch size",
                             section="optimizer")
    lr: float = option(0.01, Interval(0, None, lo_open=True), "learning rate",
                       section="optimizer")
    optimizer: Optimizer = option(
        "sgd", None, "sgd (with --momentum; the paper's), adam (the Crowd Layer paper's) or "
        "radam (torch's RAdam, the crowd-learning papers' on music)",
        section="optimizer", expert=True, what="optimizer")
    momentum: float = option(0.9, Interval(0, 1, hi_open=True), "SGD momentum",
                             section="optimizer", expert=True, applies=SGD)
    weight_decay: float = option(0.0, Interval(0, None), "L2 weight decay of the optimizer",
                                 section="optimizer")
    lr_step: int = option(30, Interval(1, None, kind=int),
                          "divide the learning rate by 1/lr_gamma every lr_step epochs",
                          section="optimizer", expert=True)
    lr_gamma: float = option(0.1, Interval(0, 1, lo_open=True),
                             "factor of the learning rate every lr_step epochs",
                             section="optimizer", expert=True)
    schedule: LrSchedule = option(
        "step", None,
        "learning-rate schedule, stepped every epoch: step (divide by 1/lr_gamma every lr_step "
        "epochs; the paper's) or cosine (torch's CosineAnnealingLR, to 0 at the last epoch)",
        section="optimizer", expert=True, what="learning-rate schedule")
    mixup: float = option(
        0.0, Interval(0, None),
        "mixup's α (Zhang et al. 2018): each minibatch item's input mixed with another's, "
        "λ ~ Beta(α, α), and the two items' answers weighted λ and 1 − λ in the likelihood "
        "(docs/training.md); 0: off", section="optimizer", applies=MIXES)
    # -- runtime -------------------------------------------------------------------------------
    seed: int = option(0, _SEED, "random seed (data split, noise, initial weights, batches)",
                       section="runtime")
    device: str = option("auto", Device(),
                         "torch device to train on (auto: cuda when available, else cpu)",
                         section="runtime")
    eval_every: int = option(
        1, Interval(1, 10**6, kind=int),
        "score the test and validation sets (and the ELBO terms in history.csv) every N "
        "epochs; the last epoch is always scored, so metrics.json is the same",
        section="runtime", expert=True)
