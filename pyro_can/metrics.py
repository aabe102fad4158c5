"""Per-class average precision, mAP and top-1 accuracy (scikit-learn's definitions)."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score


def score(y_true: np.ndarray, scores: np.ndarray, class_names, single_label: bool,
          prefix: str = "test_") -> dict:
    """AP per class (classes with no positive in ``y_true`` are skipped and listed), their mean,
    and top-1 accuracy for single-label data (None for multi-label)."""
    ap = {}
    skipped = []
    for c, name in enumerate(class_names):
        if y_true[:, c].sum() == 0:
            skipped.append(name)
            continue
        ap[name] = float(average_precision_score(y_true[:, c], scores[:, c]))
    out = {
        f"{prefix}mAP": float(np.mean(list(ap.values()))) if ap else float("nan"),
        f"{prefix}AP": ap,
        f"{prefix}skipped_classes": skipped,
        f"{prefix}accuracy": (float((scores.argmax(1) == y_true.argmax(1)).mean())
                              if single_label else None),
    }
    return out


def answer_scores(noisy: np.ndarray, probs: np.ndarray, answer_matrix: np.ndarray | None,
                  prefix: str = "val_noisy_") -> dict:
    """How well a method predicts held-out noisy labels through its own model of them,
    p(ỹ | x) = Σ_c p(y = c | x) p(ỹ | c) (single-label data; ``answer_matrix`` None: a method
    without a noise model predicts ỹ = y, as a plain net does): the mean negative
    log-likelihood of the labels (``answer_nll``, a proper score) and the accuracy of its argmax
    (``answer_accuracy``).

    Why not the classifier's accuracy against the noisy labels (``accuracy``)? Where the noise is
    class-dependent it favours a classifier that learned the noise: CIFAR-10N's ``worst`` labels
    call 18% of cats "dog", and a net that does so too matches them. Read through its noise
    model, a noise-aware classifier is scored on what the method claims about the labels, as a
    plain net is on its own outputs; both use noisy labels only."""
    pred = probs if answer_matrix is None else probs @ answer_matrix
    said = noisy.argmax(1)
    p_said = np.clip(pred[np.arange(len(said)), said], 1e-12, 1.0)
    return {f"{prefix}answer_nll": float(-np.log(p_said).mean()),
            f"{prefix}answer_accuracy": float((pred.argmax(1) == said).mean())}


def label_accuracy(truth: np.ndarray, given: np.ndarray, cleaned: np.ndarray,
                   prefix: str = "train_") -> dict:
    """How right the training labels are before and after the method read them, where the data
    set knows the truth (digits' synthetic noise, music, CIFAR-10N; single-label; reported, never
    trained or selected on; over the items with an answer): ``given_label_accuracy``, the given
    label (an item's majority vote when it has several answers; under ``--crowd repeat`` every
    answer is an item of its own), and ``cleaned_label_accuracy``, the posterior's most probable
    label (``pyro-can labels``'s ``posterior_label``; for a method without a latent y, the
    classifier's own prediction, what relabeling with it would give). Cleaned labels are one of
    the three things CAN promises, with the classifier and the per-label trust; this scores them
    the way the test set scores the classifier. All arguments are (N, C) class scores or 0/1
    rows."""
    t = truth.argmax(1)
    return {f"{prefix}given_label_accuracy": float((given.argmax(1) == t).mean()),
            f"{prefix}cleaned_label_accuracy": float((cleaned.argmax(1) == t).mean())}


def collapsed(scores: np.ndarray, threshold: float = 0.9) -> bool:
    """True when the classifier's top class is the same for more than ``threshold`` of items, or
    its scores barely vary across items: the signature of a posterior that lost its anchor."""
    top = np.bincount(scores.argmax(1), minlength=scores.shape[1]).max() / len(scores)
    return bool(top > threshold or scores.std(0).max() < 1e-3)
