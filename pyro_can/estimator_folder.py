"""``CANClassifier.save`` and ``CANClassifier.load``: an estimator as a run folder in the CLI's
layout, written by ``run_folder.write_results`` and read by ``run_folder.RunFolder``, as every
CLI command reads a run. Beside the CLI's files, ``estimator.json`` keeps what scikit-learn's
estimator knows and a run does not: the constructor arguments as given, ``classes_`` with their
dtype, the feature names and the number of rows of X. ``load`` also reads a feature-row run
written by ``pyro-can fit``."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import run_folder, runs
from .device import resolve_device
from .errors import RunFolderError
from .run_folder import RunFolder

ESTIMATOR_FILE = "estimator.json"  # classes_, n_features_in_, ... (the rest is the CLI's layout)
FORMAT_VERSION = 2  # 2: config.json resolved (config.FORMAT_VERSION), params kept here


def save(est, path, overwrite: bool = False) -> Path:
    """Write the fitted ``est`` to the run folder ``path`` (see ``CANClassifier.save``)."""
    run = est.fitted_run_
    runs.prepare(path, overwrite=overwrite, create=False)  # refused before any write
    with runs.claimed(path, overwrite=overwrite) as run_dir:  # locked; manifest-listed
        runs.write_config(run_dir, est.config_)
        runs.save_torch(run_dir / runs.CHECKPOINT, est._checkpoint)
        runs.write_csv(run_dir / runs.HISTORY, est.history_)
        run_folder.write_train_data(run_dir, run.items)
        classes = est.classes_
        runs.write_json(run_dir / ESTIMATOR_FILE, {
            "format": FORMAT_VERSION,
            "estimator": type(est).__name__,
            "params": est._fit_params,  # as given to fit (config.json: resolved)
            "classes": classes.tolist(),
            "classes_dtype": classes.dtype.str if classes.dtype != object else "object",
            "multi_label": bool(est.multi_label_),
            "y_dtype": est._y_dtype.str if est.multi_label_ else None,
            "n_features_in": int(est.n_features_in_),
            "n_samples": len(est.posterior_),
            "feature_names_in": (est.feature_names_in_.tolist()
                                 if hasattr(est, "feature_names_in_") else None),
        })
        run_folder.write_results(run_dir, run.with_run_dir(run_dir),
                                 feature_scale=est._feature_scale,
                                 in_features=est.n_features_in_)  # metrics.json last
    return run_dir


def load(cls, path):
    """The estimator of class ``cls`` in the run folder ``path`` (see ``CANClassifier.load``)."""
    folder = RunFolder(path)
    cfg = folder.config  # every field checked, as fit checks them; resolved
    names = set(cls._get_param_names())
    if (folder.path / ESTIMATOR_FILE).exists():  # saved by an estimator
        meta = runs.read_json(folder.path / ESTIMATOR_FILE)
        if meta.get("format") != FORMAT_VERSION:
            raise RunFolderError(f"{folder.path}: {ESTIMATOR_FILE} has format "
                                 f"{meta.get('format')}, expected {FORMAT_VERSION}")
        params = meta.get("params")
        if not isinstance(params, dict) or set(params) - names:
            raise runs.damaged(folder.path / ESTIMATOR_FILE, "params is not this estimator's "
                               "constructor arguments")
    else:  # written by pyro-can fit: its resolved options, its class names
        meta, params = None, {k: v for k, v in cfg.to_dict().items() if k in names}
        if cfg.arch != "mlp":
            raise RunFolderError(f"{folder.path}: an image run (--arch {cfg.arch}); "
                                 f"{cls.__name__} supports runs on feature rows only")
    est = cls(**params)
    est._fit_params = params
    folder.metrics
    predictor, spec = folder.predictor()  # model.json, model.pt: the preprocessing
    device = resolve_device("cpu" if cfg.device == "cpu" else "auto")
    try:
        est._config()  # the estimator's own checks, as at fit (arch="mlp")
        est._feature_scale = (predictor.preprocess.mean.numpy(),
                              predictor.preprocess.std.numpy())
        est._from_cli_run = meta is None  # train_ids: the source's ids, not rows of X
        run = folder.fitted(device)
        _restore(est, meta or _meta_of(spec), run)
        est._checkpoint = folder.checkpoint
        return est
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as e:
        raise RunFolderError(f"{folder.path}: its files do not fit together "
                             f"({type(e).__name__}: {e}); re-run fit and save again") from None


def _restore(est, meta: dict, run) -> None:
    dtype = meta["classes_dtype"]
    est.classes_ = np.asarray(meta["classes"], dtype=object if dtype == "object" else dtype)
    est.multi_label_ = meta["multi_label"]
    if est.multi_label_:
        est._y_dtype = np.dtype(meta["y_dtype"])
    est.n_features_in_ = meta["n_features_in"]
    if meta.get("feature_names_in") is not None:
        est.feature_names_in_ = np.asarray(meta["feature_names_in"], dtype=object)
    items = run.items
    rows = int(np.max(items.train_ids)) + 1 if items.num_items else 0
    n = items.num_items if est._from_cli_run else int(meta.get("n_samples", rows))
    est._take(run, n)


def _meta_of(spec: dict) -> dict:
    """``estimator.json``'s fields for a run written by ``pyro-can fit`` (its ``model.json``):
    the classes are the data set's class names; a multi-label prediction is an int 0/1 matrix."""
    return {"classes": spec["class_names"], "classes_dtype": "object",
            "multi_label": not spec["single_label"],
            "y_dtype": None if spec["single_label"] else "<i8",
            "n_features_in": spec["in_features"], "feature_names_in": None}
