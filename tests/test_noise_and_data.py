"""The shuffle-noise protocol and the data loaders."""
import numpy as np
import pytest

from pyro_can.feature_loaders import load_digits, load_music
from pyro_can.noise import shuffle_labels


def test_shuffle_hits_rate_and_keeps_label_counts():
    rng = np.random.default_rng(0)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 20000)]
    noisy, changed = shuffle_labels(y, 0.6, np.random.default_rng(1))
    # a shuffled one-hot row keeps its single 1 and stays put with probability 1/10
    assert np.all(noisy.sum(1) == 1)
    assert abs(changed.mean() - 0.6 * 0.9) < 0.015
    assert np.array_equal(changed, (noisy != y).any(1))


def test_shuffle_rate_zero_and_one():
    y = np.eye(4, dtype=np.float32)[np.arange(400) % 4]
    same, mask = shuffle_labels(y, 0.0, np.random.default_rng(0))
    assert np.array_equal(same, y) and not mask.any()
    _, mask = shuffle_labels(y, 1.0, np.random.default_rng(0))
    assert abs(mask.mean() - 0.75) < 0.08
    with pytest.raises(ValueError):
        shuffle_labels(y, 1.5, np.random.default_rng(0))


def test_digits_noise_touches_training_labels_only():
    clean = load_digits(seed=3, noise_rate=0.0)
    noisy = load_digits(seed=3, noise_rate=0.4)
    assert np.array_equal(clean.y_test, noisy.y_test)
    assert np.array_equal(clean.test_ids, noisy.test_ids)
    assert not set(noisy.train_ids) & set(noisy.test_ids)
    assert abs(noisy.corrupted.mean() - 0.4 * 0.9) < 0.05
    assert np.array_equal(noisy.y_train_clean, clean.ann_labels)
    changed = (noisy.ann_labels != clean.ann_labels).any(1)
    assert np.array_equal(changed, noisy.corrupted)
    # pixels scaled to [0, 1]
    assert noisy.x_train.min() == 0.0 and noisy.x_train.max() == 1.0
    assert len(noisy.train_ids) + len(noisy.test_ids) == 1797


def test_music_published_split_and_annotations():
    d = load_music()
    assert d.num_items == 700 and len(d.y_test) == 300
    assert d.num_annotations == 2945
    assert len(np.unique(d.ann_worker)) == 44
    assert d.ann_labels.shape == (2945, 10) and np.all(d.ann_labels.sum(1) == 1)
    assert np.bincount(d.ann_item).min() >= 1 and np.bincount(d.ann_item).max() <= 7
    # majority vote is wrong on about 29% of training clips (README of the data set)
    rng = np.random.default_rng(0)
    maj = d.item_labels(rng).argmax(1)
    assert 0.25 < (maj != d.y_train_clean.argmax(1)).mean() < 0.33
    assert abs(d.x_train.mean()) < 1e-4


def test_crowd_modes_shape():
    d = load_music()
    rng = np.random.default_rng(0)
    assert d.with_crowd("model", rng) is d
    maj = d.with_crowd("majority", rng)
    assert maj.num_items == 700 and maj.num_annotations == 700
    rep = d.with_crowd("repeat", rng)
    assert rep.num_items == 2945 and rep.num_annotations == 2945 and not rep.has_crowd
