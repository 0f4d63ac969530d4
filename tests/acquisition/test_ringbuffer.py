"""RingBuffer alone: no threads, no sources."""

from __future__ import annotations

import numpy as np
import pytest

from bci_app.acquisition.ringbuffer import RingBuffer
from bci_app.errors import StreamError


def _chunk(start: int, n: int, n_chans: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Samples whose value is their absolute index (row r holds index + 1000 r)."""
    idx = np.arange(start, start + n, dtype=np.float64)
    return idx[None, :] + 1000.0 * np.arange(n_chans)[:, None], idx / 100.0


def test_empty_reads() -> None:
    buf = RingBuffer(3, 10)
    data, times = buf.latest(5)
    assert data.shape == (3, 0) and times.shape == (0,)
    data, times = buf.latest()
    assert data.shape == (3, 0)
    res = buf.read_since(0)
    assert res.data.shape == (3, 0) and res.next_index == 0 and res.n_lost == 0
    buf.write(np.zeros((3, 0)), np.zeros(0))
    assert buf.n_written == 0


def test_write_and_latest_without_wrap() -> None:
    buf = RingBuffer(3, 10)
    buf.write(*_chunk(0, 4))
    data, times = buf.latest(2)
    np.testing.assert_array_equal(data[0], [2, 3])
    np.testing.assert_array_equal(data[2], [2002, 2003])
    np.testing.assert_allclose(times, [0.02, 0.03])
    data, _ = buf.latest(100)  # more than held: all held
    np.testing.assert_array_equal(data[0], [0, 1, 2, 3])


def test_wrap_around_keeps_order() -> None:
    buf = RingBuffer(3, 10)
    for start in range(0, 37, 3):  # chunks of 3 crossing the end several times
        buf.write(*_chunk(start, 3))
    assert buf.n_written == 39 and buf.n_available == 10
    data, times = buf.latest()
    np.testing.assert_array_equal(data[0], np.arange(29, 39))
    np.testing.assert_array_equal(data[1], np.arange(29, 39) + 1000)
    np.testing.assert_allclose(times, np.arange(29, 39) / 100.0)
    assert buf.n_overflowed == 0


def test_latest_returns_copies() -> None:
    buf = RingBuffer(1, 4)
    buf.write(*_chunk(0, 4, 1))
    data, times = buf.latest()
    data[:] = -1
    times[:] = -1
    np.testing.assert_array_equal(buf.latest()[0][0], [0, 1, 2, 3])


def test_chunk_larger_than_buffer_counts_overflow() -> None:
    buf = RingBuffer(3, 10)
    buf.write(*_chunk(0, 4))
    buf.write(*_chunk(4, 25))  # 25 > capacity: the 15 oldest of the chunk are dropped
    assert buf.n_overflowed == 15
    assert buf.n_written == 29
    data, _ = buf.latest()
    np.testing.assert_array_equal(data[0], np.arange(19, 29))


def test_read_since_every_sample_then_lost_samples() -> None:
    buf = RingBuffer(2, 8)
    index, seen = 0, []
    for start in range(0, 40, 5):
        buf.write(*_chunk(start, 5, 2))
        res = buf.read_since(index)
        assert res.n_lost == 0
        seen.append(res.data[0])
        index = res.next_index
    np.testing.assert_array_equal(np.concatenate(seen), np.arange(40))
    # a slow reader: 12 samples written while it did not read, capacity 8 -> 4 lost
    buf.write(*_chunk(40, 6, 2))
    buf.write(*_chunk(46, 6, 2))
    res = buf.read_since(index)
    assert res.n_lost == 4
    np.testing.assert_array_equal(res.data[0], np.arange(44, 52))
    assert res.next_index == 52
    # reading again from the end returns nothing
    again = buf.read_since(res.next_index)
    assert again.data.shape == (2, 0) and again.n_lost == 0


def test_read_since_future_index_is_empty() -> None:
    buf = RingBuffer(1, 4)
    buf.write(*_chunk(0, 3, 1))
    res = buf.read_since(10)
    assert res.data.shape == (1, 0) and res.next_index == 3


def test_shape_errors() -> None:
    buf = RingBuffer(2, 4)
    with pytest.raises(StreamError, match="shape"):
        buf.write(np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(StreamError, match="timestamps"):
        buf.write(np.zeros((2, 2)), np.zeros(3))
    with pytest.raises(StreamError):
        RingBuffer(0, 4)


def test_clear() -> None:
    buf = RingBuffer(1, 4)
    buf.write(*_chunk(0, 6, 1))
    buf.clear()
    assert buf.n_written == 0 and buf.n_available == 0 and buf.n_overflowed == 0
    assert buf.latest()[0].shape == (1, 0)


def test_arrival_time_held_samples_only() -> None:
    import math
    import time

    buf = RingBuffer(1, 4)
    before = time.perf_counter()
    buf.write(*_chunk(0, 6, 1))
    after = time.perf_counter()
    assert before <= buf.arrival_time(5) <= after
    assert math.isnan(buf.arrival_time(1))  # overwritten
    assert math.isnan(buf.arrival_time(6))  # not yet written


def test_wait_written_returns_at_once_when_held_and_times_out_otherwise() -> None:
    import time

    buf = RingBuffer(1, 4)
    buf.write(*_chunk(0, 3, 1))
    t0 = time.perf_counter()
    assert buf.wait_written(2, timeout=5.0)  # sample 2 is there: no wait
    assert time.perf_counter() - t0 < 0.5
    t0 = time.perf_counter()
    assert not buf.wait_written(3, timeout=0.02)  # sample 3 never comes
    assert time.perf_counter() - t0 >= 0.015


def test_read_since_some_channels_and_at_most_max_samples() -> None:
    """A decoder reads its model's channels alone (C order); a recorder reads bounded slices."""
    buf = RingBuffer(4, 10)
    data = np.arange(4 * 12, dtype=float).reshape(4, 12)
    buf.write(data[:, :7], np.arange(7.0))
    buf.write(data[:, 7:], np.arange(7.0, 12.0))  # wrapped: samples 2..11 held
    rows = np.array([3, 1])
    res = buf.read_since(0, rows=rows)
    np.testing.assert_array_equal(res.data, data[rows, 2:])
    assert res.data.flags.c_contiguous and res.n_lost == 2 and res.next_index == 12
    parts, index = [], 2
    while True:
        res = buf.read_since(index, max_samples=3)
        parts.append(res.data)
        index = res.next_index
        if res.data.shape[1] < 3:
            break
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), data[:, 2:])
    assert index == 12
    with pytest.raises(StreamError, match="max_samples"):
        buf.read_since(0, max_samples=0)


def test_buffer_memory_is_resident_zeros() -> None:
    """Every page of a new buffer is touched at creation: a write never waits for the kernel to
    zero a page (a 2 MiB huge page held a 256-channel write 6-8 ms every half second)."""
    resource = pytest.importorskip("resource")
    if not hasattr(resource, "RUSAGE_THREAD"):
        pytest.skip("per-thread page-fault counts are Linux only")
    from bci_app.acquisition.ringbuffer import resident_zeros

    def faults_writing(a: np.ndarray) -> int:
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
        a[:] = 1.0
        return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before

    shape = (16384, 256)  # 32 MiB: half a minute of 256 channels at 2048 Hz is 120 MiB
    lazy = faults_writing(np.zeros(shape))
    resident = resident_zeros(shape)
    assert resident.dtype == np.float64 and not resident.any()
    assert faults_writing(resident) < max(4, lazy // 4), (lazy, "page faults writing a lazily zeroed array")
    assert resident_zeros((0, 4)).shape == (0, 4)
