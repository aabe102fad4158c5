"""The part every CAN guide shares (``LatentGuide``): sample y and z from the parameters the guide
computed.

The guides only describe q; the λ regularizer on q (``pyro_can/regularizers.py``) and the α_t
weighting (Eq. 7) are terms of the objective (``pyro_can/objective.py``), which reads q's
parameters through each guide's ``posterior``.

q(y) is the discrete distribution whatever the estimator (``--elbo``); the objective relaxes it,
enumerates it or sets the score function's baselines on its site, from outside
(``objective.estimator_programs``).
"""
from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine

from pyro_can.batch import answers_plate, items_plate
from pyro_can.distributions import label_dist
from pyro_can.noisy_label_model import GuideBase
from pyro_can.worker_quality import WorkerQuality


class LatentGuide(GuideBase):
    """q(y) per item and q(z) per answer, from ``posterior(batch)`` (a subclass's): y's logits
    and z's loc and scale, one row per answer (None without z). ``workers``: with ``--quality-prior
    worker``, the per-worker variational parameters (``pyro_can/worker_quality.py``: q(μ_w),
    q(d_w) and the trust t_w) for the model's ``num_workers`` workers, or None."""

    def __init__(self, method, model):
        super().__init__()
        self.workers = (WorkerQuality(model.num_workers, method.quality_dim)
                        if method.worker_quality else None)
        self.quality_dim, self.kl_z_weight = method.quality_dim, method.kl_z_weight
        self.categorical_y = method.categorical_y

    def posterior(self, batch):  # pragma: no cover - every guide defines it
        raise NotImplementedError

    def forward(self, batch, hp):
        """q's sites, from the step's ``posterior(batch)`` (``Batch.posterior_of``)."""
        self.sample_latents(batch, *batch.posterior_of(self))

    def answer_workers(self, batch, device) -> torch.Tensor:
        """Each answer's slot in ``workers`` (``--quality-prior worker``)."""
        return self.workers.index(batch.ann_worker, len(batch.ann_idx), device)

    def answer_trust(self, batch, device) -> torch.Tensor | None:
        """Each answer's weight in q(y | x, ỹ): its worker's trust t_w (``--quality-prior
        worker``) times its weight in the likelihood (``Batch.ann_weight``, mixup: the Bayes
        posterior of a tempered answer counts its evidence that much), or None for weight 1."""
        trust = batch.ann_weight
        if self.workers is not None:
            t = self.workers.trust()[self.answer_workers(batch, device)]
            trust = t if trust is None else t * trust
        return trust

    def sample_latents(self, batch, y_logits, z_loc=None, z_scale=None):
        """y per item; z per answer (``z_loc``/``z_scale``: one row per answer, placed in the
        batch's answers × items table, padding at N(0, 1) and masked out)."""
        if self.workers is not None and z_loc is not None:  # --quality-prior worker
            wq = self.workers
            with pyro.plate("workers", wq.num_workers + 1):
                pyro.sample("worker_quality", dist.Normal(wq.loc, wq.scale()).to_event(1))
                pyro.sample("worker_strength", dist.Normal(wq.copy_offset, wq.offset_scale()))
            z_loc = z_loc + wq.loc[self.answer_workers(batch, y_logits.device)]
        with items_plate(batch):
            pyro.sample("y", label_dist(y_logits, self.categorical_y))
            if z_loc is None:
                return
            with answers_plate(batch), poutine.scale(scale=self.kl_z_weight):
                pyro.sample("z", dist.Normal(batch.to_table(z_loc), batch.to_table(z_scale, 1.0))
                            .to_event(1))
