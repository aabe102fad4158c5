"""The options of the method and its parts: which method, its guide, CAN's prior, decoder, quality
embedding and noise model, the networks' shape and each baseline's own options (the ``method``
and ``method.*`` sections of ``Config``; ``config.py`` says how an option is declared)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .declaration import (BOOTSTRAP, CAN, CAN_GUIDE, CAN_LIKELIHOOD, CROWD_LAYER, HOLDS, LATENT,
                          LEARNQ, REPLACED_AT_HANDOVER, SOFTMAX, method_is, option,
                          registry_names)
from .rules import Choice, Interval, Widths

# the choices whose names are the option's own (the registry's tables hold the named parts)
Latent = Literal["auto", "categorical", "bernoulli"]  # resolved: never "auto"
Prior = Literal["classifier", "uniform"]
Decoder = Literal["mlp", "linear"]
QualityPrior = Literal["standard", "worker"]  # z ~ N(0, I) | N(μ_w, I) (worker_quality.py)
PriorJudgement = Literal["shared", "separate"]
NoiseInit = Literal["anchor", "transition", "fixed"]
Bootstrap = Literal["soft", "hard"]

# initial weights of a network's logits: beyond ±100 a sigmoid is saturated in float32 (and
# beyond ~3.4e38 the value does not even fit in the tensor it initializes)
_LOGIT = Interval(-100, 100)


@dataclass
class MethodOptions:
    # -- method and its parts ------------------------------------------------------------------
    method: str = option(
        "can", Choice("method", registry_names("METHODS")),
        "can, plain, learnq, icnm, bootstrap, crowd-layer (needs workers: --crowd model on "
        "crowd data), gce, sce, elr, coteaching, dividemix (single-label data; "
        "docs/baselines.md)", section="method")
    guide: str = option(
        "can", Choice("guide", registry_names("GUIDES")), "variational guide for latent methods",
        section="method", expert=True, applies=LATENT)
    prior: Prior = option(
        "classifier", None, "p(y): classifier or uniform", section="method", expert=True,
        applies=CAN)
    decoder: Decoder = option(
        "mlp", None, "p(ỹ|y,z) network: mlp or linear", section="method", expert=True,
        applies=CAN)
    prior_judgement: PriorJudgement = option(
        "shared", None, "guide's p: shared (classifier, no gradient) or separate f_φ",
        section="method", expert=True, applies=CAN_GUIDE)
    latent: Latent = option(
        "auto", None,
        "the clean label y: bernoulli (per class, sigmoid classifier and scores), categorical "
        "(one class: softmax classifier and scores, closed-form categorical KL; single-label "
        "data) or auto (categorical for single-label data); the baselines but ICNM follow it",
        section="method", expert=True, what="latent type", auto=True,
        applies=SOFTMAX)
    ytilde_likelihood: Latent = option(
        "auto", None,
        "p(ỹ|y,z): categorical (one answered class), bernoulli (per class) or auto (as --latent)",
        section="method", expert=True, what="ỹ likelihood", auto=True,
        applies=CAN_LIKELIHOOD)
    quality_dim: int = option(
        4, Interval(0, 1024, kind=int), "K, dimensions of the quality embedding z (0 removes z)",
        section="method", expert=True, applies=CAN)
    quality_prior: QualityPrior = option(
        "standard", None,
        "p(z): standard (N(0, I), the paper's worker-blind CAN) or worker (N(μ_w, I) with a "
        "latent μ_w per worker, and per-worker trust in q(y); crowd data)",
        section="method", expert=True, what="quality prior", applies=CAN)
    copy_init: float = option(
        2.0, _LOGIT, "decoder's initial half log-ratio that ỹ_c follows y_c",
        section="method", expert=True, applies=CAN & REPLACED_AT_HANDOVER)
    label_init: float = option(
        2.0, _LOGIT, "additive layer's initial weight of each answer's ±1 evidence",
        section="method", expert=True, applies=CAN_GUIDE & REPLACED_AT_HANDOVER)
    prior_init: float | None = option(
        None, Interval(0, 100, optional=True),
        "additive layer's initial weight of the prior judgement's logits (>1 sharpens the warm "
        "classifier, which estimates the flatter p(ỹ|x)) [default: 2; 1 with several answers "
        "per item]", section="method", expert=True, auto=True, applies=CAN_GUIDE)
    noise_init: NoiseInit = option(
        "anchor", None,
        "label reliability at the hand-over from ỹ to q: anchor (estimated from the warm "
        "classifier's most confident items; replaces --copy-init/--label-init), transition (the "
        "whole class-to-answer matrix T[y, ỹ] from those items, so q learns which class a wrong "
        "answer names; single-label data) or fixed (keep them)",
        section="method", expert=True, what="noise init", applies=CAN)
    hold_noise: bool = option(
        False, None,
        "after the hand-over, keep CAN's noise model at the anchor estimate: the decoder and "
        "q's weights on each answer and on the classifier stop training (on CIFAR-10N features "
        "the noise model otherwise drifts back to trusting every label); with --quality-prior "
        "worker, each worker's quality still learns, as a departure from the held crowd model",
        section="method", expert=True, applies=HOLDS)
    kl_z_weight: float = option(
        1.0, Interval(0, None), "weight of KL(q(z)||p(z))", section="method", expert=True,
        applies=CAN)
    hidden: str = option(
        "1024,30", Widths(), "classifier hidden widths", section="method")
    batch_norm: bool = option(
        False, None, "input nets: BatchNorm after each hidden layer", section="method",
        expert=True)
    dropout: float = option(
        0.0, Interval(0, 1, hi_open=True), "input nets: dropout rate after each hidden layer",
        section="method", expert=True)
    beta: float = option(
        0.8, Interval(0, 1), "bootstrap target weight on ỹ", section="method.bootstrap",
        expert=True, applies=BOOTSTRAP)
    bootstrap: Bootstrap = option(
        "soft", None, "bootstrap target: soft (probabilities) or hard (predicted label)",
        section="method.bootstrap", expert=True, what="bootstrap kind", applies=BOOTSTRAP)
    learnq_trace: float = option(
        0.01, Interval(0, None), "LearnQ: weight of the trace penalty on Q, per item",
        section="method.learnq", expert=True, applies=LEARNQ)
    crowd_layer_mean: bool = option(
        False, None,
        "Crowd Layer: its loss is the mean over the minibatch's answers (the crowd-learning "
        "papers'), not the sum over each item's answers", section="method", expert=True,
        applies=CROWD_LAYER)
    gce_q: float = option(
        0.7, Interval(0, 1), "GCE: q of the loss (1 − p^q)/q (0: cross-entropy, 1: mean "
        "absolute error)", section="method.gce", expert=True, applies=method_is("gce"))
    sce_alpha: float = option(
        0.1, Interval(0, None), "SCE: weight α of the cross-entropy", section="method.sce",
        expert=True, applies=method_is("sce"))
    sce_beta: float = option(
        1.0, Interval(0, None), "SCE: weight β of the reverse cross-entropy",
        section="method.sce", expert=True, applies=method_is("sce"))
    elr_lambda: float = option(
        3.0, Interval(0, None), "ELR: weight λ of the early-learning regularizer",
        section="method.elr", expert=True, applies=method_is("elr"))
    elr_beta: float = option(
        0.7, Interval(0, 1, hi_open=True),
        "ELR: momentum β of each item's running average of predictions",
        section="method.elr", expert=True, applies=method_is("elr"))
    forget_rate: float = option(
        0.2, Interval(0, 1, hi_open=True),
        "Co-teaching: share τ of each minibatch's largest-loss answers each network drops",
        section="method.coteaching", expert=True, applies=method_is("coteaching"))
    forget_epochs: int = option(
        10, Interval(1, 10**6, kind=int),
        "Co-teaching: epochs T_k over which the forget rate rises from 0 to τ",
        section="method.coteaching", expert=True, applies=method_is("coteaching"))
    dividemix_warmup: int = option(
        10, Interval(0, 10**6, kind=int),
        "DivideMix: cross-entropy epochs before the first clean/noisy split",
        section="method.dividemix", expert=True, applies=method_is("dividemix"))
    dividemix_threshold: float = option(
        0.5, Interval(0, 1), "DivideMix: clean probability above which an item counts as labeled",
        section="method.dividemix", expert=True, applies=method_is("dividemix"))
    dividemix_lambda_u: float = option(
        25.0, Interval(0, None), "DivideMix: weight λ_u of the unlabeled items' squared error",
        section="method.dividemix", expert=True, applies=method_is("dividemix"))
    dividemix_temperature: float = option(
        0.5, Interval(0, None, lo_open=True),
        "DivideMix: sharpening temperature T of the refined labels",
        section="method.dividemix", expert=True, applies=method_is("dividemix"))
    dividemix_alpha: float = option(
        4.0, Interval(0, None), "DivideMix: mixup's Beta(α, α) parameter",
        section="method.dividemix", expert=True, applies=method_is("dividemix"))
