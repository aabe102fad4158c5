"""How often do the noisy labels tell the truth? An estimate from a warm classifier's anchors.

After the Eq. 7 warm-up the classifier ranks items well even though its probabilities are those of
the *noisy* labels. For class c, the items it scores highest are almost surely of class c (anchor
points, the idea behind Patrini et al.'s transition estimate, CVPR 2017), so the share of their
answers that say c estimates P(ỹ says c | y = c). How often the other classes' anchors are
answered c (single-label data), or the items it scores lowest for c (multi-label data), estimate
P(ỹ says c | y ≠ c). Only noisy labels are used.

Why CAN needs it: the ELBO cannot tell "clean labels, memorizing classifier" from "noisy labels,
smooth classifier" (both explain ỹ equally well), so the decoder and the additive layer keep the
label reliability they start from. A fixed start that trusts labels (the old ``--copy-init 2``:
86% right) made q(y | x, ỹ) copy ỹ on 98–100% of items at shuffle noise P = 0.8, and CAN then
trained its classifier on ỹ like the plain net. Starting them from this estimate, at the hand-over
from ỹ to q, lets q overrule labels as often as the data says labels are wrong.

Per-class rates (``label_reliability``, ``--noise-init anchor``) say how often an answer naming c
is wrong, not which class it should have named. Human noise is not uniform (CIFAR-10N's workers
answer "dog" for cats and "automobile" for trucks), so ``--noise-init transition`` keeps the
whole matrix of the anchors' answers (``transition_matrix``) and starts the decoder and q at it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NoiseEstimate:
    """What the hand-over learned of the answers: per-class ``hit`` and ``false_alarm`` rates and,
    with ``--noise-init transition``, the whole ``transition`` matrix T[y, ỹ] (rows sum to 1)."""

    hit: np.ndarray
    false_alarm: np.ndarray
    transition: np.ndarray | None = None

    def record(self) -> dict:
        """The estimate as the run's metrics.json and checkpoint keep it."""
        out = {"label_hit": self.hit.tolist(), "label_false_alarm": self.false_alarm.tolist()}
        if self.transition is not None:
            out["label_transition"] = self.transition.tolist()
        return out


def anchor_rows(scores: np.ndarray, ann_item: np.ndarray, ann_labels: np.ndarray,
                share: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(C, C) ``rows[j, k]``, the share of class j's anchors' answers that say k, and (C,)
    ``low[j]``, the share of the answers of the items class j scores lowest that say j.

    ``scores`` (N, C) are the classifier's scores of the N items. Class c takes as anchors the
    items it scores highest, ``share`` times as many as the answers put in class c (counted in
    items: an item's answers share one vote)."""
    n, c = scores.shape
    answers = np.bincount(ann_item, minlength=n).astype(float)
    said = np.zeros((n, c))
    np.add.at(said, ann_item, ann_labels)  # how many answers of item i say class c
    votes = (said / np.maximum(answers, 1)[:, None]).sum(0)
    order = np.argsort(-scores, axis=0, kind="stable")
    rows = np.empty((c, c))
    low = np.empty(c)
    for j in range(c):
        k = int(np.clip(round(share * votes[j]), 1, max(1, n // 2)))
        top, bottom = order[:k, j], order[-k:, j]
        rows[j] = said[top].sum(0) / max(1.0, answers[top].sum())
        low[j] = said[bottom, j].sum() / max(1.0, answers[bottom].sum())
    return rows, low


def label_reliability(rows: np.ndarray, low: np.ndarray, single_label: bool,
                      floor: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Per-class (hit, false_alarm) rates of the answers, from ``anchor_rows``.

    ``hit`` is the share of class c's anchors' answers that say c. ``false_alarm``: for
    single-label data, how often the anchors of the *other* classes are answered c (a row of the
    transition matrix); for multi-label data, where another class's anchors may well show c, how
    often the items c scores lowest are. Rates are clipped to [floor, 1 - floor] so that their
    log-ratios stay finite."""
    c = len(rows)
    hit = np.diag(rows).copy()
    if single_label:
        false_alarm = (rows.sum(0) - hit) / max(1, c - 1)
    else:
        false_alarm = low
    return np.clip(hit, floor, 1 - floor), np.clip(false_alarm, floor, 1 - floor)


def transition_matrix(rows: np.ndarray, floor: float = 0.01) -> np.ndarray:
    """(C, C) T[y, ỹ] = P(an answer says ỹ | the item is of class y), single-label answers, from
    ``anchor_rows``.

    Row y is what class y's anchors were answered, so T keeps *which* class a wrong answer names
    (CIFAR-10N's workers confuse cat with dog and truck with automobile, not any class with any
    other), where ``label_reliability`` spreads the wrong answers evenly. Entries are raised to
    ``floor`` and the rows renormalized, so that log T stays finite."""
    t = np.maximum(rows, floor)
    return t / t.sum(1, keepdims=True)


def estimate_noise(scores: np.ndarray, ann_item: np.ndarray, ann_labels: np.ndarray,
                   single_label: bool, transition: bool) -> NoiseEstimate:
    """The hand-over's estimate from one ranking of the anchors (``anchor_rows``): the
    ``label_reliability`` rates and, with ``transition``, the ``transition_matrix`` too."""
    rows, low = anchor_rows(scores, ann_item, ann_labels)
    hit, false_alarm = label_reliability(rows, low, single_label)
    return NoiseEstimate(hit, false_alarm, transition_matrix(rows) if transition else None)


def evidence_weights(hit: np.ndarray, false_alarm: np.ndarray, categorical: bool,
                     minimum: float = 0.05) -> np.ndarray:
    """Half the log-likelihood ratio of an answer, per class: what the decoder's identity path and
    the additive layer's ±1 label term weigh. Categorical answers compare P(says c | c) with
    P(says c | not c); per-class Bernoulli answers compare their log-odds. Kept at ``minimum`` or
    more, so that an answer never counts against the class it names."""
    if categorical:
        half = 0.5 * np.log(hit / false_alarm)
    else:
        half = 0.5 * (_logit(hit) - _logit(false_alarm))
    return np.maximum(half, minimum)


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)
