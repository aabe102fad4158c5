"""How the command line reports a problem: a ``PyroCanError`` as one ``error:`` line and its exit
code (2 for a usage error, 1 for data and run-folder errors, 130 for Ctrl-C), pyro-can's own
warnings as one ``warning:`` line. Every command is wrapped in ``user_errors``, so that a user sees
what is wrong, never a traceback of pyro-can's."""
from __future__ import annotations

import functools
import sys
import warnings

import click

from . import distributed
from .errors import DataWarning, PyroCanError


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


def install_one_line_warnings() -> None:
    """Show pyro-can's warnings as ``one_line_warning`` does, once per process."""
    if warnings.showwarning is not one_line_warning:
        one_line_warning.python = warnings.showwarning
        warnings.showwarning = one_line_warning


def one_line_warning(message, category, filename, lineno, file=None, line=None):
    """pyro-can's own warnings (``DataWarning``) as one ``warning:`` line, without the source
    line Python adds; others as Python shows them."""
    if issubclass(category, DataWarning):
        click.echo(f"warning: {message}", err=True)
    else:
        one_line_warning.python(message, category, filename, lineno, file, line)
