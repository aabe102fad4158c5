"""Music under the crowd-learning papers' protocol (``configs/music-annot-mix.toml``): the fixed
validation/test split, RAdam with a cosine schedule, the Crowd Layer's mean loss."""
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from pyro_can import api
from pyro_can.config import Config
from pyro_can.feature_loaders import load_music
from pyro_can.resolution import for_method
from pyro_can.train import Trainer

PRESET = Path(__file__).resolve().parents[1] / "configs" / "music-annot-mix.toml"


def preset(**changes) -> Config:
    """The preset as ``fit --config`` reads it: its settings are shared by every method, so those
    a method has no use for (``crowd_layer_mean`` for plain) fall back to their defaults."""
    with open(PRESET, "rb") as f:
        shared = tomllib.load(f)
    cfg = Config(**{**shared, **changes})
    return for_method(cfg, shared=[k for k in shared if k not in changes]).validate()


def test_preset_holds_the_protocols_settings():
    cfg = preset()
    assert (cfg.data, cfg.val_from_test, cfg.val_from_test_seed) == ("music", 100, 0)
    assert (cfg.hidden_sizes, cfg.batch_norm, cfg.dropout) == ((256, 128), True, 0.5)
    assert (cfg.optimizer, cfg.schedule, cfg.lr, cfg.weight_decay) == ("radam", "cosine", 0.01, 0)
    assert (cfg.batch_size, cfg.epochs) == (64, 50)
    assert preset(method="crowd-layer").crowd_layer_mean  # the Crowd Layer's own setting
    assert cfg.mixup == 0.0  # mixup is the experiment's choice, not the protocol's


def test_split_is_the_same_for_every_seed_and_the_papers_own():
    from sklearn.model_selection import train_test_split

    splits = [api.load_data(preset(seed=s))[0] for s in (0, 3, 7)]
    for d in splits:
        assert (d.num_items, len(d.y_val), len(d.y_test)) == (700, 100, 200)
        np.testing.assert_array_equal(d.test_ids, splits[0].test_ids)
        np.testing.assert_array_equal(d.x_val, splits[0].x_val)
    # the published split: the 300 test clips in their file's order, stratified, seed 0
    full = load_music()
    val, test = train_test_split(np.arange(300), train_size=100, random_state=0,
                                 stratify=full.y_test.argmax(1))
    np.testing.assert_array_equal(splits[0].test_ids, full.test_ids[np.sort(test)])
    # without a split seed, the split follows the run's seed (the option's default)
    other = api.load_data(preset(seed=3, val_from_test_seed=None))[0]
    assert not np.array_equal(other.test_ids, splits[0].test_ids)


def test_standardized_on_the_700_training_clips():
    from sklearn.preprocessing import StandardScaler

    data = api.load_data(preset())[0]
    raw = np.load(Path(__file__).resolve().parents[1] / "pyro_can" / "resources"
                  / "music_genre_mturk.npz")
    scaler = StandardScaler().fit(raw["X"][raw["train_idx"]].astype(np.float64))
    np.testing.assert_allclose(data.x_train, scaler.transform(raw["X"][raw["train_idx"]]),
                               atol=1e-4)


def test_radam_and_cosine_are_built_and_anneal_to_zero():
    data, _ = api.load_data(preset())
    tr = Trainer(preset(epochs=3, method="plain", crowd="majority"), data)
    assert isinstance(tr.optimizer, torch.optim.RAdam)
    assert isinstance(tr.scheduler, torch.optim.lr_scheduler.CosineAnnealingLR)
    assert tr.scheduler.T_max == 3
    tr.run()
    assert tr.optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    default = Trainer(Config(data="music", method="plain"), data)
    assert isinstance(default.scheduler, torch.optim.lr_scheduler.StepLR)  # the paper's stays


def test_crowd_layer_mean_is_the_sum_over_answers_per_answer():
    data, _ = api.load_data(preset())
    items = torch.arange(64)
    losses = {}
    for mean in (False, True):
        torch.manual_seed(0)
        tr = Trainer(preset(method="crowd-layer", crowd_layer_mean=mean), data)
        tr.programs.eval()  # no dropout: the same logits both times
        batch = tr.train_set.batch(items)
        losses[mean] = float(tr.objective(batch, tr_hp(tr)).detach())
    answers = len(tr.train_set.batch(items).ann_item)
    assert answers > 64  # several answers per clip
    assert losses[True] == pytest.approx(losses[False] * 64 / answers, rel=1e-5)


def tr_hp(tr):
    from pyro_can.schedules import step_params

    return step_params(tr.cfg, 0.0)


def test_bench_runs_every_row_at_the_preset():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "music_published", Path(__file__).resolve().parents[1] / "bench" / "music_published.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    cells = bench.protocol_cells(str(PRESET), [0, 1], [0.0, 1.0])
    assert len(cells) == len(bench.ROWS) * 2 * 2
    for (method, crowd, alpha), _, cell in cells:
        c = cell.cfg
        assert (c.method, c.crowd, c.mixup) == (method, crowd, alpha)
        assert (c.optimizer, c.schedule, c.epochs, c.lr, c.val_from_test_seed) == \
            ("radam", "cosine", 50, 0.01, 0)
