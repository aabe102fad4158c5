"""Posterior inspection: items.csv / issues.csv / summary.json / figures of a real noisy-digits run,
the ranking finds corrupted labels, the CLI commands, and runs without z or without cleanlab."""
import csv
import importlib.util
import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from pyro_can import api
from pyro_can.config import Config
from pyro_can.inspection import inspect, item_posterior, write_report
from pyro_can.cli_inspect import inspect_command, posterior_command

FIGURES = ("quality_tsne.png", "latent_labels.png", "transitions.png")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small MLPs gain nothing from a second thread, and on a busy 2-core machine two spinning
    OpenMP threads per process cost several times the CPU."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One short CAN run on digits at noise 0.4, inspected once (with cleanlab's 3 plain folds)."""
    out = tmp_path_factory.mktemp("insp") / "run"
    api.fit(Config(data="digits", noise_rate=0.4, epochs=25, seed=0), out=out)
    cli = CliRunner().invoke(inspect_command, [str(out), "--clusters", "3"])
    assert cli.exit_code == 0, cli.output
    return out, inspect(out, clusters=3, with_cleanlab=False), cli


@pytest.fixture(scope="module")
def run_without_z(tmp_path_factory):
    out = tmp_path_factory.mktemp("insp") / "noz"
    api.fit(Config(data="digits", noise_rate=0.4, epochs=2, quality_dim=0, seed=0), out=out)
    return out


def _read_csv(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_items_csv_has_one_row_per_training_item_and_every_column(run):
    out, result, _ = run
    train = np.load(out / "train_data.npz")
    rows = _read_csv(out / "inspect" / "items.csv")
    assert [int(r["id"]) for r in rows] == train["train_ids"].tolist()
    classes = [str(c) for c in range(10)]
    expected = (["id", "noisy_label", "posterior_label", "trust", "corrupted"]
                + [f"q_{c}" for c in classes] + [f"p_{c}" for c in classes]
                + [f"z_mu_{k}" for k in range(4)] + [f"z_sigma_{k}" for k in range(4)])
    assert set(expected) <= set(rows[0])
    noisy = train["ann_labels"].argmax(1)
    assert [r["noisy_label"] for r in rows] == [classes[c] for c in noisy]
    assert [int(r["corrupted"]) for r in rows] == train["corrupted"].astype(int).tolist()
    trust = np.array([float(r["trust"]) for r in rows])
    assert ((trust >= 0) & (trust <= 1)).all()
    np.testing.assert_allclose(trust, result["trust"], atol=1e-6)
    assert all(float(r["z_sigma_0"]) > 0 for r in rows)
    # single-label trust = the posterior's normalized probability of the noisy class
    q = result["q_y"]
    np.testing.assert_allclose(result["trust"], q[np.arange(len(q)), noisy] / q.sum(1))


def test_issues_csv_ranks_lowest_trust_first(run):
    out, _, _ = run
    rows = _read_csv(out / "inspect" / "issues.csv")
    trust = [float(r["trust"]) for r in rows]
    assert trust == sorted(trust) and [int(r["rank"]) for r in rows][:3] == [1, 2, 3]
    assert {"id", "noisy_label", "posterior_label", "posterior_prob", "corrupted"} <= set(rows[0])
    # the most suspect labels are ones the posterior would change
    assert all(r["posterior_label"] != r["noisy_label"] for r in rows[:10])


def test_trust_ranks_corrupted_items_first_and_summary_has_both_methods(run):
    out, result, _ = run
    s = json.loads((out / "inspect" / "summary.json").read_text())
    assert s["items"] == len(result["trust"]) and s["corrupted"] == int(result["corrupted"].sum())
    # measured ~0.98 at 25 epochs; a ranking by chance gives 0.5
    assert s["trust"]["roc_auc"] > 0.85
    assert s["trust"]["precision_at_k"] > 0.7 and s["trust"]["k"] == s["corrupted"]
    pytest.importorskip("cleanlab")  # the side-by-side figures need the optional extra
    c = s["cleanlab"]
    assert c["available"] and "error" not in c
    assert 0.5 < c["roc_auc"] <= 1 and 0 < c["precision_at_k"] <= 1 and c["flagged"] > 0
    assert s["figures_skipped"] == {} and set(FIGURES) <= set(s["files"])
    rows = _read_csv(out / "inspect" / "items.csv")
    assert all(0 <= float(r["cleanlab_quality"]) <= 1 for r in rows)


def test_figures_are_real_images(run):
    import matplotlib.image as mpimg

    out, _, _ = run
    for name in FIGURES:
        path = out / "inspect" / name
        assert path.stat().st_size > 5_000, name
        img = mpimg.imread(path)
        assert img.ndim == 3 and min(img.shape[:2]) > 200, name
        assert img[..., :3].std() > 0.02, f"{name} is one flat colour"
    assert not list((out / "inspect").glob(".*tmp*")), "temporary files left behind"


def test_inspect_cli_prints_summary(run):
    out, _, cli = run
    assert "ROC-AUC trust" in cli.stdout
    if importlib.util.find_spec("cleanlab") is not None:
        assert "cleanlab" in cli.stdout
    assert f"results in {out}/inspect/" in cli.stdout
    assert "fold 3/3" in cli.stderr  # progress goes to stderr
    s = json.loads((out / "inspect" / "summary.json").read_text())
    assert s["clusters"] == 3


def test_posterior_cli_unknown_item_fails_with_one_line(run):
    out, _, _ = run
    res = CliRunner().invoke(posterior_command, [str(out), "--item", "999999"])
    assert res.exit_code == 2  # an option value: a usage error
    assert res.stderr.strip().splitlines() == [res.stderr.strip()]
    assert "--item 999999: not in the run's training set (ids are " in res.stderr


def test_posterior_cli_json(run):
    out, result, _ = run
    i = int(np.argmin(result["trust"]))
    item = int(result["train_ids"][i])
    res = CliRunner().invoke(posterior_command, [str(out), "--item", str(item), "--json"])
    assert res.exit_code == 0, res.output
    p = json.loads(res.stdout)
    assert p["id"] == item and p["row"] == i and set(p["posterior"]) == set(p["prior"])
    assert abs(p["trust"] - result["trust"][i]) < 1e-9
    assert len(p["quality"]) == 1 and len(p["quality"][0]["mu"]) == 4
    assert p["corrupted"] == bool(result["corrupted"][i])
    text = CliRunner().invoke(posterior_command, [str(out), "--item", str(item)])
    assert text.exit_code == 0 and "q(y|x,ỹ)" in text.stdout


def test_run_without_z_skips_z_figures_with_a_note(run_without_z):
    result = write_report(run_without_z, with_cleanlab=False)
    s = json.loads((run_without_z / "inspect" / "summary.json").read_text())
    assert s["quality_dim"] == 0 and result["z_mu"].shape[1] == 0
    assert set(s["figures_skipped"]) == {"quality_tsne.png", "transitions.png"}
    assert any("no quality embedding" in n for n in s["notes"])
    assert (run_without_z / "inspect" / "latent_labels.png").exists()
    assert not any(k.startswith("z_mu") for k in _read_csv(run_without_z / "inspect" /
                                                           "items.csv")[0])
    assert item_posterior(run_without_z, int(result["train_ids"][0]))["quality"] == [
        {"mu": [], "sigma": []}]


def test_inspect_works_without_cleanlab(run_without_z, monkeypatch):
    monkeypatch.setitem(sys.modules, "cleanlab", None)  # import cleanlab -> ImportError
    s = inspect(run_without_z)["summary"]
    assert s["cleanlab"]["available"] is False and "not installed" in s["cleanlab"]["reason"]
    assert any("cleanlab unavailable" in n for n in s["notes"])
    assert s["trust"]["roc_auc"] is not None


def test_unfinished_or_missing_run_is_a_user_error(tmp_path):
    res = CliRunner().invoke(inspect_command, [str(tmp_path / "nope")])
    assert res.exit_code == 1
    assert res.stderr.strip() == f"error: {tmp_path / 'nope'}: no such run folder"


def test_multi_label_run_does_not_crash(tmp_path):
    rng = np.random.default_rng(0)
    y = (rng.random((160, 4)) < 0.4).astype(np.int64)
    y[y.sum(1) == 0, 0] = 1
    x = y @ rng.normal(size=(4, 6)) + 0.3 * rng.normal(size=(160, 6))
    np.savez(tmp_path / "ml.npz", X=x.astype(np.float32), Y=y)
    out = tmp_path / "run"
    api.fit(Config(data="npz", path=str(tmp_path / "ml.npz"), noise_rate=0.4, epochs=3,
                   batch_size=20), out=out)
    result = write_report(out, clusters=2, figures=False)
    s = result["summary"]
    assert not s["single_label"] and s["trust_formula"].startswith("multi-label")
    assert ((result["trust"] >= 0) & (result["trust"] <= 1)).all()
    assert "available" in s["cleanlab"]  # figures or an error message, never an exception
    rows = _read_csv(out / "inspect" / "items.csv")
    assert len(rows) == len(result["trust"]) and "+" in "".join(r["noisy_label"] for r in rows)


def test_crowd_answers_are_joined(tmp_path):
    out = tmp_path / "music"
    api.fit(Config(data="music", epochs=2), out=out)
    result = write_report(out, with_cleanlab=False, clusters=2, figures=False)
    rows = _read_csv(out / "inspect" / "items.csv")
    train = np.load(out / "train_data.npz")
    counts = np.bincount(train["ann_item"], minlength=len(rows))
    assert [int(r["answers"]) for r in rows] == counts.tolist()
    assert all(len(r["noisy_label"].split(";")) == n for r, n in zip(rows, counts))
    # music's training clips have true labels: an item's label is wrong when its vote is
    truth = train["y_train_clean"].argmax(1)
    votes = np.zeros((len(rows), truth.max() + 1))
    np.add.at(votes, train["ann_item"], train["ann_labels"])
    clear = (np.sort(votes, 1)[:, -1] > np.sort(votes, 1)[:, -2])  # no tie to break
    wrong = (votes.argmax(1) != truth)
    s = result["summary"]
    assert s["wrong_labels_from"].startswith("true labels")
    assert np.array_equal(result["corrupted"][clear], wrong[clear])
    assert 0.5 < s["trust"]["roc_auc"] <= 1.0
    i = int(np.argmax(counts))
    p = item_posterior(out, int(result["train_ids"][i]))
    assert len(p["noisy_labels"]) == counts[i] == len(p["quality"])
    assert all(a["worker"] >= 0 for a in p["noisy_labels"])


# -- a user's own labels are never taken as the truth ------------------------------------------------
def _flipped_digits(tmp_path, with_truth: bool):
    """sklearn's digits saved as a user's .npz whose labels are 30 % wrong (flipped to another
    class); with ``with_truth`` the file also carries the true labels as ``y_true``."""
    from sklearn.datasets import load_digits

    d = load_digits()
    rng = np.random.default_rng(0)
    y = d.target.copy()
    flip = rng.random(len(y)) < 0.3
    y[flip] = (y[flip] + rng.integers(1, 10, flip.sum())) % 10
    arrays = {"X": (d.data / 16.0).astype(np.float32), "y": y.astype(np.int64)}
    if with_truth:
        arrays["y_true"] = d.target.astype(np.int64)
    path = tmp_path / ("truth.npz" if with_truth else "own.npz")
    np.savez(path, **arrays)
    return path, flip


def _fit_cli(path, out):
    from pyro_can.cli import main

    res = CliRunner().invoke(main, ["fit", "--data", "npz", "--path", str(path), "--epochs", "3",
                                    "--out", str(out)])
    assert res.exit_code == 0, res.output
    return res


def test_own_npz_labels_are_not_taken_as_the_truth(tmp_path):
    path, _ = _flipped_digits(tmp_path, with_truth=False)
    out = tmp_path / "own"
    fit = _fit_cli(path, out)
    assert "training labels right" not in fit.output
    assert "does not know its true training labels" in fit.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["train_labels_truth"] == "unknown" and "train_given_label_accuracy" not in m
    train = np.load(out / "train_data.npz")
    assert "y_train_clean" not in train.files and "corrupted" not in train.files
    cli = CliRunner().invoke(inspect_command, [str(out), "--no-cleanlab", "--clusters", "2"])
    assert cli.exit_code == 0, cli.output
    assert "corrupted" not in cli.stdout and "ROC-AUC" not in cli.stdout
    assert "which labels are wrong cannot be known" in cli.stdout
    s = json.loads((out / "inspect" / "summary.json").read_text())
    assert s["corruption_known"] is False and s["corrupted"] is None
    assert s["trust"]["roc_auc"] is None
    rows = _read_csv(out / "inspect" / "items.csv")
    assert "corrupted" not in rows[0]


def test_npz_with_y_true_is_scored_against_it(tmp_path):
    path, flip = _flipped_digits(tmp_path, with_truth=True)
    out = tmp_path / "truth"
    fit = _fit_cli(path, out)
    m = json.loads((out / "metrics.json").read_text())
    assert m["train_labels_truth"] == "true labels"
    train = np.load(out / "train_data.npz")
    wrong = flip[train["train_ids"]]
    assert m["train_given_label_accuracy"] == pytest.approx(1 - wrong.mean())  # ~0.7
    assert "training labels right: given 0.7" in fit.output
    result = write_report(out, with_cleanlab=False, clusters=2, figures=False)
    s = result["summary"]
    assert s["corruption_known"] and s["wrong_labels_from"].startswith("true labels")
    assert np.array_equal(result["corrupted"], wrong) and s["corrupted"] == int(wrong.sum())


def test_npz_y_true_of_the_wrong_shape_is_one_error(tmp_path):
    from pyro_can.npz_file import load_npz
    from pyro_can.errors import DataError

    np.savez(tmp_path / "bad.npz", X=np.zeros((8, 2)), y=np.arange(8) % 2, y_true=np.zeros(7, int))
    with pytest.raises(DataError, match="y_true"):
        load_npz(str(tmp_path / "bad.npz"))


def test_a_run_that_cleans_labels_is_healthy(run):
    """The digits run at noise 0.4 changes about 29 % of the labels: no health warning."""
    out, _, cli = run
    h = json.loads((out / "metrics.json").read_text())["posterior_health"]
    assert h["status"] == "ok" and h["warnings"] == [] and 0.6 < h["kept_share"] < 0.9, h
    assert "warning: the posterior" not in cli.stderr
    s = json.loads((out / "inspect" / "summary.json").read_text())
    assert s["posterior_health"]["status"] == "ok"
