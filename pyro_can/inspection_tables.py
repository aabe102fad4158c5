"""The tables of ``inspect``: ``items.csv`` (one row per training item) and ``issues.csv`` (the
same items, lowest trust first), and the label text both and the report print."""
from __future__ import annotations

import numpy as np

_EPS = 1e-12


def label_text(row: np.ndarray, names: list[str], single: bool) -> str:
    on = np.flatnonzero(row > 0.5)
    if single:
        return names[int(np.argmax(row))]
    return "+".join(names[c] for c in on) if len(on) else "(none)"


def _f(v: float) -> float:
    return round(float(v), 6)


def item_rows(core: dict, single: bool) -> list[dict]:
    names = core["class_names"]
    n = len(core["trust"])
    answers: list[list[str]] = [[] for _ in range(n)]
    for r, i in enumerate(core["ann_item"]):
        answers[i].append(label_text(core["ann_labels"][r], names, single))
    crowd = any(len(a) != 1 for a in answers)
    rows = []
    for i in range(n):
        row = {"id": int(core["train_ids"][i]), "noisy_label": ";".join(answers[i])}
        if crowd:
            row["answers"] = len(answers[i])
        row["posterior_label"] = label_text(core["posterior_label"][i], names, single)
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


def issue_rows(core: dict, rows: list[dict], single: bool) -> list[dict]:
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
