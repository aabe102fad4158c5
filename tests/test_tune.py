"""The built-in search: resumable from its journal, blind to the test split, and recorded."""
import dataclasses
import json

import numpy as np
import pytest

from pyro_can import api, tune
from pyro_can.config import Config
from pyro_can.errors import OptionError


def _cfg(**kw):
    return Config(**{"method": "gce", "epochs": 2, "hidden": "64", "val_fraction": 0.2, **kw})


def test_a_killed_search_resumes_from_its_journal(tmp_path):
    first = tune.tune(_cfg(), 2, tmp_path, refit=False)
    assert first.trials == 2
    # a process killed mid-trial leaves that trial running in the journal
    tune.study(tmp_path, first.direction, 0).ask()
    second = tune.tune(_cfg(), 3, tmp_path, refit=False)
    assert second.trials == 3  # one more finished trial; the stale one is not counted
    all_trials = tune.study(tmp_path, first.direction, 0).get_trials()
    assert len(all_trials) == 4 and sum(t.state.name == "RUNNING" for t in all_trials) == 1
    chosen = json.loads((tmp_path / tune.CHOSEN).read_text())
    assert chosen["trials"] == 3 and chosen["params"] == second.params


def test_the_search_never_reads_the_test_split(tmp_path, monkeypatch):
    clean = tune.tune(_cfg(), 3, tmp_path / "clean", refit=False)
    load = api.load_data

    def poisoned(cfg):
        data, val = load(cfg)
        rng = np.random.default_rng(1)
        y = data.y_test[rng.permutation(len(data.y_test))]
        return dataclasses.replace(data, y_test=y, x_test=np.full_like(data.x_test, np.nan)), val
    monkeypatch.setattr(api, "load_data", poisoned)
    dirty = tune.tune(_cfg(), 3, tmp_path / "dirty", refit=False)
    assert dirty.params == clean.params and dirty.value == clean.value


def test_objective_is_a_noisy_validation_score():
    assert tune.objective_of("can", True) == ("val_noisy_answer_nll", "minimize")
    assert tune.objective_of("gce", True) == ("val_noisy_accuracy", "maximize")
    assert tune.objective_of("plain", False) == ("val_noisy_mAP", "maximize")
    with pytest.raises(OptionError, match="needs --val-fraction above 0"):
        tune.tune(_cfg(val_fraction=0.0), 1, "unused")


def test_every_method_declares_a_space_of_its_own_options():
    from pyro_can import registry
    from pyro_can.config import Config as C

    fields = {f.name for f in dataclasses.fields(C)}
    for name in registry.METHODS:
        space = tune.search_space(name)
        assert {"lr", "weight_decay"} <= set(space) <= fields, name


def test_tune_from_the_cli_prints_and_refits_the_choice(cli, tmp_path):
    out = tmp_path / "search"
    code, stdout, err = cli("tune", "--method", "elr", "--budget", "2", "--epochs", "2",
                            "--hidden", "64", "--out", out)
    assert code == 0, err
    chosen = json.loads((out / "chosen.json").read_text())
    config = json.loads((out / "run" / "config.json").read_text())
    assert chosen["objective"] == "val_noisy_accuracy" and chosen["trials"] == 2
    assert config["val_fraction"] == 0.0  # the refit trains on every training item
    for name, value in chosen["params"].items():
        assert config[name] == value
        assert f"--{name.replace('_', '-')} {value}" in stdout
    assert (out / "run" / "metrics.json").exists() and "trial 1:" in err


def test_fit_tune_runs_the_same_search_and_fits_the_choice(cli, tmp_path):
    out = tmp_path / "search"
    code, stdout, err = cli("fit", "--tune", "2", "--method", "gce", "--epochs", "2",
                            "--hidden", "64", "--out", out)
    assert code == 0, err
    chosen = json.loads((out / "chosen.json").read_text())
    config = json.loads((out / "run" / "config.json").read_text())
    assert chosen["trials"] == 2 and config["method"] == "gce"
    for name, value in chosen["params"].items():
        assert config[name] == value
    assert "test mAP" in stdout and "trial 1:" in err
    code, _, err = cli("fit", "--tune", "2", "--method", "gce", "--out", out, "--overwrite")
    assert code == 2 and "--overwrite does not apply to a search" in err
