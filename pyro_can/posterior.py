"""Read the guide's posterior for every training item: q(y | x, ỹ), q(z | x, ỹ_r), and the
classifier's prior p_θ(y | x). Works from a trace of the guide, so any registered guide works."""
from __future__ import annotations

import dataclasses

import numpy as np
import torch
from pyro import poutine

from . import registry
from .batch import StepParams
from .distributions import class_probs
from .training_set import TrainingSet


@torch.no_grad()
def posterior(trainer, chunk: int = 4096, data=None) -> dict:
    """Arrays over the trainer's training set, or over ``data``'s training items (a
    ``Dataset`` with the same classes, e.g. a fold the trainer never saw: the guide is amortized,
    so it reads any item's x and answers):

    ``q_y`` (N, C) posterior probabilities of the clean label, ``prior`` (N, C) classifier
    probabilities, ``z_loc``/``z_scale`` (R, K) quality embedding per annotation (K = 0 when the
    run has no z), and the annotations themselves (``ann_item``, ``ann_labels``, ``ann_worker``).
    Methods without latent variables get ``q_y`` = ``prior``."""
    if data is None or data is trainer.data:
        data, ts = trainer.data, trainer.train_set
    else:
        ts = TrainingSet(data, trainer.device)
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
            logits = trainer.model.classifier(batch.x)
            # the guide's prior judgement reads the same forward pass (Batch.classifier_logits)
            batch = dataclasses.replace(batch, classifier_logits=logits)
            prior.append(class_probs(logits, trainer.cfg.categorical_y).cpu())
            if not latent:
                q_y.append(prior[-1])
                continue
            tr = poutine.trace(trainer.guide).get_trace(batch, StepParams(lam=0.0))
            fn = tr.nodes["y"]["fn"]  # OneHotCategorical, or Independent(Bernoulli)
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


def given_trust(q_y: np.ndarray, given: np.ndarray, single_label: bool) -> np.ndarray:
    """Per item, the posterior probability that its *given* label ``given`` (N, C) (for crowd
    data the voted one) is right: ``answer_trust`` of that one label. On one answer per item it
    is ``item_trust``; on several it scores the label a user keeps or drops, where the mean over
    the answers scores how many of them are right (an item whose majority is right but one of
    three answers wrong ranks among the errors, as on music's crowd)."""
    return answer_trust(q_y, np.arange(len(q_y)), given, single_label)


def expected_wrong(trust: np.ndarray) -> float:
    """The posterior's own expected number of wrong labels, Σ (1 − trust) over the items that
    have one (NaN trust: an item without answers)."""
    return float(np.nansum(1.0 - trust))


def cross_fitted(cfg, data, folds: int = 3, seed: int = 0, on_fold=None) -> dict:
    """Out-of-sample posteriors: the items are split into ``folds`` folds (stratified by the
    given label where every class has enough items), and each fold's items are scored by a model
    trained with ``cfg`` on the other folds. Returns ``q_y`` and ``prior`` (N, C), as
    ``posterior`` does. No item's posterior comes from a model that fitted its labels, so an item whose wrong label
    the network memorized is no longer believed (in-sample posteriors trust what was fitted)."""
    from .ranking import item_folds
    from .train import Trainer

    q_y = np.zeros((data.num_items, data.num_classes), np.float32)
    prior = np.zeros_like(q_y)
    for f, (fit_idx, held_idx) in enumerate(item_folds(data, folds, seed)):
        if on_fold is not None:
            on_fold(f, folds)
        trainer = Trainer(cfg, data.subset(np.sort(fit_idx)))
        trainer.run()
        held = np.sort(held_idx)
        post = posterior(trainer, data=data.subset(held))
        q_y[held], prior[held] = post["q_y"], post["prior"]
    return {"q_y": q_y, "prior": prior}
