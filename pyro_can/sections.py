"""The config in typed sections: data, images, method (with per-method options), schedule,
optimizer, runtime (issue 17's sectioned configuration).

``Config`` stays the one flat declaration of options (CLI flags, estimator arguments,
config.json); ``sections(cfg)`` gives a *resolved* config (``Config.resolve``) as frozen,
typed views, each enumeration a ``Literal``, so that a loader or a network is handed its own
section instead of the whole config. The models, guides and networks are built from theirs
(``registry.model_and_guide``: the method section, the image section for the input networks,
and the schedule section for the few estimator choices a program makes at run time); the data
loaders read theirs (``loader_sections``: data, images and runtime, which need no resolving but
``noise_rate``'s data-set default).

``tests/test_sections.py`` keeps the two in step: every Config field is in exactly one section,
and every ``Literal`` lists exactly the names the registry accepts."""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Literal

from .config import Config, hidden_sizes

Crowd = Literal["model", "majority", "repeat", "dawid-skene", "glad"]
Latent = Literal["categorical", "bernoulli"]  # resolved: never "auto"
Prior = Literal["classifier", "uniform"]
Decoder = Literal["mlp", "linear"]
QualityPrior = Literal["standard", "worker"]
PriorJudgement = Literal["shared", "separate"]
NoiseInit = Literal["anchor", "transition", "fixed"]
Bootstrap = Literal["soft", "hard"]
Elbo = Literal["meanfield", "tracegraph", "enum", "trace"]
Baseline = Literal["avg", "nn"]
Regularizer = Literal["entropy", "mi"]
WarmupScope = Literal["classifier", "all"]
TestCrops = Literal[1, 6]
Method = Literal["can", "plain", "learnq", "icnm", "bootstrap", "crowd-layer", "gce", "sce", "elr",
                 "coteaching", "dividemix"]
Optimizer = Literal["sgd", "adam", "radam"]
LrSchedule = Literal["step", "cosine"]
Guide = Literal["can", "additive", "mean-field"]


@dataclass(frozen=True)
class DataSection:
    data: str  # a registered data set (registry.DATA; image loaders register themselves)
    path: str | None
    noise_rate: float
    test_fraction: float
    val_fraction: float
    val_from_test: int
    val_from_test_seed: int | None
    train_fraction: float
    crowd: Crowd
    root: str | None
    split: str | None
    test: str | None
    labels: str  # cifar10n's label sets (datasets.cifar10n.LABEL_SETS)
    label_file: str | None
    side_info: str | None
    features: str | None
    answers: str | None


@dataclass(frozen=True)
class ImageSection:
    arch: str  # mlp or a backbone (backbones.ARCHS)
    weights: str | None
    test_crops: TestCrops
    feature_cache: bool
    amp: bool
    workers: int

    @property
    def end_to_end(self) -> bool:
        """Image data whose backbone trains with the heads (not frozen behind a feature cache)."""
        return self.arch != "mlp" and not self.feature_cache


@dataclass(frozen=True)
class BootstrapOptions:
    beta: float
    bootstrap: Bootstrap


@dataclass(frozen=True)
class LearnQOptions:
    learnq_trace: float


@dataclass(frozen=True)
class GCEOptions:
    gce_q: float


@dataclass(frozen=True)
class SCEOptions:
    sce_alpha: float
    sce_beta: float


@dataclass(frozen=True)
class ELROptions:
    elr_lambda: float
    elr_beta: float


@dataclass(frozen=True)
class CoTeachingOptions:
    forget_rate: float
    forget_epochs: int


@dataclass(frozen=True)
class DivideMixOptions:
    dividemix_warmup: int
    dividemix_threshold: float
    dividemix_lambda_u: float
    dividemix_temperature: float
    dividemix_alpha: float


@dataclass(frozen=True)
class MethodSection:
    method: Method
    guide: Guide
    prior: Prior
    decoder: Decoder
    prior_judgement: PriorJudgement
    latent: Latent
    ytilde_likelihood: Latent
    quality_dim: int
    quality_prior: QualityPrior
    copy_init: float
    label_init: float
    prior_init: float
    noise_init: NoiseInit
    hold_noise: bool
    kl_z_weight: float
    hidden: str
    batch_norm: bool
    dropout: float
    bootstrap: BootstrapOptions  # options of one method each
    learnq: LearnQOptions
    gce: GCEOptions
    sce: SCEOptions
    elr: ELROptions
    coteaching: CoTeachingOptions
    dividemix: DivideMixOptions
    crowd_layer_mean: bool

    @property
    def categorical_y(self) -> bool:
        """y is one class (softmax classifier, categorical q), not per-class Bernoullis."""
        return self.latent == "categorical"

    @property
    def categorical_ytilde(self) -> bool:
        """Each answer is one class (a categorical likelihood), not per-class Bernoullis."""
        return self.ytilde_likelihood == "categorical"

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        return hidden_sizes(self.hidden)

    @property
    def worker_quality(self) -> bool:
        """``--quality-prior worker`` on CAN (the other methods have no quality z: ignored)."""
        return self.quality_prior == "worker" and self.method == "can"


@dataclass(frozen=True)
class ScheduleSection:
    elbo: Elbo
    baseline: Baseline
    regularizer: Regularizer
    lam: float
    tau_start: float
    tau_end: float
    warmup_epochs: float
    ramp_epochs: float
    alpha_max: float
    warmup_scope: WarmupScope
    epochs: int

    @property
    def discrete_y(self) -> bool:
        """y is sampled from its discrete distribution (score function or enumeration), not
        relaxed (``--elbo tracegraph|enum``)."""
        return self.elbo in ("tracegraph", "enum")


@dataclass(frozen=True)
class OptimizerSection:
    batch_size: int
    optimizer: Optimizer
    lr: float
    momentum: float
    weight_decay: float
    lr_step: int
    lr_gamma: float
    schedule: LrSchedule
    mixup: float


@dataclass(frozen=True)
class RuntimeSection:
    seed: int
    device: str
    eval_every: int


@dataclass(frozen=True)
class Sections:
    data: DataSection
    images: ImageSection
    method: MethodSection
    schedule: ScheduleSection
    optimizer: OptimizerSection
    runtime: RuntimeSection


#: per-method option groups inside MethodSection: attribute -> its dataclass
METHOD_OPTIONS = {"bootstrap": BootstrapOptions, "learnq": LearnQOptions, "gce": GCEOptions,
                  "sce": SCEOptions, "elr": ELROptions, "coteaching": CoTeachingOptions,
                  "dividemix": DivideMixOptions}


def _fields(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def field_sections() -> dict[str, str]:
    """Config field -> the section (``method.bootstrap`` for a per-method option) it is in."""
    out: dict[str, str] = {}
    for section, cls in typing.get_type_hints(Sections).items():
        for name in _fields(cls):
            if cls is MethodSection and name in METHOD_OPTIONS:
                out.update({o: f"method.{name}" for o in _fields(METHOD_OPTIONS[name])})
            else:
                out[name] = section
    return out


def _build(cls, values: dict):
    kw = {}
    for name in _fields(cls):
        if cls is MethodSection and name in METHOD_OPTIONS:
            kw[name] = _build(METHOD_OPTIONS[name], values)
        else:
            kw[name] = values[name]
    return cls(**kw)


def sections(cfg: Config) -> Sections:
    """``cfg``, resolved, as typed sections; a ValueError for a config still holding
    ``auto``/``None`` values (resolve it against its data first: ``Config.resolve``)."""
    if cfg.unresolved():
        raise ValueError(f"resolve the config first (Config.resolve): "
                         f"{', '.join(cfg.unresolved())} still to be chosen from the data")
    values = cfg.to_dict()
    return Sections(**{name: _build(cls, values)
                       for name, cls in typing.get_type_hints(Sections).items()})


@dataclass(frozen=True)
class LoaderSections:
    """What a data loader reads: where the data is and which labels (``data``), how images
    become inputs (``images``), and the seed and device (``runtime``)."""
    data: DataSection
    images: ImageSection
    runtime: RuntimeSection


def loader_sections(cfg: Config) -> LoaderSections:
    """The sections a data loader reads, taken from ``cfg`` before it is resolved: the config is
    resolved against the data the loader returns, and none of these fields depends on it but
    ``noise_rate``, whose default depends only on ``--data`` (``Config.resolved_noise_rate``)."""
    values = dict(cfg.to_dict(), noise_rate=cfg.resolved_noise_rate())
    return LoaderSections(data=_build(DataSection, values), images=_build(ImageSection, values),
                          runtime=_build(RuntimeSection, values))
