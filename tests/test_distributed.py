"""``torchrun --nproc_per_node 2 cli.py fit``: two CPU processes (gloo) train one model with
DistributedDataParallel, rank 0 writes the run folder once, and the result matches one process."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["fit", "--epochs", "12", "--noise-rate", "0.4", "--seed", "1", "--warmup-epochs", "8",
        "--ramp-epochs", "2", "--lr-step", "10", "--device", "cpu"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _torchrun(*args, nproc=2):
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node", str(nproc), str(ROOT / "cli.py"), *args],
                          env=ENV, capture_output=True, text=True, timeout=600)


def test_two_processes_match_one_and_write_the_folder_once(tmp_path):
    one = subprocess.run([sys.executable, str(ROOT / "cli.py"), *ARGS, "--out",
                          str(tmp_path / "one")], env=ENV, capture_output=True, text=True,
                         timeout=600)
    assert one.returncode == 0, one.stderr
    two = _torchrun(*ARGS, "--out", str(tmp_path / "two"))
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("test mAP") == 1  # rank 0 alone reports
    a = json.loads((tmp_path / "one" / "metrics.json").read_text())
    b = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert (a["processes"], b["processes"]) == (1, 2)
    assert b["epochs"] == 12
    assert b["test_mAP"] > 0.85  # it learned (chance is about 0.1; one process: 0.92)
    assert abs(a["test_mAP"] - b["test_mAP"]) < 0.02
    rows = (tmp_path / "two" / "history.csv").read_text().splitlines()
    assert len(rows) == 13  # header + one row per epoch: written by one rank
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == [
        "checkpoint.pt", "config.json", "history.csv", "manifest.json", "metrics.json",
        "model.json", "model.pt", "posterior.npz", "train_data.npz"]


def test_torchrun_needs_an_explicit_run_folder(tmp_path):
    r = _torchrun("fit", "--epochs", "1")
    assert r.returncode != 0
    assert r.stderr.count("error: under torchrun, name the run folder with --out") == 1
