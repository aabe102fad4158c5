"""Atomic checkpoints, resume after SIGKILL, and a clear stop on a diverging loss."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyro_can import api
from pyro_can.config import Config
from pyro_can.errors import TrainingError

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--epochs", "10", "--noise-rate", "0.4", "--seed", "3", "--warmup-epochs", "2",
        "--ramp-epochs", "2", "--lr-step", "4"]
LONG = ["--epochs", "40"]  # runs a signal interrupts: still running when it comes, even under load


def _default_sigint():
    """A shell without job control starts background jobs with SIGINT ignored, and Python then
    never turns SIGINT into KeyboardInterrupt; give the child the default disposition, as a
    terminal's Ctrl-C finds it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _fit(out, *extra):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "fit", *ARGS, "--out",
                             str(out), *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)


def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path):
    whole = _fit(tmp_path / "whole", *LONG)
    assert whole.wait(timeout=300) == 0, whole.stderr.read()
    run = tmp_path / "killed"
    proc = _fit(run, *LONG)
    history = run / "history.csv"
    deadline = time.time() + 240
    while time.time() < deadline:  # kill it once 3 epochs are on disk, in the middle of the 4th
        if history.exists() and len(history.read_text().splitlines()) >= 4:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "metrics.json").exists()
    done = len(history.read_text().splitlines()) - 1
    assert 3 <= done < 40
    assert not list(run.glob(".*.tmp"))  # no half-written file left behind
    resumed = subprocess.run([sys.executable, str(ROOT / "cli.py"), "fit", "--resume", str(run)],
                             env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    a = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    b = json.loads((run / "metrics.json").read_text())
    assert b["epochs"] == 40
    assert abs(a["test_mAP"] - b["test_mAP"]) < 1e-5
    for cls, ap in a["test_AP"].items():
        assert abs(ap - b["test_AP"][cls]) < 1e-5
    assert len((run / "history.csv").read_text().splitlines()) == 41


@pytest.fixture
def nan_in_epoch_two(monkeypatch):
    """Make the plain model's loss NaN from the 3rd step of epoch 2 on (27 steps per epoch;
    under --elbo meanfield, where the model runs once per step: TraceGraph_ELBO also runs it once
    more at its first step, to find the plates' depth)."""
    import pyro
    import torch

    from pyro_can.models.plain import PlainModel

    original, calls = PlainModel.forward, {"n": 0}

    def forward(self, batch, hp):
        original(self, batch, hp)
        calls["n"] += 1
        if calls["n"] >= 27 + 3:
            pyro.factor("boom", torch.tensor(float("nan")))
    monkeypatch.setattr(PlainModel, "forward", forward)


def test_nan_loss_stops_with_epoch_and_step_and_keeps_checkpoint(tmp_path, nan_in_epoch_two):
    import torch

    out = tmp_path / "run"
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 2, step 3;"):
        api.fit(Config(epochs=3, method="plain", noise_rate=0.4, elbo="meanfield"), out=out)
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 1
    assert not (out / "metrics.json").exists()


def test_cli_reports_divergence_as_one_line(cli, tmp_path, nan_in_epoch_two):
    code, _, err = cli("fit", "--method", "plain", "--epochs", "3", "--elbo", "meanfield",
                       "--out", tmp_path / "r")
    assert code == 1
    assert "error: loss became nan at epoch 2, step 3" in err


def test_sigint_ends_fit_with_a_message_and_a_resumable_folder(tmp_path):
    run = tmp_path / "run"
    proc = _fit(run, *LONG)
    history = run / "history.csv"
    deadline = time.time() + 240
    while time.time() < deadline:  # interrupt once 2 epochs are on disk
        if history.exists() and len(history.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"continue with: pyro-can fit --resume {run}" in err.splitlines()[-1]
    assert not (run / "metrics.json").exists() and not list(run.glob(".*.tmp"))
    resumed = subprocess.run([sys.executable, str(ROOT / "cli.py"), "fit", "--resume", str(run)],
                             env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run / "metrics.json").read_text())["epochs"] == 40
