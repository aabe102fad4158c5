"""A run folder is a self-contained artifact: its config resolved once, read back as is, and an
older folder refused with one clear message."""
import dataclasses
import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from pyro_can import runs
from pyro_can.cli import main
from pyro_can.config import AUTO_VALUES, Config

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
    assert saved["warmup_epochs"] == 1.0
    cfg = runs.read_config(digits_run)
    assert cfg.unresolved() == []
    assert cfg.resolve(_digits_like()) == cfg  # resolving again changes nothing


def _digits_like():
    from pyro_can.data import load_digits

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
    monkeypatch.setattr(Config, "resolve_for_answers", new_defaults)
    assert Config().resolve(_digits_like()).prior_init == 3.0  # a new fit would get them
    from pyro_can import api

    trainer = api.load(run)
    assert trainer.cfg == runs.read_config(run) and trainer.cfg.prior_init == 2.0
    code, _, err = invoke("fit", "--resume", run)
    assert code == 0, err
    assert (run / "config.json").read_text() == before


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.pop("format_version"), "no format_version"),
    (lambda d: d.update(latent="auto"), "latent not resolved"),
    (lambda d: d.update(warmup_epochs=None, prior_init=None), "warmup_epochs, prior_init not "
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

    from pyro_can import api

    d = load_digits()
    ids = api.load(run).data.test_ids
    return d.data[ids].astype(np.float32), d.target[ids]


def test_the_run_folder_is_self_contained(digits_run):
    import torch

    from pyro_can import api, artifact
    from pyro_can.train import class_scores

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
    trainer = api.load(digits_run)
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


def torch_rows(x):
    import torch

    return torch.as_tensor(x, dtype=torch.float32)
