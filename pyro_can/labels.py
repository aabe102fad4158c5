"""The cleaned-label table: every training item's given label, the label CAN's posterior believes,
the trust in the given one, and whether it is a label issue — for ``pyro-can labels RUN`` and
``CANClassifier.find_label_issues()`` alike (cleanlab's ``find_label_issues`` columns:
``given_label``, ``predicted_label`` = our ``posterior_label``, ``label_quality`` = our ``trust``,
``is_label_issue``).

The rule (``ISSUE_RULE``), chosen from the model, not tuned on any corruption mask: an item's label
is an issue when the posterior's most probable label differs from the given one. Single-label:
``argmax_c q(y = c | x, ỹ)`` is not the given class, i.e. the posterior puts more mass on some
other class than on the given one. Multi-label: some class's ``q(y_c = 1 | x, ỹ)`` is on the other
side of 0.5 from the given 0/1 entry. The given label of a crowd item is its majority vote (ties
broken with a fixed seed, as ``inspect`` does); an item without any answer is never an issue.
``trust`` (``posterior.answer_trust``, explained in ``inspection.py``) ranks the issues: sort it
ascending to review the likeliest errors first."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from . import runs, safe_io
from .errors import DataError

ISSUE_RULE = ("is_label_issue: the posterior's most probable label differs from the given "
              "(voted) label; single-label: argmax_c q_c != given class; multi-label: some "
              "class with q_c on the other side of 0.5 from the given entry")


def table(given: np.ndarray, q: np.ndarray, trust: np.ndarray, single_label: bool,
          answered: np.ndarray) -> dict:
    """Arrays over N items from ``given`` (N, C) 0/1 labels, the posterior ``q`` (N, C), the
    ``trust`` (N,) and ``answered`` (N,) bool (items with at least one answer)."""
    if single_label:
        posterior = np.eye(q.shape[1])[q.argmax(1)]
        issue = q.argmax(1) != given.argmax(1)
    else:
        posterior = (q > 0.5).astype(np.float64)
        issue = (posterior != given).any(1)
    return {"given_label": given, "posterior_label": posterior, "trust": trust,
            "is_label_issue": issue & answered}


def given_labels(data) -> tuple[np.ndarray, np.ndarray]:
    """The (N, C) given label of every training item of ``data`` (an item's voted label, ties
    broken with a fixed seed, as ``inspect`` does) and (N,) whether the item has any answer."""
    answered = np.bincount(data.ann_item, minlength=data.num_items) > 0
    return data.item_labels(np.random.default_rng(0)), answered


def of_run(run_dir) -> tuple[dict, object]:
    """The table of a finished run's training items, and its trainer (the rebuilt data, checked
    against ``train_data.npz``)."""
    from . import api
    from .posterior import item_trust, posterior

    trainer = api.load(run_dir)
    data = trainer.data
    q = posterior(trainer)["q_y"].astype(np.float64)
    given, answered = given_labels(data)
    t = table(given, q, item_trust(q, data.ann_item, data.ann_labels, data.single_label),
              data.single_label, answered)
    t["id"] = np.asarray(data.train_ids)
    return t, trainer


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
    t, trainer = of_run(run_dir)
    data = trainer.data
    names, single = list(data.class_names), data.single_label
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
    if data.feature_scale is None:
        raise DataError(f"{run_dir}: its items are images or backbone features, not feature "
                        f"rows an .npz can hold; write the labels as CSV (--out {out.stem}.csv)")
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
    if data.has_crowd:
        arrays["annotations"] = np.stack([data.ann_item, data.ann_worker,
                                          data.ann_labels.argmax(1)], 1).astype(np.int64)
    runs.save_npz(out, role=safe_io.OUTPUT, **arrays)
    return out, t
