"""Training panel over real fine-tuning progress records: train and validation loss curves."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bci_app.config import FinetuneConfig, ResolvedLora


def _records(validation_fraction: float, max_epochs: int = 4):
    """Progress records of a real LoRA job on a tiny ATCNet (two classes, 10 Hz power on ch 0/1)."""
    from bci_app.models import ATCNet
    from calibration.finetune import finetune

    torch.manual_seed(0)
    model = ATCNet(4, 2, 160.0, 320).eval()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 4, 320)).astype(np.float32)
    y = np.arange(16) % 2
    X[y == 0, 0] += 3 * np.sin(2 * np.pi * 10 * np.arange(320) / 160.0).astype(np.float32)
    config = FinetuneConfig(max_epochs=max_epochs, patience=max_epochs, validation_fraction=validation_fraction)
    return list(finetune(model, X, y, lora=ResolvedLora(("dense",), 4, 8.0, 0.0, "test"), config=config))


@pytest.fixture
def panel(qtbot):
    from bci_app.gui.training_view import TrainingPanel

    p = TrainingPanel()
    qtbot.addWidget(p)
    return p


def test_validation_loss_curve_gets_data(panel):
    records = _records(validation_fraction=0.25)
    panel.reset(max_epochs=4)
    for i in range(1, len(records) + 1):  # as the bridge does: the growing history, once per frame
        panel.render_history(records[:i])
    x, train = panel.train_loss_curve.getData()
    xv, val = panel.val_loss_curve.getData()
    assert list(x) == list(xv) == [1.0, 2.0, 3.0, 4.0]
    np.testing.assert_allclose(val, [r.val_loss for r in records])
    np.testing.assert_allclose(train, [r.train_loss for r in records])
    assert np.all(np.isfinite(val)) and np.all(val > 0)
    assert f"validation loss {records[-1].val_loss:.3f}" in panel.status_label.text()
    panel.reset(max_epochs=4)
    assert panel.val_loss_curve.getData()[0] is None or len(panel.val_loss_curve.getData()[0]) == 0


def test_no_validation_split_leaves_validation_curves_empty(panel):
    records = _records(validation_fraction=0.0, max_epochs=2)
    panel.render_history(records)
    assert len(panel.train_loss_curve.getData()[1]) == 2
    for curve in (panel.val_loss_curve, panel.val_acc_curve):
        x, _ = curve.getData()
        assert x is None or len(x) == 0
    assert "validation" not in panel.status_label.text()
