"""Read the guide's posterior for every training item: q(y | x, ỹ), q(z | x, ỹ_r), and the
classifier's prior p_θ(y | x). Works from a trace of the guide, so any registered guide works."""
from __future__ import annotations

import numpy as np
import torch
from pyro import poutine

from . import registry
from .batch import StepParams
from .distributions import class_probs


@torch.no_grad()
def posterior(trainer, chunk: int = 4096) -> dict:
    """Arrays over the trainer's training set:

    ``q_y`` (N, C) posterior probabilities of the clean label, ``prior`` (N, C) classifier
    probabilities, ``z_loc``/``z_scale`` (R, K) quality embedding per annotation (K = 0 when the
    run has no z), and the annotations themselves (``ann_item``, ``ann_labels``, ``ann_worker``).
    Methods without latent variables get ``q_y`` = ``prior``."""
    data, ts = trainer.data, trainer.train_set
    latent = registry.METHODS[trainer.cfg.method].latent
    q_y, prior, z_loc, z_scale, ann_idx = [], [], [], [], []
    programs = (trainer.model, trainer.guide)
    for program in programs:
        program.eval()
    if ts.pixels is not None:  # images trained end to end: a chunk is read into memory at once
        chunk = min(chunk, 64)
    try:
        for start in range(0, ts.num_items, chunk):
            items = torch.arange(start, min(start + chunk, ts.num_items), device=trainer.device)
            batch = ts.batch(items)
            logits = batch.logits(trainer.model.classifier)
            prior.append(class_probs(logits, trainer.cfg.categorical_y).cpu())
            if not latent:
                q_y.append(prior[-1])
                continue
            tr = poutine.trace(trainer.guide).get_trace(batch, StepParams(lam=0.0))
            fn = tr.nodes["y"]["fn"]  # ConcreteCategorical, or Independent(ConcreteBernoulli)
            q_logits = fn.logits if trainer.cfg.categorical_y else fn.base_dist.logits
            q_y.append(class_probs(q_logits, trainer.cfg.categorical_y).cpu())
            if "z" in tr.nodes:
                fn = tr.nodes["z"]["fn"].base_dist  # (A, B, K) answers × items table
                z_loc.append(batch.from_table(fn.loc).cpu())
                z_scale.append(batch.from_table(fn.scale).cpu())
                ann_idx.append(batch.ann_idx.cpu())
    finally:
        for program in programs:
            program.train()
    k = z_loc[0].shape[1] if z_loc else 0
    loc = np.zeros((data.num_annotations, k), np.float32)
    scale = np.zeros_like(loc)
    if z_loc:  # batches list annotations item by item; put them back in the data's order
        order = torch.cat(ann_idx).numpy()
        loc[order], scale[order] = torch.cat(z_loc).numpy(), torch.cat(z_scale).numpy()
    return {
        "q_y": torch.cat(q_y).numpy(), "prior": torch.cat(prior).numpy(),
        "z_loc": loc, "z_scale": scale,
        "ann_item": data.ann_item, "ann_labels": data.ann_labels, "ann_worker": data.ann_worker,
    }


def answer_trust(q_y: np.ndarray, ann_item: np.ndarray, ann_labels: np.ndarray,
                 single_label: bool) -> np.ndarray:
    """Per annotation, the posterior probability that its label is right (the formula is
    explained in ``pyro_can/inspection.py``): single-label, q of the answered class normalized
    over classes; multi-label, the geometric mean over classes of the agreement
    ỹ·q + (1 − ỹ)(1 − q)."""
    eps = 1e-12
    qa = q_y[ann_item].astype(np.float64)
    y = ann_labels.astype(np.float64)
    if single_label:
        return (qa * y).sum(1) / np.maximum(qa.sum(1), eps)
    agree = y * qa + (1.0 - y) * (1.0 - qa)
    return np.exp(np.log(np.clip(agree, eps, 1.0)).mean(1))


def item_trust(q_y: np.ndarray, ann_item: np.ndarray, ann_labels: np.ndarray,
               single_label: bool) -> np.ndarray:
    """Per item, the mean over its annotations of ``answer_trust`` (NaN for an item without
    any): the trust ``inspect``, ``labels`` and ``posterior.npz`` report."""
    per_ann = answer_trust(q_y, ann_item, ann_labels, single_label)
    n = len(q_y)
    counts = np.bincount(ann_item, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):  # an item without answers: NaN
        return np.bincount(ann_item, weights=per_ann, minlength=n) / counts
