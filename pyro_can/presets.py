"""Presets: known-good settings as TOML files (``configs/*.toml``), read with the standard
library's ``tomllib``, and how they combine with the command line.

A preset's top-level keys are options (``Config`` field names) shared by every row; each table
``[rows.NAME]`` holds the options of one row, where ``NAME`` is a method (the row
``fit --config F --method M`` takes) or any name with a ``method`` key inside (``--config
F:NAME`` takes it)::

    # configs/example.toml
    data = "cifar10n"
    weight_decay = 0.01          # every method
    warmup_epochs = 3.0          # the methods with a warm-up (CAN, ICNM); the others ignore it

    [rows.can]
    weight_decay = 0.003
    hold_noise = true

    [rows.can-transition]
    method = "can"
    noise_init = "transition"

Precedence, lowest first: the declared defaults, the preset's top level, the row's table,
``--set key=value``, the command-line options. The top level is *shared*: an option there that
does not apply to the row's method is dropped for it (``resolution.for_method``), so one preset
serves every method; an option in the row's table, ``--set`` or the command line is meant for
this run and is refused where it does not apply (``resolution.resolve``).

A name without a path (``--config cifar10n-features-worst``) is ``configs/NAME.toml`` of the
clone, or of the installed package (``pyro_can/configs``)."""
from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .config import FIELDS, Config, flag
from .errors import OptionError
from .resolution import for_method

ROWS = "rows"


def folders() -> list[Path]:
    """Where preset names are looked up: the clone's ``configs/``, then the package's."""
    here = Path(__file__).resolve().parent
    return [here.parent / "configs", here / "configs"]


def names() -> list[str]:
    """Every shipped preset's name."""
    return sorted({p.stem for d in folders() if d.is_dir() for p in d.glob("*.toml")})


def find(name: str) -> Path:
    """The preset file ``name`` stands for: a path, or a name in ``configs/``."""
    path = Path(name)
    if path.suffix == ".toml" or path.exists() or len(path.parts) > 1:
        if not path.is_file():
            raise OptionError(f"--config {name}: no such file")
        return path
    for folder in folders():
        if (folder / f"{name}.toml").is_file():
            return folder / f"{name}.toml"
    raise OptionError(f"--config {name}: no such file or preset; presets: "
                      f"{', '.join(names()) or 'none'}")


@dataclass(frozen=True)
class Preset:
    path: Path
    shared: dict = field(default_factory=dict)
    rows: dict = field(default_factory=dict)

    def row(self, name: str | None) -> dict:
        """The options of row ``name`` (empty when the preset has no such row)."""
        return dict(self.rows.get(name, {})) if name else {}

    def config(self, row: str | None = None, overrides: dict | None = None,
               method: str | None = None) -> Config:
        """The Config of ``row`` with ``overrides`` on top (``--set``, the command line), its
        shared options that do not apply to the row's method dropped; validated."""
        overrides = dict(overrides or {})
        own = self.row(row)
        values = {**self.shared, **own, **overrides}
        if method is not None:
            values["method"] = method
        elif "method" not in own and "method" not in overrides and row is not None:
            from . import registry

            if row in registry.METHODS:  # a row named after its method
                values["method"] = row
        try:
            cfg = Config(**values).validate()
        except OptionError as e:
            raise type(e)(f"{self.path}: {e}") from None
        shared_only = [k for k in self.shared if k not in own and k not in overrides]
        return for_method(cfg, shared=shared_only)


def _check_keys(path: Path, table: dict, where: str) -> dict:
    unknown = sorted(k for k in table if k not in FIELDS)
    if unknown:
        raise OptionError(f"{path}: {where}unknown option(s) {', '.join(map(repr, unknown))}; "
                          "options are Config's field names (pyro-can options lists them)")
    for key, value in table.items():
        if isinstance(value, dict):
            raise OptionError(f"{path}: {where}{key} is a table; tables go under [{ROWS}.NAME]")
    return table


def read(name: str) -> Preset:
    """The preset ``name`` (a file or a shipped name), its keys checked (values are checked by
    their rules when a row is taken: ``Preset.config``)."""
    path = find(name)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise OptionError(f"{path}: not valid TOML ({e})") from None
    except OSError as e:
        raise OptionError(f"{path}: cannot read ({e.strerror})") from None
    rows = doc.pop(ROWS, {})
    if not isinstance(rows, dict) or not all(isinstance(v, dict) for v in rows.values()):
        raise OptionError(f"{path}: [{ROWS}] must hold tables [{ROWS}.NAME]")
    shared = _check_keys(path, doc, "")
    rows = {n: _check_keys(path, t, f"[{ROWS}.{n}] ") for n, t in rows.items()}
    return Preset(path, shared, rows)


def split_name(spec: str) -> tuple[str, str | None]:
    """``FILE[:ROW]`` -> (FILE, ROW)."""
    head, sep, tail = spec.rpartition(":")
    if sep and head and tail and "/" not in tail and "\\" not in tail:
        return head, tail
    return spec, None


def parse_set(items) -> dict:
    """``--set key=value`` items -> {field: value}, each value parsed by its option's rule."""
    from .config import RULES

    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        name = key.strip().lstrip("-").replace("-", "_")
        if not sep or name not in FIELDS:
            raise OptionError(f"--set {item!r}: expected KEY=VALUE with KEY an option "
                              "(pyro-can options lists them)")
        rule = RULES.get(name)
        try:
            if rule is None:
                lowered = text.strip().lower()
                if lowered not in ("true", "false"):
                    raise OptionError(f"must be true or false, got {text!r}")
                out[name] = lowered == "true"
            else:
                out[name] = rule.parse(text.strip())
        except OptionError as e:
            raise type(e)(f"--set {flag(name)}: {e}") from None
    return out


def to_toml(cfg: Config) -> str:
    """``cfg`` as a preset (TOML) that reads back to the same config; an unset (None) option is
    a comment, TOML having no null."""
    lines = []
    for name, value in dataclasses.asdict(cfg).items():
        if value is None:
            lines.append(f"# {name}: not set")
        elif isinstance(value, bool):
            lines.append(f"{name} = {'true' if value else 'false'}")
        elif isinstance(value, (int, float)):
            lines.append(f"{name} = {value!r}")
        else:
            lines.append(f"{name} = {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"
