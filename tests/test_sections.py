"""The typed sections (``pyro_can/sections.py``) stay in step with Config and the registry."""
import collections
import typing

import pytest

from pyro_can import registry
from pyro_can.config import Config
from pyro_can.data import load_digits, load_music
from pyro_can import sections as sec


def test_every_config_field_is_in_exactly_one_section():
    placed = sec.field_sections()
    fields = [f for f in Config.__dataclass_fields__]
    missing = [f for f in fields if f not in placed]
    assert not missing, f"add {missing} to a section in pyro_can/sections.py"
    assert sorted(placed) == sorted(fields)
    counts = collections.Counter()
    for cls in typing.get_type_hints(sec.Sections).values():
        counts.update(sec._fields(cls))
    assert all(n == 1 for n in counts.values())


@pytest.mark.parametrize("alias, names", [
    (sec.Crowd, registry.CROWD_MODES), (sec.Prior, registry.PRIORS),
    (sec.Decoder, registry.DECODERS), (sec.QualityPrior, registry.QUALITY_PRIORS),
    (sec.PriorJudgement, registry.PRIOR_JUDGEMENTS),
    (sec.NoiseInit, registry.NOISE_INITS), (sec.Bootstrap, registry.BOOTSTRAP_KINDS),
    (sec.Elbo, registry.ELBOS), (sec.Baseline, registry.BASELINES),
    (sec.Regularizer, registry.REGULARIZERS), (sec.WarmupScope, registry.WARMUP_SCOPES),
    (sec.Method, registry.METHODS), (sec.Guide, registry.GUIDES),
    (sec.Optimizer, registry.OPTIMIZERS), (sec.LrSchedule, registry.SCHEDULES),
    (sec.Latent, [n for n in registry.LATENTS if n != "auto"]),
])
def test_literals_list_what_the_registry_accepts(alias, names):
    assert set(typing.get_args(alias)) == set(names)


def test_sections_of_a_resolved_config():
    cfg = Config(method="bootstrap", beta=0.6).resolve(load_digits(noise_rate=0.4))
    s = sec.sections(cfg)
    assert s.method.latent == "categorical" and s.schedule.warmup_epochs == 20.0
    assert s.method.bootstrap == sec.BootstrapOptions(beta=0.6, bootstrap="soft")
    assert s.data.noise_rate == 0.4 and s.optimizer.lr == cfg.lr and s.runtime.seed == 0
    assert s.schedule.alpha_max == 0.9  # one answer per item: a tenth of the CE stays
    crowd = Config(data="music").resolve(load_music())
    assert crowd.alpha_max == 1.0 and crowd.warmup_epochs == 5.0 and crowd.prior_init == 1.0
    assert Config(alpha_max=1.0).resolve(load_digits(noise_rate=0.4)).alpha_max == 1.0
    with pytest.raises(ValueError, match="latent, ytilde_likelihood"):
        sec.sections(Config())


def test_loaders_are_handed_their_sections_only():
    """Every registered data set is read by ``loader(data, images, runtime)``: the loader sees
    its sections, not the whole config, and they exist before the config is resolved."""
    import inspect

    for name, loader in registry.DATA.items():
        assert list(inspect.signature(loader).parameters) == ["data", "images", "runtime"], name
    src = sec.loader_sections(Config(seed=3))  # unresolved: latent is still "auto"
    assert src.data.noise_rate == 0.4  # digits' demo noise, the one default a loader reads
    assert src.runtime.seed == 3 and not src.images.end_to_end
    assert sec.loader_sections(Config(data="music")).data.noise_rate == 0.0
    digits = registry.DATA["digits"](src.data, src.images, src.runtime)
    same = load_digits(seed=3, noise_rate=0.4)
    assert (digits.ann_labels == same.ann_labels).all() and digits.num_items == same.num_items
