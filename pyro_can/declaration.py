"""How an option is declared (the ``*_options.py`` modules declare them, ``config.py`` joins
them): ``option(...)``, the dataclass field that holds an option's default, rule, help text,
section and flags; ``Applies``, when an option means something, with the conditions options
share; and the derived values, each written once (``@derived``), which become properties of
``Config`` and of the sections holding their inputs."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from .rules import Rule

# -- where a choice's names come from, looked up when a value is checked ---------------------------
def registry_names(table: str):
    """A registry table looked up when a value is checked (the registry imports the models,
    which import this module)."""
    def names():
        from . import registry

        return tuple(getattr(registry, table))
    return names


def arch_names():
    from . import backbones

    return ("mlp", *backbones.ARCHS, *getattr(backbones, "CIFAR_ARCHS", ()))


def label_set_names():
    from .datasets import cifar10n

    return tuple(cifar10n.LABEL_SETS)


#: the noise inits that re-estimate the noise model from the warm classifier at the hand-over
ANCHORED_NOISE_INITS = ("anchor", "transition")


@dataclass(frozen=True)
class Applies:
    """When an option means something: ``when(cfg)`` on a config (resolved or not), and ``why``
    it does not otherwise, for the refusal (``resolution.check_applies``)."""
    when: Callable[["Config"], bool]
    why: str

    def __and__(self, other: "Applies") -> "Applies":
        return Applies(lambda c: self.when(c) and other.when(c), f"{self.why}; {other.why}")


def _latent_method(c) -> bool:
    from . import registry

    spec = registry.METHODS.get(c.method)
    return spec is not None and spec.latent


def _warm_method(c) -> bool:
    from . import registry

    spec = registry.METHODS.get(c.method)
    return spec is not None and spec.model.warmup_model is not None


def _softmax_method(c) -> bool:
    from . import registry

    spec = registry.METHODS.get(c.method)
    return spec is None or spec.softmax


CAN = Applies(lambda c: c.method == "can", "only --method can has it")
LATENT = Applies(_latent_method, "only a method with latent variables (--method can) has it")
WARM = Applies(_warm_method, "only a method with an Eq. 7 warm-up (--method can, icnm) has it")
CAN_GUIDE = CAN & Applies(lambda c: c.guide == "can", "only --guide can has the additive layer")
RELAXED = CAN & Applies(lambda c: c.elbo in ("meanfield", "trace"),
                        "τ is the relaxed y's temperature: --elbo meanfield or trace")
SCORE = CAN & Applies(lambda c: c.elbo == "tracegraph",
                      "it is the score function's baseline: --elbo tracegraph")
# the hand-over replaces the initial noise model (anchor, transition) when there is a warm-up
# whose α_t also holds the decoder and guide back (--warmup-scope all)
REPLACED_AT_HANDOVER = Applies(
    lambda c: not (c.noise_init in ANCHORED_NOISE_INITS and c.warmup_scope == "all"
                   and (c.warmup_epochs is None or c.warmup_epochs >= 1)),
    "--noise-init anchor|transition replaces it at the hand-over (it applies with --noise-init "
    "fixed)")
HOLDS = CAN & Applies(lambda c: c.noise_init in ANCHORED_NOISE_INITS,
                      "it holds the hand-over's estimate: --noise-init anchor or transition")
SGD = Applies(lambda c: c.optimizer == "sgd", "only --optimizer sgd has momentum")
MIXES = Applies(lambda c: c.method not in ("coteaching", "dividemix"),
                "--method coteaching and dividemix pick or split items by each item's own loss, "
                "which a mixed pair has no one label for (DivideMix mixes inside its own step)")
CIFAR10N = Applies(lambda c: c.data == "cifar10n", "only --data cifar10n reads it")
NPZ = Applies(lambda c: c.data == "npz", "only --data npz reads a --path")
SOFTMAX = Applies(_softmax_method, "--method icnm's relevance head is always per class")
CAN_LIKELIHOOD = Applies(lambda c: c.method == "can",
                         "only --method can has a likelihood of its own (a baseline's answers "
                         "follow its classifier: --latent)")
BOOTSTRAP = Applies(lambda c: c.method == "bootstrap",
                    "only --method bootstrap has a bootstrap target")
LEARNQ = Applies(lambda c: c.method == "learnq", "only --method learnq has Q")
BACKBONE = Applies(lambda c: c.arch != "mlp", "only an image backbone (--arch resnet...) reads it")
CROWD_TABLE = Applies(lambda c: c.data == "crowd", "only --data crowd reads an answers table")
FEATURES = Applies(lambda c: c.data in ("cifar10n", "crowd"),
                   "only --data cifar10n and --data crowd read a features file")
CROWD_LAYER = Applies(lambda c: c.method == "crowd-layer", "only --method crowd-layer has it")


def method_is(name: str) -> Applies:
    """The options of one method (``--gce-q`` for ``--method gce``, ...)."""
    return Applies(lambda c: c.method == name, f"only --method {name} has it")


VAL_FROM_TEST = Applies(lambda c: c.val_from_test > 0,
                        "it seeds the split of --val-from-test, which is 0")


def option(default, rule: Rule | None = None, help: str = "", *, section: str,
           expert: bool = False, applies: Applies | None = None, what: str | None = None,
           auto: bool = False, source: bool = False):
    """One option's declaration: a dataclass field whose metadata holds the rest."""
    return dataclasses.field(default=default, metadata={
        "rule": rule, "help": help, "section": section, "expert": expert, "applies": applies,
        "what": what, "auto": auto, "source": source})


# -- derived values, written once ----------------------------------------------------------------
#: Derived name -> (the fields it reads, the function of them, its docstring)
DERIVED: dict[str, tuple[tuple[str, ...], Callable]] = {}


def derived(*inputs: str):
    """Declare a value computed from the fields ``inputs``: a property of Config and of every
    section holding all of them (``sections.py``)."""
    def register(fn):
        DERIVED[fn.__name__] = (inputs, fn)
        return fn
    return register


def derived_property(name: str) -> property:
    inputs, fn = DERIVED[name]
    return property(lambda self: fn(*(getattr(self, i) for i in inputs)), doc=fn.__doc__)


@derived("arch", "feature_cache")
def end_to_end(arch, feature_cache) -> bool:
    """Image data whose backbone trains with the heads (not frozen behind a feature cache)."""
    return arch != "mlp" and not feature_cache


@derived("hidden")
def hidden_sizes(hidden) -> tuple[int, ...]:
    """``--hidden`` ("1024,30") as layer widths."""
    return tuple(int(h) for h in str(hidden).split(",") if h.strip())


@derived("quality_prior", "method")
def worker_quality(quality_prior, method) -> bool:
    """``--quality-prior worker`` on CAN (the other methods have no quality z)."""
    return quality_prior == "worker" and method == "can"


@derived("latent")
def categorical_y(latent) -> bool:
    """y is one class (softmax classifier, categorical q), not per-class Bernoullis; needs the
    config resolved first."""
    return latent == "categorical"


@derived("ytilde_likelihood")
def categorical_ytilde(ytilde_likelihood) -> bool:
    """Each answer is one class (a categorical likelihood), not per-class Bernoullis."""
    return ytilde_likelihood == "categorical"
