"""One registry for every part that can be swapped by name (methods, guides, priors, decoders,
ELBOs, data sets). Adding a guide is one file in ``guides/`` and one line in ``GUIDES``."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import pyro.infer
from pyro.nn import PyroModule

from pyro_can.guides.additive import AdditiveGuide
from pyro_can.guides.can import CANGuide
from pyro_can.guides.empty import EmptyGuide
from pyro_can.guides.mean_field import MeanFieldGuide
from pyro_can.models import coteaching, dividemix, elr, gce, sce
from pyro_can.models.bootstrap import BootstrapModel
from pyro_can.models.can import CANModel
from pyro_can.models.crowd_layer import CrowdLayerModel
from pyro_can.models.icnm import ICNMModel
from pyro_can.models.learnq import LearnQModel
from pyro_can.models.plain import PlainModel

from . import config
from .datasets import LOADERS as IMAGE_LOADERS
from .errors import UnknownNameError
from .feature_loaders import load_digits, load_music, section_loader
from .npz_file import load_npz
from . import regularizers
from .nets import input_net
from .batch import MAX_PLATE_NESTING
from .objective import TraceGraph_ELBO, score_baseline


@dataclass(frozen=True)
class Method:
    model: type[PyroModule]  # models/: a PyroModule whose forward is the Pyro program
    latent: bool  # True: the guide is chosen with --guide; False: the empty guide
    softmax: bool = True  # can train a softmax classifier (--latent categorical)
    workers: bool = False  # per-worker parts sized by num_workers; answers need a worker
    one_answer: bool = False  # trains on one label per item (crowd answers pooled first)
    #: has one noise matrix p(ỹ | y) (``answer_matrix``), so that held-out noisy labels are
    #: scored through it (``val_noisy_answer_nll``): what ``pyro-can tune`` minimizes for it
    noise_model: bool = False
    #: ``pyro-can tune``'s space for the method's own options (``pyro_can/tune.py``: field ->
    #: (lo, hi) uniform, (lo, hi, "log") log-uniform, ints for integer fields, or a list of
    #: choices), searched beside the optimizer options every method shares
    search_space: dict = field(default_factory=dict)


METHODS = {
    "can": Method(CANModel, latent=True, noise_model=True,
                  search_space={"warmup_epochs": (5.0, 40.0), "lam": (0.0, 0.3),
                                "prior_init": (1.0, 4.0), "hold_noise": [False, True]}),
    "plain": Method(PlainModel, latent=False),
    "learnq": Method(LearnQModel, latent=False, noise_model=True,
                     search_space={"learnq_trace": (1e-4, 0.1, "log")}),
    "icnm": Method(ICNMModel, latent=False, softmax=False),  # per-class relevance head
    "bootstrap": Method(BootstrapModel, latent=False,
                        search_space={"beta": (0.5, 1.0), "bootstrap": ["soft", "hard"]}),
    "crowd-layer": Method(CrowdLayerModel, latent=False, workers=True),  # per-worker C×C
    # the softmax-only baselines of today's noisy-label benchmarks (docs/baselines.md)
    "gce": Method(gce.GCEModel, latent=False, search_space=gce.SEARCH_SPACE),
    "sce": Method(sce.SCEModel, latent=False, search_space=sce.SEARCH_SPACE),
    "elr": Method(elr.ELRModel, latent=False, search_space=elr.SEARCH_SPACE),
    "coteaching": Method(coteaching.CoTeachingModel, latent=False,
                         search_space=coteaching.SEARCH_SPACE),  # two nets
    "dividemix": Method(dividemix.DivideMixModel, latent=False, one_answer=True,
                        search_space=dividemix.SEARCH_SPACE),  # two nets, per-epoch split
}
GUIDES = {  # guides/: PyroModules
    "can": CANGuide,
    "additive": AdditiveGuide,
    "mean-field": MeanFieldGuide,
}
# the choices an option names itself: its ``Literal``, by its declaration (``*_options.py``),
# is the one list
BOOTSTRAP_KINDS = config.names("bootstrap")
WARMUP_SCOPES = config.names("warmup_scope")
NOISE_INITS = config.names("noise_init")
ANCHORED_NOISE_INITS = config.ANCHORED_NOISE_INITS
PRIORS = config.names("prior")
DECODERS = config.names("decoder")
QUALITY_PRIORS = config.names("quality_prior")  # z ~ N(0, I) | N(μ_w, I) (worker_quality.py)
PRIOR_JUDGEMENTS = config.names("prior_judgement")
LATENTS = config.names("latent")
CROWD_MODES = config.names("crowd")
ELBOS = {
    "meanfield": pyro.infer.TraceMeanField_ELBO,  # relaxed y, closed-form KL (the paper's)
    "tracegraph": TraceGraph_ELBO,  # discrete y, score function (objective.py)
    # y summed out exactly
    "enum": lambda: pyro.infer.TraceEnum_ELBO(max_plate_nesting=MAX_PLATE_NESTING),
    "trace": pyro.infer.Trace_ELBO,  # relaxed y, sampled KL (relaxed densities)
}
BASELINES = config.names("baseline")
OPTIMIZERS = config.names("optimizer")
SCHEDULES = config.names("schedule")  # learning-rate schedules (schedules.make_scheduler)
REGULARIZERS = {
    "entropy": regularizers.entropy,
    "mi": regularizers.mutual_information,
}
DATA = {
    "digits": section_loader(load_digits),
    "npz": section_loader(load_npz),
    "music": section_loader(load_music),
    **IMAGE_LOADERS,  # voc07, voc12, web, amt, sd4, folder (pyro_can/datasets/)
}


def lookup(kind: str, table, name: str):
    if name not in table:
        known = ", ".join(table)
        raise UnknownNameError(f"unknown {kind} {name!r}; known: {known}")
    return table[name] if isinstance(table, dict) else name


def model_and_guide(sections, in_dim: int, num_classes: int,
                    num_workers: int = 0) -> tuple[PyroModule, PyroModule]:
    """The method's model and its guide (``--guide`` when the method has latents, else the
    empty guide), built from a resolved config's sections (``sections.sections``): each from the
    method section, the schedule section (the estimator's run-time choices) and a maker of
    networks on the items' inputs (method and image sections). ``num_workers`` sizes a method's
    per-worker parts. The model's networks are built first, then the guide's, then the guide's
    score-function baseline network (``--baseline nn``, ``objective.score_baseline``; the order
    the initial weights are drawn in)."""
    method, schedule = sections.method, sections.schedule
    spec = lookup("method", METHODS, method.method)
    guide_cls = lookup("guide", GUIDES, method.guide) if spec.latent else EmptyGuide
    make_net = functools.partial(input_net, method, sections.images, in_dim)
    model = spec.model(method, schedule, num_classes, make_net, num_workers)
    guide = guide_cls(method, schedule, num_classes, make_net, model)
    baseline = score_baseline(schedule, num_classes) if spec.latent else None
    if baseline is not None:
        guide.baseline = baseline
    return model, guide
