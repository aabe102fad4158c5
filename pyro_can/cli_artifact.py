"""CLI commands that use what a run trained (``artifact.py``): ``evaluate RUN [--input F]``,
``predict RUN --input F``, ``export RUN --format ... --out F`` and ``labels RUN --out F``.

Standalone click commands; ``pyro_can.cli`` adds them to its group with ``main.add_command``."""
from __future__ import annotations

import json
import sys

import click

from .cli_errors import user_errors
from .cli_types import RuleType
from .export import FORMATS as EXPORT_FORMATS
from .rules import Choice

PROGRESS_ROWS = 20_000  # a bar from here on: below, predict takes well under a second
FORMATS = RuleType(Choice("export format", lambda: EXPORT_FORMATS))


@click.command(name="evaluate")
@click.argument("run_dir", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="print all metrics as JSON")
@click.option("--input", "input_path", type=click.Path(), default=None,
              help="score on this .npz of raw feature rows X and labels y (or Y) instead of the "
                   "run's test set (any run, CANClassifier.save's included)")
@user_errors
def evaluate_command(run_dir, as_json, input_path):
    """Reload a run's classifier and score it on the clean test set."""
    if input_path is not None:
        from .predict import evaluate_file

        m = evaluate_file(run_dir, input_path)
    else:
        from . import api

        m = api.evaluate(run_dir)
    if as_json:
        click.echo(json.dumps(m, indent=2, sort_keys=True))
        return
    click.echo(f"test_mAP {m['test_mAP']:.6f}")
    if m["test_accuracy"] is not None:
        click.echo(f"test_accuracy {m['test_accuracy']:.6f}")


@click.command(name="predict")
@click.argument("run_dir", type=click.Path())
@click.option("--input", "input_path", type=click.Path(), required=True,
              help="raw feature rows, as in the training data (the run's preprocessing is "
                   "applied): .npz (key X), .npy or .csv")
@click.option("--out", type=click.Path(), default=None,
              help="write the predictions here: .csv (row, predicted, p_<class>) or .npz "
                   "(probabilities, predicted, class_names) [default: CSV on stdout]")
@user_errors
def predict_command(run_dir, input_path, out):
    """Class probabilities and the predicted class of every row of --input."""
    from tqdm.auto import tqdm

    from . import predict, safe_io

    if out is not None:  # never over a run's own files or the input; found before any work
        safe_io.check_output(out, inputs=(input_path,))
    state = {}

    def on_start(rows):
        state["bar"] = tqdm(total=rows, unit="row", file=sys.stderr, dynamic_ncols=True,
                            disable=rows < PROGRESS_ROWS)

    try:
        result = predict.predict(run_dir, input_path, on_batch=lambda n: state["bar"].update(n),
                                 on_start=on_start)
    finally:
        if "bar" in state:
            state["bar"].close()
    if out is None:
        click.echo(predict.csv_text(result), nl=False)
        return
    predict.write(result, out)
    n = len(result["probabilities"])
    click.echo(f"predicted {n} rows ({len(result['class_names'])} classes) -> {out}")


@click.command(name="export")
@click.argument("run_dir", type=click.Path())
@click.option("--format", "fmt", type=FORMATS, required=True,
              help="torchscript (torch.jit.load), onnx (onnxruntime; needs the export extra) "
                   "or state-dict (torch.load(weights_only=True))")
@click.option("--out", type=click.Path(), required=True, help="file to write")
@user_errors
def export_command(run_dir, fmt, out):
    """The run's classifier with its preprocessing, usable without pyro-can: raw feature rows
    in, class probabilities out (see README, "Use what you trained")."""
    from .export import export

    export(run_dir, fmt, out)
    click.echo(f"exported {fmt} -> {out}")


@click.command(name="labels")
@click.argument("run_dir", type=click.Path())
@click.option("--out", type=click.Path(), required=True,
              help=".npz in --data npz's format (X, y or Y, class_names, plus posterior_label, "
                   "trust, is_label_issue) or .csv (one row per item)")
@user_errors
def labels_command(run_dir, out):
    """The training labels as CAN read them, with the posterior label, the trust in the given
    label and is_label_issue (the labels of lowest trust, as many as are estimated wrong)."""
    from . import labels

    path, t = labels.write(run_dir, out)
    n, issues = len(t["id"]), int(t["is_label_issue"].sum())
    click.echo(f"{n} training labels, {issues} flagged as label issues -> {path}")
