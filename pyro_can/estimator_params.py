"""The estimators' constructor and docstring, generated from the option declarations: every
``Config`` field that is not a data source is a keyword argument with the field's default
(scikit-learn reads parameters from ``__init__``'s signature, so ``get_params``, ``clone`` and
``repr`` follow the declarations with no list kept here), documented in the CLI's own words."""
from __future__ import annotations

import dataclasses
import inspect
import re
import textwrap

from .config import SOURCE_FIELDS, Config
from .option_docs import parameters_section

#: Config fields that say where the data comes from (declared ``source=True``); the estimator
#: gets arrays instead.
DATA_SOURCE_FIELDS = SOURCE_FIELDS


def init_from_config(**defaults):
    """An ``__init__`` whose keyword-only arguments are Config's fields (less the data-source ones)
    with Config's defaults, or ``defaults``. scikit-learn reads an estimator's parameters from
    ``__init__``'s signature, so generating it keeps get_params, clone and repr in step with
    Config as options are added, with no list to maintain here."""
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for f in dataclasses.fields(Config):
        if f.name in DATA_SOURCE_FIELDS:
            continue
        if f.default is dataclasses.MISSING:  # a default_factory would be a mutable default
            raise TypeError(f"Config.{f.name} needs a plain default to be an estimator argument")
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY,
                                        default=defaults.pop(f.name, f.default)))
    params.append(inspect.Parameter("verbose", inspect.Parameter.KEYWORD_ONLY,
                                    default=defaults.pop("verbose", False)))  # not a Config field
    if defaults:
        raise TypeError(f"not Config fields: {', '.join(defaults)}")
    signature = inspect.Signature(params)

    def __init__(self, **params):
        bound = signature.bind(self, **params)  # unknown names: TypeError, as for any __init__
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)

    __init__.__signature__ = signature
    __init__.__doc__ = ("Every argument is the Config field of the same name; the class "
                        "docstring lists them with their defaults.")
    __init__.defaults = {p.name: p.default for p in params[1:]}
    return __init__


def document_parameters(cls):
    """Spell out every constructor argument in ``cls``'s docstring (numpydoc ``Parameters``,
    grouped by the config's sections, the CLI's own words: ``option_docs``), before its
    ``Attributes``: ``help(CANClassifier)`` lists CAN's options one by one."""
    if cls.__doc__ is None:  # python -OO
        return cls
    section = parameters_section(DATA_SOURCE_FIELDS, cls.__init__.defaults)
    section += ("\n*estimator*\nverbose : bool, default=False\n    an epoch progress bar "
                "(tqdm, on standard error) while fit trains; off by default, so that "
                "scikit-learn's cross-validation and searches stay quiet")
    block = textwrap.indent(section, "    ") + "\n\n"
    doc = cls.__doc__
    at = doc.find("    Attributes\n")
    cls.__doc__ = doc[:at] + block + doc[at:] if at >= 0 else doc.rstrip() + "\n\n" + block
    return cls


def option_names(message: str) -> str:
    """CLI wording to estimator wording: ``--lr-step`` becomes ``lr_step``."""
    return re.sub(r"--([a-z][a-z-]*)", lambda m: m.group(1).replace("-", "_"), message)
