"""Small images held once as a uint8 tensor and augmented a whole batch at a time.

CIFAR-sized data (32×32) is small enough to decode once and keep in memory — on the GPU when
training there — so the accelerator is never starved by per-image PIL work in DataLoader workers.
:class:`TensorPixels` has the interface of :class:`pyro_can.datasets.pixels.Pixels` (``batches`` and
``predict_batches`` over rows of a split), so the trainer, validation splits, ``--crowd repeat`` and
the run folder treat both alike. The training view is the CIFAR protocol's augmentation, a random
32×32 crop of the image zero-padded by 4 and a random horizontal flip, drawn per image but applied
to the batch as tensor indexing (:func:`augment`). Normalization is the saved predictor's own
:class:`~pyro_can.predictor.PixelNormalize` with the per-channel mean and standard deviation of the
training pixels, so training and ``predict`` scale pixels by one piece of code.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..predictor import PixelNormalize

PAD = 4
PREDICT_BATCH = 1024


def augment(x: torch.Tensor, generator: torch.Generator | None = None, pad: int = PAD
            ) -> torch.Tensor:
    """Random crop (of the image zero-padded by ``pad``) and random horizontal flip, one draw per
    image of the (B, C, H, W) batch ``x``; same shape and dtype out. The draws come from
    ``generator`` (on ``x``'s device) or torch's global RNG, so runs are seeded and resumable."""
    b, _, h, w = x.shape
    kw = {"device": x.device, "generator": generator}
    dy = torch.randint(0, 2 * pad + 1, (b,), **kw)
    dx = torch.randint(0, 2 * pad + 1, (b,), **kw)
    flip = torch.rand(b, **kw) < 0.5
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (B, 1, H, 1)
    cols = torch.arange(w, device=x.device).expand(b, w)
    cols = torch.where(flip[:, None], cols.flip(1), cols) + dx[:, None]
    cols = cols[:, None, None, :]  # (B, 1, 1, W)
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    chan = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, chan, rows, cols]


@dataclass
class TensorPixels:
    """Training and test images as (N, 3, H, W) uint8 tensors; ``to(device)`` moves them once."""

    train: torch.Tensor
    test: torch.Tensor
    channels_last: bool = False  # set on CUDA: the convolutions' fast layout
    scale: PixelNormalize = field(init=False)  # the training pixels' mean and std per channel

    def __post_init__(self):
        for name, t in (("train", self.train), ("test", self.test)):
            if t.dtype != torch.uint8 or t.dim() != 4 or t.shape[1] != 3:
                raise ValueError(f"TensorPixels.{name}: expected (N, 3, H, W) uint8, got "
                                 f"{tuple(t.shape)} {t.dtype}")
        pixels = self.train.double().div_(255).transpose(0, 1).flatten(1)
        self.scale = PixelNormalize(pixels.mean(1).float(), pixels.std(1).clamp_min(1e-3).float())

    @property
    def mean(self) -> torch.Tensor:
        return self.scale.mean

    @property
    def std(self) -> torch.Tensor:
        return self.scale.std

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.shape[1:])

    def to(self, device: torch.device) -> "TensorPixels":
        """The images on ``device`` (a no-op when they are there already)."""
        if self.train.device != device:
            self.train, self.test = self.train.to(device), self.test.to(device)
            self.scale.to(device)
            self.channels_last = device.type == "cuda"
        return self

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        x = self.scale(x)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def batches(self, split: str, rows: list[list[int]], view: str):
        """Image batches of ``rows`` (``rows[k]``: the rows of batch k) as normalized float
        tensors on the images' device; ``view`` "train" draws the augmentation."""
        images = self.train if split == "train" else self.test
        for r in rows:
            x = images[torch.as_tensor(r, device=images.device).long()]
            if view == "train":
                x = augment(x)
            yield self.normalize(x)

    def predict_batches(self, rows: np.ndarray, split: str):
        """``rows`` of ``split`` in chunks, unaugmented."""
        rows = [int(r) for r in np.asarray(rows).reshape(-1)]
        return self.batches(split, [rows[i:i + PREDICT_BATCH]
                                    for i in range(0, len(rows), PREDICT_BATCH)], "centre")
