"""A config's data: the loader its ``--data`` names, then the splits and ``--crowd``, in one
order for every consumer (``fit``, ``tune``, ``compare``, and ``RunFolder.data`` when a finished
run's inputs are needed again)."""
from __future__ import annotations

import numpy as np

from . import distributed, registry
from .config import Config
from .data import Dataset, check_split, validation_from_test, validation_split
from .sections import loader_sections


def load_data(cfg: Config) -> tuple[Dataset, Dataset | None]:
    """The training set (after --crowd) and the optional noisy-label validation split. The
    loader and the splits read the config's data, image and runtime sections only."""
    src = loader_sections(cfg)
    data_opts, seed = src.data, src.runtime.seed
    loader = registry.lookup("data set", registry.DATA, data_opts.data)
    with distributed.main_first():  # under torchrun, rank 0 builds any feature cache alone
        data = loader(src.data, src.images, src.runtime)
    split_seed = seed if data_opts.val_from_test_seed is None else data_opts.val_from_test_seed
    data = validation_from_test(data, data_opts.val_from_test, split_seed)
    if data_opts.train_fraction < 1.0:
        keep = np.random.default_rng([seed, 4]).permutation(data.num_items)
        data = data.subset(np.sort(keep[:max(1, round(data_opts.train_fraction * data.num_items))]))
    data = check_split(data.with_crowd(data_opts.crowd, np.random.default_rng([seed, 3])))
    return validation_split(data, data_opts.val_fraction, seed)
