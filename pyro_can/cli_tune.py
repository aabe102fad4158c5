"""``pyro-can tune``: the built-in search (``pyro_can/tune.py``) from the command line. It takes
every option ``fit`` takes (the base config; the searched options start from there) and prints
each finished trial, then the chosen settings and the refit's test scores.

A standalone click command; ``pyro_can.cli`` adds it to its group with ``main.add_command``."""
from __future__ import annotations

import json

import click

from .cli import config_options, output_folder, report, user_errors
from .cli_types import RuleType
from .config import Config
from .rules import Interval

#: the validation share tune holds out when --val-fraction is left at 0 (fit's default)
DEFAULT_VAL_FRACTION = 0.2


@click.command(name="tune")
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
        options["val_fraction"] = DEFAULT_VAL_FRACTION
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
        click.echo(f"  --{name.replace('_', '-')} {value}")
    if result.refit is not None:
        report(result.refit)
    click.echo(f"search in {out}/ (trials.journal, chosen.json{', run/' if refit else ''})")
