"""The torch device a run trains and scores on, from ``--device`` (``auto``: CUDA when there is
one). Read by the trainer, the image feature cache and the estimator, each of which needs no more
than this."""
from __future__ import annotations

import torch

from .errors import TrainingError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TrainingError("--device cuda asked for, but no CUDA device is available")
    return torch.device(name)
