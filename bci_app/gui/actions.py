"""The window's keyboard shortcuts: one :class:`QtGui.QAction` per command, in the *Session* menu,
named in the tooltip of the button it presses, and listed under *Help*.

Each action presses its button (so a shortcut does exactly what the click does, and nothing when the
button is disabled); the shortcuts work in every window of the app, the participant screen included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

if TYPE_CHECKING:
    from bci_app.gui.main_window import MainWindow

#: command -> (menu text, shortcut)
SHORTCUTS: dict[str, tuple[str, str]] = {
    "start_calibration": ("Start calibration", "F5"),
    "pause_calibration": ("Pause / resume calibration", "F6"),
    "start_online": ("Start online feedback", "F7"),
    "stop": ("Stop what runs (calibration, online feedback, replay)", "F8"),
    "participant_screen": ("Participant screen on / off", "F11"),
    "retrain": ("Retrain", "Ctrl+R"),
    "quit": ("Quit", "Ctrl+Q"),
    "help": ("Keyboard shortcuts", "F1"),
}


def _press(*buttons: QtWidgets.QAbstractButton) -> Callable[[], None]:
    """Click the first enabled (and, for a run control, relevant) button of ``buttons``."""

    def press() -> None:
        for button in buttons:
            if button.isEnabled():
                button.click()
                return

    return press


def shortcuts_text() -> str:
    """The shortcut list shown by Help (plain text, one per line)."""
    return "\n".join(f"{key}\t{text}" for text, key in SHORTCUTS.values())


def _with_key(button: QtWidgets.QAbstractButton, text: str, key: str) -> None:
    """Add the shortcut to the button's tooltip (the command's name when it has none)."""
    tip = button.toolTip() or text
    button.setToolTip(f"{tip} ({key})")


def install_actions(w: MainWindow) -> dict[str, QtGui.QAction]:
    """Create the actions of ``w``: the *Session* and *Help* menus, the shortcuts (application-wide,
    so they work on the participant screen too) and the buttons' tooltips. Returns them by command."""
    op, on, tr, rp = w.operator_panel, w.online_panel, w.training_panel, w.replay_panel
    handlers: dict[str, Callable[[], None]] = {
        "start_calibration": _press(op.start_button),
        "pause_calibration": _press(op.pause_button, op.resume_button),
        "start_online": _press(on.start_button),
        "stop": _press(op.abort_button, on.stop_button, rp.stop_button),
        "participant_screen": w.toggle_participant_screen,
        "retrain": _press(tr.retrain_button),
        "quit": w.close,
        "help": w.show_shortcuts,
    }
    buttons = {"start_calibration": [op.start_button], "pause_calibration": [op.pause_button, op.resume_button],
               "start_online": [on.start_button], "stop": [op.abort_button, on.stop_button, rp.stop_button],
               "participant_screen": [op.fullscreen_button, on.participant_button], "retrain": [tr.retrain_button]}
    actions: dict[str, QtGui.QAction] = {}
    session_menu = w.menuBar().addMenu("&Session")
    help_menu = w.menuBar().addMenu("&Help")
    for name, (text, key) in SHORTCUTS.items():
        action = QtGui.QAction(text, w)
        action.setShortcut(QtGui.QKeySequence(key))
        action.setShortcutContext(QtCore.Qt.ShortcutContext.ApplicationShortcut)
        action.triggered.connect(handlers[name])
        (help_menu if name == "help" else session_menu).addAction(action)
        if name == "quit":
            session_menu.insertSeparator(action)
        for button in buttons.get(name, ()):
            _with_key(button, text, key)
        actions[name] = action
    w.cue_display.addActions(list(actions.values()))  # the detached participant window hears them too
    return actions
