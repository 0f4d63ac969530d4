"""Baselines follow the sklearn contract and learn a separable problem."""

from __future__ import annotations

import numpy as np
import pytest

from bci_app.models.baselines import BASELINES


def _two_classes(n: int = 40, n_chans: int = 8, n_times: int = 320, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_chans, n_times))
    y = np.arange(n) % 2
    X[y == 0, 0] *= 3.0  # class 0: more power on channel 0
    X[y == 1, 1] *= 3.0  # class 1: more power on channel 1
    return X.astype(np.float32), y


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_contract_and_accuracy(name):
    X, y = _two_classes()
    clf = BASELINES[name]()
    assert clf.fit(X[:30], y[:30]) is clf
    assert hasattr(clf, "pipeline_") and list(clf.classes_) == [0, 1]
    proba = clf.predict_proba(X[30:])
    assert proba.shape == (10, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert (clf.predict(X[30:]) == y[30:]).mean() >= 0.9
