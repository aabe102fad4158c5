"""Image data sets (and crowd-labelled feature vectors) in their published on-disk layouts.

Every loader has the registry's signature ``loader(path=None, seed=0, noise_rate=0.0,
test_fraction=0.25, cfg=None) -> Dataset`` and reads ``cfg.root`` (``path`` when called without a
config). Image loaders return features of the frozen backbone ``cfg.arch`` (cached, see
``images``); each module's ``items()`` gives the raw item list (image paths, 0/1 labels, split)
for an end-to-end trainer. Layouts and choices: ``docs/datasets.md``.
"""
from .amt import load_amt
from .cifar10n import load_cifar10n
from .folder import load_folder
from .images import ImageItems
from .sd4 import load_sd4
from .voc import load_voc07, load_voc12
from .web import load_web

LOADERS = {
    "voc07": load_voc07,
    "voc12": load_voc12,
    "web": load_web,
    "amt": load_amt,
    "cifar10n": load_cifar10n,
    "sd4": load_sd4,
    "folder": load_folder,
}

__all__ = ["LOADERS", "ImageItems", "load_amt", "load_cifar10n", "load_folder", "load_sd4", "load_voc07",
           "load_voc12", "load_web"]
