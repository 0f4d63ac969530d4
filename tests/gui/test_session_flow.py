"""The window over the real Session: calibration (fast timings) → background training → online
predictions; cancelling training; closing the window mid-training leaves no thread."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from bci_app.config import AppConfig, FinetuneConfig, LoraConfig, resolve_lora

pytest.importorskip("bci_app.session")

CLASSES = ("left_hand", "right_hand")


def fast_config() -> AppConfig:
    cfg = AppConfig()
    cfg.paradigm.trials_per_class = 3
    cfg.paradigm.trials_per_run = 6
    cfg.paradigm.cue_at_s = 0.4
    cfg.paradigm.cue_duration_s = 0.25
    cfg.paradigm.imagery_end_s = 1.6
    cfg.paradigm.rest_min_s = 0.1
    cfg.paradigm.rest_max_s = 0.2
    cfg.finetune.min_trials_per_class = 2
    return cfg


def make_factory(max_epochs: int, slow: bool = False):
    """A tiny real fine-tuning job over the session's calibration data (small ATCNet, LoRA dense)."""

    def factory(session):
        from bci_app.models.atcnet import ATCNet
        from bci_app.online.decoder import DecoderModel
        from bci_app.signal.preprocess import PreprocessingSpec
        from calibration.epochs import epochs_for_model
        from calibration.finetune import finetune

        rec = session.calibration_data
        spec = PreprocessingSpec(ch_names=rec.ch_names, sfreq=rec.sfreq, l_freq=4.0, h_freq=40.0)
        ep = epochs_for_model(rec, spec, CLASSES, 0.0, 1.0, "gdf")
        labels = np.asarray(ep.labels)
        y = labels.astype(np.int64) if labels.dtype.kind in "iu" else np.array([CLASSES.index(c) for c in labels])
        X = np.asarray(ep.data, dtype=np.float32)
        if slow:  # many trials so that each epoch takes a while
            X, y = np.concatenate([X] * 40), np.concatenate([y] * 40)
        torch_model = ATCNet(len(spec.ch_names), 2, spec.sfreq, X.shape[-1], n_windows=1)
        cancel = threading.Event()
        job = finetune(
            torch_model, X, y, lora=resolve_lora(LoraConfig(target_modules=["dense"]), len(y)), cancel=cancel,
            config=FinetuneConfig(max_epochs=max_epochs, min_trials_per_class=2, validation_fraction=0.0,
                                  batch_size=4, patience=max_epochs),
        )
        return job, (lambda result: DecoderModel(torch_model, spec, CLASSES, name="gui-test")), cancel.set

    return factory


@pytest.fixture
def make_window(qtbot, tmp_path):
    from bci_app.gui.main_window import MainWindow

    windows = []

    def make(factory):
        w = MainWindow(fast_config(), log_dir=tmp_path / "logs", training_factory=factory)
        w.session.model_window = (0.0, 1.0)  # the factory's model decodes 1 s from the cue
        qtbot.addWidget(w)
        w.show()
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.close()


def connect_simulated(w, qtbot):
    w.source_panel.tabs.setCurrentIndex(0)
    w.source_panel.sim_channels.setCurrentText("sensorimotor8")
    w.source_panel.connect_button.click()
    qtbot.waitUntil(lambda: w.state_text == "connected", timeout=5000)


def calibrate(w, qtbot):
    w.operator_panel.start_button.click()
    assert w.state_text == "calibrating"
    qtbot.waitUntil(lambda: w.cue_display.phase == "cue", timeout=5000)
    qtbot.waitUntil(lambda: w.session.calibration_data is not None, timeout=30000)
    assert "of 6" in w.operator_panel.trial_label.text()
    assert w.operator_panel.erd_table.rowCount() == 2
    # the 8-channel source lacks channels of the configured 16-channel base: the operator is told,
    # during calibration, that the artifact check (and training with that base) cannot work
    assert "Artifact check off" in w.operator_panel.advice_label.text() and "FC3" in w.operator_panel.advice_label.text()
    assert w.operator_panel.rejected_label.text().startswith("Rejected trials: ")


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_calibrate_train_online_predictions(make_window, qtbot):
    w = make_window(make_factory(max_epochs=3))
    connect_simulated(w, qtbot)
    calibrate(w, qtbot)
    qtbot.waitUntil(lambda: w.session.model is not None or w.error_banner.isVisible(), timeout=60000)
    assert not w.error_banner.isVisible(), w.error_banner.text.text()
    assert len(w.bridge.history) == 3
    assert w.training_panel.progress.value() == 3
    assert w.state_text == "connected" and w.online_panel.start_button.isEnabled()
    w.online_panel.start_button.click()  # the decoder is built off the UI thread: online a frame or two later
    assert w.session.online_starting and not w.online_panel.start_button.isEnabled()
    qtbot.waitUntil(lambda: w.state_text == "online", timeout=5000)
    qtbot.waitUntil(lambda: w.online_panel.n_predictions >= 3, timeout=20000)
    assert sum(b.value() for b in w.online_panel.prob_bars.values()) == pytest.approx(100, abs=2)
    assert "Latency" in w.online_panel.latency_label.text() and "–" not in w.online_panel.latency_label.text()
    w.online_panel.stop_button.click()
    assert w.state_text == "connected"


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_cancel_training_then_close_leaves_no_thread(make_window, qtbot):
    w = make_window(make_factory(max_epochs=500, slow=True))
    connect_simulated(w, qtbot)
    calibrate(w, qtbot)
    qtbot.waitUntil(lambda: w.state_text == "training" and len(w.bridge.history) >= 1, timeout=60000)
    assert w.training_panel.cancel_button.isEnabled()
    w.training_panel.cancel_button.click()
    qtbot.waitUntil(lambda: w.state_text == "connected", timeout=30000)
    assert w.session.model is None
    assert "cancelled" in w.error_banner.text.text()
    assert not any(t.name == "bci-finetune" for t in threading.enumerate())
