"""StreamBrainFlow with BrainFlow's real synthetic (-1) and playback-file (-3) boards."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pylsl
import pytest

from bci_app.acquisition.base import StreamState
from bci_app.acquisition.brainflow import StreamBrainFlow, resolve_board_id
from bci_app.errors import StreamError

pytestmark = [pytest.mark.slow, pytest.mark.timeout(30)]

SYNTH_NAMES = ("Fz", "C3", "Cz", "C4", "Pz", "PO7", "Oz", "PO8", "F5", "F7", "F3", "F1", "F2", "F4", "F6", "F8")


def _acquire_until(stream, predicate, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "condition not reached in time"
        stream.acquire()
        time.sleep(0.01)


def test_board_names_and_ids() -> None:
    assert resolve_board_id("synthetic") == -1
    assert resolve_board_id("SYNTHETIC_BOARD") == -1
    assert resolve_board_id(-1) == -1
    assert resolve_board_id("playback_file") == -3
    with pytest.raises(StreamError, match="unknown BrainFlow board"):
        resolve_board_id("no-such-headset")
    with pytest.raises(StreamError, match="unknown BrainFlow board id"):
        resolve_board_id(99999)


def test_synthetic_board_volts_lsl_clock_and_markers() -> None:
    with StreamBrainFlow("synthetic", bufsize=5.0) as stream:
        assert stream.info.sfreq == 250.0
        assert stream.info.ch_names == (*SYNTH_NAMES, "accel_x", "accel_y", "accel_z")
        assert stream.info.units == ("V",) * 16 + ("g",) * 3
        assert stream.info.ch_types == ("eeg",) * 16 + ("accel",) * 3  # recorded, never fed to the model
        time.sleep(0.2)
        stream.insert_marker(3)
        _acquire_until(stream, lambda: stream.n_new_samples >= 100 and stream.n_markers >= 1)
        data, times = stream.get_data()
        now = pylsl.local_clock()
    eeg = data[:16]
    assert np.all(np.abs(eeg) < 1e-2)  # volts: synthetic EEG is tens to hundreds of µV
    assert np.abs(eeg).max() > 1e-7
    assert np.all(np.diff(times) > 0)
    assert now - 2.0 < times[-1] <= now + 0.05  # on the LSL clock, recent
    marker = stream.get_markers()[0]
    assert marker.value == "3"
    assert times[0] <= marker.timestamp <= times[-1]
    assert stream.state is StreamState.DISCONNECTED


def _record_synthetic(path: Path, seconds: float = 1.5) -> np.ndarray:
    from brainflow.board_shim import BoardShim, BrainFlowInputParams
    from brainflow.data_filter import DataFilter

    board = BoardShim(-1, BrainFlowInputParams())
    board.prepare_session()
    board.start_stream()
    time.sleep(seconds)
    board.stop_stream()
    raw = board.get_board_data()
    board.release_session()
    DataFilter.write_file(raw, str(path), "w")
    return raw


def test_playback_file_board_replays_the_file(tmp_path: Path) -> None:
    path = tmp_path / "synthetic.csv"
    raw = _record_synthetic(path)
    n = raw.shape[1]
    with StreamBrainFlow("playback_file", file=path, master_board="synthetic", bufsize=10.0,
                         auxiliary=False) as stream:
        assert stream.info.ch_names == SYNTH_NAMES
        _acquire_until(stream, lambda: stream.n_new_samples >= n, timeout=10.0)
        data, _ = stream.get_data()
    eeg_rows = list(range(1, 17))
    np.testing.assert_allclose(data[:, :n], raw[eeg_rows] * 1e-6, rtol=1e-5, atol=1e-12)


def test_board_error_is_clear_and_retry_possible(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-file.csv"
    stream = StreamBrainFlow("playback_file", file=missing, master_board=-1)
    events = []
    stream.subscribe(lambda e: events.append(e.kind))
    with pytest.raises(StreamError, match="could not start") as info:
        stream.connect()
    assert "connect again" in str(info.value)
    assert stream.state is StreamState.FAILED and events == ["failed"]
    with pytest.raises(StreamError):  # retrying is allowed (and fails the same way)
        stream.connect()
    _record_synthetic(missing, seconds=0.3)  # the "device" appears
    stream.connect()
    assert stream.state is StreamState.CONNECTED
    stream.disconnect()


def test_session_lost_mid_stream_fails_then_reconnects() -> None:
    stream = StreamBrainFlow(-1)
    stream.connect()
    _acquire_until(stream, lambda: stream.n_new_samples > 0)
    stream._board.release_session()  # the board goes away under us
    with pytest.raises(StreamError, match="stopped delivering data"):
        stream.acquire()
    assert stream.state is StreamState.FAILED
    with pytest.raises(StreamError):
        stream.get_data()
    stream.disconnect()
    stream.connect()
    _acquire_until(stream, lambda: stream.n_new_samples > 0)
    stream.disconnect()
