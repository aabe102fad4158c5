"""The estimator says what is going on: a warning for features far from standardized, an epoch
bar when asked (verbose=True)."""
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

from pyro_can.errors import DataWarning
from pyro_can.estimator import CANClassifier


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py


def test_unscaled_features_warn_and_scaled_ones_do_not():
    d = load_digits()
    x, y = d.data[:200] * 16.0, d.target[:200]  # pixels 0..256: far from standardized
    with pytest.warns(DataWarning, match="far from standardized"):
        CANClassifier(epochs=1, hidden="8").fit(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        CANClassifier(epochs=1, hidden="8").fit(x / 256.0, y)


def test_verbose_shows_an_epoch_bar_and_is_off_by_default(capsys):
    X, y = load_digits(return_X_y=True)
    X = (X - X.mean(0)) / (X.std(0) + 1e-6)
    CANClassifier(epochs=2, hidden="16").fit(X[:200], y[:200])
    assert "epoch" not in capsys.readouterr().err  # quiet inside cross-validation and searches
    model = CANClassifier(epochs=2, hidden="16", verbose=True).fit(X[:200], y[:200])
    assert "2/2" in capsys.readouterr().err
    assert model.get_params()["verbose"] is True and "verbose" not in model.config_.to_dict()
