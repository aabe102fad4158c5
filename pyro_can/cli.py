"""Command-line interface (click). A thin layer over ``pyro_can.api``: it parses options, shows
progress, prints results and turns user errors into one line (exit code 2 for usage errors, 1 for
data and run-folder errors).

This module is the group, ``main`` (the ``pyro-can`` console script and ``cli.py``), and
``options``; each other command is a click command in its own module, added here: ``fit`` and
``cli_fit``, ``evaluate``/``predict``/``export``/``labels`` and ``cli_artifact``, ``compare``
and ``sweep`` and ``cli_experiments``, ``tune`` and ``cli_tune``, ``inspect``/``posterior`` and
``cli_inspect``. How they read a run's options: ``cli_options``; how they report errors:
``cli_errors``."""
from __future__ import annotations

import warnings

import click

from .cli_artifact import evaluate_command, export_command, labels_command, predict_command
from .cli_errors import install_one_line_warnings
from .cli_experiments import compare_command, sweep_command
from .cli_fit import fit_command
from .cli_inspect import inspect_command, posterior_command
from .cli_tune import tune_command
from .config import FIELDS, RULES
from .option_docs import describe


@click.group()
def main():
    """pyro-can: CAN (Yao et al.) for learning from noisy labels, in Pyro."""
    # a non-finite loss stops training with one error naming the epoch and step (train.py);
    # Pyro's own warning about it would only repeat that
    warnings.filterwarnings("ignore", message="Encountered NaN: loss")
    install_one_line_warnings()


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


for _command in (fit_command, evaluate_command, predict_command, export_command, labels_command,
                 compare_command, sweep_command, tune_command, inspect_command, posterior_command):
    main.add_command(_command)
del _command
