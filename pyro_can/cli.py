"""Command-line interface (click). A thin layer over ``pyro_can.api``: it parses options, shows
progress, prints results and turns user errors into one line (exit code 2 for usage errors, 1 for
data and run-folder errors)."""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import sys
import warnings
from pathlib import Path

import click

from . import api, distributed, runs
from .config import RULES, Config
from .errors import DataWarning, OptionError, PyroCanError, RunFolderError
from .experiments import SWEEP_PARAMS
from .cli_types import ListOf, RuleType
from .option_docs import HELP, describe
from .rules import Choice, Interval

def config_options(func):
    """One click option per ``Config`` field, named like the field, defaulting to its default,
    typed and checked by its rule in ``config.RULES``."""
    for f in reversed(dataclasses.fields(Config)):
        default = f.default
        flag = f"--{f.name.replace('_', '-')}"
        rule = RULES.get(f.name)
        if rule is None:  # a flag: --x/--no-x, so that a default of True can be turned off
            func = click.option(f"{flag}/--no-{flag[2:]}", f.name, default=default,
                                show_default=True, help=HELP.get(f.name, ""))(func)
            continue
        func = click.option(flag, f.name, type=RuleType(rule), default=default,
                            show_default=default is not None, help=describe(f.name, rule))(func)
    return func


def output_folder(ctx, param, value):
    """--out: refused before any work when it cannot be written (runs through a file, parent not
    writable), so a long fit never ends in an I/O error."""
    if value is not None:
        try:
            runs.check_writable(value)
        except RunFolderError as e:
            raise click.BadParameter(str(e), ctx, param) from None
    return value


def user_errors(func):
    """PyroCanError -> one ``error:`` line; exit code 2 for a usage error (``OptionError``),
    1 for data and run-folder errors, 130 for Ctrl-C."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except PyroCanError as e:
            if distributed.is_main():  # under torchrun every rank fails alike; say it once
                click.echo(f"error: {e}", err=True)
            sys.exit(e.exit_code)
    return wrapper


def watched(record: dict) -> dict:
    """The score the bar shows: the validation split's mAP when the run has one (noisy-label, or
    clean rows of the test images), so that nobody watching a fit tunes on the test set; the test
    mAP only when there is no validation split."""
    for key in ("val_noisy_mAP", "val_clean_mAP"):
        if record.get(key) is not None:
            return {key: f"{record[key]:.4f}"}
    return {"test_mAP": f"{record['test_mAP']:.4f}"}


def progress(total: int, start: int = 0):
    """An epoch progress bar, opened on the first finished epoch so that input errors, which are
    raised before training starts, print alone."""
    from tqdm.auto import tqdm

    state = {}

    def on_epoch(trainer, record):
        if "bar" not in state:
            state["bar"] = tqdm(total=total, initial=record["epoch"] - 1, unit="epoch",
                                file=sys.stderr, dynamic_ncols=True)
        bar = state["bar"]
        bar.set_postfix(loss=f"{record['loss']:.4f}", **watched(record))
        bar.update(1)
        if record["epoch"] >= trainer.cfg.epochs:
            bar.close()

    def close():  # an interrupted or failed fit: end the bar before the error line
        if "bar" in state:
            state["bar"].close()
    on_epoch.close = close
    return on_epoch


def report(result) -> None:
    m = result.metrics
    acc = "" if m["test_accuracy"] is None else f"  test accuracy {m['test_accuracy']:.4f}"
    click.echo(f"{m['method']}: test mAP {m['test_mAP']:.4f}{acc}  ({m['seconds']:.1f} s)")
    if "train_cleaned_label_accuracy" in m:  # the data set knows the true training labels
        click.echo(f"training labels right: given {m['train_given_label_accuracy']:.4f}, "
                   f"cleaned {m['train_cleaned_label_accuracy']:.4f} (against the true labels, "
                   "reported only)")
    if m.get("collapsed"):
        click.echo("warning: the classifier's predictions collapsed onto one class; see "
                   "history.csv (recon, kl_y, kl_z) and docs/training.md", err=True)
    if m.get("test_skipped_classes"):
        click.echo(f"note: classes with no positive test item were skipped: "
                   f"{', '.join(m['test_skipped_classes'])}", err=True)
    if result.run_dir is not None:
        click.echo(f"results in {result.run_dir}/ (metrics.json, history.csv, checkpoint.pt, "
                   "model.pt)")


@click.group()
def main():
    """pyro-can: CAN (Yao et al.) for learning from noisy labels, in Pyro."""
    # a non-finite loss stops training with one error naming the epoch and step (train.py);
    # Pyro's own warning about it would only repeat that
    warnings.filterwarnings("ignore", message="Encountered NaN: loss")
    if warnings.showwarning is not _one_line_warning:
        _one_line_warning.python = warnings.showwarning
        warnings.showwarning = _one_line_warning


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    """pyro-can's own warnings (``DataWarning``) as one ``warning:`` line, without the source
    line Python adds; others as Python shows them."""
    if issubclass(category, DataWarning):
        click.echo(f"warning: {message}", err=True)
    else:
        _one_line_warning.python(message, category, filename, lineno, file, line)


@main.command()
@config_options
@click.option("--out", type=click.Path(), default=None, callback=output_folder,
              help="run folder, checked writable before training [default: "
                   "runs/<data>-<method>-<n>, the first free n]")
@click.option("--overwrite", is_flag=True,
              help="replace a run already in --out (the whole folder)")
@click.option("--resume", "resume_dir", type=click.Path(), default=None,
              help="continue the run in this folder from its last complete epoch")
@user_errors
def fit(out, overwrite, resume_dir, **options):
    """Train a method and write a run folder.

    Under ``torchrun --nproc_per_node N cli.py fit ...`` the N processes train one model with
    DistributedDataParallel; rank 0 shows progress and writes the folder."""
    if resume_dir:
        cfg = runs.read_config(resume_dir)
    else:
        cfg = Config(**options)
    group = contextlib.nullcontext()
    if distributed.launched_by_torchrun():
        if not (out or resume_dir):  # ranks would each pick a default folder name
            raise OptionError("under torchrun, name the run folder with --out")
        group = distributed.process_group(cfg.device)
    with group:
        bar = progress(cfg.epochs)
        try:
            if resume_dir:
                result = api.resume(resume_dir, on_epoch=bar)
            else:
                result = api.fit(cfg, out=out, overwrite=overwrite, on_epoch=bar,
                                 default_out=out is None)
        finally:
            bar.close()
    if distributed.is_main():
        report(result)


@main.command()
@click.argument("run_dir", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="print all metrics as JSON")
@click.option("--input", "input_path", type=click.Path(), default=None,
              help="score on this .npz of raw feature rows X and labels y (or Y) instead of the "
                   "run's test set (any run, CANClassifier.save's included)")
@user_errors
def evaluate(run_dir, as_json, input_path):
    """Reload a run's classifier and score it on the clean test set."""
    if input_path is not None:
        from .predict import evaluate_file

        m = evaluate_file(run_dir, input_path)
    else:
        m = api.evaluate(run_dir)
    if as_json:
        click.echo(json.dumps(m, indent=2, sort_keys=True))
        return
    click.echo(f"test_mAP {m['test_mAP']:.6f}")
    if m["test_accuracy"] is not None:
        click.echo(f"test_accuracy {m['test_accuracy']:.6f}")


METHODS = ListOf(RULES["method"])
NOISE_RATES = ListOf(Interval(0, 1))
SEEDS = ListOf(RULES["seed"])
JOBS = RuleType(Interval(1, 256, kind=int))


def _grid_command(cells, out, jobs, column, title, figure, xlabel):
    from . import experiments

    from tqdm.auto import tqdm

    bar = tqdm(total=len(cells), unit="run", file=sys.stderr, dynamic_ncols=True)

    def on_cell(cell, row, skipped):
        bar.set_postfix_str(f"{cell.name}{' (done before)' if skipped else ''}: "
                            f"mAP {row['test_mAP']:.3f}")
        bar.update(1)

    rows = experiments.run_grid(cells, out, jobs=jobs, on_cell=on_cell)
    bar.close()
    experiments.write_summary(Path(out), rows, column, title, figure, xlabel)
    click.echo((Path(out) / "table.md").read_text())
    click.echo(f"results in {out}/ (results.csv, table.md, {figure}, cells/)")


def grid_options(methods: str):
    """The options every grid command shares: methods (default ``methods``), seeds, out, jobs."""
    def wrap(func):
        for option in reversed((
                click.option("--methods", type=METHODS, default=methods, show_default=True,
                             help=f"comma-separated, each {RULES['method'].describe()}"),
                click.option("--seeds", type=SEEDS, default="0,1,2", show_default=True,
                             help="comma-separated integers in [0, 4294967295]"),
                click.option("--out", type=click.Path(), required=True,
                             callback=output_folder, help="grid folder"),
                click.option("--jobs", type=JOBS, default=1, show_default=True,
                             help=f"parallel processes ({JOBS.rule.describe()})"))):
            func = option(func)
        return func
    return wrap


@main.command()
@config_options
@grid_options(methods="plain,learnq,icnm,bootstrap,can")
@click.option("--noise-rates", type=NOISE_RATES, default="0,0.2,0.4,0.6,0.8",
              show_default=True, help="comma-separated, each in [0, 1]")
@user_errors
def compare(methods, noise_rates, seeds, out, jobs, **options):
    """Methods × noise rates × seeds (paper Table VI); resumable."""
    from . import experiments

    options.pop("method")
    options.pop("noise_rate")
    options.pop("seed")
    base = Config(**options)
    cells = experiments.grid(base, methods, noise_rates, seeds)
    _grid_command(cells, out, jobs, "noise_rate", "P", "map_vs_noise.png", "noise rate P")


@main.command()
@config_options
@click.option("--param", required=True, type=RuleType(Choice("sweep parameter",
                                                                 lambda: tuple(SWEEP_PARAMS))))
@click.option("--values", required=True,
              help="comma-separated values, each by the rule of --param's option")
@grid_options(methods="can")
@user_errors
def sweep(param, values, methods, seeds, out, jobs, **options):
    """One parameter over values (paper Table V: lambda; Fig. 6: train-fraction); resumable."""
    from . import experiments

    field = SWEEP_PARAMS[param]
    options.pop("method")
    options.pop("seed")
    base = Config(**options)
    ctx = click.get_current_context()
    vals = ListOf(RULES[field]).convert(values, next(
        p for p in ctx.command.params if p.name == "values"), ctx)
    cells = experiments.grid(base, methods, [base.noise_rate], seeds, param, vals)
    _grid_command(cells, out, jobs, "value", param, f"map_vs_{param.replace('-', '_')}.png",
                  param)


#: the validation share ``tune`` holds out when --val-fraction is left at 0 (fit's default)
TUNE_VAL_FRACTION = 0.2


def as_option(name: str, value) -> str:
    """A chosen setting as fit's option: ``--lr 0.01``, or ``--hold-noise``/``--no-hold-noise``."""
    flag = f"--{name.replace('_', '-')}"
    if isinstance(value, bool):
        return flag if value else f"--no-{flag[2:]}"
    return f"{flag} {value}"


@main.command(name="tune")
@config_options
@click.option("--budget", type=RuleType(Interval(1, 10**6, kind=int)), required=True,
              help="finished trials (complete or pruned) the search runs to in total, those "
                   "already in --out's journal included (an integer in [1, 1000000])")
@click.option("--out", type=click.Path(), required=True, callback=output_folder,
              help="search folder: trials.journal (resumable, shareable by several "
                   "processes), chosen.json and the refit run in run/")
@click.option("--refit/--no-refit", default=True, show_default=True,
              help="train the chosen settings again on all training items into OUT/run")
@user_errors
def tune_command(budget, out, refit, **options):
    """Search a method's settings on held-out noisy labels (Optuna TPE with successive
    halving; --val-fraction 0 means 0.2 here), then refit the winner. The test set is never
    read by the search."""
    import optuna

    from . import tune

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the trials are printed below
    if options["val_fraction"] == 0:
        options["val_fraction"] = TUNE_VAL_FRACTION
    cfg = Config(**options)

    def on_trial(trial):
        value = "" if trial.value is None else f" {trial.value:.4f}"
        click.echo(f"trial {trial.number}: {trial.state.name.lower()}{value} "
                   f"{json.dumps(trial.params, sort_keys=True)}", err=True)

    result = tune.tune(cfg, budget, out, refit=refit, on_trial=on_trial)
    better = "lower" if result.direction == "minimize" else "higher"
    click.echo(f"{cfg.method}: chosen after {result.trials} trials ({result.pruned} pruned, "
               f"{result.seconds:.1f} s): {result.objective} {result.value:.4f} ({better} is "
               "better)")
    for name, value in sorted(result.params.items()):
        click.echo(f"  {as_option(name, value)}")
    if result.refit is not None:
        report(result.refit)
    click.echo(f"search in {out}/ (trials.journal, chosen.json{', run/' if refit else ''})")


def _add_inspection_commands():
    from .cli_artifact import export_command, labels_command, predict_command
    from .cli_inspect import inspect_command, posterior_command

    main.add_command(inspect_command)
    main.add_command(posterior_command)
    for command in (predict_command, export_command, labels_command):
        main.add_command(command)


_add_inspection_commands()
