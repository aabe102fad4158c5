"""One registry for every part that can be swapped by name (methods, guides, priors, decoders,
ELBOs, data sets). Adding a guide is one file in ``guides/`` and one line in ``GUIDES``."""
from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import pyro.infer

from pyro_can.guides import additive as additive_guide
from pyro_can.guides import can as can_guide
from pyro_can.guides import empty as empty_guide
from pyro_can.guides import mean_field as mean_field_guide
from pyro_can.models import bootstrap as bootstrap_model
from pyro_can.models import can as can_model
from pyro_can.models import crowd_layer as crowd_layer_model
from pyro_can.models import icnm as icnm_model
from pyro_can.models import learnq as learnq_model
from pyro_can.models import plain as plain_model

from . import data as data_sets
from .datasets import LOADERS as IMAGE_LOADERS
from .errors import UnknownNameError
from . import regularizers
from .batch import MAX_PLATE_NESTING
from .objective import TraceGraph_ELBO


@dataclass(frozen=True)
class Method:
    model: ModuleType  # exposes build() and model()
    latent: bool  # True: the guide is chosen with --guide; False: the empty guide
    softmax: bool = True  # can train a softmax classifier (--latent categorical)
    workers: bool = False  # per-worker parts: build() takes num_workers, answers need a worker


METHODS = {
    "can": Method(can_model, latent=True),
    "plain": Method(plain_model, latent=False),
    "learnq": Method(learnq_model, latent=False),
    "icnm": Method(icnm_model, latent=False, softmax=False),  # per-class relevance head
    "bootstrap": Method(bootstrap_model, latent=False),
    "crowd-layer": Method(crowd_layer_model, latent=False, workers=True),  # per-worker C×C
}
GUIDES = {
    "can": can_guide,
    "additive": additive_guide,
    "mean-field": mean_field_guide,
}
BOOTSTRAP_KINDS = ("soft", "hard")
WARMUP_SCOPES = ("classifier", "all")
NOISE_INITS = ("anchor", "fixed")
PRIORS = ("classifier", "uniform")
DECODERS = ("mlp", "linear")
QUALITY_PRIORS = ("standard", "worker")  # z ~ N(0, I) | N(μ_w, I) (pyro_can/worker_quality.py)
PRIOR_JUDGEMENTS = ("shared", "separate")
LATENTS = ("auto", "categorical", "bernoulli")
CROWD_MODES = ("model", "majority", "repeat", "dawid-skene", "glad")
ELBOS = {
    "meanfield": pyro.infer.TraceMeanField_ELBO,  # relaxed y, closed-form KL (the paper's)
    "tracegraph": TraceGraph_ELBO,  # discrete y, score function (objective.py)
    # y summed out exactly
    "enum": lambda: pyro.infer.TraceEnum_ELBO(max_plate_nesting=MAX_PLATE_NESTING),
    "trace": pyro.infer.Trace_ELBO,  # relaxed y, sampled KL (relaxed densities)
}
BASELINES = ("avg", "nn")
OPTIMIZERS = ("sgd", "adam")
REGULARIZERS = {
    "entropy": regularizers.entropy,
    "mi": regularizers.mutual_information,
}
DATA = {
    "digits": data_sets.section_loader(data_sets.load_digits),
    "npz": data_sets.section_loader(data_sets.load_npz),
    "music": data_sets.section_loader(data_sets.load_music),
    **IMAGE_LOADERS,  # voc07, voc12, web, amt, sd4, folder (pyro_can/datasets/)
}


def lookup(kind: str, table, name: str):
    if name not in table:
        known = ", ".join(table)
        raise UnknownNameError(f"unknown {kind} {name!r}; known: {known}")
    return table[name] if isinstance(table, dict) else name


def check_names(cfg) -> None:
    lookup("method", METHODS, cfg.method)
    lookup("guide", GUIDES, cfg.guide)
    lookup("prior", PRIORS, cfg.prior)
    lookup("decoder", DECODERS, cfg.decoder)
    lookup("quality prior", QUALITY_PRIORS, cfg.quality_prior)
    lookup("prior judgement", PRIOR_JUDGEMENTS, cfg.prior_judgement)
    lookup("crowd mode", CROWD_MODES, cfg.crowd)
    lookup("ELBO", ELBOS, cfg.elbo)
    lookup("baseline", BASELINES, cfg.baseline)
    lookup("optimizer", OPTIMIZERS, cfg.optimizer)
    lookup("regularizer", REGULARIZERS, cfg.regularizer)
    lookup("data set", DATA, cfg.data)
    lookup("bootstrap kind", BOOTSTRAP_KINDS, cfg.bootstrap)
    lookup("warm-up scope", WARMUP_SCOPES, cfg.warmup_scope)
    lookup("noise init", NOISE_INITS, cfg.noise_init)
    lookup("latent type", LATENTS, cfg.latent)
    lookup("ỹ likelihood", LATENTS, cfg.ytilde_likelihood)


def model_and_guide(cfg):
    """The model and guide modules for a config's method (plus its --guide when latent)."""
    method = lookup("method", METHODS, cfg.method)
    guide = lookup("guide", GUIDES, cfg.guide) if method.latent else empty_guide
    return method.model, guide
