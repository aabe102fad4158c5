"""Per-worker report of a run on crowd data: how often each worker's answers agree with the
posterior over the clean label q(y | x, {ỹ}) (no test labels involved) and the quality the guide
gives their answers."""
from __future__ import annotations

import numpy as np

from .posterior import answer_trust, posterior


def worker_report(trainer) -> list[dict]:
    """One row per worker: ``answers``, ``posterior_agreement`` (share of answers equal to the
    posterior's arg-max class), ``mean_trust`` (mean posterior probability of the answered class,
    normalized over classes), ``mean_quality_norm`` (mean ‖μ_z‖ of their answers; 0 without z),
    and ``truth_accuracy`` when the training set's true labels are known (analysis only)."""
    data = trainer.data
    post = posterior(trainer)
    answer = data.ann_labels.argmax(1)
    agree = post["q_y"][data.ann_item].argmax(1) == answer
    trust = answer_trust(post["q_y"], data.ann_item, data.ann_labels, single_label=True)
    znorm = np.linalg.norm(post["z_loc"], axis=1) if post["z_loc"].size else np.zeros(len(answer))
    truth = data.y_train_clean.argmax(1)[data.ann_item] if data.y_train_clean is not None else None
    rows = []
    for w in np.unique(data.ann_worker[data.ann_worker >= 0]):
        m = data.ann_worker == w
        row = {"worker": int(w), "answers": int(m.sum()),
               "posterior_agreement": float(agree[m].mean()), "mean_trust": float(trust[m].mean()),
               "mean_quality_norm": float(znorm[m].mean())}
        if truth is not None:
            row["truth_accuracy"] = float((truth[m] == answer[m]).mean())
        rows.append(row)
    return rows
