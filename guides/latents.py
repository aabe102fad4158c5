"""The part every CAN guide shares: sample y and z from the parameters the guide computed.

The guides only describe q; the λ regularizer on q (``pyro_can/regularizers.py``) and the α_t
weighting (Eq. 7) are terms of the objective (``pyro_can/objective.py``), which reads q's
parameters through each guide's ``posterior``.

How y's site is sampled follows ``--elbo``: relaxed and reparameterized (meanfield, trace), the
discrete distribution with a score-function gradient and Pyro's baselines (tracegraph), or the
discrete distribution enumerated in parallel (enum, as ``config_enumerate`` would mark it).
"""
from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine

from pyro_can.batch import answers_plate, items_plate
from pyro_can.distributions import y_dist
from pyro_can.nets import ScoreBaseline


def build_baseline(cfg, num_classes: int) -> dict:
    """The neural baseline of ``--elbo tracegraph --baseline nn``, owned by the guide."""
    if cfg.elbo == "tracegraph" and cfg.baseline == "nn":
        return {"baseline": ScoreBaseline(num_classes)}
    return {}


def prior_judgement(nets, batch, cfg) -> torch.Tensor:
    """Logits of p = sigmoid f_φ(x): the guide's own net (``separate``) or the classifier's
    forward pass reused with its gradient stopped (``shared``, the default: one forward per step).

    The stop holds whatever the prior (``--prior uniform`` changes the model's prior and nothing
    else): the classifier learns from the KL term to q, never from the guide's side of it."""
    if cfg.prior_judgement == "separate":
        return batch.logits(nets["prior_judgement"])
    return batch.logits(nets["classifier"]).detach()


def y_infer(nets, cfg, y_logits) -> dict:
    """The ``infer`` options of q's y site for the configured estimator."""
    if cfg.elbo == "enum":
        return {"enumerate": "parallel"}
    if cfg.elbo == "tracegraph":
        baseline = {"use_decaying_avg_baseline": True}
        if cfg.baseline == "nn":
            baseline.update(nn_baseline=nets["baseline"], nn_baseline_input=y_logits)
        return {"baseline": baseline}
    return {}


def answer_workers(nets, batch, device) -> torch.Tensor:
    """Each answer's slot in ``nets["workers"]`` (``--quality-prior worker``)."""
    return nets["workers"].index(batch.ann_worker, len(batch.ann_idx), device)


def answer_trust(nets, batch, device) -> torch.Tensor | None:
    """Each answer's weight t_w in q(y | x, ỹ) (``--quality-prior worker``), else None."""
    if "workers" not in nets:
        return None
    return nets["workers"].trust()[answer_workers(nets, batch, device)]


def sample_latents(nets, batch, hp, cfg, y_logits, z_loc=None, z_scale=None):
    """y per item; z per answer (``z_loc``/``z_scale``: one row per answer, placed in the batch's
    answers × items table, padding at N(0, 1) and masked out)."""
    tau = torch.as_tensor(hp.tau, dtype=y_logits.dtype, device=y_logits.device)
    if "workers" in nets and z_loc is not None:  # --quality-prior worker
        wq = nets["workers"]
        with pyro.plate("workers", wq.num_workers + 1):
            pyro.sample("worker_quality", dist.Normal(wq.loc, wq.scale()).to_event(1))
            pyro.sample("worker_strength", dist.Normal(wq.copy_offset, wq.offset_scale()))
        z_loc = z_loc + wq.loc[answer_workers(nets, batch, y_logits.device)]
    with items_plate(batch):
        pyro.sample("y", y_dist(cfg, tau, y_logits), infer=y_infer(nets, cfg, y_logits))
        if z_loc is None:
            return
        with answers_plate(batch), poutine.scale(scale=cfg.kl_z_weight):
            pyro.sample("z", dist.Normal(batch.to_table(z_loc), batch.to_table(z_scale, 1.0))
                        .to_event(1))
