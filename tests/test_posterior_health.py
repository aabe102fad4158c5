"""The posterior health check: a posterior that copies the labels, flips most of them or leaves
the quality embedding unused is never silent (metrics.json, fit's and inspect's warnings)."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from pyro_can.posterior_health import posterior_health


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py


def _one_hot(labels, c=4):
    return np.eye(c)[labels]


def test_verdicts_on_arrays():
    rng = np.random.default_rng(0)
    given = rng.integers(0, 4, 200)
    mu = rng.normal(0, 0.3, (200, 2))
    copy = posterior_health(_one_hot(given), 0.1 + _one_hot(given), mu, True)
    assert copy["status"] == "copies the labels" and copy["changed"] == 0
    assert "fewer --epochs" in copy["warnings"][0] and "--weight-decay" in copy["warnings"][0]
    early = posterior_health(_one_hot(given), 0.1 + _one_hot(given), mu, True, warmup=(3, 20.0))
    assert "more --epochs (the run ended in its warm-up of 20 epochs" in early["warnings"][0]
    flipped = posterior_health(_one_hot(given), _one_hot((given + 1) % 4), mu, True)
    assert flipped["problems"] == ["flips most labels"] and flipped["kept_share"] == 0.0
    some = given.copy()
    some[:40] = (some[:40] + 1) % 4  # 20 % changed: what a posterior that cleans labels does
    ok = posterior_health(_one_hot(given), _one_hot(some), mu, True)
    assert ok["status"] == "ok" and ok["changed"] == 40 and ok["warnings"] == []
    unused = posterior_health(_one_hot(given), _one_hot(some), mu * 1e-3, True)
    assert unused["problems"] == ["quality embedding unused"]
    assert posterior_health(_one_hot(given), _one_hot(some), np.zeros((200, 0)), True)[
        "mean_abs_mu"] is None
    # items without an answer are left out; multi-label labels compare as whole vectors
    answered = np.arange(200) >= 40
    assert posterior_health(_one_hot(given), _one_hot(some), mu, True, answered)[
        "problems"] == ["copies the labels"]
    multi = (rng.random((50, 3)) < 0.5).astype(float)
    assert posterior_health(multi, multi * 0.9 + 0.05, None, False)["status"] == \
        "copies the labels"


def test_tiny_data_trained_long_is_reported_as_copying_the_labels(tmp_path):
    """67 digits at noise 0.4, 40 epochs, no weight decay: the classifier memorizes the noisy
    labels and the posterior keeps every one (measured: all 67 kept)."""
    from pyro_can.cli import main
    from pyro_can.cli_inspect import inspect_command

    out = tmp_path / "tiny"
    res = CliRunner().invoke(main, ["fit", "--data", "digits", "--noise-rate", "0.4",
                                    "--train-fraction", "0.05", "--epochs", "40",
                                    "--weight-decay", "0", "--out", str(out)])
    assert res.exit_code == 0, res.output
    h = json.loads((out / "metrics.json").read_text())["posterior_health"]
    assert "copies the labels" in h["problems"] and h["kept_share"] >= 0.995
    assert "warning: the posterior keeps the given label" in res.stderr
    cli = CliRunner().invoke(inspect_command, [str(out), "--no-cleanlab", "--clusters", "2"])
    assert cli.exit_code == 0, cli.output
    assert "warning: the posterior keeps the given label" in cli.stderr
    s = json.loads((out / "inspect" / "summary.json").read_text())
    assert s["posterior_health"]["status"] == h["status"]
