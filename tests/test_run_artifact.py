"""A run folder is a self-contained artifact: its config resolved once, read back as is, and an
older folder refused with one clear message."""
import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from pyro_can.run_folder import RunFolder
from pyro_can import runs
from pyro_can.cli import main
from pyro_can.config import AUTO_VALUES, Config
from pyro_can.datasets import folder

TINY = ["--method", "can", "--epochs", "3", "--warmup-epochs", "1", "--ramp-epochs", "1",
        "--hidden", "32", "--seed", "0"]


def invoke(*args):
    res = CliRunner().invoke(main, [str(a) for a in args])
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """CAN on the digits (the demo's 40% noise) with every data-dependent option left at auto
    but the warm-up (short, to keep the test fast)."""
    run = tmp_path_factory.mktemp("digits") / "run"
    code, _, err = invoke("fit", *TINY, "--out", run)
    assert code == 0, err
    return run


def test_config_json_holds_the_resolved_config(digits_run):
    saved = json.loads((digits_run / "config.json").read_text())
    assert saved["format_version"] == 2
    # auto / null resolved against the digits (single-label, one answer per item)
    assert saved["latent"] == "categorical" and saved["ytilde_likelihood"] == "categorical"
    assert saved["prior_init"] == 2.0 and saved["noise_rate"] == 0.4
    assert saved["warmup_epochs"] == 1.0 and saved["alpha_max"] == 0.9
    cfg = runs.read_config(digits_run)
    assert cfg.unresolved() == []
    assert cfg.resolve(_digits_like()) == cfg  # resolving again changes nothing


def _digits_like():
    from pyro_can.feature_loaders import load_digits

    return load_digits(noise_rate=0.4)


def test_resume_reads_the_resolved_config_back_unchanged(digits_run, tmp_path, monkeypatch):
    """Today's defaults may change; a run keeps the values it was resolved with."""
    run = tmp_path / "run"
    shutil.copytree(digits_run, run)
    before = (run / "config.json").read_text()
    changed = {"warmup_epochs": 7.0, "prior_init": 3.0}  # "today's" defaults, different

    def new_defaults(self, several):
        return dataclasses.replace(self, **{k: v for k, v in changed.items()
                                            if getattr(self, k) is None})
    from pyro_can import resolution

    monkeypatch.setattr(resolution, "resolve_for_answers", new_defaults)
    assert Config().resolve(_digits_like()).prior_init == 3.0  # a new fit would get them

    trainer = RunFolder(run).trainer()
    assert trainer.cfg == runs.read_config(run) and trainer.cfg.prior_init == 2.0
    code, _, err = invoke("fit", "--resume", run)
    assert code == 0, err
    assert (run / "config.json").read_text() == before


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.pop("format_version"), "no format_version"),
    (lambda d: d.update(latent="auto"), "latent not resolved"),
    (lambda d: d.update(warmup_epochs=None, prior_init=None), "prior_init, warmup_epochs not "
                                                               "resolved"),
])
@pytest.mark.parametrize("command", [["evaluate"], ["inspect", "--no-cleanlab"],
                                     ["posterior", "--item", "0"], ["fit", "--resume"]])
def test_old_format_run_folder_is_one_clear_error(digits_run, tmp_path, edit, message, command):
    run = tmp_path / "run"
    shutil.copytree(digits_run, run)
    d = json.loads((run / "config.json").read_text())
    edit(d)
    (run / "config.json").write_text(json.dumps(d))
    before = sorted(p.name for p in run.iterdir())
    args = [*command[:1], run, *command[1:]] if command[0] != "fit" else [*command, run]
    code, out, err = invoke(*args)
    assert code == 1, out + err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert f"{run / 'config.json'}: {message}" in err
    assert "older pyro-can" in err and f"--out {run} --overwrite" in err
    assert sorted(p.name for p in run.iterdir()) == before


def test_auto_values_are_the_config_defaults():
    """Every field ``resolve`` fills is one whose default asks for it."""
    defaults = Config()
    assert {name: getattr(defaults, name) for name in AUTO_VALUES} == AUTO_VALUES


def _raw_digits(run):
    """The digits' raw pixel rows (0..16) of the run's test items, and their classes."""
    from sklearn.datasets import load_digits


    d = load_digits()
    ids = RunFolder(run).data()[0].test_ids
    return d.data[ids].astype(np.float32), d.target[ids]


def test_the_run_folder_is_self_contained(digits_run):
    import torch

    from pyro_can import artifact
    from pyro_can.scoring import class_scores

    state = torch.load(digits_run / "model.pt", weights_only=True)
    assert {"preprocess.mean", "preprocess.std"} <= set(state)
    torch.testing.assert_close(state["preprocess.std"], torch.full((64,), 16.0))  # pixels / 16
    spec = json.loads((digits_run / "model.json").read_text())
    assert spec["class_names"] == [str(c) for c in range(10)] and spec["in_features"] == 64
    prov = spec["provenance"]
    assert set(prov["versions"]) == {"torch", "pyro-ppl", "pyro-can", "numpy"}
    assert prov["versions"]["torch"] == torch.__version__.split("+")[0]
    assert prov["device"] == "cpu" and prov["threads"] >= 1
    # raw rows through the saved preprocessing = the trainer's own scores on its test set
    predictor, _ = artifact.load(digits_run)
    x, _ = _raw_digits(digits_run)
    trainer = RunFolder(digits_run).trainer()
    expected = class_scores(trainer.cfg, trainer.predict_logits(trainer.data.x_test))
    got = predictor(torch.as_tensor(x)).detach().numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_estimator_loads_a_cli_run(digits_run):
    from pyro_can.estimator import CANClassifier

    est = CANClassifier.load(digits_run)
    x, _ = _raw_digits(digits_run)
    from pyro_can import artifact

    predictor, _ = artifact.load(digits_run)
    np.testing.assert_allclose(est.predict_proba(x), predictor(torch_rows(x)).detach().numpy(),
                               atol=1e-6)
    assert list(est.classes_) == [str(c) for c in range(10)]
    assert est.config_ == runs.read_config(digits_run) and est.latent == "categorical"
    with np.load(digits_run / "train_data.npz") as f:
        n = len(f["train_ids"])
    assert est.posterior_.shape == (n, 10) and est.label_quality_.shape == (n,)
    pytest.importorskip("pandas")
    from pyro_can import labels

    table, _ = labels.of_run(digits_run)  # the same table as pyro-can labels
    issues = est.find_label_issues()
    np.testing.assert_array_equal(issues["given_label"], table["given_label"].argmax(1).astype(str))
    np.testing.assert_array_equal(issues["is_label_issue"], table["is_label_issue"])
    np.testing.assert_allclose(issues["trust"], table["trust"], atol=1e-6)


def torch_rows(x):
    import torch

    return torch.as_tensor(x, dtype=torch.float32)


# -- predict -------------------------------------------------------------------------------------
def test_predict_scores_raw_rows_as_the_run_did(digits_run, tmp_path):
    from pyro_can.scoring import class_scores

    x, _ = _raw_digits(digits_run)
    np.savez(tmp_path / "new.npz", X=x)
    code, out, err = invoke("predict", digits_run, "--input", tmp_path / "new.npz",
                            "--out", tmp_path / "p.npz")
    assert code == 0, err
    assert f"predicted {len(x)} rows (10 classes)" in out
    trainer = RunFolder(digits_run).trainer()
    expected = class_scores(trainer.cfg, trainer.predict_logits(trainer.data.x_test))
    with np.load(tmp_path / "p.npz") as f:
        np.testing.assert_allclose(f["probabilities"], expected, atol=1e-6)
        np.testing.assert_array_equal(f["predicted"], expected.argmax(1))
        assert list(f["class_names"]) == [str(c) for c in range(10)]
    # the same rows as CSV in, CSV out (stdout)
    np.savetxt(tmp_path / "new.csv", x[:7], delimiter=",", header="a," * 63 + "a",
               comments="")
    code, out, err = invoke("predict", digits_run, "--input", tmp_path / "new.csv")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("row,predicted,p_0,") and len(lines) == 8
    row = lines[1].split(",")
    np.testing.assert_allclose([float(v) for v in row[2:]], expected[0], atol=1e-5)
    assert row[1] == str(expected[0].argmax())


@pytest.mark.parametrize("make, message", [
    (lambda d, x: np.savez(d / "in.npz", X=x[:, :63]) or d / "in.npz",
     "rows have 63 features; the run's classifier reads 64"),
    (lambda d, x: np.save(d / "in.npy", np.where(np.eye(len(x), 64, 3) > 0, np.nan, x))
     or d / "in.npy", "row 0 holds NaN or inf"),
    (lambda d, x: (d / "in.csv").write_text("1,2,3\n4,x,6\n") and d / "in.csv",
     "line 2, column 2: 'x' is not a number"),
    (lambda d, x: (d / "in.npz").write_text("not a zip") and d / "in.npz",
     "cannot read as .npz"),
    (lambda d, x: np.savez(d / "in.npz", A=x, B=x) or d / "in.npz", "no key 'X'"),
    (lambda d, x: d, "a folder; the run's classifier reads feature rows"),
])
def test_bad_predict_input_is_one_clear_error_and_no_output(digits_run, tmp_path, make,
                                                            message):
    x, _ = _raw_digits(digits_run)
    src = tmp_path / "src"
    src.mkdir()
    path = make(src, x)
    out = tmp_path / "out.csv"
    code, _, err = invoke("predict", digits_run, "--input", path, "--out", out)
    assert code == 1 and err.startswith("error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["src"]


# -- export --------------------------------------------------------------------------------------
def _predicted(run, x, tmp_path):
    np.savez(tmp_path / "rows.npz", X=x)
    code, _, err = invoke("predict", run, "--input", tmp_path / "rows.npz",
                          "--out", tmp_path / "pred.npz")
    assert code == 0, err
    with np.load(tmp_path / "pred.npz") as f:
        return f["probabilities"]


def test_torchscript_and_state_dict_exports_equal_predict(digits_run, tmp_path):
    import torch

    x, _ = _raw_digits(digits_run)
    expected = _predicted(digits_run, x, tmp_path)
    assert invoke("export", digits_run, "--format", "torchscript", "--out",
                  tmp_path / "m.pt")[0] == 0
    module = torch.jit.load(tmp_path / "m.pt")  # plain torch, no pyro-can class involved
    np.testing.assert_allclose(module(torch.as_tensor(x)).numpy(), expected, atol=1e-5)
    # the README's state-dict snippet: rebuild the network from the file alone
    assert invoke("export", digits_run, "--format", "state-dict", "--out",
                  tmp_path / "m.sd")[0] == 0
    saved = torch.load(tmp_path / "m.sd", weights_only=True)
    widths, sd = saved["layers"], saved["state_dict"]
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1])
    net.load_state_dict({k[len("classifier."):]: v for k, v in sd.items()
                         if k.startswith("classifier.")})
    with torch.no_grad():
        logits = net((torch.as_tensor(x) - sd["preprocess.mean"]) / sd["preprocess.std"])
    assert saved["output"] == "softmax"
    np.testing.assert_allclose(logits.softmax(-1).numpy(), expected, atol=1e-5)


def test_onnx_export_equals_predict(digits_run, tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    x, _ = _raw_digits(digits_run)
    expected = _predicted(digits_run, x, tmp_path)
    code, out, err = invoke("export", digits_run, "--format", "onnx", "--out", tmp_path / "m.onnx")
    assert code == 0, err
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    got = session.run(["probabilities"], {"x": x})[0]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert len(x) != 2  # the batch size is free (the export traced a batch of 2)


# -- labels --------------------------------------------------------------------------------------
def test_labels_writes_a_file_fit_accepts(digits_run, tmp_path):
    from pyro_can import labels
    from pyro_can.inspection import inspect

    out = tmp_path / "labels.npz"
    code, stdout, err = invoke("labels", digits_run, "--out", out)
    assert code == 0, err
    with np.load(digits_run / "train_data.npz") as f:
        noisy = f["ann_labels"].argmax(1)
        ids = f["train_ids"]
    with np.load(out) as f:
        arrays = {k: f[k] for k in f.files}
    from sklearn.datasets import load_digits

    np.testing.assert_array_equal(arrays["X"], load_digits().data[ids])  # the raw rows
    np.testing.assert_array_equal(arrays["y"], noisy)  # the labels CAN read (40% shuffled)
    np.testing.assert_array_equal(arrays["id"], ids)
    core = inspect(digits_run, with_cleanlab=False)
    np.testing.assert_allclose(arrays["trust"], core["trust"])
    np.testing.assert_array_equal(arrays["posterior_label"], core["posterior_label"].argmax(1))
    flagged = arrays["is_label_issue"]  # the lowest trust, as many as labels are thought wrong
    assert arrays["trust"][flagged].max() <= arrays["trust"][~flagged].min()
    assert f"{len(ids)} training labels, {int(flagged.sum())} flagged" in stdout
    assert labels.ISSUE_RULE.startswith("is_label_issue")
    code, _, err = invoke("fit", "--data", "npz", "--path", out, "--method", "plain",
                          "--epochs", "1", "--hidden", "16", "--out", tmp_path / "again")
    assert code == 0, err
    # CSV: one row per item, same columns as the estimator's find_label_issues
    code, _, err = invoke("labels", digits_run, "--out", tmp_path / "labels.csv")
    assert code == 0, err
    lines = (tmp_path / "labels.csv").read_text().splitlines()
    assert lines[0] == "id,given_label,posterior_label,trust,is_label_issue"
    assert len(lines) == len(ids) + 1


def test_estimator_run_works_with_predict_evaluate_and_find_label_issues(tmp_path):
    pd = pytest.importorskip("pandas")
    from sklearn.datasets import load_digits

    from pyro_can.estimator import CANClassifier
    from pyro_can.noise import shuffle_labels

    d = load_digits()
    x, y = d.data[:400].astype(np.float32) / 16, d.target[:400]
    noisy, changed = shuffle_labels(np.eye(10)[y], 0.3, np.random.default_rng(0))
    est = CANClassifier(epochs=4, hidden="32", warmup_epochs=2, ramp_epochs=1).fit(
        x, noisy.argmax(1))
    table = est.find_label_issues()
    assert isinstance(table, pd.DataFrame) and len(table) == 400
    assert list(table.columns) == ["given_label", "posterior_label", "trust", "is_label_issue"]
    np.testing.assert_array_equal(table["given_label"], noisy.argmax(1))
    np.testing.assert_allclose(table["trust"], est.label_quality_, rtol=1e-5)
    flagged = table["is_label_issue"].to_numpy()
    assert table["trust"][flagged].max() <= table["trust"][~flagged].min()
    run = est.save(tmp_path / "est")
    np.savez(tmp_path / "rows.npz", X=d.data[1500:], y=d.target[1500:])
    code, _, err = invoke("predict", run, "--input", tmp_path / "rows.npz",
                          "--out", tmp_path / "p.npz")
    assert code == 0, err
    with np.load(tmp_path / "p.npz") as f:
        # the estimator saw X as given: no preprocessing (the /16 here was the caller's)
        np.testing.assert_allclose(f["probabilities"], est.predict_proba(d.data[1500:]),
                                   atol=1e-6)
    code, out, err = invoke("evaluate", run, "--input", tmp_path / "rows.npz")
    assert code == 0, err
    assert out.startswith("test_mAP ")
    code, _, err = invoke("evaluate", run)
    assert code == 1 and "evaluate" in err and "--input FILE.npz" in err


# -- images trained end to end ---------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_predict_reads_a_folder_of_images_for_an_end_to_end_run(tmp_path):
    from fixtures_images import corrupt, make_image_folder

    run, root, trainer, expected, got = _fit_fruit_and_predict(tmp_path, "--epochs", "1")
    spec = json.loads((run / "model.json").read_text())
    assert spec["preprocessing"] == "images" and spec["classifier"]["backbone"] == "trained"
    for path, row in zip(trainer.data.pixels.train_paths, expected):
        np.testing.assert_allclose(got[str(Path(path).relative_to(root))], row, atol=1e-5)
    code, out, err = invoke("predict", run, "--input", root)
    assert code == 0 and out.splitlines()[0] == "file,predicted,p_apple,p_pear", err
    # an unreadable image: one error naming it, nothing written
    bad = tmp_path / "bad"
    make_image_folder(bad, {"x": 2}, seed=50)
    corrupt(bad / "x" / "x_1.jpg")
    code, _, err = invoke("predict", run, "--input", bad, "--out", tmp_path / "bad.csv")
    assert code == 1 and f"{bad / 'x' / 'x_1.jpg'}: cannot read image" in err
    assert not (tmp_path / "bad.csv").exists()
    code, _, err = invoke("predict", run, "--input", tmp_path / "p.npz")
    assert code == 1 and "give --input a folder of image files" in err
    _exports_match_predict(run, root, got, tmp_path)


def _fit_fruit_and_predict(tmp_path, *options):
    """A resnet18 run on a tiny image folder (``options`` added to fit), and ``predict`` on
    the same files: (run, root, the reloaded trainer, its own probabilities of the training
    images, predict's probabilities by file)."""
    from fixtures_images import make_image_folder

    from pyro_can.scoring import class_scores

    root = make_image_folder(tmp_path / "fruit", {"apple": 4, "pear": 4})
    run = tmp_path / "run"
    code, _, err = invoke("fit", "--data", "folder", "--root", root, "--arch", "resnet18",
                          "--batch-size", "4", "--workers", "0", "--device", "cpu", "--hidden",
                          "16", "--out", run, *options)
    assert code == 0, err
    code, _, err = invoke("predict", run, "--input", root, "--out", tmp_path / "p.npz")
    assert code == 0, err
    trainer = RunFolder(run).trainer()
    expected = class_scores(trainer.cfg, trainer.predict_logits(trainer.data.x_train, "train"))
    with np.load(tmp_path / "p.npz") as f:
        got = dict(zip(f["files"], f["probabilities"]))
    return run, root, trainer, expected, got


def _exports_match_predict(run, root, got, tmp_path):
    """TorchScript and ONNX exports of an image run, fed the view predict applies, give
    predict's probabilities; --format state-dict is refused with the formats that work."""
    from PIL import Image

    from pyro_can import artifact
    from pyro_can.predict import image_view

    spec = artifact.read_spec(run)
    names = sorted(got)[:3]
    view = image_view(spec)
    x = torch.stack([view(Image.open(Path(root) / n).convert("RGB")) for n in names])
    expected = np.stack([got[n] for n in names])
    code, _, err = invoke("export", run, "--format", "torchscript", "--out", tmp_path / "m.pt")
    assert code == 0, err
    scripted = torch.jit.load(str(tmp_path / "m.pt"))
    np.testing.assert_allclose(scripted(x).numpy(), expected, atol=1e-5)
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    code, _, err = invoke("export", run, "--format", "onnx", "--out", tmp_path / "m.onnx")
    assert code == 0, err
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    np.testing.assert_allclose(session.run(None, {"x": x.numpy()})[0], expected, atol=1e-5)
    code, _, err = invoke("export", run, "--format", "state-dict", "--out", tmp_path / "s.pt")
    assert code == 1 and "use --format torchscript or onnx" in err
    assert not (tmp_path / "s.pt").exists()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_feature_cache_run_predicts_and_exports_from_image_files(tmp_path):
    """--feature-cache: the frozen backbone and its features' standardization are inside the
    saved predictor, so image files are scored as the cached training features were."""
    run, root, _, expected, got = _fit_fruit_and_predict(tmp_path, "--feature-cache",
                                                         "--epochs", "2")
    assert json.loads((run / "model.json").read_text())["classifier"]["backbone"] == "frozen"
    items = folder.items(str(root))
    for i, row in zip(items.indices("train"), expected):
        np.testing.assert_allclose(got[items.ids[i]], row, atol=1e-4)
    _exports_match_predict(run, root, got, tmp_path)


def test_evaluate_refuses_a_changed_input_file(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 4)).astype(np.float32), rng.integers(0, 3, 60)
    np.savez(tmp_path / "d.npz", X=x, y=y)
    run = tmp_path / "run"
    code, _, err = invoke("fit", "--data", "npz", "--path", tmp_path / "d.npz", "--method",
                          "plain", "--epochs", "1", "--hidden", "8", "--out", run)
    assert code == 0, err
    assert invoke("evaluate", run)[0] == 0
    x[5, 2] += 1.0  # same labels, one feature changed
    np.savez(tmp_path / "d.npz", X=x, y=y)
    code, _, err = invoke("evaluate", run)
    assert code == 1 and "the features rebuilt from config.json differ" in err, err
    assert "was the input file changed?" in err and len(err.strip().splitlines()) == 1


def test_an_mlp_with_batch_norm_and_dropout_is_saved_as_trained(tmp_path):
    """--batch-norm/--dropout (the published music protocol's MLP): model.json records them, so
    the saved predictor is rebuilt with the same layers and scores rows as the run did."""
    from pyro_can.scoring import class_scores

    run = tmp_path / "run"
    code, _, err = invoke("fit", "--data", "music", "--method", "plain", "--crowd", "majority",
                          "--epochs", "2", "--hidden", "16,8", "--batch-norm", "--dropout",
                          "0.5", "--out", run)
    assert code == 0, err
    net = json.loads((run / "model.json").read_text())["classifier"]
    assert net["batch_norm"] is True and net["dropout"] == 0.5
    trainer = RunFolder(run).trainer()
    rows = np.asarray(trainer.data.x_test[:20] * trainer.data.feature_scale[1]
                      + trainer.data.feature_scale[0], np.float32)  # back to raw rows
    np.save(tmp_path / "rows.npy", rows)
    code, _, err = invoke("predict", run, "--input", tmp_path / "rows.npy", "--out",
                          tmp_path / "p.npz")
    assert code == 0, err
    expected = class_scores(trainer.cfg, trainer.predict_logits(trainer.data.x_test[:20]))
    with np.load(tmp_path / "p.npz") as f:
        np.testing.assert_allclose(f["probabilities"], expected, atol=1e-5)
    code, _, err = invoke("export", run, "--format", "torchscript", "--out", tmp_path / "m.pt")
    assert code == 0, err
    np.testing.assert_allclose(torch.jit.load(str(tmp_path / "m.pt"))(torch.from_numpy(rows))
                               .numpy(), expected, atol=1e-5)
    code, _, err = invoke("export", run, "--format", "state-dict", "--out", tmp_path / "s.pt")
    assert code == 1 and "--batch-norm/--dropout" in err and not (tmp_path / "s.pt").exists()
