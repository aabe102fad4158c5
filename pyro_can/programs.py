"""The method's model and guide (its two Pyro programs) as one ``torch.nn.ModuleDict``, built from
a resolved config and sized from the data (classes, input width, workers): what the optimizer
steps, the checkpoint saves and ``.to`` moves. The trainer builds it for a fit; the estimator
rebuilds it to load a saved run."""
from __future__ import annotations

import torch

from . import registry
from .config import Config
from .data import Dataset
from .errors import OptionError
from .sections import sections
from .worker_quality import count_workers


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
