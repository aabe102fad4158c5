"""What the softmax-only baselines (GCE, SCE, ELR, Co-teaching, DivideMix) share: the check that
the run has a softmax classifier on single-label data, and the log-probability the classifier
gives each answer's class.

These losses are defined for one class per item: GCE's p_y^q, SCE's reverse cross-entropy and
ELR's inner product of two class distributions have no per-class-sigmoid reading, so multi-label
data (``--latent bernoulli``) is refused with one error rather than silently reinterpreted."""
from __future__ import annotations

import torch

from pyro_can.errors import OptionError


def require_softmax(method) -> None:
    """OptionError unless the method section (``sections.MethodSection``) trains a softmax
    classifier (``--latent categorical``, which ``auto`` picks for single-label data)."""
    if not method.categorical_y:
        raise OptionError(f"--method {method.method} is a loss on one class per item: it needs "
                          "single-label data and a softmax classifier (--latent auto or "
                          "categorical), not --latent bernoulli or multi-label data")


def answer_log_prob(logits: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    """log p(ỹ = answered class | x) under the softmax classifier: ``logits`` (B, C) against
    one-hot ``answers`` (B, C) or the answers table (A, B, C); the result drops the class dim."""
    return (answers * torch.log_softmax(logits, -1)).sum(-1)
