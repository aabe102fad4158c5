"""Crowd answers in the field's form: crowd-kit's (task, worker, label) table with any ids goes
into CANClassifier.fit and ``--data crowd`` unchanged, and gives the integer rows' result."""
import csv
import json
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from pyro_can.data import one_hot
from pyro_can.datasets.crowd import answer_table
from pyro_can.errors import DataError
from pyro_can.estimator import CANClassifier

pd = pytest.importorskip("pandas")
TINY = dict(epochs=3, hidden="16")


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py


def _crowd(n=60, per_item=3):
    """Three separable classes, five workers (one answers at random), every item answered; the
    rows listed item by item, so integer tasks and first appearance give the same rows."""
    rng = np.random.default_rng(0)
    y = np.arange(n) % 3
    x = rng.normal(size=(n, 4)) + 3.0 * one_hot(y, 3) @ rng.normal(size=(3, 4))
    rows = []
    for i in range(n):
        for w in sorted(rng.choice(5, per_item, replace=False)):
            rows.append((i, int(w), int(rng.integers(0, 3) if w == 4 else y[i])))
    return x.astype(np.float32), y, rows


def _named(rows):
    """The same answers with string ids whose order matches the integers'."""
    return pd.DataFrame([{"task": f"clip-{i:03d}", "worker": f"w{w}", "label": f"genre{c}"}
                         for i, w, c in rows])


def test_string_ids_fit_the_same_as_integer_rows():
    x, _, rows = _crowd()
    by_int = CANClassifier(**TINY).fit(x, annotations=rows)
    df = _named(rows)
    by_name = CANClassifier(**TINY).fit(x, annotations=df)
    np.testing.assert_allclose(by_name.posterior_, by_int.posterior_, atol=1e-6)
    np.testing.assert_array_equal(by_name.predict(x),
                                  np.array([f"genre{c}" for c in by_int.predict(x)]))
    assert list(by_name.classes_) == ["genre0", "genre1", "genre2"]
    assert list(by_name.worker_ids_) == [f"w{w}" for w in range(5)]
    # an explicit task id per row of X, in any order of the table, maps the same rows
    shuffled = df.sample(frac=1.0, random_state=0)
    tasks = [f"clip-{i:03d}" for i in range(len(x))]
    again = CANClassifier(**TINY).fit(x, annotations=shuffled, tasks=tasks)
    assert again.label_quality_.shape == (len(x),)
    assert (again.predict(x) == by_name.predict(x)).mean() > 0.9  # answers in another order
    # "item" for task, a list of dicts, tuples: the same table
    records = [{"item": r["task"], "worker": r["worker"], "label": r["label"]}
               for r in df.to_dict("records")]
    a, b = answer_table(records, len(x)), answer_table(list(df.itertuples(index=False)), len(x))
    np.testing.assert_array_equal(a.item, b.item)
    np.testing.assert_array_equal(a.item, [r[0] for r in rows])


def test_crowd_kit_reads_the_same_table():
    """The DataFrame we accept is crowd-kit's input as it is: its aggregators and CAN agree on
    nearly every item of this easy crowd."""
    aggregation = pytest.importorskip("crowdkit.aggregation")
    x, y, rows = _crowd()
    df = _named(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = aggregation.DawidSkene(n_iter=50).fit_predict(df)
        mv = aggregation.MajorityVote().fit_predict(df)
    truth = np.array([f"genre{c}" for c in y])
    tasks = [f"clip-{i:03d}" for i in range(len(x))]
    assert (ds.reindex(tasks).to_numpy() == truth).mean() > 0.9
    est = CANClassifier(epochs=20, hidden="16").fit(x, annotations=df)
    issues = est.find_label_issues()
    assert (issues["given_label"].to_numpy() == mv.reindex(tasks).to_numpy()).mean() > 0.9
    assert (issues["posterior_label"].to_numpy() == ds.reindex(tasks).to_numpy()).mean() > 0.9


@pytest.mark.parametrize("table, n, message", [
    ([("a", 0, 1), (1, 0, 1)], 2, "mixes integer and other ids"),
    ([("a", 0, 1), ("b", 0, 1)], 3, "names 2 distinct tasks but X has 3 rows"),
    ([(0, 0, 1), (5, 0, 1)], 3, "row 1 has item 5"),
    ([{"task": 0, "label": 1}], 1, "lacks column"),
    ([], 1, "no answers"),
    ([("a", None, 1)], 1, "row 0 has no worker"),
    ([("a", 0, 1), ("a", "w", 1)], 1, "worker column mixes"),
])
def test_ambiguous_or_broken_tables_are_refused(table, n, message):
    with pytest.raises(DataError, match=message):
        answer_table(table, n)
    with pytest.raises(DataError, match="not among tasks"):
        answer_table([("a", 0, 1), ("z", 0, 1)], 2, tasks=["a", "b"])


def _write_crowd_files(tmp_path, x, rows):
    features = tmp_path / "features.csv"
    with open(features, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([f"f{j}" for j in range(x.shape[1])])
        w.writerows(x.tolist())
    answers = tmp_path / "answers.csv"
    with open(answers, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["task", "worker", "label"])
        w.writerows([(f"clip-{i:03d}", f"anna-{w}", f"genre{c}") for i, w, c in rows])
    return features, answers


def test_cli_crowd_data_keeps_the_users_ids(tmp_path):
    from pyro_can.cli import main

    x, _, rows = _crowd()
    features, answers = _write_crowd_files(tmp_path, x, rows)
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["fit", "--data", "crowd", "--features", str(features),
                                    "--answers", str(answers), "--epochs", "3",
                                    "--out", str(out)])
    assert res.exit_code == 0, res.output
    with open(out / "workers.csv") as fh:
        workers = list(csv.DictReader(fh))
    assert [w["worker_id"] for w in workers] == [f"anna-{k}" for k in range(5)]
    m = json.loads((out / "metrics.json").read_text())
    assert m["train_labels_truth"] == "unknown" and m["train_items"] == 45  # a quarter tested
    spec = json.loads((out / "model.json").read_text())
    assert spec["class_names"] == ["genre0", "genre1", "genre2"]


def test_cli_crowd_data_refuses_a_table_without_its_header(tmp_path):
    from pyro_can.cli import main

    x, _, rows = _crowd()
    features, answers = _write_crowd_files(tmp_path, x, rows)
    answers.write_text("\n".join(answers.read_text().splitlines()[1:]) + "\n")
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["fit", "--data", "crowd", "--features", str(features),
                                    "--answers", str(answers), "--epochs", "1",
                                    "--out", str(out)])
    assert res.exit_code != 0 and "the header must name task (or item), worker and label" \
        in res.stderr
    assert not out.exists()
