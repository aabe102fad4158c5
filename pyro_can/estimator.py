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

from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import average_precision_score
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from . import metrics
from .config import Config
from .data import Dataset, one_hot, validation_split, voted_labels
from .errors import PyroCanError
from .estimator_fitting import epoch_bar, per_owner_mean, private_global_state, warn_unscaled
from .estimator_params import document_parameters, init_from_config, option_names
from .fitted import FittedRun
from .posterior import answer_trust
from .resolution import resolve_latent
from .scoring import class_scores, predict_logits
from .train import Trainer


class _ArrayTrainer(Trainer):
    """The CLI's trainer, minus the test set: arrays given to ``fit`` come without one, so the
    evaluation after each epoch scores only the noisy-label validation split, if any."""

    def evaluate(self) -> dict:
        if self.val is None:
            return {}
        scores = class_scores(self.cfg, self.predict_logits(self.val.x_train))
        return metrics.score(self.val.item_labels(), scores, self.val.class_names,
                             self.val.single_label, prefix="val_noisy_")


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))


@document_parameters
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
    fitted_run_ : pyro_can.fitted.FittedRun
        The run as every consumer of a finished run takes it (config, training items, model,
        guide, per-item posterior): what ``pyro-can inspect`` and ``labels`` read back from a
        saved folder, and what ``pyro_can.workers.worker_report`` and
        ``pyro_can.labels.of_fitted`` take.
    """

    __init__ = init_from_config()

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
            raise ValueError(option_names(str(e))) from e

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
        warn_unscaled(X)
        data = data.with_crowd(cfg.crowd, np.random.default_rng([cfg.seed, 3]))
        train, val = validation_split(data, cfg.val_fraction, cfg.seed)
        with private_global_state():
            trainer = _ArrayTrainer(cfg, train, val)
            bar = epoch_bar(cfg.epochs) if self.verbose else None
            try:
                result = trainer.run(on_epoch=bar)
            finally:
                if bar is not None:
                    bar.close()
            # the guide is amortized: q(y | x, ỹ) of every item, validation items included
            run = FittedRun.of_trainer(trainer, result.metrics, data=data)
        for name, value in learned.items():
            setattr(self, name, value)
        self._fit_params = fit_params
        self._checkpoint = trainer.state_dict()
        d = X.shape[1]  # trained on X as given: the saved preprocessing is the identity
        self._feature_scale = (np.zeros(d, np.float32), np.ones(d, np.float32))
        self._from_cli_run = False
        self._take(run, len(X))
        return self

    def _take(self, run: FittedRun, n: int) -> None:
        """The fitted attributes of ``run`` (a ``fitted.FittedRun``), whose items are the ``n``
        rows of X (``train_ids``: each item's row; with ``crowd="repeat"`` an item is one answer
        of a row) or, for a run written by ``pyro-can fit``, its training items."""
        self.fitted_run_ = run
        self.config_ = run.cfg  # resolved against the data (latent, warm-up, ...)
        self.model_, self.guide_ = run.model, run.guide
        self.history_ = list(run.history)
        self.metrics_ = run.metrics
        items, post = run.items, run.posterior
        owner = np.arange(items.num_items) if self._from_cli_run else np.asarray(items.train_ids)
        self.posterior_ = per_owner_mean(post["q_y"], owner, n).astype(np.float32)
        per_row = answer_trust(post["q_y"], items.ann_item, items.ann_labels, items.single_label)
        self.label_quality_ = per_owner_mean(per_row, owner[items.ann_item], n)[:, 0]
        self.quality_ = (post["z_loc"], post["z_scale"])

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
        items = self.fitted_run_.items
        n = len(self.posterior_)
        owner = items.ann_item  # a CLI run's rows are its training items
        if not self._from_cli_run:  # rows of X (crowd="repeat": copies)
            owner = np.asarray(items.train_ids)[owner]
        single = not self.multi_label_
        given = voted_labels(owner, items.ann_labels, n, single,
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

    # -- save / load -------------------------------------------------------------------------
    def save(self, path, overwrite: bool = False) -> Path:
        """Write a run folder in the CLI's layout (``config.json`` resolved, ``checkpoint.pt``,
        ``history.csv``, ``metrics.json``, ``train_data.npz``, the artifact ``model.pt`` /
        ``model.json`` and ``posterior.npz``: ``run_folder.py``) plus ``estimator.json`` (the
        constructor arguments, classes and their dtype, feature names). Refuses a folder that
        already holds a run unless ``overwrite``. ``pyro-can predict``, ``export``, ``inspect``,
        ``labels`` and ``evaluate --input F`` work on it; plain ``evaluate`` cannot rebuild a
        test set (the estimator had none: ``config.json`` says ``data="npz"`` with no path)."""
        from .estimator_folder import save

        check_is_fitted(self)
        return save(self, path, overwrite)

    @classmethod
    def load(cls, path) -> "CANClassifier":
        """The fitted estimator saved in ``path`` by :meth:`save`, or a feature-row run written by
        ``pyro-can fit`` (``classes_`` are then its class names, and new rows get the run's
        standardization before the classifier). The folder is read through
        ``run_folder.RunFolder``, as the CLI reads it (the checkpoint with
        ``weights_only=True``, never unpickled); a damaged folder is one RunFolderError naming
        the file."""
        from .estimator_folder import load

        return load(cls, path)


@document_parameters
class PlainClassifier(CANClassifier):
    """The plain baseline (the classifier trained directly on the noisy labels): ``CANClassifier``
    with ``method="plain"`` by default. ``posterior_`` is the classifier's own score and
    ``quality_`` is empty (no latent variables)."""

    __init__ = init_from_config(method="plain")
