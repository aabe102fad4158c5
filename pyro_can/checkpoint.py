"""A trainer's state at an epoch boundary, and its checkpoint in a run folder after every epoch:
networks, optimizer and scheduler, TraceGraph's baselines, the random streams, the history and
the hand-over's record. Loading it resumes a run with the results an uninterrupted one gets."""
from __future__ import annotations

from pathlib import Path

import pyro
import torch

from . import distributed, runs
from .callbacks import Callback


def trainer_state(trainer) -> dict:
    """Everything ``load_trainer_state`` needs to continue ``trainer`` from its epoch."""
    return {"epoch": trainer.epoch, "seconds": trainer.seconds, "history": trainer.history,
            "label_reliability": trainer.label_reliability,
            "nets": trainer.programs.state_dict(), "optimizer": trainer.optimizer.state_dict(),
            "scheduler": trainer.scheduler.state_dict(),
            # TraceGraph's decaying-average baselines, as plain tensors (the store's own
            # state holds constraint objects, which torch.load(weights_only=True) refuses)
            "baselines": {name: value.detach().clone()
                          for name, value in pyro.get_param_store().items()},
            "rng": {"torch": torch.get_rng_state(), "batches": trainer.generator.get_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}}


def load_trainer_state(trainer, state: dict, weights_only: bool = False) -> None:
    """``state`` (``trainer_state``'s) into ``trainer``; ``weights_only``: the networks alone
    (held as at the hand-over when ``--hold-noise`` had held them)."""
    trainer.programs.load_state_dict(programs_state(trainer.programs, state["nets"]))
    if trainer.cfg.hold_noise and trainer.handover_epoch is not None \
            and state["epoch"] > trainer.handover_epoch:  # held since the hand-over
        trainer.hold_noise_model()
    if weights_only:
        return
    trainer.epoch, trainer.seconds = state["epoch"], state["seconds"]
    trainer.history = state["history"]
    trainer.label_reliability = state.get("label_reliability", {})
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.scheduler.load_state_dict(state["scheduler"])
    store = pyro.get_param_store()
    for name, value in state.get("baselines", {}).items():
        store[name] = value  # unconstrained reals
    torch.set_rng_state(state["rng"]["torch"])
    trainer.generator.set_state(state["rng"]["batches"])
    if state["rng"]["cuda"]:
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    if not distributed.is_main():  # the checkpoint holds rank 0's RNG state
        pyro.set_rng_seed(trainer.cfg.seed + 1000 * distributed.rank() + trainer.epoch)


def programs_state(programs: torch.nn.ModuleDict, nets: dict) -> dict:
    """A checkpoint's networks as a state dict of ``build_model_and_guide``'s module. Checkpoints
    written before the model and guide owned their networks hold one flat dict of networks by
    name (``classifier.net.0.weight``, ``additive.g1.weight``, ...): the same tensors, renamed to
    the module that owns each network now (the guide's shared prior judgement is the
    classifier). A network missing from it is a KeyError. The per-worker q(μ_w), q(d_w) were
    the model's (``model.workers``, read by the guide too): they are the guide's now."""
    if any(k.startswith("model.workers.") for k in nets):
        nets = {k.replace("model.workers.", "guide.workers.", 1): v for k, v in nets.items()}
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


class Checkpoint(Callback):
    """After every epoch, the trainer's state (``checkpoint.pt``) and its history
    (``history.csv``) in the run folder ``run_dir``: what ``--resume`` continues from."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)

    def on_epoch_end(self, trainer, record: dict) -> None:
        runs.save_torch(self.run_dir / runs.CHECKPOINT, trainer.state_dict())
        runs.write_csv(self.run_dir / runs.HISTORY, trainer.history)
