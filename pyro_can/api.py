"""Functions behind the CLI: build the data of a config (``load_data``, ``loading.py``), fit into
a run folder, reload, evaluate."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from . import artifact, distributed, registry, run_folder, runs, safe_io
from .checkpoint import Checkpoint
from .config import Config
from .data import truth_known, untrained_test_classes
from .errors import DataError, Interrupted, OptionError
from .fitted import FittedRun
from .loading import load_data  # noqa: F401  (api.load_data: the CLI's way to a config's data)
from .metrics import label_accuracy
from .run_folder import RunFolder
from .train import FitResult, Trainer


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
                run_folder.write_train_data(run_dir, data)
                return _run(trainer, run_dir, on_epoch)
    return _run(trainer, run_dir, on_epoch)


def resume(run_dir: str | Path, on_epoch: Callable | None = None,
           epochs: int | None = None) -> FitResult:
    """Continue a run from its last complete epoch, with the optimizer, scheduler and RNG state it
    had then, so the end result matches an uninterrupted run. ``epochs``: train on to this many
    epochs instead (recorded in config.json; a finished run is then unfinished again until it
    gets there); fewer than the run has completed is refused."""
    folder = RunFolder(run_dir)
    run_dir = folder.path
    cfg = folder.config  # not a run folder: that message, before taking a lock in it
    safe_io.read_manifest(run_dir)  # a damaged manifest: refused before anything is written
    if not distributed.is_main():
        return _run(folder.trainer(finished=False, epochs=epochs), run_dir, on_epoch)
    with safe_io.lock(run_dir):
        trainer = folder.trainer(finished=False, epochs=epochs)
        if epochs is not None and epochs != cfg.epochs:
            if epochs < trainer.epoch:
                raise OptionError(f"--epochs {epochs}: {run_dir} has already trained "
                                  f"{trainer.epoch} epochs; give at least that many")
            safe_io.forget(run_dir / runs.METRICS)  # unfinished until it reaches ``epochs``
            runs.write_config(run_dir, trainer.cfg)
        return _run(trainer, run_dir, on_epoch)


def _run(trainer: Trainer, run_dir: Path | None, on_epoch: Callable | None) -> FitResult:
    saved = [] if run_dir is None else [Checkpoint(run_dir)]  # after every epoch
    try:
        result = trainer.run([*saved, on_epoch])
    except KeyboardInterrupt:
        if run_dir is None:
            raise
        raise Interrupted(f"interrupted in epoch {trainer.epoch + 1}; {run_dir} holds the "
                          f"{trainer.epoch} complete epoch(s); continue with: pyro-can fit "
                          f"--resume {run_dir}") from None
    if not distributed.is_main():  # rank 0 writes the run folder
        return result
    data = trainer.data
    result.metrics["train_labels_truth"] = truth_known(data)
    run = FittedRun.of_trainer(trainer, result.metrics, run_dir)  # the posterior, read once
    post = run.posterior
    given, answered = run.items.given_labels(), run.items.answered  # as ``labels`` gives them
    if data.y_train_clean is not None and data.single_label:  # the cleaned labels, scored
        result.metrics.update(label_accuracy(data.y_train_clean[answered], given[answered],
                                             post["q_y"][answered]))
    if registry.METHODS[trainer.cfg.method].latent:
        from .posterior_health import posterior_health

        result.metrics["posterior_health"] = posterior_health(
            given, post["q_y"], post["z_loc"], data.single_label, answered,
            warmup=(trainer.epoch, trainer.cfg.warmup_epochs or 0.0))
    rows = None
    if (data.ann_worker >= 0).any():
        from .workers import reliability_scores, worker_report

        rows = worker_report(run)
        result.metrics.update(reliability_scores(rows))
    untrained = untrained_test_classes(data)
    if untrained:  # never scored silently: data.check_split warned, metrics.json records it
        result.metrics["test_classes_without_training"] = untrained
    if run_dir is not None:
        result.metrics["run_dir"] = str(run_dir)
        run_folder.write_results(run_dir, run, feature_scale=data.feature_scale,
                                 in_features=data.x_train.shape[1], pixels=data.pixels,
                                 record=artifact.data_record(data), workers=rows)
    result.run_dir = run_dir
    result.run = run
    return result


def load(run_dir: str | Path) -> FittedRun:
    """A finished run as a ``FittedRun``, read from its folder alone (``RunFolder.fitted``)."""
    return RunFolder(run_dir).fitted()


def evaluate(run_dir: str | Path) -> dict:
    """Reload a run and score its classifier on the clean test set."""
    if (Path(run_dir) / "estimator.json").is_file():
        runs.read_config(run_dir)  # an older folder: that message first
        raise DataError(f"{run_dir}: saved by CANClassifier, trained on arrays without a test "
                        f"set; score it on a labelled file: pyro-can evaluate {run_dir} "
                        "--input FILE.npz (X and y or Y)")
    folder = RunFolder(run_dir)
    out = folder.trainer().evaluate()
    saved = folder.metrics
    return {**{k: saved[k] for k in ("method", "noise_rate", "epochs") if k in saved}, **out}

