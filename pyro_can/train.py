"""The one training loop every method runs: stochastic variational inference with a Pyro ELBO.

The model and guide are the method's PyroModules (``models/``, ``guides/``, with the interface
``noisy_label_model.py`` declares), built from the resolved config's sections
(``programs.build_model_and_guide``); the objective is ``objective.Objective``: Pyro's
``ELBO(model, guide)`` module weighted by α_t, the warm-up likelihood and the regularizer. The
loop runs the phases of Eq. 7 in order (``schedules.phase``; ``Trainer.train_epoch``): warm-up
(the warm-up likelihood alone), the hand-over (once, at the first epoch after the warm-up: the
method re-estimates its noise model from the warm classifier), the ramp (α_t rising to α_max)
and SVI. A single torch optimizer over all networks (``make_optimizer``: SGD, Adam or RAdam)
steps its loss, with a per-epoch schedule (``schedules.make_scheduler``: step or cosine). That
is the pattern Pyro documents for using torch optimizers, and unlike ``pyro.optim`` (one
optimizer per parameter) it gives one checkpointable optimizer state and fused updates. Under
``torchrun`` the same module is wrapped in ``DistributedDataParallel`` (``distributed.py``).

What happens after an epoch is up to callbacks (``callbacks.py``): the evaluation
(``evaluation.py``), the run folder's checkpoint (``checkpoint.py``), a progress bar.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pyro
import torch

from . import checkpoint, distributed, evaluation, registry
from .batch import Batch, StepParams
from .callbacks import as_callbacks
from .config import Config
from .data import Dataset
from .device import resolve_device
from .errors import OptionError, TrainingError
from .mixup import Mixup
from .objective import Objective
from .programs import build_model_and_guide, num_workers
from .registry import ANCHORED_NOISE_INITS
from .schedules import HANDOVER, make_scheduler, phase, step_params
from .scoring import class_scores, predict_logits
from .sections import sections
from .training_set import TrainingSet


def make_optimizer(cfg: Config, params) -> torch.optim.Optimizer:
    """SGD with momentum (``--momentum``), the paper's; or Adam, which the Crowd Layer paper
    trains with (its per-worker matrices on softmax outputs get small gradients that plain SGD
    steps move slowly); or RAdam, the crowd-learning papers' on music (Annot-Mix, MaDL).
    ``--lr``, ``--weight-decay`` and ``--schedule`` apply to all three."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "radam":
        return torch.optim.RAdam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                           weight_decay=cfg.weight_decay)


@dataclass
class FitResult:
    cfg: Config
    model: torch.nn.Module  # the method's model (PyroModule); ``model.classifier`` is shipped
    guide: torch.nn.Module
    history: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    run_dir: object = None  # pathlib.Path of the run folder, when one was written
    run: object = None  # the fitted.FittedRun, once api's fit has read its posterior


class Trainer:
    """Runs SVI for one config on one data set; ``state_dict``/``load_state_dict`` make it
    resumable at epoch boundaries with identical results."""

    def __init__(self, cfg: Config, data: Dataset, val: Dataset | None = None):
        # --latent auto -> categorical | bernoulli; warm-up and prior weight from the answers
        # (a no-op for a config read back from a run folder, which was resolved at fit time)
        cfg = cfg.resolve(data)
        self.cfg, self.data, self.val = cfg, data, val
        self.device = resolve_device(cfg.device)
        pyro.set_rng_seed(cfg.seed)
        if cfg.end_to_end and data.pixels is None:
            raise OptionError(f"--arch {cfg.arch}: --data {cfg.data} holds feature vectors, not "
                            "images; use --arch mlp")
        self.programs = build_model_and_guide(cfg, data.x_train.shape[1], data.num_classes,
                                              num_workers(cfg, data)).to(self.device)
        if hasattr(data.pixels, "to"):  # images held as one tensor: on the device, once
            data.pixels.to(self.device)
            if self.device.type == "cuda":  # the convolutions' fast layout
                self.programs.to(memory_format=torch.channels_last)
        self.model, self.guide = self.programs.model, self.programs.guide
        self.elbo = registry.ELBOS[cfg.elbo]()
        pyro.clear_param_store()  # holds only TraceGraph's decaying-average baselines
        regularizer = functools.partial(registry.REGULARIZERS[cfg.regularizer],
                                        sections(cfg).method)
        self.loss = Objective(self.elbo, self.model, self.guide, regularizer, data.num_items,
                              cfg.warmup_scope)
        self.objective = distributed.wrap(self.loss)
        if distributed.active():  # different latent noise on each rank (weights: DDP syncs them)
            pyro.set_rng_seed(cfg.seed + 1000 * distributed.rank())
        self.optimizer = make_optimizer(cfg, self.programs.parameters())
        self.scheduler = make_scheduler(cfg, self.optimizer)
        self.train_set = TrainingSet(data, self.device)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.mixup = Mixup(cfg.mixup, cfg.seed) if cfg.mixup > 0 else None
        self.epoch = 0
        self.label_reliability: dict = {}  # set at the hand-over (--noise-init anchor|transition)
        self.history: list[dict] = []
        self.seconds = 0.0

    # -- the loop --------------------------------------------------------------------------------
    def run(self, on_epoch=None) -> FitResult:
        """Train from ``self.epoch`` to ``--epochs``. After each epoch (on rank 0 alone under
        torchrun, which evaluates and reports) its record joins ``history`` and goes to the
        callbacks in turn: the evaluation first, which adds its scores to it on a scored epoch
        (``evaluation.Evaluation``), then ``on_epoch``'s (a function ``on_epoch(trainer,
        record)``, a ``callbacks.Callback`` such as ``checkpoint.Checkpoint``, or a list of
        them). The final metrics are those of the last epoch's evaluation."""
        evaluator = evaluation.Evaluation()
        callbacks = [evaluator, *as_callbacks(on_epoch)]
        while self.epoch < self.cfg.epochs:
            epoch_phase = self.phase()
            start = time.perf_counter()
            loss = self.train_epoch()
            self.seconds += time.perf_counter() - start
            self.epoch += 1
            if distributed.is_main():
                record = self.epoch_record(epoch_phase, loss)
                self.history.append(record)
                for callback in callbacks:
                    callback.on_epoch_end(self, record)
        final = self.final_metrics(evaluator.last) if distributed.is_main() else {}
        return FitResult(self.cfg, self.model, self.guide, self.history, final)

    def train_epoch(self) -> float:
        """One epoch in the phase it starts in (``schedules.phase``); returns its loss per item.
        The phases differ in two things: the hand-over runs once, before its epoch; and α_t,
        which every step reads (``step_params``): 0 in the warm-up, where the objective is the
        warm-up likelihood alone, rising in the ramp, α_max in SVI (``objective.py``)."""
        batches = self.epoch_batches()
        if self.phase() == HANDOVER:
            self.handover()
        self.model.start_epoch(self.epoch, self.train_set)  # a method's per-epoch state
        # argument validation off while training: it costs time every step, and a diverging run
        # should reach the finite-loss check below rather than fail inside a distribution
        self.programs.train()
        with pyro.validation_enabled(False):
            total = self._steps(batches)
        self.scheduler.step()
        return total / sum(len(items) for items in batches)  # this rank's items

    def epoch_batches(self) -> tuple[torch.Tensor, ...]:
        """The epoch's minibatches of item indices: a fresh shuffle (under torchrun, this rank's
        share of one shared shuffle)."""
        n = self.train_set.num_items
        if distributed.active():
            order = distributed.epoch_order(n, self.epoch, self.cfg.seed, self.device)
            batches = order.split(distributed.local_batch_size(self.cfg.batch_size))
        else:
            order = torch.randperm(n, generator=self.generator).to(self.device)
            batches = order.split(self.cfg.batch_size)
        if self.cfg.elbo == "tracegraph" and len(batches) > 1 \
                and len(batches[-1]) < len(batches[0]):
            # Pyro's decaying-average baseline is kept per batch position: every batch the same
            # size (the items left over differ from epoch to epoch)
            batches = batches[:-1]
        if self.cfg.batch_norm and len(batches) > 1 and len(batches[-1]) == 1:
            batches = batches[:-1]  # batch norm cannot train on one item; it is seen next epoch
        return batches

    def epoch_record(self, epoch_phase: str, loss: float) -> dict:
        """The record of the epoch just trained, before any callback adds to it."""
        hp = step_params(self.cfg, float(self.epoch))
        return {"epoch": self.epoch, "phase": epoch_phase, "loss": loss, "tau": hp.tau,
                "alpha": hp.alpha, "lr": self.optimizer.param_groups[0]["lr"]}

    def phase(self) -> str:
        """The phase the coming epoch starts in (``schedules.phase``)."""
        return phase(self.cfg, self.epoch, self.handover_epoch)

    @property
    def handover_epoch(self) -> int | None:
        """The first epoch after the Eq. 7 warm-up, when the method re-estimates its noise model
        (``--noise-init anchor|transition``). None without a warm-up (no warm classifier to learn
        the label reliability from), with ``--noise-init fixed``, or for a method without a
        hand-over (``handover`` None): then the training set is not scored for it."""
        w = self.cfg.warmup_epochs
        wanted = self.cfg.noise_init in ANCHORED_NOISE_INITS and self.model.handover is not None
        return math.ceil(w) if w >= 1 and wanted else None

    def handover(self) -> None:
        """Let the method set up its noise model from the warm classifier (CAN: the anchors),
        then the guide its use of the answers (CAN's guide: their evidence in q)."""
        scores = class_scores(self.cfg, self.predict_logits(self.data.x_train, "train"))
        # every rank starts the same noise model, rank 0's (batch norm's running statistics,
        # hence the scores, differ from rank to rank); one process keeps its own
        scores = distributed.from_main(torch.as_tensor(scores, device=self.device)).cpu().numpy()
        estimate = self.model.handover(scores, self.data)
        self.guide.handover(estimate)
        self.label_reliability = estimate.record()
        if self.cfg.hold_noise:
            self.hold_noise_model()

    def hold_noise_model(self) -> None:
        """``--hold-noise``: from the hand-over on, the noise model keeps the anchor estimate
        (frozen parameters get no gradient, so the optimizer and weight decay leave them)."""
        self.model.hold_noise_model()
        self.guide.hold_noise_model()

    def _inputs(self, batches):
        """Each minibatch's inputs: cut from the tensors on the device, or, for images, the
        DataLoader's augmented batches (read ahead by its workers)."""
        pixels = self.train_set.pixels
        if pixels is None:
            return (None for _ in batches)
        rows = [self.train_set.x[items].reshape(-1).tolist() for items in batches]
        return (x.to(self.device, non_blocking=True)
                for x in pixels.batches("train", rows, "train"))

    def _steps(self, batches) -> float:
        cfg, total = self.cfg, 0.0
        for step, (items, x) in enumerate(zip(batches, self._inputs(batches))):
            hp = step_params(cfg, self.epoch + step / len(batches))
            batch = self.train_set.batch(items, x)
            if self.mixup is not None:
                batch = self.mixup(batch, self.epoch, step)
            loss = self.step(batch, hp)
            if not math.isfinite(loss):
                raise TrainingError(f"loss became {loss} at epoch {self.epoch + 1}, "
                                    f"step {step + 1}; the last good checkpoint is kept")
            total += loss * len(items)
        return total

    def step(self, batch: Batch, hp: StepParams) -> float:
        """One SVI step on a minibatch; returns its loss (per item; the mean over ranks under
        torchrun, so that every rank stops together on a non-finite loss)."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.objective(batch, hp)
        loss.backward()
        value = distributed.sum_all(loss.detach()).item() / distributed.world_size()
        if math.isfinite(value):
            self.optimizer.step()
        return value

    # -- scores ----------------------------------------------------------------------------------
    def evaluate(self) -> dict:
        """The scores of a scored epoch (``evaluation.evaluate``); a trainer that sees other
        data (``tune``'s, the estimator's) scores what it has."""
        return evaluation.evaluate(self)

    def answer_scores(self, probs: np.ndarray) -> dict:
        """The validation answers' scores through the method's noise model
        (``evaluation.answer_scores``)."""
        return evaluation.answer_scores(self, probs)

    def predict_logits(self, x, split: str = "test") -> np.ndarray:
        """``split``: which images the rows in ``x`` refer to, for end-to-end image data."""
        return predict_logits(self.model.classifier, x, self.device,
                              pixels=self.data.pixels, split=split)

    def final_metrics(self, ev: dict | None = None) -> dict:
        """``ev``: the last epoch's evaluation, when there was one (the weights have not changed
        since, so the test set is not scored twice)."""
        out = dict(ev) if ev is not None else self.evaluate()
        out.update({"method": self.cfg.method, "noise_rate": self.cfg.resolved_noise_rate(),
                    "epochs": self.epoch, "seconds": round(self.seconds, 3),
                    "processes": distributed.world_size(),
                    "train_items": self.data.num_items,
                    "train_annotations": self.data.num_annotations,
                    "test_items": len(self.data.y_test)})
        if self.data.corrupted is not None:
            out["train_corrupted_fraction"] = float(self.data.corrupted.mean())
        out.update(self.label_reliability)
        return out

    # -- checkpoints (checkpoint.py) -------------------------------------------------------------
    def state_dict(self) -> dict:
        return checkpoint.trainer_state(self)

    def load_state_dict(self, state: dict, weights_only: bool = False) -> None:
        checkpoint.load_trainer_state(self, state, weights_only)
