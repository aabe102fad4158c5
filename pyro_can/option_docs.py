"""What each option means, in words, as its declaration says it (``*_options.py``): the one text
behind ``pyro-can fit --help``, ``pyro-can options`` and the estimator's list of parameters
(``CANClassifier``'s docstring), so that they cannot drift."""
from __future__ import annotations

import textwrap

from .config import FIELDS, RULES, TYPES
from .rules import Choice, Rule, Text

#: Field name -> what it does (its declaration's help text).
HELP = {name: f.metadata["help"] for name, f in FIELDS.items()}


def describe(name: str, rule: Rule | None) -> str:
    """An option's help: its words, then what its rule accepts (a choice's names are in its
    metavar, a text is free)."""
    text = HELP.get(name, "")
    if rule is not None and not isinstance(rule, (Choice, Text)):  # a choice's metavar lists it
        text = f"{text} ({rule.describe()})" if text else rule.describe()
    return text


def parameters_section(skip: tuple[str, ...] = (), defaults: dict | None = None) -> str:
    """A numpydoc ``Parameters`` section of Config's fields (less ``skip``), grouped by the
    config's sections (``sections.py``), each with its default (``defaults`` overrides) and
    its words: how the estimator spells out CAN's options in ``help()``."""
    from .sections import field_sections

    defaults = defaults or {}
    where = field_sections()
    groups: dict[str, list[str]] = {}
    for name, f in FIELDS.items():
        if name in skip:
            continue
        default = defaults.get(name, f.default)
        rule = RULES.get(name)
        kind = rule.metavar() if isinstance(rule, Choice) else _type_name(TYPES[name])
        text = describe(name, rule) or name.replace("_", " ")
        groups.setdefault(where[name], []).append(
            f"{name} : {kind}, default={default!r}\n"
            + textwrap.fill(text, 92, initial_indent="    ", subsequent_indent="    "))
    lines = ["Parameters", "----------"]
    for section, entries in groups.items():
        lines.append(f"*{section}*")
        lines.extend(entries)
    return "\n".join(lines)


def _type_name(kind) -> str:
    return getattr(kind, "__name__", None) or str(kind).replace("typing.", "")
