"""Command-line interface (click). A thin layer over ``pyro_can.api``: it parses options, shows
progress, prints results and turns user errors into one line and exit code 2."""
from __future__ import annotations

import dataclasses
import functools
import json
import sys
import warnings
from pathlib import Path

import click

from . import api, distributed
from .config import Config
from .errors import PyroCanError

HELP = {
    "data": "data set: digits (bundled), npz (--path), music (bundled real crowd labels), "
            "voc07, voc12, web, amt, sd4, folder (--root)",
    "path": "input file for --data npz (arrays X and y or Y; optional train_idx/test_idx)",
    "noise_rate": "probability P of shuffling a training label vector [default: 0.4 on digits, "
                  "else 0]",
    "test_fraction": "test share when the data has no split",
    "val_fraction": "training share held out as a noisy-label validation set",
    "crowd": "several answers per item: model (one y, one z per answer), majority, repeat, "
             "dawid-skene (needs crowd-kit)",
    "root": "data folder in the published layout (voc07, voc12, web, amt, sd4, folder)",
    "split": "VOC image set to test on [default: test for voc07, val for voc12]",
    "test": "evaluate on a clean set instead, e.g. voc07:DIR",
    "arch": "classifier: mlp (features) or resnet18/resnet34 (images)",
    "weights": "local backbone weights (state dict); random init otherwise",
    "test_crops": "1, or 6 = four corners + centre + full image (their features averaged)",
    "feature_cache": "run the frozen backbone once and train the heads on cached features "
                     "(default for image data: train the backbone end to end)",
    "amp": "bfloat16 autocast of the backbone on CUDA (feature extraction: float16)",
    "workers": "DataLoader workers for image data",
    "method": "can, plain, learnq, icnm, bootstrap",
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
    "lr_step": "divide the learning rate by 1/lr_gamma every lr_step epochs",
    "device": "auto, cpu or cuda",
}


def config_options(func):
    """One click option per ``Config`` field, named like the field, defaulting to its default."""
    for f in reversed(dataclasses.fields(Config)):
        default = f.default
        # a None default (resolved from the data) takes its type from the annotation, "float | None"
        kind = type(default) if default is not None else (
            float if str(f.type).startswith("float") else str)
        flag = f"--{f.name.replace('_', '-')}"
        if isinstance(default, bool):  # --x/--no-x, so that a default of True can be turned off
            func = click.option(f"{flag}/--no-{flag[2:]}", f.name, default=default,
                                show_default=True, help=HELP.get(f.name, ""))(func)
            continue
        func = click.option(flag, f.name, type=kind, default=default,
                            show_default=default is not None, help=HELP.get(f.name, ""))(func)
    return func


def user_errors(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except PyroCanError as e:
            if distributed.is_main():  # under torchrun every rank fails alike; say it once
                click.echo(f"error: {e}", err=True)
            sys.exit(2)
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
        click.echo(f"results in {result.run_dir}/ (metrics.json, history.csv, checkpoint.pt)")


@click.group()
def main():
    """pyro-can: CAN (Yao et al.) for learning from noisy labels, in Pyro."""
    # a non-finite loss stops training with one error naming the epoch and step (train.py);
    # Pyro's own warning about it would only repeat that
    warnings.filterwarnings("ignore", message="Encountered NaN: loss")


@main.command()
@config_options
@click.option("--out", type=click.Path(), default=None,
              help="run folder [default: runs/<data>-<method>-<n>]")
@click.option("--overwrite", is_flag=True, help="replace a run already in --out")
@click.option("--resume", "resume_dir", type=click.Path(), default=None,
              help="continue the run in this folder from its last complete epoch")
@user_errors
def fit(out, overwrite, resume_dir, **options):
    """Train a method and write a run folder.

    Under ``torchrun --nproc_per_node N cli.py fit ...`` the N processes train one model with
    DistributedDataParallel; rank 0 shows progress and writes the folder."""
    if resume_dir:
        cfg = Config.from_dict(api.runs.read_json(api.runs.require(resume_dir, "config.json")))
    else:
        cfg = Config(**options)
    if distributed.launched_by_torchrun():
        if not (out or resume_dir):  # ranks would each pick a default folder name
            raise PyroCanError("under torchrun, name the run folder with --out")
        distributed.init_from_env(cfg.device)
    if resume_dir:
        result = api.resume(resume_dir, on_epoch=progress(cfg.epochs))
    else:
        out = out or api.runs.default_out(cfg)
        result = api.fit(cfg, out=out, overwrite=overwrite, on_epoch=progress(cfg.epochs))
    if distributed.is_main():
        report(result)


@main.command()
@click.argument("run_dir", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="print all metrics as JSON")
@user_errors
def evaluate(run_dir, as_json):
    """Reload a run's classifier and score it on the clean test set."""
    m = api.evaluate(run_dir)
    if as_json:
        click.echo(json.dumps(m, indent=2, sort_keys=True))
        return
    click.echo(f"test_mAP {m['test_mAP']:.6f}")
    if m["test_accuracy"] is not None:
        click.echo(f"test_accuracy {m['test_accuracy']:.6f}")


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise PyroCanError(f"expected comma-separated numbers, got {text!r}") from None


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


@main.command()
@config_options
@click.option("--methods", default="plain,learnq,icnm,bootstrap,can", show_default=True)
@click.option("--noise-rates", default="0,0.2,0.4,0.6,0.8", show_default=True)
@click.option("--seeds", default="0,1,2", show_default=True)
@click.option("--out", type=click.Path(), required=True, help="grid folder")
@click.option("--jobs", type=int, default=1, show_default=True, help="parallel processes")
@user_errors
def compare(methods, noise_rates, seeds, out, jobs, **options):
    """Methods × noise rates × seeds (paper Table VI); resumable."""
    from . import experiments

    options.pop("method")
    options.pop("noise_rate")
    options.pop("seed")
    base = Config(**options)
    cells = experiments.grid(base, [m.strip() for m in methods.split(",") if m.strip()],
                             _floats(noise_rates), [int(s) for s in _floats(seeds)])
    _grid_command(cells, out, jobs, "noise_rate", "P", "map_vs_noise.png", "noise rate P")


@main.command()
@config_options
@click.option("--param", required=True,
              help="lambda, train-fraction, noise-rate, quality-dim, kl-z-weight, "
                   "warmup-epochs, alpha-max, beta")
@click.option("--values", required=True, help="comma-separated values")
@click.option("--methods", default="can", show_default=True)
@click.option("--seeds", default="0,1,2", show_default=True)
@click.option("--out", type=click.Path(), required=True, help="grid folder")
@click.option("--jobs", type=int, default=1, show_default=True, help="parallel processes")
@user_errors
def sweep(param, values, methods, seeds, out, jobs, **options):
    """One parameter over values (paper Table V: lambda; Fig. 6: train-fraction); resumable."""
    from . import experiments
    from .registry import lookup

    field = lookup("sweep parameter", experiments.SWEEP_PARAMS, param)
    options.pop("method")
    options.pop("seed")
    base = Config(**options)
    kind = type(getattr(Config, field)) if getattr(Config, field) is not None else float
    vals = [kind(v) for v in _floats(values)]
    cells = experiments.grid(base, [m.strip() for m in methods.split(",") if m.strip()],
                             [base.noise_rate], [int(s) for s in _floats(seeds)], param, vals)
    _grid_command(cells, out, jobs, "value", param, f"map_vs_{param.replace('-', '_')}.png",
                  param)


def _add_inspection_commands():
    from .cli_inspect import inspect_command, posterior_command

    main.add_command(inspect_command)
    main.add_command(posterior_command)


_add_inspection_commands()
