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
from .rules import Choice, Interval, Rule, Text

HELP = {
    "data": "data set: digits (bundled), npz (--path), music (bundled real crowd labels), "
            "voc07, voc12, web, amt, sd4, folder, cifar10n (--root)",
    "path": "input file for --data npz (arrays X and y or Y; optional train_idx/test_idx)",
    "noise_rate": "probability P of shuffling a training label vector [default: 0.4 on digits, "
                  "else 0]",
    "test_fraction": "test share when the data has no split",
    "val_fraction": "training share held out as a noisy-label validation set",
    "crowd": "several answers per item: model (one y, one z per answer), majority, repeat, "
             "dawid-skene or glad (aggregated by crowd-kit, an optional extra)",
    "val_from_test": "set this many test items aside (seeded, stratified) as a clean validation "
                     "set to choose settings on; the rest are reported (music's published "
                     "protocol: 100 of the 300 test clips)",
    "batch_norm": "input nets: BatchNorm after each hidden layer",
    "dropout": "input nets: dropout rate after each hidden layer",
    "root": "data folder in the published layout (voc07, voc12, web, amt, sd4, folder)",
    "split": "VOC image set to test on [default: test for voc07, val for voc12]",
    "test": "evaluate on a clean set instead, e.g. voc07:DIR",
    "labels": "cifar10n training labels: aggre, worst, random1, random2, random3, crowd (the "
              "three answers with their workers) or clean (the ceiling)",
    "label_file": "cifar10n: the label file [default: ROOT/CIFAR-10_human.pt]",
    "side_info": "cifar10n --labels crowd: the worker table [default: "
                 "ROOT/side_info_cifar10N.csv]",
    "features": "cifar10n: train the MLP on these features (.npz, training rows then test "
                "rows) instead of the images",
    "arch": "classifier: mlp (features), resnet18/resnet34 (image files) or "
            "cifar-resnet18/cifar-resnet34 (cifar10n images, 3x3 stem, no max-pool)",
    "weights": "local backbone weights (state dict); random init otherwise",
    "test_crops": "1, or 6 = four corners + centre + full image (their features averaged)",
    "feature_cache": "run the frozen backbone once and train the heads on cached features "
                     "(default for image data: train the backbone end to end)",
    "amp": "bfloat16 autocast of the backbone on CUDA (feature extraction: float16)",
    "workers": "DataLoader workers for image data",
    "method": "can, plain, learnq, icnm, bootstrap, crowd-layer (needs workers: --crowd model "
              "on crowd data)",
    "bootstrap": "bootstrap target: soft (probabilities) or hard (predicted label)",
    "learnq_trace": "LearnQ trace penalty on Q",
    "train_fraction": "share of training items kept",
    "guide": "variational guide for latent methods",
    "prior": "p(y): classifier or uniform",
    "decoder": "p(ỹ|y,z) network: mlp or linear",
    "prior_judgement": "guide's p: shared (classifier, no gradient) or separate f_φ",
    "latent": "the clean label y: bernoulli (per class, sigmoid classifier and scores), "
              "categorical (one class: softmax classifier and scores, closed-form categorical "
              "KL; single-label data) or auto (categorical for single-label data); the "
              "baselines but ICNM follow it",
    "ytilde_likelihood": "p(ỹ|y,z): categorical (one answered class), bernoulli (per class) or "
                         "auto (as --latent)",
    "quality_dim": "K, dimensions of the quality embedding z (0 removes z)",
    "quality_prior": "p(z): standard (N(0, I), the paper's worker-blind CAN) or worker "
                     "(N(μ_w, I) with a latent μ_w per worker, and per-worker trust in q(y); "
                     "crowd data)",
    "kl_z_weight": "weight of KL(q(z)||p(z))",
    "copy_init": "decoder's initial half log-ratio that ỹ_c follows y_c",
    "label_init": "additive layer's initial weight of each answer's ±1 evidence",
    "prior_init": "additive layer's initial weight of the prior judgement's logits (>1 "
                  "sharpens the warm classifier, which estimates the flatter p(ỹ|x)) "
                  "[default: 2; 1 with several answers per item]",
    "noise_init": "label reliability at the hand-over from ỹ to q: anchor (estimated from the "
                  "warm classifier's most confident items; replaces --copy-init/--label-init) "
                  "or fixed (keep them)",
    "hidden": "classifier hidden widths",
    "beta": "bootstrap target weight on ỹ",
    "elbo": "meanfield (relaxed y, closed-form KL), tracegraph (discrete y, score function "
            "with baselines), enum (y summed out exactly; single-label data) or trace (relaxed "
            "y, sampled KL)",
    "baseline": "tracegraph's baseline for y's score function: avg (decaying average) or nn "
                "(plus a small neural baseline)",
    "regularizer": "λ's term: entropy (λ·E H(q)) or mi (−λ·(H(E q) − E H(q)), the mutual "
                   "information)",
    "lam": "λ, weight of the regularizer on q(y) and q(z)",
    "tau_start": "relaxed-Bernoulli temperature at the start",
    "tau_end": "temperature at the end (geometric decay)",
    "warmup_epochs": "epochs of pure cross-entropy on ỹ before α_t ramps up (Eq. 7) "
                     "[default: 20; 5 with several answers per item (--crowd model)]",
    "ramp_epochs": "epochs over which α_t ramps to alpha_max",
    "alpha_max": "final share of the classifier's gradient from the KL term",
    "optimizer": "sgd (with --momentum; the paper's) or adam (the Crowd Layer paper's)",
    "lr_step": "divide the learning rate by 1/lr_gamma every lr_step epochs",
    "device": "torch device to train on (auto: cuda when available, else cpu)",
}


def _help(name: str, rule: Rule | None) -> str:
    text = HELP.get(name, "")
    if rule is not None and not isinstance(rule, (Choice, Text)):  # a choice's metavar lists it
        text = f"{text} ({rule.describe()})" if text else rule.describe()
    return text


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
                            show_default=default is not None, help=_help(f.name, rule))(func)
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
        bar.set_postfix(loss=f"{record['loss']:.4f}", test_mAP=f"{record['test_mAP']:.4f}")
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


def _add_inspection_commands():
    from .cli_artifact import export_command, labels_command, predict_command
    from .cli_inspect import inspect_command, posterior_command

    main.add_command(inspect_command)
    main.add_command(posterior_command)
    for command in (predict_command, export_command, labels_command):
        main.add_command(command)


_add_inspection_commands()
