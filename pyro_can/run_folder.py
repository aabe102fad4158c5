"""The one reader of a run folder, and the one writer of a finished run's results.

Whoever wrote the folder (``pyro-can fit``, ``CANClassifier.save``), every consumer reads it
through ``RunFolder``: the CLI's ``inspect``, ``labels``, ``posterior``, ``predict``, ``export``,
``evaluate`` and ``fit --resume``, and ``CANClassifier.load``. Each file is read once, through
``runs``' checked readers (no pickles; a missing or damaged file is one ``RunFolderError`` naming
it), and the files are checked against each other before anything is scored.

What a finished run learned is read from the folder alone: ``fitted()`` gives a
``fitted.FittedRun`` from config.json, train_data.npz, model.json, checkpoint.pt,
posterior.npz and metrics.json, so looking at a run never needs its source data. Only what
needs the inputs again rebuilds them (``data()``, checked against train_data.npz and
model.json's fingerprints): ``evaluate`` on the run's test set, ``fit --resume``, cleanlab's
cross-validation and the figures and thumbnails of images in ``inspect``, and ``labels --out
F.npz`` (whose format holds the feature rows).

``write_results`` writes a finished run's results for both writers: model.pt / model.json
(``artifact.write``), posterior.npz, workers.csv and, last, metrics.json, whose presence marks
the run finished.
"""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np

from . import artifact, loading, runs, safe_io
from .errors import DataError, OptionError, RunFolderError
from .fitted import FittedRun, TrainingItems
from .posterior import item_trust

POSTERIOR = artifact.POSTERIOR
WORKERS = "workers.csv"
POSTERIOR_KEYS = ("posterior", "label_quality", "z_loc", "z_scale")


def write_train_data(path: Path, data) -> None:
    """``train_data.npz``: the training labels a run sees, written when it starts."""
    extra = {}
    if data.corrupted is not None:
        extra["corrupted"] = data.corrupted
    if data.y_train_clean is not None:
        extra["y_train_clean"] = data.y_train_clean
    if data.image_shape is not None:  # the items are small images themselves (figures)
        extra["image_shape"] = np.asarray(data.image_shape, np.int64)
    if data.worker_ids is not None:
        extra["worker_ids"] = np.asarray([str(w) for w in data.worker_ids])
    runs.save_npz(Path(path) / runs.TRAIN_DATA, ann_item=data.ann_item,
                  ann_labels=data.ann_labels, ann_worker=data.ann_worker,
                  train_ids=data.train_ids, **extra)


def write_posterior(run_dir: Path, run: FittedRun) -> None:
    """``posterior.npz``, per item of train_data.npz: q(y | x, ỹ) (``posterior``), the
    classifier's p_θ(y | x) (``prior``), the trust in its label (``label_quality``:
    ``posterior.item_trust``), and q(z) per answer (``z_loc``, ``z_scale``)."""
    post, items = run.posterior, run.items
    trust = item_trust(post["q_y"], items.ann_item, items.ann_labels, items.single_label)
    runs.save_npz(Path(run_dir) / POSTERIOR, posterior=post["q_y"].astype(np.float32),
                  prior=post["prior"].astype(np.float32), label_quality=trust,
                  z_loc=post["z_loc"], z_scale=post["z_scale"])


def write_results(run_dir: Path, run: FittedRun, *, feature_scale, in_features: int,
                  pixels=None, record: dict | None = None,
                  workers: list[dict] | None = None) -> None:
    """A finished run's results: the artifact (``artifact.write``: ``feature_scale``,
    ``in_features``, ``pixels`` and ``record`` describe its input), posterior.npz,
    workers.csv (``workers``: ``workers.worker_report``'s rows, for crowd data) and
    metrics.json, last."""
    items = run.items
    artifact.write(run_dir, run.cfg, run.classifier, items.class_names, items.single_label,
                   feature_scale, in_features, run.device, pixels=pixels, record=record)
    write_posterior(run_dir, run)
    if workers:
        runs.write_csv(Path(run_dir) / WORKERS, workers)
    runs.write_json(Path(run_dir) / runs.METRICS, run.metrics)


class RunFolder:
    """A run folder, read lazily, each file once. Construct it with the folder's path; the
    first read of a file checks it."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise RunFolderError(f"{self.path}: no such run folder")

    # -- the files -----------------------------------------------------------------------------
    @functools.cached_property
    def config(self):
        """config.json, checked and resolved (``runs.read_config``)."""
        return runs.read_config(self.path)

    @functools.cached_property
    def metrics(self) -> dict:
        """metrics.json; a run without one has not finished, and says how to go on."""
        self.config  # an older or foreign folder: that message first
        if not (self.path / runs.METRICS).is_file():
            raise RunFolderError(f"{self.path}: the run has not finished (no {runs.METRICS}); "
                                 f"continue it with pyro-can fit --resume {self.path}")
        return runs.read_json(self.path / runs.METRICS)

    @functools.cached_property
    def spec(self) -> dict:
        """model.json, checked (``artifact.read_spec``)."""
        self.metrics
        return artifact.read_spec(self.path)

    def predictor(self):
        """The run's ``Predictor`` (CPU, eval mode) and its model.json (``artifact.load``)."""
        self.metrics
        return artifact.load(self.path)

    @functools.cached_property
    def checkpoint(self) -> dict:
        return runs.read_checkpoint(self.path)

    @functools.cached_property
    def train_data(self) -> dict:
        return runs.read_npz(self.path / runs.TRAIN_DATA, ("ann_labels", "ann_item", "train_ids"))

    @functools.cached_property
    def items(self) -> TrainingItems:
        """The training items, from train_data.npz and model.json's classes; what is known of
        their truth, from metrics.json (a folder that does not say trusts no true labels)."""
        rec, spec = self.train_data, self.spec
        path = self.path / runs.TRAIN_DATA
        n, c = len(rec["train_ids"]), len(spec["class_names"])
        ann_item, ann_labels = rec["ann_item"], rec["ann_labels"]
        ann_worker = rec.get("ann_worker", np.full(len(ann_item), -1))
        ok = (ann_labels.ndim == 2 and ann_labels.shape[1] == c and ann_item.ndim == 1
              and len(ann_item) == len(ann_labels) == len(ann_worker)
              and (len(ann_item) == 0 or (ann_item.min() >= 0 and ann_item.max() < n)))
        if not ok:
            raise runs.damaged(path, f"its answers do not fit {n} items of {c} classes "
                                     f"({artifact.MODEL_JSON})")
        truth = self.metrics.get("train_labels_truth")
        corrupted = rec.get("corrupted")
        if corrupted is not None and corrupted.shape != (n,):
            raise runs.damaged(path, f"'corrupted' has shape {corrupted.shape}, expected ({n},)")
        worker_ids, shape = rec.get("worker_ids"), rec.get("image_shape")
        return TrainingItems(
            name=self.config.data, class_names=list(spec["class_names"]),
            single_label=spec["single_label"], train_ids=rec["train_ids"], ann_item=ann_item,
            ann_labels=ann_labels, ann_worker=ann_worker, corrupted=corrupted,
            y_train_clean=rec.get("y_train_clean") if truth == "true labels" else None,
            worker_ids=None if worker_ids is None else [str(w) for w in worker_ids],
            truth=truth, image_shape=None if shape is None else tuple(int(v) for v in shape))

    @functools.cached_property
    def posterior(self) -> dict:
        """posterior.npz as ``posterior.posterior``'s arrays (``prior`` None in a folder
        written before it was saved), checked against the items."""
        items = self.items
        path = self.path / POSTERIOR
        f = runs.read_npz(path, POSTERIOR_KEYS)
        n, c, r = items.num_items, items.num_classes, items.num_annotations
        q, prior = f["posterior"], f.get("prior")
        ok = (q.shape == (n, c) and (prior is None or prior.shape == (n, c))
              and f["z_loc"].ndim == 2 and f["z_loc"].shape[0] in (0, r)
              and f["z_scale"].shape == f["z_loc"].shape)
        if not ok:
            raise runs.damaged(path, f"its arrays do not fit the {n} items and {r} answers of "
                                     f"{runs.TRAIN_DATA}")
        k = f["z_loc"].shape[1]
        z_loc = f["z_loc"] if len(f["z_loc"]) else np.zeros((r, k), np.float32)
        z_scale = f["z_scale"] if len(f["z_scale"]) else np.zeros((r, k), np.float32)
        return {"q_y": q, "prior": prior, "z_loc": z_loc, "z_scale": z_scale,
                "label_quality": f["label_quality"], "ann_item": items.ann_item,
                "ann_labels": items.ann_labels, "ann_worker": items.ann_worker}

    # -- what they make ------------------------------------------------------------------------
    def fitted(self, device="cpu") -> FittedRun:
        """The finished run as a ``FittedRun``: its model and guide rebuilt from config.json and
        loaded with the checkpoint's final weights (on ``device``), and its posterior read from
        posterior.npz. Needs no source data."""
        from .checkpoint import programs_state
        from .programs import build_model_and_guide
        from .worker_quality import count_workers

        cfg, items, state, spec = self.config, self.items, self.checkpoint, self.spec
        if safe_io.changed_since_written(self.path / runs.CONFIG):  # nothing rebuilt to catch it
            raise RunFolderError(f"{self.path / runs.CONFIG}: changed since the run wrote it "
                                 f"(its digest in {safe_io.MANIFEST}); re-run it (pyro-can fit "
                                 f"... --out {self.path} --overwrite)")
        programs = build_model_and_guide(cfg, spec["in_features"], items.num_classes,
                                         count_workers(items.ann_worker))
        try:
            programs.load_state_dict(programs_state(programs, state["nets"]))
        except (KeyError, RuntimeError, ValueError, TypeError, IndexError) as e:
            raise runs.damaged_checkpoint(self.path, e) from None
        programs.to(device)
        reliability = state.get("label_reliability", {})
        return FittedRun(cfg=cfg, items=items, model=programs.model, guide=programs.guide,
                         posterior=self.posterior, epochs=state["epoch"],
                         history=list(state["history"]), metrics=self.metrics,
                         label_reliability=dict(reliability), run_dir=self.path)

    def data(self):
        """The run's data rebuilt from config.json, ``(training set, validation split)``,
        checked against train_data.npz and, for a finished run, model.json's fingerprints of
        the inputs: a changed input file or an edited config is refused, not scored."""
        data, val = self._rebuilt()
        self.check_data(data)
        if (self.path / artifact.MODEL_JSON).is_file():
            artifact.check_data(self.path, data)
        return data, val

    def _rebuilt(self):
        """``loading.load_data`` of config.json, its errors naming this folder."""
        try:
            return loading.load_data(self.config)
        except DataError as e:
            raise DataError(f"{self.path}: cannot rebuild the run's data from {runs.CONFIG}: "
                            f"{e}") from None

    def _trainer_data(self, finished: bool):
        """The run's data for a trainer: checked against what the run recorded when it has
        recorded it; a run killed between config.json and train_data.npz records it now."""
        if finished:
            return self.data()
        data, val = self._rebuilt()
        if (self.path / runs.TRAIN_DATA).exists() or (self.path / runs.CHECKPOINT).exists():
            self.check_data(data)  # a checkpoint without train_data.npz: a damaged folder
        else:  # killed between config.json and train_data.npz: nothing trained yet, afresh
            write_train_data(self.path, data)
        return data, val

    def check_data(self, data) -> None:
        """The data rebuilt from config.json against the labels the run recorded."""
        rec = self.train_data
        same = (rec["ann_labels"].shape == data.ann_labels.shape
                and np.array_equal(rec["ann_labels"], data.ann_labels)
                and np.array_equal(rec["ann_item"], data.ann_item)
                and np.array_equal(rec["train_ids"], data.train_ids))
        if not same:
            raise RunFolderError(f"{self.path}: the training data rebuilt from config.json does "
                                 f"not match {runs.TRAIN_DATA} (was the input file or "
                                 f"config.json changed?); re-run it (pyro-can fit ... --out "
                                 f"{self.path} --overwrite)")
        if "corrupted" in rec and rec["corrupted"].shape != (data.num_items,):
            raise RunFolderError(f"{self.path / runs.TRAIN_DATA}: 'corrupted' has shape "
                                 f"{rec['corrupted'].shape}, expected ({data.num_items},); "
                                 "re-run the fit")

    def trainer(self, finished: bool = True, epochs: int | None = None):
        """A ``Trainer`` on the rebuilt data with the checkpoint loaded (required for a
        finished run; a run killed before its first epoch has none and starts afresh):
        ``evaluate`` and ``fit --resume``. ``epochs``: train to this many instead of
        config.json's."""
        from .train import Trainer

        cfg = self.config
        if epochs is not None:
            cfg = dataclasses.replace(cfg, epochs=epochs).validate()
        if finished:
            self.metrics
        state = None
        if finished or (self.path / runs.CHECKPOINT).exists():
            state = self.checkpoint
        try:
            data, val = self._trainer_data(finished)
            trainer = Trainer(cfg, data, val)
        except OptionError as e:  # options that pass one by one but not together
            raise runs.damaged(self.path / runs.CONFIG, str(e)) from None
        if state is not None:
            try:
                trainer.load_state_dict(state)
            except (KeyError, RuntimeError, ValueError, TypeError, IndexError) as e:
                raise runs.damaged_checkpoint(self.path, e) from None
        return trainer
