"""The ELBO's terms on training items, recorded beside the test scores on the epochs a run scores
(``evaluation.Evaluation``): the reconstruction log-likelihood of the answers and the closed-form
KL of y and z, each per item, from one trace of the guide and the model. They say which part of
the objective moves (a KL that collapses to 0, a reconstruction that stalls), which the loss
alone, one number, does not."""
from __future__ import annotations

import torch
from pyro import poutine
from pyro.distributions.kl import kl_divergence
from pyro.distributions.util import scale_and_mask

from . import registry
from .batch import Batch, StepParams


@torch.no_grad()
def elbo_terms(model, guide, batch: Batch, hp: StepParams, regularizer=None) -> dict:
    """Per-item ELBO terms from one trace: reconstruction log-likelihood, closed-form KL of y and
    z (unscaled by any KL weight), and the regularizer's value (``regularizer``: a function of
    the batch, e.g. ``Objective.regularizer_loss``; 0 without one)."""
    guide_tr = poutine.trace(guide).get_trace(batch, hp)
    model_tr = poutine.trace(poutine.replay(model, trace=guide_tr)).get_trace(batch, hp)
    b = len(batch.item_idx)  # every site sits in the items plate: per-item sums over b items
    terms = {"recon": 0.0, "kl_y": 0.0, "kl_z": 0.0, "mi": 0.0}
    for name, site in model_tr.nodes.items():
        if site["type"] != "sample":
            continue
        if name == "ytilde":
            lp = scale_and_mask(site["fn"].log_prob(site["value"]), mask=site["mask"])
            terms["recon"] = float(lp.sum()) / b
        elif name in ("y", "z") and name in guide_tr.nodes:
            kl = kl_divergence(guide_tr.nodes[name]["fn"], site["fn"])
            terms[f"kl_{name}"] = float(scale_and_mask(kl, mask=site["mask"]).sum()) / b
    if regularizer is not None:
        terms["mi"] = float(regularizer(batch))
    terms["neg_elbo"] = -terms["recon"] + terms["kl_y"] + terms["kl_z"]
    return terms


def diagnose(trainer, hp: StepParams) -> dict:
    """``elbo_terms`` of the trainer's first training items (2,000; one minibatch of images, as
    a forward pass over 2,000 images at once would not fit) at schedule values ``hp``; nothing
    for a method without latent variables. The trace draws from the training's random stream."""
    if not registry.METHODS[trainer.cfg.method].latent:
        return {}
    train_set, loss = trainer.train_set, trainer.loss
    cap = trainer.cfg.batch_size if train_set.pixels is not None else 2000
    items = torch.arange(min(train_set.num_items, cap), device=trainer.device)
    regularizer = loss.regularizer_loss if loss.regularizer is not None else None
    with torch.no_grad():  # the step's classifier logits and q, as a step computes them
        batch = loss.step_batch(train_set.batch(items))
    return elbo_terms(*loss.programs, batch, hp, regularizer)
