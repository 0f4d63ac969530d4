"""XDF writer: round trips through pyxdf, a simulated headset recorded, crash and disk-full faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import pyxdf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bci_app.acquisition import StreamSimulated
from bci_app.errors import RecordingError
from bci_app.io.recording import read_recording, read_recording_apart
from bci_app.io.xdf import NUMERIC_FORMATS, XdfRecorder, varlen

REPO = Path(__file__).resolve().parents[2]


class ManualClock:
    def __init__(self, t: float = 500.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _by_name(streams: list[dict]) -> dict[str, dict]:
    return {s["info"]["name"][0]: s for s in streams}


def _channels(stream: dict) -> list[tuple[str, str, str]]:
    chans = stream["info"]["desc"][0]["channels"][0]["channel"]
    return [(c["label"][0], c["type"][0], c["unit"][0]) for c in chans]


def test_varlen_widths():
    assert varlen(5) == b"\x01\x05"
    assert varlen(300)[:1] == b"\x04" and len(varlen(300)) == 5
    assert varlen(1 << 33)[:1] == b"\x08" and len(varlen(1 << 33)) == 9


def test_round_trip_eeg_markers_and_footers(tmp_path):
    path = tmp_path / "rt.xdf"
    rng = np.random.default_rng(0)
    data = rng.normal(0, 20, (3, 500)).astype(np.float32)
    ts = 10.0 + np.arange(500) / 250.0
    with XdfRecorder(path, flush_interval=None, clock=ManualClock(), file_desc={"config": "a: 1\nb: [x, y]"}) as rec:
        eeg = rec.add_stream("eeg", "EEG", ["C3", "Cz", "C4"], ch_types=["EEG"] * 3, units=["microvolts"] * 3,
                             sfreq=250.0, source_id="src-1")
        mk = rec.add_stream("mk", "Markers", ["marker"], sfreq=0.0, channel_format="string")
        idx = rec.add_stream("idx", "Index", ["i"], sfreq=250.0, channel_format="int32")
        for start in range(0, 500, 64):
            rec.push(eeg, data[:, start : start + 64], ts[start : start + 64])
            rec.push(idx, np.arange(start, min(start + 64, 500))[None, :], ts[start : start + 64])
            rec.flush()
        rec.push(mk, ["769", "770 <&> é"], [10.5, 11.25])
    streams, header = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    assert header["info"]["desc"][0]["config"][0] == "a: 1\nb: [x, y]"
    s = _by_name(streams)
    assert _channels(s["eeg"]) == [("C3", "EEG", "microvolts"), ("Cz", "EEG", "microvolts"), ("C4", "EEG", "microvolts")]
    assert float(s["eeg"]["info"]["nominal_srate"][0]) == 250.0
    assert s["eeg"]["info"]["source_id"][0] == "src-1"
    np.testing.assert_array_equal(s["eeg"]["time_series"].T, data)
    np.testing.assert_array_equal(s["eeg"]["time_stamps"], ts)
    np.testing.assert_array_equal(s["idx"]["time_series"][:, 0], np.arange(500))
    assert s["idx"]["time_series"].dtype == np.int32
    assert s["mk"]["time_series"] == [["769"], ["770 <&> é"]]
    np.testing.assert_array_equal(s["mk"]["time_stamps"], [10.5, 11.25])
    footer = s["eeg"]["footer"]["info"]
    assert int(footer["sample_count"][0]) == 500
    assert float(footer["first_timestamp"][0]) == ts[0] and float(footer["last_timestamp"][0]) == ts[-1]


def test_a_recording_read_in_its_own_process_is_the_recording(tmp_path):
    """What the replay opens apart (``read_recording_apart``): the same arrays, clocks, markers and extra
    streams as read in the app's process; a file that cannot be read says why, as a RecordingError."""
    path = tmp_path / "apart.xdf"
    rng = np.random.default_rng(1)
    ts = 3.0 + np.arange(400) / 200.0
    with XdfRecorder(path, flush_interval=None, clock=ManualClock()) as rec:
        eeg = rec.add_stream("eeg", "EEG", ["C3", "C4"], ch_types=["EEG"] * 2, units=["microvolts"] * 2, sfreq=200.0)
        idx = rec.add_stream("idx", "Index", ["i"], sfreq=200.0, channel_format="int32")
        mk = rec.add_stream("mk", "Markers", ["marker"], sfreq=0.0, channel_format="string")
        rec.push(eeg, rng.normal(0, 10, (2, 400)).astype(np.float32), ts)
        rec.push(idx, np.arange(400)[None, :], ts)
        rec.push(mk, ["769", "770"], [3.5, 4.0])
    here, apart = read_recording(path), read_recording_apart(path)
    for name in ("data", "timestamps"):
        got, want = getattr(apart, name), getattr(here, name)
        assert got.dtype == want.dtype and np.array_equal(got, want)
    assert (apart.path, apart.sfreq, apart.ch_names, apart.units, apart.markers) == \
        (here.path, here.sfreq, here.ch_names, here.units, here.markers)
    assert list(apart.extra_streams) == ["idx"]
    assert np.array_equal(apart.extra_streams["idx"]["time_series"], here.extra_streams["idx"]["time_series"])
    assert apart.extra_streams["idx"]["info"] == here.extra_streams["idx"]["info"]
    (tmp_path / "bad.xdf").write_bytes(b"XDF:" + b"\x00" * 64)
    with pytest.raises(RecordingError, match="bad.xdf"):
        read_recording_apart(tmp_path / "bad.xdf")


def test_record_simulated_stream_and_read_back(tmp_path):
    clock = ManualClock(100.0)
    sim = StreamSimulated(clock=clock, ch_names=["FC3", "C3", "Cz", "C4"], sfreq=160.0, bufsize=5.0)
    path = tmp_path / "sim.xdf"
    with sim, XdfRecorder(path, flush_interval=None, clock=clock) as rec:
        rec.record_stream(sim)
        sim.imagine("left_hand", 101.0, 2.0)
        sim.imagine("right_hand", 104.0, 2.0)
        for _ in range(120):  # 6 s, buffer holds 5 s: the recorder must keep up through its cursor
            clock.t += 0.05
            sim.acquire()
            rec.poll()
        rec.flush()
        expected = sim.n_new_samples
        last_data, last_ts = sim.get_data(1.0)
    rec_ = read_recording(path)
    assert rec_.ch_names == ("FC3", "C3", "Cz", "C4")
    assert rec_.units == ("V",) * 4 and rec_.sfreq == 160.0
    assert rec_.n_times == expected
    np.testing.assert_allclose(rec_.data[:, -last_ts.size :], last_data, rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(rec_.timestamps[-last_ts.size :], last_ts)
    assert np.all(np.diff(rec_.timestamps) > 0)
    assert [(m.value, m.timestamp) for m in rec_.markers] == [("sim:left_hand", 101.0), ("sim:right_hand", 104.0)]
    streams, _ = pyxdf.load_xdf(str(path))
    eeg = _by_name(streams)["bci-app-simulated"]
    assert _channels(eeg)[1] == ("C3", "EEG", "microvolts")


def test_bad_inputs_refused(tmp_path):
    path = tmp_path / "x.xdf"
    with XdfRecorder(path, flush_interval=None, clock=ManualClock()) as rec:
        h = rec.add_stream("e", "EEG", ["a", "b"], sfreq=100.0)
        with pytest.raises(RecordingError, match="shape"):
            rec.push(h, np.zeros((3, 4)), np.arange(4.0))
        with pytest.raises(RecordingError, match="channel format"):
            rec.add_stream("e", "EEG", ["a"], channel_format="float16")
    assert rec.push(h, np.zeros((2, 1)), [0.0]) is False  # after close: a no-op, not a crash
    with pytest.raises(RecordingError, match="already exists"):
        XdfRecorder(path, clock=ManualClock())
    with pytest.raises(RecordingError, match=r"\.xdf"):
        XdfRecorder(tmp_path / "x.txt", clock=ManualClock())


_formats = st.sampled_from([*NUMERIC_FORMATS, "string"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fmt=_formats,
    n_chans=st.integers(1, 9),
    chunks=st.lists(st.integers(0, 70), min_size=1, max_size=5),
    sfreq=st.sampled_from([0.0, 100.0, 512.0]),
    seed=st.integers(0, 2**16),
)
def test_property_round_trip(tmp_path_factory, fmt, n_chans, chunks, sfreq, seed):
    rng = np.random.default_rng(seed)
    path = tmp_path_factory.mktemp("prop") / "p.xdf"
    n = sum(chunks)
    ts = np.cumsum(rng.uniform(0.001, 0.5, n)) + rng.uniform(-1e3, 1e6)
    if fmt == "string":
        alphabet = list("ab <>&é\"'\n7")
        values = [["".join(rng.choice(alphabet, rng.integers(0, 6))) for _ in range(n_chans)] for _ in range(n)]
    else:
        dtype = np.dtype(NUMERIC_FORMATS[fmt])
        if dtype.kind == "f":
            values = rng.normal(0, 1e3, (n_chans, n)).astype(dtype)
        else:
            info = np.iinfo(dtype)
            values = rng.integers(info.min, info.max, (n_chans, n), dtype=dtype, endpoint=True)
    with XdfRecorder(path, flush_interval=None, clock=ManualClock()) as rec:
        h = rec.add_stream("s", "T", [f"ch{i}" for i in range(n_chans)], sfreq=sfreq, channel_format=fmt)
        start = 0
        for size in chunks:
            part = values[start : start + size] if fmt == "string" else values[:, start : start + size]
            rec.push(h, part, ts[start : start + size])
            start += size
            if rng.random() < 0.5:
                rec.flush()
    (stream,), _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False, synchronize_clocks=False)
    assert int(stream["info"]["channel_count"][0]) == n_chans
    assert [c[0] for c in _channels(stream)] == [f"ch{i}" for i in range(n_chans)]
    np.testing.assert_array_equal(stream["time_stamps"], ts)
    if fmt == "string":
        assert stream["time_series"] == [[v.replace("\r", "") for v in row] for row in values]
    else:
        np.testing.assert_array_equal(np.asarray(stream["time_series"]).reshape(n, n_chans).T, values)
    assert int(stream["footer"]["info"]["sample_count"][0]) == n


_CHILD_RECORD = textwrap.dedent(
    """
    import sys, time, json, numpy as np
    sys.path.insert(0, {repo!r})
    from bci_app.io.xdf import XdfRecorder
    rec = XdfRecorder({path!r}, flush_interval=0.5, clock=time.monotonic)
    h = rec.add_stream("idx", "EEG", ["i", "x"], sfreq=200.0)
    k = 0
    print("ready", flush=True)
    while True:
        now = time.monotonic()
        rec.push(h, np.array([[k], [0.5]], dtype=np.float32), [now])
        k += 1
        time.sleep(0.005)
    """
)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_sigkill_leaves_loadable_file_missing_at_most_one_second(tmp_path):
    path = tmp_path / "killed.xdf"
    proc = subprocess.Popen([sys.executable, "-c", _CHILD_RECORD.format(repo=str(REPO), path=str(path))],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(3.0)
    killed_at = time.monotonic()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()
    (stream,), _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    idx = stream["time_series"][:, 0]
    assert idx.size > 100
    np.testing.assert_array_equal(idx, np.arange(idx.size))  # nothing dropped or duplicated
    assert killed_at - stream["time_stamps"][-1] <= 1.0
    assert "footer" not in stream


_CHILD_FULL = textwrap.dedent(
    """
    import json, resource, signal, sys, threading, time, numpy as np
    sys.path.insert(0, {repo!r})
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
    from bci_app.io.xdf import XdfRecorder
    errors = []
    rec = XdfRecorder({path!r}, flush_interval=0.05, clock=time.monotonic, on_error=errors.append)
    h = rec.add_stream("eeg", "EEG", [f"c{{i}}" for i in range(8)], sfreq=1000.0)
    k = 0
    accepted = 0
    while k < 100_000:
        ok = rec.push(h, np.full((8, 100), k, dtype=np.float32), k + np.arange(100) / 1000.0)
        accepted += ok
        k += 1
        time.sleep(0.002)
        if errors:
            break
    rec.close()
    print(json.dumps({{"error": str(rec.error), "callback": len(errors), "thread_alive": threading.current_thread().is_alive(),
                      "pushes_after": rec.push(h, np.zeros((8, 1)), [0.0])}}))
    """
)


@pytest.mark.timeout(60)
def test_disk_full_stops_cleanly_and_leaves_readable_file(tmp_path):
    path = tmp_path / "full.xdf"
    out = subprocess.run([sys.executable, "-c", _CHILD_FULL.format(repo=str(REPO), path=str(path))],
                         capture_output=True, text=True, timeout=50)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert "file size limit" in report["error"] and "stay readable" in report["error"]
    assert report["callback"] == 1 and report["pushes_after"] is False
    assert path.stat().st_size <= 200_000
    (stream,), _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    values = stream["time_series"]
    assert values.shape[0] >= 100 and values.shape[1] == 8
    assert np.all(values == values[:, :1])
    np.testing.assert_array_equal(np.unique(values[:, 0]), np.arange(values.shape[0] // 100))


def test_a_push_never_waits_for_the_disk(tmp_path, monkeypatch):
    """A flush writes and fsyncs outside the recorder's lock: a marker pushed from the UI thread while
    a slow fsync runs returns at once, and lands in the file in order."""
    import threading

    import bci_app.io.xdf as xdf_module

    slow = threading.Event()
    real_fsync = os.fsync

    def slow_fsync(fd):
        if slow.is_set():
            time.sleep(0.5)
        real_fsync(fd)

    monkeypatch.setattr(xdf_module.os, "fsync", slow_fsync)
    path = tmp_path / "slow.xdf"
    with XdfRecorder(path, flush_interval=None, clock=ManualClock()) as rec:
        mk = rec.add_stream("mk", "Markers", ["marker"], sfreq=0.0, channel_format="string")
        rec.push(mk, ["768"], [1.0])
        slow.set()
        flushing = threading.Thread(target=rec.flush)
        flushing.start()
        time.sleep(0.1)  # the flush is in its fsync now
        t0 = time.perf_counter()
        assert rec.push(mk, ["769"], [2.0])
        waited = time.perf_counter() - t0
        flushing.join()
        slow.clear()
    assert waited < 0.2, f"push waited {waited:.3f} s for the fsync"
    streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    assert [v[0] for v in _by_name(streams)["mk"]["time_series"]] == ["768", "769"]


def test_recorder_reads_the_buffer_in_bounded_slices_into_whole_records(tmp_path, monkeypatch):
    """The tap copies the stream's buffer a slice at a time (the acquisition thread never waits
    long for its lock) and scales volts to microvolts straight into the file's records; every
    sample lands once, in order, with its value."""
    import bci_app.io.xdf as xdf_module

    monkeypatch.setattr(xdf_module, "READ_BYTES", 8 * 4 * 7)  # 7 samples of 4 channels per read
    clock = ManualClock(100.0)
    sim = StreamSimulated(clock=clock, ch_names=["FC3", "C3", "Cz", "C4"], sfreq=160.0, bufsize=5.0)
    path = tmp_path / "slices.xdf"
    with sim, XdfRecorder(path, flush_interval=None, clock=clock) as rec:
        tap = rec.record_stream(sim)
        for _ in range(20):
            clock.t += 0.05
            sim.acquire()
            rec.poll()
        rec.flush()
        data, ts = sim.get_data()
    assert tap.n_lost == 0
    streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    eeg = _by_name(streams)["bci-app-simulated"]
    np.testing.assert_array_equal(eeg["time_stamps"], ts)
    np.testing.assert_array_equal(eeg["time_series"], (data * 1e6).astype(np.float32).T)


def test_write_parts_writes_large_parts_as_they_are(tmp_path):
    from bci_app.io.xdf import LARGE_PART, write_parts

    big = np.arange(LARGE_PART, dtype=np.uint8)
    parts = [b"ab", b"c", big, b"d", big[: LARGE_PART // 2], b""]
    path = tmp_path / "parts.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        assert write_parts(fd, parts, sync=True) == sum(memoryview(p).nbytes for p in parts)
    finally:
        os.close(fd)
    assert path.read_bytes() == b"".join(bytes(p) for p in parts)
