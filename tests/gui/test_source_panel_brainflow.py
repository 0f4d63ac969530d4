"""The BrainFlow form holds every connection parameter, filled from the config, and they reach the stream."""

from __future__ import annotations

import pytest

from bci_app.config import BrainFlowConfig


@pytest.fixture
def app():
    from PySide6 import QtWidgets

    return QtWidgets.QApplication.instance() or QtWidgets.QApplication([])


def test_brainflow_form_from_config_to_stream(app):
    from bci_app.gui.source_panel import KIND_TABS, SourcePanel, make_stream

    cfg = BrainFlowConfig(board="playback_file", file="rec.csv", master_board="synthetic", ip_port=6677,
                          ip_protocol=2, serial_number="UN-1", timeout=12)
    panel = SourcePanel(brainflow=cfg)
    panel.tabs.setCurrentIndex(KIND_TABS["brainflow"])
    spec = panel.current_spec()
    assert spec["board"] == "playback_file"
    given = {k: v for k, v in spec["params"].items() if v not in (None, "")}
    assert given == {"file": "rec.csv", "master_board": "synthetic", "ip_port": 6677, "ip_protocol": 2,
                     "serial_number": "UN-1", "timeout": 12}
    stream = make_stream(spec)
    assert stream.board_id == -3 and stream.master_board_id == -1
    assert stream._params["file"] == "rec.csv" and stream._params["timeout"] == 12  # noqa: SLF001
    panel.close()
