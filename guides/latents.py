"""The part every CAN guide shares (``LatentGuide``): sample y and z from the parameters the guide
computed.

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
from pyro_can.noisy_label_model import GuideBase


class LatentGuide(GuideBase):
    """q(y) per item and q(z) per answer, from ``posterior(batch)`` (a subclass's): y's logits
    and z's loc and scale, one row per answer (None without z). ``workers``: the model's
    worker-quality parameters (``--quality-prior worker``), whose q(μ_w), q(d_w) the guide
    samples, or None."""

    def __init__(self, method, schedule, model):
        super().__init__()
        self.workers = getattr(model, "workers", None)
        self.quality_dim, self.kl_z_weight = method.quality_dim, method.kl_z_weight
        self.categorical_y = method.categorical_y
        self.discrete_y, self.elbo = schedule.discrete_y, schedule.elbo

    @staticmethod
    def score_baseline(schedule, num_classes: int) -> ScoreBaseline | None:
        """The neural baseline of ``--elbo tracegraph --baseline nn``, owned by the guide (built
        last, after the guide's own networks)."""
        if schedule.elbo == "tracegraph" and schedule.baseline == "nn":
            return ScoreBaseline(num_classes)
        return None

    def posterior(self, batch):  # pragma: no cover - every guide defines it
        raise NotImplementedError

    def forward(self, batch, hp):
        self.sample_latents(batch, hp, *self.posterior(batch))

    def y_infer(self, y_logits) -> dict:
        """The ``infer`` options of q's y site for the configured estimator."""
        if self.elbo == "enum":
            return {"enumerate": "parallel"}
        if self.elbo == "tracegraph":
            baseline = {"use_decaying_avg_baseline": True}
            if self.baseline is not None:
                baseline.update(nn_baseline=self.baseline, nn_baseline_input=y_logits)
            return {"baseline": baseline}
        return {}

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

    def sample_latents(self, batch, hp, y_logits, z_loc=None, z_scale=None):
        """y per item; z per answer (``z_loc``/``z_scale``: one row per answer, placed in the
        batch's answers × items table, padding at N(0, 1) and masked out)."""
        tau = torch.as_tensor(hp.tau, dtype=y_logits.dtype, device=y_logits.device)
        if self.workers is not None and z_loc is not None:  # --quality-prior worker
            wq = self.workers
            with pyro.plate("workers", wq.num_workers + 1):
                pyro.sample("worker_quality", dist.Normal(wq.loc, wq.scale()).to_event(1))
                pyro.sample("worker_strength", dist.Normal(wq.copy_offset, wq.offset_scale()))
            z_loc = z_loc + wq.loc[self.answer_workers(batch, y_logits.device)]
        with items_plate(batch):
            pyro.sample("y", y_dist(y_logits, tau, self.categorical_y, self.discrete_y),
                        infer=self.y_infer(y_logits))
            if z_loc is None:
                return
            with answers_plate(batch), poutine.scale(scale=self.kl_z_weight):
                pyro.sample("z", dist.Normal(batch.to_table(z_loc), batch.to_table(z_scale, 1.0))
                            .to_event(1))
