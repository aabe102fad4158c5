"""Every option of a run, declared once: its default, its rule, its help text, its section and
whether it is an expert option, in one ``option(...)`` field of ``Config``. Everything else is
generated from these declarations: ``RULES`` and ``Config.validate``, the click options and
``--help`` (``cli.py``), the estimator's constructor arguments and numpydoc (``estimator.py``,
``option_docs.py``), the typed sections (``sections.py``), the registry's name lists for the
choices spelled as a ``Literal`` (``registry.py``) and the check that an option set by the user
applies to the chosen method (``resolution.py``).

Adding an option is one declaration here::

    my_weight: float = option(0.5, Interval(0, 1), "what it does, for --help and help()",
                              section="method", applies=CAN)

* the type annotation is its type; a ``Literal`` lists the names a choice accepts (no rule
  needed: ``what=`` names it in errors), a ``bool`` is a ``--x/--no-x`` flag (no rule);
* ``section``: the typed section the models read it from (``sections.SECTIONS``);
* ``expert=True`` keeps it off ``fit --help``: it is set with ``--set key=value``, a preset
  (``--config FILE.toml``) or its own flag, which click still accepts;
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

from .declaration import (ANCHORED_NOISE_INITS, BACKBONE, BOOTSTRAP, CAN, CAN_GUIDE,
                          CAN_LIKELIHOOD, CIFAR10N, CROWD_LAYER, CROWD_TABLE, DERIVED, FEATURES,
                          HOLDS, LATENT, LEARNQ, MIXES, NPZ, RELAXED, REPLACED_AT_HANDOVER, SCORE,
                          SGD, SOFTMAX, VAL_FROM_TEST, WARM, arch_names, derived_property,
                          label_set_names, method_is, option, registry_names)
from .errors import OptionError
from .rules import Choice, Device, Interval, Rule, Text, Widths

#: The layout of a run folder's config.json (and model.json): 2 holds the *resolved* config beside
#: a ``format_version`` key. Older folders (no key) kept ``latent: auto``, ...: reading them back
#: would re-resolve those with today's defaults, so they are refused (``runs.read_config``).
FORMAT_VERSION = 2

# the choices whose names are the option's own (the registry's tables hold the named parts)
Crowd = Literal["model", "majority", "repeat", "dawid-skene", "glad"]
Latent = Literal["auto", "categorical", "bernoulli"]  # resolved: never "auto"
Prior = Literal["classifier", "uniform"]
Decoder = Literal["mlp", "linear"]
QualityPrior = Literal["standard", "worker"]  # z ~ N(0, I) | N(μ_w, I) (worker_quality.py)
PriorJudgement = Literal["shared", "separate"]
NoiseInit = Literal["anchor", "transition", "fixed"]
Bootstrap = Literal["soft", "hard"]
Baseline = Literal["avg", "nn"]
WarmupScope = Literal["classifier", "all"]
TestCrops = Literal[1, 6]
Optimizer = Literal["sgd", "adam", "radam"]
LrSchedule = Literal["step", "cosine"]


_SEED = Interval(0, 2**32 - 1, kind=int)  # NumPy's and scikit-learn's seeds are 32-bit
# initial weights of a network's logits: beyond ±100 a sigmoid is saturated in float32 (and
# beyond ~3.4e38 the value does not even fit in the tensor it initializes)
_LOGIT = Interval(-100, 100)


@dataclass
class Config:
    # -- data ----------------------------------------------------------------------------------
    data: str = option(
        "digits", Choice("data set", registry_names("DATA")),
        "data set: digits (bundled), npz (--path), music (bundled real crowd labels), voc07, "
        "voc12, web, amt, sd4, folder, cifar10n (--root)", section="data", source=True)
    path: str | None = option(
        None, Text(optional=True),
        "input file for --data npz: .npz (arrays X and y or Y; optional train_idx/test_idx, "
        "class_names) or .csv (a header row naming a 'label' column, the other columns feature "
        "numbers, an optional 'id' column; docs/bad-input.md gives the rules)",
        section="data", source=True, applies=NPZ)
    noise_rate: float | None = option(
        None, Interval(0, 1, optional=True),
        "probability P of shuffling a training label vector [default: 0.4 on digits, else 0]",
        section="data", source=True, auto=True)
    test_fraction: float = option(
        0.25, Interval(0, 1, lo_open=True, hi_open=True),
        "test share when the data has no split", section="data", source=True, expert=True)
    val_fraction: float = option(
        0.0, Interval(0, 1, hi_open=True),
        "training share held out as a noisy-label validation set", section="data")
    val_from_test: int = option(
        0, Interval(0, 10**9, kind=int),
        "set this many test items aside (seeded, stratified) as a clean validation set to "
        "choose settings on; the rest are reported (music's published protocol: 100 of the 300 "
        "test clips)", section="data", source=True, expert=True)
    val_from_test_seed: int | None = option(
        None, Interval(0, 2**32 - 1, kind=int, optional=True),
        "seed of --val-from-test's split [default: the run's --seed]; give one (music's "
        "published protocol: 0) to keep the same split for every seed",
        section="data", source=True, expert=True, applies=VAL_FROM_TEST)
    train_fraction: float = option(
        1.0, Interval(0, 1, lo_open=True), "share of training items kept (paper Fig. 6)",
        section="data", source=True, expert=True)
    crowd: Crowd = option(
        "model", None,
        "several answers per item: model (one y, one z per answer), majority, repeat, "
        "dawid-skene or glad (aggregated by crowd-kit, an optional extra)",
        section="data", what="crowd mode")
    root: str | None = option(
        None, Text(optional=True),
        "data folder in the published layout (voc07, voc12, web, amt, sd4, folder, cifar10n)",
        section="data", source=True)
    split: str | None = option(
        None, Text(optional=True),
        "VOC image set to test on [default: test for voc07, val for voc12]",
        section="data", source=True, expert=True)
    test: str | None = option(
        None, Text(optional=True), "evaluate on a clean set instead, e.g. voc07:DIR",
        section="data", source=True, expert=True)
    labels: str = option(
        "aggre", Choice("label set", label_set_names),
        "cifar10n training labels: aggre, worst, random1, random2, random3, crowd (the three "
        "answers with their workers) or clean (the ceiling)",
        section="data", source=True, applies=CIFAR10N)
    label_file: str | None = option(
        None, Text(optional=True),
        "cifar10n: the label file [default: ROOT/CIFAR-10_human.pt]",
        section="data", source=True, expert=True, applies=CIFAR10N)
    side_info: str | None = option(
        None, Text(optional=True),
        "cifar10n --labels crowd: the worker table [default: ROOT/side_info_cifar10N.csv]",
        section="data", source=True, expert=True, applies=CIFAR10N)
    features: str | None = option(
        None, Text(optional=True),
        "cifar10n: train the MLP on these features (.npz, training rows then test rows) "
        "instead of the images; crowd: the tasks' features (.csv with a header row, or .npz "
        "with X), one row per task", section="data", source=True, applies=FEATURES)
    answers: str | None = option(
        None, Text(optional=True),
        "crowd: the answers, a CSV with header task,worker,label (crowd-kit's columns; any ids)",
        section="data", source=True, applies=CROWD_TABLE)
    # -- images --------------------------------------------------------------------------------
    arch: str = option(
        "mlp", Choice("arch", arch_names),
        "classifier: mlp (features), resnet18/resnet34 (image files) or "
        "cifar-resnet18/cifar-resnet34 (cifar10n images, 3x3 stem, no max-pool)",
        section="images")
    weights: str | None = option(
        None, Text(optional=True), "local backbone weights (state dict); random init otherwise",
        section="images", expert=True, applies=BACKBONE)
    test_crops: TestCrops = option(
        1, None, "1, or 6 = four corners + centre + full image (their features averaged)",
        section="images", expert=True, what="test crop count", applies=BACKBONE)
    feature_cache: bool = option(
        False, None,
        "run the frozen backbone once and train the heads on cached features (default for "
        "image data: train the backbone end to end)", section="images", expert=True,
        applies=BACKBONE)
    amp: bool = option(
        False, None, "bfloat16 autocast of the backbone on CUDA (feature extraction: float16)",
        section="images", expert=True)
    workers: int = option(
        2, Interval(0, 256, kind=int), "DataLoader worker processes for image data",
        section="images", expert=True)
    # -- method and its parts ------------------------------------------------------------------
    method: str = option(
        "can", Choice("method", registry_names("METHODS")),
        "can, plain, learnq, icnm, bootstrap, crowd-layer (needs workers: --crowd model on "
        "crowd data), gce, sce, elr, coteaching, dividemix (single-label data; "
        "docs/baselines.md)", section="method")
    guide: str = option(
        "can", Choice("guide", registry_names("GUIDES")), "variational guide for latent methods",
        section="method", applies=LATENT)
    prior: Prior = option(
        "classifier", None, "p(y): classifier or uniform", section="method", expert=True,
        applies=CAN)
    decoder: Decoder = option(
        "mlp", None, "p(ỹ|y,z) network: mlp or linear", section="method", expert=True,
        applies=CAN)
    prior_judgement: PriorJudgement = option(
        "shared", None, "guide's p: shared (classifier, no gradient) or separate f_φ",
        section="method", expert=True, applies=CAN_GUIDE)
    latent: Latent = option(
        "auto", None,
        "the clean label y: bernoulli (per class, sigmoid classifier and scores), categorical "
        "(one class: softmax classifier and scores, closed-form categorical KL; single-label "
        "data) or auto (categorical for single-label data); the baselines but ICNM follow it",
        section="method", expert=True, what="latent type", auto=True,
        applies=SOFTMAX)
    ytilde_likelihood: Latent = option(
        "auto", None,
        "p(ỹ|y,z): categorical (one answered class), bernoulli (per class) or auto (as --latent)",
        section="method", expert=True, what="ỹ likelihood", auto=True,
        applies=CAN_LIKELIHOOD)
    quality_dim: int = option(
        4, Interval(0, 1024, kind=int), "K, dimensions of the quality embedding z (0 removes z)",
        section="method", applies=CAN)
    quality_prior: QualityPrior = option(
        "standard", None,
        "p(z): standard (N(0, I), the paper's worker-blind CAN) or worker (N(μ_w, I) with a "
        "latent μ_w per worker, and per-worker trust in q(y); crowd data)",
        section="method", expert=True, what="quality prior", applies=CAN)
    copy_init: float = option(
        2.0, _LOGIT, "decoder's initial half log-ratio that ỹ_c follows y_c",
        section="method", expert=True, applies=CAN & REPLACED_AT_HANDOVER)
    label_init: float = option(
        2.0, _LOGIT, "additive layer's initial weight of each answer's ±1 evidence",
        section="method", expert=True, applies=CAN_GUIDE & REPLACED_AT_HANDOVER)
    prior_init: float | None = option(
        None, Interval(0, 100, optional=True),
        "additive layer's initial weight of the prior judgement's logits (>1 sharpens the warm "
        "classifier, which estimates the flatter p(ỹ|x)) [default: 2; 1 with several answers "
        "per item]", section="method", expert=True, auto=True, applies=CAN_GUIDE)
    noise_init: NoiseInit = option(
        "anchor", None,
        "label reliability at the hand-over from ỹ to q: anchor (estimated from the warm "
        "classifier's most confident items; replaces --copy-init/--label-init), transition (the "
        "whole class-to-answer matrix T[y, ỹ] from those items, so q learns which class a wrong "
        "answer names; single-label data) or fixed (keep them)",
        section="method", expert=True, what="noise init", applies=CAN)
    hold_noise: bool = option(
        False, None,
        "after the hand-over, keep CAN's noise model at the anchor estimate: the decoder and "
        "q's weights on each answer and on the classifier stop training (on CIFAR-10N features "
        "the noise model otherwise drifts back to trusting every label); with --quality-prior "
        "worker, each worker's quality still learns, as a departure from the held crowd model",
        section="method", expert=True, applies=HOLDS)
    kl_z_weight: float = option(
        1.0, Interval(0, None), "weight of KL(q(z)||p(z))", section="method", expert=True,
        applies=CAN)
    hidden: str = option(
        "1024,30", Widths(), "classifier hidden widths", section="method")
    batch_norm: bool = option(
        False, None, "input nets: BatchNorm after each hidden layer", section="method",
        expert=True)
    dropout: float = option(
        0.0, Interval(0, 1, hi_open=True), "input nets: dropout rate after each hidden layer",
        section="method", expert=True)
    beta: float = option(
        0.8, Interval(0, 1), "bootstrap target weight on ỹ", section="method.bootstrap",
        expert=True, applies=BOOTSTRAP)
    bootstrap: Bootstrap = option(
        "soft", None, "bootstrap target: soft (probabilities) or hard (predicted label)",
        section="method.bootstrap", expert=True, what="bootstrap kind", applies=BOOTSTRAP)
    learnq_trace: float = option(
        0.01, Interval(0, None), "LearnQ: weight of the trace penalty on Q, per item",
        section="method.learnq", expert=True, applies=LEARNQ)
    crowd_layer_mean: bool = option(
        False, None,
        "Crowd Layer: its loss is the mean over the minibatch's answers (the crowd-learning "
        "papers'), not the sum over each item's answers", section="method", expert=True,
        applies=CROWD_LAYER)
    gce_q: float = option(
        0.7, Interval(0, 1), "GCE: q of the loss (1 − p^q)/q (0: cross-entropy, 1: mean "
        "absolute error)", section="method.gce", expert=True, applies=method_is("gce"))
    sce_alpha: float = option(
        0.1, Interval(0, None), "SCE: weight α of the cross-entropy", section="method.sce",
        expert=True, applies=method_is("sce"))
    sce_beta: float = option(
        1.0, Interval(0, None), "SCE: weight β of the reverse cross-entropy",
        section="method.sce", expert=True, applies=method_is("sce"))
    elr_lambda: float = option(
        3.0, Interval(0, None), "ELR: weight λ of the early-learning regularizer",
        section="method.elr", expert=True, applies=method_is("elr"))
    elr_beta: float = option(
        0.7, Interval(0, 1, hi_open=True),
        "ELR: momentum β of each item's running average of predictions",
        section="method.elr", expert=True, applies=method_is("elr"))
    forget_rate: float = option(
        0.2, Interval(0, 1, hi_open=True),
        "Co-teaching: share τ of each minibatch's largest-loss answers each network drops",
        section="method.coteaching", expert=True, applies=method_is("coteaching"))
    forget_epochs: int = option(
        10, Interval(1, 10**6, kind=int),
        "Co-teaching: epochs T_k over which the forget rate rises from 0 to τ",
        section="method.coteaching", expert=True, applies=method_is("coteaching"))
    dividemix_warmup: int = option(
        10, Interval(0, 10**6, kind=int),
        "DivideMix: cross-entropy epochs before the first clean/noisy split",
        section="method.dividemix", expert=True, applies=method_is("dividemix"))
    dividemix_threshold: float = option(
        0.5, Interval(0, 1), "DivideMix: clean probability above which an item counts as labeled",
        section="method.dividemix", expert=True, applies=method_is("dividemix"))
    dividemix_lambda_u: float = option(
        25.0, Interval(0, None), "DivideMix: weight λ_u of the unlabeled items' squared error",
        section="method.dividemix", expert=True, applies=method_is("dividemix"))
    dividemix_temperature: float = option(
        0.5, Interval(0, None, lo_open=True),
        "DivideMix: sharpening temperature T of the refined labels",
        section="method.dividemix", expert=True, applies=method_is("dividemix"))
    dividemix_alpha: float = option(
        4.0, Interval(0, None), "DivideMix: mixup's Beta(α, α) parameter",
        section="method.dividemix", expert=True, applies=method_is("dividemix"))
    # -- objective and schedules ---------------------------------------------------------------
    elbo: str = option(
        "tracegraph", Choice("ELBO", registry_names("ELBOS")),
        "tracegraph (discrete y, score function with baselines), meanfield (relaxed y, "
        "closed-form KL), enum (y summed out exactly; single-label data) or trace (relaxed y, "
        "sampled KL)", section="schedule", expert=True)  # every method's loss is an ELBO
    baseline: Baseline = option(
        "avg", None,
        "tracegraph's baseline for y's score function: avg (decaying average) or nn (plus a "
        "small neural baseline)", section="schedule", expert=True, applies=SCORE)
    regularizer: str = option(
        "entropy", Choice("regularizer", registry_names("REGULARIZERS")),
        "λ's term: entropy (λ·E H(q)) or mi (−λ·(H(E q) − E H(q)), the mutual information)",
        section="schedule", expert=True, applies=LATENT)
    lam: float = option(
        0.0, Interval(0, None),
        "λ, weight of the regularizer on q(y) and q(z) (the paper's 0.3 collapses q(y) at "
        "P = 0.8: docs/training.md)", section="schedule", applies=LATENT)
    tau_start: float = option(
        1.0, Interval(0, None, lo_open=True), "relaxed-Bernoulli temperature at the start",
        section="schedule", expert=True, applies=RELAXED)
    tau_end: float = option(
        0.5, Interval(0, None, lo_open=True), "temperature at the end (geometric decay)",
        section="schedule", expert=True, applies=RELAXED)
    warmup_epochs: float | None = option(
        None, Interval(0, None, optional=True),
        "epochs of pure cross-entropy on ỹ before α_t ramps up (Eq. 7) [default: 20; 5 with "
        "several answers per item (--crowd model)]", section="schedule", expert=True, auto=True,
        applies=WARM)
    ramp_epochs: float = option(
        10.0, Interval(0, None), "epochs over which α_t ramps to alpha_max", section="schedule",
        expert=True, applies=WARM)
    alpha_max: float | None = option(
        None, Interval(0, 1, optional=True),
        "final α_t: the ELBO's weight at the end of the ramp, the warm-up cross-entropy keeping "
        "1 − α_max [default: 0.9; 1 with several answers per item]", section="schedule",
        expert=True, auto=True, applies=WARM)
    warmup_scope: WarmupScope = option(
        "all", None, "what α_t scales: classifier or all (see models/can.py)",
        section="schedule", expert=True, what="warm-up scope", applies=WARM)
    epochs: int = option(90, Interval(1, 10**6, kind=int), "training epochs", section="schedule")
    # -- optimization --------------------------------------------------------------------------
    batch_size: int = option(50, Interval(1, 10**7, kind=int), "minibatch size",
                             section="optimizer")
    lr: float = option(0.01, Interval(0, None, lo_open=True), "learning rate",
                       section="optimizer")
    optimizer: Optimizer = option(
        "sgd", None, "sgd (with --momentum; the paper's), adam (the Crowd Layer paper's) or "
        "radam (torch's RAdam, the crowd-learning papers' on music)",
        section="optimizer", what="optimizer")
    momentum: float = option(0.9, Interval(0, 1, hi_open=True), "SGD momentum",
                             section="optimizer", expert=True, applies=SGD)
    weight_decay: float = option(0.0, Interval(0, None), "L2 weight decay of the optimizer",
                                 section="optimizer")
    lr_step: int = option(30, Interval(1, None, kind=int),
                          "divide the learning rate by 1/lr_gamma every lr_step epochs",
                          section="optimizer", expert=True)
    lr_gamma: float = option(0.1, Interval(0, 1, lo_open=True),
                             "factor of the learning rate every lr_step epochs",
                             section="optimizer", expert=True)
    schedule: LrSchedule = option(
        "step", None,
        "learning-rate schedule, stepped every epoch: step (divide by 1/lr_gamma every lr_step "
        "epochs; the paper's) or cosine (torch's CosineAnnealingLR, to 0 at the last epoch)",
        section="optimizer", expert=True, what="learning-rate schedule")
    mixup: float = option(
        0.0, Interval(0, None),
        "mixup's α (Zhang et al. 2018): each minibatch item's input mixed with another's, "
        "λ ~ Beta(α, α), and the two items' answers weighted λ and 1 − λ in the likelihood "
        "(docs/training.md); 0: off", section="optimizer", applies=MIXES)
    # -- runtime -------------------------------------------------------------------------------
    seed: int = option(0, _SEED, "random seed (data split, noise, initial weights, batches)",
                       section="runtime")
    device: str = option("auto", Device(),
                         "torch device to train on (auto: cuda when available, else cpu)",
                         section="runtime")
    eval_every: int = option(
        1, Interval(1, 10**6, kind=int),
        "score the test and validation sets (and the ELBO terms in history.csv) every N "
        "epochs; the last epoch is always scored, so metrics.json is the same",
        section="runtime", expert=True)

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
