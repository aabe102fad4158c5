"""``fit``: train a method and write a run folder (``--resume RUN`` continues one), with an epoch
progress bar and the closing lines that say what the run measured and what it could not."""
from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
from pathlib import Path

import click

from . import api, distributed, runs
from .cli_errors import user_errors
from .cli_options import (build_config, config_options, expert_epilog, output_folder,
                          print_resolved_config)
from .cli_report import report
from .cli_tune import search, search_config
from .cli_types import RuleType
from .config import Config
from .errors import OptionError
from .rules import Interval


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


@click.command(name="fit", epilog=expert_epilog())
@config_options
@click.option("--out", type=click.Path(), default=None, callback=output_folder,
              help="run folder, checked writable before training [default: "
                   "runs/<data>-<method>-<n>, the first free n]")
@click.option("--overwrite", is_flag=True,
              help="replace a run already in --out (the whole folder)")
@click.option("--resume", "resume_dir", type=click.Path(), default=None,
              help="continue the run in this folder from its last complete epoch")
@click.option("--tune", "tune_budget", type=RuleType(Interval(1, 10**6, kind=int)),
              default=None, metavar="N",
              help="first search the method's settings for N trials on held-out noisy labels "
                   "(as pyro-can tune --budget N: --out is the search folder, resumable), then "
                   "fit the chosen settings on all training items into OUT/run")
@user_errors
def fit_command(out, overwrite, resume_dir, tune_budget, preset, settings, print_config,
                **options):
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
    if tune_budget is not None:
        return _tuned_fit(cfg, tune_budget, out, overwrite, resume_dir, print_config)
    if print_config:
        print_resolved_config(cfg)
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


def _tuned_fit(cfg: Config, budget: int, out, overwrite: bool, resume_dir, print_config):
    """``fit --tune N``: ``tune``'s search and refit, with fit's default folder when --out is
    not given. A search resumes from its folder's journal, so --overwrite has nothing to
    replace, and --resume continues a fit, not a search."""
    if resume_dir or overwrite:
        raise OptionError(f"--tune: {'--resume' if resume_dir else '--overwrite'} does not "
                          "apply to a search, which resumes from its folder's trials.journal "
                          "(give the same --out again)")
    if distributed.launched_by_torchrun():
        raise OptionError("--tune runs its trials in one process; run it without torchrun")
    cfg = search_config(cfg)
    if print_config:
        print_resolved_config(cfg)
        return
    search(cfg, budget, out if out is not None else runs.claim_default(cfg))


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
