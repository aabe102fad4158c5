"""The safety guarantees of docs/bad-input.md, one test per class, on tiny digits runs: what
pyro-can did not write survives byte for byte; a grid never reuses or averages a result
silently; tabular input is never shifted, invented or dropped."""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--method", "plain", "--epochs", "1", "--hidden", "16", "--batch-size", "32"]
TINY_DIGITS = TINY + ["--train-fraction", "0.1"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def digits_npz(path: Path, n: int = 200, labels=None) -> Path:
    d = load_digits()
    y = d.target[:n] if labels is None else labels
    np.savez(path, X=d.data[:n], y=np.asarray(y))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from click.testing import CliRunner

    from pyro_can.cli import main

    out = tmp_path_factory.mktemp("safety") / "run"
    res = CliRunner().invoke(main, ["fit", *TINY_DIGITS, "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


# -- never destroy what pyro-can did not write -----------------------------------------------------
def test_overwrite_removes_only_listed_files_and_never_the_input(cli, tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    data = digits_npz(folder / "data.npz")  # the --path input, in the run folder
    before = digest(data)
    assert cli("fit", *TINY, "--data", "npz", "--path", data, "--out", folder)[0] == 0
    manifest = json.loads((folder / "manifest.json").read_text())
    assert "model.pt" in manifest["files"] and "data.npz" not in manifest["files"]
    (folder / "mine").mkdir()
    (folder / "mine" / "notes.txt").write_text("keep")
    code, _, err = cli("fit", *TINY, "--data", "npz", "--path", data, "--out", folder,
                       "--overwrite")
    assert code == 1 and "data.npz" in err and "mine/" in err
    assert digest(data) == before and (folder / "mine" / "notes.txt").read_text() == "keep"
    assert (folder / "model.pt").is_file()  # nothing removed before the refusal

    edited = tmp_path / "edited"
    assert cli("fit", *TINY_DIGITS, "--out", edited)[0] == 0
    (edited / "history.csv").write_text("my edit\n")  # listed, but its bytes changed
    code, _, err = cli("fit", *TINY_DIGITS, "--out", edited, "--overwrite")
    assert code == 1 and "history.csv" in err
    assert (edited / "history.csv").read_text() == "my edit\n"


def test_a_folder_holding_a_users_file_named_like_a_runs_is_refused(cli, tmp_path):
    folder = tmp_path / "theirs"
    folder.mkdir()
    (folder / "model.pt").write_bytes(b"their model")
    code, _, err = cli("fit", *TINY_DIGITS, "--out", folder)
    assert code == 1 and "model.pt" in err
    assert (folder / "model.pt").read_bytes() == b"their model"
    assert sorted(p.name for p in folder.iterdir()) == ["model.pt"]


def test_estimator_save_overwrite_keeps_a_users_file(tmp_path):
    from pyro_can.errors import RunFolderError
    from pyro_can.estimator import CANClassifier

    d = load_digits()
    est = CANClassifier(epochs=1, hidden="16", batch_size=64).fit(d.data[:150], d.target[:150])
    folder = est.save(tmp_path / "est")
    (folder / "readme.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="readme.txt"):
        est.save(folder, overwrite=True)
    assert (folder / "readme.txt").read_text() == "mine"
    (folder / "readme.txt").unlink()
    est.save(folder, overwrite=True)  # only its own files: replaced
    assert CANClassifier.load(folder).predict(d.data[:5]).shape == (5,)


@pytest.mark.parametrize("command", [
    ("predict", "--input", "{input}", "--out", "{run}/model.pt"),
    ("export", "--format", "state-dict", "--out", "{run}/checkpoint.pt"),
    ("labels", "--out", "{run}/train_data.npz"),
    ("predict", "--input", "{input}", "--out", "{input}"),
])
def test_outputs_never_replace_a_runs_files_or_the_input(cli, run, tmp_path, command):
    x = tmp_path / "rows.csv"
    x.write_text("\n".join(",".join(str(v) for v in r) for r in load_digits().data[:3]) + "\n")
    args = [a.format(run=run, input=x) for a in command]
    target = Path(args[-1])
    before = digest(target)
    code, _, err = cli(args[0], run, *args[1:])
    assert code == 1 and target.name in err, err
    assert digest(target) == before


def test_an_unwritable_output_is_found_before_any_work(cli, run, tmp_path):
    code, _, err = cli("labels", run, "--out", tmp_path / "no" / "such" / "labels.csv")
    assert code == 1 and "no folder" in err


def test_one_process_per_folder_and_stale_locks(cli, tmp_path):
    from pyro_can import safe_io

    folder = tmp_path / "locked"
    folder.mkdir()
    with safe_io.lock(folder):
        code, _, err = cli("fit", *TINY_DIGITS, "--out", folder)
        assert code == 1 and f"process {os.getpid()}" in err
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (folder / safe_io.LOCK).write_text(json.dumps({"pid": int(dead),
                                                   "host": os.uname().nodename}))
    assert cli("fit", *TINY_DIGITS, "--out", folder)[0] == 0  # a dead process's lock
    assert not (folder / safe_io.LOCK).exists()


# -- never reuse or average a result silently -----------------------------------------------------
def test_a_grid_reuses_only_cells_of_the_same_config(cli, tmp_path):
    out = tmp_path / "grid"
    grid = ["compare", *TINY_DIGITS[2:], "--methods", "plain", "--noise-rates", "0.2",
            "--seeds", "0,1", "--out", out]
    assert cli(*grid)[0] == 0
    cell = out / "cells" / "plain-P0.2-s0" / "model.pt"
    first = digest(cell)
    assert cli(*grid)[0] == 0 and digest(cell) == first  # same options: reused as is
    longer = [a if a != "1" else "2" for a in grid]  # --epochs 2
    code, _, err = cli(*longer)
    assert code == 1 and "--epochs 1 (now 2)" in err and digest(cell) == first
    code, _, err = cli(*longer, "--overwrite")
    assert code == 0, err
    rows = (out / "results.csv").read_text().splitlines()[1:]
    assert len(rows) == 2 and len({r.split(",")[-1] for r in rows}) == 2
    assert json.loads((cell.parent / "config.json").read_text())["epochs"] == 2


@pytest.mark.parametrize("option", [("--seeds", "0,0"), ("--methods", "plain,plain"),
                                    ("--noise-rates", "0.2,0.20")])
def test_repeated_grid_values_are_refused(cli, tmp_path, option):
    code, _, err = cli("compare", *TINY_DIGITS[2:], "--methods", "plain", "--seeds", "0",
                       "--noise-rates", "0.2", *option, "--out", tmp_path / "g")
    assert code == 2 and option[0] in err and "more than once" in err


def test_every_cell_is_checked_before_the_first_trains(cli, tmp_path):
    out = tmp_path / "g"  # noise rate 0.2 is refused on music's real crowd labels: cell 2
    code, _, err = cli("sweep", "--data", "music", *TINY[2:], "--methods", "plain", "--seeds",
                       "0", "--param", "noise-rate", "--values", "0,0.2", "--out", out)
    assert code == 1 and "noise-rate" in err
    assert not any((out / "cells").iterdir())


def test_resume_applies_epochs_and_refuses_other_options(cli, tmp_path):
    out = tmp_path / "r"
    assert cli("fit", *TINY_DIGITS, "--out", out)[0] == 0
    code, _, err = cli("fit", "--resume", out, "--lr", "0.5")
    assert code == 2 and "--lr" in err
    assert cli("fit", "--resume", out, "--epochs", "1", "--method", "plain")[0] == 0  # same
    code, _, err = cli("fit", "--resume", out, "--epochs", "2")
    assert code == 0, err
    assert json.loads((out / "config.json").read_text())["epochs"] == 2
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 2
    assert len((out / "history.csv").read_text().splitlines()) == 3


def test_ctrl_c_stops_a_parallel_grid(tmp_path):
    out = tmp_path / "g"
    args = [sys.executable, "cli.py", "sweep", *TINY_DIGITS[:2], "--epochs", "400", "--hidden",
            "16", "--methods", "plain", "--param", "train-fraction", "--values", "0.02,1",
            "--seeds", "0,1,2", "--jobs", "2", "--out", str(out)]
    # 6 cells on 2 workers: the small ones finish at once, two full ones train, one full one
    # waits in the queue however fast the machine is
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and not list(out.glob("cells/*-train-fraction1-*/history.csv")):
        time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read()
    started = {p.parent.name for p in out.glob("cells/*/config.json")}
    os.killpg(proc.pid, signal.SIGINT)
    t0 = time.time()
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, err
    assert time.time() - t0 < 30
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("error: interr")
    cells = {p.parent.name for p in out.glob("cells/*/config.json")}
    assert cells <= started | {c for c in cells if (out / "cells" / c / "metrics.json").exists()}
    assert len(cells) < 6  # queued cells never started
    finished = sorted(p.parent.name for p in out.glob("cells/*/metrics.json"))
    listed = (out / "results.csv").read_text().splitlines()[1:] if finished else []
    assert len(listed) == len(finished)


# -- never shift, invent or drop a row ---------------------------------------------------------
def test_predict_keeps_every_row_in_order_with_its_id(cli, run, tmp_path):
    x = load_digits().data[:4]
    np.save(tmp_path / "x.npy", x)
    ref = tmp_path / "ref.csv"
    assert cli("predict", run, "--input", tmp_path / "x.npy", "--out", ref)[0] == 0
    header = "id," + ",".join(f"f{j}" for j in range(64)) + ","  # trailing comma everywhere
    lines = [header] + [f'"r{i}",' + ",".join(f'"{v:g}"' for v in row) + ","
                        for i, row in enumerate(x)]
    src = tmp_path / "excel.csv"
    src.write_bytes("\ufeff".encode() + ("\r\n".join(lines) + "\r\n").encode())
    out = tmp_path / "pred.csv"
    code, _, err = cli("predict", run, "--input", src, "--out", out)
    assert code == 0, err
    got = [r.split(",") for r in out.read_text().splitlines()]
    want = [r.split(",") for r in ref.read_text().splitlines()]
    assert [r[0] for r in got] == ["id", "r0", "r1", "r2", "r3"]
    assert [r[1:] for r in got[1:]] == [r[1:] for r in want[1:]]


@pytest.mark.parametrize("text,where", [
    ("1,2\n3,\n", "line 2, column 2"),  # an empty cell
    ("1,2\n\n3,4\n", "line 2"),  # a blank line between rows
    ("1,2\n3,4,5\n", "line 2"),  # a row of another width
    ("a,b\n1,x\n", "line 2, column 2 ('b')"),  # text among numbers
])
def test_bad_tables_are_refused_with_line_and_column(text, where, tmp_path):
    from pyro_can import tables
    from pyro_can.errors import DataError

    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=where.replace("(", r"\(").replace(")", r"\)")):
        tables.read_numbers(path)


def test_a_pandas_header_is_a_header_not_a_row(tmp_path):
    from pyro_can import tables

    path = tmp_path / "p.csv"
    path.write_text("0,1,2\n5,6,7\n8,9,10\n")  # DataFrame(...).to_csv(index=False)
    x, ids = tables.read_numbers(path)
    assert x.tolist() == [[5, 6, 7], [8, 9, 10]] and ids is None


def test_degenerate_labels_are_refused_or_mapped(cli, tmp_path):
    code, _, err = cli("fit", *TINY, "--data", "npz", "--path",
                       digits_npz(tmp_path / "one.npz", labels=np.zeros(200, int)),
                       "--out", tmp_path / "one")
    assert code == 1 and "at least two" in err and not (tmp_path / "one").exists()
    np.savez(tmp_path / "nofeat.npz", X=np.zeros((20, 0)), y=np.arange(20) % 2)
    code, _, err = cli("fit", *TINY, "--data", "npz", "--path", tmp_path / "nofeat.npz")
    assert code == 1 and "no feature columns" in err
    codes = np.array([101, 205, 309, 90210])[load_digits().target[:200] % 4]
    out = tmp_path / "codes"
    assert cli("fit", *TINY, "--data", "npz", "--path",
               digits_npz(tmp_path / "codes.npz", labels=codes), "--out", out)[0] == 0
    spec = json.loads((out / "model.json").read_text())
    assert spec["class_names"] == ["101", "205", "309", "90210"]
    assert sum(p.stat().st_size for p in out.iterdir()) < 2_000_000
    rows = load_digits().data[:6]
    table = tmp_path / "eval.csv"
    table.write_text("label," + ",".join(f"f{j}" for j in range(64)) + "\n" + "\n".join(
        f"{c}," + ",".join(f"{v:g}" for v in r) for c, r in zip(codes[:6], rows)) + "\n")
    code, out_text, err = cli("evaluate", out, "--input", table, "--json")
    assert code == 0, err and json.loads(out_text)["items"] == 6
    table.write_text(table.read_text().replace("\n101,", "\n7,", 1))
    code, _, err = cli("evaluate", out, "--input", table)
    assert code == 1 and "'7' is not one of the run's 4 classes" in err


def test_fit_reads_a_csv_through_the_same_parser(cli, tmp_path):
    d = load_digits()
    path = tmp_path / "train.csv"
    path.write_text("id,label," + ",".join(f"f{j}" for j in range(64)) + "\n" + "\n".join(
        f"{i},{'odd' if t % 2 else 'even'}," + ",".join(f"{v:g}" for v in r)
        for i, (t, r) in enumerate(zip(d.target[:200], d.data[:200]))) + "\n")
    out = tmp_path / "csvrun"
    code, _, err = cli("fit", *TINY, "--data", "npz", "--path", path, "--out", out)
    assert code == 0, err
    spec = json.loads((out / "model.json").read_text())
    assert spec["class_names"] == ["even", "odd"] and spec["in_features"] == 64
