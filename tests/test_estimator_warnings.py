"""The estimator says when its input looks wrong: features far from standardized."""
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
