"""Reading image files into tensors, for a ``torch.utils.data.DataLoader``: the feature cache
(``images.py``), end-to-end training (``pixels.py``) and ``pyro-can predict`` read images through
this one dataset, which reports an unreadable file as one clean ``DataError``."""
from __future__ import annotations

import torch

from ..errors import DataError


class ImageFiles(torch.utils.data.Dataset):
    """Images at ``paths`` through ``transform``. An unreadable file does not raise inside a
    DataLoader worker: the item comes back with an error text, and the caller raises one clean
    DataError naming the file."""

    def __init__(self, paths: list[str], transform, shape: tuple[int, ...]):
        self.paths, self.transform, self.shape = list(paths), transform, shape

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        from PIL import Image

        try:
            with Image.open(self.paths[i]) as im:
                img = im.convert("RGB")
            return self.transform(img), i, ""
        except Exception as e:  # PIL.UnidentifiedImageError, truncated files, missing files
            return torch.zeros(self.shape), i, f"{type(e).__name__}: {e}"


def raise_unreadable(paths, idx, errors) -> None:
    for i, err in zip(idx.tolist(), errors):
        if err:
            raise DataError(f"{paths[i]}: cannot read image ({err})")
