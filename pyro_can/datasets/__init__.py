"""Image data sets (and crowd-labelled feature vectors) in their published on-disk layouts.

Every loader has the registry's signature ``loader(data, images, runtime) -> Dataset``: it is
handed the config's ``DataSection`` (``--root``, ``--labels``, ``--test``, ...), ``ImageSection``
(``--arch``, ``--weights``, ``--feature-cache``, ...) and ``RuntimeSection`` (seed, device) —
``sections.loader_sections(cfg)`` — and nothing else of the config. Image loaders return features
of the frozen backbone ``--arch`` (cached, see ``images``), or the images themselves for
end-to-end training; each module's ``items()`` gives the raw item list (image paths, 0/1 labels,
split). Layouts and choices: ``docs/datasets.md``.
"""
from .amt import load_amt
from .cifar10n import load_cifar10n
from .crowd import load_crowd
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
    "crowd": load_crowd,
}

__all__ = ["LOADERS", "ImageItems", "load_amt", "load_cifar10n", "load_crowd", "load_folder", "load_sd4", "load_voc07",
           "load_voc12", "load_web"]
