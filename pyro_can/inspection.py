"""Posterior inspection: which training labels does a finished run believe, and which not?

``inspect(run_dir)`` reloads a run, reads the guide's posterior for every training item
(``posterior.posterior``) and returns plain numpy arrays plus a summary dict; ``write_report``
also writes ``RUN/inspect/``:

    items.csv           one row per training item: id, noisy label(s), posterior label, trust,
                        corrupted (the label is wrong: by the artificial noise's mask, else by
                        the true training labels where the data set has them),
                        q_<class> = q(y_c = 1 | x, ỹ), p_<class> = classifier prior p_θ(y_c = 1 | x), z_mu_k / z_sigma_k (the
                        quality embedding's mean and scale, averaged over the item's annotations),
                        the KMeans group of z_mu, and cleanlab's label-quality score when computed
    issues.csv          the same items ranked most suspect (lowest trust) first, with the class(es)
                        the posterior prefers
    summary.json        ROC-AUC and precision@k of the trust ranking against the wrong labels
                        (the corruption mask when the run applied artificial noise, else the true
                        labels when known: music, CIFAR-10N) and the same figures for cleanlab
                        on out-of-fold predictions of the plain method; notes on anything skipped
    quality_tsne.png    t-SNE of the item-level z means, coloured by corrupted (else by trust)
                        (paper Fig. 7)
    latent_labels.png   items whose posterior label differs from the noisy one ('noisy → posterior')
    transitions.png     per KMeans group of z means, the noisy → latent label transition matrix
                        (paper Fig. 9)
    report.html         one self-contained page: the most suspect labels as a sortable,
                        filterable gallery (thumbnails for image data), the summary, the estimated
                        noise matrix, the quality-embedding figure, the workers (``report.py``)

Trust
-----
``trust_i`` is the posterior probability that item i's noisy label is right, averaged over its
annotations R_i (one for ordinary data, several for crowd data); higher = more likely right:

* single-label data (exactly one class on):
  ``trust_i = (1/|R_i|) Σ_r  q_{i,c_r} / Σ_c q_ic``, with c_r the class annotation r gives;
* multi-label data:
  ``trust_i = (1/|R_i|) Σ_r  Π_c a_irc^(1/C)``, ``a_irc = ỹ_rc q_ic + (1 − ỹ_rc)(1 − q_ic)``.

An item without any answer (possible in crowd data) has no trust (NaN) and is left out of the
ranking figures; it sorts last in ``issues.csv``.

Why these, chosen by reasoning about the model, not by peeking at the corruption mask: the guide
outputs C independent Bernoulli posteriors q_ic. For single-label data the true label is one of C
classes, so the categorical posterior is q normalized over classes, and the probability that the
given class is the true one is its normalized q. The per-class agreement average suggested in the
issue, (1/C) Σ_c a_ic = (1/C)[q_{i,noisy} + Σ_{c≠noisy}(1 − q_ic)], is not normalized: an item the
posterior is unsure about (all q small, e.g. 0.2 on the noisy class and 0.01 elsewhere) looks
almost as trustworthy as one it is sure of, because the C − 2 classes that are off in both label
and posterior contribute ~1 each and swamp the one entry that matters. For multi-label data the
factorized posterior is the model itself, and "the label vector is right" is the event that every
entry is right, with probability Π_c a_ic; the geometric mean (its C-th root) keeps it in [0, 1] and
comparable across class counts without changing the ranking. The arithmetic mean would again be
diluted by the many entries that are off in both label and posterior, while the paper's noise
(a shuffled label vector) makes a few entries wrong, which the product does not average away.
Methods without latent variables have q = p, so their trust is the classifier's own belief.

Library code never prints; the CLI (``cli_inspect.py``) reports progress through ``on_step``.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from . import registry, runs, safe_io
from .errors import OptionError, RunFolderError
from .posterior import item_trust
from .resolution import for_method

INSPECT_DIR = "inspect"
FILES = ("items.csv", "issues.csv", "summary.json", "quality_tsne.png", "latent_labels.png",
         "transitions.png", "report.html")
TRUST_FORMULA = {
    True: "single-label: mean over the item's annotations of q(noisy class) / sum_c q_c",
    False: "multi-label: mean over the item's annotations of prod_c a_c^(1/C), "
           "a_c = y~_c q_c + (1 - y~_c)(1 - q_c)",
}
_EPS = 1e-12


# -- loading ---------------------------------------------------------------------------------------
WRONG_FROM_MASK = "corruption mask (the artificial noise the run applied)"
WRONG_FROM_TRUTH = "true labels: the item's (voted) noisy label differs from its true label"


def _load(run_dir):
    """The run's trainer (final weights, training data) and which items' labels are wrong, with
    where that comes from: the corruption mask of artificial noise, else the true training labels
    when the data set has them (music's clips, CIFAR-10N), else nothing (None, None)."""
    from . import api

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunFolderError(f"{run_dir}: no such run folder")
    trainer = api.load(run_dir)
    data = trainer.data
    rec = api.saved_train_data(run_dir, data)  # checked against the rebuilt data by api.load
    # the rebuilt data set says whether the truth is known (a user's own labels never are); a
    # run folder written before it said so may still record the given labels as "clean"
    if data.corrupted is not None:
        return trainer, np.asarray(rec.get("corrupted", data.corrupted), bool), WRONG_FROM_MASK
    truth = None if data.y_train_clean is None else rec.get("y_train_clean", data.y_train_clean)
    if truth is None or np.shape(truth) != (data.num_items, data.num_classes):
        return trainer, None, None
    voted = data.item_labels(np.random.default_rng(0))  # the label cleanlab is given, too
    return trainer, ((voted > 0.5) != (np.asarray(truth) > 0.5)).any(1), WRONG_FROM_TRUTH


def _label_text(row: np.ndarray, names: list[str], single: bool) -> str:
    on = np.flatnonzero(row > 0.5)
    if single:
        return names[int(np.argmax(row))]
    return "+".join(names[c] for c in on) if len(on) else "(none)"


def _core(trainer, corrupted) -> dict:
    """Per-item arrays from the posterior; no clustering, no cleanlab, no figures."""
    from .posterior import posterior

    data = trainer.data
    post = posterior(trainer)
    n, single = data.num_items, data.single_label
    ann_item, ann_labels = post["ann_item"], post["ann_labels"]
    q = post["q_y"].astype(np.float64)
    counts = np.bincount(ann_item, minlength=n)[:, None]
    k = post["z_loc"].shape[1]
    z_mu = np.zeros((n, k))
    z_sigma = np.zeros((n, k))
    if k:
        np.add.at(z_mu, ann_item, post["z_loc"])
        np.add.at(z_sigma, ann_item, post["z_scale"])
        z_mu /= np.maximum(counts, 1)
        z_sigma /= np.maximum(counts, 1)
    if single:
        posterior_label = np.zeros_like(q)
        posterior_label[np.arange(n), q.argmax(1)] = 1.0
    else:
        posterior_label = (q > 0.5).astype(np.float64)
    noisy = data.item_labels(np.random.default_rng(0))  # the voted label for crowd data
    return {
        "train_ids": np.asarray(data.train_ids), "q_y": q,
        "prior": post["prior"].astype(np.float64), "z_mu": z_mu, "z_sigma": z_sigma,
        "trust": item_trust(q, ann_item, ann_labels, single),
        "noisy_label": noisy.astype(np.float64), "posterior_label": posterior_label,
        "disagrees": (noisy != posterior_label).any(1),
        "corrupted": corrupted, "ann_item": ann_item, "ann_labels": ann_labels,
        "ann_worker": post["ann_worker"], "z_loc": post["z_loc"], "z_scale": post["z_scale"],
        "class_names": list(data.class_names),
    }


# -- ranking quality -------------------------------------------------------------------------------
def _ranking_figures(corrupted: np.ndarray | None, suspicion: np.ndarray) -> dict:
    """ROC-AUC and precision@k (k = number of corrupted items) of ranking by ``suspicion``."""
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


def _set_figures(corrupted: np.ndarray | None, flagged: np.ndarray) -> dict:
    out = {"flagged": int(flagged.sum())}
    if corrupted is not None and corrupted.any():
        hit = int((flagged & corrupted).sum())
        out["flagged_precision"] = hit / out["flagged"] if out["flagged"] else None
        out["flagged_recall"] = hit / int(corrupted.sum())
    return out


# -- cleanlab on out-of-fold plain predictions -------------------------------------------------------
def _out_of_fold_probs(trainer, folds: int, seed: int, on_step) -> np.ndarray:
    """Class probabilities of the plain method for every training item, each from a model trained
    on the other folds with the run's own config (method replaced by ``plain``): what that
    classifier really outputs, a softmax for a softmax classifier, per-class sigmoids otherwise."""
    from sklearn.model_selection import KFold, StratifiedKFold

    from .train import Trainer, class_scores

    data, cfg = trainer.data, trainer.cfg
    plain = for_method(cfg, "plain")  # CAN's own options back at their defaults
    n = data.num_items
    strata = data.item_labels(np.random.default_rng(0)).argmax(1) if data.single_label else None
    splitter = KFold(folds, shuffle=True, random_state=seed)
    if strata is not None and np.bincount(strata).min() >= folds:
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    scores = np.zeros((n, data.num_classes))
    for f, (fit_idx, held_idx) in enumerate(splitter.split(np.zeros(n), strata)):
        if on_step is not None:
            on_step(f"cleanlab: training plain on fold {f + 1}/{folds} "
                    f"({len(fit_idx)} items, {plain.epochs} epochs)")
        fold_trainer = Trainer(plain, data.subset(np.sort(fit_idx)))
        fold_trainer.run()
        logits = fold_trainer.predict_logits(data.x_train[held_idx], "train")
        scores[held_idx] = class_scores(fold_trainer.cfg, logits)
    return scores


def _cleanlab(trainer, core: dict, folds: int, seed: int, on_step) -> tuple[dict, np.ndarray | None]:
    try:
        import cleanlab  # noqa: F401  (optional extra: pip install pyro-can[compare])
    except ImportError as e:
        return {"available": False, "reason": f"cleanlab not installed ({e})"}, None
    data = trainer.data
    out = {"available": True, "folds": folds, "method": "plain (out-of-fold)",
           "probabilities": ("softmax" if trainer.cfg.categorical_y else
                             "per-class sigmoid" + (", normalized" if data.single_label else "")),
           "filter_by": "prune_by_noise_rate", "ranked_by": "self_confidence"}
    try:
        scores = _out_of_fold_probs(trainer, folds, seed, on_step)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if data.single_label:
                from cleanlab.filter import find_label_issues
                from cleanlab.rank import get_label_quality_scores

                labels = core["noisy_label"].argmax(1)
                # a softmax classifier's probabilities go in as they are; per-class sigmoids
                # (--latent bernoulli on single-label data) have no joint distribution to give,
                # so cleanlab gets them normalized over classes
                probs = (scores if trainer.cfg.categorical_y
                         else scores / np.maximum(scores.sum(1, keepdims=True), _EPS))
                quality = get_label_quality_scores(labels, probs, method="self_confidence")
                issues = find_label_issues(labels, probs, filter_by="prune_by_noise_rate",
                                           return_indices_ranked_by="self_confidence")
            else:
                from cleanlab.filter import find_label_issues
                from cleanlab.multilabel_classification.rank import get_label_quality_scores

                labels = [list(np.flatnonzero(r > 0.5)) for r in core["noisy_label"]]
                quality = get_label_quality_scores(labels, scores, method="self_confidence")
                issues = find_label_issues(labels, scores, filter_by="prune_by_noise_rate",
                                           return_indices_ranked_by="self_confidence",
                                           multi_label=True)
    except Exception as e:  # cleanlab is a comparison, never a reason for inspect to fail
        out.update({"error": f"{type(e).__name__}: {e}"})
        return out, None
    flagged = np.zeros(data.num_items, bool)
    flagged[np.asarray(issues, int)] = True
    out.update(_ranking_figures(core["corrupted"], -np.asarray(quality, float)))
    out.update(_set_figures(core["corrupted"], flagged))
    return out, np.asarray(quality, float)


# -- the library entry points ----------------------------------------------------------------------
def _inspect(run_dir, clusters: int, seed: int, with_cleanlab: bool, cleanlab_folds: int,
             on_step) -> tuple[dict, object]:
    if clusters < 1:
        raise OptionError(f"--clusters must be at least 1, got {clusters}")
    if cleanlab_folds < 2:
        raise OptionError(f"cleanlab needs at least 2 folds, got {cleanlab_folds}")
    trainer, corrupted, wrong_from = _load(run_dir)
    data, cfg = trainer.data, trainer.cfg
    core = _core(trainer, corrupted)
    n, k = data.num_items, core["z_mu"].shape[1]
    notes = []
    core["cluster"] = None
    if k:
        from sklearn.cluster import KMeans

        g = min(clusters, n)
        core["cluster"] = KMeans(g, n_init=10, random_state=seed).fit_predict(core["z_mu"])
    else:
        notes.append("the run has no quality embedding z (quality_dim 0 or a method without "
                     "latent variables): z columns, quality_tsne.png and transitions.png skipped")
    if not registry.METHODS[cfg.method].latent:
        notes.append(f"method {cfg.method!r} has no posterior over y: q = the classifier prior p")
    trust = core["trust"]
    summary = {
        "run_dir": str(run_dir), "method": cfg.method, "data": data.name,
        "items": n, "annotations": data.num_annotations, "classes": data.num_classes,
        "single_label": data.single_label, "quality_dim": k,
        "clusters": 0 if core["cluster"] is None else int(core["cluster"].max()) + 1,
        "trust_formula": TRUST_FORMULA[data.single_label],
        "corruption_known": corrupted is not None,
        "corrupted": None if corrupted is None else int(corrupted.sum()),
        "wrong_labels_from": wrong_from,
        "disagreements": int(core["disagrees"].sum()),
        "trust": {**_ranking_figures(corrupted, -trust),
                  **_set_figures(corrupted, core["disagrees"]),
                  "flagged_by": "posterior label differs from the noisy label"},
    }
    if registry.METHODS[cfg.method].latent:
        from .posterior_health import posterior_health

        summary["posterior_health"] = posterior_health(
            core["noisy_label"], core["q_y"], core["z_loc"], data.single_label,
            np.bincount(core["ann_item"], minlength=n) > 0,
            warmup=(trainer.epoch, cfg.warmup_epochs or 0.0))
    if corrupted is None:
        notes.append("no corruption mask (the run applied no artificial noise) and no true "
                     "training labels: which labels are wrong cannot be known, so the ranking "
                     "figures are null and no figure marks labels as corrupted or kept")
    core["cleanlab_quality"] = None
    if with_cleanlab:
        summary["cleanlab"], core["cleanlab_quality"] = _cleanlab(
            trainer, core, cleanlab_folds, seed, on_step)
        if not summary["cleanlab"]["available"]:
            notes.append("cleanlab unavailable: " + summary["cleanlab"]["reason"])
        elif "error" in summary["cleanlab"]:
            notes.append("cleanlab failed: " + summary["cleanlab"]["error"])
    else:
        summary["cleanlab"] = {"available": False, "reason": "skipped (with_cleanlab=False)"}
    summary["notes"] = notes
    core["summary"] = summary
    return core, trainer


def inspect(run_dir, clusters: int = 4, seed: int = 0, with_cleanlab: bool = True,
            cleanlab_folds: int = 3, on_step: Callable[[str], None] | None = None) -> dict:
    """Posterior inspection of the finished run in ``run_dir``.

    Returns numpy arrays over the N training items (in training order) and a summary dict:
    ``train_ids`` (N,), ``q_y``/``prior`` (N, C), ``z_mu``/``z_sigma`` (N, K; K = 0 without z),
    ``trust`` (N,), ``noisy_label``/``posterior_label`` (N, C) 0/1 (the voted label for crowd
    data), ``disagrees`` (N,) bool, ``corrupted`` (N,) bool or None, ``cluster`` (N,) KMeans group of
    ``z_mu`` or None, ``cleanlab_quality`` (N,) or None, the per-annotation ``ann_item``,
    ``ann_labels``, ``ann_worker``, ``z_loc``, ``z_scale``, ``class_names`` and ``summary``.

    With ``with_cleanlab`` (and cleanlab installed) the plain method is trained
    ``cleanlab_folds`` times, which costs about that many plain runs."""
    core, _ = _inspect(run_dir, clusters, seed, with_cleanlab, cleanlab_folds, on_step)
    return core


def item_posterior(run_dir, item_id: int) -> dict:
    """One training item's noisy label(s), posterior and prior per class, quality embedding."""
    trainer, corrupted, _ = _load(run_dir)
    ids = np.asarray(trainer.data.train_ids)
    rows = np.flatnonzero(ids == item_id)
    if not len(rows):
        raise OptionError(f"--item {item_id}: not in the run's training set (ids are "
                           f"{ids.min()}..{ids.max()}, {len(ids)} training items)")
    core = _core(trainer, corrupted)
    i = int(rows[0])
    names = core["class_names"]
    single = trainer.data.single_label
    anns = np.flatnonzero(core["ann_item"] == i)
    out = {
        "id": int(item_id), "row": i, "class_names": names,
        "noisy_labels": [{"label": _label_text(core["ann_labels"][r], names, single),
                          "worker": int(core["ann_worker"][r])} for r in anns],
        "posterior_label": _label_text(core["posterior_label"][i], names, single),
        "trust": float(core["trust"][i]),
        "posterior": {c: float(v) for c, v in zip(names, core["q_y"][i])},
        "prior": {c: float(v) for c, v in zip(names, core["prior"][i])},
        "quality": [{"mu": [float(v) for v in core["z_loc"][r]],
                     "sigma": [float(v) for v in core["z_scale"][r]]} for r in anns],
    }
    if corrupted is not None:
        out["corrupted"] = bool(corrupted[i])
    if len(rows) > 1:  # --crowd repeat: one training row per answer, all with the item's id
        out["other_rows"] = [int(r) for r in rows[1:]]
    return out


# -- files -----------------------------------------------------------------------------------------
def _f(v: float) -> float:
    return round(float(v), 6)


def _rows(core: dict, single: bool) -> list[dict]:
    names = core["class_names"]
    n = len(core["trust"])
    answers: list[list[str]] = [[] for _ in range(n)]
    for r, i in enumerate(core["ann_item"]):
        answers[i].append(_label_text(core["ann_labels"][r], names, single))
    crowd = any(len(a) != 1 for a in answers)
    rows = []
    for i in range(n):
        row = {"id": int(core["train_ids"][i]), "noisy_label": ";".join(answers[i])}
        if crowd:
            row["answers"] = len(answers[i])
        row["posterior_label"] = _label_text(core["posterior_label"][i], names, single)
        row["trust"] = _f(core["trust"][i])
        if core["corrupted"] is not None:
            row["corrupted"] = int(core["corrupted"][i])
        row.update({f"q_{c}": _f(v) for c, v in zip(names, core["q_y"][i])})
        row.update({f"p_{c}": _f(v) for c, v in zip(names, core["prior"][i])})
        row.update({f"z_mu_{j}": _f(v) for j, v in enumerate(core["z_mu"][i])})
        row.update({f"z_sigma_{j}": _f(v) for j, v in enumerate(core["z_sigma"][i])})
        if core["cluster"] is not None:
            row["cluster"] = int(core["cluster"][i])
        if core["cleanlab_quality"] is not None:
            row["cleanlab_quality"] = _f(core["cleanlab_quality"][i])
        rows.append(row)
    return rows


def _issue_rows(core: dict, rows: list[dict], single: bool) -> list[dict]:
    q = core["q_y"]
    out = []
    for rank, i in enumerate(np.argsort(core["trust"], kind="stable"), start=1):
        r = rows[i]
        row = {"rank": rank, "id": r["id"], "noisy_label": r["noisy_label"],
               "posterior_label": r["posterior_label"]}
        if single:
            row["posterior_prob"] = _f(q[i].max() / max(q[i].sum(), _EPS))
        row["trust"] = r["trust"]
        row["posterior_disagrees"] = int(core["disagrees"][i])
        if "corrupted" in r:
            row["corrupted"] = r["corrupted"]
        out.append(row)
    return out


def write_report(run_dir, clusters: int = 4, seed: int = 0, with_cleanlab: bool = True,
                 cleanlab_folds: int = 3, on_step: Callable[[str], None] | None = None,
                 figures: bool = True) -> dict:
    """``inspect`` and write ``RUN/inspect/`` (see the module docstring); returns ``inspect``'s
    dict, whose summary also lists the files written (``files``) and where (``out``).
    ``figures=False`` writes only the tables and summary.json."""
    core, trainer = _inspect(run_dir, clusters, seed, with_cleanlab, cleanlab_folds, on_step)
    data = trainer.data
    single = data.single_label
    out = safe_io.make_dir(run_dir, INSPECT_DIR)  # refused if a folder not pyro-can's
    summary = core["summary"]
    rows = _rows(core, single)
    runs.write_csv(out / "items.csv", rows)
    runs.write_csv(out / "issues.csv", _issue_rows(core, rows, single))
    written = ["items.csv", "issues.csv"]
    skipped = {}
    if on_step is not None and figures:
        on_step("drawing figures")
    for name, draw in (("quality_tsne.png", _quality_tsne),
                       ("latent_labels.png", _latent_labels),
                       ("transitions.png", _transitions)):
        reason = draw(core, data, out / name, seed) if figures else "figures=False"
        if reason:
            skipped[name] = reason
            safe_io.forget(out / name)  # no stale figure from an earlier inspect
        else:
            written.append(name)
    summary["figures_skipped"] = skipped
    if figures:  # the page inlines quality_tsne.png, so it comes after the figures
        from . import report

        if on_step is not None:
            on_step("writing report.html")
        path, shown = report.write(out, core, trainer, run_dir)
        summary["report"] = {"path": str(path), **shown}
        written.append(report.REPORT)
    else:
        safe_io.forget(out / "report.html")  # no stale page from an earlier inspect
    summary["out"] = str(out)
    summary["files"] = written + ["summary.json"]
    runs.write_json(out / "summary.json", summary)
    return core


# -- figures (matplotlib's object API: no pyplot state, no backend switch) -----------------------------
def _save(fig, path: Path) -> None:
    safe_io.write(path, lambda fh: fig.savefig(fh, format="png", dpi=110))


def _quality_tsne(core: dict, data, path: Path, seed: int) -> str | None:
    from matplotlib.figure import Figure
    from sklearn.manifold import TSNE

    mu = core["z_mu"]
    n, k = mu.shape
    if k == 0:
        return "no quality embedding z in this run"
    if n < 5:
        return f"t-SNE needs at least 5 items, the run has {n}"
    emb = TSNE(2, perplexity=min(30.0, (n - 1) / 3), init="pca", random_state=seed).fit_transform(
        mu.astype(np.float64))
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    if core["corrupted"] is not None:
        c = core["corrupted"]
        ax.scatter(*emb[~c].T, s=7, c="tab:blue", alpha=0.6, label=f"label kept ({(~c).sum()})")
        ax.scatter(*emb[c].T, s=7, c="tab:red", alpha=0.6, label=f"label corrupted ({c.sum()})")
        ax.legend(loc="best", fontsize=8, markerscale=2)
    else:
        sc = ax.scatter(*emb.T, s=7, c=core["trust"], cmap="viridis", vmin=0, vmax=1)
        fig.colorbar(sc, ax=ax, label="trust")
    ax.set_title(f"t-SNE of the quality embedding μ (K={k}, {n} items)", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    _save(fig, path)
    return None


def _display_images(data) -> np.ndarray | None:
    """Items as images (N, H, W) or (N, H, W, 3) in [0, 1]: the source pixels for digits, else the
    training features reshaped to ``data.image_shape``; None when they are not an image."""
    shape = tuple(data.image_shape or ())
    if not shape or int(np.prod(shape)) != data.x_train.shape[1] or len(shape) not in (2, 3):
        return None
    if data.name == "digits":
        from sklearn.datasets import load_digits

        x = load_digits().images[np.asarray(data.train_ids)].astype(np.float64)
    else:
        x = data.x_train.reshape((len(data.x_train),) + shape).astype(np.float64)
    if len(shape) == 3:
        if shape[0] in (1, 3) and shape[-1] not in (1, 3):  # channels first -> last
            x = np.moveaxis(x, 1, -1)
        if x.shape[-1] == 1:
            x = x[..., 0]
        elif x.shape[-1] != 3:
            return None
    lo = x.reshape(len(x), -1).min(1).reshape((-1,) + (1,) * (x.ndim - 1))
    hi = x.reshape(len(x), -1).max(1).reshape((-1,) + (1,) * (x.ndim - 1))
    return (x - lo) / np.maximum(hi - lo, _EPS)


def _latent_labels(core: dict, data, path: Path, seed: int, limit: int = 16) -> str | None:
    from matplotlib.figure import Figure

    names, single = core["class_names"], data.single_label
    order = np.argsort(core["trust"], kind="stable")
    picked = [i for i in order if core["disagrees"][i]][:limit]
    heading = "posterior label differs from the noisy label (lowest trust first)"
    if not picked:
        picked = list(order[:limit])
        heading = "no item's posterior label differs from its noisy label; lowest-trust items"
    images = _display_images(data)
    cols = min(4, len(picked))
    rows = -(-len(picked) // cols)
    fig = Figure(figsize=(2.4 * cols, 2.5 * rows + 0.6) if images is not None
                 else (3.6 * cols, 2.4 * rows + 0.6))
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, i in zip(axes, picked):
        title = (f"{_label_text(core['noisy_label'][i], names, single)} → "
                 f"{_label_text(core['posterior_label'][i], names, single)}")
        color = "black"
        if core["corrupted"] is not None:
            color = "tab:red" if core["corrupted"][i] else "tab:green"
        if images is not None:
            ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            q = core["q_y"][i]
            noisy = core["noisy_label"][i] > 0.5
            ax.bar(np.arange(len(q)), q, color=np.where(noisy, "tab:orange", "tab:blue"))
            ax.set_ylim(0, 1)
            ax.set_xticks(np.arange(len(q)))
            ax.set_xticklabels(names if len(names) <= 12 else [""] * len(names), fontsize=6,
                               rotation=90 if max(map(len, names)) > 2 else 0)
            ax.tick_params(axis="y", labelsize=6)
        ax.set_title(f"id {core['train_ids'][i]}: {title}", fontsize=8, color=color)
    for ax in axes[len(picked):]:
        ax.axis("off")
    legend = "noisy → posterior"
    if core["corrupted"] is not None:
        legend += "; title red = label was corrupted, green = label was kept"
    if images is None:
        legend += "; bars: q(y_c), orange = noisy class(es)"
    fig.suptitle(f"{heading}\n{legend}", fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    return None


def _transitions(core: dict, data, path: Path, seed: int) -> str | None:
    from matplotlib.figure import Figure

    if core["cluster"] is None:
        return "no quality embedding z in this run"
    names = core["class_names"]
    cluster, groups = core["cluster"], int(core["cluster"].max()) + 1
    c = len(names)
    cols = min(4, groups)
    rows = -(-groups // cols)
    fig = Figure(figsize=(3.3 * cols + 0.8, 3.4 * rows + 0.5), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    im = None
    for g, ax in enumerate(axes[:groups]):
        members = cluster == g
        ann = members[core["ann_item"]]
        # every answer of the group's items: noisy class(es) (rows) → latent class(es) (columns)
        counts = core["ann_labels"][ann].T.astype(np.float64) @ core["posterior_label"][
            core["ann_item"][ann]]
        shares = counts / np.maximum(counts.sum(1, keepdims=True), _EPS)
        im = ax.imshow(shares, vmin=0, vmax=1, cmap="Blues")
        title = f"group {g + 1}: {int(members.sum())} items"
        if core["corrupted"] is not None and members.any():
            title += f", {core['corrupted'][members].mean():.0%} corrupted"
        ax.set_title(title, fontsize=8)
        ticks = np.arange(c)
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
        labels = names if c <= 20 else [""] * c
        ax.set_xticklabels(labels, fontsize=6, rotation=90 if max(map(len, names)) > 2 else 0)
        ax.set_yticklabels(labels, fontsize=6)
        ax.set_xlabel("latent (posterior) label", fontsize=7)
        ax.set_ylabel("noisy label", fontsize=7)
    for ax in axes[groups:]:
        ax.axis("off")
    fig.suptitle("noisy → latent label transitions per KMeans group of the quality embedding μ "
                 "(rows sum to 1)", fontsize=9)
    if im is not None:
        fig.colorbar(im, ax=list(axes[:groups]), shrink=0.8)
    _save(fig, path)
    return None
