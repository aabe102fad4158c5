"""Crowd answers in the field's form: a table of (task, worker, label) rows, crowd-kit's names.

crowd-kit, CROWDLAB and most crowd tools exchange answers as one row per answer with columns
``task``, ``worker`` and ``label`` (``item`` is accepted for ``task``), ids of any hashable type.
``answer_table`` reads such a table — a pandas DataFrame (anything with ``.to_dict("records")``),
an iterable of dicts, or an iterable of ``(task, worker, label)`` tuples / a 2-D array — into the
integer codes a ``Dataset`` holds, keeping the user's ids:

* **tasks to rows of X** (one rule, in this order): with ``tasks`` given (the task id of each row
  of X, all distinct), a task is the row that lists it; otherwise integer task ids are row
  indices of X (0..N-1, as before); otherwise (strings, ...) the k-th distinct task in the table's
  order of first appearance is row k of X, and the table must name exactly N distinct tasks.
  Anything else (mixed int and str ids without ``tasks``, a task not among ``tasks``, a row index
  out of range, a count that does not match) is refused with one error: no guessing.
* **workers** are numbered by their sorted ids (integers numerically, strings alphabetically);
  ``worker_ids`` keeps the ids, which ``workers.csv`` reports.
* **labels** of any (sortable) hashable type become classes in sorted order; ``classes`` keeps
  the values (the estimator's ``classes_``, the run's class names).

``--data crowd --features F.csv|F.npz --answers A.csv`` trains on such a table from files: the
features (a CSV of numbers with a header row, or a .npz with ``X``; row k is task k in the rule
above, with ``--tasks`` unavailable on the command line, so integer task ids are rows and other
ids go by first appearance) and the answers CSV (header ``task,worker,label``, read with the
standard csv module). A random ``--test-fraction`` of the tasks is held out; their answers are
dropped from training and their majority vote is the test label (noisy: there is no truth).
"""
from __future__ import annotations

import csv
import numbers
import os
from dataclasses import dataclass

import numpy as np

from ..errors import DataError

TASK_COLUMNS = ("task", "item")


@dataclass
class Answers:
    item: np.ndarray  # (R,) int64 row of X of each answer
    worker: np.ndarray  # (R,) int64 worker index
    label: np.ndarray  # (R,) int64 class index
    worker_ids: list  # the user's id of each worker index
    classes: np.ndarray  # the label value of each class index
    task_ids: list  # the task id of each row of X (where the table named it)


def _records(table, where: str) -> list[tuple]:
    """(task, worker, label) tuples of ``table``."""
    if hasattr(table, "to_dict"):  # a pandas DataFrame (or any table that speaks its dialect)
        table = table.to_dict("records")
    if isinstance(table, np.ndarray):
        if table.ndim != 2 or table.shape[1] != 3:
            raise DataError(f"{where}: expected (item, worker, label) rows (crowd-kit: task, "
                            f"worker, label), got an array of shape {table.shape}")
        return [tuple(r) for r in table.tolist()]
    rows = []
    for k, row in enumerate(table):
        if isinstance(row, dict):
            task_key = next((c for c in TASK_COLUMNS if c in row), None)
            missing = [c for c in ("worker", "label") if c not in row]
            if task_key is None or missing:
                need = ["task (or item)"] if task_key is None else []
                raise DataError(f"{where}: row {k} lacks column(s) {', '.join(need + missing)}; "
                                "expected task, worker, label (crowd-kit's names)")
            rows.append((row[task_key], row["worker"], row["label"]))
        else:
            try:
                task, worker, label = row
            except (TypeError, ValueError):
                raise DataError(f"{where}: row {k} is not one of the (item, worker, label) "
                                f"rows (crowd-kit: task, worker, label): {row!r}") from None
            rows.append((task, worker, label))
    if not rows:
        raise DataError(f"{where}: no answers (the table is empty)")
    return rows


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _integral(v, k: int, where: str):
    """A number as an int task id (numpy's included); a fractional one is refused."""
    if isinstance(v, numbers.Real) and not isinstance(v, bool) and not _is_int(v):
        if float(v) != round(float(v)):
            raise DataError(f"{where}: row {k}: the item column must hold integers (rows of X) "
                            f"or non-numeric ids, got {v!r}")
        return int(v)
    return int(v) if _is_int(v) else v


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and v != v) or (isinstance(v, str) and not v.strip())


def _codes(values: list, what: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and each value's index among them."""
    ints = [_is_int(v) for v in values]
    if any(ints) and not all(ints):
        k = ints.index(False) if ints[0] else ints.index(True)
        raise DataError(f"{where}: the {what} column mixes integer and other ids (row {k}: "
                        f"{values[k]!r}); use one type")
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    try:
        distinct, codes = np.unique(arr if not all(ints) else arr.astype(np.int64),
                                    return_inverse=True)
    except TypeError as e:
        raise DataError(f"{where}: the {what} ids cannot be ordered ({e}); use one type") from None
    return distinct, codes.reshape(-1)


def answer_table(table, num_items: int, tasks=None, where: str = "annotations") -> Answers:
    """The answers of ``table`` over the ``num_items`` rows of X (module docstring's rules)."""
    rows = _records(table, where)
    for k, row in enumerate(rows):
        for name, v in zip(("task", "worker", "label"), row):
            if _missing(v):
                raise DataError(f"{where}: row {k} has no {name} (empty or NaN)")
    task = [_integral(r[0], k, where) for k, r in enumerate(rows)]
    if tasks is not None:
        tasks = list(tasks)
        if len(tasks) != num_items:
            raise DataError(f"{where}: tasks lists {len(tasks)} ids for the {num_items} rows of X")
        pos = {}
        for k, t in enumerate(tasks):
            if t in pos:
                raise DataError(f"{where}: tasks lists {t!r} twice (rows {pos[t]} and {k})")
            pos[t] = k
        bad = next((k for k, t in enumerate(task) if t not in pos), None)
        if bad is not None:
            raise DataError(f"{where}: row {bad} answers task {task[bad]!r}, which is not among "
                            "tasks (the task id of each row of X)")
        item = np.array([pos[t] for t in task], np.int64)
        task_ids = tasks
    elif all(_is_int(t) for t in task):
        item = np.asarray(task, np.int64)
        bad = np.flatnonzero((item < 0) | (item >= num_items))
        if len(bad):
            raise DataError(f"{where}: row {bad[0]} has item {item[bad[0]]}; integer task ids are "
                            f"the rows of X, 0..{num_items - 1} (or pass tasks=, the task id of "
                            "each row)")
        task_ids = list(range(num_items))
    else:
        if any(_is_int(t) for t in task):
            raise DataError(f"{where}: the task column mixes integer and other ids; use one type "
                            "or pass tasks=, the task id of each row of X")
        order = {}
        for t in task:
            order.setdefault(t, len(order))
        if len(order) != num_items:
            raise DataError(f"{where}: the table names {len(order)} distinct tasks but X has "
                            f"{num_items} rows; with non-integer task ids, row k of X is the k-th "
                            "task in order of first appearance, so the counts must match (or "
                            "pass tasks=, the task id of each row of X)")
        item = np.array([order[t] for t in task], np.int64)
        task_ids = list(order)
    worker_ids, worker = _codes([r[1] for r in rows], "worker", where)
    classes, label = _codes([r[2] for r in rows], "label", where)
    return Answers(item=item, worker=worker.astype(np.int64), label=label.astype(np.int64),
                   worker_ids=list(worker_ids.tolist()), classes=classes, task_ids=task_ids)


# -- files ------------------------------------------------------------------------------------------
def read_answers_csv(path: str) -> list[dict]:
    """The rows of an answers CSV (header required: task, worker, label; ``item`` accepted for
    task), every id as the text the file holds, an integer id as an int."""
    if not path:
        raise DataError("--data crowd needs --answers FILE.csv (header task,worker,label)")
    if not os.path.isfile(path):
        raise DataError(f"--answers {path}: no such file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            task = next((c for c in TASK_COLUMNS if c in header), None)
            if task is None or "worker" not in header or "label" not in header:
                raise DataError(f"--answers {path}: the header must name task (or item), worker "
                                f"and label; got {', '.join(header) or 'no header'}")
            reader.fieldnames = header
            rows = []
            for row in reader:
                if None in row or any(row[c] is None for c in (task, "worker", "label")):
                    raise DataError(f"--answers {path}: line {reader.line_num} has "
                                    f"{len([v for v in row.values() if v is not None])} fields, "
                                    f"the header {len(header)}")
                rows.append({"task": _id(row[task]), "worker": _id(row["worker"]),
                             "label": _id(row["label"])})
    except UnicodeDecodeError as e:
        raise DataError(f"--answers {path}: not UTF-8 text ({e})") from None
    except csv.Error as e:
        raise DataError(f"--answers {path}: not a readable CSV ({e})") from None
    if not rows:
        raise DataError(f"--answers {path}: no answers below the header")
    return rows


def _id(text: str):
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return text


def read_features(path: str) -> np.ndarray:
    """X from a .npz (key ``X``) or a CSV of numbers with a header row."""
    from ..feature_rows import check_features

    if not path:
        raise DataError("--data crowd needs --features FILE.csv or FILE.npz (one row per task)")
    if not os.path.isfile(path):
        raise DataError(f"--features {path}: no such file")
    if path.endswith(".npz"):
        try:
            with np.load(path, allow_pickle=False) as f:
                if "X" not in f.files:
                    raise DataError(f"--features {path}: missing key 'X'")
                x = f["X"]
        except DataError:
            raise
        except Exception as e:
            raise DataError(f"--features {path}: cannot read as .npz ({type(e).__name__}: "
                            f"{e})") from None
    else:
        try:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                reader = csv.reader(fh)
                header = next(reader, None)
                values = []
                for row in reader:
                    if not row:  # a blank line
                        continue
                    if len(row) != len(header):
                        raise DataError(f"--features {path}: line {reader.line_num} has "
                                        f"{len(row)} fields, the header {len(header)}")
                    try:
                        values.append([float(v) for v in row])
                    except ValueError:
                        raise DataError(f"--features {path}: line {reader.line_num} holds a "
                                        "value that is not a number") from None
        except (UnicodeDecodeError, csv.Error) as e:
            raise DataError(f"--features {path}: not a readable CSV ({e})") from None
        if header is None:
            raise DataError(f"--features {path}: empty file (expected a header row, then one "
                            "row of numbers per task)")
        x = np.asarray(values, np.float64).reshape(len(values), len(header))
    check_features(x, f"--features {path}")
    return x


def load_crowd(data, images, runtime):
    """``--data crowd``: features of the tasks (``--features``) and crowd answers
    (``--answers``), module docstring. The test split holds out ``--test-fraction`` of the tasks
    (seeded); their answers' majority vote is their test label, noisy as the answers are."""
    from ..data import Dataset, one_hot, voted_labels
    from ..feature_rows import split_rows, standardize

    if data.noise_rate:
        raise DataError("--data crowd carries real crowd noise; --noise-rate must be 0")
    x = read_features(data.features)
    answers = answer_table(read_answers_csv(data.answers), len(x), where=f"--answers "
                           f"{data.answers}")
    c = len(answers.classes)
    vote = voted_labels(answers.item, one_hot(answers.label, c), len(x), True,
                        np.random.default_rng([runtime.seed, 5]))
    answered = np.bincount(answers.item, minlength=len(x)) > 0
    train_idx, test_idx = split_rows(len(x), vote.argmax(1), data.test_fraction, runtime.seed,
                                 f"--features {data.features}")
    test_idx = np.sort(test_idx[answered[test_idx]])  # a task without an answer has no label
    train_idx = np.sort(train_idx)
    pos = np.full(len(x), -1)
    pos[train_idx] = np.arange(len(train_idx))
    keep = pos[answers.item] >= 0
    x_train, x_test, scale = standardize(x[train_idx].astype(np.float64),
                                          x[test_idx].astype(np.float64))
    return Dataset(
        name=os.path.basename(data.answers), x_train=x_train, ann_item=pos[answers.item[keep]],
        ann_labels=one_hot(answers.label[keep], c), ann_worker=answers.worker[keep],
        x_test=x_test, y_test=vote[test_idx], class_names=[str(v) for v in answers.classes],
        single_label=True, train_ids=train_idx, test_ids=test_idx, feature_scale=scale,
        worker_ids=[str(w) for w in answers.worker_ids])
