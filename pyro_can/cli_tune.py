"""``tune``: search a method's settings on held-out noisy labels (``tune.py``), print each trial
and the chosen settings as ``fit``'s options, and refit the winner."""
from __future__ import annotations

import dataclasses
import json

import click

from .cli_errors import user_errors
from .cli_options import (build_config, config_options, expert_epilog, output_folder,
                          print_resolved_config)
from .cli_report import report
from .cli_types import RuleType
from .rules import Interval

#: the validation share ``tune`` holds out when --val-fraction is left at 0 (fit's default)
TUNE_VAL_FRACTION = 0.2



def as_option(name: str, value) -> str:
    """A chosen setting as fit's option: ``--lr 0.01``, or ``--hold-noise``/``--no-hold-noise``."""
    flag = f"--{name.replace('_', '-')}"
    if isinstance(value, bool):
        return flag if value else f"--no-{flag[2:]}"
    return f"{flag} {value}"


@click.command(name="tune", epilog=expert_epilog())
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
    cfg = search_config(build_config(options, preset, settings).validate())
    if print_config:
        print_resolved_config(cfg)
        return
    search(cfg, budget, out, refit)


def search_config(cfg):
    """The config a search starts from: ``--val-fraction 0`` (fit's default) holds out
    ``TUNE_VAL_FRACTION`` of the training items instead, since the search scores on them."""
    if cfg.val_fraction == 0:
        cfg = dataclasses.replace(cfg, val_fraction=TUNE_VAL_FRACTION)
    return cfg


def search(cfg, budget: int, out, refit: bool = True):
    """Run ``tune.tune`` with each trial printed, then the chosen settings as fit's options
    and, with ``refit``, the refit run's closing lines (``tune`` and ``fit --tune`` alike)."""
    import optuna

    from . import tune

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the trials are printed below

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
    return result
