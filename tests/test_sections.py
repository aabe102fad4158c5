"""The typed sections (``pyro_can/sections.py``), generated from the options' declarations."""
import pytest

from pyro_can import registry
from pyro_can.config import Config
from pyro_can.feature_loaders import load_digits, load_music
from pyro_can import sections as sec


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
