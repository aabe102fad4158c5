"""The feature-vector data sets of ``--data``: ``digits`` and ``music`` (bundled with
scikit-learn and with this package), and ``section_loader``, which adapts them and
``npz_file.load_npz`` to the registry's ``loader(data, images, runtime)``.

They take plain keyword arguments (``seed``, ``noise_rate``, ...) so that a test or a benchmark
can load them on their own, without a config."""
from __future__ import annotations

from importlib import resources

import numpy as np

from .data import one_hot
from .errors import DataError
from .feature_rows import crowd_dataset, labelled_dataset, split_rows


def load_digits(seed: int = 0, noise_rate: float = 0.0, test_fraction: float = 0.25, **_):
    """scikit-learn's bundled 8×8 digits (1,797 real images, 10 classes), stratified split by seed."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    train_idx, test_idx = split_rows(len(d.target), d.target, test_fraction, seed)
    # pixels are scaled to [0, 1], not standardized: per-pixel z-scores blow up the near-constant
    # border pixels and make a net memorize noisy labels much faster
    return labelled_dataset(
        "digits", d.data / 16.0, one_hot(d.target, 10), np.sort(train_idx), np.sort(test_idx),
        noise_rate, seed, [str(c) for c in range(10)], True, image_shape=(8, 8),
        standardize_rows=False, feature_scale=(np.zeros(64), np.full(64, 16.0)))


def load_music(seed: int = 0, noise_rate: float = 0.0, **_):
    """Rodrigues et al.'s music-genre set with 2,945 real AMT answers from 44 workers (package data;
    citation in ``pyro_can/resources/CITATION.md``). Published split: 700 train, 300 test."""
    if noise_rate:
        raise DataError("--data music carries real crowd noise; --noise-rate must be 0")
    with resources.files("pyro_can.resources").joinpath("music_genre_mturk.npz").open("rb") as fh:
        with np.load(fh, allow_pickle=False) as f:
            d = {k: f[k] for k in f.files}
    return crowd_dataset("music", d["X"], d["annotations"], d["y_true"], d["train_idx"],
                         d["test_idx"], [str(c) for c in d["class_names"]],
                         where="music_genre_mturk.npz")


def section_loader(load):
    """The registry's ``loader(data, images, runtime)`` over a feature-vector loader, which
    takes plain keyword arguments so that it can be called on its own: it is handed
    ``--path``, ``--noise-rate`` and ``--test-fraction`` from the data section and the seed."""
    def loader(data, images, runtime):
        return load(path=data.path, seed=runtime.seed, noise_rate=data.noise_rate,
                    test_fraction=data.test_fraction)

    loader.__name__ = loader.__qualname__ = load.__name__
    loader.__doc__ = load.__doc__
    return loader
