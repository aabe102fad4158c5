"""How well a ranking of training labels finds the wrong ones, and the folds that make
out-of-sample scores: what ``inspect`` reports for CAN's trust and for cleanlab alike, and what
cross-fitting (``posterior.cross_fitted``) and cleanlab's cross-validation split by."""
from __future__ import annotations

import numpy as np


def ranking_figures(corrupted: np.ndarray | None, suspicion: np.ndarray) -> dict:
    """ROC-AUC and precision@k (k = number of wrong labels) of ranking by ``suspicion``."""
    if corrupted is None:
        return {"roc_auc": None, "precision_at_k": None, "k": None}
    from sklearn.metrics import roc_auc_score

    known = np.isfinite(suspicion)  # items without answers have no trust
    corrupted, suspicion = corrupted[known], suspicion[known]
    k = int(corrupted.sum())
    if k == 0 or k == len(corrupted):
        return {"roc_auc": None, "precision_at_k": None, "k": k,
                "note": "corruption mask has a single class; ROC-AUC undefined"}
    top = np.argsort(-suspicion, kind="stable")[:k]
    return {"roc_auc": float(roc_auc_score(corrupted, suspicion)),
            "precision_at_k": float(corrupted[top].mean()), "k": k}


def set_figures(corrupted: np.ndarray | None, flagged: np.ndarray) -> dict:
    """How many labels a rule flags, and its precision and recall against the wrong ones."""
    out = {"flagged": int(flagged.sum())}
    if corrupted is not None and corrupted.any():
        hit = int((flagged & corrupted).sum())
        out["flagged_precision"] = hit / out["flagged"] if out["flagged"] else None
        out["flagged_recall"] = hit / int(corrupted.sum())
    return out


def item_folds(data, folds: int, seed: int):
    """``(fit, held)`` index arrays of ``folds`` folds over ``data``'s training items, stratified
    by the given label where every class has enough items (single-label data)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    n = data.num_items
    strata = data.item_labels(np.random.default_rng(0)).argmax(1) if data.single_label else None
    splitter = KFold(folds, shuffle=True, random_state=seed)
    if strata is not None and np.bincount(strata).min() >= folds:
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return splitter.split(np.zeros(n), strata)
