"""One resolution step before training: ``resolve(cfg, data)`` fills in every data-dependent
default (``auto``/``None`` in ``config.AUTO_VALUES``), checks the options that pass one by one but
not together, and refuses an option set by the user that does not apply to the chosen method.

The policy for an option that does not apply (its declaration's ``applies``, ``*_options.py``): an
option counts as *set* when its value differs from its declared default (a default never counts;
a value equal to it changes nothing); a set option that does not apply is refused, naming it and
why. A config with nothing left
to resolve (a run folder's config.json, read back for ``--resume``, ``evaluate``, ``inspect``) is
not refused again: it was checked when its run was fitted, and a grid's folders keep the shared
options that did not concern their method. Shared settings, which are meant for many methods at
once (the top level of a preset, the options of ``compare``/``sweep``), are dropped from the
methods they do not concern instead (``for_method``); only what is meant for this run is refused."""
from __future__ import annotations

import dataclasses

from .config import FIELDS, Config, flag
from .declaration import HOLDS
from .errors import OptionError


def resolve_latent(cfg: Config, single_label: bool) -> Config:
    """``cfg`` with ``latent``/``ytilde_likelihood`` made explicit for a data set: ``auto`` is
    ``categorical`` for single-label data and ``bernoulli`` otherwise. For the baselines it picks
    a softmax (categorical) or per-class sigmoid classifier the same way, so every method is
    scored alike; ICNM's per-class relevance head is always ``bernoulli``."""
    from . import registry

    method = registry.METHODS[cfg.method]
    latent = cfg.latent
    if not method.softmax:
        latent = "bernoulli"
    elif latent == "auto":
        latent = "categorical" if single_label else "bernoulli"
    elif latent == "categorical" and not single_label:
        raise OptionError("--latent categorical needs single-label data")
    if cfg.hold_noise and not HOLDS.when(cfg):  # also for a config read back resolved
        raise OptionError("--hold-noise holds CAN's noise model at the hand-over's anchor "
                          "estimate: it needs --method can and --noise-init anchor or transition")
    if cfg.worker_quality and cfg.quality_dim < 1:
        raise OptionError("--quality-prior worker puts a per-worker prior on CAN's quality z: "
                          "it needs --quality-dim 1 or more")
    if cfg.elbo == "enum" and method.latent and latent != "categorical":
        raise OptionError("--elbo enum enumerates one class per item: it needs single-label "
                          "data and --latent categorical (2^C joint labels otherwise)")
    lik = cfg.ytilde_likelihood
    if lik == "auto" or not method.latent:  # a baseline's labels follow its classifier
        lik = latent
    if lik == "categorical" and not single_label:
        raise OptionError("--ytilde-likelihood categorical needs single-label data")
    if cfg.noise_init == "transition" and cfg.method == "can" and (
            lik != "categorical" or latent != "categorical"):
        raise OptionError("--noise-init transition estimates which class each answer names: "
                          "it needs single-label data with --latent and --ytilde-likelihood "
                          "categorical")
    return dataclasses.replace(cfg, latent=latent, ytilde_likelihood=lik)


def resolve_for_answers(cfg: Config, several_answers: bool) -> Config:
    """``cfg`` with the options whose default depends on the answers per item made explicit,
    both chosen on noisy-label validation (docs/training.md). With several answers per item the
    warm-up's cross-entropy trains on every answer (the weakest crowd baseline) while CAN's
    posterior pools them, so the hand-over comes early (5 epochs, not 20); the classifier is then
    barely trained, so q reads it at weight 1 rather than 2. With one answer per item, α_t stops
    at 0.9: a tenth of the warm-up's cross-entropy stays in the objective, which keeps the
    classifier from collapsing onto one class when the ELBO takes over at P = 0.8; with several
    answers the pooled posterior needs no such anchor, and keeping it costs validation accuracy
    on music."""
    changes = {}
    if cfg.alpha_max is None:
        changes["alpha_max"] = 1.0 if several_answers else 0.9
    if cfg.warmup_epochs is None:
        changes["warmup_epochs"] = 5.0 if several_answers else 20.0
    if cfg.prior_init is None:
        changes["prior_init"] = 1.0 if several_answers else 2.0
    return dataclasses.replace(cfg, **changes)


def _fill(cfg: Config, data) -> Config:
    out = resolve_for_answers(resolve_latent(cfg, data.single_label), data.has_crowd)
    return dataclasses.replace(out, noise_rate=cfg.resolved_noise_rate())


def resolve(cfg: Config, data) -> Config:
    """``cfg`` resolved once against the data it trains on (a ``data.Dataset``, after
    ``--crowd``): no ``auto``/``None`` left in ``AUTO_VALUES``' fields, and every option the user
    set applying to the method (``check_applies``). The run folder stores the result
    (config.json), and ``--resume``, ``evaluate``, ``inspect``, ``predict`` and
    ``CANClassifier.load`` read it back as is; resolving a resolved config changes nothing."""
    out = _fill(cfg, data)
    if cfg.unresolved():  # not yet resolved: what differs from a default, the user set
        check_applies(out, set_options(cfg), cfg)
    return out


def set_options(cfg: Config) -> list[str]:
    """The options ``cfg`` sets: those whose value is not the declared default."""
    return [name for name, f in FIELDS.items() if getattr(cfg, name) != f.default]


def not_applying(cfg: Config, names=None) -> list[tuple[str, str]]:
    """(option, why) for each option of ``names`` (all by default) that does not apply to
    ``cfg``'s method and parts (its declaration's ``applies``)."""
    out = []
    for name in (FIELDS if names is None else names):
        applies = FIELDS[name].metadata["applies"]
        if applies is not None and not applies.when(cfg):
            out.append((name, applies.why))
    return out


def check_applies(cfg: Config, given, asked: Config | None = None) -> None:
    """OptionError naming the first option of ``given`` that does not apply to ``cfg`` (with
    the value ``asked`` for, before resolution)."""
    for name, why in not_applying(cfg, given):
        value = getattr(asked or cfg, name)
        shown = str(value).lower() if isinstance(value, bool) else value
        raise OptionError(f"{flag(name)} {shown} does not apply to --method {cfg.method} "
                          f"here: {why}")


def for_method(cfg: Config, method: str | None = None, shared=None) -> Config:
    """``cfg`` (switched to ``method``) with the shared settings that do not concern it back at
    their defaults: the options of ``shared`` (default: every option) that do not apply. How a
    preset's top level, ``compare``/``sweep``'s options and cleanlab's plain folds reach a method
    that has no use for some of them."""
    if method is not None:
        cfg = dataclasses.replace(cfg, method=method)
    names = FIELDS if shared is None else shared
    for _ in range(3):  # resetting one option can make another apply or not (copy_init: warm-up)
        drop = {name: FIELDS[name].default for name, _ in not_applying(cfg, names)
                if getattr(cfg, name) != FIELDS[name].default}
        if not drop:
            break
        cfg = dataclasses.replace(cfg, **drop)
    return cfg
