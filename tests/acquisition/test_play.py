"""``bci-app play`` publishes a recording over LSL and StreamLSL reads it back in volts."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bci_app.acquisition.file import StreamFile
from bci_app.acquisition.lsl import LslPlayer, StreamLSL

SFREQ = 250.0


def _index_fif(path: Path, n_times: int = 500) -> Path:
    import mne

    info = mne.create_info(["index", "C3", "C4"], SFREQ, ["misc", "eeg", "eeg"])
    idx = np.arange(n_times, dtype=np.float64)
    data = np.vstack([idx, 50e-6 * np.sin(idx / 10), -20e-6 * np.cos(idx / 7)])
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_annotations(mne.Annotations([0.4, 1.2], [0.2, 0.2], ["left_hand", "right_hand"]))
    raw.save(path, verbose="error")
    return path


def _collect(stream: StreamLSL, n_times: int, deadline: float, proc=None) -> tuple[np.ndarray, np.ndarray]:
    index, got, stamps = 0, [], []
    while index < n_times and time.monotonic() < deadline:
        stream.acquire()
        res = stream.read_since(index)
        assert res.n_lost == 0
        got.append(res.data)
        stamps.append(res.timestamps)
        index = res.next_index
        time.sleep(0.01)
    return np.concatenate(got, axis=1), np.concatenate(stamps)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_play_command_publishes_and_stream_lsl_receives(tmp_path: Path, unique_name: str) -> None:
    path = _index_fif(tmp_path / "play_raw.fif")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bci_app", "play", str(path), "--name", unique_name, "--speed", "1",
         "--wait-for-consumer", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        with StreamLSL(unique_name, resolve_timeout=30.0) as stream:
            assert stream.info.ch_names == ("index", "C3", "C4")
            assert stream.info.ch_types == ("misc", "eeg", "eeg")
            assert stream.info.units[1:] == ("V", "V")
            data, times = _collect(stream, 500, time.monotonic() + 20.0)
            time.sleep(0.2)
            stream.acquire()
            markers = stream.get_markers()
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "500 samples and 2 markers published" in err
    np.testing.assert_array_equal(data[0], np.arange(500))
    np.testing.assert_allclose(data[1], 50e-6 * np.sin(np.arange(500) / 10), rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(np.diff(times), 1 / SFREQ, atol=1e-6)
    assert [m.value for m in markers] == ["left_hand", "right_hand"]
    # two inlets, two clock-offset estimates
    np.testing.assert_allclose([m.timestamp - times[0] for m in markers], [0.4, 1.2], atol=1e-3)


@pytest.mark.slow
@pytest.mark.timeout(30)
def test_player_in_process_volts_unit(tmp_path: Path, unique_name: str) -> None:
    path = _index_fif(tmp_path / "play_raw.fif", 200)
    with StreamFile(path, speed="max") as source:
        player = LslPlayer(source, unique_name, eeg_unit="V").open()
        with StreamLSL(unique_name, resolve_timeout=5.0) as stream:
            player.wait_for_consumers(5.0)
            while not player.finished:
                player.step()
            data, _ = _collect(stream, 200, time.monotonic() + 5.0)
        player.stop()
    np.testing.assert_array_equal(data[0], np.arange(200))
    np.testing.assert_allclose(data[2], -20e-6 * np.cos(np.arange(200) / 7), rtol=1e-5, atol=1e-12)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_player_halt_keeps_outlet_so_every_pushed_sample_arrives(unique_name: str) -> None:
    from bci_app.acquisition import StreamSimulated

    with StreamSimulated(ch_names=("C3", "Cz", "C4"), sfreq=160.0) as source:
        player = LslPlayer(source, unique_name, interval=0.01).open()
        with StreamLSL(unique_name, resolve_timeout=5.0, marker_stream=False) as stream:
            player.start(wait_for_consumers=5.0)
            deadline = time.monotonic() + 10.0
            while stream.counters.received < 80 and time.monotonic() < deadline:
                stream.acquire()
                time.sleep(0.01)
            player.halt()
            published = player.n_pushed
            time.sleep(0.1)
            assert player.n_pushed == published  # nothing more is published after halt
            while stream.counters.received < published and time.monotonic() < deadline:
                stream.acquire()
                time.sleep(0.01)
            assert stream.counters.received == published > 0
        player.stop()
