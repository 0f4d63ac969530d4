"""The paradigm set-up in the window: classes the base decodes, trials, runs, timeline, beep; every
edit validated as the config is and checked against the base's window before the session takes it;
locked during a run; saved with the session (paradigm.yaml and the XDF header) and reloaded."""

from __future__ import annotations

import pytest

from bci_app.config import AppConfig


@pytest.fixture
def make_window(qtbot, tmp_path):
    from bci_app.gui.main_window import MainWindow

    windows = []

    def make(config: AppConfig):
        config.recording.directory = str(tmp_path / "data")
        w = MainWindow(config, log_dir=tmp_path / "logs")
        qtbot.addWidget(w)
        w.show()
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.close()


def test_edits_are_checked_then_used_locked_during_a_run_and_saved(make_window, qtbot, tmp_path):
    from bci_app.io.paradigm_file import load_paradigm

    w = make_window(AppConfig())
    ed, s = w.paradigm_editor, w.session
    assert not ed.class_checks["feet"].isEnabled() and "does not decode feet" in ed.class_checks["feet"].toolTip()
    ed.trials_per_class.setValue(5)
    ed.trials_per_run.setValue(6)
    ed.beep.setChecked(True)
    assert (s.config.paradigm.trials_per_class, s.config.paradigm.trials_per_run, s.config.paradigm.beep) == (5, 6, True)
    assert ed.status.text().startswith("10 trials (5 per class) in 2 runs with a 15 s break; about ")
    assert w.operator_panel.beep_check.isChecked() and w.session_panel.config.paradigm.trials_per_class == 5
    # the base's window refusal and the config's own rules: said, and the session keeps the last good set-up
    ed.times["imagery_end_s"].setValue(3.0)
    assert ed.status.text().startswith("Not used: ") and "set paradigm.imagery_end_s to at least" in ed.status.text()
    ed.times["imagery_end_s"].setValue(6.0)
    ed.times["rest_min_s"].setValue(5.0)
    assert "rest_max_s must be >= rest_min_s" in ed.status.text()
    ed.times["rest_min_s"].setValue(1.0)
    ed.class_checks["right_hand"].setChecked(False)
    assert "paradigm.classes" in ed.status.text() and "at least two distinct classes" in ed.status.text()
    ed.class_checks["right_hand"].setChecked(True)
    assert s.config.paradigm.rest_min_s == 1.0 and s.config.paradigm.imagery_end_s == 6.0
    # a run: the editor is locked; the set-up goes into the session folder and the recording's header
    w.bridge.start_participant("P001")
    w.source_panel.tabs.setCurrentIndex(0)
    w.source_panel.sim_channels.setCurrentText("sensorimotor16")
    w.source_panel.connect_button.click()
    qtbot.waitUntil(lambda: w.state_text == "connected", timeout=5000)
    assert ed.isEnabled()
    w.operator_panel.start_button.click()
    assert w.state_text == "calibrating" and not ed.isEnabled()
    assert not s.set_paradigm(s.config.paradigm) and "cannot change the paradigm while calibrating" in s.errors[-1].message
    w.operator_panel.abort_button.click()
    qtbot.waitUntil(lambda: w.state_text == "connected", timeout=5000)
    assert ed.isEnabled()
    folder = s.folder.path
    saved = load_paradigm(folder / "paradigm.yaml")
    assert saved == s.config.paradigm and saved.trials_per_class == 5
    w.disconnect_source()
    assert load_paradigm(folder / "calibration.xdf") == saved  # from the recording's header
    # another window reloads it
    w2 = make_window(AppConfig())
    assert w2.paradigm_editor.load(folder) == saved
    assert w2.session.config.paradigm == saved and w2.paradigm_editor.trials_per_class.value() == 5


def test_a_four_class_base_offers_feet_and_both_hands(make_window):
    config = AppConfig()
    config.model.base = "sensorimotor16_4class"
    w = make_window(config)
    ed = w.paradigm_editor
    assert [c for c, box in ed.class_checks.items() if box.isEnabled()] == ["left_hand", "right_hand", "feet", "both_hands"]
    ed.class_checks["feet"].setChecked(True)
    ed.class_checks["both_hands"].setChecked(True)
    assert w.session.config.paradigm.classes == ["left_hand", "right_hand", "feet", "both_hands"]
    assert ed.status.text().startswith("80 trials (20 per class)")
