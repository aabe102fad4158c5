"""The one training loop every method runs: stochastic variational inference with a Pyro ELBO.

The model and guide are the method's PyroModules (``models/``, ``guides/``), built from the
resolved config's sections (``build_model_and_guide``); the objective is
``objective.Objective``: Pyro's ``ELBO(model, guide)`` module weighted by α_t, the warm-up
likelihood and the regularizer. The loop runs the phases of Eq. 7 in order
(``schedules.phase``): warm-up (the warm-up likelihood alone), the hand-over (once, at the first
epoch after the warm-up: the method re-estimates its noise model from the warm classifier), the
ramp (α_t rising to α_max) and SVI. A single torch optimizer over all networks
(``make_optimizer``: SGD, Adam or RAdam) steps its loss, with a per-epoch schedule
(``schedules.make_scheduler``: step or cosine). That is the
pattern Pyro documents for using torch optimizers, and unlike ``pyro.optim`` (one optimizer per
parameter) it gives one checkpointable optimizer state and fused updates. Under ``torchrun`` the
same module is wrapped in ``DistributedDataParallel`` (``distributed.py``).
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pyro
import torch
from pyro import poutine
from pyro.distributions.kl import kl_divergence
from pyro.distributions.util import scale_and_mask

from . import distributed, metrics, registry
from .batch import Batch, StepParams
from .config import Config
from .data import Dataset
from .device import resolve_device
from .distributions import class_probs
from .errors import DataError, OptionError, TrainingError
from .mixup import Mixup
from .objective import Objective
from .registry import ANCHORED_NOISE_INITS
from .schedules import HANDOVER, make_scheduler, phase, step_params
from .sections import sections
from .worker_quality import count_workers


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


def build_model_and_guide(cfg: Config, in_dim: int, num_classes: int,
                          num_workers: int = 0) -> torch.nn.ModuleDict:
    """The method's model and guide (``registry.model_and_guide``, from the resolved config's
    sections) as one module, ``.model`` and ``.guide``: what the optimizer steps, the checkpoint
    saves and ``.to`` moves (a network both read, the classifier, is one set of parameters).
    ``num_workers`` sizes a method's per-worker parts."""
    model, guide = registry.model_and_guide(sections(cfg), in_dim, num_classes, num_workers)
    return torch.nn.ModuleDict({"model": model, "guide": guide})


def num_workers(cfg: Config, data: Dataset) -> int:
    """The number of workers W of the data (worker ids are 0..W-1; 0 without any), which sizes
    per-worker parts. A method with per-worker parts (``registry.Method.workers``) is checked to
    have every answer with its worker: it learns from each answer with its worker, which
    ``--crowd`` other than model pools away; one that trains on one label per item
    (``registry.Method.one_answer``), to have its answers pooled."""
    if registry.METHODS[cfg.method].one_answer and data.has_crowd:
        raise OptionError(f"--method {cfg.method} trains on one label per item; --data "
                          f"{cfg.data} has several answers per item: pool them with --crowd "
                          "majority (or dawid-skene, glad)")
    if not registry.METHODS[cfg.method].workers:
        return count_workers(data.ann_worker)
    if cfg.crowd != "model":
        raise OptionError(f"--method {cfg.method} learns from each answer with its worker: it "
                          f"needs --crowd model, not --crowd {cfg.crowd}")
    if data.num_annotations == 0 or (data.ann_worker < 0).any():
        raise OptionError(f"--method {cfg.method} needs each answer's worker id; --data "
                          f"{cfg.data} has answers without one (crowd data with workers: music, "
                          "amt, cifar10n --labels crowd)")
    return count_workers(data.ann_worker)


class TrainingSet:
    """Training tensors on the device once, and minibatches cut from them by index. For images
    trained end to end, ``x`` holds image rows and a batch's pixels come from ``data.pixels``."""

    def __init__(self, data: Dataset, device: torch.device):
        self.pixels = data.pixels
        self.x = torch.as_tensor(data.x_train, device=device)
        self.labels = torch.as_tensor(data.ann_labels, device=device)
        self.ann_item = torch.as_tensor(data.ann_item, device=device)
        self.ann_worker = torch.as_tensor(data.ann_worker, device=device)
        self.max_answers = 1
        self.num_items, self.num_annotations = data.num_items, data.num_annotations
        self.identity = not data.has_crowd
        if not self.identity:  # item -> its annotation rows, padded with -1
            counts = np.bincount(data.ann_item, minlength=data.num_items)
            table = np.full((data.num_items, max(1, counts.max())), -1)
            order = np.argsort(data.ann_item, kind="stable")
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            slot = np.arange(len(order)) - np.repeat(starts, counts)
            table[data.ann_item[order], slot] = order
            self.table = torch.as_tensor(table, device=device)
            self.max_answers = table.shape[1]

    def batch(self, items: torch.Tensor, x: torch.Tensor | None = None) -> Batch:
        """The minibatch of ``items``; ``x``: their inputs when the caller already has them (an
        augmented image batch), else cut from the set (images: read with the centre view)."""
        if x is None:
            x = self.x[items]
            if self.pixels is not None:
                x = torch.cat(list(self.pixels.predict_batches(x.cpu().numpy(), "train")))
                x = x.to(items.device)
        if self.identity:
            ann, ann_item = items, torch.arange(len(items), device=items.device)
        else:
            rows = self.table[items]
            keep = rows >= 0
            ann = rows[keep]
            ann_item = torch.arange(len(items), device=items.device).unsqueeze(1).expand_as(rows)[keep]
        return Batch(x=x, labels=self.labels[ann], ann_item=ann_item, item_idx=items,
                     ann_idx=ann, num_items=self.num_items, num_annotations=self.num_annotations,
                     one_answer_each=self.identity, max_answers=self.max_answers,
                     ann_worker=self.ann_worker[ann])


@torch.no_grad()
def predict_logits(classifier: torch.nn.Module, x, device, batch_size: int = 4096,
                   pixels=None, split: str = "test") -> np.ndarray:
    """Logits of ``x`` in eval mode; with ``pixels``, ``x`` holds rows of ``split``'s images,
    seen through the prediction view (centre crop, or the six crops for --test-crops 6)."""
    classifier.eval()
    if pixels is None:
        batches = (torch.as_tensor(x[i:i + batch_size]) for i in range(0, len(x), batch_size))
    else:
        batches = pixels.predict_batches(x, split)
    out = [classifier(b.to(device, non_blocking=True)).float().cpu() for b in batches]
    classifier.train()
    return torch.cat(out).numpy() if out else np.zeros((0, 0), dtype=np.float32)


def class_scores(cfg: Config, logits: np.ndarray) -> np.ndarray:
    """Per-class scores the metrics rank: softmax of the logits when the classifier is a
    categorical y's prior (``cfg.categorical_y``), per-class sigmoid otherwise."""
    return class_probs(torch.as_tensor(logits), cfg.categorical_y).numpy()


@torch.no_grad()
def elbo_terms(model, guide, batch: Batch, hp: StepParams, regularizer=None) -> dict:
    """Per-item ELBO terms from one trace: reconstruction log-likelihood, closed-form KL of y and
    z (unscaled by any KL weight), and the regularizer's value (``regularizer``: a function of
    the batch, e.g. ``Objective.regularizer_loss``; 0 without one)."""
    guide_tr = poutine.trace(guide).get_trace(batch, hp)
    model_tr = poutine.trace(poutine.replay(model, trace=guide_tr)).get_trace(batch, hp)
    b = len(batch.item_idx)  # every site sits in the items plate: per-item sums over b items
    terms = {"recon": 0.0, "kl_y": 0.0, "kl_z": 0.0, "mi": 0.0}
    for name, site in model_tr.nodes.items():
        if site["type"] != "sample":
            continue
        if name == "ytilde":
            lp = scale_and_mask(site["fn"].log_prob(site["value"]), mask=site["mask"])
            terms["recon"] = float(lp.sum()) / b
        elif name in ("y", "z") and name in guide_tr.nodes:
            kl = kl_divergence(guide_tr.nodes[name]["fn"], site["fn"])
            terms[f"kl_{name}"] = float(scale_and_mask(kl, mask=site["mask"]).sum()) / b
    if regularizer is not None:
        terms["mi"] = float(regularizer(batch))
    terms["neg_elbo"] = -terms["recon"] + terms["kl_y"] + terms["kl_z"]
    return terms


def programs_state(programs: torch.nn.ModuleDict, nets: dict) -> dict:
    """A checkpoint's networks as a state dict of ``build_model_and_guide``'s module. Checkpoints
    written before the model and guide owned their networks hold one flat dict of networks by
    name (``classifier.net.0.weight``, ``additive.g1.weight``, ...): the same tensors, renamed to
    the module that owns each network now (the guide's shared prior judgement is the
    classifier). A network missing from it is a KeyError."""
    if any(k.startswith(("model.", "guide.")) for k in nets):
        return nets
    classifier = programs.model.classifier
    out = {}
    for part, program in programs.items():
        for name, network in program.named_children():
            flat = "classifier" if network is classifier else name
            for key in network.state_dict():
                out[f"{part}.{name}.{key}"] = nets[f"{flat}.{key}"]
    return out


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

    # -- one epoch -----------------------------------------------------------------------------
    def train_epoch(self) -> float:
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
            order = torch.cat(batches)
        if self.cfg.batch_norm and len(batches) > 1 and len(batches[-1]) == 1:
            batches = batches[:-1]  # batch norm cannot train on one item; it is seen next epoch
            order = torch.cat(batches)
        if self.phase() == HANDOVER:
            self.handover()
        if hasattr(self.model, "start_epoch"):  # a method's per-epoch state (models/)
            self.model.start_epoch(self.epoch, self.train_set)
        # argument validation off while training: it costs time every step, and a diverging run
        # should reach the finite-loss check below rather than fail inside a distribution
        self.programs.train()
        with pyro.validation_enabled(False):
            total = self._steps(batches)
        self.scheduler.step()
        return total / len(order)  # this rank's items (all of them in one process)

    def phase(self) -> str:
        """The phase the coming epoch starts in (``schedules.phase``)."""
        return phase(self.cfg, self.epoch, self.handover_epoch)

    @property
    def handover_epoch(self) -> int | None:
        """The first epoch after the Eq. 7 warm-up, when the method re-estimates its noise model
        (``--noise-init anchor|transition``). None without a warm-up (no warm classifier to learn
        the label reliability from), with ``--noise-init fixed``, or for a method without a
        hand-over: then the training set is not scored for it."""
        w = self.cfg.warmup_epochs
        wanted = self.cfg.noise_init in ANCHORED_NOISE_INITS and hasattr(self.model, "handover")
        return math.ceil(w) if w >= 1 and wanted else None

    def handover(self) -> None:
        """Let the method set up its noise model from the warm classifier (CAN: the anchors),
        then the guide its use of the answers (CAN's guide: their evidence in q)."""
        scores = class_scores(self.cfg, self.predict_logits(self.data.x_train, "train"))
        # every rank starts the same noise model, rank 0's (batch norm's running statistics,
        # hence the scores, differ from rank to rank); one process keeps its own
        scores = distributed.from_main(torch.as_tensor(scores, device=self.device)).cpu().numpy()
        estimate = self.model.handover(scores, self.data)
        if hasattr(self.guide, "handover"):
            self.guide.handover(estimate)
        self.label_reliability = estimate.record()
        if self.cfg.hold_noise:
            self.hold_noise_model()

    def hold_noise_model(self) -> None:
        """``--hold-noise``: from the hand-over on, the noise model keeps the anchor estimate
        (frozen parameters get no gradient, so the optimizer and weight decay leave them)."""
        for program in (self.model, self.guide):
            if hasattr(program, "hold_noise_model"):
                program.hold_noise_model()

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

    def evaluate(self) -> dict:
        scores = class_scores(self.cfg, self.predict_logits(self.data.x_test))
        out = metrics.score(self.data.y_test, scores, self.data.class_names,
                            self.data.single_label)
        out["collapsed"] = metrics.collapsed(scores)
        if self.val is not None:
            v = class_scores(self.cfg, self.predict_logits(self.val.x_train, "train"))
            out.update(metrics.score(self.val.item_labels(), v, self.val.class_names,
                                     self.val.single_label, prefix="val_noisy_"))
            out.update(self.answer_scores(v))
        if self.data.x_val is not None:  # --val-from-test: rows of the test images
            v = class_scores(self.cfg, self.predict_logits(self.data.x_val, "test"))
            out.update(metrics.score(self.data.y_val, v, self.data.class_names,
                                     self.data.single_label, prefix="val_clean_"))
        return out

    def answer_scores(self, probs: np.ndarray) -> dict:
        """``metrics.answer_scores`` of the validation items' answers (each answer on its own,
        so several answers per item are scored as the model predicts them, one at a time): the
        classifier read through the method's ``answer_matrix()`` (CAN, LearnQ) or, for a method
        without a noise model, as it is. Not computed for per-class sigmoid classifiers, for a
        method whose noise model is no one matrix (``answer_matrix()`` None: the Crowd Layer,
        CAN with per-class answers), or before CAN's hand-over set its noise model."""
        if not (self.val.single_label and self.cfg.categorical_y):
            return {}
        if self.handover_epoch is not None and self.epoch <= self.handover_epoch:
            return {}
        get = getattr(self.model, "answer_matrix", None)
        matrix = None
        if get is not None:
            matrix = get()
            if matrix is None:
                return {}
            matrix = matrix.cpu().numpy()
        return metrics.answer_scores(self.val.ann_labels, probs[self.val.ann_item], matrix)

    def predict_logits(self, x, split: str = "test") -> np.ndarray:
        """``split``: which images the rows in ``x`` refer to, for end-to-end image data."""
        return predict_logits(self.model.classifier, x, self.device,
                              pixels=self.data.pixels, split=split)

    def run(self, on_epoch: Callable[["Trainer", dict], None] | None = None) -> FitResult:
        cfg, ev = self.cfg, None
        while self.epoch < cfg.epochs:
            ev = None  # this epoch's evaluation, if --eval-every scores it
            start = time.perf_counter()
            loss = self.train_epoch()
            self.seconds += time.perf_counter() - start
            hp = step_params(cfg, self.epoch + 1.0)
            self.epoch += 1
            record = {"epoch": self.epoch, "phase": phase(cfg, self.epoch - 1, self.handover_epoch),
                      "loss": loss, "tau": hp.tau, "alpha": hp.alpha,
                      "lr": self.optimizer.param_groups[0]["lr"]}
            if distributed.is_main():  # under torchrun, rank 0 alone evaluates and reports
                if self.scored_epoch():
                    record.update(self.diagnose(hp))
                    ev = self.evaluate()
                    record.update({k: v for k, v in ev.items()
                                   if not isinstance(v, (dict, list))})
                self.history.append(record)
                if on_epoch is not None:
                    on_epoch(self, record)
        final = self.final_metrics(ev) if distributed.is_main() else {}
        return FitResult(cfg, self.model, self.guide, self.history, final)

    def scored_epoch(self) -> bool:
        """Whether the epoch just trained is scored (``--eval-every``): every N-th and the last.
        Scoring (a pass over the test and validation sets, and the ELBO terms of 2,000 training
        items) costs as much as many steps on a small data set; the final metrics are always
        those of the last epoch. The ELBO terms draw from the training's random stream, so a run
        scored less often trains on other (equally likely) draws than one scored every epoch."""
        return self.epoch % self.cfg.eval_every == 0 or self.epoch >= self.cfg.epochs

    def diagnose(self, hp: StepParams) -> dict:
        if not registry.METHODS[self.cfg.method].latent:
            return {}
        # images: one minibatch's worth (a forward pass over 2,000 images at once would not fit)
        cap = self.cfg.batch_size if self.train_set.pixels is not None else 2000
        items = torch.arange(min(self.train_set.num_items, cap), device=self.device)
        regularizer = self.loss.regularizer_loss if self.loss.regularizer is not None else None
        return elbo_terms(self.model, self.guide, self.train_set.batch(items), hp, regularizer)

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

    # -- checkpoints -----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "seconds": self.seconds, "history": self.history,
                "label_reliability": self.label_reliability,
                "nets": self.programs.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                # TraceGraph's decaying-average baselines, as plain tensors (the store's own
                # state holds constraint objects, which torch.load(weights_only=True) refuses)
                "baselines": {name: value.detach().clone()
                              for name, value in pyro.get_param_store().items()},
                "rng": {"torch": torch.get_rng_state(), "batches": self.generator.get_state(),
                        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}}

    def load_state_dict(self, state: dict, weights_only: bool = False) -> None:
        self.programs.load_state_dict(programs_state(self.programs, state["nets"]))
        if self.cfg.hold_noise and self.handover_epoch is not None \
                and state["epoch"] > self.handover_epoch:  # held since the hand-over
            self.hold_noise_model()
        if weights_only:
            return
        self.epoch, self.seconds, self.history = state["epoch"], state["seconds"], state["history"]
        self.label_reliability = state.get("label_reliability", {})
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        store = pyro.get_param_store()
        for name, value in state.get("baselines", {}).items():
            store[name] = value  # unconstrained reals
        torch.set_rng_state(state["rng"]["torch"])
        self.generator.set_state(state["rng"]["batches"])
        if state["rng"]["cuda"]:
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        if not distributed.is_main():  # the checkpoint holds rank 0's RNG state
            pyro.set_rng_seed(self.cfg.seed + 1000 * distributed.rank() + self.epoch)

