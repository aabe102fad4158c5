"""Scoring a classifier: its logits on rows of features or images, in eval mode, and the
per-class scores the metrics rank. The trainer's evaluation, the estimator, ``tune`` and the
cross-fitted scores all read a classifier this one way."""
from __future__ import annotations

import numpy as np
import torch

from .config import Config
from .distributions import class_probs


@torch.no_grad()
def predict_logits(classifier: torch.nn.Module, x, device, batch_size: int = 4096,
                   pixels=None, split: str = "test") -> np.ndarray:
    """Logits of ``x`` in eval mode; with ``pixels``, ``x`` holds rows of ``split``'s images,
    seen through the prediction view (centre crop, or the six crops for --test-crops 6)."""
    classifier.eval()
    if pixels is None:
        batches = (torch.as_tensor(x[i:i + batch_size]) for i in range(0, len(x), batch_size))
    else:
        batches = pixels.predict_batches(x, split)
    out = [classifier(b.to(device, non_blocking=True)).float().cpu() for b in batches]
    classifier.train()
    return torch.cat(out).numpy() if out else np.zeros((0, 0), dtype=np.float32)


def class_scores(cfg: Config, logits: np.ndarray) -> np.ndarray:
    """Per-class scores the metrics rank: softmax of the logits when the classifier is a
    categorical y's prior (``cfg.categorical_y``), per-class sigmoid otherwise."""
    return class_probs(torch.as_tensor(logits), cfg.categorical_y).numpy()
