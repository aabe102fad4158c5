"""Property-based fuzzing of the CLI (Hypothesis): random option values and random corruptions of a
finished run folder (every file it holds, the manifest included), thrown at ``fit``,
``compare``, ``sweep``, ``evaluate``, ``inspect``, ``posterior``, ``fit --resume``, ``predict``,
``export``, ``labels`` and ``CANClassifier.load``; which command reads which file is traced from
the code (an audit hook on ``open``), not written by hand. Whatever the input, a command either works or exits non-zero
with one ``error:``/``Error:`` line (2: usage, 1: data or run folder), never a traceback, and a
failed command leaves the folders it was given as they were (no half-written output).

``PYRO_CAN_FUZZ_EXAMPLES`` sets the examples per property (default 100: under a minute in all on 2
cores); the long run in the README used 2,000.
"""
import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")  # the `test` extra
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from pyro_can.cli import main  # noqa: E402
from pyro_can.config import RULES, Config  # noqa: E402

EXAMPLES = int(os.environ.get("PYRO_CAN_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="PYRO_CAN_FUZZ_SEED" not in
                os.environ, suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.function_scoped_fixture])
# a tiny, fast CAN run: 2 epochs on a tenth of the digits training set
TINY = ["--epochs", "2", "--hidden", "16,8", "--quality-dim", "2", "--warmup-epochs", "1",
        "--ramp-epochs", "1", "--train-fraction", "0.1", "--batch-size", "32", "--seed", "0"]


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_clean_exit(res, codes=(0, 1, 2)):
    """No traceback: the command returned or exited, and a failure is one error line."""
    assert res.exception is None or isinstance(res.exception, SystemExit), (
        f"{type(res.exception).__name__}: {res.exception}\n{res.output}")
    assert "Traceback" not in res.output
    assert res.exit_code in codes, res.output
    if res.exit_code != 0:
        last = res.stderr.strip().splitlines()[-1]
        assert last.startswith(("error: ", "Error: ")), res.stderr
        assert len(last) > len("error: ") + 10


def snapshot(folder: Path) -> dict:
    """Every file under ``folder`` with its size and modification time."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fuzz") / "run"
    res = invoke("fit", *TINY, "--out", out)
    assert res.exit_code == 0, res.output
    item = int(json.loads((out / "metrics.json").read_text())["train_items"])
    assert item > 0
    return out


# -- which command reads which file, traced from the code -------------------------------------------
def _command_args(command: str, run: Path, scratch: Path, item: int) -> list | None:
    """The CLI arguments of each fuzzed command on ``run`` (None: a library call, ``load``)."""
    import numpy as np

    rows = scratch / "rows.npy"
    if not rows.exists():
        from sklearn.datasets import load_digits

        np.save(rows, load_digits().data[:3])
    return {"evaluate": ["evaluate", run], "inspect": ["inspect", run, "--no-cleanlab"],
            "posterior": ["posterior", run, "--item", item],
            "resume": ["fit", "--resume", run],
            "predict": ["predict", run, "--input", rows],
            "export": ["export", run, "--format", "state-dict", "--out", scratch / "m.pt"],
            "labels": ["labels", run, "--out", scratch / "labels.csv"],
            "load": None}[command]


COMMANDS = ("evaluate", "inspect", "posterior", "resume", "predict", "export", "labels", "load")


def run_command(command: str, run: Path, scratch: Path, item: int):
    """(exit code, stderr) of ``command`` on ``run``; ``load`` is ``CANClassifier.load``."""
    args = _command_args(command, run, scratch, item)
    if args is not None:
        res = invoke(*args)
        assert_clean_exit(res)
        return res.exit_code, res.stderr
    from pyro_can.errors import PyroCanError
    from pyro_can.estimator import CANClassifier

    try:
        CANClassifier.load(run)
        return 0, ""
    except PyroCanError as e:  # the one error class a damaged folder may raise
        return e.exit_code, f"error: {e}"


_TRACE = {"on": None}


def _audit(event_name, args):
    """Record every file a command opens for reading (an ``open`` audit event), except the
    re-reads by which safe_io fingerprints a file it has just written."""
    root = _TRACE["on"]
    if root is None or event_name != "open" or not isinstance(args[0], (str, os.PathLike)):
        return
    path, mode, flags = args
    if (mode is not None and any(c in str(mode) for c in "wax+")) or (
            mode is None and flags & (os.O_WRONLY | os.O_RDWR)):
        return
    import sys

    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "_sha256":
            return
        frame = frame.f_back
    try:
        rel = Path(os.fspath(path)).resolve().relative_to(root)
    except ValueError:
        return
    _TRACE["reads"].add(str(rel))


@pytest.fixture(scope="module")
def reads(finished_run, tmp_path_factory):
    """{command: the run's files it reads}, traced on an intact copy of the finished run."""
    import sys

    sys.addaudithook(_audit)  # hooks cannot be removed: it records only while _TRACE["on"]
    out = {}
    for command in COMMANDS:
        run = tmp_path_factory.mktemp("trace") / "run"
        shutil.copytree(finished_run, run)
        _TRACE.update(on=run.resolve(), reads=set())
        try:
            code, err = run_command(command, run, run.parent, _train_ids(finished_run)[0])
        finally:
            _TRACE["on"] = None
        assert code == 0, f"{command} failed on an intact run: {err}"
        out[command] = {f for f in _TRACE["reads"] if (finished_run / f).is_file()}
    return out


def test_every_file_of_a_run_is_read_by_some_command(finished_run, reads):
    """The traced map covers the folder: every file but the history (only ever written) is
    read by some command, so the fuzz below reaches it."""
    files = {p.name for p in finished_run.iterdir() if p.is_file()}
    assert {"model.pt", "model.json", "posterior.npz", "manifest.json"} <= files
    read = set().union(*reads.values())
    assert files - read <= {"history.csv"}, files - read
    assert "model.pt" in reads["predict"] and "model.pt" in reads["load"]


# -- option values --------------------------------------------------------------------------------
ODD_TEXT = st.sampled_from(["", " ", "-0", "0", "1", "-1", "0.5", "1e309", "-1e309", "nan", "inf",
                            "-inf", "0x10", "1_000", " 1 ", "none", "None", "true", "cuda",
                            "cuda:7", "cuda:-1", "mps", "meta", "gpu", "cpu", "1,,2", "0,5",
                            "64,2.5", "3.0", "1e3", "ü", "a" * 200, "--epochs", "2**40",
                            str(2**32), str(2**63), "-" + str(2**63)])
ANY_TEXT = st.one_of(
    ODD_TEXT,
    st.text(max_size=12),
    st.integers(-10**20, 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.lists(st.integers(-5, 5000), min_size=0, max_size=4).map(lambda v: ",".join(map(str, v))),
)
# fields whose valid values still cost training time or memory when combined at random are
# checked by value only; --data and friends choose the loader, which is the point of the fuzz
FIELDS = sorted(RULES)
FLAGS = sorted(f.name for f in dataclasses.fields(Config) if f.name not in RULES)


def _valid_value(name):
    rule = RULES[name]
    names = getattr(rule, "names", None)
    if names is not None:
        return st.sampled_from([str(n) for n in names()])
    return ANY_TEXT


@st.composite
def option_sets(draw):
    names = draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True))
    args = []
    for name in names:
        value = draw(st.one_of(ANY_TEXT, _valid_value(name)))
        args += [f"--{name.replace('_', '-')}", value]
    if draw(st.booleans()):
        flag = draw(st.sampled_from(FLAGS)).replace("_", "-")
        args.append(draw(st.sampled_from([f"--{flag}", f"--no-{flag}"])))
    return args


class _Reached(Exception):
    """Raised in place of training: the options got through every check to a built trainer."""


def _stop_before_training(mp):
    from pyro_can import api, experiments
    from pyro_can.train import Trainer

    class Stop(Trainer):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)  # nets, optimizer and schedules built from the options
            raise _Reached

    mp.setattr(api, "Trainer", Stop)
    mp.setattr(experiments, "run_grid", lambda *a, **k: (_ for _ in ()).throw(_Reached()))


@FUZZ
@given(args=option_sets())
def test_fit_options(tmp_path_factory, args):
    out = Path(tempfile.mkdtemp(dir=tmp_path_factory.getbasetemp())) / "run"
    with pytest.MonkeyPatch.context() as mp:
        _stop_before_training(mp)
        mp.chdir(out.parent)  # a default runs/ folder, if any, lands here
        res = invoke("fit", *args, "--out", out)
    event("reached the trainer" if isinstance(res.exception, _Reached) else f"exit {res.exit_code}")
    if isinstance(res.exception, _Reached):
        return  # every option valid: training would start
    assert_clean_exit(res, codes=(1, 2))
    assert not out.exists(), "a rejected fit left its run folder"
    assert not (out.parent / "runs").exists()


@FUZZ
@given(command=st.sampled_from(["compare", "sweep"]),
       lists=st.dictionaries(st.sampled_from(["--methods", "--noise-rates", "--seeds", "--jobs",
                                              "--values"]), ANY_TEXT, max_size=3),
       param=st.one_of(st.sampled_from(["lambda", "train-fraction", "noise-rate", "quality-dim",
                                        "beta"]), st.text(max_size=8)),
       extra=option_sets())
def test_grid_options(tmp_path_factory, command, lists, param, extra):
    out = Path(tempfile.mkdtemp(dir=tmp_path_factory.getbasetemp())) / "grid"
    args = [a for kv in lists.items() for a in kv]
    if command == "sweep":
        args += ["--param", param] + ([] if "--values" in lists else ["--values", "0,1"])
    else:
        args = [a for kv in lists.items() if kv[0] != "--values" for a in kv]
    with pytest.MonkeyPatch.context() as mp:
        _stop_before_training(mp)
        res = invoke(command, *args, *extra, "--out", out)
    event("reached the grid" if isinstance(res.exception, _Reached) else f"exit {res.exit_code}")
    if isinstance(res.exception, _Reached):
        return
    assert_clean_exit(res, codes=(1, 2))
    assert not out.exists()


# -- corrupted run folders ------------------------------------------------------------------------
def _garble(data: bytes, draw) -> bytes:
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, max(0, len(buf) - 1)))
        if buf:
            buf[i] = draw(st.integers(0, 255))
    return bytes(buf)


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-2**40, 2**40)
                           | st.floats(allow_nan=False) | st.text(max_size=8),
                           lambda kids: st.lists(kids, max_size=3)
                           | st.dictionaries(st.text(max_size=5), kids, max_size=3), max_leaves=5)


@st.composite
def corruptions(draw, files):
    """(file, action, detail): delete, truncate, garble bytes, or edit a JSON field."""
    name = draw(st.sampled_from(files))
    action = draw(st.sampled_from(["delete", "truncate", "garble"]
                                  + (["edit"] if name.endswith(".json") else [])))
    return name, action, draw(st.data())


def corrupt(run: Path, name: str, action: str, data) -> bool:
    """Apply a corruption; returns whether a reader must now fail (a required file gone or cut)."""
    path = run / name
    raw = path.read_bytes()
    if action == "delete":
        path.unlink()
        return True
    if action == "truncate":
        path.write_bytes(raw[:data.draw(st.integers(0, max(0, len(raw) - 2)), label="length")])
        return True
    if action == "garble":
        path.write_bytes(_garble(raw, data.draw))
        return False  # a flipped digit can still be a valid value
    obj = json.loads(raw)
    key = data.draw(st.sampled_from(sorted(obj)) | st.text(max_size=6), label="key")
    obj[key] = data.draw(JSON_VALUES, label="value")
    path.write_text(json.dumps(obj))
    return False


def _train_ids(run: Path) -> list[int]:
    import numpy as np

    with np.load(run / "train_data.npz") as f:
        return [int(i) for i in f["train_ids"]]


@FUZZ
@given(command=st.sampled_from(COMMANDS), pick=st.data())
def test_damaged_run_folder(finished_run, reads, tmp_path_factory, command, pick):
    run = Path(tempfile.mkdtemp(dir=tmp_path_factory.getbasetemp())) / "run"
    shutil.copytree(finished_run, run)
    files = sorted(p.name for p in finished_run.iterdir() if p.is_file())
    name, action, data = pick.draw(corruptions(files), label="damage")
    must_fail = corrupt(run, name, action, data) and name in reads[command]
    if command == "resume" and name == "checkpoint.pt" and action == "truncate":
        must_fail = True  # a checkpoint that is there must be readable
    if action == "delete" and (name == "manifest.json" or (
            command == "resume" and name not in ("config.json", "train_data.npz"))):
        must_fail = False  # an older run (no manifest) reads; resume rewrites what it lacks
    before = snapshot(run)
    code, err = run_command(command, run, run.parent, _train_ids(finished_run)[0])
    event(f"{command}, {name} {action}: exit {code}")
    if must_fail:
        assert code != 0, f"{command} accepted {name} after {action}"
    if code != 0:
        assert snapshot(run) == before, "a failed command changed the run folder"
        if name in reads[command] and code == 1:
            assert str(run) in err  # the error says which folder (and mostly which file)
    assert not list(run.rglob(".*.tmp")), "a half-written file was left behind"
    shutil.rmtree(run.parent)


def test_intact_run_still_works(finished_run, reads):
    """The fuzzed commands succeed on the undamaged folder (``reads`` ran each of them on an
    intact copy), so failures above are the damage."""
    assert set(reads) == set(COMMANDS)
