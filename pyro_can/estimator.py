"""scikit-learn estimators over the CAN trainer: ``CANClassifier`` and ``PlainClassifier``.

They train the same networks with the same SVI loop as ``pyro-can fit`` (``Trainer.run``), on
arrays given to ``fit`` instead of a named data set::

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from pyro_can.estimator import CANClassifier

    clf = make_pipeline(StandardScaler(), CANClassifier(epochs=30)).fit(X_noisy, y_noisy)
    clf.predict(X_test)

Differences from the CLI, all deliberate:

* The estimator trains on ``X`` as given: it does not standardize it (put a ``StandardScaler`` in a
  ``Pipeline``) and adds no artificial noise (``y`` is taken as the noisy labels).
* Nothing is held out as a test set; ``val_fraction`` carves a validation split scored against its
  *noisy* labels, as in the CLI.
* Data-source options (``data``, ``path``, ``noise_rate``, ``test_fraction``, ``train_fraction``,
  ``root``, ``split``, ``test``) are not constructor arguments: the estimator gets arrays.
* Only the feature classifier (``arch="mlp"``) exists here; the image path (ResNet classifiers on a
  ``torch.utils.data.Dataset`` of images) is not built yet and is refused with a ``ValueError``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import inspect
import random
import re
import textwrap
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import average_precision_score
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from . import artifact, metrics, runs
from .config import SOURCE_FIELDS, Config
from .data import Dataset, one_hot, validation_split, voted_labels
from .errors import DataWarning, PyroCanError, RunFolderError
from .option_docs import parameters_section
from .posterior import answer_trust, posterior
from .resolution import resolve_latent
from .train import (Trainer, TrainingSet, build_model_and_guide, class_scores, predict_logits,
                    programs_state, resolve_device)
from .worker_quality import count_workers

#: Config fields that say where the data comes from (declared ``source=True``); the estimator
#: gets arrays instead.
DATA_SOURCE_FIELDS = SOURCE_FIELDS
ESTIMATOR_FILE = "estimator.json"  # classes_, n_features_in_, ... (the rest is the CLI's layout)
POSTERIOR_FILE = "posterior.npz"  # posterior_, label_quality_, quality_ of the training items
FORMAT_VERSION = 2  # 2: config.json resolved (config.FORMAT_VERSION), params kept here


class _ArrayTrainer(Trainer):
    """The CLI's trainer, minus the test set: arrays given to ``fit`` come without one, so the
    evaluation after each epoch scores only the noisy-label validation split, if any."""

    def evaluate(self) -> dict:
        if self.val is None:
            return {}
        scores = class_scores(self.cfg, self.predict_logits(self.val.x_train))
        return metrics.score(self.val.item_labels(), scores, self.val.class_names,
                             self.val.single_label, prefix="val_noisy_")


@contextlib.contextmanager
def _private_global_state():
    """``Trainer`` seeds Python's, NumPy's and torch's global RNGs; give the caller's back
    afterwards, so fitting an estimator has no effect outside it."""
    states = (random.getstate(), np.random.get_state(), torch.get_rng_state(),
              torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if states[3] is not None:
            torch.cuda.set_rng_state_all(states[3])


def _init_from_config(**defaults):
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


def _document_parameters(cls):
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


def _epoch_bar(epochs: int):
    """``verbose=True``'s progress: one tqdm bar over the epochs, with the loss; an ``on_epoch``
    callback for ``Trainer.run`` that also has ``close``."""
    from tqdm.auto import tqdm

    bar = tqdm(total=epochs, unit="epoch", dynamic_ncols=True)

    def on_epoch(trainer, record):
        bar.set_postfix(loss=f"{record['loss']:.4f}")
        bar.update(1)
    on_epoch.close = bar.close
    return on_epoch


def _option_names(message: str) -> str:
    """CLI wording to estimator wording: ``--lr-step`` becomes ``lr_step``."""
    return re.sub(r"--([a-z][a-z-]*)", lambda m: m.group(1).replace("-", "_"), message)


#: a feature whose mean or standard deviation exceeds this is far from standardized
UNSCALED_AT = 10.0


def _warn_unscaled(X: np.ndarray) -> None:
    """Warn (``DataWarning``) when a feature of X is far from standardized: the estimator trains
    on X as given, and inputs in the hundreds saturate the networks (raw 0-255 pixels trained to
    chance accuracy without a word)."""
    if len(X) < 2:
        return
    x = np.asarray(X, np.float64)
    mean, std = np.abs(x.mean(0)), x.std(0)
    worst = int(np.argmax(np.maximum(mean, std)))
    if max(mean[worst], std[worst]) > UNSCALED_AT:
        warnings.warn(f"X is far from standardized (feature {worst}: mean {x[:, worst].mean():.3g}"
                      f", standard deviation {std[worst]:.3g}); the estimator trains on X as "
                      "given, so scale it first: make_pipeline(StandardScaler(), "
                      "CANClassifier(...))", DataWarning, stacklevel=3)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))


def _per_owner_mean(values: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Mean of ``values`` rows grouped by ``owner`` (row -> item in 0..n-1); NaN for no rows."""
    values = values.reshape(len(values), -1).astype(np.float64)
    total = np.zeros((n, values.shape[1]))
    np.add.at(total, owner, values)
    count = np.bincount(owner, minlength=n).astype(np.float64)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _meta_of(spec: dict) -> dict:
    """``estimator.json``'s fields for a run written by ``pyro-can fit`` (its ``model.json``):
    the classes are the data set's class names; a multi-label prediction is an int 0/1 matrix."""
    return {"classes": spec["class_names"], "classes_dtype": "object",
            "multi_label": not spec["single_label"],
            "y_dtype": None if spec["single_label"] else "<i8",
            "n_features_in": spec["in_features"], "feature_names_in": None}


@_document_parameters
class CANClassifier(ClassifierMixin, BaseEstimator):
    """CAN (Yao et al.): a classifier trained through a latent-variable model of its noisy labels.

    Every constructor argument is the :class:`pyro_can.config.Config` field of the same name, with
    the same default and the words of ``pyro-can fit --help`` (listed under Parameters); see the
    module docstring for the options that do not apply. Validation of the values happens in
    ``fit``.

    ``fit(X, y)`` takes single-label targets (any labels, mapped through ``classes_``) or a 0/1
    label matrix (multi-label). ``fit(X, annotations=table)`` takes crowd answers instead
    (single-label only): crowd-kit's task/worker/label table (a DataFrame) or
    ``(item, worker, label)`` rows, any ids; see ``fit`` for how tasks map to the rows of X.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels (single-label) or ``arange(n_classes)`` (multi-label).
    n_features_in_, feature_names_in_ :
        As for every scikit-learn estimator.
    worker_ids_ : ndarray of shape (n_workers,)
        After ``fit(X, annotations=...)``: the workers' own ids, in the order of the model's
        worker index (sorted).
    posterior_ : ndarray of shape (n_samples, n_classes)
        q(y | x, ỹ) for each training item: the guide's per-class probability that the clean label
        holds the class (for methods without latent variables: the classifier's own score). Rows of
        single-label data need not sum to 1; ``predict_proba`` style normalization is up to you.
    quality_ : tuple (loc, scale) of ndarrays of shape (n_annotations, quality_dim)
        Mean and standard deviation of q(z | x, ỹ), the quality embedding of each annotation, in
        the order of the training annotations: the rows of ``annotations``, or one per item when
        ``y`` is given or ``crowd`` aggregates the answers (``"majority"``, ``"dawid-skene"``,
        ``"glad"``). Width 0 without z.
    label_quality_ : ndarray of shape (n_samples,)
        Trust in each item's given label, in [0, 1]; higher means more likely correct. Single-label:
        the posterior probability of the noisy class normalized over the classes
        (``posterior_[i, c] / posterior_[i].sum()``), averaged over the item's annotations.
        Multi-label: the geometric mean over classes of the posterior probability of agreeing
        with the noisy label, averaged over the item's annotations (the trust of ``inspect``).
        The annotations are those the model saw (with ``crowd="majority"``, the voted label).
        NaN for an item without annotations. Sort ascending to review the likeliest label errors
        first.
    history_ : list of dict
        One record per epoch (loss, ELBO terms, schedule values, validation scores), as the CLI's
        ``history.csv``.
    metrics_ : dict
        The CLI's final metrics (method, epochs, seconds, sizes, ``val_noisy_*`` scores).
    model_ : pyro.nn.PyroModule
        The trained model (``models/``), which owns its networks; ``model_.classifier`` maps
        features to per-class logits.
    guide_ : pyro.nn.PyroModule
        The trained guide (``guides/``), q(y | x, ỹ) and q(z | x, ỹ_r).
    config_ : pyro_can.config.Config
        The options the networks were trained with, resolved against the data (``latent``,
        ``warmup_epochs``, ... made explicit: ``Config.resolve``); what ``save`` writes to
        ``config.json``. The constructor arguments as given stay in ``get_params()``.
    """

    __init__ = _init_from_config()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    # -- configuration -------------------------------------------------------------------------
    def _config(self) -> Config:
        """The run's Config: this estimator's parameters, checked as the CLI checks them."""
        if self.arch != "mlp":
            raise ValueError(
                f"arch={self.arch!r}: the image path (ResNet classifiers trained on a torch "
                "Dataset of images) is not built yet; CANClassifier supports arch='mlp' on 2-D "
                "feature arrays only")
        options = self.get_params()
        options.pop("verbose")  # how fit reports, not what it trains
        # a valid Config that no CLI command can load data for: npz with no file
        cfg = Config(**options, data="npz", path=None, noise_rate=0.0)
        try:
            cfg.hidden_sizes
        except ValueError:
            raise ValueError(f"hidden must list layer widths like '1024,30', got "
                             f"{self.hidden!r}") from None
        try:
            return cfg.validate()
        except PyroCanError as e:  # UnknownNameError is a KeyError: every bad value a ValueError
            raise ValueError(_option_names(str(e))) from e

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, X, y=None, annotations=None, tasks=None):
        """Train on features ``X`` and noisy labels: ``y`` (1-D labels or a 0/1 label matrix for
        multi-label data) or ``annotations`` (single-label crowd data, several answers per item;
        ``y`` must then be None): a table with crowd-kit's columns ``task``, ``worker``,
        ``label`` (``item`` accepted for ``task``) — a pandas DataFrame, a list of dicts — or
        ``(task, worker, label)`` rows, ids of any hashable type. Tasks map to rows of X by one
        rule (``pyro_can.datasets.crowd``): ``tasks``, the task id of each row of X, when given;
        else integer task ids are row indices; else row k is the k-th distinct task in order of
        first appearance (their count must be len(X)). Anything ambiguous is a ValueError."""
        if isinstance(X, torch.utils.data.Dataset):
            raise ValueError("a torch Dataset of images needs the image path (arch='resnet18' "
                             "etc.), which is not built yet; pass a 2-D array of features")
        cfg = self._config()
        fit_params = self.get_params()  # what save records, whatever set_params does later
        if annotations is None:
            X, y = validate_data(self, X, y, dtype=np.float32, multi_output=True)
            data, learned = self._labelled_data(X, y)
        else:
            if y is not None:
                raise ValueError("pass either y or annotations, not both")
            X = validate_data(self, X, dtype=np.float32)
            data, learned = self._crowd_data(X, annotations, tasks)
        _warn_unscaled(X)
        data = data.with_crowd(cfg.crowd, np.random.default_rng([cfg.seed, 3]))
        train, val = validation_split(data, cfg.val_fraction, cfg.seed)
        with _private_global_state():
            trainer = _ArrayTrainer(cfg, train, val)
            bar = _epoch_bar(cfg.epochs) if self.verbose else None
            try:
                result = trainer.run(on_epoch=bar)
            finally:
                if bar is not None:
                    bar.close()
            # the guide is amortized: read q(y | x, ỹ) for every item, validation items included
            post = posterior(SimpleNamespace(
                cfg=trainer.cfg, data=data, train_set=TrainingSet(data, trainer.device),
                model=trainer.model, guide=trainer.guide, device=trainer.device))
        for name, value in learned.items():
            setattr(self, name, value)
        self._fit_params = fit_params
        self.config_ = trainer.cfg  # resolved against the data (latent, warm-up, ...)
        self.model_, self.guide_ = trainer.model, trainer.guide
        self.history_ = list(trainer.history)
        self.metrics_ = result.metrics
        self._checkpoint = trainer.state_dict()
        d = X.shape[1]  # trained on X as given: the saved preprocessing is the identity
        self._feature_scale = (np.zeros(d, np.float32), np.ones(d, np.float32))
        self._annotations = {"ann_item": data.ann_item, "ann_labels": data.ann_labels,
                             "ann_worker": data.ann_worker, "train_ids": data.train_ids}
        self._set_posterior(post, data, len(X))
        return self

    def _labelled_data(self, X: np.ndarray, y) -> tuple[Dataset, dict]:
        if sp.issparse(y):
            y = y.toarray()
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        kind = type_of_target(y, input_name="y")
        if kind == "multilabel-indicator":
            if not np.isin(y, (0, 1)).all():
                raise ValueError("a multi-label y must be a 0/1 indicator matrix")
            learned = {"multi_label_": True, "classes_": np.arange(y.shape[1]),
                       "_y_dtype": y.dtype}
            labels = y.astype(np.float32)
        elif kind in ("binary", "multiclass"):
            classes, codes = np.unique(y, return_inverse=True)
            learned = {"multi_label_": False, "classes_": classes}
            labels = one_hot(codes.reshape(-1), len(classes))
        else:
            raise ValueError(f"{type(self).__name__} supports single-label and multi-label "
                             f"(0/1 matrix) targets, got {kind}")
        n = len(X)
        return self._dataset(X, np.arange(n), labels, np.full(n, -1), learned), learned

    def _crowd_data(self, X: np.ndarray, annotations, tasks=None) -> tuple[Dataset, dict]:
        """The answers table (``datasets.crowd.answer_table``: crowd-kit's task/worker/label
        columns or (item, worker, label) rows, any ids) over the rows of X."""
        from .datasets.crowd import answer_table

        try:
            a = answer_table(annotations, len(X), tasks)
        except PyroCanError as e:
            raise ValueError(str(e)) from None
        learned = {"multi_label_": False, "classes_": a.classes,
                   "worker_ids_": np.asarray(a.worker_ids, dtype=object)}
        labels = one_hot(a.label, len(a.classes))
        data = self._dataset(X, a.item, labels, a.worker, learned)
        data.worker_ids = [str(w) for w in a.worker_ids]
        return data, learned

    @staticmethod
    def _dataset(X, ann_item, labels, ann_worker, learned) -> Dataset:
        n, c = len(X), labels.shape[1]
        x = np.require(X, np.float32, ["C", "W"])  # torch wants writable memory
        return Dataset(
            name="arrays", x_train=x, ann_item=ann_item.astype(np.int64),
            ann_labels=labels.astype(np.float32), ann_worker=ann_worker.astype(np.int64),
            x_test=x[:0], y_test=np.zeros((0, c), np.float32),  # never used: no test set
            class_names=[str(k) for k in learned["classes_"]],
            single_label=not learned["multi_label_"],
            train_ids=np.arange(n), test_ids=np.arange(0))

    def _set_posterior(self, post: dict, data: Dataset, n: int) -> None:
        """Per-item attributes from the posterior over ``data`` (whose items may be copies of the
        rows of X, with ``crowd="repeat"``: ``data.train_ids`` maps them back)."""
        owner = data.train_ids
        self.posterior_ = _per_owner_mean(post["q_y"], owner, n).astype(np.float32)
        per_row = answer_trust(post["q_y"], data.ann_item, data.ann_labels, data.single_label)
        self.label_quality_ = _per_owner_mean(per_row, owner[data.ann_item], n)[:, 0]
        self.quality_ = (post["z_loc"], post["z_scale"])

    # -- predict -------------------------------------------------------------------------------
    def _logits(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        classifier = self.model_.classifier
        device = next(classifier.parameters()).device
        mean, std = getattr(self, "_feature_scale", (0.0, 1.0))
        if not (np.all(mean == 0) and np.all(std == 1)):  # a CLI run's standardization
            X = (X - mean.astype(np.float32)) / std.astype(np.float32)
        return predict_logits(classifier, np.require(X, np.float32, ["C", "W"]), device)

    def predict_scores(self, X) -> np.ndarray:
        """The classifier's own per-class scores, shape (n_samples, n_classes): what the CLI's
        metrics rank (sigmoid; softmax when CAN's y is categorical). For multi-label data these
        are ``predict_proba``."""
        cfg = resolve_latent(self.config_, single_label=not self.multi_label_)
        return class_scores(cfg, self._logits(X)).astype(np.float64)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes).

        Multi-label: the per-class sigmoid scores. Single-label: the per-class scores conditioned
        on exactly one class being on, which for independent per-class Bernoullis is the softmax
        of the logits; rows sum to 1 and the arg-max is that of the sigmoid scores."""
        logits = self._logits(X)
        return _sigmoid(logits) if self.multi_label_ else _softmax(logits)

    def predict(self, X) -> np.ndarray:
        """Labels from ``classes_`` (single-label) or a 0/1 matrix, score > 0.5 (multi-label)."""
        logits = self._logits(X)
        if self.multi_label_:
            return (logits > 0).astype(self._y_dtype)
        return self.classes_[logits.argmax(1)]

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy for single-label data; mAP (mean over classes with a positive item of the
        average precision) for multi-label data, as the CLI reports."""
        if not self.multi_label_:
            return super().score(X, y, sample_weight=sample_weight)
        y = np.asarray(y.toarray() if sp.issparse(y) else y)
        keep = y.sum(0) > 0
        if not keep.any():
            raise ValueError("mAP needs at least one positive label in y")
        scores = self.predict_proba(X)
        return float(average_precision_score(y[:, keep], scores[:, keep], average="macro",
                                             sample_weight=sample_weight))

    # -- label issues --------------------------------------------------------------------------
    def find_label_issues(self):
        """The training labels' table, cleanlab-style (a pandas DataFrame, one row per row of
        ``X`` given to ``fit``; ``pyro-can labels`` writes the same columns): ``given_label``
        (the label given, or the majority vote of the row's answers), ``posterior_label`` (the
        label q(y | x, ỹ) believes most), ``trust`` (the posterior probability that the given
        label is right, ``posterior.given_trust``; cleanlab's ``label_quality``; with one answer
        per row it is ``label_quality_``) and ``is_label_issue`` (the rows of lowest trust, as
        many as the estimated number of wrong labels: ``labels.ISSUE_RULE``). Multi-label labels
        are tuples of class indices. Sort by ``trust`` ascending to review the likeliest errors
        first."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("find_label_issues returns a pandas DataFrame: pip install "
                              "pandas") from None
        from . import labels

        check_is_fitted(self)
        ann = self._annotations
        n = len(self.posterior_)
        owner = np.asarray(ann["ann_item"])  # a CLI run's rows are its training items
        if not getattr(self, "_from_cli_run", False):  # rows of X (crowd="repeat": copies)
            owner = np.asarray(ann["train_ids"])[owner]
        single = not self.multi_label_
        given = voted_labels(owner, np.asarray(ann["ann_labels"]), n, single,
                             np.random.default_rng(0))  # as inspect and labels vote
        q = np.nan_to_num(self.posterior_.astype(np.float64))
        counts = np.bincount(owner, minlength=n)
        t = labels.table(given, q, single, counts > 0, bool((counts == 1).all()),
                         self.metrics_)

        def as_labels(rows):
            if single:
                return self.classes_[rows.argmax(1)]
            return [tuple(int(c) for c in np.flatnonzero(r > 0.5)) for r in rows]
        return pd.DataFrame({"given_label": as_labels(t["given_label"]),
                             "posterior_label": as_labels(t["posterior_label"]),
                             "trust": t["trust"], "is_label_issue": t["is_label_issue"]})

    # -- save / load ---------------------------------------------------------------------------
    def save(self, path, overwrite: bool = False) -> Path:
        """Write a run folder in the CLI's layout (``config.json`` resolved, ``checkpoint.pt``,
        ``history.csv``, ``metrics.json``, ``train_data.npz``, the artifact ``model.pt`` /
        ``model.json`` and ``posterior.npz``: ``artifact.py``) plus ``estimator.json`` (the
        constructor arguments, classes and their dtype, feature names). Refuses a folder that
        already holds a run unless ``overwrite``. ``pyro-can predict``, ``export`` and
        ``evaluate --input F`` work on it; plain ``evaluate`` cannot rebuild a test set (the
        estimator had none: ``config.json`` says ``data="npz"`` with no path)."""
        check_is_fitted(self)
        runs.prepare(path, overwrite=overwrite, create=False)  # refused before any write
        with runs.claimed(path, overwrite=overwrite) as run_dir:  # locked; manifest-listed
            runs.write_config(run_dir, self.config_)
            runs.save_torch(run_dir / runs.CHECKPOINT, self._checkpoint)
            runs.write_csv(run_dir / runs.HISTORY, self.history_)
            runs.save_npz(run_dir / runs.TRAIN_DATA, **self._annotations)
            runs.save_npz(run_dir / POSTERIOR_FILE, posterior=self.posterior_,
                          label_quality=self.label_quality_, z_loc=self.quality_[0],
                          z_scale=self.quality_[1])
            classes = self.classes_
            runs.write_json(run_dir / ESTIMATOR_FILE, {
                "format": FORMAT_VERSION,
                "estimator": type(self).__name__,
                "params": self._fit_params,  # as given to fit (config.json: resolved)
                "classes": classes.tolist(),
                "classes_dtype": classes.dtype.str if classes.dtype != object else "object",
                "multi_label": bool(self.multi_label_),
                "y_dtype": self._y_dtype.str if self.multi_label_ else None,
                "n_features_in": int(self.n_features_in_),
                "feature_names_in": (self.feature_names_in_.tolist()
                                     if hasattr(self, "feature_names_in_") else None),
            })
            classifier = self.model_.classifier
            artifact.write(run_dir, self.config_, classifier,
                           [str(c) for c in classes], not self.multi_label_, self._feature_scale,
                           self.n_features_in_, next(classifier.parameters()).device)
            runs.write_json(run_dir / runs.METRICS, self.metrics_)  # last: marks the run finished
        return run_dir

    @classmethod
    def load(cls, path) -> "CANClassifier":
        """The fitted estimator saved in ``path`` by :meth:`save`, or a feature-row run written by
        ``pyro-can fit`` (``classes_`` are then its class names, and new rows get the run's
        standardization before the classifier). Every file is read through
        ``runs``' checked readers (the checkpoint with ``weights_only=True``, never unpickled); a
        damaged folder is one RunFolderError naming the file."""
        run_dir = Path(path)
        cfg = runs.read_config(run_dir)  # every field checked, as fit checks them; resolved
        names = set(cls._get_param_names())
        if (run_dir / ESTIMATOR_FILE).exists():  # saved by an estimator
            meta = runs.read_json(run_dir / ESTIMATOR_FILE)
            if meta.get("format") != FORMAT_VERSION:
                raise RunFolderError(f"{run_dir}: {ESTIMATOR_FILE} has format "
                                     f"{meta.get('format')}, expected {FORMAT_VERSION}")
            params = meta.get("params")
            if not isinstance(params, dict) or set(params) - names:
                raise runs.damaged(run_dir / ESTIMATOR_FILE, "params is not this estimator's "
                                   "constructor arguments")
        else:  # written by pyro-can fit: its resolved options, its class names
            meta, params = None, {k: v for k, v in cfg.to_dict().items() if k in names}
            if cfg.arch != "mlp":
                raise RunFolderError(f"{run_dir}: an image run (--arch {cfg.arch}); "
                                     f"{cls.__name__} supports runs on feature rows only")
        est = cls(**params)
        est._fit_params = params
        est.config_ = cfg
        runs.read_json(run_dir / runs.METRICS)
        predictor, spec = artifact.load(run_dir)  # model.json, model.pt: the preprocessing
        device = resolve_device("cpu" if cfg.device == "cpu" else "auto")
        state = runs.read_checkpoint(run_dir)
        try:
            est._config()  # the estimator's own checks, as at fit (arch="mlp")
            est._feature_scale = (predictor.preprocess.mean.numpy(),
                                  predictor.preprocess.std.numpy())
            est._from_cli_run = meta is None  # train_ids: the source's ids, not rows of X
            return cls._restore(est, cfg, meta or _meta_of(spec), state, run_dir, device)
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as e:
            raise RunFolderError(f"{run_dir}: its files do not fit together ({type(e).__name__}: "
                                 f"{e}); re-run fit and save again") from None

    @staticmethod
    def _restore(est, cfg, meta, state, run_dir, device):
        dtype = meta["classes_dtype"]
        est.classes_ = np.asarray(meta["classes"], dtype=object if dtype == "object" else dtype)
        est.multi_label_ = meta["multi_label"]
        if est.multi_label_:
            est._y_dtype = np.dtype(meta["y_dtype"])
        est.n_features_in_ = meta["n_features_in"]
        if meta.get("feature_names_in") is not None:
            est.feature_names_in_ = np.asarray(meta["feature_names_in"], dtype=object)
        est._annotations = runs.read_npz(run_dir / runs.TRAIN_DATA,
                                         ("ann_item", "ann_labels", "ann_worker", "train_ids"))
        with _private_global_state():  # building nets draws initial weights from torch's RNG
            programs = build_model_and_guide(
                cfg, est.n_features_in_, len(est.classes_),
                count_workers(est._annotations["ann_worker"])).to(device)
        programs.load_state_dict(programs_state(programs, state["nets"]))
        est.model_, est.guide_ = programs.model, programs.guide
        est._checkpoint = state
        est.history_ = list(state["history"])
        est.metrics_ = runs.read_json(run_dir / runs.METRICS)
        f = runs.read_npz(run_dir / POSTERIOR_FILE,
                          ("posterior", "label_quality", "z_loc", "z_scale"))
        est.posterior_, est.label_quality_ = f["posterior"], f["label_quality"]
        est.quality_ = (f["z_loc"], f["z_scale"])
        return est


@_document_parameters
class PlainClassifier(CANClassifier):
    """The plain baseline (the classifier trained directly on the noisy labels): ``CANClassifier``
    with ``method="plain"`` by default. ``posterior_`` is the classifier's own score and
    ``quality_`` is empty (no latent variables)."""

    __init__ = _init_from_config(method="plain")
