"""The trained classifier as one plain ``torch.nn`` module: preprocessing, classifier, class
probabilities. It is what a run folder saves (``model.pt``), what ``predict`` runs and what
``export`` writes, so a new row is scored exactly as the training rows were seen.

It holds no Pyro and nothing of pyro-can but ``nn.Linear``/``nn.ReLU`` layers, torchvision's ResNet
for image runs, and the normalization buffers, so its TorchScript and ONNX exports, and its state
dict, are usable without pyro-can.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


class Standardize(nn.Module):
    """``(x - mean) / std`` per feature, with the training rows' statistics
    (``feature_rows.standardization``; for the digits, mean 0 and std 16: pixels 0..16 scaled to
    [0, 1]). The estimator, which trains on ``X`` as given, saves mean 0 and std 1."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean), dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(np.asarray(std), dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class PixelNormalize(nn.Module):
    """Image pixels (B, 3, H, W), 0..255 as uint8 or float, to the network's input: scaled to
    [0, 1], then ``(x - mean) / std`` per channel (ImageNet's statistics for the ImageNet
    ResNets, the training pixels' for CIFAR runs; ``backbones``, ``tensor_images``). The
    geometric part of the view (resize, centre crop) is applied before, to the image."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean), dtype=torch.float32)
                             .reshape(1, 3, 1, 1))
        self.register_buffer("std", torch.as_tensor(np.asarray(std), dtype=torch.float32)
                             .reshape(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() / 255.0 - self.mean) / self.std


class Predictor(nn.Module):
    """Raw feature rows (B, D), or images (B, 3, H, W) for an image run, -> class probabilities
    (B, C): softmax of the classifier's logits
    for single-label data (one class per item; for a per-class sigmoid classifier this is its
    scores conditioned on exactly one class being on), per-class sigmoid for multi-label data.
    The same rule as ``CANClassifier.predict_proba``."""

    def __init__(self, preprocess: nn.Module, classifier: nn.Module, softmax: bool):
        super().__init__()
        self.preprocess = preprocess
        self.classifier = classifier
        self.softmax = softmax

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.preprocess(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.logits(x)
        if self.softmax:
            return torch.softmax(logits, dim=-1)
        return torch.sigmoid(logits)
