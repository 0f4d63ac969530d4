"""Keyboard and closing: the shortcuts (in the Session menu, the buttons' tooltips and Help) do what
their buttons do; the participant screen leaves with Esc and with its toggle; closing the main window
(or Ctrl+Q) closes every window of the app, and the process ends."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6 import QtCore, QtWidgets

from bci_app.config import AppConfig
from bci_app.gui.actions import SHORTCUTS

Key = QtCore.Qt.Key


def _config() -> AppConfig:
    cfg = AppConfig()
    cfg.paradigm = cfg.paradigm.model_copy(update={"trials_per_class": 5, "trials_per_run": 10})
    return cfg


@pytest.fixture
def window(qtbot, tmp_path):
    from bci_app.gui.main_window import MainWindow

    w = MainWindow(_config(), log_dir=tmp_path / "logs")
    w.session.train_after_calibration = False
    qtbot.addWidget(w)
    w.show()
    w.activateWindow()
    qtbot.waitExposed(w)
    yield w
    w.close()


def _connect(w, qtbot) -> None:
    w.source_panel.tabs.setCurrentIndex(0)
    w.source_panel.sim_channels.setCurrentText("sensorimotor16")
    w.source_panel.connect_button.click()
    qtbot.waitUntil(lambda: w.state_text == "connected", timeout=10000)


def test_shortcuts_are_in_the_menu_the_tooltips_and_help(window):
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert set(menus) == {"Session", "Help"}
    listed = {a.shortcut().toString() for m in menus.values() for a in m.actions() if not a.isSeparator()}
    assert listed == {key for _, key in SHORTCUTS.values()}
    assert "(F5)" in window.operator_panel.start_button.toolTip()
    assert "(F8)" in window.online_panel.stop_button.toolTip()
    assert "(F11)" in window.online_panel.participant_button.toolTip()
    assert "(Ctrl+R)" in window.training_panel.retrain_button.toolTip()
    from bci_app.gui.actions import shortcuts_text

    assert "Ctrl+Q\tQuit" in shortcuts_text()


def test_calibration_keys_start_pause_resume_and_stop(window, qtbot):
    _connect(window, qtbot)
    qtbot.keyClick(window, Key.Key_F5)
    qtbot.waitUntil(lambda: window.state_text == "calibrating", timeout=3000)
    qtbot.keyClick(window, Key.Key_F6)
    assert window.session.paradigm.phase == "paused" and window.operator_panel.resume_button.isEnabled()
    qtbot.keyClick(window, Key.Key_F6)
    assert window.session.paradigm.phase != "paused"
    qtbot.keyClick(window, Key.Key_F8)
    qtbot.waitUntil(lambda: window.state_text == "connected", timeout=3000)
    assert window.session.paradigm.phase == "aborted"
    qtbot.keyClick(window, Key.Key_F5, QtCore.Qt.KeyboardModifier.NoModifier)
    qtbot.waitUntil(lambda: window.state_text == "calibrating", timeout=3000)  # a new run starts again
    window.source_panel.disconnect_button.click()


def test_participant_screen_leaves_with_esc_and_with_its_toggle(window, qtbot):
    cue, button = window.cue_display, window.online_panel.participant_button
    home = cue.parentWidget()
    qtbot.keyClick(window, Key.Key_F11)
    assert cue.is_fullscreen and cue.isWindow()
    assert button.isChecked() and window.operator_panel.fullscreen_button.isChecked()
    qtbot.keyClick(cue, Key.Key_Escape)
    assert not cue.is_fullscreen and cue.parentWidget() is home and not cue.isHidden()
    assert not button.isChecked()
    button.click()  # the toggle: on ...
    assert cue.is_fullscreen
    button.click()  # ... and off
    assert not cue.is_fullscreen and cue.parentWidget() is home
    window.tabs.setCurrentWidget(window.online_panel)
    qtbot.keyClick(window, Key.Key_F11)
    assert cue.is_fullscreen
    qtbot.keyClick(cue, Key.Key_F11)  # the shortcut works on the participant screen too
    assert not cue.is_fullscreen


def test_closing_the_window_closes_the_participant_screen(window, qtbot):
    window.online_panel.participant_button.click()
    assert window.cue_display.is_fullscreen
    qtbot.keyClick(window.cue_display, Key.Key_Q, QtCore.Qt.KeyboardModifier.ControlModifier)  # Ctrl+Q from it
    assert not window.isVisible() and not window.cue_display.isVisible()
    assert not window.timer.isActive()
    assert not [w for w in QtWidgets.QApplication.topLevelWidgets() if w.isVisible()]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_process_ends_when_the_window_closes_with_the_participant_screen_open(tmp_path):
    script = textwrap.dedent(f"""
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6 import QtCore, QtWidgets
        app = QtWidgets.QApplication(["bci-app"])
        from bci_app.config import AppConfig
        from bci_app.gui.main_window import MainWindow
        w = MainWindow(AppConfig(), log_dir={str(tmp_path / "logs")!r})
        w.show()
        QtCore.QTimer.singleShot(300, w.online_panel.participant_button.click)
        QtCore.QTimer.singleShot(900, w.close)
        code = app.exec()
        print("event loop ended", code, flush=True)
    """)
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=90,
                          env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "event loop ended 0" in done.stdout
