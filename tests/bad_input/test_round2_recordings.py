"""Recordings always readable, markers only from their own stream, bounds before allocation (bad input,
round 2): whatever the app writes it reads back (pyxdf and ``replay``), even from a stream whose
labels hold control characters; ``record`` never pairs another program's Markers stream and says what
it paired; an LSL stream too large to buffer is refused from its header, before any inlet exists."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np
import pylsl
import pytest

from bci_app.errors import StreamError

CONTROL_LABELS = ["C3\x01", "Cz\x00x", "C4\x1b[31m", "Pz\ufffe"]  # SOH, NUL, an ANSI escape, a non-character
ESCAPED = ["C3\\x01", "Cz\\x00x", "C4\\x1b[31m", "Pz\\ufffe"]
#: what an LSL outlet can carry (its labels are C strings: a NUL ends them)
LSL_LABELS = ["C3\x01", "Cz\x1fx", "C4\x1b[31m", "Pz\ufffe"]
LSL_ESCAPED = ["C3\\x01", "Cz\\x1fx", "C4\\x1b[31m", "Pz\\ufffe"]


def test_control_characters_in_any_header_text_are_escaped_and_the_file_reads_back(tmp_path, caplog):
    import pyxdf

    from bci_app.io.recording import read_recording
    from bci_app.io.xdf import XdfRecorder

    path = tmp_path / "ctl.xdf"
    with caplog.at_level(logging.WARNING, logger="bci_app.io.xdf"), \
            XdfRecorder(path, flush_interval=None, clock=lambda: 1.0, file_desc={"note": "by\x07hand"}) as rec:
        eeg = rec.add_stream("amp\x02", "EEG", CONTROL_LABELS, units=["microvolts"] * 4, sfreq=100.0,
                             source_id="sid\x03", desc={"manufacturer": "\x04acme"})
        rec.push(eeg, np.random.default_rng(0).standard_normal((4, 300)).astype(np.float32),
                 1.0 + np.arange(300) / 100.0)
        markers = rec.add_stream("m", "Markers", ["marker"], channel_format="string")
        rec.push(markers, ["769\x01", "\ud800"], [1.5, 2.0])  # sample strings are bytes: kept (lone surrogate escaped)
    streams, header = pyxdf.load_xdf(str(path))
    assert header["info"]["desc"][0]["note"] == ["by\\x07hand"]
    recording = read_recording(path)
    assert list(recording.ch_names) == ESCAPED and recording.n_times == 300
    assert [m.value for m in recording.markers] == ["769\x01", "\\ud800"]
    warned = [r.getMessage() for r in caplog.records if "control characters" in r.getMessage()]
    assert len(warned) == 4 + 4 and any("'C3\\x01'" in w and "written as 'C3\\\\x01'" in w for w in warned)


# -- real LSL outlets --------------------------------------------------------------------------------------

def _outlet(name: str, labels: list[str], *, source_id: str = "", sfreq: float = 200.0, n_chans: int | None = None,
            max_buffered: int = 360) -> pylsl.StreamOutlet:
    info = pylsl.StreamInfo(name, "EEG", n_chans or len(labels), sfreq, "float32", source_id)
    channels = info.desc().append_child("channels")
    for label in labels:
        ch = channels.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("unit", "microvolts")
        ch.append_child_value("type", "EEG")
    return pylsl.StreamOutlet(info, 0, max_buffered)


class _Pusher:
    """Pushes noise into ``outlet`` at ``sfreq`` until stopped (a headset, as LSL sees one)."""

    def __init__(self, outlet: pylsl.StreamOutlet, n_chans: int, sfreq: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(outlet, n_chans, sfreq), daemon=True)
        self._thread.start()

    def _run(self, outlet, n_chans: int, sfreq: float) -> None:
        rng = np.random.default_rng(0)
        while not self._stop.wait(0.05):
            outlet.push_chunk((rng.standard_normal((int(sfreq * 0.05), n_chans)) * 10.0).astype(np.float32))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)


def _markers_outlet(name: str, source_id: str = "") -> pylsl.StreamOutlet:
    return pylsl.StreamOutlet(pylsl.StreamInfo(name, "Markers", 1, pylsl.IRREGULAR_RATE, "string", source_id))


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_record_of_a_stream_with_control_characters_in_its_labels_reads_back(cli, tmp_path, unique_name):
    import pyxdf

    outlet = _outlet(unique_name, LSL_LABELS)
    pusher = _Pusher(outlet, 4, 200.0)
    try:
        result = cli(["record", "--lsl", unique_name, "--duration", "1.5", "--out", tmp_path / "r.xdf"])
    finally:
        pusher.stop()
    assert result.code == 0, result.err[-2000:]
    assert "control characters" in result.err and "written as 'C3\\\\x01'" in result.err
    streams, _ = pyxdf.load_xdf(str(tmp_path / "r.xdf"))
    eeg = next(s for s in streams if s["info"]["type"][0] == "EEG")
    assert [c["label"][0] for c in eeg["info"]["desc"][0]["channels"][0]["channel"]] == LSL_ESCAPED
    assert len(eeg["time_stamps"]) > 100
    from bci_app.io.recording import read_recording

    assert list(read_recording(tmp_path / "r.xdf").ch_names) == LSL_ESCAPED  # what replay reads


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_a_headless_session_records_such_a_stream_readably_without_an_error(tmp_path, unique_name):
    from bci_app.acquisition.lsl import StreamLSL
    from bci_app.config import AppConfig
    from bci_app.io.recording import read_recording
    from bci_app.session import Session

    outlet = _outlet(unique_name, LSL_LABELS)
    pusher = _Pusher(outlet, 4, 200.0)
    session = Session(AppConfig())
    errors = []
    session.subscribe("error", errors.append)
    try:
        assert session.connect(StreamLSL(unique_name, resolve_timeout=3.0, acquisition_delay=0.02,
                                         marker_stream=False))
        assert session.start_recording(tmp_path / "s.xdf")
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            session.update()
            time.sleep(0.05)
        session.stop_recording()
    finally:
        session.disconnect()
        pusher.stop()
    assert errors == []
    rec = read_recording(tmp_path / "s.xdf")
    assert list(rec.ch_names) == LSL_ESCAPED and rec.n_times > 100


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.parametrize("own", [False, True, "named"])
def test_record_pairs_only_the_markers_of_its_own_stream_and_says_so(cli, tmp_path, unique_name, own):
    """Another program's Markers stream is paired only when named (``--markers``)."""
    outlet = _outlet(unique_name, ["C3", "Cz", "C4"], source_id=f"{unique_name}-sid")
    foreign = _markers_outlet(f"{unique_name}-other-program", f"{unique_name}-other")
    mine = _markers_outlet(f"{unique_name}-markers") if own is True else None
    pusher = _Pusher(outlet, 3, 200.0)
    stop = threading.Event()

    def mark() -> None:
        while not stop.wait(0.1):
            foreign.push_sample(["foreign"])
            if mine is not None:
                mine.push_sample(["769"])

    marker_thread = threading.Thread(target=mark, daemon=True)
    marker_thread.start()
    try:
        named = ["--markers", f"{unique_name}-other-program"] if own == "named" else []
        result = cli(["record", "--lsl", unique_name, *named, "--duration", "1.5", "--out", tmp_path / "r.xdf"])
    finally:
        stop.set()
        marker_thread.join(5.0)
        pusher.stop()
    assert result.code == 0, result.err[-2000:]
    from bci_app.io.recording import read_recording

    values = {m.value for m in read_recording(tmp_path / "r.xdf").markers}
    if own == "named":
        assert values == {"foreign"}
        assert f"paired the Markers stream name='{unique_name}-other-program'" in result.err
        return
    assert "foreign" not in values
    if own:
        assert values == {"769"}
        assert f"paired the Markers stream name='{unique_name}-markers'" in result.err
    else:
        assert values == set()
        assert f"no Markers stream of its own for '{unique_name}'" in result.err
        assert f"'{unique_name}-other-program'" in result.err and "Not paired" in result.err
        assert "WARNING" in result.err and "record --markers" in result.err


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.parametrize("n_chans, sfreq, fragment", [(1024, 50_000.0, "GiB limit"), (1, 1e6, "at most 100000 Hz"),
                                                      (2048, 100.0, "at most 1024 are supported")])
def test_a_stream_too_large_to_buffer_is_refused_from_its_header(memory_cap, unique_name, n_chans, sfreq, fragment):
    """No inlet is opened: the memory of this process stays far below what the buffers would take."""
    from bci_app.acquisition.lsl import StreamLSL

    outlet = _outlet(unique_name, [], n_chans=n_chans, sfreq=sfreq, max_buffered=1)
    stream = StreamLSL(unique_name, resolve_timeout=3.0)
    with pytest.raises(StreamError, match=fragment) as info:
        stream.connect()
    assert f"LSL stream '{unique_name}'" in str(info.value)
    assert stream._inlet is None and stream._paired.inlet is None  # noqa: SLF001 - nothing was opened
    del outlet


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_record_of_a_stream_too_large_to_buffer_is_a_clear_exit_2(cli, tmp_path, unique_name):
    outlet = _outlet(unique_name, [], n_chans=1024, sfreq=100_000.0, max_buffered=1)
    result = cli(["record", "--lsl", unique_name, "--duration", "1", "--out", tmp_path / "r.xdf"])
    assert result.code == 2 and "Traceback" not in result.err
    assert "1024 channels at 100000 Hz" in result.err and "GiB limit" in result.err
    assert not Path(tmp_path / "r.xdf").exists()
    del outlet
