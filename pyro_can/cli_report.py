"""The closing lines of a fit (``fit``, and ``tune``'s refit): what the run measured, what it
could not know, its warnings, and where its files are."""
from __future__ import annotations

from pathlib import Path

import click


def report(result, wall: float | None = None) -> None:
    """The fit's closing lines; ``wall``: seconds of the whole command (data loading,
    evaluation and the run's files included), beside the training loop's own ``seconds``."""
    m = result.metrics
    acc = "" if m["test_accuracy"] is None else f"  test accuracy {m['test_accuracy']:.4f}"
    took = f"{m['seconds']:.1f} s"
    if wall is not None and wall > m["seconds"] + 0.05:
        took = f"training {m['seconds']:.1f} s, {wall:.1f} s in all with data and files"
    click.echo(f"{m['method']}: test mAP {m['test_mAP']:.4f}{acc}  ({took})")
    if "train_cleaned_label_accuracy" in m:  # the data set knows the true training labels
        click.echo(f"training labels right: given {m['train_given_label_accuracy']:.4f}, "
                   f"cleaned {m['train_cleaned_label_accuracy']:.4f} (against the true labels, "
                   "reported only)")
    elif m.get("train_labels_truth") == "unknown":
        click.echo("note: the data set does not know its true training labels, so how many of "
                   "them are right cannot be measured (a .npz can carry them as 'y_true'); "
                   "pyro-can inspect RUN ranks the suspect ones", err=True)
    elif m.get("train_labels_truth") == "noise mask":
        click.echo("note: only the labels --noise-rate changed are known to be wrong; the data "
                   "set's own labels are of unknown quality", err=True)
    for warning in (m.get("posterior_health") or {}).get("warnings", []):
        click.echo(f"warning: {warning}", err=True)
    if m.get("collapsed"):
        click.echo("warning: the classifier's predictions collapsed onto one class; see "
                   "history.csv (recon, kl_y, kl_z) and docs/training.md", err=True)
    if m.get("test_skipped_classes"):
        click.echo(f"note: classes with no positive test item were skipped: "
                   f"{', '.join(m['test_skipped_classes'])}", err=True)
    if result.run_dir is not None:
        run = result.run_dir
        files = sorted(p.name for p in Path(run).iterdir() if p.is_file())
        click.echo(f"results in {run}/ ({', '.join(files)})")
        click.echo(f"next: pyro-can inspect {run}  |  pyro-can labels {run}  |  "
                   f"pyro-can predict {run} --input FILE")
