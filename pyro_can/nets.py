"""Plain ``torch.nn`` networks used by the Pyro models and guides.

They hold no Pyro code so that they can be timed, reused and tested on their own; the models and
guides (``PyroModule``s, ``models/`` and ``guides/``) own them as submodules.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def input_net(method, images, in_dim: int, out_dim: int) -> nn.Module:
    """A network on the items' inputs (the classifier f_θ, a separate f_φ, ICNM's relevance
    head), from the method's section (``sections.MethodSection``: hidden widths, batch norm,
    dropout) and the image section (``sections.ImageSection``): the paper's MLP on feature
    vectors, or, for image data trained end to end (``--arch resnet18|resnet34`` without
    ``--feature-cache``), the backbone with that MLP as its head."""
    if images.end_to_end:
        from .backbones import FEATURE_DIM, ImageClassifier

        head = MLP(FEATURE_DIM[images.arch], out_dim, method.hidden_sizes, method.batch_norm,
                   method.dropout)
        return ImageClassifier(images.arch, images.weights, head, amp=images.amp)
    return MLP(in_dim, out_dim, method.hidden_sizes, method.batch_norm, method.dropout)


class MLP(nn.Module):
    """The paper's feature classifier D-1024-30-C (ReLU between layers, logits out).

    ``batch_norm``/``dropout`` give the crowd-learning papers' MLP (e.g. Annot-Mix's
    124-256-128-C on music: Linear, BatchNorm, ReLU, Dropout(0.5) per hidden layer), so their
    protocol can be run as published; both are off for the paper's net."""

    def __init__(self, in_dim: int, out_dim: int, hidden: tuple[int, ...] = (1024, 30),
                 batch_norm: bool = False, dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_dim
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*layers)

    @property
    def output_layer(self) -> nn.Linear:
        return self.net[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """p(ỹ | y, z): 2×(Linear, ReLU) then Linear; returns Bernoulli logits (the sigmoid lives in the
    distribution, which is numerically safer than a Sigmoid layer)."""

    def __init__(self, num_classes: int, quality_dim: int, hidden: int = 128, kind: str = "mlp",
                 copy_init: float = 2.0, transition: bool = False):
        super().__init__()
        in_dim = num_classes + quality_dim
        if kind == "mlp":
            self.net = nn.Sequential(
                nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                nn.Linear(hidden, num_classes),
            )
        elif kind == "linear":
            self.net = nn.Linear(in_dim, num_classes)
        else:  # pragma: no cover - guarded by the registry
            raise ValueError(f"unknown decoder kind {kind!r}")

        # Identity start: ỹ_c leans towards y_c from the first step. Without it, relaxed samples of
        # an untrained q(y) carry so little signal that the decoder settles on the label marginals,
        # ignores y, and the KL then lets q(y) drift to the classifier (a dead, collapsed posterior).
        self.copy_weight = nn.Parameter(torch.full((num_classes,), float(copy_init)))
        # --noise-init transition: a class-to-answer path, ỹ's logits + log T[y, :] (zero until the
        # hand-over sets it; absent otherwise, so other runs' checkpoints keep their keys)
        self.transition = (nn.Parameter(torch.zeros(num_classes, num_classes)) if transition
                           else None)

    @property
    def output_layer(self) -> nn.Linear:
        return self.net[-1] if isinstance(self.net, nn.Sequential) else self.net

    @torch.no_grad()
    def set_transition(self, log_t: torch.Tensor) -> None:
        """Start p(ỹ | y, z) at a class-to-answer matrix: logits log T[y, :] for a one-hot y. The
        identity path and the output layer start at zero, so the decoder *is* T at the
        hand-over; z's influence is learned from there (or never, with ``--hold-noise``)."""
        self.transition.copy_(log_t)
        self.copy_weight.zero_()
        self.output_layer.weight.zero_()
        self.output_layer.bias.zero_()

    @torch.no_grad()
    def set_reliability(self, half_log_ratio: torch.Tensor, bias: torch.Tensor | None = None):
        """Start the identity path at a given per-class label reliability (half the log-likelihood
        ratio of ỹ_c between y_c on and off); ``bias`` sets the output layer's per-class bias
        (the base rate of each class's answers)."""
        self.copy_weight.copy_(half_log_ratio)
        if bias is not None:
            self.output_layer.bias.copy_(bias)

    def forward(self, y: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        if z is not None:  # enumerated y (TraceEnum_ELBO) has extra leading dims: broadcast
            lead = torch.broadcast_shapes(y.shape[:-1], z.shape[:-1])
            y = y.expand(lead + y.shape[-1:])
            z = z.expand(lead + z.shape[-1:])
        out = self.net(y if z is None else torch.cat([y, z], dim=-1))
        out = out + self.copy_weight * (2.0 * y - 1.0)
        return out if self.transition is None else out + y @ self.transition


class AdditiveLayer(nn.Module):
    """q(y | x, ỹ) logits from the prior judgement p and the noisy labels ỹ: h(g1(p) + g2(ỹ)).

    ``g2`` is summed over an item's annotations, so several crowd answers add their evidence as
    independent observations would. A per-class residual ``a·logit(p) + b·(2ỹ-1)`` is added to h's
    output: with it the layer can represent the exact Bayes posterior for symmetric label noise
    (prior log-odds plus a likelihood ratio per answer; for a categorical y the same sum is the
    posterior's softmax logits) from the first step, which keeps q anchored
    to ỹ while the MLP part learns the rest.
    """

    def __init__(self, num_classes: int, hidden: int = 128, label_init: float = 2.0,
                 categorical: bool = False, prior_init: float = 1.0, transition: bool = False):
        super().__init__()
        self.categorical = categorical  # p enters g1 as softmax (categorical y) or sigmoid probs
        self.g1 = nn.Linear(num_classes, hidden)
        self.g2 = nn.Linear(num_classes, hidden, bias=False)
        self.h = nn.Sequential(nn.ReLU(), nn.Linear(hidden, num_classes))
        # > 1 sharpens the prior judgement: after the warm-up the classifier estimates p(ỹ | x),
        # flatter than the clean p(y | x), and read as it is it lets the labels decide too often
        self.prior_weight = nn.Parameter(torch.full((num_classes,), float(prior_init)))
        self.label_weight = nn.Parameter(torch.full((num_classes,), float(label_init)))
        # --noise-init transition: E[y, ỹ], what an answer ỹ adds to y's logits (log T[y, ỹ] from
        # the hand-over: the Bayes posterior under class-dependent noise); absent otherwise
        self.answer_evidence = (nn.Parameter(torch.zeros(num_classes, num_classes))
                                if transition else None)

    @torch.no_grad()
    def set_transition(self, log_t: torch.Tensor) -> None:
        """Read each answer ỹ as log T[:, ỹ] (and no longer as ±1 evidence), and start h's output
        at zero, so that q starts at the Bayes posterior of the estimate, p(y | x)^w ∏_r T[y, ỹ_r]
        normalized (w: the prior judgement's weight); h learns what T misses from there."""
        self.answer_evidence.copy_(log_t)
        self.label_weight.zero_()
        self.h[-1].weight.zero_()
        self.h[-1].bias.zero_()

    @torch.no_grad()
    def set_label_evidence(self, weight: torch.Tensor) -> None:
        """Per-class weight of each answer's ±1 evidence (half the log-likelihood ratio)."""
        self.label_weight.copy_(weight)

    def forward(self, prior_logits: torch.Tensor, labels: torch.Tensor, ann_item: torch.Tensor,
                weight: torch.Tensor | None = None):
        """``labels`` holds one row per annotation; ``ann_item`` maps each row to its item;
        ``weight`` (optional, one per row) scales each answer's evidence (its worker's trust)."""
        p = torch.softmax(prior_logits, -1) if self.categorical else torch.sigmoid(prior_logits)
        evidence = torch.zeros(p.shape[0], self.g2.out_features, dtype=p.dtype, device=p.device)
        g2, signed = self.g2(labels), 2.0 * labels - 1.0
        if weight is not None:
            g2, signed = weight[:, None] * g2, weight[:, None] * signed
        evidence = evidence.index_add(0, ann_item, g2)
        signed = torch.zeros_like(p).index_add(0, ann_item, signed)
        out = (self.h(self.g1(p) + evidence) + self.prior_weight * prior_logits
               + self.label_weight * signed)
        if self.answer_evidence is None:
            return out
        said = labels @ self.answer_evidence.T  # per answer, its log-likelihood of each y
        if weight is not None:
            said = weight[:, None] * said
        return out + torch.zeros_like(p).index_add(0, ann_item, said)


class ContrastiveLayer(nn.Module):
    """q(z | x, ỹ) = Normal(μ, σ) from s = ReLU(W p) − ReLU(W ỹ), W shared between the two inputs,
    so z sees only how the label disagrees with the image's prior judgement."""

    def __init__(self, num_classes: int, quality_dim: int, hidden: int = 128,
                 min_scale: float = 1e-3):
        super().__init__()
        self.w = nn.Linear(num_classes, hidden)
        self.fc = nn.Linear(hidden, 2 * quality_dim)
        self.min_scale = min_scale

    def forward(self, prior_probs: torch.Tensor, labels: torch.Tensor):
        s = F.relu(self.w(prior_probs)) - F.relu(self.w(labels))
        loc, raw_scale = self.fc(s).chunk(2, dim=-1)
        # softplus + floor keeps σ bounded away from 0, so the entropy term stays finite for any λ
        return loc, F.softplus(raw_scale) + self.min_scale


class ScoreBaseline(nn.Module):
    """``--baseline nn``: a per-item estimate of the downstream cost of y's score-function term
    (TraceGraph_ELBO's ``nn_baseline``), read from q(y)'s logits; Pyro trains it by squared error
    alongside the decaying average baseline."""

    def __init__(self, num_classes: int, hidden: int = 32):
        super().__init__()
        self.net = MLP(num_classes, 1, (hidden,))

    def forward(self, y_logits: torch.Tensor) -> torch.Tensor:
        return self.net(y_logits).squeeze(-1)
