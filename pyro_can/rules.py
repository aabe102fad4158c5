"""What an option accepts: a number in an interval, one of a set of names, a list of layer widths,
a torch device. A rule checks a Python value (``check``: from the API, the estimator or a run
folder's config.json) and a command-line string (``parse``), and says what it accepts in words
(``describe``) for ``--help`` and for the error. ``config.RULES`` gives every Config field its rule;
``cli_types.py`` wraps them in click types.

Errors are ``OptionError`` with the value and the expectation but without the option's name,
which the caller knows: ``Config.validate`` and click both prefix it."""
from __future__ import annotations

import math
from typing import Callable

from .errors import OptionError, UnknownNameError


class Rule:
    optional = False  # None is accepted (a default resolved from the data)

    def check(self, value):
        """``value`` if it obeys the rule, else OptionError."""
        raise NotImplementedError

    def parse(self, text: str):
        """The value a command-line string stands for, checked."""
        return self.check(text)

    def describe(self) -> str:
        """The rule in words, for --help."""
        return ""

    def metavar(self) -> str:
        return "TEXT"

    def _none(self, value) -> bool:
        if value is None:
            if self.optional:
                return True
            raise OptionError(f"needs a value ({self.describe()}), got None")
        return False


class Text(Rule):
    def __init__(self, optional: bool = False):
        self.optional = optional

    def check(self, value):
        if self._none(value):
            return value
        if not isinstance(value, str):
            raise OptionError(f"must be text, got {value!r}")
        if "\0" in value:
            raise OptionError(f"must not hold a NUL character, got {value!r}")
        return value


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


class Interval(Rule):
    """A finite number (``kind`` int or float) in ``[lo, hi]``; ``None`` bounds are open ends,
    ``lo_open``/``hi_open`` exclude the bound itself."""

    def __init__(self, lo=None, hi=None, lo_open=False, hi_open=False, kind=float,
                 optional=False):
        self.lo, self.hi, self.lo_open, self.hi_open = lo, hi, lo_open, hi_open
        self.kind, self.optional = kind, optional

    def describe(self) -> str:
        what = "an integer" if self.kind is int else "a number"
        if self.lo is None and self.hi is None:
            return f"{what} (finite)"
        if self.hi is None:
            return (f"{what} > {_fmt(self.lo)}" if self.lo_open
                    else f"at least {_fmt(self.lo)}" if self.kind is int
                    else f"{what} >= {_fmt(self.lo)}")
        return (f"{what} in {'(' if self.lo_open else '['}{_fmt(self.lo)}, {_fmt(self.hi)}"
                f"{')' if self.hi_open else ']'}")

    def metavar(self) -> str:
        return "INTEGER" if self.kind is int else "FLOAT"

    def _fail(self, value):
        text = "must be " + self.describe()
        raise OptionError(f"{text}, got {value!r}")

    def check(self, value):
        if self._none(value):
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self._fail(value)
        if self.kind is int and not isinstance(value, int):
            if not (isinstance(value, float) and math.isfinite(value) and value == int(value)):
                self._fail(value)
            value = int(value)
        if not math.isfinite(value):
            self._fail(value)
        if self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo)):
            self._fail(value)
        if self.hi is not None and (value > self.hi or (self.hi_open and value == self.hi)):
            self._fail(value)
        return self.kind(value)

    def parse(self, text: str):
        if self.optional and text.strip().lower() == "none":
            return None
        try:
            return self.check(int(text) if self.kind is int else float(text))
        except (ValueError, OverflowError):  # OptionError is a ValueError: show the text typed
            self._fail(text)


class Choice(Rule):
    """One of the names ``names()`` returns (looked up when checked, so a registry that imports
    the models can be the source)."""

    def __init__(self, what: str, names: Callable[[], tuple], kind=str):
        self.what, self.names, self.type = what, names, kind

    def describe(self) -> str:
        return "one of " + ", ".join(str(n) for n in self.names())

    def metavar(self) -> str:
        return "[" + "|".join(str(n) for n in self.names()) + "]"

    def check(self, value):
        names = self.names()
        if isinstance(value, bool) or value not in names:
            raise UnknownNameError(f"unknown {self.what} {value!r}; known: "
                                   f"{', '.join(str(n) for n in names)}")
        return value

    def parse(self, text: str):
        if self.type is int:
            try:
                text = int(text)
            except ValueError:
                pass
        return self.check(text)


class Widths(Rule):
    """Comma-separated hidden-layer widths, e.g. ``1024,30``: one or more integers in
    [1, 4096]."""

    MAX = 4096  # a 4096×4096 float32 layer is 64 MiB; wider is a typo more often than a plan

    def describe(self) -> str:
        return f"comma-separated layer widths, integers in [1, {self.MAX}], e.g. 1024,30"

    def metavar(self) -> str:
        return "W1,W2,..."

    def check(self, value):
        if self._none(value):
            return value
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise OptionError(f"must list layer widths ({self.describe()}), got {value!r}")
        parts = [p.strip() for p in str(value).split(",")]
        ok = bool(parts) and all(p.isdigit() and p.isascii() and 1 <= int(p) <= self.MAX
                                 for p in parts)
        if not ok:
            raise OptionError(f"must list layer widths ({self.describe()}), got {value!r}")
        return value


class Device(Rule):
    """``auto``, ``cpu``, ``cuda``/``cuda:N`` (a GPU this machine has) or ``mps``."""

    def describe(self) -> str:
        return "auto, cpu, cuda, cuda:N or mps (a device this machine has)"

    def check(self, value):
        import torch

        if value == "auto" or value == "cpu":
            return value
        if not isinstance(value, str):
            raise OptionError(f"must be {self.describe()}, got {value!r}")
        try:
            device = torch.device(value)
        except (RuntimeError, ValueError, TypeError):
            raise OptionError(f"must be {self.describe()}, got {value!r}") from None
        if device.type == "cpu":
            return value
        if device.type == "cuda":
            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if count == 0:
                raise OptionError(f"{value!r} asked for, but no CUDA device is available")
            if device.index is not None and device.index >= count:
                raise OptionError(f"{value!r}: this machine has {count} CUDA device(s), "
                                  f"cuda:0..cuda:{count - 1}")
            return value
        if device.type == "mps":
            if not torch.backends.mps.is_available():
                raise OptionError(f"{value!r} asked for, but no MPS device is available")
            return value
        raise OptionError(f"must be {self.describe()}, got {value!r}")
