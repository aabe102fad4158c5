"""Every option of a run, with its default. The CLI's options and the estimator's constructor
arguments are these fields, with the same names."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .errors import PyroCanError


@dataclass
class Config:
    # data
    data: str = "digits"
    path: str | None = None  # --data npz
    noise_rate: float | None = None  # None: 0.4 on digits (the demo), 0 elsewhere
    test_fraction: float = 0.25
    val_fraction: float = 0.0  # carved from training items, scored against their noisy labels
    train_fraction: float = 1.0  # keep this share of the training items (paper Fig. 6)
    crowd: str = "model"  # model | majority | repeat | dawid-skene
    root: str | None = None  # image data sets: the folder in its published layout
    split: str | None = None  # VOC: image set used for testing (test for 07, val for 12)
    test: str | None = None  # evaluate on another (clean) data set, e.g. voc07:DIR
    arch: str = "mlp"  # mlp | resnet18 | resnet34 (image data)
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
    copy_init: float = 2.0  # decoder's initial half log-ratio that ỹ_c follows y_c
    label_init: float = 2.0  # additive layer's initial weight of the evidence from ỹ
    prior_init: float | None = None  # prior judgement's weight in q; None: 2 (1: several answers)
    noise_init: str = "anchor"  # anchor: both re-estimated at the hand-over | fixed: the inits
    kl_z_weight: float = 1.0
    hidden: str = "1024,30"
    beta: float = 0.8  # bootstrap: weight of ỹ in the target
    bootstrap: str = "soft"  # soft | hard
    learnq_trace: float = 0.01  # LearnQ: weight of the trace penalty on Q, per item
    # objective and schedules
    elbo: str = "meanfield"  # meanfield (relaxed y, closed-form KL) | tracegraph | enum | trace
    baseline: str = "avg"  # tracegraph: avg (decaying average) | nn (plus a small neural baseline)
    regularizer: str = "entropy"  # entropy: λ·E H(q) | mi: λ·(E H(q) − H(E q)), minus the MI
    lam: float = 0.0  # the paper's 0.3 collapses q(y) at P = 0.8 (docs/training.md)
    tau_start: float = 1.0
    tau_end: float = 0.5
    warmup_epochs: float | None = None  # None: 20, or 5 with several answers per item
    ramp_epochs: float = 10.0
    alpha_max: float = 1.0
    warmup_scope: str = "all"  # classifier | all: what α_t scales (see models/can.py)
    # optimization
    epochs: int = 90
    batch_size: int = 50
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_step: int = 30
    lr_gamma: float = 0.1
    seed: int = 0
    device: str = "auto"

    @property
    def end_to_end(self) -> bool:
        """Image data whose backbone trains with the heads (not frozen behind a feature cache)."""
        return self.arch != "mlp" and not self.feature_cache

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        return tuple(int(h) for h in str(self.hidden).split(",") if h.strip())

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
            raise PyroCanError("--latent categorical needs single-label data")
        if self.elbo == "enum" and method.latent and latent != "categorical":
            raise PyroCanError("--elbo enum enumerates one class per item: it needs single-label "
                               "data and --latent categorical (2^C joint labels otherwise)")
        lik = self.ytilde_likelihood
        if lik == "auto" or not method.latent:  # a baseline's labels follow its classifier
            lik = latent
        if lik == "categorical" and not single_label:
            raise PyroCanError("--ytilde-likelihood categorical needs single-label data")
        return dataclasses.replace(self, latent=latent, ytilde_likelihood=lik)

    def resolve_for_answers(self, several_answers: bool) -> "Config":
        """This config with the options whose default depends on the answers per item made
        explicit, both chosen on noisy-label validation (docs/training.md). With several answers
        per item the warm-up's cross-entropy trains on every answer (the weakest crowd baseline)
        while CAN's posterior pools them, so the hand-over comes early (5 epochs, not 20); the
        classifier is then barely trained, so q reads it at weight 1 rather than 2."""
        changes = {}
        if self.warmup_epochs is None:
            changes["warmup_epochs"] = 5.0 if several_answers else 20.0
        if self.prior_init is None:
            changes["prior_init"] = 1.0 if several_answers else 2.0
        return dataclasses.replace(self, **changes)

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
            raise PyroCanError(f"config: unknown option(s) {', '.join(unknown)}")
        return cls(**d)

    def validate(self) -> "Config":
        from . import registry

        rate = self.resolved_noise_rate()
        if not 0.0 <= rate <= 1.0:
            raise PyroCanError(f"--noise-rate must be in [0, 1], got {rate}")
        for name, lo, hi in (("test_fraction", 0.0, 1.0), ("val_fraction", 0.0, 1.0)):
            v = getattr(self, name)
            if not (lo <= v < hi):
                raise PyroCanError(f"--{name.replace('_', '-')} must be in [{lo}, {hi}), got {v}")
        if not 0.0 < self.train_fraction <= 1.0:
            raise PyroCanError(f"--train-fraction must be in (0, 1], got {self.train_fraction}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise PyroCanError(f"--{name.replace('_', '-')} must be at least 1")
        if self.quality_dim < 0:
            raise PyroCanError("--quality-dim must be >= 0")
        if not self.hidden_sizes:
            raise PyroCanError("--hidden must list layer widths, e.g. 1024,30")
        registry.check_names(self)
        return self
