"""The window's BIDS export: a session folder's recordings written off the UI thread with progress per
recording, read back with MNE-BIDS; a folder without recordings says so in the box."""

from __future__ import annotations

import numpy as np
import pytest

mne_bids = pytest.importorskip("mne_bids")

CH = ["C3", "Cz", "C4", "FC3", "FC4", "CP3", "CP4", "EOG1"]


def _recording(path, seed: int) -> None:
    from bci_app.io.xdf import XdfRecorder

    rng = np.random.default_rng(seed)
    sfreq, n = 160.0, 1600
    with XdfRecorder(path, flush_interval=None, clock=lambda: 500.0) as xdf:
        eeg = xdf.add_stream("eeg", "EEG", CH, ch_types=["eeg"] * 7 + ["eog"], units=["microvolts"] * 8, sfreq=sfreq)
        xdf.push(eeg, rng.normal(0, 10, (8, n)).astype(np.float32), 500.0 + np.arange(n) / sfreq)
        markers = xdf.add_stream("markers", "Markers", ["marker"], channel_format="string")
        xdf.push(markers, ["768", "769", "800", "768", "770", "800"], 500.0 + np.array([1.0, 2.0, 5.0, 6.0, 7.0, 9.0]))


def test_export_bids_button_writes_a_dataset_off_the_ui_thread(qtbot, tmp_path):
    from bci_app.gui.bids_view import BidsExportBox

    folder = tmp_path / "sessions" / "P007" / "2026-12-02_010203"
    folder.mkdir(parents=True)
    _recording(folder / "calibration.xdf", 0)
    _recording(folder / "online.xdf", 1)
    box = BidsExportBox()
    qtbot.addWidget(box)
    box.set_source(folder)
    assert box.root_edit.text() == str(tmp_path / "sessions" / "bids")  # beside the participants' folders
    with qtbot.waitSignal(box.finished, timeout=60000, check_params_cb=lambda result, exc: exc is None):
        assert box.start_export()
        assert not box.export_button.isEnabled()  # one export at a time; the UI thread is free meanwhile
    assert box.export_button.isEnabled()
    assert (box.progress.value(), box.progress.maximum()) == (2, 2)
    assert box.status.text().startswith("Wrote 2 recording(s) as sub-P007 ses-20261202010203 task-motorimagery")
    raw = mne_bids.read_raw_bids(box.result.bids_paths[0], verbose="error")
    assert raw.ch_names == CH and raw.get_channel_types()[-1] == "eog"
    assert sorted(set(raw.annotations.description)) == ["end_of_trial", "left_hand", "right_hand", "trial_start"]
    # an empty folder: the reason in the box, in red; nothing raised into Qt
    empty = tmp_path / "sessions" / "P008" / "2026-12-02_020304"
    empty.mkdir(parents=True)
    box.source_edit.setText(str(empty))
    with qtbot.waitSignal(box.finished, timeout=30000, check_params_cb=lambda result, exc: result is None):
        box.start_export()
    assert "holds no .xdf recording" in box.status.text() and "b71c1c" in box.status.styleSheet()
    box.source_edit.setText("")
    assert not box.start_export() and "Give the session folder" in box.status.text()


def test_the_report_tab_offers_the_participants_session(qtbot, tmp_path):
    from bci_app.config import AppConfig
    from bci_app.gui.main_window import MainWindow

    config = AppConfig()
    config.recording.directory = str(tmp_path / "data")
    w = MainWindow(config, log_dir=tmp_path / "logs")
    qtbot.addWidget(w)
    w.bridge.start_participant("P009")
    assert w.report_panel.bids.source_edit.text() == str(w.session.folder.path)
    assert w.report_panel.bids.root_edit.text() == str(tmp_path / "data" / "bids")
    w.close()
