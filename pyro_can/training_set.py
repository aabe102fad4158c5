"""The training items as minibatches: their tensors moved to the device once, and each minibatch
(``batch.Batch``: the items with all their answers) cut from them by index. The trainer steps on
these; the posterior, DivideMix's split and the diagnostics read the same batches."""
from __future__ import annotations

import numpy as np
import torch

from .batch import Batch
from .data import Dataset


class TrainingSet:
    """Training tensors on the device once, and minibatches cut from them by index. For images
    trained end to end, ``x`` holds image rows and a batch's pixels come from ``data.pixels``."""

    def __init__(self, data: Dataset, device: torch.device):
        self.pixels = data.pixels
        self.x = torch.as_tensor(data.x_train, device=device)
        self.labels = torch.as_tensor(data.ann_labels, device=device)
        self.ann_item = torch.as_tensor(data.ann_item, device=device)
        self.ann_worker = torch.as_tensor(data.ann_worker, device=device)
        self.max_answers = 1
        self.num_items, self.num_annotations = data.num_items, data.num_annotations
        self.identity = not data.has_crowd
        if not self.identity:  # item -> its annotation rows, padded with -1
            counts = np.bincount(data.ann_item, minlength=data.num_items)
            table = np.full((data.num_items, max(1, counts.max())), -1)
            order = np.argsort(data.ann_item, kind="stable")
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            slot = np.arange(len(order)) - np.repeat(starts, counts)
            table[data.ann_item[order], slot] = order
            self.table = torch.as_tensor(table, device=device)
            self.max_answers = table.shape[1]

    def batch(self, items: torch.Tensor, x: torch.Tensor | None = None) -> Batch:
        """The minibatch of ``items``; ``x``: their inputs when the caller already has them (an
        augmented image batch), else cut from the set (images: read with the centre view)."""
        if x is None:
            x = self.x[items]
            if self.pixels is not None:
                x = torch.cat(list(self.pixels.predict_batches(x.cpu().numpy(), "train")))
                x = x.to(items.device)
        if self.identity:
            ann, ann_item = items, torch.arange(len(items), device=items.device)
        else:
            rows = self.table[items]
            keep = rows >= 0
            ann = rows[keep]
            ann_item = torch.arange(len(items), device=items.device).unsqueeze(1).expand_as(rows)[keep]
        return Batch(x=x, labels=self.labels[ann], ann_item=ann_item, item_idx=items,
                     ann_idx=ann, num_items=self.num_items, num_annotations=self.num_annotations,
                     one_answer_each=self.identity, max_answers=self.max_answers,
                     ann_worker=self.ann_worker[ann])
