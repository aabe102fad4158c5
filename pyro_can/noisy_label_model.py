"""What the training loop asks of a method's model (``models/``) and guide (``guides/``) besides
their Pyro program ``forward(batch, hp)``: the interface, declared once, with its defaults.

Why declared rather than looked up: a loop that finds a method's hooks with ``hasattr`` trains a
method whose hook is misspelt (or one the loop no longer calls) without it, and says nothing;
here each hook is written once, documented once, and every model and guide inherits its default.

* ``NoisyLabelModel`` and ``NoisyLabelGuide`` are ``typing.Protocol``s: the interface as a type,
  what ``Trainer`` (``train.py``) and ``Objective`` (``objective.py``) rely on.
* ``ModelBase`` and ``GuideBase`` are the base classes every model and guide derives from, with
  the defaults. A ``Protocol`` cannot itself be their base: a ``PyroModule``'s metaclass and a
  ``Protocol``'s conflict ("metaclass conflict" at class creation), so the defaults live in a
  plain base class and the protocols describe it.

Two kinds of member:

* hooks, no-op methods by default: ``start_epoch``, ``hold_noise_model``, the guide's
  ``handover``;
* what a method has or has not, None without it, where the loop does something else for a method
  without it (no no-op could stand in): ``warmup_model`` (without it the ELBO trains at full
  weight from the first step and there is no warm-up phase), ``handover`` (without it there is
  no hand-over epoch: ``Trainer.handover_epoch`` is None), ``answer_matrix`` (without it the
  classifier predicts the answers as it is), the guide's ``posterior`` (without it there is no
  regularizer on q) and its ``baseline`` network; and the guide's flag ``reads_classifier``.

An override is a method (or property) of the same name in the subclass. A network attribute
(``baseline``) defaults on the instance, never on the class: a class attribute would hide the
submodule ``nn.Module`` keeps in ``_modules``.
"""
from __future__ import annotations

from typing import Callable, Protocol

import numpy as np
import torch

from .anchors import NoiseEstimate
from .batch import Batch, StepParams
from .data import Dataset
from .network_owner import NetworkOwner


class NoisyLabelModel(Protocol):
    """A method's model: p(ỹ | x) through the classifier (and a noise model, where it has one)."""

    classifier: torch.nn.Module  # f_θ: what a run ships and scores

    def forward(self, batch: Batch, hp: StepParams) -> None:
        """The Pyro program: observes the batch's answers (``ytilde``)."""

    #: ``warmup_model(batch, hp)``: Eq. 7's warm-up likelihood, the answers read as the clean
    #: label (CAN, ICNM); ``objective.py`` weights it by 1 − α_t. None: no warm-up.
    warmup_model: Callable[[Batch, StepParams], None] | None

    #: ``handover(scores, data)``: re-estimate the noise model from the warm classifier's scores
    #: of the training items, once, at the first epoch after the warm-up (CAN); returns the
    #: estimate, which the guide's ``handover`` and the run's metrics read. None: no hand-over.
    handover: Callable[[np.ndarray, Dataset], NoiseEstimate] | None

    #: ``answer_matrix()``: the (C, C) p(ỹ = k | y = c) the held-out answers are scored through
    #: (``metrics.answer_scores``), or None when the noise model is no one matrix (the Crowd
    #: Layer's per-worker matrices; per-class answers). None itself: the method has no noise
    #: model, and its classifier predicts the answers as it is.
    answer_matrix: Callable[[], torch.Tensor | None] | None

    def start_epoch(self, epoch: int, train_set) -> None:
        """Before every epoch (0-based ``epoch``; ``train_set``: ``training_set.TrainingSet``):
        the method's per-epoch state (Co-teaching's forget rate, DivideMix's split)."""

    def hold_noise_model(self) -> None:
        """``--hold-noise``: from the hand-over on, keep the noise model's parameters as the
        hand-over set them."""


class NoisyLabelGuide(Protocol):
    """A method's guide: q(y, z | x, ỹ), or nothing for a method without latent variables."""

    def forward(self, batch: Batch, hp: StepParams) -> None:
        """The Pyro program: samples the model's latent sites."""

    #: ``posterior(batch)``: q's parameters (y's logits, z's loc and scale), which the
    #: regularizer on q reads. None: a guide without latents (no regularizer).
    posterior: Callable[[Batch], tuple] | None

    #: whether ``posterior`` reads the model's classifier (``Batch.classifier_output``): the
    #: objective then computes its logits once, before the guide, for the guide and the model
    reads_classifier: bool

    #: the score function's neural baseline network (``--baseline nn``), which
    #: ``registry.model_and_guide`` gives a latent guide; None without one
    baseline: torch.nn.Module | None

    def handover(self, estimate: NoiseEstimate) -> None:
        """After the model's hand-over: set up the guide's use of the answers from the model's
        ``estimate`` (CAN's guide: their evidence in q)."""

    def hold_noise_model(self) -> None:
        """``--hold-noise``: keep the guide's weights on the answers as the hand-over set them."""


class ModelBase(NetworkOwner):
    """The base of every model in ``models/``: ``NoisyLabelModel``'s defaults."""

    warmup_model = None
    handover = None
    answer_matrix = None

    def start_epoch(self, epoch: int, train_set) -> None:
        return None

    def hold_noise_model(self) -> None:
        return None


class GuideBase(NetworkOwner):
    """The base of every guide in ``guides/``: ``NoisyLabelGuide``'s defaults."""

    posterior = None
    reads_classifier = False

    def __init__(self):
        super().__init__()
        self.baseline = None  # on the instance: a network assigned later becomes a submodule

    def handover(self, estimate: NoiseEstimate) -> None:
        return None

    def hold_noise_model(self) -> None:
        return None
