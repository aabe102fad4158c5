"""The pixels of an image data set trained end to end (the backbone learns with the heads).

Its :class:`pyro_can.data.Dataset` keeps one number per item in ``x_train`` / ``x_test``: the row of
the item's image in ``train_paths`` / ``test_paths``. Everything that slices data sets by item
(validation splits, ``--train-fraction``, ``--crowd repeat``) therefore works unchanged, and the
trainer turns rows into image batches here: through a ``DataLoader`` with workers, pinned memory
and the paper's training augmentation while training, and through deterministic views (centre
crop, or the six-crop test) when predicting.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import backbones
from .image_files import ImageFiles, raise_unreadable

PREDICT_BATCH = {"centre": 64, "six": 16}


@dataclass
class Pixels:
    train_paths: list[str]
    test_paths: list[str]
    test_view: str = "centre"  # "centre" | "six" (--test-crops 6)
    workers: int = 0
    pin_memory: bool = False

    def paths(self, split: str) -> list[str]:
        return self.train_paths if split == "train" else self.test_paths

    def batches(self, split: str, rows: list[list[int]], view: str):
        """Image tensors of each batch in ``rows`` (``rows[k]``: the rows of the k-th batch), in
        order, read ahead by the DataLoader's workers; an unreadable image raises one DataError
        naming its file."""
        paths = self.paths(split)
        data = ImageFiles(paths, backbones.VIEWS[view](), backbones.VIEW_SHAPES[view])
        loader = torch.utils.data.DataLoader(data, batch_sampler=rows, num_workers=self.workers,
                                             pin_memory=self.pin_memory)
        for x, idx, errors in loader:
            raise_unreadable(paths, idx, errors)
            yield x

    def predict_batches(self, rows: np.ndarray, split: str):
        """``rows`` of ``split`` in chunks, through the prediction view: the centre crop, or the
        six crops (``--test-crops 6``) for test images."""
        view = self.test_view if split == "test" else "centre"
        size = PREDICT_BATCH[view]
        rows = [int(r) for r in np.asarray(rows).reshape(-1)]
        return self.batches(split, [rows[i:i + size] for i in range(0, len(rows), size)], view)


def check_readable(paths: list[str]) -> None:
    """Open every image's header before a run starts, so a corrupt file is one clear error up
    front rather than a crash in the middle of an epoch."""
    from PIL import Image

    from ..errors import DataError

    for p in paths:
        try:
            with Image.open(p) as im:
                im.verify()
        except Exception as e:  # PIL.UnidentifiedImageError, truncated, missing
            raise DataError(f"{p}: cannot read image ({type(e).__name__}: {e})") from None
