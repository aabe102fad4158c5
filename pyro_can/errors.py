"""Errors the CLI turns into one clear line and a non-zero exit."""


class PyroCanError(Exception):
    """Base class: a user-facing problem with input or options."""


class DataError(PyroCanError, ValueError):
    """Input data is missing, unreadable or not of the expected shape or values."""


class UnknownNameError(PyroCanError, KeyError):
    """A registry name (method, guide, data set, ...) that does not exist."""

    def __str__(self):  # KeyError quotes its message; keep it readable
        return str(self.args[0])


class RunFolderError(PyroCanError):
    """An output folder that already holds a run, or a run folder that is incomplete."""


class TrainingError(PyroCanError):
    """Training diverged (NaN/inf loss)."""
