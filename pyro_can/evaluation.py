"""Scoring a run while it trains: the clean test set, the noisy-label validation split and its
answers (``evaluate``), on the epochs ``--eval-every`` asks for and the last (``Evaluation``,
the first of ``Trainer.run``'s callbacks). The final metrics are the last epoch's scores."""
from __future__ import annotations

import numpy as np

from . import metrics
from .callbacks import Callback
from .config import Config
from .diagnostics import diagnose
from .schedules import step_params
from .scoring import class_scores


def scored_epoch(cfg: Config, epoch: int) -> bool:
    """Whether the epoch just trained (``epoch`` done) is scored (``--eval-every``): every N-th
    and the last. Scoring (a pass over the test and validation sets, and the ELBO terms of 2,000
    training items) costs as much as many steps on a small data set; the final metrics are always
    those of the last epoch. The ELBO terms draw from the training's random stream, so a run
    scored less often trains on other (equally likely) draws than one scored every epoch."""
    return epoch % cfg.eval_every == 0 or epoch >= cfg.epochs


class Evaluation(Callback):
    """On a scored epoch, the ELBO terms (``diagnostics.diagnose``) and ``trainer.evaluate()``'s
    scalar scores join the epoch's record. ``last``: the evaluation of the epoch just trained,
    or None when it was not scored (the final metrics reuse it: the weights have not changed
    since, so the test set is not scored twice)."""

    def __init__(self):
        self.last: dict | None = None

    def on_epoch_end(self, trainer, record: dict) -> None:
        self.last = None
        if not scored_epoch(trainer.cfg, trainer.epoch):
            return
        record.update(diagnose(trainer, step_params(trainer.cfg, float(trainer.epoch))))
        self.last = trainer.evaluate()
        record.update({k: v for k, v in self.last.items() if not isinstance(v, (dict, list))})


def evaluate(trainer) -> dict:
    """The trainer's classifier on the clean test set; with a noisy-label validation split, on
    its items' labels and answers (``val_noisy_``); with ``--val-from-test``, on those clean rows
    of the test images (``val_clean_``)."""
    cfg, data, val = trainer.cfg, trainer.data, trainer.val
    scores = class_scores(cfg, trainer.predict_logits(data.x_test))
    out = metrics.score(data.y_test, scores, data.class_names, data.single_label)
    out["collapsed"] = metrics.collapsed(scores)
    if val is not None:
        v = class_scores(cfg, trainer.predict_logits(val.x_train, "train"))
        out.update(metrics.score(val.item_labels(), v, val.class_names, val.single_label,
                                 prefix="val_noisy_"))
        out.update(answer_scores(trainer, v))
    if data.x_val is not None:  # --val-from-test: rows of the test images
        v = class_scores(cfg, trainer.predict_logits(data.x_val, "test"))
        out.update(metrics.score(data.y_val, v, data.class_names, data.single_label,
                                 prefix="val_clean_"))
    return out


def answer_scores(trainer, probs: np.ndarray) -> dict:
    """``metrics.answer_scores`` of the validation items' answers (each answer on its own, so
    several answers per item are scored as the model predicts them, one at a time; ``probs``:
    the classifier's class probabilities of the validation items): the classifier read through
    the method's ``answer_matrix()`` (CAN, LearnQ) or, for a method without a noise model
    (``answer_matrix`` None), as it is. Not computed for per-class sigmoid classifiers, for a
    method whose noise model is no one matrix (``answer_matrix()`` None: the Crowd Layer, CAN
    with per-class answers), or before CAN's hand-over set its noise model."""
    val, model = trainer.val, trainer.model
    if not (val.single_label and trainer.cfg.categorical_y):
        return {}
    if trainer.handover_epoch is not None and trainer.epoch <= trainer.handover_epoch:
        return {}
    matrix = None
    if model.answer_matrix is not None:  # a noise model: the classifier read through it
        matrix = model.answer_matrix()
        if matrix is None:
            return {}
        matrix = matrix.cpu().numpy()
    return metrics.answer_scores(val.ann_labels, probs[val.ann_item], matrix)
