"""What each option means, in words: the one text behind ``pyro-can fit --help`` and the
estimator's list of parameters (``CANClassifier``'s docstring), so that the two cannot drift.
Options are declared in ``config.py`` (field, default, rule); this says what they do."""
from __future__ import annotations

import dataclasses
import textwrap

from .config import RULES, Config
from .rules import Choice, Rule, Text

#: Field name -> what it does (its rule's range or names are added where they are not obvious).
HELP = {
    "data": "data set: digits (bundled), npz (--path), music (bundled real crowd labels), "
            "voc07, voc12, web, amt, sd4, folder, cifar10n (--root)",
    "path": "input file for --data npz: .npz (arrays X and y or Y; optional train_idx/test_idx, "
            "class_names) or .csv (a header row naming a 'label' column, the other columns "
            "feature numbers, an optional 'id' column; docs/bad-input.md gives the rules)",
    "noise_rate": "probability P of shuffling a training label vector [default: 0.4 on digits, "
                  "else 0]",
    "test_fraction": "test share when the data has no split",
    "val_fraction": "training share held out as a noisy-label validation set",
    "crowd": "several answers per item: model (one y, one z per answer), majority, repeat, "
             "dawid-skene or glad (aggregated by crowd-kit, an optional extra)",
    "val_from_test": "set this many test items aside (seeded, stratified) as a clean validation "
                     "set to choose settings on; the rest are reported (music's published "
                     "protocol: 100 of the 300 test clips)",
    "val_from_test_seed": "seed of --val-from-test's split [default: the run's --seed]; give one "
                          "(music's published protocol: 0) to keep the same split for every seed",
    "crowd_layer_mean": "Crowd Layer: its loss is the mean over the minibatch's answers (the "
                        "crowd-learning papers'), not the sum over each item's answers",
    "schedule": "learning-rate schedule, stepped every epoch: step (divide by 1/lr_gamma every "
                "lr_step epochs; the paper's) or cosine (torch's CosineAnnealingLR, to 0 at the "
                "last epoch)",
    "mixup": "mixup's α (Zhang et al. 2018): each minibatch item's input mixed with another's, "
             "λ ~ Beta(α, α), and the two items' answers weighted λ and 1 − λ in the "
             "likelihood (docs/training.md); 0: off",
    "batch_norm": "input nets: BatchNorm after each hidden layer",
    "dropout": "input nets: dropout rate after each hidden layer",
    "root": "data folder in the published layout (voc07, voc12, web, amt, sd4, folder)",
    "split": "VOC image set to test on [default: test for voc07, val for voc12]",
    "test": "evaluate on a clean set instead, e.g. voc07:DIR",
    "labels": "cifar10n training labels: aggre, worst, random1, random2, random3, crowd (the "
              "three answers with their workers) or clean (the ceiling)",
    "label_file": "cifar10n: the label file [default: ROOT/CIFAR-10_human.pt]",
    "side_info": "cifar10n --labels crowd: the worker table [default: "
                 "ROOT/side_info_cifar10N.csv]",
    "features": "cifar10n: train the MLP on these features (.npz, training rows then test "
                "rows) instead of the images; crowd: the tasks' features (.csv with a header "
                "row, or .npz with X), one row per task",
    "answers": "crowd: the answers, a CSV with header task,worker,label (crowd-kit's columns; "
               "any ids)",
    "arch": "classifier: mlp (features), resnet18/resnet34 (image files) or "
            "cifar-resnet18/cifar-resnet34 (cifar10n images, 3x3 stem, no max-pool)",
    "weights": "local backbone weights (state dict); random init otherwise",
    "test_crops": "1, or 6 = four corners + centre + full image (their features averaged)",
    "feature_cache": "run the frozen backbone once and train the heads on cached features "
                     "(default for image data: train the backbone end to end)",
    "amp": "bfloat16 autocast of the backbone on CUDA (feature extraction: float16)",
    "workers": "DataLoader workers for image data",
    "method": "can, plain, learnq, icnm, bootstrap, crowd-layer (needs workers: --crowd model "
              "on crowd data), gce, sce, elr, coteaching, dividemix (single-label data; "
              "docs/baselines.md)",
    "bootstrap": "bootstrap target: soft (probabilities) or hard (predicted label)",
    "learnq_trace": "LearnQ trace penalty on Q",
    "gce_q": "GCE: q of the loss (1 − p^q)/q (0: cross-entropy, 1: mean absolute error)",
    "sce_alpha": "SCE: weight α of the cross-entropy",
    "sce_beta": "SCE: weight β of the reverse cross-entropy",
    "elr_lambda": "ELR: weight λ of the early-learning regularizer",
    "elr_beta": "ELR: momentum β of each item's running average of predictions",
    "forget_rate": "Co-teaching: share τ of each minibatch's largest-loss answers each network "
                   "drops",
    "forget_epochs": "Co-teaching: epochs T_k over which the forget rate rises from 0 to τ",
    "dividemix_warmup": "DivideMix: cross-entropy epochs before the first clean/noisy split",
    "dividemix_threshold": "DivideMix: clean probability above which an item counts as labeled",
    "dividemix_lambda_u": "DivideMix: weight λ_u of the unlabeled items' squared error",
    "dividemix_temperature": "DivideMix: sharpening temperature T of the refined labels",
    "dividemix_alpha": "DivideMix: mixup's Beta(α, α) parameter",
    "train_fraction": "share of training items kept",
    "guide": "variational guide for latent methods",
    "prior": "p(y): classifier or uniform",
    "decoder": "p(ỹ|y,z) network: mlp or linear",
    "prior_judgement": "guide's p: shared (classifier, no gradient) or separate f_φ",
    "latent": "the clean label y: bernoulli (per class, sigmoid classifier and scores), "
              "categorical (one class: softmax classifier and scores, closed-form categorical "
              "KL; single-label data) or auto (categorical for single-label data); the "
              "baselines but ICNM follow it",
    "ytilde_likelihood": "p(ỹ|y,z): categorical (one answered class), bernoulli (per class) or "
                         "auto (as --latent)",
    "quality_dim": "K, dimensions of the quality embedding z (0 removes z)",
    "quality_prior": "p(z): standard (N(0, I), the paper's worker-blind CAN) or worker "
                     "(N(μ_w, I) with a latent μ_w per worker, and per-worker trust in q(y); "
                     "crowd data)",
    "kl_z_weight": "weight of KL(q(z)||p(z))",
    "copy_init": "decoder's initial half log-ratio that ỹ_c follows y_c",
    "label_init": "additive layer's initial weight of each answer's ±1 evidence",
    "prior_init": "additive layer's initial weight of the prior judgement's logits (>1 "
                  "sharpens the warm classifier, which estimates the flatter p(ỹ|x)) "
                  "[default: 2; 1 with several answers per item]",
    "noise_init": "label reliability at the hand-over from ỹ to q: anchor (estimated from the "
                  "warm classifier's most confident items; replaces --copy-init/--label-init), "
                  "transition (the whole class-to-answer matrix T[y, ỹ] from those items, so q "
                  "learns which class a wrong answer names; single-label data) or fixed (keep "
                  "them)",
    "hold_noise": "after the hand-over, keep CAN's noise model at the anchor estimate: the "
                  "decoder and q's weights on each answer and on the classifier stop training "
                  "(on CIFAR-10N features the noise model otherwise drifts back to trusting "
                  "every label); with --quality-prior worker, each worker's quality still "
                  "learns, as a departure from the held crowd model",
    "hidden": "classifier hidden widths",
    "beta": "bootstrap target weight on ỹ",
    "elbo": "tracegraph (discrete y, score function with baselines; the design card's), "
            "meanfield (relaxed y, closed-form KL), enum (y summed out exactly; single-label "
            "data) or trace (relaxed y, sampled KL)",
    "baseline": "tracegraph's baseline for y's score function: avg (decaying average) or nn "
                "(plus a small neural baseline)",
    "regularizer": "λ's term: entropy (λ·E H(q)) or mi (−λ·(H(E q) − E H(q)), the mutual "
                   "information)",
    "lam": "λ, weight of the regularizer on q(y) and q(z)",
    "tau_start": "relaxed-Bernoulli temperature at the start",
    "tau_end": "temperature at the end (geometric decay)",
    "warmup_epochs": "epochs of pure cross-entropy on ỹ before α_t ramps up (Eq. 7) "
                     "[default: 20; 5 with several answers per item (--crowd model)]",
    "ramp_epochs": "epochs over which α_t ramps to alpha_max",
    "alpha_max": "final α_t: the ELBO's weight at the end of the ramp, the warm-up "
                 "cross-entropy keeping 1 − α_max [default: 0.9; 1 with several answers per "
                 "item]",
    "optimizer": "sgd (with --momentum; the paper's), adam (the Crowd Layer paper's) or radam "
                 "(torch's RAdam, the crowd-learning papers' on music)",
    "lr_step": "divide the learning rate by 1/lr_gamma every lr_step epochs",
    "device": "torch device to train on (auto: cuda when available, else cpu)",
    "eval_every": "score the test and validation sets (and the ELBO terms in history.csv) every "
                  "N epochs; the last epoch is always scored, so metrics.json is the same",
}


def describe(name: str, rule: Rule | None) -> str:
    """An option's help: its words here, then what its rule accepts (a choice's names are in
    its metavar, a text is free)."""
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
    for f in dataclasses.fields(Config):
        if f.name in skip:
            continue
        default = defaults.get(f.name, f.default)
        rule = RULES.get(f.name)
        kind = rule.metavar() if isinstance(rule, Choice) else str(f.type)
        text = describe(f.name, rule) or f.name.replace("_", " ")
        groups.setdefault(where[f.name], []).append(
            f"{f.name} : {kind}, default={default!r}\n"
            + textwrap.fill(text, 92, initial_indent="    ", subsequent_indent="    "))
    lines = ["Parameters", "----------"]
    for section, entries in groups.items():
        lines.append(f"*{section}*")
        lines.extend(entries)
    return "\n".join(lines)
