"""click parameter types from ``rules.Rule``: the CLI parses and checks an option by the same
rule that ``Config.validate`` applies (``config.RULES``), and a bad value is a click usage error
(exit code 2) naming the option, the value and what was expected."""
from __future__ import annotations

import click

from .errors import OptionError
from .rules import Rule


class RuleType(click.ParamType):
    """A click type from a ``rules.Rule``: the CLI parses and checks an option by the same rule
    that ``Config.validate`` applies, and a bad value is a click usage error (exit code 2) that
    names the option, the value and what was expected."""

    def __init__(self, rule: Rule):
        self.rule = rule
        self.name = rule.metavar()

    def get_metavar(self, param, ctx=None):
        return self.rule.metavar()

    def convert(self, value, param, ctx):
        try:
            return self.rule.parse(value) if isinstance(value, str) else self.rule.check(value)
        except OptionError as e:
            self.fail(str(e), param, ctx)


class ListOf(RuleType):
    """Comma-separated values, each by ``rule`` (``compare --methods can,plain``)."""

    def get_metavar(self, param, ctx=None):
        return "V1,V2,..."

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        items = [v.strip() for v in value.split(",") if v.strip()]
        if not items:
            self.fail(f"needs at least one value ({self.rule.describe()}), got {value!r}",
                      param, ctx)
        try:
            return [self.rule.parse(v) for v in items]
        except OptionError as e:
            self.fail(str(e), param, ctx)
