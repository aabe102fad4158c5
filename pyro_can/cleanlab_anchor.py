"""cleanlab beside CAN's trust, used as its documentation asks: label-quality scores and label
issues (``cleanlab.rank.get_label_quality_scores``, ``cleanlab.filter.find_label_issues``) from
out-of-sample predicted probabilities, here of the plain method under the run's own options,
each fold's items scored by a model trained on the other folds. cleanlab is an optional extra
(``pip install pyro-can[compare]``): without it, or if it fails, ``inspect`` says so and goes
on."""
from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

from .ranking import item_folds, ranking_figures, set_figures
from .resolution import for_method

_EPS = 1e-12


def out_of_fold_probs(cfg, data, folds: int, seed: int,
                      on_step: Callable[[str], None] | None = None) -> np.ndarray:
    """Class probabilities of the plain method for every training item of ``data``, each from
    a model trained on the other folds with ``cfg`` (method replaced by ``plain``): what that
    classifier really outputs, a softmax for a softmax classifier, per-class sigmoids
    otherwise."""
    from .scoring import class_scores
    from .train import Trainer

    plain = for_method(cfg, "plain")  # CAN's own options back at their defaults
    scores = np.zeros((data.num_items, data.num_classes))
    for f, (fit_idx, held_idx) in enumerate(item_folds(data, folds, seed)):
        if on_step is not None:
            on_step(f"cleanlab: training plain on fold {f + 1}/{folds} "
                    f"({len(fit_idx)} items, {plain.epochs} epochs)")
        fold_trainer = Trainer(plain, data.subset(np.sort(fit_idx)))
        fold_trainer.run()
        logits = fold_trainer.predict_logits(data.x_train[held_idx], "train")
        scores[held_idx] = class_scores(fold_trainer.cfg, logits)
    return scores


def cleanlab_scores(cfg, data, given: np.ndarray, wrong: np.ndarray | None, folds: int,
                    seed: int, on_step=None) -> tuple[dict, np.ndarray | None]:
    """cleanlab's summary (how it was run, and its ranking's figures against ``wrong``) and
    its per-item label quality, or (why not, None). ``given``: (N, C) 0/1 given labels."""
    try:
        import cleanlab  # noqa: F401  (optional extra: pip install pyro-can[compare])
    except ImportError as e:
        return {"available": False, "reason": f"cleanlab not installed ({e})"}, None
    out = {"available": True, "folds": folds, "method": "plain (out-of-fold)",
           "probabilities": ("softmax" if cfg.categorical_y else
                             "per-class sigmoid" + (", normalized" if data.single_label else "")),
           "filter_by": "prune_by_noise_rate", "ranked_by": "self_confidence"}
    try:
        scores = out_of_fold_probs(cfg, data, folds, seed, on_step)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quality, issues = _scores(given, scores, data.single_label, cfg.categorical_y)
    except Exception as e:  # cleanlab is a comparison, never a reason for inspect to fail
        out.update({"error": f"{type(e).__name__}: {e}"})
        return out, None
    flagged = np.zeros(data.num_items, bool)
    flagged[np.asarray(issues, int)] = True
    out.update(ranking_figures(wrong, -np.asarray(quality, float)))
    out.update(set_figures(wrong, flagged))
    return out, np.asarray(quality, float)


def _scores(given, scores, single_label: bool, categorical_y: bool):
    from cleanlab.filter import find_label_issues

    if single_label:
        from cleanlab.rank import get_label_quality_scores

        labels = given.argmax(1)
        # a softmax classifier's probabilities go in as they are; per-class sigmoids
        # (--latent bernoulli on single-label data) have no joint distribution to give, so
        # cleanlab gets them normalized over classes
        probs = scores if categorical_y else scores / np.maximum(scores.sum(1, keepdims=True),
                                                                 _EPS)
        quality = get_label_quality_scores(labels, probs, method="self_confidence")
        issues = find_label_issues(labels, probs, filter_by="prune_by_noise_rate",
                                   return_indices_ranked_by="self_confidence")
        return quality, issues
    from cleanlab.multilabel_classification.rank import get_label_quality_scores

    labels = [list(np.flatnonzero(r > 0.5)) for r in given]
    quality = get_label_quality_scores(labels, scores, method="self_confidence")
    issues = find_label_issues(labels, scores, filter_by="prune_by_noise_rate",
                               return_indices_ranked_by="self_confidence", multi_label=True)
    return quality, issues
