"""Posterior inspection: which training labels does a finished run believe, and which not?

``inspect(run_dir)`` reads a finished run from its folder alone (``run_folder.RunFolder``: the
posterior of every training item, saved when the fit ended) and returns plain numpy arrays plus
a summary dict; ``write_report`` also writes ``RUN/inspect/`` (tables: ``inspection_tables``,
figures: ``inspection_figures``, the page: ``report``):

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

The source data is rebuilt only for what needs the inputs: cleanlab's cross-validation
(``cleanlab_anchor``), and the items' pixels for the figures and the report's thumbnails; when
it cannot be rebuilt (the input moved), those are skipped and the summary says why.

Library code never prints; the CLI (``cli_inspect.py``) reports progress through ``on_step``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import inspection_figures as figures_of, registry, runs, safe_io
from .errors import DataError, OptionError, RunFolderError
from .inspection_tables import issue_rows, item_rows, label_text
from .posterior import item_trust
from .ranking import ranking_figures, set_figures
from .run_folder import RunFolder

INSPECT_DIR = "inspect"
FILES = ("items.csv", "issues.csv", "summary.json", "quality_tsne.png", "latent_labels.png",
         "transitions.png", "report.html")
TRUST_FORMULA = {
    True: "single-label: mean over the item's annotations of q(noisy class) / sum_c q_c",
    False: "multi-label: mean over the item's annotations of prod_c a_c^(1/C), "
           "a_c = y~_c q_c + (1 - y~_c)(1 - q_c)",
}


class SourceData:
    """The run's source data, rebuilt from config.json the first time something needs the
    inputs (``RunFolder.data``), or why it cannot be (``reason``)."""

    def __init__(self, folder: RunFolder):
        self.folder, self._data, self.reason = folder, None, None

    def get(self):
        if self._data is None and self.reason is None:
            try:
                self._data = self.folder.data()[0]
            except (DataError, RunFolderError, OSError) as e:
                self.reason = f"the run's data cannot be rebuilt ({e})"
        return self._data

    def images(self, items):
        """The items as images for the figures (``inspection_figures.display_images``)."""
        if items.image_shape is None:
            return None
        if items.name == "digits":  # their pixels ship with scikit-learn
            return figures_of.digits_images(items.train_ids)
        data = self.get()
        return None if data is None else figures_of.display_images(data)


def _core(run) -> dict:
    """Per-item arrays from the run's posterior; no clustering, no cleanlab, no figures."""
    items, post = run.items, run.posterior
    if post["prior"] is None:
        raise RunFolderError(f"{run.run_dir}: written by an earlier pyro-can, whose "
                             f"posterior.npz holds no classifier prior; re-run it (pyro-can fit "
                             f"... --out {run.run_dir} --overwrite)")
    n, single = items.num_items, items.single_label
    ann_item, ann_labels = items.ann_item, items.ann_labels
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
    noisy = items.given_labels()  # the voted label for crowd data
    corrupted, _ = items.wrong_labels()
    return {
        "train_ids": np.asarray(items.train_ids), "q_y": q,
        "prior": post["prior"].astype(np.float64), "z_mu": z_mu, "z_sigma": z_sigma,
        "trust": item_trust(q, ann_item, ann_labels, single),
        "noisy_label": noisy.astype(np.float64), "posterior_label": posterior_label,
        "disagrees": (noisy != posterior_label).any(1),
        "corrupted": corrupted, "ann_item": ann_item, "ann_labels": ann_labels,
        "ann_worker": items.ann_worker, "z_loc": post["z_loc"], "z_scale": post["z_scale"],
        "class_names": list(items.class_names),
    }


def _summary(run, core: dict, folder: RunFolder) -> tuple[dict, list[str]]:
    items, cfg = run.items, run.cfg
    corrupted, wrong_from = items.wrong_labels()
    n, k = items.num_items, core["z_mu"].shape[1]
    notes = []
    if not k:
        notes.append("the run has no quality embedding z (quality_dim 0 or a method without "
                     "latent variables): z columns, quality_tsne.png and transitions.png skipped")
    if not registry.METHODS[cfg.method].latent:
        notes.append(f"method {cfg.method!r} has no posterior over y: q = the classifier prior p")
    summary = {
        "run_dir": str(folder.path), "method": cfg.method, "data": items.name,
        "items": n, "annotations": items.num_annotations, "classes": items.num_classes,
        "single_label": items.single_label, "quality_dim": k,
        "clusters": 0 if core["cluster"] is None else int(core["cluster"].max()) + 1,
        "trust_formula": TRUST_FORMULA[items.single_label],
        "corruption_known": corrupted is not None,
        "corrupted": None if corrupted is None else int(corrupted.sum()),
        "wrong_labels_from": wrong_from,
        "disagreements": int(core["disagrees"].sum()),
        "trust": {**ranking_figures(corrupted, -core["trust"]),
                  **set_figures(corrupted, core["disagrees"]),
                  "flagged_by": "posterior label differs from the noisy label"},
    }
    if registry.METHODS[cfg.method].latent:
        from .posterior_health import posterior_health

        summary["posterior_health"] = posterior_health(
            core["noisy_label"], core["q_y"], core["z_loc"], items.single_label,
            items.answered, warmup=(run.epochs, cfg.warmup_epochs or 0.0))
    if corrupted is None:
        notes.append("no corruption mask (the run applied no artificial noise) and no true "
                     "training labels: which labels are wrong cannot be known, so the ranking "
                     "figures are null and no figure marks labels as corrupted or kept")
    return summary, notes


def _inspect(run_dir, clusters: int, seed: int, with_cleanlab: bool, cleanlab_folds: int,
             on_step) -> tuple[dict, object, SourceData]:
    if clusters < 1:
        raise OptionError(f"--clusters must be at least 1, got {clusters}")
    if cleanlab_folds < 2:
        raise OptionError(f"cleanlab needs at least 2 folds, got {cleanlab_folds}")
    folder = RunFolder(run_dir)
    run = folder.fitted()
    source = SourceData(folder)
    core = _core(run)
    core["cluster"] = None
    if core["z_mu"].shape[1]:
        from sklearn.cluster import KMeans

        g = min(clusters, run.items.num_items)
        core["cluster"] = KMeans(g, n_init=10, random_state=seed).fit_predict(core["z_mu"])
    summary, notes = _summary(run, core, folder)
    core["cleanlab_quality"] = None
    if not with_cleanlab:
        summary["cleanlab"] = {"available": False, "reason": "skipped (with_cleanlab=False)"}
    elif source.get() is None:
        summary["cleanlab"] = {"available": False, "reason": source.reason}
        notes.append("cleanlab skipped: " + source.reason)
    else:
        from .cleanlab_anchor import cleanlab_scores

        summary["cleanlab"], core["cleanlab_quality"] = cleanlab_scores(
            run.cfg, source.get(), core["noisy_label"], core["corrupted"], cleanlab_folds,
            seed, on_step)
        if not summary["cleanlab"]["available"]:
            notes.append("cleanlab unavailable: " + summary["cleanlab"]["reason"])
        elif "error" in summary["cleanlab"]:
            notes.append("cleanlab failed: " + summary["cleanlab"]["error"])
    summary["notes"] = notes
    core["summary"] = summary
    return core, run, source


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
    core, _, _ = _inspect(run_dir, clusters, seed, with_cleanlab, cleanlab_folds, on_step)
    return core


def item_posterior(run_dir, item_id: int) -> dict:
    """One training item's noisy label(s), posterior and prior per class, quality embedding."""
    run = RunFolder(run_dir).fitted()
    ids = np.asarray(run.items.train_ids)
    rows = np.flatnonzero(ids == item_id)
    if not len(rows):
        raise OptionError(f"--item {item_id}: not in the run's training set (ids are "
                           f"{ids.min()}..{ids.max()}, {len(ids)} training items)")
    core = _core(run)
    corrupted = core["corrupted"]
    i = int(rows[0])
    names = core["class_names"]
    single = run.items.single_label
    anns = np.flatnonzero(core["ann_item"] == i)
    out = {
        "id": int(item_id), "row": i, "class_names": names,
        "noisy_labels": [{"label": label_text(core["ann_labels"][r], names, single),
                          "worker": int(core["ann_worker"][r])} for r in anns],
        "posterior_label": label_text(core["posterior_label"][i], names, single),
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


def write_report(run_dir, clusters: int = 4, seed: int = 0, with_cleanlab: bool = True,
                 cleanlab_folds: int = 3, on_step: Callable[[str], None] | None = None,
                 figures: bool = True) -> dict:
    """``inspect`` and write ``RUN/inspect/`` (see the module docstring); returns ``inspect``'s
    dict, whose summary also lists the files written (``files``) and where (``out``).
    ``figures=False`` writes only the tables and summary.json."""
    core, run, source = _inspect(run_dir, clusters, seed, with_cleanlab, cleanlab_folds, on_step)
    single = run.items.single_label
    out = safe_io.make_dir(run_dir, INSPECT_DIR)  # refused if a folder not pyro-can's
    summary = core["summary"]
    rows = item_rows(core, single)
    runs.write_csv(out / "items.csv", rows)
    runs.write_csv(out / "issues.csv", issue_rows(core, rows, single))
    written = ["items.csv", "issues.csv"]
    skipped = {}
    if on_step is not None and figures:
        on_step("drawing figures")
    images = source.images(run.items) if figures else None
    for name, draw in (("quality_tsne.png", figures_of.quality_tsne),
                       ("latent_labels.png", figures_of.latent_labels),
                       ("transitions.png", figures_of.transitions)):
        reason = draw(core, images, out / name, seed) if figures else "figures=False"
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
        path, shown = report.write(out, core, run, source, run_dir)
        summary["report"] = {"path": str(path), **shown}
        written.append(report.REPORT)
    else:
        safe_io.forget(out / "report.html")  # no stale page from an earlier inspect
    summary["out"] = str(out)
    summary["files"] = written + ["summary.json"]
    runs.write_json(out / "summary.json", summary)
    return core
