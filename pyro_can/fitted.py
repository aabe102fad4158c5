"""A fitted run as a value: what every consumer of a finished run takes.

Training needs a ``Trainer`` (the optimizer, the minibatches, the schedules); looking at what it
learned does not. ``posterior``, ``workers``, ``labels``, ``inspection``, the report and the
estimator read a ``FittedRun``: the resolved config, the training items as labels and answers
(``TrainingItems``, no inputs), the model and guide with their final weights, and the posterior
of every item, computed once. A ``FittedRun`` comes either from a trainer that just finished
(``FittedRun.of_trainer``) or from a run folder (``run_folder.RunFolder.fitted``), so the two
give the same arrays and nothing downstream needs the source data again.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .config import Config
from .data import voted_labels


@dataclass
class TrainingItems:
    """The training items of a run as labels, not inputs: each answer's item, label (R, C) 0/1
    and worker (-1: unknown), the source's id of each item, the classes, and what is known of
    the truth (``corrupted``: the items artificial noise changed; ``y_train_clean``: the true
    labels, when the source has them; ``truth``: ``data.truth_known``'s word for it)."""

    name: str
    class_names: list[str]
    single_label: bool
    train_ids: np.ndarray
    ann_item: np.ndarray
    ann_labels: np.ndarray
    ann_worker: np.ndarray
    corrupted: np.ndarray | None = None
    y_train_clean: np.ndarray | None = None
    worker_ids: list[str] | None = None
    truth: str | None = None
    image_shape: tuple[int, ...] | None = None  # the items are small images (digits: (8, 8))

    @classmethod
    def of(cls, data, truth: str | None = None) -> "TrainingItems":
        """The items of a ``data.Dataset`` (its inputs left behind)."""
        return cls(name=data.name, class_names=list(data.class_names),
                   single_label=data.single_label, train_ids=np.asarray(data.train_ids),
                   ann_item=data.ann_item, ann_labels=data.ann_labels, ann_worker=data.ann_worker,
                   corrupted=data.corrupted, y_train_clean=data.y_train_clean,
                   worker_ids=data.worker_ids, truth=truth,
                   image_shape=None if data.image_shape is None else tuple(data.image_shape))

    @property
    def num_items(self) -> int:
        return len(self.train_ids)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_annotations(self) -> int:
        return len(self.ann_item)

    @property
    def has_crowd(self) -> bool:
        return self.num_annotations != self.num_items or not np.array_equal(
            self.ann_item, np.arange(self.num_items))

    @property
    def answered(self) -> np.ndarray:
        """(N,) whether each item has at least one answer."""
        return np.bincount(self.ann_item, minlength=self.num_items) > 0

    def item_labels(self, rng: np.random.Generator | None = None) -> np.ndarray:
        """One noisy label per item, as ``Dataset.item_labels`` gives it (the vote of several)."""
        return voted_labels(self.ann_item, self.ann_labels, self.num_items, self.single_label,
                            rng)

    def given_labels(self) -> np.ndarray:
        """The label each item is given: its answer, or the vote of its answers with ties broken
        by a fixed seed (what ``labels``, ``inspect`` and cleanlab are given)."""
        return self.item_labels(np.random.default_rng(0))

    def wrong_labels(self) -> tuple[np.ndarray | None, str | None]:
        """(N,) which items' given labels are wrong, and where that is known from: the
        corruption mask of artificial noise, else the true labels; (None, None) when neither."""
        if self.corrupted is not None:
            return np.asarray(self.corrupted, bool), WRONG_FROM_MASK
        truth = self.y_train_clean
        if truth is None or np.shape(truth) != (self.num_items, self.num_classes):
            return None, None
        return ((self.given_labels() > 0.5) != (np.asarray(truth) > 0.5)).any(1), WRONG_FROM_TRUTH


WRONG_FROM_MASK = "corruption mask (the artificial noise the run applied)"
WRONG_FROM_TRUTH = "true labels: the item's (voted) noisy label differs from its true label"


@dataclass
class FittedRun:
    """A finished run. ``posterior``: per item, ``q_y`` (N, C) q(y | x, ỹ) and ``prior`` (N, C)
    p_θ(y | x); per answer, ``z_loc``/``z_scale`` (R, K; K = 0 without z) — the arrays of
    ``posterior.posterior``. ``epochs``: the epochs trained; ``label_reliability``: what the
    hand-over estimated of the labels (empty without one); ``run_dir``: the folder it was
    written to or read from, if any."""

    cfg: Config
    items: TrainingItems
    model: torch.nn.Module
    guide: torch.nn.Module
    posterior: dict
    epochs: int
    history: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    label_reliability: dict = field(default_factory=dict)
    run_dir: Path | None = None

    @classmethod
    def of_trainer(cls, trainer, metrics: dict, run_dir: Path | None = None,
                   data=None) -> "FittedRun":
        """The run a trainer finished; ``data``: other items than its training set to read the
        posterior of (the estimator's rows, validation items included: the guide is
        amortized)."""
        from .posterior import posterior

        data = trainer.data if data is None else data
        from .data import truth_known

        return cls(cfg=trainer.cfg, items=TrainingItems.of(data, truth_known(data)),
                   model=trainer.model,
                   guide=trainer.guide, posterior=posterior(trainer, data=data),
                   epochs=trainer.epoch, history=list(trainer.history), metrics=metrics,
                   label_reliability=dict(trainer.label_reliability), run_dir=run_dir)

    def with_run_dir(self, run_dir: Path | None) -> "FittedRun":
        return dataclasses.replace(self, run_dir=run_dir)

    @property
    def classifier(self) -> torch.nn.Module:
        """p_θ(y | x): the network the run ships (``model.pt``)."""
        return self.model.classifier

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device
