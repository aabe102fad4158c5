"""Command-line interface (click). A thin layer over ``pyro_can.api``: it parses options, shows
progress, prints results and turns user errors into one line (exit code 2 for usage errors, 1 for
data and run-folder errors)."""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import sys
import time
import warnings
from pathlib import Path

import click

from click.core import ParameterSource

from . import api, distributed, presets, runs
from .config import EXPERT_FIELDS, FIELDS, RULES, Config
from .errors import DataWarning, OptionError, PyroCanError, RunFolderError
from .experiments import SWEEP_PARAMS
from .cli_types import ListOf, RuleType
from .option_docs import HELP, describe
from .rules import Choice, Interval

def config_options(func):
    """One click option per ``Config`` field, named like the field, defaulting to its default,
    typed and checked by its rule (``config.RULES``), its help its declaration's words. Expert
    options (``expert=True``) are hidden from ``--help`` but still accepted, and settable with
    ``--set`` and presets; ``--config``, ``--set`` and ``--print-config`` come with them."""
    for name in reversed(list(FIELDS)):
        f = FIELDS[name]
        default, hidden = f.default, f.metadata["expert"]
        flag = f"--{name.replace('_', '-')}"
        rule = RULES.get(name)
        if rule is None:  # a flag: --x/--no-x, so that a default of True can be turned off
            func = click.option(f"{flag}/--no-{flag[2:]}", name, default=default,
                                show_default=True, hidden=hidden, help=HELP.get(name, ""))(func)
            continue
        func = click.option(flag, name, type=RuleType(rule), default=default, hidden=hidden,
                            show_default=default is not None, help=describe(name, rule))(func)
    for option in reversed((
            click.option("--config", "preset", default=None, metavar="FILE[:ROW]",
                         help="preset: a TOML file of options, or a name in configs/ "
                              f"({', '.join(presets.names())}); :ROW takes one of its rows "
                              "[default row: the method's]; options given here override it"),
            click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
                         help="set any option, the expert ones off this list included "
                              "(repeatable; `pyro-can options` lists them all)"),
            click.option("--print-config", is_flag=True,
                         help="print the resolved config as TOML (a preset) and exit"))):
        func = option(func)
    return func


def _expert_epilog() -> str:
    return ("Expert options, set with --set KEY=VALUE, a --config preset or their own flag "
            "(`pyro-can options` describes them): " + ", ".join(EXPERT_FIELDS) + ".")


def given_options(options: dict) -> dict:
    """The options typed on the command line (click's ParameterSource), not defaults."""
    ctx = click.get_current_context()
    return {k: v for k, v in options.items() if k in FIELDS
            and ctx.get_parameter_source(k) == ParameterSource.COMMANDLINE}


def build_config(options: dict, preset: str | None, settings, method: str | None = None):
    """The run's Config: defaults < preset (its top level, then its row) < ``--set`` < the
    command line (``presets.py``). ``method`` overrides the method (a grid's cell)."""
    overrides = {**presets.parse_set(settings), **given_options(options)}
    if method is not None:
        overrides["method"] = method
    if preset is None:
        return Config(**{**{k: v for k, v in options.items() if k in FIELDS}, **overrides})
    spec, row = presets.split_name(preset)
    loaded = presets.read(spec)
    if row is not None and row not in loaded.rows:
        raise OptionError(f"--config {preset}: {loaded.path} has no row {row!r}; rows: "
                          f"{', '.join(loaded.rows) or 'none'}")
    if row is None:
        row = overrides.get("method") or loaded.shared.get("method") or FIELDS["method"].default
    return loaded.config(row, overrides)


def _print_config(cfg: Config) -> None:
    """``--print-config``: the config resolved against its data, as a preset."""
    data, _ = api.load_data(cfg)
    click.echo(presets.to_toml(cfg.resolve(data)), nl=False)


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
    if "test_mAP" not in record:  # an epoch --eval-every did not score
        return {}
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


@main.command(epilog=_expert_epilog())
@config_options
@click.option("--out", type=click.Path(), default=None, callback=output_folder,
              help="run folder, checked writable before training [default: "
                   "runs/<data>-<method>-<n>, the first free n]")
@click.option("--overwrite", is_flag=True,
              help="replace a run already in --out (the whole folder)")
@click.option("--resume", "resume_dir", type=click.Path(), default=None,
              help="continue the run in this folder from its last complete epoch")
@user_errors
def fit(out, overwrite, resume_dir, preset, settings, print_config, **options):
    """Train a method and write a run folder.

    Options come from, lowest first: their defaults, a --config preset (its shared settings,
    then its row for the method), --set KEY=VALUE, the options given here. An option set for a
    method it does not apply to is refused.

    Under ``torchrun --nproc_per_node N cli.py fit ...`` the N processes train one model with
    DistributedDataParallel; rank 0 shows progress and writes the folder."""
    if resume_dir:
        cfg = _resumed_config(resume_dir, out, overwrite, options)
    else:
        cfg = build_config(options, preset, settings).validate()
    if print_config:
        _print_config(cfg)
        return
    group = contextlib.nullcontext()
    if distributed.launched_by_torchrun():
        if not (out or resume_dir):  # ranks would each pick a default folder name
            raise OptionError("under torchrun, name the run folder with --out")
        group = distributed.process_group(cfg.device)
    started = time.perf_counter()
    with group:
        bar = progress(cfg.epochs)
        try:
            if resume_dir:
                result = api.resume(resume_dir, on_epoch=bar, epochs=cfg.epochs)
            else:
                result = api.fit(cfg, out=out, overwrite=overwrite, on_epoch=bar,
                                 default_out=out is None)
        finally:
            bar.close()
    if distributed.is_main():
        report(result, wall=time.perf_counter() - started)


def _resumed_config(resume_dir, out, overwrite, options) -> Config:
    """``fit --resume RUN`` continues the run as its config.json says. Of the options given
    with it, ``--epochs N`` is applied (train on to N epochs); any other that differs from the
    run's is refused, naming it (an option equal to the run's, or ``auto``, is fine)."""
    import click.core

    from .config import AUTO_VALUES, flag

    cfg = runs.read_config(resume_dir)
    ctx = click.get_current_context()
    given = [k for k in options if ctx.get_parameter_source(k) in (
        click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)]
    stored = cfg.to_dict()
    differ = [k for k in given if k != "epochs" and options[k] != stored[k]
              and not (k in AUTO_VALUES and options[k] == AUTO_VALUES[k])]
    if overwrite:
        differ.insert(0, "overwrite")
    if out is not None and Path(out).resolve() != Path(resume_dir).resolve():
        differ.insert(0, "out")
    if differ:
        shown = ", ".join(flag(k) for k in differ)
        raise OptionError(f"--resume continues {resume_dir} with the options it was started "
                          f"with (config.json); {shown} would change them: only --epochs can "
                          "be given with --resume (start a new run with --out for the others)")
    if "epochs" in given:
        cfg = dataclasses.replace(cfg, epochs=options["epochs"])
    return cfg


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


def _grid_command(cells, out, jobs, column, title, figure, xlabel, overwrite=False):
    from . import experiments

    from tqdm.auto import tqdm

    bar = tqdm(total=len(cells), unit="run", file=sys.stderr, dynamic_ncols=True)

    def on_cell(cell, row, skipped):
        bar.set_postfix_str(f"{cell.name}{' (done before)' if skipped else ''}: "
                            f"mAP {row['test_mAP']:.3f}")
        bar.update(1)

    try:
        rows = experiments.run_grid(cells, out, jobs=jobs, on_cell=on_cell, overwrite=overwrite)
    finally:
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
                             help=f"parallel processes ({JOBS.rule.describe()})"),
                click.option("--overwrite", is_flag=True,
                             help="re-run the cells already in --out whose options differ "
                                  "from this grid's (without it they are refused; cells with "
                                  "the same options are reused or resumed)"))):
            func = option(func)
        return func
    return wrap


def _method_bases(options, preset, settings, methods, keep=()) -> dict:
    """Each method's base config in a grid: the preset's row for it, the command line on top;
    options that do not concern a method (the grid's options are shared) back at their
    defaults for it, but ``keep`` (a swept option, which must apply)."""
    from . import experiments
    from .resolution import for_method

    experiments.distinct("--methods", methods)  # before a dict of bases merges repeats
    shared = [name for name in FIELDS if name not in keep]
    return {m: for_method(build_config(options, preset, settings, method=m), shared=shared)
            for m in methods}


@main.command(epilog=_expert_epilog())
@config_options
@grid_options(methods="plain,learnq,icnm,bootstrap,can")
@click.option("--noise-rates", type=NOISE_RATES, default="0,0.2,0.4,0.6,0.8",
              show_default=True, help="comma-separated, each in [0, 1]")
@user_errors
def compare(methods, noise_rates, seeds, out, jobs, overwrite, preset, settings, print_config, **options):
    """Methods × noise rates × seeds (paper Table VI); resumable. Options that do not concern a
    method (``--beta`` for CAN, ...) keep their defaults in its cells."""
    from . import experiments

    bases = _method_bases(options, preset, settings, methods)
    if print_config:
        for m in methods:
            click.echo(f"# --method {m}\n{presets.to_toml(bases[m])}")
        return
    cells = [c for m in methods for c in experiments.grid(bases[m], [m], noise_rates, seeds)]
    _grid_command(cells, out, jobs, "noise_rate", "P", "map_vs_noise.png", "noise rate P",
                  overwrite)


@main.command(epilog=_expert_epilog())
@config_options
@click.option("--param", required=True, type=RuleType(Choice("sweep parameter",
                                                                 lambda: tuple(SWEEP_PARAMS))))
@click.option("--values", required=True,
              help="comma-separated values, each by the rule of --param's option")
@grid_options(methods="can")
@user_errors
def sweep(param, values, methods, seeds, out, jobs, overwrite, preset, settings, print_config, **options):
    """One parameter over values (paper Table V: lambda; Fig. 6: train-fraction); resumable."""
    from . import experiments
    from .resolution import not_applying

    field = SWEEP_PARAMS[param]
    ctx = click.get_current_context()
    vals = ListOf(RULES[field]).convert(values, next(
        p for p in ctx.command.params if p.name == "values"), ctx)
    bases = _method_bases(options, preset, settings, methods, keep=(field,))
    for m in methods:
        for name, why in not_applying(dataclasses.replace(bases[m], **{field: vals[0]}),
                                      [field]):
            raise OptionError(f"--param {param} does not apply to --method {m}: {why}")
    if print_config:
        for m in methods:
            click.echo(f"# --method {m}\n{presets.to_toml(bases[m])}")
        return
    cells = [c for m in methods
             for c in experiments.grid(bases[m], [m], [bases[m].noise_rate], seeds, param, vals)]
    _grid_command(cells, out, jobs, "value", param, f"map_vs_{param.replace('-', '_')}.png",
                  param, overwrite)


@main.command("options")
@click.option("--expert", is_flag=True, help="only the expert options (off fit --help)")
def options_command(expert):
    """Every option: its flag, default, section and what it does (presets and --set take the
    same names, with underscores)."""
    for name, f in FIELDS.items():
        if expert and not f.metadata["expert"]:
            continue
        tag = " (expert)" if f.metadata["expert"] else ""
        click.echo(f"{name} = {f.default!r}  [{f.metadata['section']}]{tag}")
        click.echo(f"    {describe(name, RULES.get(name))}")


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
def tune_command(budget, out, refit, preset, settings, print_config, **options):
    """Search a method's settings on held-out noisy labels (Optuna TPE with successive
    halving; --val-fraction 0 means 0.2 here), then refit the winner. The test set is never
    read by the search."""
    import optuna

    from . import tune

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the trials are printed below
    cfg = build_config(options, preset, settings).validate()
    if cfg.val_fraction == 0:
        cfg = dataclasses.replace(cfg, val_fraction=TUNE_VAL_FRACTION)
    if print_config:
        _print_config(cfg)
        return

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
