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


def collapsed(scores: np.ndarray, threshold: float = 0.9) -> bool:
    """True when the classifier's top class is the same for more than ``threshold`` of items, or
    its scores barely vary across items: the signature of a posterior that lost its anchor."""
    top = np.bincount(scores.argmax(1), minlength=scores.shape[1]).max() / len(scores)
    return bool(top > threshold or scores.std(0).max() < 1e-3)
