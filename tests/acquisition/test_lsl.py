"""StreamLSL against real LSL outlets in this process (unique names, LSL kept on this machine)."""

from __future__ import annotations

import time

import numpy as np
import pylsl
import pytest

from bci_app.acquisition.base import StreamState
from bci_app.acquisition.lsl import StreamLSL
from bci_app.errors import StreamError
from bci_app.types import GAP_MARKER

pytestmark = [pytest.mark.slow, pytest.mark.timeout(30)]

SFREQ = 500.0


def _outlet(name: str, *, stype: str = "EEG", source_id: str = "", desc: bool = True) -> pylsl.StreamOutlet:
    info = pylsl.StreamInfo(name, stype, 4, SFREQ, "float32", source_id)
    if desc:
        info.set_channel_labels(["index", "C3", "Cz", "C4"])
        info.set_channel_types(["misc", "EEG", "EEG", "EEG"])
        info.set_channel_units(["", "microvolts", "microvolts", "uV"])
    return pylsl.StreamOutlet(info)


def _samples(start: int, n: int) -> np.ndarray:
    """(n, 4) float32: an index channel and three EEG channels in µV (value = 10 * channel + index % 7)."""
    idx = np.arange(start, start + n)
    eeg = 10.0 * np.arange(1, 4)[None, :] + (idx % 7)[:, None]
    return np.column_stack([idx, eeg]).astype(np.float32)


def _acquire_until(stream, predicate, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        stream.acquire()
        time.sleep(0.005)


def test_every_sample_through_wrapping_buffer(unique_name: str) -> None:
    outlet = _outlet(unique_name, stype="eeg")  # lower-case type, as some software publishes
    stream = StreamLSL(unique_name, "EEG", resolve_timeout=3.0, bufsize=0.2, marker_stream=False)  # 100 samples
    with stream:
        assert stream.info.ch_names == ("index", "C3", "Cz", "C4")
        assert stream.info.ch_types == ("misc", "eeg", "eeg", "eeg")
        assert stream.info.units == ("", "V", "V", "V")
        assert stream.info.sfreq == SFREQ
        n_total, sent, index = 1500, 0, 0
        got, stamps = [], []
        t0 = pylsl.local_clock()
        while index < n_total:
            if sent < n_total:
                outlet.push_chunk(_samples(sent, 25), [t0 + (sent + k) / SFREQ for k in range(25)])
                sent += 25
            time.sleep(0.002)
            stream.acquire()
            res = stream.read_since(index)
            assert res.n_lost == 0
            got.append(res.data)
            stamps.append(res.timestamps)
            index = res.next_index
        data = np.concatenate(got, axis=1)
        times = np.concatenate(stamps)
    np.testing.assert_array_equal(data[0], np.arange(n_total))  # nothing dropped or duplicated
    expected = _samples(0, n_total).T[1:].astype(np.float64) * 1e-6
    np.testing.assert_allclose(data[1:], expected, rtol=1e-6)  # µV converted to volts
    assert np.all(np.diff(times) > 0)
    np.testing.assert_allclose(times, t0 + np.arange(n_total) / SFREQ, atol=1e-3)
    assert stream.counters.received == n_total and stream.counters.lost_overflow == 0


def test_labels_fall_back_and_default_unit(unique_name: str) -> None:
    outlet = _outlet(unique_name, desc=False)
    with StreamLSL(name=unique_name, stype=None, resolve_timeout=3.0, marker_stream=False) as stream:
        assert stream.info.ch_names == ("ch1", "ch2", "ch3", "ch4")
        assert stream.info.units == ("V",) * 4  # no unit declared: microvolts assumed for EEG
        outlet.push_chunk(_samples(0, 10))
        _acquire_until(stream, lambda: stream.n_new_samples >= 10)
        data, _ = stream.get_data()
        np.testing.assert_allclose(data[0], np.arange(10) * 1e-6, rtol=1e-6)


def test_markers_arrive_with_their_times(unique_name: str) -> None:
    outlet = _outlet(unique_name, source_id=f"{unique_name}-sid")
    m_info = pylsl.StreamInfo(f"{unique_name}-markers", "Markers", 1, pylsl.IRREGULAR_RATE, "string", "")
    m_outlet = pylsl.StreamOutlet(m_info)
    with StreamLSL(source_id=f"{unique_name}-sid", resolve_timeout=3.0) as stream:
        assert stream._paired.inlet is not None  # noqa: SLF001 - the paired Markers inlet
        sent = []
        for k, value in enumerate(["769", "770", "T1"]):
            ts = pylsl.local_clock() + 0.001 * k
            m_outlet.push_sample([value], ts)
            sent.append((ts, value))
            outlet.push_chunk(_samples(10 * k, 10))
            time.sleep(0.01)
        _acquire_until(stream, lambda: stream.n_markers >= 3)
        markers = stream.get_markers()
        assert [m.value for m in markers] == ["769", "770", "T1"]
        np.testing.assert_allclose([m.timestamp for m in markers], [ts for ts, _ in sent], atol=1e-3)
        assert stream.get_markers(2) == markers[2:]


def test_reconnects_after_outlet_vanishes(unique_name: str) -> None:
    sid = f"{unique_name}-sid"
    outlet = _outlet(unique_name, source_id=sid)
    stream = StreamLSL(unique_name, resolve_timeout=3.0, marker_stream=False)
    events = []
    stream.subscribe(lambda e: events.append(e.kind))
    with stream:
        outlet.push_chunk(_samples(0, 50))
        _acquire_until(stream, lambda: stream.n_new_samples >= 50)
        _, times_before = stream.get_data()
        del outlet  # the device software quits
        _acquire_until(stream, lambda: stream.state is StreamState.RECONNECTING)
        assert stream.counters.gaps == 1
        time.sleep(0.5)
        stream.acquire()  # nothing to pull while the source is away: no error
        outlet = _outlet(unique_name, source_id=sid)  # ... and comes back

        def back() -> bool:
            outlet.push_chunk(_samples(50, 5))
            return stream.state is StreamState.CONNECTED

        _acquire_until(stream, back, timeout=10.0)
        assert stream.n_new_samples > 50
        gaps = [m for m in stream.get_markers() if m.value == GAP_MARKER]
        assert len(gaps) == 1
        assert gaps[0].timestamp == pytest.approx(times_before[-1])
        assert gaps[0].duration > 0.5
    assert events[:3] == ["connected", "gap", "reconnected"]


def test_not_found_lists_visible_streams(unique_name: str) -> None:
    other = _outlet(f"{unique_name}-other")  # noqa: F841 - kept alive so it is visible
    with pytest.raises(StreamError) as info:
        StreamLSL(unique_name, resolve_timeout=0.3).connect()
    message = str(info.value)
    assert unique_name in message and "Visible streams" in message
    assert f"{unique_name}-other" in message
    assert "lsl.scope" in message


def test_acquisition_thread_from_config(unique_name: str) -> None:
    from bci_app.config import load_config

    outlet = _outlet(unique_name)
    stream = StreamLSL.from_config(load_config().lsl, unique_name, marker_stream=False, bufsize=2.0)
    assert stream.acquisition_delay == 0.01 and stream.bufsize == 2.0
    with stream:
        for start in range(0, 200, 20):
            outlet.push_chunk(_samples(start, 20))
            time.sleep(0.01)
        end = time.monotonic() + 5.0
        while stream.n_new_samples < 200 and time.monotonic() < end:
            time.sleep(0.01)  # the stream's own thread pulls
        data, _ = stream.get_data()
        thread = stream._thread
    np.testing.assert_array_equal(data[0], np.arange(200))
    assert thread is not None and not thread.is_alive()
