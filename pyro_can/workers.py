"""Per-worker report of a run on crowd data: how often each worker's answers agree with the
posterior over the clean label q(y | x, {ỹ}) (no test labels involved), the quality the guide
gives their answers, and each worker's estimated ``reliability``; scored against the truth when
the training set's true labels are known (music: Spearman rank correlation with each worker's
real accuracy)."""
from __future__ import annotations

import numpy as np

from .posterior import answer_trust
from .worker_quality import decoder_reliability


def worker_report(run) -> list[dict]:
    """One row per worker: ``answers``, ``posterior_agreement`` (share of answers equal to the
    posterior's arg-max class), ``mean_trust`` (mean posterior probability of the answered class,
    normalized over classes), ``mean_quality_norm`` (mean ‖μ_z‖ of their answers; 0 without z),
    ``reliability`` (with ``--quality-prior worker``: the decoder's probability of a right answer
    at the worker's mean quality E q(μ_w), ``worker_quality.py``; worker-blind runs have no
    per-worker parameter, and report their posterior agreement), and ``truth_accuracy`` when the
    training set's true labels are known (analysis only). ``run``: a ``fitted.FittedRun``."""
    data, post = run.items, run.posterior
    answer = data.ann_labels.argmax(1)
    agree = post["q_y"][data.ann_item].argmax(1) == answer
    trust = answer_trust(post["q_y"], data.ann_item, data.ann_labels, single_label=True)
    znorm = np.linalg.norm(post["z_loc"], axis=1) if post["z_loc"].size else np.zeros(len(answer))
    truth = data.y_train_clean.argmax(1)[data.ann_item] if data.y_train_clean is not None else None
    modelled = None
    wq = getattr(run.guide, "workers", None)  # the guide's q(μ_w), q(d_w)
    if wq is not None:
        modelled = decoder_reliability(run.model.decoder, wq, data.num_classes,
                                       run.cfg.ytilde_likelihood == "categorical")
    rows = []
    for w in np.unique(data.ann_worker[data.ann_worker >= 0]):
        m = data.ann_worker == w
        row = {"worker": int(w)}
        if data.worker_ids is not None:  # the user's id (a crowd table's)
            row["worker_id"] = data.worker_ids[int(w)]
        row.update({"answers": int(m.sum()),
               "posterior_agreement": float(agree[m].mean()), "mean_trust": float(trust[m].mean()),
               "mean_quality_norm": float(znorm[m].mean())})
        row["reliability"] = float(modelled[w]) if modelled is not None \
            else row["posterior_agreement"]
        if truth is not None:
            row["truth_accuracy"] = float((truth[m] == answer[m]).mean())
        rows.append(row)
    return rows


def reliability_scores(rows: list[dict]) -> dict:
    """Spearman rank correlation, over workers, of the estimated ``reliability`` (and of the
    ``posterior_agreement``) with each worker's real accuracy; {} without the truth."""
    from scipy.stats import spearmanr

    if len(rows) < 3 or "truth_accuracy" not in rows[0]:
        return {}
    truth = [r["truth_accuracy"] for r in rows]
    out = {}
    for key, name in (("reliability", "worker_reliability_spearman"),
                      ("posterior_agreement", "worker_agreement_spearman")):
        rho = spearmanr([r[key] for r in rows], truth).statistic
        out[name] = None if np.isnan(rho) else round(float(rho), 4)
    return out
