"""The desktop app's side of "every configuration key does something" (tests/test_config_keys.py
checks the core and the commands without Qt): the keys the window reads change what it shows or
builds, and the keys only the window reads are all probed here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_config_keys import GUI_ONLY, with_key

from bci_app.config import AppConfig


def _lsl_tab(config: AppConfig, qtbot, tmp_path: Path) -> tuple:
    """The LSL stream the window's LSL tab builds (not connected)."""
    from bci_app.acquisition.sources import make_stream

    s = make_stream({"kind": "lsl", "name": "eeg"}, lsl=config.lsl)
    return s.resolve_timeout, s.bufsize, s.acquisition_delay, s.default_unit


def _brainflow_form(config: AppConfig, qtbot, tmp_path: Path) -> str:
    from bci_app.gui.source_panel import SourcePanel

    panel = SourcePanel(brainflow=config.brainflow)
    qtbot.addWidget(panel)
    return panel.bf_board.currentText()


def _channel_table(config: AppConfig, qtbot, tmp_path: Path) -> tuple:
    """The window's channel table for the BrainFlow synthetic board."""
    from bci_app.gui.source_panel import KIND_TABS, SourcePanel

    panel = SourcePanel(brainflow=config.brainflow, channels=config.channels)
    qtbot.addWidget(panel)
    panel.tabs.setCurrentIndex(KIND_TABS["brainflow"])
    return tuple(sorted(panel.channel_map().items()))


def _window(config: AppConfig, qtbot, tmp_path: Path) -> tuple:
    """What the desktop window shows from the config: beep at trial start, the data folder."""
    from bci_app.gui.main_window import MainWindow

    window = MainWindow(config, log_dir=tmp_path / "logs")
    qtbot.addWidget(window)
    try:
        return window.cue_display.beep, str(window.session_panel.root())
    finally:
        window.close()


#: key -> (a changed value, probe)
GUI: dict[str, tuple[Any, Any]] = {
    "paradigm.beep": (True, _window),
    "recording.directory": ("~/elsewhere", _window),
    "brainflow.board": ("cyton", _brainflow_form),
    "channels.map": ({"Fz": "FCz", "F8": "eog"}, _channel_table),
    **{k: (v, _lsl_tab) for k, v in {"lsl.resolve_timeout_s": 2.0, "lsl.bufsize_s": 60.0,
                                      "lsl.acquisition_delay_s": 0.05, "lsl.default_unit": "V"}.items()},
}


def test_every_key_only_the_window_reads_is_probed_here():
    assert GUI_ONLY <= set(GUI)


@pytest.mark.parametrize("key", sorted(GUI))
def test_changing_the_key_changes_what_the_window_does(key, qtbot, tmp_path):
    value, probe = GUI[key]
    default = AppConfig()
    assert probe(default, qtbot, tmp_path) != probe(with_key(default, key, value), qtbot, tmp_path), f"{key} changed nothing"
