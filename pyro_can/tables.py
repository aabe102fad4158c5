"""The one reader of tabular text input (``predict --input F.csv``, ``evaluate --input F.csv``,
``fit --data npz --path F.csv``, ``--data amt``'s features.csv, annotations.csv and truth.csv),
on the standard library's ``csv`` module, by these rules:

* encoding UTF-8, with or without a byte-order mark (Excel's "CSV UTF-8"); anything else is
  refused;
* the delimiter is ``,``, or ``;`` or a tab when ``csv.Sniffer`` finds one of those (and only
  those) in the first lines; fields may be quoted (``"1.5"``, ``"a, b"``);
* the first row is a header when any of its cells is not a number, or when it reads ``0, 1,
  ..., D-1`` (the column names pandas writes for an unnamed frame, ``to_csv(index=False)``);
  a header must name every column (an ``id`` or ``label`` column once);
* a column named ``id`` (any case) holds row ids: kept as the rows' names, never a feature;
* a last column that is empty in every row, header included (a trailing comma on every line),
  is dropped; a row of another width than the header (or the first row) is refused;
* blank lines at the end are ignored; a blank line before the last row is refused;
* in a column of numbers, an empty cell, text, NaN or inf is refused.

Every refusal is one ``DataError`` naming the file, the line and the column. Rows come back in
file order, one per data line: nothing is skipped, merged or invented.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import math
from pathlib import Path

import numpy as np

from .errors import DataError

ID_COLUMN = "id"
LABEL_COLUMNS = ("label", "y")
DELIMITERS = ",;\t"


@dataclasses.dataclass
class Table:
    columns: list[str]  # the header's names, or "0".."D-1" without a header
    rows: list[list[str]]  # every data row, in order, as text (id column included)
    lines: list[int]  # the file line of each row (1-based), for messages
    has_header: bool
    path: str

    def where(self, i: int, column: int | None = None) -> str:
        at = f"{self.path}: line {self.lines[i]}"
        if column is not None:
            at += f", column {column + 1} ({self.columns[column]!r})" if self.has_header \
                else f", column {column + 1}"
        return at

    def column(self, name: str) -> int | None:
        lower = [c.strip().lower() for c in self.columns]
        return lower.index(name) if name in lower else None

    @property
    def ids(self) -> list[str] | None:
        """The ``id`` column's values, or None."""
        j = self.column(ID_COLUMN) if self.has_header else None
        return None if j is None else [r[j].strip() for r in self.rows]

    def numbers(self, columns: list[int]) -> np.ndarray:
        """The given columns as float64 (N, len(columns)), every cell checked finite."""
        out = np.empty((len(self.rows), len(columns)), dtype=np.float64)
        for i, r in enumerate(self.rows):
            for k, j in enumerate(columns):
                text = r[j].strip()
                if not text:
                    raise DataError(f"{self.where(i, j)}: empty cell; expected a number")
                try:
                    v = float(text)
                except ValueError:
                    raise DataError(f"{self.where(i, j)}: {text[:40]!r} is not a number") \
                        from None
                if not math.isfinite(v):
                    raise DataError(f"{self.where(i, j)}: {text!r}; expected a finite number")
                out[i, k] = v
        return out


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _delimiter(sample: str) -> str:
    try:
        found = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","
    return found if found in DELIMITERS else ","


def read(path, header: bool | None = None) -> Table:
    """``path`` by the module's rules; ``header``: True/False to require or forbid one, None
    to decide by the rule above."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: a folder; expected a .csv file")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            text = fh.read()
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start}); save it as CSV UTF-8") \
            from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    delimiter = _delimiter(text[:8192])
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    raw: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            raw.append((reader.line_num, row))
    except csv.Error as e:
        raise DataError(f"{path}: line {reader.line_num + 1}: not valid CSV ({e})") from None
    while raw and not any(c.strip() for c in raw[-1][1]):  # blank lines at the end
        raw.pop()
    for line, row in raw:
        if not any(c.strip() for c in row):
            raise DataError(f"{path}: line {line} is blank; every line before the last row "
                            "must be a row (remove it, or fill it in)")
    if not raw:
        raise DataError(f"{path}: no rows")
    first = [c.strip() for c in raw[0][1]]
    width = len(first)
    if width > 1 and all(not r[-1].strip() for _, r in raw if len(r) == width):
        if all(len(r) == width for _, r in raw):  # a trailing comma on every line
            raw = [(line, r[:-1]) for line, r in raw]
            first, width = first[:-1], width - 1
    if header is None:
        header = (any(c and not _is_number(c) for c in first)
                  or (width > 1 and first == [str(j) for j in range(width)]))
    if header:
        columns = first
        blank = [j + 1 for j, c in enumerate(columns) if not c]
        if blank:
            raise DataError(f"{path}: line {raw[0][0]}: the header leaves column {blank[0]} "
                            "unnamed")
        lower = [c.lower() for c in columns]
        twice = sorted({c for c in lower if lower.count(c) > 1
                        and c in (ID_COLUMN, *LABEL_COLUMNS)})  # features go by position
        if twice:
            raise DataError(f"{path}: line {raw[0][0]}: the header names {twice[0]!r} twice")
        raw = raw[1:]
        if not raw:
            raise DataError(f"{path}: a header and no rows")
    else:
        columns = [str(j) for j in range(width)]
    for line, r in raw:
        if len(r) != width:
            raise DataError(f"{path}: line {line} has {len(r)} fields, the "
                            f"{'header' if header else 'first row'} has {width}")
    if width == 0:
        raise DataError(f"{path}: no columns")
    return Table(columns, [r for _, r in raw], [line for line, _ in raw], header, str(path))


def read_numbers(path) -> tuple[np.ndarray, list[str] | None]:
    """A table of numbers (feature rows): (N, D) float64 without the ``id`` column, and the
    ids (None without such a column)."""
    t = read(path)
    id_col = t.column(ID_COLUMN) if t.has_header else None
    for name in LABEL_COLUMNS:
        j = t.column(name) if t.has_header else None
        if j is not None:
            raise DataError(f"{path}: column {j + 1} ({t.columns[j]!r}) holds labels, and this "
                            "reads feature rows only: remove the column (evaluate --input "
                            "scores a labelled file)")
    feats = [j for j in range(len(t.columns)) if j != id_col]
    if not feats:
        raise DataError(f"{path}: no feature columns (only {ID_COLUMN!r})")
    return t.numbers(feats), t.ids


def read_labelled(path) -> tuple[np.ndarray, list[str], list[str] | None]:
    """Feature rows and one label per row: a header naming a ``label`` (or ``y``) column, the
    other columns numbers (``id`` aside). Returns (X (N, D), the label texts, the ids)."""
    t = read(path, header=None)
    label = next((t.column(c) for c in LABEL_COLUMNS if t.has_header and t.column(c) is not None),
                 None)
    if label is None:
        raise DataError(f"{path}: needs a header row naming a 'label' (or 'y') column, the "
                        "other columns being feature numbers")
    id_col = t.column(ID_COLUMN)
    feats = [j for j in range(len(t.columns)) if j not in (label, id_col)]
    if not feats:
        raise DataError(f"{path}: no feature columns besides {t.columns[label]!r}")
    labels = []
    for i, r in enumerate(t.rows):
        text = r[label].strip()
        if not text:
            raise DataError(f"{t.where(i, label)}: empty label")
        labels.append(text)
    return t.numbers(feats), labels, t.ids


def read_records(path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a table with a header that names ``required`` columns (any case): (line,
    {lower-case column: stripped text}) per row."""
    t = read(path, header=True)
    lower = [c.strip().lower() for c in t.columns]
    missing = [c for c in required if c not in lower]
    if missing:
        raise DataError(f"{path}: needs a header with columns {','.join(required)} (missing "
                        f"{', '.join(missing)})")
    return [(line, {c: v.strip() for c, v in zip(lower, r)}) for line, r in zip(t.lines, t.rows)]
