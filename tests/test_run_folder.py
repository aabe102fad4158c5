"""``RunFolder`` round trips: what a fit or an estimator hands over as a ``FittedRun`` is what its
folder reads back, and looking at a finished run (inspect, labels, the estimator's load) needs
the folder alone, never the source data."""
import numpy as np
import pytest
import torch

from pyro_can import api, loading
from pyro_can.config import Config
from pyro_can.errors import RunFolderError
from pyro_can.estimator import CANClassifier
from pyro_can.run_folder import RunFolder

pytestmark = pytest.mark.usefixtures("one_thread")


def _same_run(a, b):
    """Two FittedRuns of one run: the same items, posterior and weights."""
    assert a.cfg == b.cfg and a.epochs == b.epochs
    for name in ("train_ids", "ann_item", "ann_labels", "ann_worker"):
        np.testing.assert_array_equal(getattr(a.items, name), getattr(b.items, name))
    assert a.items.class_names == b.items.class_names
    assert a.items.single_label == b.items.single_label
    assert a.items.worker_ids == b.items.worker_ids
    for key in ("q_y", "prior", "z_loc", "z_scale"):
        np.testing.assert_allclose(a.posterior[key], b.posterior[key], atol=1e-7)
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        torch.testing.assert_close(sa[key].cpu(), sb[key].cpu(), rtol=0, atol=0)


def _no_source_data(monkeypatch):
    """Make any rebuild of a run's data fail loudly."""
    def refuse(cfg):
        raise AssertionError("the source data was rebuilt")
    monkeypatch.setattr(loading, "load_data", refuse)


@pytest.fixture(scope="module")
def music_run(tmp_path_factory):
    """A short CAN fit on music (crowd answers with workers, true labels known)."""
    out = tmp_path_factory.mktemp("music") / "run"
    cfg = Config(data="music", epochs=3, warmup_epochs=1, ramp_epochs=1, hidden="32",
                 seed=0).validate()
    return api.fit(cfg, out=out)


def test_a_cli_run_reads_back_as_it_was_fitted(music_run):
    back = RunFolder(music_run.run_dir).fitted()
    _same_run(music_run.run, back)
    assert back.metrics == music_run.metrics
    assert back.items.truth == "true labels"
    np.testing.assert_array_equal(back.items.y_train_clean, music_run.run.items.y_train_clean)


def test_inspect_and_labels_need_no_source_data(music_run, monkeypatch, tmp_path):
    from pyro_can import labels
    from pyro_can.inspection import inspect, item_posterior

    _no_source_data(monkeypatch)
    core = inspect(music_run.run_dir, with_cleanlab=False)
    assert core["summary"]["corruption_known"]  # music's true labels, from the folder
    assert len(core["trust"]) == music_run.run.items.num_items
    assert item_posterior(music_run.run_dir, int(core["train_ids"][0]))["id"] == int(
        core["train_ids"][0])
    path, table = labels.write(music_run.run_dir, tmp_path / "labels.csv")
    assert len(table["trust"]) == music_run.run.items.num_items and path.is_file()


def test_cleanlab_in_inspect_rebuilds_the_data_and_says_so_when_it_cannot(music_run,
                                                                         monkeypatch):
    from pyro_can.inspection import inspect

    def gone(cfg):
        from pyro_can.errors import DataError
        raise DataError("the input file is gone")
    monkeypatch.setattr(loading, "load_data", gone)
    core = inspect(music_run.run_dir, with_cleanlab=True)
    assert not core["summary"]["cleanlab"]["available"]
    assert "cannot be rebuilt" in core["summary"]["cleanlab"]["reason"]


def test_an_estimator_run_reads_back_as_it_was_fitted(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    est = CANClassifier(epochs=3, warmup_epochs=1, ramp_epochs=1, hidden="16",
                        val_fraction=0.2).fit(X, y)
    est.save(tmp_path / "est")
    _no_source_data(monkeypatch)
    _same_run(est.fitted_run_, RunFolder(tmp_path / "est").fitted())
    back = CANClassifier.load(tmp_path / "est")
    np.testing.assert_allclose(back.posterior_, est.posterior_, atol=1e-7)
    np.testing.assert_allclose(back.label_quality_, est.label_quality_, atol=1e-7)
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    assert back.find_label_issues().equals(est.find_label_issues())


def test_an_unfinished_or_missing_folder_is_refused_by_name(music_run, tmp_path):
    with pytest.raises(RunFolderError, match="no such run folder"):
        RunFolder(tmp_path / "nowhere")
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("config.json", "train_data.npz", "checkpoint.pt"):
        (partial / name).write_bytes((music_run.run_dir / name).read_bytes())
    with pytest.raises(RunFolderError, match="has not finished"):
        RunFolder(partial).fitted()
