"""The BrainFlow form holds every connection parameter, filled from the config, and they reach the stream."""

from __future__ import annotations

import pytest

from bci_app.config import BrainFlowConfig


@pytest.fixture
def app():
    from PySide6 import QtWidgets

    return QtWidgets.QApplication.instance() or QtWidgets.QApplication([])


def test_brainflow_form_from_config_to_stream(app):
    from bci_app.acquisition.sources import make_stream
    from bci_app.gui.source_panel import KIND_TABS, SourcePanel

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


def test_channel_table_preset_edit_and_connect(app):
    """The BrainFlow preset fills the table; the operator moves two electrodes and marks one EOG; the
    connected stream carries that map (positions, types, the board's own labels)."""
    from bci_app.acquisition.sources import make_stream
    from bci_app.config import ChannelsConfig
    from bci_app.gui.source_panel import KIND_TABS, SourcePanel

    panel = SourcePanel(brainflow=BrainFlowConfig(board="synthetic"), channels=ChannelsConfig(map={"F8": "eog"}))
    panel.tabs.setCurrentIndex(KIND_TABS["brainflow"])
    labels = [panel.channel_table.item(r, 0).text() for r in range(panel.channel_table.rowCount())]
    assert labels[:3] == ["Fz", "C3", "Cz"] and labels[-3:] == ["accel_x", "accel_y", "accel_z"]
    panel.set_channel_target("PO7", "CP3")
    panel.set_channel_target("PO8", "CP4")
    seen = []
    panel.connect_requested.connect(seen.append)
    panel.connect_button.click()
    spec = seen[0]
    assert spec["channel_map"]["PO7"] == "CP3" and spec["channel_map"]["F8"] == "eog"  # F8 from the config
    stream = make_stream(spec)
    with stream:
        info = stream.info
    assert info.ch_names[5] == "CP3" and info.ch_names[7] == "CP4" and info.ch_types[15] == "eog"
    assert info.source_labels[5] == "PO7" and info.ch_types[16:] == ("accel",) * 3
    panel.set_channel_target("Fz", "Q9")  # not a position
    panel.connect_button.click()
    assert len(seen) == 1 and "neither a 10-05 electrode position" in panel.status_label.text()
    panel.close()


def test_unlabeled_lsl_stream_gets_rows_to_map(app, unique_name):
    import pylsl

    from bci_app.gui.source_panel import KIND_TABS, SourcePanel

    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(unique_name, "EEG", 3, 250.0, "float32", unique_name))  # noqa: F841
    panel = SourcePanel()
    panel.tabs.setCurrentIndex(KIND_TABS["lsl"])
    panel.refresh_lsl()
    panel.wait_discovery(10.0)
    app.processEvents()
    row = next(i for i, r in enumerate(panel._lsl_rows) if r["name"] == unique_name)  # noqa: SLF001
    panel.lsl_table.selectRow(row)
    labels = [panel.channel_table.item(r, 0).text() for r in range(panel.channel_table.rowCount())]
    assert labels == ["ch1", "ch2", "ch3"] and "no 10-05 name" in panel.channel_note.text()
    for label, pos in zip(labels, ("C3", "Cz", "C4")):
        panel.set_channel_target(label, pos)
    assert panel.channel_map() == {"ch1": "C3", "ch2": "Cz", "ch3": "C4"}
    panel.close()
