"""The clinician's guided flow in the real window (1366 x 768) with the simulated headset: participant
-> headset -> calibration (recorded by itself) -> training (the app's own calibration job) -> report
-> online feedback; the participant's folder holds the recordings, the adapter and the report, and a
second session of the same participant continues with that adapter and decodes. At each step what
the panels say is checked against the session's state."""

from __future__ import annotations

import pytest

from bci_app.config import AppConfig

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _config(tmp_path, max_epochs: int = 5) -> AppConfig:
    """A short paradigm and fine-tuning, recordings under ``tmp_path``."""
    cfg = AppConfig()
    cfg.paradigm = cfg.paradigm.model_copy(update={
        "trials_per_class": 4, "trials_per_run": 8, "cue_at_s": 0.4, "cue_duration_s": 0.25,
        "imagery_end_s": 4.0, "rest_min_s": 0.1, "rest_max_s": 0.2, "break_s": 0.0})
    cfg.finetune = cfg.finetune.model_copy(update={"max_epochs": max_epochs, "min_trials_per_class": 2, "gate_folds": 2,
                                                   "gate_repeats": 1})
    cfg.recording = cfg.recording.model_copy(update={"directory": str(tmp_path / "data")})
    return cfg


def _window(qtbot, tmp_path, config):
    from bci_app.gui.main_window import MainWindow

    w = MainWindow(config, log_dir=tmp_path / "logs", config_path=tmp_path / "clinic.yaml")
    qtbot.addWidget(w)
    w.resize(1366, 768 - 64)  # a clinic laptop, less the title and task bars
    w.show()
    return w


def _connect(w, qtbot):
    w.source_panel.tabs.setCurrentIndex(0)
    w.source_panel.sim_channels.setCurrentText("sensorimotor16")
    w.source_panel.connect_button.click()
    qtbot.waitUntil(lambda: w.state_text == "connected", timeout=10000)


def _text(w, name: str) -> str:
    return next((s.text for s in w.guide_panel.steps if s.name == name), "")


def _current(w) -> str:
    step = next((s for s in w.guide_panel.steps if s.status == "current"), None)
    return step.name if step is not None else ""


def test_guided_flow_saves_everything_and_a_second_session_continues(qtbot, tmp_path):
    config = _config(tmp_path)
    w = _window(qtbot, tmp_path, config)
    qtbot.waitUntil(lambda: _current(w) == "participant", timeout=3000)
    qtbot.waitUntil(lambda: "participant's ID" in w.guide_panel.continue_note.text(), timeout=3000)  # why grey
    w.guide_panel.participant.setText("P042")
    w.guide_panel.start_button.click()
    qtbot.waitUntil(lambda: _current(w) == "headset", timeout=3000)
    assert "Connect the headset" in w.guide_panel.next_label.text()
    qtbot.waitUntil(lambda: "No earlier adapter of P042" in w.guide_panel.continue_note.text(), timeout=3000)
    folder = w.session.folder.path
    sp = w.session_panel  # the Session tab shows the real participant, folder and config
    assert sp.subject_edit.text() == "P042" and sp.folder_label.text() == str(folder)
    assert str(tmp_path / "clinic.yaml") in sp.config_label.text()
    _connect(w, qtbot)
    # the time estimate is the configured paradigm's (8 trials of about 4 s), not "about 5 minutes"
    qtbot.waitUntil(lambda: "about 3" in _text(w, "calibration"), timeout=3000)
    w.operator_panel.start_button.click()
    qtbot.waitUntil(lambda: _current(w) == "calibration" and "Running" in w.guide_panel.next_label.text(),
                    timeout=5000)
    assert (folder / "calibration.xdf").exists()  # recording started by itself
    # the last trial's imagery ends: still "Calibration", never "Training" while the paradigm runs
    qtbot.waitUntil(lambda: w.session.mode.value != "calibrating" or _current(w) != "calibration", timeout=120000)
    assert w.session.mode.value != "calibrating"
    qtbot.waitUntil(lambda: w.session.saved is not None or w.error_banner.isVisible(), timeout=180000)
    assert not w.error_banner.isVisible(), w.error_banner.text.text()
    qtbot.waitUntil(lambda: w.session.model is not None, timeout=30000)
    assert (folder / "adapter.safetensors").is_file() and (folder / "calibration_report.html").is_file()
    assert w.report_panel.captions and w.report_panel.open_button.isEnabled()
    outcome = w.session.training_result  # the headline says which model the gate installed, and why
    assert outcome.headline() in w.training_panel.status_label.text()
    assert ("Adapted model" if outcome.chosen == "adapted" else "Unadapted base") in w.training_panel.status_label.text()
    assert _current(w) == "report" and "open the Report tab" in w.guide_panel.next_label.text()
    w.tabs.setCurrentWidget(w.report_panel)  # seen: ticked
    qtbot.waitUntil(lambda: _current(w) == "online", timeout=3000)
    w.online_panel.start_button.click()
    qtbot.waitUntil(lambda: w.online_panel.n_predictions >= 3, timeout=20000)
    assert w.cue_display.feedback is not None  # the participant screen shows the decoder
    assert "Every step is done" not in w.guide_panel.next_label.text()
    w.online_panel.stop_button.click()
    assert w.cue_display.feedback is None and "stopped" in w.online_panel.prediction_label.text()
    assert all(bar.value() == 0 for bar in w.online_panel.prob_bars.values())
    assert (folder / "online.xdf").is_file()
    w.source_panel.disconnect_button.click()
    w.close()

    again = _window(qtbot, tmp_path, config)
    again.guide_panel.participant.setText("P042")
    again.guide_panel.start_button.click()
    qtbot.waitUntil(lambda: "headset connected" in again.guide_panel.continue_note.text(), timeout=3000)
    _connect(again, qtbot)
    qtbot.waitUntil(lambda: again.guide_panel.continue_button.isEnabled(), timeout=3000)
    qtbot.waitUntil(lambda: again.guide_panel.continue_note.text() == "", timeout=3000)
    again.guide_panel.continue_button.click()
    qtbot.waitUntil(lambda: again.session.model_source == "loaded", timeout=60000)
    # calibration, training and report skipped (the headset step waits while a channel is flagged)
    qtbot.waitUntil(lambda: _current(again) == "online", timeout=10000)
    assert [s.status for s in again.guide_panel.steps[2:5]] == ["skipped", "skipped", "skipped"]
    tp = again.training_panel  # the loaded adapter, not "epoch 0 of 60, calibration trials: 0"
    assert "earlier adapter" in tp.status_label.text() and "epoch" not in tp.progress.text()
    assert f"adapter: {folder / 'adapter'}" in tp.summary.toPlainText()
    assert "calibration trials: 0" not in tp.summary.toPlainText()
    again.online_panel.start_button.click()
    qtbot.waitUntil(lambda: again.online_panel.n_predictions >= 3, timeout=20000)
    again.online_panel.stop_button.click()
    again.close()
