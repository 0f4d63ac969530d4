"""The window offers to continue a recording a crash left unfinished (issue 7): Continue records the
next file to ``<name>-part2.xdf`` with the same subject/session ids; Dismiss leaves the file as it is."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bci_app.config import AppConfig
from bci_app.io.recording import read_recording
from bci_app.io.resume import find_incomplete_recordings, scan_xdf

pytest.importorskip("bci_app.session")

REPO = Path(__file__).resolve().parents[2]

# a recorder that flushes two seconds of data and is then killed (SIGKILL): no stream footers
_CRASHING_RECORDER = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {repo!r})
    import numpy as np
    from bci_app.io.xdf import XdfRecorder
    rec = XdfRecorder({path!r}, flush_interval=None, clock=lambda: 10.0)
    eeg = rec.add_stream("crashed-eeg", "EEG", ["C3", "Cz", "C4"], sfreq=100.0, source_id="crashed-eeg")
    rec.push(eeg, np.zeros((3, 200), dtype=np.float32), 8.0 + np.arange(200) / 100.0)
    rec.flush()
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def write_unfinished(path: Path) -> Path:
    proc = subprocess.run([sys.executable, "-c", _CRASHING_RECORDER.format(repo=str(REPO), path=str(path))],
                          timeout=60, check=False)
    assert proc.returncode == -signal.SIGKILL
    assert not scan_xdf(path).complete
    return path


@pytest.fixture
def crashed(tmp_path) -> Path:
    """An unfinished recording of subject S07, session 03, in the data folder ``tmp_path/data``."""
    return write_unfinished(tmp_path / "data" / "sub-S07" / "2024-05-06_ses-03" / "sub-S07_ses-03_run-01.xdf")


@pytest.fixture
def window(qtbot, tmp_path):
    from bci_app.gui.main_window import MainWindow

    cfg = AppConfig()
    cfg.recording.directory = str(tmp_path / "data")
    w = MainWindow(cfg, log_dir=tmp_path / "logs")
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def connect_simulated(w, qtbot) -> None:
    w.source_panel.tabs.setCurrentIndex(0)
    w.source_panel.sim_channels.setCurrentText("sensorimotor8")
    w.source_panel.connect_button.click()
    qtbot.waitUntil(lambda: w.state_text == "connected", timeout=5000)


def record_briefly(w, qtbot) -> Path:
    sp = w.session_panel
    assert sp.record_button.isEnabled()
    sp.record_button.click()
    assert sp.recording_path is not None, w.error_banner.text.text()
    path = sp.recording_path
    qtbot.wait(300)
    sp.stop_record_button.click()
    assert sp.recording_path is None and not sp.stop_record_button.isEnabled()
    return path


def test_continue_records_to_part2_with_same_ids(crashed, window, qtbot):
    sp = window.session_panel
    qtbot.waitUntil(lambda: sp.resume_banner.isVisible(), timeout=5000)
    assert window.left_tabs.currentWidget() is sp  # brought to the front, no modal dialog
    text = sp.resume_banner.text.text()
    assert "subject S07" in text and "session 03" in text and crashed.name in text and "not closed properly" in text
    assert "sub-S07_ses-03_run-01-part2.xdf" in text
    assert sp.subject == "S01"  # nothing changes before the operator answers

    sp.resume_banner.continue_button.click()
    assert not sp.resume_banner.isVisible()
    assert (sp.subject, sp.session) == ("S07", "03")
    part2 = crashed.with_name("sub-S07_ses-03_run-01-part2.xdf")
    assert sp.next_recording_path() == part2
    assert part2.name in sp.record_label.text() and crashed.name in sp.record_label.text()
    assert sp.folder_label.text() == str(crashed.parent)

    assert not sp.record_button.isEnabled()  # no source yet
    connect_simulated(window, qtbot)
    sp.record_button.click()
    assert sp.recording_path == part2 and window.session.recorder.path == part2
    assert "continues" in sp.record_label.text() and part2.name in sp.record_label.text()
    qtbot.wait(300)
    sp.stop_record_button.click()
    assert scan_xdf(part2).complete
    assert f"saved: {part2.name}" in sp.record_label.text()
    # continued: the next recording is a new run of the same subject/session, nothing is offered again
    assert sp.continuing is None
    assert sp.next_recording_path() == sp.folder() / "sub-S07_ses-03_run-01.xdf"
    assert find_incomplete_recordings(sp.root()) == []
    sp.rescan()
    qtbot.waitUntil(lambda: sp.n_scans >= 2, timeout=5000)
    assert not sp.resume_banner.isVisible() and sp.offer is None
    assert read_recording(crashed).n_times == 200  # the damaged file was not touched


def test_dismiss_leaves_file_readable_and_records_a_new_run(crashed, window, qtbot):
    sp = window.session_panel
    qtbot.waitUntil(lambda: sp.resume_banner.isVisible(), timeout=5000)
    before = crashed.read_bytes()
    sp.resume_banner.dismiss_button.click()
    assert not sp.resume_banner.isVisible() and sp.offer is None and sp.continuing is None
    assert sp.subject == "S01"

    # changing the subject folder looks again, but a dismissed file is not offered again in this run
    n = sp.n_scans
    sp.subject_edit.setText("S07")
    qtbot.waitUntil(lambda: sp.n_scans > n, timeout=5000)
    assert not sp.resume_banner.isVisible()

    connect_simulated(window, qtbot)
    new = record_briefly(window, qtbot)
    assert new.parent == sp.folder() and new.name == "sub-S07_ses-01_run-01.xdf"
    assert scan_xdf(new).complete
    assert crashed.read_bytes() == before  # left as it is
    rec = read_recording(crashed)
    assert rec.n_times == 200 and rec.ch_names == ("C3", "Cz", "C4")
    assert [s.path for s in find_incomplete_recordings(sp.root())] == [crashed]  # still unfinished, on disk


def test_subject_folder_change_finds_new_unfinished_recording(window, qtbot, tmp_path):
    sp = window.session_panel
    qtbot.waitUntil(lambda: sp.n_scans >= 1, timeout=5000)
    assert not sp.resume_banner.isVisible()  # nothing unfinished yet
    other = write_unfinished(tmp_path / "other" / "sub-A2" / "2024-01-01_ses-01" / "run.xdf")
    n = sp.n_scans
    sp.root_edit.setText(str(tmp_path / "other"))
    qtbot.waitUntil(lambda: sp.n_scans > n and sp.resume_banner.isVisible(), timeout=5000)
    assert sp.offer.path == other and "subject A2" in sp.resume_banner.text.text()
    # moving away from the offered subject cancels a continuation chosen for it
    sp.resume_banner.continue_button.click()
    assert sp.next_recording_path() == other.with_name("run-part2.xdf")
    sp.subject_edit.setText("B9")
    assert sp.continuing is None and sp.next_recording_path().name == "sub-B9_ses-01_run-01.xdf"
