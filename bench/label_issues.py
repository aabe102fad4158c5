"""Which training labels are wrong? CAN's trust against cleanlab, CROWDLAB and crowd-kit's
posteriors, scored against the truth (a label is wrong when it differs from the true class).

    python bench/label_issues.py --out runs/label-issues          # digits, music, tabular
    python bench/label_issues.py --data music --seeds 0 --out runs/label-issues
    python bench/label_issues.py --data cifar10n-worst --seeds 0 --out runs/label-issues

Every ranking is scored by ROC-AUC and average precision (positives: the wrong labels, ranked by
lowest quality first) and by precision at k = the true number of wrong labels (there precision
equals recall). Flagged sets (a cut-off, not a ranking) get their size, precision and recall.

The rows, and the probabilities each one reads (the table's ``probabilities`` column):

- CAN, trained once on every item with the data set's defaults: ``in-sample q`` is the guide's
  posterior q(y | x, ỹ) of the items it trained on; ``in-sample p`` the classifier's p_θ(y | x).
  ``mean answer trust`` is the trust ``inspect`` reports (the mean over an item's answers of the
  posterior probability that the answer is right); ``given-label trust`` the posterior
  probability of the item's given (for crowd data: voted) label (``posterior.given_trust``).
- CAN cross-fitted (``--folds`` folds, ``posterior.cross_fitted``): each fold's items scored by
  a CAN trained on the other folds: ``out-of-fold q`` and ``out-of-fold p``.
- cleanlab (``get_label_quality_scores`` with self_confidence, normalized_margin and
  confidence_weighted_entropy; ``find_label_issues`` for its flagged set) on ``out-of-fold
  plain``: the same network trained without a noise model (``method plain``, the data set's
  config otherwise) on the other folds, cleanlab's documented use (out-of-sample probabilities
  from K-fold cross-validation). The same K folds as CAN's cross-fitting.
- Several answers per item: CROWDLAB (``cleanlab.multiannotator.get_label_quality_multiannotator``
  on the answers and the out-of-fold plain probabilities; per answer its detailed label quality,
  per item the quality of the majority-vote consensus) and crowd-kit's Dawid–Skene and GLAD
  posteriors (answers only) of the answer's / the voted class; per worker, each one's estimate
  of the worker's reliability against the worker's true accuracy (Spearman, workers with at
  least ``MIN_ANSWERS`` answers).
- ``tabular-0.3`` (``TABULAR``): a new user's case, ``CANClassifier()`` with its defaults on a
  standardized ``make_classification`` set with 30% of the labels moved to another class, its
  ``find_label_issues()`` table as it comes, against cleanlab on ``PlainClassifier``'s
  out-of-fold probabilities (``cleanlab.count.estimate_cv_predicted_probabilities``).

Each (data set, seed) is cached in ``OUT/<data>-s<seed>.npz`` (the probabilities; the scores are
recomputed from them), so a rerun only trains what is missing. The table goes to stdout and
``OUT/table.md``. The truth is read only here, to score; no training run or choice reads it.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from pyro_can import labels, presets  # noqa: E402
from pyro_can.api import load_data  # noqa: E402
from pyro_can.config import Config  # noqa: E402
from pyro_can.experiments import mean_sd  # noqa: E402
from pyro_can.posterior import (answer_trust, cross_fitted, expected_wrong,  # noqa: E402
                                given_trust, item_trust, posterior)
from pyro_can.train import Trainer  # noqa: E402

SHARED = os.path.join(ROOT, "..", "shared", "data", "cifar10n")
#: where the shared copy of CIFAR-10N and its k-means features are; each label set's CAN
#: settings are its preset's ``can`` row (``configs/cifar10n-features-LABELS.toml``)
_CIFAR = dict(root=SHARED,
              features=os.path.join(SHARED, "features", "cifar10_kmeans400_pca256.npz"))
DATASETS = {
    "digits-0.4": dict(data="digits", noise_rate=0.4),
    "digits-0.8": dict(data="digits", noise_rate=0.8),
    "music": dict(data="music"),
    **{f"cifar10n-{labels}": dict(_CIFAR, preset=f"cifar10n-features-{labels}")
       for labels in ("worst", "random1", "aggre", "crowd")},
}
MIN_ANSWERS = 10
#: a new user's case: ``CANClassifier`` with its defaults on a scaled tabular set (scikit-learn's
#: ``make_classification``, 3,000 rows, 5 classes) with this share of labels flipped to another
#: class, ``find_label_issues()`` against cleanlab on the plain estimator's cross-validated
#: probabilities (``cleanlab.count.estimate_cv_predicted_probabilities``)
TABULAR = {"tabular-0.3": 0.3}


# -- scoring ---------------------------------------------------------------------------------------
def ranking_scores(wrong: np.ndarray, quality: np.ndarray) -> dict:
    """ROC-AUC, average precision and precision at k = the number of wrong labels of a ranking by
    ``quality`` (low = likely wrong) against ``wrong`` (bool): sklearn.metrics, positives = the
    wrong labels, score = −quality."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    wrong = np.asarray(wrong, bool)
    score = -np.asarray(quality, np.float64)
    k = int(wrong.sum())
    top = np.argsort(-score, kind="stable")[:k]
    return {"auc": float(roc_auc_score(wrong, score)),
            "ap": float(average_precision_score(wrong, score)),
            "p_at_k": float(wrong[top].mean()) if k else float("nan")}


def flagged_scores(wrong: np.ndarray, flagged: np.ndarray) -> dict:
    """Size, precision and recall of a flagged set against ``wrong``."""
    wrong, flagged = np.asarray(wrong, bool), np.asarray(flagged, bool)
    hits = int((wrong & flagged).sum())
    return {"flagged": int(flagged.sum()), "precision": hits / max(1, int(flagged.sum())),
            "recall": hits / max(1, int(wrong.sum()))}


def lowest(quality: np.ndarray, k: float) -> np.ndarray:
    """The ``round(k)`` items of lowest ``quality``, as a mask."""
    out = np.zeros(len(quality), bool)
    out[np.argsort(quality, kind="stable")[:int(round(k))]] = True
    return out


# -- the anchors -----------------------------------------------------------------------------------
CLEANLAB_METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")


def cleanlab_quality(labels: np.ndarray, probs: np.ndarray,
                     methods=CLEANLAB_METHODS) -> dict:
    """cleanlab's ``get_label_quality_scores`` for each of ``methods``, one score per row of
    ``labels`` (class indices) and ``probs`` (out-of-sample probabilities)."""
    from cleanlab import rank

    return {m: np.asarray(rank.get_label_quality_scores(labels, probs, method=m))
            for m in methods}


def cleanlab_flagged(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """cleanlab's ``find_label_issues`` (its default, prune_by_noise_rate) as a mask."""
    from cleanlab.filter import find_label_issues

    return np.asarray(find_label_issues(labels, probs), bool)


def crowd_frame(data):
    import pandas as pd

    return pd.DataFrame({"task": data.ann_item, "worker": data.ann_worker,
                         "label": data.ann_labels.argmax(1)})


def crowdkit_posteriors(data) -> dict:
    """Dawid–Skene's and GLAD's posteriors over the clean class (N, C) and their per-worker
    reliability: Dawid–Skene's probability of a right answer (its confusion matrix's diagonal
    weighted by its class prior), GLAD's ability α."""
    from crowdkit.aggregation import GLAD, DawidSkene

    frame, n, c = crowd_frame(data), data.num_items, data.num_classes
    workers = np.unique(data.ann_worker)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = DawidSkene(n_iter=100).fit(frame)
        glad = GLAD(n_iter=100).fit(frame)
    for name, model in (("dawid-skene", ds), ("glad", glad)):
        probs = model.probas_.reindex(index=np.arange(n), columns=np.arange(c)).to_numpy()
        out[name] = np.nan_to_num(probs.astype(np.float64), nan=1.0 / c)
    errors, prior = ds.errors_, ds.priors_.reindex(np.arange(c)).fillna(0).to_numpy()
    acc = np.array([sum(prior[k] * errors.loc[(w, k), k] if (w, k) in errors.index else 0.0
                        for k in range(c)) for w in workers])
    out["dawid-skene workers"] = dict(zip(workers, acc))
    out["glad workers"] = dict(zip(workers, glad.alphas_.reindex(workers).to_numpy()))
    return out


def crowdlab(data, probs: np.ndarray) -> dict:
    """CROWDLAB on the answers (a wide items × workers table) and out-of-sample ``probs``: per
    answer its detailed label quality, per item its majority-vote consensus label and that
    label's quality, per worker its annotator quality."""
    from cleanlab.multiannotator import get_label_quality_multiannotator

    workers = np.unique(data.ann_worker)
    col = np.searchsorted(workers, data.ann_worker)
    wide = np.full((data.num_items, len(workers)), np.nan)
    wide[data.ann_item, col] = data.ann_labels.argmax(1)
    import pandas as pd

    frame = pd.DataFrame(wide, columns=[f"w{w}" for w in workers])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = get_label_quality_multiannotator(frame, probs, consensus_method="majority_vote",
                                               verbose=False)
    detailed = res["detailed_label_quality"].to_numpy()
    stats = res["annotator_stats"]["annotator_quality"]
    return {"answer": detailed[data.ann_item, col],
            "consensus": res["label_quality"]["consensus_label"].to_numpy().astype(int),
            "consensus_quality": res["label_quality"]["consensus_quality_score"].to_numpy(),
            "workers": {w: float(stats.loc[f"w{w}"]) for w in workers}}


# -- one (data set, seed) --------------------------------------------------------------------------
def config(name: str, seed: int) -> Config:
    options = dict(DATASETS[name], seed=seed)
    preset = options.pop("preset", None)
    if preset is not None:
        return presets.read(preset).config("can", options)
    return Config(**options).validate()


def probabilities(name: str, seed: int, folds: int, out: Path, cross_fit: bool,
                  log=print) -> tuple[object, dict]:
    """The data set and its cached probabilities (trained if missing): ``q``, ``p`` (CAN on
    every item), ``cf_q``, ``cf_p`` (CAN cross-fitted), ``plain`` (out-of-fold plain)."""
    from pyro_can.cleanlab_anchor import out_of_fold_probs

    cfg = config(name, seed)
    data, _ = load_data(cfg)
    path = out / f"{name}-s{seed}.npz"
    cached = dict(np.load(path)) if path.exists() else {}
    if "q" not in cached:
        log(f"{name} seed {seed}: CAN on {data.num_items} items")
        trainer = Trainer(cfg, data)
        trainer.run()
        post = posterior(trainer)
        cached.update(q=post["q_y"], p=post["prior"],
                      **{k: np.asarray(v) for k, v in trainer.label_reliability.items()})
        if "plain" not in cached:
            log(f"{name} seed {seed}: plain, {folds} folds")
            cached["plain"] = out_of_fold_probs(trainer.cfg, trainer.data, folds,
                                                seed).astype(np.float32)
        np.savez(path, **cached)
    if cross_fit and "cf_q" not in cached:
        log(f"{name} seed {seed}: CAN cross-fitted, {folds} folds")
        cf = cross_fitted(cfg, data, folds, seed)
        cached.update(cf_q=cf["q_y"], cf_p=cf["prior"])
        np.savez(path, **cached)
    return data, cached


def _softmax_rows(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, np.float64)
    return p / np.maximum(p.sum(1, keepdims=True), 1e-12)


def evaluate(data, probs: dict, with_anchors: bool = True) -> dict:
    """Every row's scores on one (data set, seed): ``items`` and, for crowd data, ``answers``
    rankings, ``flagged`` sets and ``workers`` Spearman; each row keyed (name, probabilities)."""
    n = data.num_items
    given = data.item_labels(np.random.default_rng(0))  # as inspect, labels and CAN vote
    g = given.argmax(1)
    truth = data.y_train_clean.argmax(1)
    wrong = g != truth
    crowd = data.has_crowd
    res = {"items": {}, "agree": {}, "answers": {}, "flagged": {}, "workers": {},
           "counts": {"items": n, "wrong": int(wrong.sum())}}
    ans = data.ann_labels.argmax(1)
    ans_wrong = ans != truth[data.ann_item]
    if crowd:
        res["counts"].update(answers=len(ans), wrong_answers=int(ans_wrong.sum()))
    sources = [("in-sample", probs["q"], probs["p"])]
    if "cf_q" in probs:
        sources.append(("out-of-fold", probs["cf_q"], probs["cf_p"]))
    for where, q, p in sources:
        q, p = _softmax_rows(q), _softmax_rows(p)
        trust = given_trust(q, given, True)
        res["items"][("CAN given-label trust", f"{where} q")] = ranking_scores(wrong, trust)
        if crowd:
            res["items"][("CAN mean answer trust", f"{where} q")] = ranking_scores(
                wrong, item_trust(q, data.ann_item, data.ann_labels, True))
            per = answer_trust(q, data.ann_item, data.ann_labels, True)
            res["answers"][("CAN answer trust", f"{where} q")] = ranking_scores(ans_wrong, per)
            res["workers"][("CAN posterior agreement", f"{where} q")] = _worker_rho(
                data, ans_wrong, (q[data.ann_item].argmax(1) == ans).astype(float))
            res["workers"][("CAN mean answer trust", f"{where} q")] = _worker_rho(
                data, ans_wrong, per)
        res["items"][("CAN classifier p(given)", f"{where} p")] = ranking_scores(
            wrong, given_trust(p, given, True))
        res["flagged"][("CAN argmax(q) ≠ given", f"{where} q")] = flagged_scores(
            wrong, q.argmax(1) != g)
        res["flagged"][("CAN lowest trust, k = Σ(1 − trust)", f"{where} q")] = flagged_scores(
            wrong, lowest(trust, expected_wrong(trust)))
    # the default of ``labels`` and ``find_label_issues()`` (``labels.ISSUE_RULE``)
    reliability = {k: probs[k] for k in ("label_hit", "label_false_alarm") if k in probs}
    default = labels.table(given, _softmax_rows(probs["q"]), True, np.ones(n, bool),
                           not crowd, reliability)
    count = "anchor estimate" if reliability and not crowd else "Σ(1 − trust)"
    res["flagged"][(f"CAN is_label_issue (labels default: k from the {count})",
                    "in-sample q")] = flagged_scores(wrong, default["is_label_issue"])
    if not with_anchors:
        return res
    plain = _softmax_rows(probs["plain"])
    for m, quality in cleanlab_quality(g, plain).items():
        res["items"][(f"cleanlab {m}", "out-of-fold plain")] = ranking_scores(wrong, quality)
    res["flagged"][("cleanlab find_label_issues", "out-of-fold plain")] = flagged_scores(
        wrong, cleanlab_flagged(g, plain))
    if "cf_p" in probs:
        cf_p = _softmax_rows(probs["cf_p"])
        res["items"][("cleanlab self_confidence", "out-of-fold CAN p")] = ranking_scores(
            wrong, cleanlab_quality(g, cf_p, ("self_confidence",))["self_confidence"])
        res["flagged"][("cleanlab find_label_issues", "out-of-fold CAN p")] = flagged_scores(
            wrong, cleanlab_flagged(g, cf_p))
    if crowd:
        for m, quality in cleanlab_quality(ans, plain[data.ann_item]).items():
            res["answers"][(f"cleanlab {m}", "out-of-fold plain")] = ranking_scores(
                ans_wrong, quality)
        cl = crowdlab(data, plain)
        res["answers"][("CROWDLAB detailed label quality", "out-of-fold plain + answers")] = \
            ranking_scores(ans_wrong, cl["answer"])
        # its majority vote breaks ties with the probabilities, ours at random: where they
        # differ, the quality of CROWDLAB's label is evidence against the given one
        same = cl["consensus"] == g
        quality = np.where(same, cl["consensus_quality"], 1.0 - cl["consensus_quality"])
        res["counts"]["crowdlab_consensus_differs"] = int((~same).sum())
        res["items"][("CROWDLAB consensus quality", "out-of-fold plain + answers")] = \
            ranking_scores(wrong, quality)
        # the items where both majority votes agree: every row scores the same label
        own = cl["consensus"] != truth
        res["items"][("CROWDLAB consensus quality, of its own consensus label",
                      "out-of-fold plain + answers")] = ranking_scores(own,
                                                                        cl["consensus_quality"])
        res["counts"]["crowdlab_consensus_wrong"] = int(own.sum())
        res["workers"][("CROWDLAB annotator quality", "out-of-fold plain + answers")] = \
            _worker_rho(data, ans_wrong, None, cl["workers"])
        ck = crowdkit_posteriors(data)
        agree = {("CAN given-label trust", "in-sample q"):
                 given_trust(_softmax_rows(probs["q"]), given, True),
                 ("cleanlab self_confidence", "out-of-fold plain"):
                 cleanlab_quality(g, plain, ("self_confidence",))["self_confidence"],
                 ("CROWDLAB consensus quality", "out-of-fold plain + answers"):
                 cl["consensus_quality"]}
        for name in ("dawid-skene", "glad"):
            post = ck[name]
            label = "Dawid–Skene" if name == "dawid-skene" else "GLAD"
            res["items"][(f"{label} posterior of the given label", "answers only")] = \
                ranking_scores(wrong, post[np.arange(n), g])
            agree[(f"{label} posterior of the given label", "answers only")] = post[np.arange(n), g]
            res["answers"][(f"{label} posterior of the answer", "answers only")] = \
                ranking_scores(ans_wrong, post[data.ann_item, ans])
            res["workers"][(f"{label} worker reliability", "answers only")] = _worker_rho(
                data, ans_wrong, None, ck[f"{name} workers"])
        res["agree"] = {key: ranking_scores(wrong[same], quality[same])
                        for key, quality in agree.items()}
        res["workers"][("agreement with the majority vote", "answers only")] = _worker_rho(
            data, ans_wrong, (ans == g[data.ann_item]).astype(float))
    return res


def _worker_rho(data, ans_wrong, per_answer=None, per_worker=None) -> dict:
    """Spearman, over workers with at least ``MIN_ANSWERS`` answers, of an estimated reliability
    (the mean of ``per_answer`` over a worker's answers, or ``per_worker``[w]) with the worker's
    true accuracy."""
    from scipy.stats import spearmanr

    w = data.ann_worker
    counts = np.bincount(w)
    keep = np.flatnonzero(counts >= MIN_ANSWERS)
    true_acc = np.bincount(w, ~ans_wrong, len(counts))[keep] / counts[keep]
    if per_worker is None:
        est = np.bincount(w, per_answer, len(counts))[keep] / counts[keep]
    else:
        est = np.array([per_worker[k] for k in keep])
    return {"spearman": float(spearmanr(est, true_acc).statistic), "workers": len(keep)}


# -- the estimator on a tabular set ---------------------------------------------------------------
def tabular_data(seed: int, rate: float, n: int = 3000, classes: int = 5):
    """(X standardized, the noisy labels, the true ones): ``make_classification`` with ``rate``
    of the labels moved to a uniformly drawn other class."""
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    x, y = make_classification(n_samples=n, n_features=20, n_informative=10, n_classes=classes,
                               n_clusters_per_class=1, flip_y=0.0, random_state=seed)
    rng = np.random.default_rng(seed)
    flip = rng.random(n) < rate
    noisy = y.copy()
    noisy[flip] = (y[flip] + rng.integers(1, classes, flip.sum())) % classes
    return StandardScaler().fit_transform(x).astype(np.float32), noisy, y


def tabular_case(name: str, seed: int, folds: int, out: Path, log=print) -> dict:
    """CANClassifier().fit on the noisy labels; its ``find_label_issues()`` table (ranking by
    ``trust``, flagged set ``is_label_issue``) and cleanlab on out-of-fold PlainClassifier
    probabilities, scored against the true labels."""
    from pyro_can.estimator import CANClassifier, PlainClassifier

    x, noisy, y = tabular_data(seed, TABULAR[name])
    wrong = noisy != y
    path = out / f"{name}-s{seed}.npz"
    cached = dict(np.load(path)) if path.exists() else {}
    if "trust" not in cached:
        log(f"{name} seed {seed}: CANClassifier on {len(x)} rows")
        est = CANClassifier(seed=seed).fit(x, noisy)
        table = est.find_label_issues()
        cached.update(trust=table["trust"].to_numpy(),
                      flagged=table["is_label_issue"].to_numpy(), q=est.posterior_,
                      **{k: np.asarray(est.metrics_[k]) for k in ("label_hit", "label_false_alarm")
                         if k in est.metrics_})
        np.savez(path, **cached)
    if "plain" not in cached:
        from cleanlab.count import estimate_cv_predicted_probabilities

        log(f"{name} seed {seed}: PlainClassifier, {folds} folds")
        cached["plain"] = estimate_cv_predicted_probabilities(
            x, noisy, clf=PlainClassifier(seed=seed), cv_n_folds=folds, seed=seed)
        np.savez(path, **cached)
    res = {"items": {}, "answers": {}, "flagged": {}, "workers": {},
           "counts": {"items": len(x), "wrong": int(wrong.sum())}}
    res["items"][("CANClassifier.find_label_issues() trust", "in-sample q")] = ranking_scores(
        wrong, cached["trust"])
    res["flagged"][("CANClassifier.find_label_issues() is_label_issue", "in-sample q")] = \
        flagged_scores(wrong, cached["flagged"])
    q = _softmax_rows(cached["q"])
    res["flagged"][("CAN argmax(q) ≠ given", "in-sample q")] = flagged_scores(
        wrong, q.argmax(1) != noisy)
    trust = q[np.arange(len(noisy)), noisy]
    res["flagged"][("CAN lowest trust, k = Σ(1 − trust)", "in-sample q")] = flagged_scores(
        wrong, lowest(trust, expected_wrong(trust)))
    plain = _softmax_rows(cached["plain"])
    for m, quality in cleanlab_quality(noisy, plain).items():
        res["items"][(f"cleanlab {m}", "out-of-fold plain")] = ranking_scores(wrong, quality)
    res["flagged"][("cleanlab find_label_issues", "out-of-fold plain")] = flagged_scores(
        wrong, cleanlab_flagged(noisy, plain))
    return res


# -- the table -------------------------------------------------------------------------------------
def _merge(results: list[dict], part: str) -> dict:
    rows = {}
    for r in results:
        for key, vals in r[part].items():
            for metric, v in vals.items():
                rows.setdefault(key, {}).setdefault(metric, []).append(v)
    return rows


def _cell(values, digits=3) -> str:
    if isinstance(values[0], int):
        return f"{np.mean(values):.0f}"
    return mean_sd(values, digits) if len(values) > 1 else f"{values[0]:.{digits}f}"


def table(name: str, results: list[dict]) -> str:
    seeds = len(results)
    c = results[0]["counts"]
    head = (f"### {name} ({seeds} seed{'s' if seeds > 1 else ''}; {c['items']} items, "
            f"{np.mean([r['counts']['wrong'] for r in results]):.0f} wrong labels")
    if "answers" in c:
        head += f"; {c['answers']} answers, {c['wrong_answers']} wrong"
    lines = [head + ")", ""]
    for part, title, metrics in (
            ("items", "per item (the given label)", ("auc", "ap", "p_at_k")),
            ("agree", "per item, the items whose given label is CROWDLAB's majority vote too",
             ("auc", "ap", "p_at_k")),
            ("answers", "per answer", ("auc", "ap", "p_at_k")),
            ("flagged", "flagged set (per item)", ("flagged", "precision", "recall")),
            ("workers", "worker reliability vs true accuracy", ("spearman", "workers"))):
        rows = _merge([r for r in results if part in r], part)
        if not rows:
            continue
        names = {"auc": "ROC-AUC", "ap": "AP", "p_at_k": "P@k = R@k", "flagged": "flagged",
                 "precision": "precision", "recall": "recall", "spearman": "Spearman ρ",
                 "workers": "workers"}
        lines += [f"{title}:", "", "| row | probabilities | " +
                  " | ".join(names[m] for m in metrics) + " |",
                  "|---|---|" + "---|" * len(metrics)]
        for (row, src), vals in rows.items():
            got = len(vals[metrics[0]])
            if got < seeds:
                row += f" ({got} of {seeds} seeds)"
            lines.append(f"| {row} | {src} | " +
                         " | ".join(_cell(vals[m]) for m in metrics) + " |")
        lines.append("")
    if "crowdlab_consensus_differs" in c:
        lines.append(f"(CROWDLAB's majority vote breaks ties with the probabilities, the given "
                     f"label at random: they differ on {c['crowdlab_consensus_differs']} tied "
                     f"items (first seed), where CROWDLAB's row scores 1 − the quality of its own "
                     f"label. Its own consensus label is wrong on "
                     f"{c['crowdlab_consensus_wrong']} items.)\n")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="digits-0.4,digits-0.8,music,tabular-0.3",
                   help=f"comma-separated; known: {', '.join(DATASETS)}")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--folds", type=int, default=3, help="K of the out-of-fold probabilities")
    p.add_argument("--no-cross-fit", action="store_true",
                   help="skip CAN cross-fitted (K more CAN fits per data set and seed)")
    p.add_argument("--out", default="runs/label-issues")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = args.data.split(",")
    known = [*DATASETS, *TABULAR]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"--data: unknown {', '.join(unknown)}; known: {', '.join(known)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    text = []
    for name in names:
        results = []
        for seed in seeds:
            log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
            if name in TABULAR:
                results.append(tabular_case(name, seed, args.folds, out, log))
                continue
            data, probs = probabilities(name, seed, args.folds, out, not args.no_cross_fit, log)
            results.append(evaluate(data, probs))
        text.append(table(name, results))
        print(text[-1], flush=True)
    (out / "table.md").write_text("\n".join(text))


if __name__ == "__main__":
    main()
