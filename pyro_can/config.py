"""Every option of a run, with its default and its rule. The CLI's options and the estimator's
constructor arguments are these fields, with the same names.

``RULES`` says what each field accepts (a range, a set of names, a shape). It is the one place
options are checked: ``Config.validate`` applies it (API, estimator, a run folder's config.json)
and the CLI builds its click types from it (``cli.config_options``), so a bad value is refused
before any work, with the rule in ``--help`` and in the error."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .errors import OptionError
from .rules import Choice, Device, Interval, Rule, Text, Widths

#: The layout of a run folder's config.json (and model.json): 2 holds the *resolved* config,
#: every data-dependent default made explicit, beside a ``format_version`` key. Folders written
#: before (no key) stored ``latent: auto``, ``warmup_epochs: null``, ...: reading them back would
#: re-resolve those with whatever today's defaults are, so they are refused (``runs.read_config``).
FORMAT_VERSION = 2

#: Fields whose value may say "choose from the data", and the value that says so. A resolved
#: config (``Config.resolve``) holds none of them.
AUTO_VALUES = {"noise_rate": None, "latent": "auto", "ytilde_likelihood": "auto",
               "warmup_epochs": None, "prior_init": None, "alpha_max": None}


def hidden_sizes(hidden) -> tuple[int, ...]:
    """``--hidden`` ("1024,30") as layer widths."""
    return tuple(int(h) for h in str(hidden).split(",") if h.strip())


@dataclass
class Config:
    # data
    data: str = "digits"
    path: str | None = None  # --data npz
    noise_rate: float | None = None  # None: 0.4 on digits (the demo), 0 elsewhere
    test_fraction: float = 0.25
    val_fraction: float = 0.0  # carved from training items, scored against their noisy labels
    val_from_test: int = 0  # carved from the test items (seeded), scored on their clean labels
    val_from_test_seed: int | None = None  # seed of that split; None: the run's --seed
    train_fraction: float = 1.0  # keep this share of the training items (paper Fig. 6)
    crowd: str = "model"  # model | majority | repeat | dawid-skene | glad
    root: str | None = None  # image data sets: the folder in its published layout
    split: str | None = None  # VOC: image set used for testing (test for 07, val for 12)
    test: str | None = None  # evaluate on another (clean) data set, e.g. voc07:DIR
    labels: str = "aggre"  # cifar10n: aggre | worst | random1..3 | crowd | clean
    label_file: str | None = None  # cifar10n: CIFAR-10_human.pt (default: in --root)
    side_info: str | None = None  # cifar10n --labels crowd: side_info_cifar10N.csv (in --root)
    features: str | None = None  # cifar10n: precomputed features (.npz) instead of the images
    answers: str | None = None  # crowd: the answers CSV (task,worker,label)
    arch: str = "mlp"  # mlp | resnet18 | resnet34 (image files) | cifar-resnet18|34 (cifar10n)
    weights: str | None = None  # local ImageNet-style state dict for the backbone
    test_crops: int = 1  # 1 or 6 (four corners, centre, full image)
    feature_cache: bool = False  # run the frozen backbone once, train the heads on its features
    amp: bool = False  # mixed precision on CUDA
    workers: int = 2  # DataLoader worker processes for image data
    # method and its parts
    method: str = "can"
    guide: str = "can"
    prior: str = "classifier"  # classifier | uniform
    decoder: str = "mlp"  # mlp | linear
    prior_judgement: str = "shared"  # shared | separate
    latent: str = "auto"  # bernoulli | categorical | auto (categorical for single-label data)
    ytilde_likelihood: str = "auto"  # categorical | bernoulli | auto (follows --latent)
    quality_dim: int = 4
    quality_prior: str = "standard"  # standard: z ~ N(0, I) (the paper) | worker: N(μ_w, I)
    copy_init: float = 2.0  # decoder's initial half log-ratio that ỹ_c follows y_c
    label_init: float = 2.0  # additive layer's initial weight of the evidence from ỹ
    prior_init: float | None = None  # prior judgement's weight in q; None: 2 (1: several answers)
    noise_init: str = "anchor"  # anchor: re-estimated at the hand-over | transition: the whole
    # class-to-answer matrix re-estimated there | fixed: the inits
    hold_noise: bool = False  # keep the noise model at the hand-over's estimate from then on
    kl_z_weight: float = 1.0
    hidden: str = "1024,30"
    batch_norm: bool = False  # input nets: BatchNorm after each hidden Linear
    dropout: float = 0.0  # input nets: dropout after each hidden layer
    beta: float = 0.8  # bootstrap: weight of ỹ in the target
    bootstrap: str = "soft"  # soft | hard
    learnq_trace: float = 0.01  # LearnQ: weight of the trace penalty on Q, per item
    gce_q: float = 0.7  # GCE: the exponent q of (1 − p^q)/q (q → 0: cross-entropy)
    sce_alpha: float = 0.1  # SCE: weight of the cross-entropy
    sce_beta: float = 1.0  # SCE: weight of the reverse cross-entropy
    elr_lambda: float = 3.0  # ELR: weight of the early-learning regularizer
    elr_beta: float = 0.7  # ELR: momentum of the per-item target average
    forget_rate: float = 0.2  # Co-teaching: share τ of each minibatch's answers dropped
    forget_epochs: int = 10  # Co-teaching: epochs T_k over which the forget rate rises to τ
    dividemix_warmup: int = 10  # DivideMix: cross-entropy epochs before the first co-divide
    dividemix_threshold: float = 0.5  # DivideMix: clean probability above which an item is labeled
    dividemix_lambda_u: float = 25.0  # DivideMix: weight of the unlabeled items' squared error
    dividemix_temperature: float = 0.5  # DivideMix: sharpening temperature T
    dividemix_alpha: float = 4.0  # DivideMix: mixup's Beta(α, α)
    crowd_layer_mean: bool = False  # Crowd Layer: loss the mean over the batch's answers
    # objective and schedules
    elbo: str = "tracegraph"  # tracegraph (discrete y, score function) | meanfield | enum | trace
    baseline: str = "avg"  # tracegraph: avg (decaying average) | nn (plus a small neural baseline)
    regularizer: str = "entropy"  # entropy: λ·E H(q) | mi: λ·(E H(q) − H(E q)), minus the MI
    lam: float = 0.0  # the paper's 0.3 collapses q(y) at P = 0.8 (docs/training.md)
    tau_start: float = 1.0
    tau_end: float = 0.5
    warmup_epochs: float | None = None  # None: 20, or 5 with several answers per item
    ramp_epochs: float = 10.0
    alpha_max: float | None = None  # None: 0.9, or 1 with several answers per item
    warmup_scope: str = "all"  # classifier | all: what α_t scales (see models/can.py)
    # optimization
    epochs: int = 90
    batch_size: int = 50
    lr: float = 0.01
    optimizer: str = "sgd"  # sgd (the paper's) | adam (the Crowd Layer paper's) | radam
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_step: int = 30
    lr_gamma: float = 0.1
    schedule: str = "step"  # learning rate: step (StepLR, the paper's) | cosine (to 0)
    mixup: float = 0.0  # α of mixup's λ ~ Beta(α, α) within each minibatch; 0: off
    seed: int = 0
    device: str = "auto"
    eval_every: int = 1  # score the test/validation sets every N epochs (the last one always)

    @property
    def end_to_end(self) -> bool:
        """Image data whose backbone trains with the heads (not frozen behind a feature cache)."""
        return self.arch != "mlp" and not self.feature_cache

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        return hidden_sizes(self.hidden)

    def resolve_latent(self, single_label: bool) -> "Config":
        """This config with ``latent``/``ytilde_likelihood`` made explicit for a data set: ``auto``
        is ``categorical`` for single-label data and ``bernoulli`` otherwise. For the baselines it
        picks a softmax (categorical) or per-class sigmoid classifier the same way, so every
        method is scored alike; ICNM's per-class relevance head is always ``bernoulli``."""
        from . import registry

        method = registry.METHODS[self.method]
        latent = self.latent
        if not method.softmax:
            latent = "bernoulli"
        elif latent == "auto":
            latent = "categorical" if single_label else "bernoulli"
        elif latent == "categorical" and not single_label:
            raise OptionError("--latent categorical needs single-label data")
        if self.hold_noise and (self.method != "can"
                                or self.noise_init not in registry.ANCHORED_NOISE_INITS):
            raise OptionError("--hold-noise holds CAN's noise model at the hand-over's anchor "
                              "estimate: it needs --method can and --noise-init anchor or "
                              "transition")
        if self.worker_quality and self.quality_dim < 1:
            raise OptionError("--quality-prior worker puts a per-worker prior on CAN's quality z: "
                              "it needs --quality-dim 1 or more")
        if self.elbo == "enum" and method.latent and latent != "categorical":
            raise OptionError("--elbo enum enumerates one class per item: it needs single-label "
                               "data and --latent categorical (2^C joint labels otherwise)")
        lik = self.ytilde_likelihood
        if lik == "auto" or not method.latent:  # a baseline's labels follow its classifier
            lik = latent
        if lik == "categorical" and not single_label:
            raise OptionError("--ytilde-likelihood categorical needs single-label data")
        if self.noise_init == "transition" and self.method == "can" and (
                lik != "categorical" or latent != "categorical"):
            raise OptionError("--noise-init transition estimates which class each answer names: "
                              "it needs single-label data with --latent and --ytilde-likelihood "
                              "categorical")
        return dataclasses.replace(self, latent=latent, ytilde_likelihood=lik)

    def resolve_for_answers(self, several_answers: bool) -> "Config":
        """This config with the options whose default depends on the answers per item made
        explicit, both chosen on noisy-label validation (docs/training.md). With several answers
        per item the warm-up's cross-entropy trains on every answer (the weakest crowd baseline)
        while CAN's posterior pools them, so the hand-over comes early (5 epochs, not 20); the
        classifier is then barely trained, so q reads it at weight 1 rather than 2. With one answer
        per item, α_t stops at 0.9: a tenth of the warm-up's cross-entropy stays in the objective,
        which keeps the classifier from collapsing onto one class when the ELBO takes over at
        P = 0.8 (README, "Estimators"); with several answers the pooled posterior needs no such
        anchor, and keeping it costs validation accuracy on music."""
        changes = {}
        if self.alpha_max is None:
            changes["alpha_max"] = 1.0 if several_answers else 0.9
        if self.warmup_epochs is None:
            changes["warmup_epochs"] = 5.0 if several_answers else 20.0
        if self.prior_init is None:
            changes["prior_init"] = 1.0 if several_answers else 2.0
        return dataclasses.replace(self, **changes)

    def resolve(self, data) -> "Config":
        """This config resolved once against the data it trains on (a ``data.Dataset``, after
        ``--crowd``): no ``auto``/``None`` left in ``AUTO_VALUES``' fields. The run folder stores
        the result (config.json), and ``--resume``, ``evaluate``, ``inspect``, ``predict`` and
        ``CANClassifier.load`` read it back as is; resolving a resolved config changes nothing."""
        cfg = self.resolve_latent(data.single_label).resolve_for_answers(data.has_crowd)
        return dataclasses.replace(cfg, noise_rate=self.resolved_noise_rate())

    def unresolved(self) -> list[str]:
        """The fields still asking to be chosen from the data (empty once ``resolve``d)."""
        return [name for name, auto in AUTO_VALUES.items() if getattr(self, name) == auto]

    @property
    def worker_quality(self) -> bool:
        """``--quality-prior worker`` on CAN (the other methods have no quality z: ignored)."""
        return self.quality_prior == "worker" and self.method == "can"

    @property
    def discrete_y(self) -> bool:
        """y is sampled from its discrete distribution (score function or enumeration), not
        relaxed (``--elbo tracegraph|enum``)."""
        return self.elbo in ("tracegraph", "enum")

    @property
    def categorical_y(self) -> bool:
        """y is one class (softmax classifier, categorical q); needs ``resolve_latent`` first."""
        return self.latent == "categorical"

    def resolved_noise_rate(self) -> float:
        return (0.4 if self.data == "digits" else 0.0) if self.noise_rate is None else self.noise_rate

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise OptionError(f"unknown option(s) {', '.join(map(repr, unknown))}")
        return cls(**d)

    def validate(self) -> "Config":
        """Every field against its rule (``RULES``); raises OptionError naming the first bad
        option, its value and what was expected."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            rule = RULES.get(f.name)
            if rule is None:  # a flag
                if not isinstance(value, bool):
                    raise OptionError(f"{flag(f.name)}: must be true or false, got {value!r}")
                continue
            try:
                rule.check(value)
            except OptionError as e:  # the same class (UnknownNameError stays one)
                raise type(e)(f"{flag(f.name)}: {e}") from None
        return self


def flag(name: str) -> str:
    """The CLI spelling of a field: ``lr_step`` -> ``--lr-step``."""
    return f"--{name.replace('_', '-')}"


def _registry(table: str):
    """A registry table looked up when a value is checked (the registry imports the models,
    which import this module)."""
    def names():
        from . import registry

        return tuple(getattr(registry, table))
    return names


def _archs():
    from . import backbones

    return ("mlp", *backbones.ARCHS, *getattr(backbones, "CIFAR_ARCHS", ()))


def _label_sets():
    from .datasets import cifar10n

    return tuple(cifar10n.LABEL_SETS)


_SEED = Interval(0, 2**32 - 1, kind=int)  # NumPy's and scikit-learn's seeds are 32-bit

#: Field name -> what it accepts. Fields without a rule are flags (true/false).
RULES: dict[str, Rule] = {
    "data": Choice("data set", _registry("DATA")),
    "path": Text(optional=True),
    "noise_rate": Interval(0, 1, optional=True),
    "test_fraction": Interval(0, 1, lo_open=True, hi_open=True),
    "val_fraction": Interval(0, 1, hi_open=True),
    "val_from_test": Interval(0, 10**9, kind=int),
    "val_from_test_seed": Interval(0, 2**32 - 1, kind=int, optional=True),
    "train_fraction": Interval(0, 1, lo_open=True),
    "crowd": Choice("crowd mode", _registry("CROWD_MODES")),
    "root": Text(optional=True),
    "split": Text(optional=True),
    "test": Text(optional=True),
    "labels": Choice("label set", _label_sets),
    "label_file": Text(optional=True),
    "side_info": Text(optional=True),
    "features": Text(optional=True),
    "answers": Text(optional=True),
    "arch": Choice("arch", _archs),
    "weights": Text(optional=True),
    "test_crops": Choice("test crop count", lambda: (1, 6), kind=int),
    "workers": Interval(0, 256, kind=int),
    "method": Choice("method", _registry("METHODS")),
    "guide": Choice("guide", _registry("GUIDES")),
    "prior": Choice("prior", _registry("PRIORS")),
    "decoder": Choice("decoder", _registry("DECODERS")),
    "prior_judgement": Choice("prior judgement", _registry("PRIOR_JUDGEMENTS")),
    "latent": Choice("latent type", _registry("LATENTS")),
    "ytilde_likelihood": Choice("ỹ likelihood", _registry("LATENTS")),
    "quality_dim": Interval(0, 1024, kind=int),
    "quality_prior": Choice("quality prior", _registry("QUALITY_PRIORS")),
    # initial weights of a network's logits: beyond ±100 a sigmoid is saturated in float32 (and
    # beyond ~3.4e38 the value does not even fit in the tensor it initializes)
    "copy_init": Interval(-100, 100),
    "label_init": Interval(-100, 100),
    "prior_init": Interval(0, 100, optional=True),
    "noise_init": Choice("noise init", _registry("NOISE_INITS")),
    "kl_z_weight": Interval(0, None),
    "hidden": Widths(),
    "dropout": Interval(0, 1, hi_open=True),
    "beta": Interval(0, 1),
    "bootstrap": Choice("bootstrap kind", _registry("BOOTSTRAP_KINDS")),
    "learnq_trace": Interval(0, None),
    "gce_q": Interval(0, 1),
    "sce_alpha": Interval(0, None),
    "sce_beta": Interval(0, None),
    "elr_lambda": Interval(0, None),
    "elr_beta": Interval(0, 1, hi_open=True),
    "forget_rate": Interval(0, 1, hi_open=True),
    "forget_epochs": Interval(1, 10**6, kind=int),
    "dividemix_warmup": Interval(0, 10**6, kind=int),
    "dividemix_threshold": Interval(0, 1),
    "dividemix_lambda_u": Interval(0, None),
    "dividemix_temperature": Interval(0, None, lo_open=True),
    "dividemix_alpha": Interval(0, None),
    "elbo": Choice("ELBO", _registry("ELBOS")),
    "baseline": Choice("baseline", _registry("BASELINES")),
    "regularizer": Choice("regularizer", _registry("REGULARIZERS")),
    "lam": Interval(0, None),
    "tau_start": Interval(0, None, lo_open=True),
    "tau_end": Interval(0, None, lo_open=True),
    "warmup_epochs": Interval(0, None, optional=True),
    "ramp_epochs": Interval(0, None),
    "alpha_max": Interval(0, 1, optional=True),
    "warmup_scope": Choice("warm-up scope", _registry("WARMUP_SCOPES")),
    "epochs": Interval(1, 10**6, kind=int),
    "batch_size": Interval(1, 10**7, kind=int),
    "lr": Interval(0, None, lo_open=True),
    "optimizer": Choice("optimizer", _registry("OPTIMIZERS")),
    "momentum": Interval(0, 1, hi_open=True),
    "weight_decay": Interval(0, None),
    "lr_step": Interval(1, None, kind=int),
    "lr_gamma": Interval(0, 1, lo_open=True),
    "schedule": Choice("learning-rate schedule", _registry("SCHEDULES")),
    "mixup": Interval(0, None),
    "seed": _SEED,
    "device": Device(),
    "eval_every": Interval(1, 10**6, kind=int),
}
