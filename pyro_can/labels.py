"""The cleaned-label table: every training item's given label, the label CAN's posterior believes,
the trust in the given one, and whether it is a label issue — for ``pyro-can labels RUN`` and
``CANClassifier.find_label_issues()`` alike (cleanlab's ``find_label_issues`` columns:
``given_label``, ``predicted_label`` = our ``posterior_label``, ``label_quality`` = our ``trust``,
``is_label_issue``).

``trust`` is ``posterior.given_trust``: the posterior probability that the item's given label is
right (for crowd data the majority vote of its answers, ties broken with a fixed seed, as
``inspect`` does). Sort it ascending to review the likeliest errors first.

The rule (``ISSUE_RULE``): the ``issue_count`` items of lowest trust are the issues, where
``issue_count`` estimates how many given labels are wrong. A fixed rule (the posterior's arg-max
differs from the given label, or a threshold on trust) flags far too few: the in-sample posterior
has fitted the labels it trained on, so it believes most wrong ones (30% of a tabular set's
labels flipped: 82 flagged, recall 0.125). Single-label data with one answer per item count
them from the noise model's anchor estimate (``anchors.py``, made from the warm classifier
before it fits the noise): per class c, the share of the items labelled c whose class is not c,
``1 − π_c·hit_c / r_c`` (``anchor_issue_share``). Elsewhere (several answers per item,
multi-label data, runs without the estimate) the count is the posterior's own expectation
Σ (1 − trust) (``posterior.expected_wrong``). An item without any answer is never an issue."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from . import runs, safe_io
from .errors import DataError
from .posterior import expected_wrong, given_trust

ISSUE_RULE = ("is_label_issue: the k items of lowest trust, k the estimated number of wrong "
              "labels: single-label with one answer per item, from the noise model's anchor "
              "estimate (hit and false-alarm rate per class); otherwise the posterior's "
              "expected count, the sum of (1 - trust)")


def anchor_issue_share(given: np.ndarray, hit, false_alarm) -> np.ndarray:
    """Per class c, the estimated share of the items labelled c whose class is not c, from the
    per-class rates ``hit`` P(ỹ = c | y = c) and ``false_alarm`` P(ỹ = c | y ≠ c) of the noise
    model's anchor estimate and the share r_c of labels c in ``given`` (N, C): the class's base
    rate π_c = (r_c − fa_c) / (hit_c − fa_c) solves r_c = π_c·hit_c + (1 − π_c)·fa_c, and
    P(y = c | ỹ = c) = π_c·hit_c / r_c (Bayes)."""
    hit, fa = np.asarray(hit, np.float64), np.asarray(false_alarm, np.float64)
    r = given.mean(0)
    base = np.clip((r - fa) / np.maximum(hit - fa, 1e-6), 0.0, 1.0)
    right = np.clip(base * hit / np.maximum(r, 1e-12), 0.0, 1.0)
    return 1.0 - right


def issue_count(given: np.ndarray, trust: np.ndarray, answered: np.ndarray, single_label: bool,
                one_answer_each: bool, reliability: dict | None = None) -> int:
    """How many given labels are likely wrong (``ISSUE_RULE``): ``reliability`` is the run's
    anchor estimate (``label_hit``, ``label_false_alarm``, as metrics.json keeps it)."""
    reliability = reliability or {}
    if single_label and one_answer_each and "label_hit" in reliability:
        share = anchor_issue_share(given[answered], reliability["label_hit"],
                                   reliability["label_false_alarm"])
        count = float((given[answered] * share).sum())
    else:
        count = expected_wrong(trust[answered])
    return int(round(count))


def flag_lowest(trust: np.ndarray, count: int, answered: np.ndarray) -> np.ndarray:
    """The ``count`` answered items of lowest ``trust``, as a mask (ties: the first in order)."""
    order = np.flatnonzero(answered)[np.argsort(trust[answered], kind="stable")]
    out = np.zeros(len(trust), bool)
    out[order[:max(0, count)]] = True
    return out


def table(given: np.ndarray, q: np.ndarray, single_label: bool, answered: np.ndarray,
          one_answer_each: bool, reliability: dict | None = None) -> dict:
    """Arrays over N items from ``given`` (N, C) 0/1 labels, the posterior ``q`` (N, C) and
    ``answered`` (N,) bool (items with at least one answer); ``one_answer_each``: the given label
    is the item's only answer; ``reliability``: the run's anchor estimate, if any."""
    if single_label:
        posterior = np.eye(q.shape[1])[q.argmax(1)]
    else:
        posterior = (q > 0.5).astype(np.float64)
    trust = given_trust(q, given, single_label)
    trust = np.where(answered, trust, np.nan)
    count = issue_count(given, trust, answered, single_label, one_answer_each, reliability)
    return {"given_label": given, "posterior_label": posterior, "trust": trust,
            "is_label_issue": flag_lowest(trust, count, answered)}


def of_fitted(run) -> dict:
    """The table of a ``fitted.FittedRun``'s training items, from its posterior."""
    items = run.items
    q = run.posterior["q_y"].astype(np.float64)
    t = table(items.given_labels(), q, items.single_label, items.answered, not items.has_crowd,
              run.label_reliability)
    t["id"] = np.asarray(items.train_ids)
    return t


def of_run(run_dir) -> tuple[dict, object]:
    """The table of a finished run's training items and the run (``fitted.FittedRun``), read
    from the run folder alone (``run_folder.RunFolder``)."""
    from .run_folder import RunFolder

    run = RunFolder(run_dir).fitted()
    return of_fitted(run), run


def _text(row, names, single):
    if single:
        return names[int(row.argmax())]
    return "+".join(names[c] for c in np.flatnonzero(row > 0.5))


def write(run_dir, out) -> tuple[Path, dict]:
    """``labels RUN --out F``: ``.npz`` in ``--data npz``'s own format (raw feature rows ``X``,
    ``y`` class indices or ``Y`` 0/1 matrix, ``class_names``; ``fit --data npz --path F``
    reads it), plus ``id``, ``posterior_label``, ``trust``, ``is_label_issue`` (and, for crowd
    data, every ``annotations`` row (item, worker, label)); or ``.csv`` with one row per item
    (``id``, ``given_label``, ``posterior_label``, ``trust``, ``is_label_issue``)."""
    out = Path(out)
    kind = out.suffix.lower()
    if kind not in (".npz", ".csv"):
        raise DataError(f"{out}: write the labels to an .npz or .csv file")
    safe_io.check_output(out)  # never over a run's own files; found before any work
    from .run_folder import RunFolder

    folder = RunFolder(run_dir)
    run = folder.fitted()
    t = of_fitted(run)
    items = run.items
    names, single = list(items.class_names), items.single_label
    if kind == ".csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["id", "given_label", "posterior_label", "trust", "is_label_issue"])
        for i in range(len(t["id"])):
            w.writerow([int(t["id"][i]), _text(t["given_label"][i], names, single),
                        _text(t["posterior_label"][i], names, single), f"{t['trust'][i]:.6f}",
                        int(t["is_label_issue"][i])])
        runs.write_text(out, buf.getvalue(), role=safe_io.OUTPUT)
        return out, t
    if folder.spec["preprocessing"] != "standardize":
        raise DataError(f"{run_dir}: its items are images or backbone features, not feature "
                        f"rows an .npz can hold; write the labels as CSV (--out {out.stem}.csv)")
    data, _ = folder.data()  # the .npz format holds the feature rows themselves
    mean, std = data.feature_scale
    x = (data.x_train.astype(np.float64) * std + mean).astype(np.float32)  # the raw rows
    arrays = {"X": x, "class_names": np.asarray(names), "id": t["id"],
              "trust": t["trust"], "is_label_issue": t["is_label_issue"]}
    if single:
        arrays["y"] = t["given_label"].argmax(1).astype(np.int64)
        arrays["posterior_label"] = t["posterior_label"].argmax(1).astype(np.int64)
    else:
        arrays["Y"] = t["given_label"].astype(np.int64)
        arrays["posterior_label"] = t["posterior_label"].astype(np.int64)
    if items.has_crowd:
        arrays["annotations"] = np.stack([data.ann_item, data.ann_worker,
                                          data.ann_labels.argmax(1)], 1).astype(np.int64)
    runs.save_npz(out, role=safe_io.OUTPUT, **arrays)
    return out, t
