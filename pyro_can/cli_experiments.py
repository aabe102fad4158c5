"""``compare`` and ``sweep``: grids of runs (``experiments.py``) from the command line. Each
method's cells start from its own config (the preset's row for it, the command line on top); a
progress bar counts the cells, and the summary (results.csv, table.md, a figure) is printed at
the end."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from . import presets
from .cli_errors import user_errors
from .cli_options import build_config, config_options, expert_epilog, output_folder
from .cli_types import ListOf, RuleType
from .config import FIELDS, RULES
from .errors import OptionError
from .experiments import SWEEP_PARAMS
from .rules import Choice, Interval

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


@click.command(name="compare", epilog=expert_epilog())
@config_options
@grid_options(methods="plain,learnq,icnm,bootstrap,can")
@click.option("--noise-rates", type=NOISE_RATES, default="0,0.2,0.4,0.6,0.8",
              show_default=True, help="comma-separated, each in [0, 1]")
@user_errors
def compare_command(methods, noise_rates, seeds, out, jobs, overwrite, preset, settings,
                    print_config, **options):
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


@click.command(name="sweep", epilog=expert_epilog())
@config_options
@click.option("--param", required=True, type=RuleType(Choice("sweep parameter",
                                                                 lambda: tuple(SWEEP_PARAMS))))
@click.option("--values", required=True,
              help="comma-separated values, each by the rule of --param's option")
@grid_options(methods="can")
@user_errors
def sweep_command(param, values, methods, seeds, out, jobs, overwrite, preset, settings,
                  print_config, **options):
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
