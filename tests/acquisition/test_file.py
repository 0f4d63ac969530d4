"""StreamFile: exact samples and annotations of a real EEGMMIDB file; deterministic manual clock;
an index channel proving nothing is dropped or duplicated across wrap-around and loops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bci_app.acquisition.file import StreamFile
from bci_app.errors import StreamError

SFREQ = 250.0


class ManualClock:
    """An injectable clock: seconds that only move when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def _drain(stream: StreamFile, clock: ManualClock | None = None, step: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    index, data, times = 0, [], []
    while not stream.finished:
        if clock is not None:
            clock.advance(step)
        stream.acquire()
        res = stream.read_since(index)
        assert res.n_lost == 0
        data.append(res.data)
        times.append(res.timestamps)
        index = res.next_index
    return np.concatenate(data, axis=1), np.concatenate(times)


def test_eegmmidb_file_delivers_exact_samples_and_annotations(eegmmidb_dir: Path) -> None:
    import mne

    path = eegmmidb_dir / "S001" / "S001R04.edf"
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    clock = ManualClock()
    with StreamFile(path, speed="max", clock=clock, bufsize=10.0) as stream:
        assert stream.info.sfreq == raw.info["sfreq"] == 160.0
        assert stream.info.ch_names == tuple(raw.ch_names)
        assert stream.info.units == ("V",) * 64
        data, times = _drain(stream)
        markers = stream.get_markers()
    np.testing.assert_array_equal(data, raw.get_data())
    np.testing.assert_allclose(times, 1000.0 + np.arange(raw.n_times) / 160.0)
    assert len(markers) == len(raw.annotations) == 30
    assert [m.value for m in markers] == list(raw.annotations.description)
    np.testing.assert_allclose([m.timestamp for m in markers], 1000.0 + raw.annotations.onset)
    np.testing.assert_allclose([m.duration for m in markers], raw.annotations.duration)


def _index_fif(path: Path, n_times: int = 1000) -> Path:
    """A FIF with a sample-index channel, two EEG channels in volts and three annotations."""
    import mne

    info = mne.create_info(["index", "C3", "C4"], SFREQ, ["misc", "eeg", "eeg"])
    idx = np.arange(n_times, dtype=np.float64)
    data = np.vstack([idx, 1e-6 * np.sin(idx / 10), 2e-6 * np.cos(idx / 10)])
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_annotations(mne.Annotations([0.5, 1.0, 3.0], [1.0, 1.0, 0.5], ["left_hand", "right_hand", "rest"]))
    raw.save(path, verbose="error")
    return path


def test_manual_clock_is_deterministic(tmp_path: Path) -> None:
    path = _index_fif(tmp_path / "index_raw.fif")
    clock = ManualClock()
    stream = StreamFile(path, speed=1.0, clock=clock)
    with stream:
        assert stream.acquire() == 1  # the first sample is due at t0
        clock.advance(1.003)
        stream.acquire()
        assert stream.n_new_samples == int(1.003 * SFREQ) + 1
        assert [m.value for m in stream.get_markers()] == ["left_hand", "right_hand"]
        clock.advance(0.5)
        assert stream.acquire() == int(1.503 * SFREQ) + 1 - (int(1.003 * SFREQ) + 1)
        _, times = stream.get_data()
        np.testing.assert_allclose(times, 1000.0 + np.arange(len(times)) / SFREQ)
        assert stream.get_markers()[1].timestamp == pytest.approx(1001.0)
    fast = StreamFile(path, speed=4.0, clock=ManualClock())
    with fast:
        fast._clock.advance(0.503)
        fast.acquire()
        assert fast.n_new_samples == int(4 * 0.503 * SFREQ) + 1
        _, times = fast.get_data()  # file spacing kept: timestamps follow info.sfreq
        np.testing.assert_allclose(np.diff(times), 1 / SFREQ)


def test_index_channel_across_wraparound_and_loops(tmp_path: Path) -> None:
    n_file = 1000
    path = _index_fif(tmp_path / "index_raw.fif", n_file)
    clock = ManualClock()
    rng = np.random.default_rng(0)
    stream = StreamFile(path, speed=1.0, loop=True, clock=clock, bufsize=0.5)  # 125 samples: wraps often
    with stream:
        index, got, stamps = 0, [], []
        while index < 2.6 * n_file:  # two and a half loops
            clock.advance(rng.uniform(0.0, 0.45))
            stream.acquire()
            res = stream.read_since(index)
            assert res.n_lost == 0
            got.append(res.data[0])
            stamps.append(res.timestamps)
            index = res.next_index
        markers = stream.get_markers()
    values = np.concatenate(got)
    np.testing.assert_array_equal(values, np.arange(len(values)) % n_file)  # no drop, no duplicate
    times = np.concatenate(stamps)
    np.testing.assert_allclose(np.diff(times), 1 / SFREQ, atol=1e-9)  # increasing across loops
    assert [m.value for m in markers[:6]] == ["left_hand", "right_hand", "rest"] * 2
    assert markers[3].timestamp == pytest.approx(1000.0 + 0.5 + n_file / SFREQ)
    assert stream.counters.lost_overflow == 0 and not stream.finished


def test_slow_reader_overflow_is_counted(tmp_path: Path) -> None:
    path = _index_fif(tmp_path / "index_raw.fif")
    clock = ManualClock()
    with StreamFile(path, clock=clock, bufsize=0.5) as stream:
        clock.advance(1.0)  # 251 samples due at once into a 125-sample buffer
        stream.acquire()
        assert stream.counters.lost_overflow == 251 - 125
        res = stream.read_since(0)
        assert res.n_lost == 126
        np.testing.assert_array_equal(res.data[0], np.arange(126, 251))


def test_max_speed_chunks_and_end(tmp_path: Path) -> None:
    path = _index_fif(tmp_path / "index_raw.fif")
    events = []
    stream = StreamFile(path, speed="max", clock=ManualClock(), max_chunk=300)
    stream.subscribe(lambda e: events.append(e.kind))
    with stream:
        data, _ = _drain(stream)
        assert stream.acquire() == 0  # finished: nothing more
        assert len(stream.get_markers()) == 3
    np.testing.assert_array_equal(data[0], np.arange(1000))
    assert "ended" in events


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(StreamError, match="speed"):
        StreamFile(tmp_path / "x.fif", speed=0)
    with pytest.raises(StreamError, match="speed"):
        StreamFile(tmp_path / "x.fif", speed="fast")
    with pytest.raises(StreamError, match="not found"):
        StreamFile(tmp_path / "missing.edf").connect()


def test_xdf_recording_plays_back_with_markers(tmp_path: Path) -> None:
    """A FIF played into the XDF recorder, then the XDF played back: same samples, same markers."""
    from bci_app.io.xdf import XdfRecorder

    source = StreamFile(_index_fif(tmp_path / "index_raw.fif", 600), speed="max", clock=ManualClock())
    with source, XdfRecorder(tmp_path / "rec.xdf", flush_interval=None, clock=ManualClock()) as recorder:
        recorder.record_stream(source)
        while not source.finished:
            source.acquire()
            recorder.poll()
        recorder.poll()
        recorder.flush()
    clock = ManualClock(50.0)
    with StreamFile(tmp_path / "rec.xdf", speed="max", clock=clock) as replay:
        data, times = _drain(replay)
        markers = replay.get_markers()
    np.testing.assert_array_equal(data[0], np.arange(600))
    np.testing.assert_allclose(times, 50.0 + np.arange(600) / SFREQ, atol=1e-9)
    assert [m.value for m in markers] == ["left_hand", "right_hand"]  # 'rest' at 3 s lies beyond 2.4 s
    np.testing.assert_allclose([m.timestamp for m in markers], [50.5, 51.0], atol=1e-9)


def test_start_index_releases_what_comes_before_at_once_then_paces(tmp_path: Path) -> None:
    """A replay starting where the live decoder did: samples before ``start_index`` are due at once
    (in chunks no larger than the buffer, so nothing is dropped), the rest at the file's pace."""
    path = _index_fif(tmp_path / "idx.fif", n_times=3000)
    clock = ManualClock()
    stream = StreamFile(path, speed=2.0, clock=clock, bufsize=4.0, start_index=2000).connect()  # buffer: 1000
    sizes = []
    while stream.buffer.n_written <= 2000:
        sizes.append(stream.acquire())
    assert sizes == [1000, 1000, 1] and stream.buffer.n_overflowed == 0
    assert stream.acquire() == 0  # from here on at 2x real time
    clock.advance(1.0)
    assert stream.acquire() == 500
    res = stream.read_since(2000)
    np.testing.assert_array_equal(res.data[0], np.arange(2000, 2501))  # the index channel: none dropped
    with pytest.raises(StreamError, match="beyond"):
        StreamFile(path, speed=1.0, clock=clock, start_index=3000).connect()
