"""Every option of a run, declared once: its default, its rule, its help text, its section and
whether it is an expert option, in one ``option(...)`` field. The fields are declared by topic in
three modules, whose dataclasses ``Config`` joins into one flat record: ``data_options.py`` (the
data and images sections), ``method_options.py`` (the method and its parts) and
``training_options.py`` (schedule, optimizer, runtime). Everything else is generated from these
declarations: ``RULES`` and ``Config.validate`` (here), the click options and ``--help``
(``cli_options.py``), the estimator's constructor arguments and numpydoc (``estimator.py``,
``option_docs.py``), the typed sections (``sections.py``), the registry's name lists for the
choices spelled as a ``Literal`` (``registry.py``) and the check that an option set by the user
applies to the chosen method (``resolution.py``).

Adding an option is one declaration, in its topic's module::

    my_weight: float = option(0.5, Interval(0, 1), "what it does, for --help and help()",
                              section="method", applies=CAN)

* the type annotation is its type; a ``Literal`` lists the names a choice accepts (no rule
  needed: ``what=`` names it in errors), a ``bool`` is a ``--x/--no-x`` flag (no rule);
* ``section``: the typed section the models read it from (``sections.SECTIONS``);
* ``expert=True`` keeps it off ``--help`` (``fit``, ``compare``, ``sweep``, ``tune``): it is set
  with ``--set key=value``, a preset (``--config FILE.toml``) or its own flag, which click still
  accepts;
* ``applies``: when the option means something (``declaration.Applies``: a predicate and why);
  an option set (not at its default) where it does not apply is refused (``resolution.py``);
* ``auto=True``: its default (``None``/``"auto"``) says "choose from the data"
  (``resolution.resolve``); ``source=True``: it says where the data comes from (the estimator gets
  arrays instead, so it is no constructor argument there).

Derived values (``end_to_end``, ``categorical_y``, ...) are written once (``declaration.py``): they
become properties of ``Config`` and of every section that holds their inputs."""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Literal

from .data_options import DataOptions
from .declaration import ANCHORED_NOISE_INITS  # noqa: F401 (the registry's list, read here)
from .declaration import DERIVED, derived_property
from .errors import OptionError
from .method_options import MethodOptions
from .rules import Choice, Rule
from .training_options import TrainingOptions

#: The layout of a run folder's config.json (and model.json): 2 holds the *resolved* config beside
#: a ``format_version`` key. Older folders (no key) kept ``latent: auto``, ...: reading them back
#: would re-resolve those with today's defaults, so they are refused (``runs.read_config``).
FORMAT_VERSION = 2


@dataclass
class Config(TrainingOptions, MethodOptions, DataOptions):
    """Every option of a run (``dataclasses`` orders the fields from the last base to the first:
    data and images, then the method, then training), and what is done with a whole config."""


    def resolve(self, data) -> "Config":
        """This config resolved once against the data it trains on: ``resolution.resolve``."""
        from .resolution import resolve

        return resolve(self, data)

    def unresolved(self) -> list[str]:
        """The fields still asking to be chosen from the data (empty once ``resolve``d)."""
        return [name for name, auto in AUTO_VALUES.items() if getattr(self, name) == auto]

    def resolved_noise_rate(self) -> float:
        return (0.4 if self.data == "digits" else 0.0) if self.noise_rate is None else self.noise_rate

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        unknown = sorted(set(d) - set(FIELDS))
        if unknown:
            raise OptionError(f"unknown option(s) {', '.join(map(repr, unknown))}")
        return cls(**d)

    def validate(self) -> "Config":
        """Every field against its rule (``RULES``); raises OptionError naming the first bad
        option, its value and what was expected."""
        for name in FIELDS:
            value = getattr(self, name)
            rule = RULES.get(name)
            if rule is None:  # a flag
                if not isinstance(value, bool):
                    raise OptionError(f"{flag(name)}: must be true or false, got {value!r}")
                continue
            try:
                rule.check(value)
            except OptionError as e:  # the same class (UnknownNameError stays one)
                raise type(e)(f"{flag(name)}: {e}") from None
        return self


def flag(name: str) -> str:
    """The CLI spelling of a field: ``lr_step`` -> ``--lr-step``."""
    return f"--{name.replace('_', '-')}"


#: Field name -> its dataclasses.Field (metadata: rule, help, section, expert, applies, ...)
FIELDS: dict[str, dataclasses.Field] = {f.name: f for f in dataclasses.fields(Config)}
#: Field name -> its evaluated type (``Literal[...]`` for a choice of the option's own names)
TYPES: dict[str, object] = typing.get_type_hints(Config)


def _rule(f: dataclasses.Field) -> Rule | None:
    """The declared rule, or the one a ``Literal`` type implies (None: a flag)."""
    if "section" not in f.metadata:
        raise TypeError(f"Config.{f.name}: declare it with option(default, rule, help, "
                        "section=...), see this module's docstring")
    if f.metadata["rule"] is not None:
        return f.metadata["rule"]
    kind = TYPES[f.name]
    if typing.get_origin(kind) is Literal:
        names = typing.get_args(kind)
        return Choice(f.metadata["what"] or f.name.replace("_", " "), lambda: names,
                      kind=type(names[0]))
    if kind is not bool:
        raise TypeError(f"Config.{f.name}: declare a rule, a Literal type or a bool")
    return None


#: Field name -> what it accepts. Fields without a rule are flags (true/false).
RULES: dict[str, Rule] = {name: rule for name, f in FIELDS.items()
                          if (rule := _rule(f)) is not None}
#: Fields whose value may say "choose from the data", and the value that says so. A resolved
#: config (``resolution.resolve``) holds none of them.
AUTO_VALUES = {name: f.default for name, f in FIELDS.items() if f.metadata["auto"]}
#: Fields that say where the data comes from (the estimator gets arrays instead).
SOURCE_FIELDS = tuple(name for name, f in FIELDS.items() if f.metadata["source"])
#: Fields kept off ``--help`` (``--set``, presets and their own flags still set them).
EXPERT_FIELDS = tuple(name for name, f in FIELDS.items() if f.metadata["expert"])


def names(name: str) -> tuple:
    """The names a ``Literal``-typed option accepts (its registry list)."""
    return typing.get_args(TYPES[name])


for _name in DERIVED:
    setattr(Config, _name, derived_property(_name))
del _name
