"""How a command reads a run's options: one click option per ``Config`` field (typed, checked and
described by its declaration), ``--config``/``--set``/``--print-config`` beside them, and the
run's ``Config`` built from defaults < preset < ``--set`` < the command line. ``fit``, ``compare``,
``sweep`` and ``tune`` all take their options this way, so one declaration reaches every command
(``config.py``)."""
from __future__ import annotations

import click
from click.core import ParameterSource

from . import api, presets, runs
from .cli_types import RuleType
from .config import EXPERT_FIELDS, FIELDS, RULES, Config
from .errors import OptionError, RunFolderError
from .option_docs import HELP, describe


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


def expert_epilog() -> str:
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


def print_resolved_config(cfg: Config) -> None:
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
