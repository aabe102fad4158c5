"""Errors the CLI turns into one clear line and a non-zero exit: 2 for a usage error (an option
value or combination), 1 for a problem with the data or a run folder."""


class PyroCanError(Exception):
    """Base class: a user-facing problem with input or options."""

    exit_code = 1


class OptionError(PyroCanError, ValueError):
    """An option value outside its rule, or options that do not go together (a usage error)."""

    exit_code = 2


class DataError(PyroCanError, ValueError):
    """Input data is missing, unreadable or not of the expected shape or values."""


class UnknownNameError(OptionError, KeyError):
    """A registry name (method, guide, data set, ...) that does not exist."""

    def __str__(self):  # KeyError quotes its message; keep it readable
        return str(self.args[0])


class RunFolderError(PyroCanError):
    """An output folder that already holds a run, or a run folder that is missing, incomplete,
    truncated or edited."""


class TrainingError(PyroCanError):
    """Training diverged (NaN/inf loss)."""


class Interrupted(PyroCanError):
    """A fit stopped by Ctrl-C (SIGINT); its run folder holds the last complete epoch."""

    exit_code = 130


class DataWarning(UserWarning):
    """Data that trains but whose score means less than it seems (the CLI prints one
    ``warning:`` line)."""
