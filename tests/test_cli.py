"""The CLI contract: fit writes a run folder, evaluate reproduces it, bad input fails cleanly."""
import re
import json

import numpy as np
import pytest


def _edit_json(path, **changes):
    """A run file's JSON with ``changes`` made, the rest as written."""
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))



def test_fit_then_evaluate_reproduces_metrics(cli, tmp_path):
    run = tmp_path / "run"
    code, out, err = cli("fit", "--data", "digits", "--noise-rate", "0.4", "--method", "can",
                         "--epochs", "12", "--warmup-epochs", "4", "--ramp-epochs", "4",
                         "--seed", "0", "--out", run)
    assert code == 0, err
    for f in ("config.json", "metrics.json", "history.csv", "checkpoint.pt"):
        assert (run / f).exists()
    m = json.loads((run / "metrics.json").read_text())
    for key in ("test_mAP", "test_AP", "test_accuracy", "epochs", "seconds", "method",
                "noise_rate"):
        assert key in m
    assert m["epochs"] == 12 and m["method"] == "can" and m["noise_rate"] == 0.4
    assert len(m["test_AP"]) == 10
    # ten balanced classes: a random scorer has mAP ~0.1; CAN must be far above it
    assert m["test_mAP"] > 0.6
    history = (run / "history.csv").read_text().splitlines()
    assert len(history) == 13 and "test_mAP" in history[0] and "kl_y" in history[0]
    code, out, _ = cli("evaluate", run)
    assert code == 0
    assert abs(float(out.split()[1]) - m["test_mAP"]) < 1e-6


def test_plain_runs_through_the_same_loop(cli, tmp_path):
    code, out, err = cli("fit", "--method", "plain", "--epochs", "10", "--out", tmp_path / "p")
    assert code == 0, err
    m = json.loads((tmp_path / "p" / "metrics.json").read_text())
    assert m["method"] == "plain" and m["test_mAP"] > 0.6


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.fixture
def good_arrays():
    rng = np.random.default_rng(0)
    return {"X": rng.normal(size=(40, 5)).astype(np.float32), "y": rng.integers(0, 3, 40)}


BAD_INPUTS = {
    "missing file": (lambda d, a: d / "nope.npz", "no such file"),
    "unreadable": (lambda d, a: (d / "bad.npz").write_text("not a zip") and d / "bad.npz",
                   "cannot read as .npz"),
    "missing X": (lambda d, a: _npz(d / "f.npz", y=a["y"]), "missing key 'X'"),
    "missing labels": (lambda d, a: _npz(d / "f.npz", X=a["X"]), "missing labels"),
    "length mismatch": (lambda d, a: _npz(d / "f.npz", X=a["X"], y=a["y"][:30]),
                        "X has 40 rows but the labels have 30"),
    "negative label": (lambda d, a: _npz(d / "f.npz", X=a["X"], y=a["y"] - 5), "negative"),
    "label beyond names": (lambda d, a: _npz(d / "f.npz", X=a["X"], y=a["y"] + 3,
                                             class_names=np.array(["a", "b", "c"])),
                           "has only 3 classes"),
    "not 0/1": (lambda d, a: _npz(d / "f.npz", X=a["X"], Y=np.full((40, 3), 2)),
                "only 0 and 1"),
    "nan in X": (lambda d, a: _npz(d / "f.npz", X=np.where(np.arange(5) == 2, np.nan, a["X"]),
                                   y=a["y"]), "NaN or inf in 40 row(s)"),
    "empty": (lambda d, a: _npz(d / "f.npz", X=np.zeros((0, 5)), y=np.zeros(0, int)),
              "X is empty"),
    "too few rows to split": (lambda d, a: _npz(d / "f.npz", X=a["X"][:1], y=a["y"][:1]),
                              "1 item(s) are too few to split with --test-fraction 0.25"),
    "train and test overlap": (lambda d, a: _npz(d / "f.npz", **a, train_idx=np.arange(30),
                                                 test_idx=np.arange(25, 40)),
                               "'train_idx' and 'test_idx' share 5 row(s) (first: 25)"),
    "single-label Y with an empty row": (
        lambda d, a: _npz(d / "f.npz", X=a["X"], Y=np.eye(3)[a["y"]] * (np.arange(40) != 7)[:, None]),
        "'Y' row 7 has no class on (1 such row(s))"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_npz_gives_one_clear_error(cli, tmp_path, good_arrays, case):
    make, message = BAD_INPUTS[case]
    path = make(tmp_path, good_arrays)
    out = tmp_path / "run"
    code, stdout, err = cli("fit", "--data", "npz", "--path", path, "--epochs", "1",
                            "--out", out)
    assert code == 1  # a data error; 2 is for usage errors
    assert message in err and str(path) in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_test_class_without_training_item_is_never_scored_silently(cli, tmp_path, good_arrays):
    """Class 2 only in the test set: its AP measures nothing the model could learn."""
    y = good_arrays["y"]
    held = np.flatnonzero(y == 0)[:3]
    test_idx = np.concatenate([held, np.flatnonzero(y == 2)[:6]])
    train_idx = np.setdiff1d(np.flatnonzero(y != 2), held)
    path = _npz(tmp_path / "f.npz", **good_arrays, train_idx=train_idx, test_idx=test_idx)
    code, _, err = cli("fit", "--data", "npz", "--path", path, "--epochs", "1",
                       "--out", tmp_path / "run")
    assert code == 0, err
    assert "warning: f.npz: 1 class(es) ('2') have test items but no training item" in err
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["test_classes_without_training"] == ["2"]


def test_good_npz_trains(cli, tmp_path, good_arrays):
    path = _npz(tmp_path / "f.npz", **good_arrays)
    code, _, err = cli("fit", "--data", "npz", "--path", path, "--epochs", "2",
                       "--out", tmp_path / "run")
    assert code == 0, err


@pytest.mark.parametrize("args,message", [
    (("--noise-rate", "1.5"), "'--noise-rate': must be a number in [0, 1], got '1.5'"),
    (("--noise-rate", "-0.1"), "'--noise-rate': must be a number in [0, 1], got '-0.1'"),
    (("--method", "magic"), "unknown method 'magic'; known: can, plain, learnq"),
    (("--data", "imagenet"), "unknown data set 'imagenet'; known: digits, npz, music, voc07"),
    (("--guide", "nope"), "unknown guide 'nope'; known: can, additive, mean-field"),
])
def test_bad_options(cli, tmp_path, args, message):
    out = tmp_path / "run"
    code, _, err = cli("fit", *args, "--epochs", "1", "--out", out)
    assert code == 2 and message in err
    assert not out.exists()


def test_categorical_latent_needs_single_label_data(cli, tmp_path, good_arrays):
    multi = (good_arrays["X"][:, :3] > 0).astype(np.float32)  # several classes on per row
    path = _npz(tmp_path / "m.npz", X=good_arrays["X"], Y=multi)
    code, _, err = cli("fit", "--data", "npz", "--path", path, "--latent", "categorical",
                       "--epochs", "1", "--out", tmp_path / "run")
    assert code == 2 and "error: --latent categorical needs single-label data" in err
    assert not (tmp_path / "run").exists()


def test_existing_run_needs_overwrite(cli, tmp_path):
    out = tmp_path / "run"
    assert cli("fit", "--epochs", "1", "--method", "plain", "--out", out)[0] == 0
    before = (out / "metrics.json").read_text()
    code, _, err = cli("fit", "--epochs", "1", "--method", "plain", "--out", out)
    assert code == 1 and "already holds a run" in err
    assert (out / "metrics.json").read_text() == before
    code, _, err = cli("fit", "--epochs", "2", "--method", "plain", "--out", out, "--overwrite")
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 2


def test_evaluate_rejects_non_run(cli, tmp_path):
    code, _, err = cli("evaluate", tmp_path)
    assert code == 1 and "not a run folder" in err


def test_overwrite_replaces_only_what_pyro_can_wrote(cli, tmp_path):
    out = tmp_path / "run"
    assert cli("fit", "--epochs", "1", "--method", "plain", "--out", out)[0] == 0
    assert cli("inspect", out, "--no-cleanlab")[0] == 0  # pyro-can's own inspect/ goes too
    code, _, err = cli("fit", "--epochs", "1", "--method", "plain", "--out", out, "--overwrite")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint.pt", "config.json", "history.csv", "manifest.json", "metrics.json",
        "model.json", "model.pt", "posterior.npz", "train_data.npz"]
    (out / "notes.txt").write_text("mine\n")  # a user's file: refused, named, kept
    code, _, err = cli("fit", "--epochs", "1", "--method", "plain", "--out", out, "--overwrite")
    assert code == 1 and "notes.txt" in err
    assert (out / "notes.txt").read_text() == "mine\n" and (out / "model.pt").is_file()


def test_fits_without_out_claim_different_folders(cli, tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from pyro_can import runs
    from pyro_can.config import Config

    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        code, out, err = cli("fit", "--epochs", "1", "--method", "plain")
        assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "digits-plain-1", "digits-plain-2"]
    # started at once: os.mkdir either creates a folder or fails, so no two get the same one
    with ThreadPoolExecutor(8) as pool:
        claimed = list(pool.map(lambda _: runs.claim_default(Config(method="can")), range(8)))
    assert len(set(claimed)) == 8
    # a rejected fit claims nothing
    code, _, _ = cli("fit", "--data", "npz", "--path", tmp_path / "missing.npz")
    assert code == 1 and len(list((tmp_path / "runs").iterdir())) == 10


@pytest.mark.parametrize("args,message", [
    (("--lr", "-1"), "Invalid value for '--lr': must be a number > 0, got '-1'"),
    (("--lr", "abc"), "Invalid value for '--lr': must be a number > 0, got 'abc'"),
    (("--momentum", "1"), "Invalid value for '--momentum': must be a number in [0, 1), got '1'"),
    (("--val-fraction", "nan"), "'--val-fraction': must be a number in [0, 1), got 'nan'"),
    (("--hidden", "64,2.5"), "Invalid value for '--hidden': must list layer widths"),
    (("--device", "gpu"), "Invalid value for '--device': must be auto, cpu, cuda, cuda:N or mps"),
    (("--epochs", "0"), "'--epochs': must be an integer in [1, 1000000], got '0'"),
    (("--seed", "-3"), "'--seed': must be an integer in [0, 4294967295], got '-3'"),
    (("--test-crops", "3"), "'--test-crops': unknown test crop count 3; known: 1, 6"),
    # found by the fuzz suite: a value that overflows the float32 tensor it initializes
    (("--label-init", "3.402823466385289e+38"), "'--label-init': must be a number in [-100, 100]"),
])
def test_every_option_is_checked_before_any_work(cli, tmp_path, args, message):
    out = tmp_path / "run"
    code, _, err = cli("fit", *args, "--out", out)
    assert code == 2 and message in err, err
    assert err.strip().splitlines()[-1].startswith("Error: Invalid value for")
    assert not out.exists()


def test_rules_are_in_help(cli):
    code, text, _ = cli("fit", "--help")
    assert code == 0
    flat = " ".join(text.split())
    for rule in ("(a number > 0)", "(a number in [0, 1))", "an integer in [1, 1000000]",
                 "[can|plain|learnq|icnm|bootstrap|crowd-layer|gce|sce|elr|coteaching|dividemix]", "comma-separated layer widths",
                 "auto, cpu, cuda, cuda:N or mps"):
        assert rule in flat, rule


def test_out_through_a_file_is_refused_before_training(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = cli("fit", "--out", blocker / "run")
    assert code == 2 and f"{blocker / 'run'}: {blocker} is a file, not a folder" in err
    code, _, err = cli("fit", "--out", blocker)
    assert code == 2 and "exists and is not a folder" in err


def test_compare_lists_are_checked(cli, tmp_path):
    code, _, err = cli("compare", "--methods", "can,magic", "--out", tmp_path / "g")
    assert code == 2 and "unknown method 'magic'" in err
    code, _, err = cli("compare", "--noise-rates", "0,1.5", "--out", tmp_path / "g")
    assert code == 2 and "'--noise-rates': must be a number in [0, 1], got '1.5'" in err
    code, _, err = cli("sweep", "--param", "lambda", "--values", "0,-1", "--out", tmp_path / "g")
    assert code == 2 and "'--values': must be a number >= 0, got '-1'" in err
    assert not (tmp_path / "g").exists()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from click.testing import CliRunner

    from pyro_can.cli import main

    out = tmp_path_factory.mktemp("tiny") / "run"
    res = CliRunner().invoke(main, ["fit", "--method", "plain", "--epochs", "1",
                                    "--train-fraction", "0.1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


@pytest.mark.parametrize("name, damage, message", [
    ("checkpoint.pt", lambda p: p.write_bytes(p.read_bytes()[:200]),
     "checkpoint.pt: not a readable checkpoint"),
    ("checkpoint.pt", lambda p: p.unlink(), "checkpoint.pt: missing"),
    ("metrics.json", lambda p: p.write_text('{"test_mAP": 0.9'), "metrics.json: not readable as JSON"),
    ("config.json", lambda p: _edit_json(p, lr=-1),
     "config.json: --lr: must be a number > 0, got -1"),
    ("config.json", lambda p: _edit_json(p, seed=5),
     "(the training data rebuilt from config.json does not match train_data.npz"
     "|config.json: changed since the run wrote it)"),
    ("train_data.npz", lambda p: p.write_bytes(b"PK garbage"),
     "train_data.npz: not readable as .npz"),
])
@pytest.mark.parametrize("command", ["evaluate", "inspect", "posterior"])
def test_damaged_run_folder_is_one_clear_error(cli, tmp_path, tiny_run, name, damage, message,
                                               command):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    damage(run / name)
    extra = {"evaluate": [], "inspect": ["--no-cleanlab"], "posterior": ["--item", "0"]}[command]
    code, _, err = cli(command, run, *extra)
    assert code == 1 and err.startswith("error: ") and re.search(message, err), err
    assert len(err.strip().splitlines()) == 1
    assert f"--out {run} --overwrite" in err or "re-run" in err
    assert not (run / "inspect").exists()


def test_progress_bar_watches_validation_not_test():
    """A fit with a validation split shows that split's score, never the test set's; without one
    the bar falls back to the test mAP (the only score there is)."""
    from pyro_can.cli_fit import watched

    record = {"test_mAP": 0.9, "val_noisy_mAP": 0.4, "val_clean_mAP": None}
    assert watched(record) == {"val_noisy_mAP": "0.4000"}
    assert watched({"test_mAP": 0.9, "val_clean_mAP": 0.7}) == {"val_clean_mAP": "0.7000"}
    assert watched({"test_mAP": 0.9}) == {"test_mAP": "0.9000"}
