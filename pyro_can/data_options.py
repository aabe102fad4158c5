"""The options of where the data comes from and how images become inputs: the ``data`` and
``images`` sections of ``Config`` (``config.py`` says how an option is declared and assembles the
sections into one ``Config``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .declaration import (BACKBONE, CIFAR10N, CROWD_TABLE, FEATURES, NPZ, VAL_FROM_TEST,
                          arch_names, label_set_names, option, registry_names)
from .rules import Choice, Interval, Text

# the choices whose names are the option's own (the registry's tables hold the named parts)
Crowd = Literal["model", "majority", "repeat", "dawid-skene", "glad"]
TestCrops = Literal[1, 6]


@dataclass
class DataOptions:
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
