"""``pyro-can tune``: one search, the same for every method, on noisy-label validation only.

Optuna's TPE sampler (seeded by ``--seed``) proposes settings from the method's search space
(its registry entry's ``search_space``, declared beside the method) and the optimizer options
every method shares (``SHARED_SPACE``); each trial trains on the training items less a held-out
share (``--val-fraction``) and reports its validation score after every epoch to a
successive-halving pruner, which stops trials that fall behind their rung. The score is read
from the held-out *noisy* labels alone:

* for a method with a noise model (``registry.Method.noise_model``: CAN, LearnQ) on single-label
  data, ``val_noisy_answer_nll``, the held-out labels' mean negative log-likelihood through the
  method's own p(ỹ | y) (minimized; a proper score, ``metrics.answer_scores``);
* otherwise ``val_noisy_accuracy``, the classifier's accuracy against the held-out noisy labels
  (maximized; ``val_noisy_mAP`` for multi-label data).

The trials never hold the test split: the search's copy of the data has no test rows (nor
``--val-from-test`` rows), and its trainer scores the validation items only. Trials are stored
in an Optuna journal file in the search folder (``trials.journal``), so a killed search resumes
where it stopped and several processes can search at once: the budget counts finished trials
(complete or pruned), and a trial left running by a killed process is not counted.

The winner is **refit**: its settings are trained again on all training items (no validation
share, the same epochs) into ``run/``, an ordinary run folder whose ``config.json`` holds the
chosen settings, which ``chosen.json`` also records with the search's cost. The refit run is the
one that reports test scores.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import optuna

from . import api, metrics, registry, runs
from .config import RULES, Config
from .errors import OptionError
from .scoring import class_scores
from .train import Trainer

#: searched for every method alike: the step size and the weight decay (the plain net's
#: memorization of noisy labels turns on both)
SHARED_SPACE = {"lr": (1e-3, 0.1, "log"), "weight_decay": (1e-6, 1e-2, "log")}
JOURNAL = "trials.journal"
CHOSEN = "chosen.json"
REFIT = "run"
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def search_space(method: str) -> dict:
    """The shared space and the method's own (``registry.Method.search_space``)."""
    spec = registry.lookup("method", registry.METHODS, method)
    return {**SHARED_SPACE, **spec.search_space}


def suggest(trial: optuna.Trial, space: dict) -> dict:
    """One value per option of ``space``: a list is a choice; (lo, hi) a uniform range, (lo, hi,
    "log") a log-uniform one, integers for an integer option (its rule's kind)."""
    params = {}
    for name, spec in space.items():
        if isinstance(spec, list):
            params[name] = trial.suggest_categorical(name, spec)
            continue
        lo, hi, *scale = spec
        log = scale == ["log"]
        if getattr(RULES.get(name), "kind", float) is int:
            params[name] = trial.suggest_int(name, int(lo), int(hi), log=log)
        else:
            params[name] = trial.suggest_float(name, float(lo), float(hi), log=log)
    return params


def objective_of(method: str, single_label: bool) -> tuple[str, str]:
    """(validation metric, direction) the search optimizes for ``method`` (module docstring)."""
    if not single_label:
        return "val_noisy_mAP", "maximize"
    if registry.METHODS[method].noise_model:
        return "val_noisy_answer_nll", "minimize"
    return "val_noisy_accuracy", "maximize"


class ValidationTrainer(Trainer):
    """A trainer that scores the noisy-label validation items alone (no test rows, no clean
    validation rows: the search sees neither)."""

    def evaluate(self) -> dict:
        v = class_scores(self.cfg, self.predict_logits(self.val.x_train, "train"))
        out = metrics.score(self.val.item_labels(), v, self.val.class_names,
                            self.val.single_label, prefix="val_noisy_")
        out.update(self.answer_scores(v))
        return out


def without_test(data):
    """``data`` with no test rows and no clean validation rows: what a trial may read."""
    return dataclasses.replace(data, x_test=data.x_test[:0], y_test=data.y_test[:0],
                               test_ids=data.test_ids[:0], x_val=None, y_val=None)


@dataclass
class TuneResult:
    params: dict  # the chosen settings
    value: float  # their validation score
    objective: str  # which score, and whether lower or higher is better
    direction: str
    trials: int  # finished trials in the storage (complete + pruned)
    pruned: int
    seconds: float  # this process's search time (the refit not included)
    config: Config  # the refit's config: the base config with the chosen settings
    refit: object = None  # train.FitResult of the refit, when it ran


def study(folder: Path, direction: str, seed: int) -> optuna.Study:
    """The search's study in ``folder``'s journal, created or loaded. Its sampler is seeded by
    ``seed`` plus the trials already stored: a fresh search is reproducible, and a resumed one
    or a second process on the same journal does not repeat the first one's proposals."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(folder / JOURNAL)))
    search = optuna.create_study(study_name="tune", storage=storage, load_if_exists=True,
                                 direction=direction,
                                 pruner=optuna.pruners.SuccessiveHalvingPruner())
    stored = len(search.get_trials(deepcopy=False))
    search.sampler = optuna.samplers.TPESampler(seed=seed + stored)
    return search


def tune(cfg: Config, budget: int, out: str | Path, refit: bool = True,
         on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None) -> TuneResult:
    """Search ``cfg.method``'s settings for ``budget`` finished trials in total (those already
    in ``out``'s journal count), on ``cfg``'s data with its ``--val-fraction`` held out; then
    refit the winner into ``out/run`` (``refit``) and record it in ``out/chosen.json``.
    ``on_trial`` is called with each trial this process finishes."""
    cfg.validate()
    if cfg.val_fraction <= 0:
        raise OptionError("tune chooses settings on held-out noisy labels: it needs "
                          "--val-fraction above 0")
    if budget < 1:
        raise OptionError(f"--budget: must be at least 1, got {budget}")
    folder = runs.check_writable(out)
    folder.mkdir(parents=True, exist_ok=True)
    data, val = api.load_data(cfg)
    data = without_test(data)
    key, direction = objective_of(cfg.method, data.single_label)
    space = search_space(cfg.method)
    search = study(folder, direction, cfg.seed)

    def objective(trial: optuna.Trial) -> float:
        trial_cfg = dataclasses.replace(cfg, **suggest(trial, space)).validate()
        trainer = ValidationTrainer(trial_cfg, data, val)
        last = {}

        def report(_trainer, record):
            if record.get(key) is None:  # CAN's noise-model score starts after the hand-over
                return
            last["value"] = record[key]
            trial.report(record[key], record["epoch"])
            if trial.should_prune():
                raise optuna.TrialPruned()
        trainer.run(on_epoch=report)
        if "value" not in last:
            raise OptionError(f"no {key} was scored in {trial_cfg.epochs} epochs (for CAN: "
                              "raise --epochs past the warm-up)")
        return last["value"]

    def finished() -> int:
        return len(search.get_trials(deepcopy=False, states=FINISHED))

    start = time.perf_counter()
    left = budget - finished()
    if left > 0:
        callbacks = [optuna.study.MaxTrialsCallback(budget, states=FINISHED)]
        if on_trial is not None:
            callbacks.append(lambda _study, trial: on_trial(trial))
        search.optimize(objective, n_trials=left, callbacks=callbacks, catch=())
    seconds = time.perf_counter() - start
    best = search.best_trial
    chosen = dataclasses.replace(cfg, **best.params, val_fraction=0.0).validate()
    trials = search.get_trials(deepcopy=False, states=FINISHED)
    result = TuneResult(params=dict(best.params), value=best.value, objective=key,
                        direction=direction, trials=len(trials),
                        pruned=sum(t.state == optuna.trial.TrialState.PRUNED for t in trials),
                        seconds=round(seconds, 3), config=chosen)
    if refit:
        result.refit = api.fit(chosen, out=folder / REFIT, overwrite=True)
    record = {"method": cfg.method, "params": result.params, "value": result.value,
              "objective": key, "direction": direction, "trials": result.trials,
              "pruned": result.pruned, "seconds": result.seconds, "budget": budget,
              "refit": (folder / REFIT).name if refit else None}
    runs.write_json(folder / CHOSEN, record)
    return result
