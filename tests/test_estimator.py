"""The scikit-learn estimator API (pyro_can.estimator): sklearn's own estimator checks, composition
(Pipeline, cross_val_predict, cleanlab's CleanLearning), save/load, the trust score, crowd data."""
import csv
import dataclasses
import importlib.resources
import inspect
import json
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits, make_multilabel_classification
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from pyro_can import runs
from pyro_can.config import Config
from pyro_can.data import one_hot
from pyro_can.errors import RunFolderError
from pyro_can.estimator import CANClassifier, PlainClassifier
from pyro_can.estimator_params import DATA_SOURCE_FIELDS
from pyro_can.noise import shuffle_labels

TINY = dict(epochs=3, hidden="16")


def _edit_json(path, **changes):
    """A run file's JSON with ``changes`` made, the rest as written."""
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))



# -- scikit-learn's estimator checks ---------------------------------------------------------------
# Every check runs and passes; sklearn itself skips two: check_array_api_input (SCIPY_ARRAY_API is
# unset; the estimator takes NumPy input only) and
# check_classifiers_multilabel_output_format_decision_function (there is no decision_function).
# CAN runs at lr=0.003: several checks fit raw features of magnitude ~100, where at lr=0.01 the
# classifier's logits pass ~17 within a few steps, float32's sigmoid rounds to 1 and the closed-form
# Bernoulli KL (pyro_can/distributions.py) turns inf, so fit raises TrainingError (standardized
# inputs, as in every other test, train fine at the default lr).
@parametrize_with_checks([CANClassifier(epochs=5, hidden="16", lr=0.003, batch_size=20),
                          PlainClassifier(epochs=5, hidden="16")])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_constructor_arguments_are_config_fields():
    expected = {f.name: f.default for f in dataclasses.fields(Config)
                if f.name not in DATA_SOURCE_FIELDS}
    expected["verbose"] = False  # the estimator's own: how fit reports, not what it trains
    assert CANClassifier().get_params() == expected
    assert PlainClassifier().get_params() == {**expected, "method": "plain"}
    sig = inspect.signature(CANClassifier)
    assert all(p.kind is p.KEYWORD_ONLY for p in sig.parameters.values())
    cfg = CANClassifier(lr=0.5, quality_dim=2)._config()
    assert (cfg.lr, cfg.quality_dim, cfg.noise_rate) == (0.5, 2, 0.0)
    with pytest.raises(TypeError, match="noise_rate"):
        CANClassifier(noise_rate=0.4)  # data-source options are not arguments


# -- shared data and one fitted model --------------------------------------------------------------
@pytest.fixture(scope="module")
def noisy_digits():
    """Digits standardized with training statistics, 40 % of the training labels shuffled (the
    paper's protocol; about 35 % end up changed)."""
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y,
                                                        random_state=0)
    scaler = StandardScaler().fit(x_train)
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    noisy, changed = shuffle_labels(one_hot(y_train, 10), 0.4, np.random.default_rng(0))
    return x_train, noisy.argmax(1), changed, x_test, y_test


@pytest.fixture(scope="module")
def fitted(noisy_digits):
    x_train, y_noisy, _, _, _ = noisy_digits
    return CANClassifier(epochs=8, hidden="64,30", warmup_epochs=3, ramp_epochs=3).fit(
        x_train, y_noisy)


def test_fitted_attributes(fitted, noisy_digits):
    x_train, y_noisy, _, x_test, y_test = noisy_digits
    n = len(x_train)
    np.testing.assert_array_equal(fitted.classes_, np.arange(10))
    assert fitted.n_features_in_ == 64
    assert fitted.posterior_.shape == (n, 10)
    assert ((fitted.posterior_ >= 0) & (fitted.posterior_ <= 1)).all()
    loc, scale = fitted.quality_
    assert loc.shape == scale.shape == (n, 4) and (scale > 0).all()
    assert fitted.label_quality_.shape == (n,)
    assert np.isfinite(fitted.label_quality_).all()
    assert [r["epoch"] for r in fitted.history_] == list(range(1, 9))
    assert fitted.metrics_["method"] == "can" and fitted.metrics_["epochs"] == 8
    proba = fitted.predict_proba(x_test)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(proba.argmax(1), fitted.predict(x_test))
    np.testing.assert_array_equal(fitted.predict_scores(x_test).argmax(1), proba.argmax(1))
    assert fitted.score(x_test, y_test) > 0.75  # clean test labels; measured 0.84; chance 0.1


def test_label_quality_ranks_corrupted_items_below_clean_ones(fitted, noisy_digits):
    _, _, changed, _, _ = noisy_digits
    auc = roc_auc_score(~changed, fitted.label_quality_)
    assert auc > 0.9  # measured 0.987


def test_save_load_round_trip(fitted, noisy_digits, tmp_path):
    x_test = noisy_digits[3]
    run_dir = fitted.save(tmp_path / "run")
    for name in ("config.json", "checkpoint.pt", "metrics.json", "history.csv", "estimator.json",
                 "train_data.npz", "posterior.npz"):
        assert (run_dir / name).is_file(), name
    saved = runs.read_json(run_dir / "config.json")
    assert saved == {"format_version": 2, **fitted.config_.to_dict()}
    assert not fitted.config_.unresolved()  # latent, warm-up, ... as resolved at fit
    assert runs.read_config(run_dir) == fitted.config_  # a valid CLI config, read back as is
    metrics = runs.read_json(run_dir / "metrics.json")
    assert metrics["method"] == "can" and metrics["epochs"] == 8 and metrics["seconds"] > 0
    with open(run_dir / "history.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 8
    assert json.loads((run_dir / "estimator.json").read_text())["n_features_in"] == 64

    loaded = CANClassifier.load(run_dir)
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(x_test), fitted.predict_proba(x_test))
    np.testing.assert_array_equal(loaded.classes_, fitted.classes_)
    np.testing.assert_array_equal(loaded.label_quality_, fitted.label_quality_)
    np.testing.assert_array_equal(loaded.posterior_, fitted.posterior_)
    np.testing.assert_array_equal(loaded.quality_[0], fitted.quality_[0])
    assert len(loaded.history_) == 8

    with pytest.raises(RunFolderError, match="already holds a run"):
        fitted.save(run_dir)
    fitted.save(run_dir, overwrite=True)
    loaded.save(tmp_path / "again")  # a loaded estimator saves too
    (run_dir / "estimator.json").unlink()  # read as a CLI run: class names, resolved options
    as_cli = CANClassifier.load(run_dir)
    np.testing.assert_array_equal(as_cli.classes_, [str(c) for c in fitted.classes_])
    np.testing.assert_array_equal(as_cli.predict_proba(x_test), fitted.predict_proba(x_test))


@pytest.mark.parametrize("name, damage, message", [
    ("checkpoint.pt", lambda p: p.write_bytes(p.read_bytes()[:100]), "not a readable checkpoint"),
    ("posterior.npz", lambda p: p.unlink(), "posterior.npz: missing"),
    ("config.json", lambda p: _edit_json(p, lr=-1), "--lr: must be a number > 0"),
    ("estimator.json", lambda p: p.write_text("[1"), "not readable as JSON"),
])
def test_damaged_saved_estimator_is_one_clear_error(fitted, tmp_path, name, damage, message):
    run_dir = fitted.save(tmp_path / "run")
    damage(run_dir / name)
    with pytest.raises(RunFolderError, match=message) as err:
        CANClassifier.load(run_dir)
    assert str(run_dir) in str(err.value)


def test_pickle_round_trip(fitted, noisy_digits):
    x_test = noisy_digits[3]
    copy = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(copy.predict_proba(x_test), fitted.predict_proba(x_test))


def test_string_labels_and_saved_classes(noisy_digits, tmp_path):
    x_train, y_noisy, _, x_test, _ = noisy_digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"], dtype=object)
    est = PlainClassifier(**TINY).fit(x_train[:300], names[y_noisy[:300]])
    assert set(est.predict(x_test)) <= set(names)
    est.set_params(lr=0.5)  # after fit: the folder records what the model was trained with
    loaded = PlainClassifier.load(est.save(tmp_path / "run"))
    assert loaded.lr == 0.01 and loaded.method == "plain"
    np.testing.assert_array_equal(loaded.classes_, est.classes_)
    np.testing.assert_array_equal(loaded.predict(x_test), est.predict(x_test))


# -- composition -----------------------------------------------------------------------------------
def test_pipeline_and_cross_val_predict_on_digits():
    x, y = load_digits(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()),
                     ("can", CANClassifier(epochs=6, hidden="64,30"))])
    proba = cross_val_predict(pipe, x, y, cv=3, method="predict_proba")
    assert proba.shape == (len(x), 10)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert (proba.argmax(1) == y).mean() > 0.8  # clean labels, out-of-fold; measured 0.87


def test_clean_learning_finds_label_issues(noisy_digits):
    pytest.importorskip("cleanlab")
    from cleanlab.classification import CleanLearning

    x_train, y_noisy, changed, _, _ = noisy_digits
    cl = CleanLearning(CANClassifier(epochs=6, hidden="64,30"), cv_n_folds=3, seed=0)
    cl.fit(x_train, y_noisy)
    flagged = cl.get_label_issues()["is_label_issue"].to_numpy()
    assert flagged.sum() > 0.2 * len(flagged)
    precision = changed[flagged].mean()
    assert precision > 0.75  # measured 0.86 (recall 0.80); 35 % of the labels are corrupted
    assert cl.predict(x_train[:5]).shape == (5,)


# -- reproducibility and side effects --------------------------------------------------------------
def test_fit_on_a_clone_is_reproducible():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(120, 5)), rng.integers(0, 3, 120)
    a = CANClassifier(**TINY, seed=3)
    pa = a.fit(x, y).predict_proba(x)
    pb = clone(a).fit(x, y).predict_proba(x)
    np.testing.assert_array_equal(pa, pb)
    pc = clone(a).set_params(seed=4).fit(x, y).predict_proba(x)
    assert not np.array_equal(pa, pc)


def test_fit_leaves_global_random_state_alone():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 3)), rng.integers(0, 2, 60)
    np.random.seed(123)
    torch.manual_seed(123)
    expected = np.random.random(), torch.rand(1).item()
    np.random.seed(123)
    torch.manual_seed(123)
    CANClassifier(**TINY).fit(x, y)
    assert (np.random.random(), torch.rand(1).item()) == expected


# -- input validation ------------------------------------------------------------------------------
def test_bad_inputs_raise_sklearns_errors():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), rng.integers(0, 2, 40)
    est = CANClassifier(**TINY)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.fit(bad, y)
    with pytest.raises(ValueError, match="Found input variables with inconsistent numbers of "
                                         "samples"):
        est.fit(x, y[:-1])
    with pytest.raises(ValueError, match="Expected 2D array"):
        est.fit(x[:, 0], y)
    with pytest.raises(ValueError, match="requires y to be passed"):
        est.fit(x)
    with pytest.raises(ValueError, match="Unknown label type"):
        est.fit(x, rng.normal(size=40))
    est.fit(x, y)
    with pytest.raises(ValueError, match="X has 2 features, but CANClassifier is expecting 3"):
        est.predict(x[:, :2])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.predict_proba(bad)


@pytest.mark.parametrize("options, message", [
    ({"epochs": 0}, r"epochs: must be an integer in \[1, 1000000\], got 0"),
    ({"method": "nope"}, "unknown method 'nope'"),
    ({"crowd": "nope"}, "unknown crowd mode"),
    ({"val_fraction": 1.5}, r"val_fraction: must be a number in \[0, 1\)"),
    ({"hidden": "wide"}, "hidden must list layer widths"),
    ({"arch": "resnet18"}, "image path"),
])
def test_bad_options_raise_value_error_at_fit(options, message):
    est = CANClassifier(**{**TINY, **options})  # accepted at construction, as sklearn requires
    with pytest.raises(ValueError, match=message):
        est.fit(np.zeros((4, 2)), [0, 1, 0, 1])


def test_torch_dataset_input_is_refused():
    data = torch.utils.data.TensorDataset(torch.zeros(4, 3, 8, 8), torch.zeros(4))
    with pytest.raises(ValueError, match="image path"):
        CANClassifier(**TINY).fit(data)


@pytest.mark.parametrize("annotations, y, message", [
    ([[0, 0, 1], [1, 0, 0]], [0, 1, 0, 1], "either y or annotations"),
    ([[0, 0, 1], [9, 0, 0]], None, "row 1 has item 9"),
    ([[0, 0], [1, 0]], None, r"\(item, worker, label\) rows"),
    ([[0.5, 0, 1]], None, "item column must hold integers"),
])
def test_bad_annotations(annotations, y, message):
    with pytest.raises(ValueError, match=message):
        CANClassifier(**TINY).fit(np.zeros((4, 2)), y, annotations=annotations)


# -- other targets ---------------------------------------------------------------------------------
def test_multi_label_targets():
    x, y = make_multilabel_classification(n_samples=200, n_features=10, n_classes=5,
                                          random_state=0)
    x = StandardScaler().fit_transform(x)
    est = CANClassifier(epochs=10, hidden="32").fit(x, y)
    np.testing.assert_array_equal(est.classes_, np.arange(5))
    pred = est.predict(x)
    assert pred.shape == y.shape and pred.dtype == y.dtype and set(np.unique(pred)) <= {0, 1}
    proba = est.predict_proba(x)
    assert proba.shape == (200, 5) and ((proba > 0) & (proba < 1)).all()
    assert 0.6 < est.score(x, y) <= 1.0  # mAP, measured 0.81; class base rates are 0.29-0.42
    assert est.label_quality_.shape == (200,)


def _toy_crowd(n=90, per_item=3):
    """Three separable classes; each item gets ``per_item`` answers from five workers, one of them
    a spammer; the last item gets none."""
    rng = np.random.default_rng(0)
    y = np.arange(n) % 3
    x = rng.normal(size=(n, 4)) + 3.0 * one_hot(y, 3) @ rng.normal(size=(3, 4))
    rows = []
    for i in range(n - 1):
        for w in rng.choice(5, per_item, replace=False):
            label = rng.integers(0, 3) if w == 4 else y[i]
            rows.append((i, f"worker-{w}", ["a", "b", "c"][label]))
    return x, y, rows


@pytest.mark.parametrize("crowd", ["model", "majority", "repeat"])
def test_crowd_modes(crowd):
    x, y, rows = _toy_crowd()
    est = CANClassifier(**TINY, crowd=crowd).fit(x, annotations=rows)
    np.testing.assert_array_equal(est.classes_, ["a", "b", "c"])
    assert est.posterior_.shape == (len(x), 3)
    assert est.label_quality_.shape == (len(x),)
    assert np.isfinite(est.label_quality_[:-1]).all()
    assert est.quality_[0].shape == ((len(x), 4) if crowd == "majority" else (len(rows), 4))
    if crowd != "majority":  # majority voting gives the unannotated item a label
        assert np.isnan(est.label_quality_[-1])


def test_val_fraction_scores_a_noisy_split_but_every_item_gets_a_posterior():
    x, y, _ = _toy_crowd()
    est = CANClassifier(**TINY, val_fraction=0.2).fit(x, y)
    assert "val_noisy_accuracy" in est.history_[-1]
    assert est.metrics_["train_items"] == 72
    assert est.posterior_.shape == (90, 3) and np.isfinite(est.posterior_).all()


def test_music_crowd_labels_beat_chance():
    """Real MTurk answers (44 workers, 2,945 answers on 700 training songs): fit on the answers,
    score on the clean labels of the 300 test songs."""
    with importlib.resources.files("pyro_can.resources").joinpath(
            "music_genre_mturk.npz").open("rb") as fh:
        with np.load(fh) as f:
            d = {k: f[k] for k in f.files}
    train, test = d["train_idx"], d["test_idx"]
    row_of = np.full(len(d["X"]), -1)
    row_of[train] = np.arange(len(train))
    rows = d["annotations"][row_of[d["annotations"][:, 0]] >= 0].copy()
    rows[:, 0] = row_of[rows[:, 0]]
    scaler = StandardScaler().fit(d["X"][train])
    est = CANClassifier(epochs=8, hidden="64,30")
    est.fit(scaler.transform(d["X"][train]), annotations=rows)
    assert est.quality_[0].shape == (len(rows), 4)
    accuracy = est.score(scaler.transform(d["X"][test]), d["y_true"][test])
    assert accuracy > 0.45  # measured 0.60-0.62 (seeds 0-2); chance is 0.1


def test_every_constructor_argument_is_documented_with_its_default():
    """help(CANClassifier) spells out CAN's options one by one, in the CLI's words."""
    import inspect

    from pyro_can.estimator import PlainClassifier

    for cls in (CANClassifier, PlainClassifier):
        doc = cls.__doc__
        for name, p in inspect.signature(cls.__init__).parameters.items():
            if name == "self":
                continue
            assert f"\n    {name} : " in doc and f"default={p.default!r}" in doc, (cls, name)
        assert "decoder : [mlp|linear], default='mlp'" in doc
        assert "p(ỹ|y,z) network" in doc  # the same words as pyro-can fit --help
    assert "method : [can|" in PlainClassifier.__doc__ and "default='plain'" in PlainClassifier.__doc__
