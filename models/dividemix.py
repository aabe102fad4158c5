"""DivideMix (Li, Socher & Hoi, "DivideMix: Learning with Noisy Labels as Semi-supervised
Learning", ICLR 2020): two networks; after a cross-entropy warm-up, at the start of every epoch
each network's per-item loss on the training set is fitted with a two-component Gaussian mixture,
and an item's posterior under the low-loss component is its probability w_i of a clean label
(co-divide: each network is trained on the split its *peer* made, so that the two do not confirm
their own errors). Items with w_i above a threshold are the labeled set, the rest unlabeled; then
per minibatch:

* label co-refinement on the labeled items: the target is w·ỹ + (1 − w)·p(x), sharpened at
  temperature T (p the network's own prediction);
* label co-guessing on the unlabeled items: the mean of both networks' predictions, sharpened;
* MixMatch: every input and target mixed with a shuffled partner at λ ~ Beta(α, α),
  λ ← max(λ, 1 − λ); cross-entropy on the mixed labeled items, squared error on the mixed
  unlabeled ones weighted by λ_u (ramped up linearly over 16 epochs after the warm-up), and a
  penalty KL(uniform ‖ mean prediction) against collapsing onto a few classes.

The authors' defaults for CIFAR-10 are used: warm-up 10 epochs, threshold 0.5, T = 0.5, α = 4,
λ_u = 25 (their setting for high noise; ``--dividemix-*``), and their mixture fit (the losses
min-max scaled, 10 EM iterations, tolerance 1e-2, covariance floor 5e-4; scikit-learn's
``GaussianMixture``).

Departures. (1) Augmentation: the original averages predictions over two random crops and flips
of each image, and MixMatch mixes the augmented views. pyro-can's inputs are mostly feature
vectors, so there are no views to draw: each item is seen once, and mixup is the only
augmentation. (2) Both networks train in the same step (their code trains one, then the other,
each epoch), and the λ_u ramp moves by epoch rather than by step. (3) The shipped classifier is
the first network (the authors test with the mean of both). (4) One label per item: with several
crowd answers per item the Trainer asks for ``--crowd majority`` (or another pooling mode).

The per-epoch split is set by ``start_epoch``, which the Trainer calls before each epoch; it
depends only on the networks' weights then, so a resumed run recomputes it. A Pyro model with no
latent variables: the loss enters through ``pyro.factor``, scaled to the data set. Single-label
data only.
"""
from __future__ import annotations

import numpy as np
import pyro
import torch
from sklearn.mixture import GaussianMixture

from pyro_can.noisy_label_model import ModelBase

from .softmax_labels import answer_log_prob, require_softmax

SEARCH_SPACE = {"dividemix_lambda_u": (0.0, 50.0), "dividemix_threshold": (0.3, 0.8),
                "dividemix_warmup": (2, 30)}

RAMPUP_EPOCHS = 16  # the authors' linear ramp of λ_u after the warm-up


def clean_probability(losses: np.ndarray, seed: int = 0) -> np.ndarray:
    """Each item's posterior under the lower-mean component of a two-component Gaussian mixture
    fitted to its (min-max scaled) loss: the probability that its label is clean."""
    losses = np.asarray(losses, dtype=np.float64)
    span = losses.max() - losses.min()
    scaled = (losses - losses.min()) / (span if span > 0 else 1.0)
    gmm = GaussianMixture(n_components=2, max_iter=10, tol=1e-2, reg_covar=5e-4,
                          random_state=seed)
    gmm.fit(scaled[:, None])
    return gmm.predict_proba(scaled[:, None])[:, gmm.means_.argmin()]


def sharpen(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    p = probs ** (1.0 / temperature)
    return p / p.sum(-1, keepdim=True)


def mixmatch_loss(net, x_l, t_l, x_u, t_u, alpha: float, lambda_u: float) -> torch.Tensor:
    """MixMatch's loss of ``net`` on labeled inputs ``x_l`` with targets ``t_l`` and unlabeled
    ``x_u`` with guessed targets ``t_u``: mixup of all of them, cross-entropy on the labeled
    part, λ_u · squared error on the unlabeled part, and the uniform-prior penalty."""
    x, t = torch.cat([x_l, x_u]), torch.cat([t_l, t_u])
    lam = float(torch.distributions.Beta(alpha, alpha).sample()) if alpha > 0 else 1.0
    lam = max(lam, 1.0 - lam)
    partner = torch.randperm(len(x), device=x.device)
    logits = net(lam * x + (1 - lam) * x[partner])
    target = lam * t + (1 - lam) * t[partner]
    n = len(x_l)
    loss = logits.new_zeros(())
    if n:
        loss = loss - answer_log_prob(logits[:n], target[:n]).mean()
    if len(x_u) and lambda_u:
        loss = loss + lambda_u * ((torch.softmax(logits[n:], -1) - target[n:]) ** 2).mean()
    mean_pred = torch.softmax(logits, -1).mean(0)
    prior = torch.full_like(mean_pred, 1.0 / len(mean_pred))
    return loss + (prior * torch.log(prior / mean_pred)).sum()


class DivideMixModel(ModelBase):
    """The two networks, ``classifier`` (shipped) and ``peer``, and the epoch's co-divide:
    ``clean`` holds each network's per-item clean probabilities (None during the warm-up)."""

    def __init__(self, method, schedule, num_classes: int, input_net, num_workers: int = 0):
        super().__init__()
        require_softmax(method)
        self.classifier = input_net(num_classes)
        self.peer = input_net(num_classes)
        o = method.dividemix
        self.warmup, self.threshold = o.dividemix_warmup, o.dividemix_threshold
        self.lambda_u, self.temperature = o.dividemix_lambda_u, o.dividemix_temperature
        self.alpha = o.dividemix_alpha
        self.epoch, self.clean = 0, None

    @torch.no_grad()
    def item_losses(self, net, train_set, chunk: int = 4096) -> np.ndarray:
        """Cross-entropy of every training item's label under ``net`` (eval mode)."""
        was_training = net.training
        net.eval()
        out = []
        for items in torch.arange(train_set.num_items, device=train_set.x.device).split(chunk):
            b = train_set.batch(items)
            out.append(-answer_log_prob(net(b.x), b.labels).float().cpu())
        net.train(was_training)
        return torch.cat(out).numpy()

    def start_epoch(self, epoch: int, train_set) -> None:
        """Co-divide: each network's loss split into clean and noisy by its mixture."""
        self.epoch = epoch
        if epoch < self.warmup:
            self.clean = None
            return
        device = train_set.x.device
        self.clean = tuple(torch.as_tensor(clean_probability(self.item_losses(net, train_set)),
                                           dtype=torch.float32, device=device)
                           for net in (self.classifier, self.peer))

    def forward(self, batch, hp):
        y = batch.labels  # (B, C) one-hot
        if self.clean is None:  # the warm-up: cross-entropy on both networks
            loss = sum(-answer_log_prob(net(batch.x), y).mean()
                       for net in (self.classifier, self.peer))
        else:
            ramp = np.clip((self.epoch - self.warmup) / RAMPUP_EPOCHS, 0.0, 1.0)
            nets = (self.classifier, self.peer)
            with torch.no_grad():  # co-guessing: the mean of both networks, sharpened
                guess = sum(torch.softmax(net(batch.x), -1) for net in nets) / 2
            loss = 0.0
            for net, peer_split in ((self.classifier, self.clean[1]),
                                    (self.peer, self.clean[0])):
                w = peer_split[batch.item_idx]
                labeled = w > self.threshold
                with torch.no_grad():  # co-refinement of the labeled items' labels
                    own = torch.softmax(net(batch.x[labeled]), -1)
                    wl = w[labeled, None]
                    t_l = sharpen(wl * y[labeled] + (1 - wl) * own, self.temperature)
                    t_u = sharpen(guess[~labeled], self.temperature)
                loss = loss + mixmatch_loss(net, batch.x[labeled], t_l, batch.x[~labeled], t_u,
                                            self.alpha, self.lambda_u * ramp)
        pyro.factor("dividemix", -batch.num_items * loss)
