"""What runs after each training epoch, as callbacks: ``Trainer.run`` hands every epoch's record
to each in turn (on rank 0 under torchrun). The evaluation (``evaluation.Evaluation``) is the
first and adds its scores to the record; the run folder's checkpoint (``checkpoint.Checkpoint``)
and a progress bar are others. Keeping them out of the loop keeps the loop the loop: it trains,
and the callbacks decide what is scored, saved and shown, and when."""
from __future__ import annotations

from typing import Callable


class Callback:
    """Called after every epoch with the trainer and the epoch's record (``history``'s last
    entry: epoch, phase, loss, τ, α, learning rate, and the scores of a scored epoch). A
    callback may add to the record; the callbacks after it see what it added."""

    def on_epoch_end(self, trainer, record: dict) -> None:
        return None


class EpochFunction(Callback):
    """A plain function ``on_epoch(trainer, record)`` as a callback."""

    def __init__(self, function: Callable[[object, dict], None]):
        self.function = function

    def on_epoch_end(self, trainer, record: dict) -> None:
        self.function(trainer, record)


def as_callbacks(on_epoch) -> list[Callback]:
    """``Trainer.run``'s ``on_epoch`` as a list of callbacks: None, a ``Callback``, a function
    ``on_epoch(trainer, record)``, or a list or tuple of them (None entries left out), in the
    order given."""
    if on_epoch is None:
        return []
    if isinstance(on_epoch, (list, tuple)):
        return [callback for item in on_epoch for callback in as_callbacks(item)]
    if isinstance(on_epoch, Callback):
        return [on_epoch]
    return [EpochFunction(on_epoch)]
