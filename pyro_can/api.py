"""Functions behind the CLI: build the data of a config, fit into a run folder, reload, evaluate."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from . import distributed, registry, runs, safe_io
from .config import Config
from .data import (Dataset, check_split, truth_known, validation_from_test,
                   untrained_test_classes, validation_split)
from .errors import DataError, Interrupted, OptionError, RunFolderError
from .labels import given_labels
from .metrics import label_accuracy
from .sections import loader_sections
from .train import FitResult, Trainer


def load_data(cfg: Config) -> tuple[Dataset, Dataset | None]:
    """The training set (after --crowd) and the optional noisy-label validation split. The
    loader and the splits read the config's data, image and runtime sections only."""
    src = loader_sections(cfg)
    data_opts, seed = src.data, src.runtime.seed
    loader = registry.lookup("data set", registry.DATA, data_opts.data)
    with distributed.main_first():  # under torchrun, rank 0 builds any feature cache alone
        data = loader(src.data, src.images, src.runtime)
    split_seed = seed if data_opts.val_from_test_seed is None else data_opts.val_from_test_seed
    data = validation_from_test(data, data_opts.val_from_test, split_seed)
    if data_opts.train_fraction < 1.0:
        keep = np.random.default_rng([seed, 4]).permutation(data.num_items)
        data = data.subset(np.sort(keep[:max(1, round(data_opts.train_fraction * data.num_items))]))
    data = check_split(data.with_crowd(data_opts.crowd, np.random.default_rng([seed, 3])))
    return validation_split(data, data_opts.val_fraction, seed)


def _save_train_data(path: Path, data: Dataset) -> None:
    extra = {}
    if data.corrupted is not None:
        extra["corrupted"] = data.corrupted
    if data.y_train_clean is not None:
        extra["y_train_clean"] = data.y_train_clean
    runs.save_npz(path / runs.TRAIN_DATA, ann_item=data.ann_item, ann_labels=data.ann_labels,
                  ann_worker=data.ann_worker, train_ids=data.train_ids, **extra)


def fit(cfg: Config, out: str | Path | None = None, overwrite: bool = False,
        on_epoch: Callable | None = None, default_out: bool = False) -> FitResult:
    """Train ``cfg``; with ``out``, write the run folder (checkpoint after every epoch); with
    ``default_out`` and no ``out``, into a new ``runs/<data>-<method>-<n>``.

    Everything that can fail on bad input (options, data files, the output folder) is checked
    before the folder is created, so a rejected run leaves nothing behind. Ctrl-C during training
    raises ``Interrupted`` naming the folder to ``--resume``."""
    cfg.validate()
    if out is not None:
        runs.prepare(out, overwrite=overwrite, create=False)
    data, val = load_data(cfg)
    trainer = Trainer(cfg, data, val)
    run_dir = None
    if out is None and default_out:
        run_dir = out = runs.claim_default(cfg)
    if out is not None:  # under torchrun every rank checks the folder, then rank 0 writes it
        run_dir = runs.prepare(out, overwrite=overwrite, create=False)
        distributed.barrier()
        if distributed.is_main():  # one process at a time writes a run folder
            with runs.claimed(out, overwrite=overwrite) as run_dir:
                runs.write_config(run_dir, trainer.cfg)  # resolved against the data
                _save_train_data(run_dir, data)
                return _run(trainer, run_dir, on_epoch)
    return _run(trainer, run_dir, on_epoch)


def resume(run_dir: str | Path, on_epoch: Callable | None = None,
           epochs: int | None = None) -> FitResult:
    """Continue a run from its last complete epoch, with the optimizer, scheduler and RNG state it
    had then, so the end result matches an uninterrupted run. ``epochs``: train on to this many
    epochs instead (recorded in config.json; a finished run is then unfinished again until it
    gets there); fewer than the run has completed is refused."""
    run_dir = Path(run_dir)
    cfg = runs.read_config(run_dir)  # not a run folder: that message, before taking a lock in it
    safe_io.read_manifest(run_dir)  # a damaged manifest: refused before anything is written
    if not distributed.is_main():
        return _run(_trainer_from(run_dir, finished=False, epochs=epochs), run_dir, on_epoch)
    with safe_io.lock(run_dir):
        trainer = _trainer_from(run_dir, finished=False, epochs=epochs)
        if epochs is not None and epochs != cfg.epochs:
            if epochs < trainer.epoch:
                raise OptionError(f"--epochs {epochs}: {run_dir} has already trained "
                                  f"{trainer.epoch} epochs; give at least that many")
            safe_io.forget(run_dir / runs.METRICS)  # unfinished until it reaches ``epochs``
            runs.write_config(run_dir, trainer.cfg)
        return _run(trainer, run_dir, on_epoch)


def _trainer_from(run_dir: Path, finished: bool, epochs: int | None = None) -> Trainer:
    """Rebuild a run's data and trainer from its config and load its checkpoint (required for a
    finished run; a run killed before its first epoch has none and starts afresh). ``epochs``:
    the number of epochs to train to instead of config.json's."""
    cfg = runs.read_config(run_dir)
    if epochs is not None:
        cfg = dataclasses.replace(cfg, epochs=epochs).validate()
    if finished:
        runs.read_json(run_dir / runs.METRICS)
    state = None
    if finished or (run_dir / runs.CHECKPOINT).exists():
        state = runs.read_checkpoint(run_dir)
    try:
        data, val = load_data(cfg)
        trainer = Trainer(cfg, data, val)
    except DataError as e:
        raise DataError(f"{run_dir}: cannot rebuild the run's data from {runs.CONFIG}: {e}") \
            from None
    except OptionError as e:  # options that pass one by one but not together
        raise runs.damaged(run_dir / runs.CONFIG, str(e)) from None
    if state is not None or (run_dir / runs.TRAIN_DATA).exists():
        saved_train_data(run_dir, trainer.data)
        if finished:
            from . import artifact

            artifact.check_data(run_dir, trainer.data)
    else:  # killed between config.json and train_data.npz: nothing trained yet, start afresh
        _save_train_data(run_dir, trainer.data)
    if state is not None:
        try:
            trainer.load_state_dict(state)
        except (KeyError, RuntimeError, ValueError, TypeError, IndexError) as e:
            raise runs.damaged_checkpoint(run_dir, e) from None
    return trainer


def saved_train_data(run_dir: Path, data: Dataset) -> dict:
    """The training labels the run recorded (``train_data.npz``), which the data rebuilt from
    config.json must match: a changed input file or an edited config is refused, not scored."""
    saved = Path(run_dir) / runs.TRAIN_DATA  # written with config.json when the fit starts
    rec = runs.read_npz(saved, ("ann_labels", "ann_item", "train_ids"))
    same = (rec["ann_labels"].shape == data.ann_labels.shape
            and np.array_equal(rec["ann_labels"], data.ann_labels)
            and np.array_equal(rec["ann_item"], data.ann_item)
            and np.array_equal(rec["train_ids"], data.train_ids))
    if not same:
        raise RunFolderError(f"{run_dir}: the training data rebuilt from config.json does not "
                             f"match {runs.TRAIN_DATA} (was the input file or config.json "
                             f"changed?); re-run it (pyro-can fit ... --out {run_dir} "
                             "--overwrite)")
    if "corrupted" in rec and rec["corrupted"].shape != (data.num_items,):
        raise RunFolderError(f"{saved}: 'corrupted' has shape {rec['corrupted'].shape}, "
                             f"expected ({data.num_items},); re-run the fit")
    return rec


def _run(trainer: Trainer, run_dir: Path | None, on_epoch: Callable | None) -> FitResult:
    def after_epoch(tr: Trainer, record: dict) -> None:
        if run_dir is not None:
            runs.save_torch(run_dir / runs.CHECKPOINT, tr.state_dict())
            runs.write_csv(run_dir / runs.HISTORY, tr.history)
        if on_epoch is not None:
            on_epoch(tr, record)

    try:
        result = trainer.run(after_epoch)
    except KeyboardInterrupt:
        if run_dir is None:
            raise
        raise Interrupted(f"interrupted in epoch {trainer.epoch + 1}; {run_dir} holds the "
                          f"{trainer.epoch} complete epoch(s); continue with: pyro-can fit "
                          f"--resume {run_dir}") from None
    if not distributed.is_main():  # rank 0 writes the run folder
        return result
    data = trainer.data
    # the cleaned labels (``pyro-can labels``'s posterior_label) are scored where the truth is known
    score_labels = data.y_train_clean is not None and data.single_label
    has_workers = bool((data.ann_worker >= 0).any())
    post = None  # the training items' posterior, read once for the scores, workers.csv, the artifact
    if score_labels or run_dir is not None or (has_workers and data.y_train_clean is not None):
        from .posterior import posterior

        post = posterior(trainer)
    given, answered = given_labels(data)  # the labels ``pyro-can labels`` calls given
    if score_labels:
        result.metrics.update(label_accuracy(data.y_train_clean[answered], given[answered],
                                             post["q_y"][answered]))
    if post is not None and registry.METHODS[trainer.cfg.method].latent:
        from .posterior_health import posterior_health

        result.metrics["posterior_health"] = posterior_health(
            given, post["q_y"], post["z_loc"], data.single_label, answered,
            warmup=(trainer.epoch, trainer.cfg.warmup_epochs or 0.0))
    if has_workers and post is not None:
        from .workers import reliability_scores, worker_report

        rows = worker_report(trainer, post)
        result.metrics.update(reliability_scores(rows))
        if run_dir is not None:
            runs.write_csv(run_dir / "workers.csv", rows)
    result.metrics["train_labels_truth"] = truth_known(data)
    untrained = untrained_test_classes(data)
    if untrained:  # never scored silently: data.check_split warned, metrics.json records it
        result.metrics["test_classes_without_training"] = untrained
    if run_dir is not None:
        write_artifact(run_dir, trainer, post)
        result.metrics["run_dir"] = str(run_dir)
        runs.write_json(run_dir / runs.METRICS, result.metrics)  # last: marks the run finished
    result.run_dir = run_dir
    return result


def write_artifact(run_dir: Path, trainer: Trainer, post: dict | None = None) -> None:
    """The finished run's classifier with its preprocessing (``model.pt``/``model.json``) and
    the posterior of its training items (``posterior.npz``; ``post``: ``posterior(trainer)``
    when the caller has it already): what ``predict``, ``export`` and ``CANClassifier.load``
    read without rebuilding the data (``artifact.py``)."""
    from . import artifact
    from .posterior import posterior

    data = trainer.data
    artifact.write(run_dir, trainer.cfg, trainer.model.classifier, data.class_names,
                   data.single_label, data.feature_scale, data.x_train.shape[1], trainer.device,
                   pixels=data.pixels, record=artifact.data_record(data))
    artifact.write_posterior(run_dir, posterior(trainer) if post is None else post, data)


def load(run_dir: str | Path) -> Trainer:
    """A finished run's trainer with its final weights and the data it was trained on."""
    return _trainer_from(Path(run_dir), finished=True)


def evaluate(run_dir: str | Path) -> dict:
    """Reload a run and score its classifier on the clean test set."""
    if (Path(run_dir) / "estimator.json").is_file():
        runs.read_config(run_dir)  # an older folder: that message first
        raise DataError(f"{run_dir}: saved by CANClassifier, trained on arrays without a test "
                        f"set; score it on a labelled file: pyro-can evaluate {run_dir} "
                        "--input FILE.npz (X and y or Y)")
    trainer = load(run_dir)
    out = trainer.evaluate()
    saved = runs.read_json(Path(run_dir) / runs.METRICS)  # checked by load
    return {**{k: saved[k] for k in ("method", "noise_rate", "epochs") if k in saved}, **out}

