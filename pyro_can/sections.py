"""The config in typed sections: data, images, method (with per-method options), schedule,
optimizer, runtime, generated from the options' declarations (``*_options.py``: each option names
its section; its type, a ``Literal`` for a choice, is the section field's type).

``Config`` is the one flat declaration of options (CLI flags, estimator arguments,
config.json); ``sections(cfg)`` gives a *resolved* config (``resolution.resolve``) as frozen,
typed views, so that a loader or a network is handed its own section instead of the whole
config. The models, guides and networks are built from theirs (``registry.model_and_guide``: the
method section, the image section for the input networks, and the schedule section for the few
estimator choices a program makes at run time); the data loaders read theirs
(``loader_sections``: data, images and runtime, which need no resolving but ``noise_rate``'s
data-set default). A derived value (``config.DERIVED``) is a property of every section that
holds its inputs."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .config import DERIVED, FIELDS, TYPES, Config, derived_property

#: section name -> its class name and what it is (``method.X``: the options of one method,
#: an attribute ``X`` of the method section)
SECTIONS = {
    "data": ("DataSection", "Where the data comes from and which labels."),
    "images": ("ImageSection", "How images become inputs."),
    "method.bootstrap": ("BootstrapOptions", "The bootstrap method's options."),
    "method.learnq": ("LearnQOptions", "LearnQ's options."),
    "method.gce": ("GCEOptions", "GCE's options (Zhang & Sabuncu 2018)."),
    "method.sce": ("SCEOptions", "SCE's options (Wang et al. 2019)."),
    "method.elr": ("ELROptions", "ELR's options (Liu et al. 2020)."),
    "method.coteaching": ("CoTeachingOptions", "Co-teaching's options (Han et al. 2018)."),
    "method.dividemix": ("DivideMixOptions", "DivideMix's options (Li et al. 2020)."),
    "method": ("MethodSection", "The method, its parts and its networks."),
    "schedule": ("ScheduleSection", "The objective and its schedules (Eq. 7)."),
    "optimizer": ("OptimizerSection", "The optimizer and its learning-rate steps."),
    "runtime": ("RuntimeSection", "The seed and the device."),
}


def field_sections() -> dict[str, str]:
    """Config field -> the section (``method.bootstrap`` for a per-method option) it is in."""
    where = {name: f.metadata["section"] for name, f in FIELDS.items()}
    unknown = sorted({s for s in where.values() if s not in SECTIONS})
    if unknown:
        raise TypeError(f"options declare unknown sections {unknown}; known: {list(SECTIONS)}")
    return where


def _make(section: str, classes: dict) -> type:
    class_name, doc = SECTIONS[section]
    own = [name for name, s in field_sections().items() if s == section]
    nested = [(s.split(".", 1)[1], classes[s]) for s in SECTIONS
              if s.startswith(section + ".")]
    namespace = {"__doc__": doc, "__module__": __name__}
    for name, (inputs, _) in DERIVED.items():
        if all(i in own for i in inputs):
            namespace[name] = derived_property(name)
    return dataclasses.make_dataclass(
        class_name, [(n, TYPES[n]) for n in own] + nested, frozen=True, namespace=namespace)


def _classes() -> dict[str, type]:
    classes: dict[str, type] = {}
    for section in SECTIONS:  # per-method option groups come before the method section
        classes[section] = _make(section, classes)
    return classes


_CLASSES = _classes()
DataSection = _CLASSES["data"]
ImageSection = _CLASSES["images"]
BootstrapOptions = _CLASSES["method.bootstrap"]
LearnQOptions = _CLASSES["method.learnq"]
GCEOptions = _CLASSES["method.gce"]
SCEOptions = _CLASSES["method.sce"]
ELROptions = _CLASSES["method.elr"]
CoTeachingOptions = _CLASSES["method.coteaching"]
DivideMixOptions = _CLASSES["method.dividemix"]
MethodSection = _CLASSES["method"]
ScheduleSection = _CLASSES["schedule"]
OptimizerSection = _CLASSES["optimizer"]
RuntimeSection = _CLASSES["runtime"]


@dataclass(frozen=True)
class Sections:
    data: DataSection
    images: ImageSection
    method: MethodSection
    schedule: ScheduleSection
    optimizer: OptimizerSection
    runtime: RuntimeSection


def _build(section: str, values: dict):
    cls = _CLASSES[section]
    kw = {}
    for f in dataclasses.fields(cls):
        nested = f"{section}.{f.name}"
        kw[f.name] = _build(nested, values) if nested in _CLASSES else values[f.name]
    return cls(**kw)


def sections(cfg: Config) -> Sections:
    """``cfg``, resolved, as typed sections; a ValueError for a config still holding
    ``auto``/``None`` values (resolve it against its data first: ``resolution.resolve``)."""
    if cfg.unresolved():
        raise ValueError(f"resolve the config first (Config.resolve): "
                         f"{', '.join(cfg.unresolved())} still to be chosen from the data")
    values = cfg.to_dict()
    return Sections(**{f.name: _build(f.name, values) for f in dataclasses.fields(Sections)})


@dataclass(frozen=True)
class LoaderSections:
    """What a data loader reads: where the data is and which labels (``data``), how images
    become inputs (``images``), and the seed and device (``runtime``)."""
    data: DataSection
    images: ImageSection
    runtime: RuntimeSection


def loader_sections(cfg: Config) -> LoaderSections:
    """The sections a data loader reads, taken from ``cfg`` before it is resolved: the config is
    resolved against the data the loader returns, and none of these fields depends on it but
    ``noise_rate``, whose default depends only on ``--data`` (``Config.resolved_noise_rate``)."""
    values = dict(cfg.to_dict(), noise_rate=cfg.resolved_noise_rate())
    return LoaderSections(data=_build("data", values), images=_build("images", values),
                          runtime=_build("runtime", values))
