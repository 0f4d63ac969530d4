"""``scan_xdf`` walks chunk headers: complete files, files cut by a crash, and non-XDF files."""

import numpy as np
import pytest

from bci_app.errors import RecordingError
from bci_app.io.resume import find_incomplete_recordings, scan_xdf
from bci_app.io.xdf import XdfRecorder


def _write(path, close: bool = True) -> None:
    rec = XdfRecorder(path, flush_interval=None)
    eeg = rec.add_stream("eeg", "EEG", ["C3", "C4"], sfreq=100.0)
    marks = rec.add_stream("marks", "Markers", ["m"], channel_format="string")
    rec.push(eeg, np.zeros((2, 500)), np.arange(500) / 100.0)
    rec.push(marks, ["769"], np.array([1.0]))
    rec.flush()
    if close:
        rec.close()


def test_complete_file_has_every_footer(tmp_path):
    path = tmp_path / "done.xdf"
    _write(path)
    scan = scan_xdf(path)
    assert scan.complete and sorted(scan.streams.values()) == ["eeg", "marks"]
    assert scan.complete_bytes == scan.size == path.stat().st_size


def test_file_cut_mid_chunk_is_incomplete_and_found(tmp_path):
    path = tmp_path / "sub" / "cut.xdf"
    path.parent.mkdir()
    _write(path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 7])  # the footers and part of the last chunk are lost
    scan = scan_xdf(path)
    assert not scan.complete and scan.unfinished_streams
    assert scan.complete_bytes < scan.size
    assert [s.path for s in find_incomplete_recordings(tmp_path)] == [path]


def test_not_xdf_is_refused(tmp_path):
    path = tmp_path / "fake.xdf"
    path.write_text("hello")
    with pytest.raises(RecordingError, match="not an XDF file"):
        scan_xdf(path)
