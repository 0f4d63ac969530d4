"""A preallocated ring buffer of samples and their timestamps.

One short lock guards each write and read; reads return copies. Samples are held time-major,
``(capacity, n_chans)``, the order sources deliver them (an LSL chunk is ``(n, n_chans)``): a write
is one contiguous copy however many channels there are (channel-major, a 1024-channel chunk touched
1024 rows a megabyte apart and took a quarter of a core at 4096 Hz). Reads hand out ``(n_chans, n)``
arrays: of every channel in Fortran order (the transposed view of a time-major copy; numpy treats
them as any other array), of some channels (a display page) in C order. ``n_written`` counts every sample
ever written, so readers that need every sample (recorder, decoder) keep their own absolute index
and call :meth:`RingBuffer.read_since`; a reader on another thread can sleep until new samples come
(:meth:`RingBuffer.wait_written`) instead of polling.

The buffer's memory is made resident when it is created (every page touched once, in
:func:`resident_zeros`): left to the first write of each page, the kernel zeroed a 2 MiB huge page
inside a write every half second of a 256-channel stream for the buffer's first 30 s, holding the
acquisition thread 6-8 ms each time (the decoder's decision latency tail on a loaded machine). The
cost moves to ``connect`` (a worker thread in the GUI): about 0.4 s for 256 ch x 2048 Hz x 30 s.
"""

from __future__ import annotations

import logging
import math
import mmap
import threading
import time
from dataclasses import dataclass

import numpy as np

from bci_app.errors import StreamError

log = logging.getLogger(__name__)


def resident_zeros(shape: tuple[int, ...], dtype: np.dtype | type = np.float64) -> np.ndarray:
    """``np.zeros(shape, dtype)`` with every memory page touched now (so no later write pays for a
    page fault); numpy releases the GIL while touching, so other threads run meanwhile."""
    out = np.zeros(shape, dtype=dtype)
    flat = out.reshape(-1)
    if flat.size:
        flat[:: max(1, mmap.PAGESIZE // out.itemsize)] = 0
    return out


@dataclass(frozen=True)
class ReadResult:
    """Samples read since an absolute index.

    data: (n_chans, n) copy; timestamps: (n,) copy; next_index: absolute index to pass next time;
    n_lost: samples overwritten before this reader got them.
    """

    data: np.ndarray
    timestamps: np.ndarray
    next_index: int
    n_lost: int


class RingBuffer:
    """Fixed-capacity buffer of ``n_chans`` x ``capacity`` samples (held time-major) plus
    ``(capacity,)`` timestamps.

    Parameters
    ----------
    n_chans : int
        Number of channels (rows).
    capacity : int
        Number of samples kept; older samples are overwritten.
    dtype : numpy dtype of the samples (timestamps are float64).
    """

    def __init__(self, n_chans: int, capacity: int, dtype: np.dtype | type = np.float64) -> None:
        if n_chans < 1:
            raise StreamError(f"n_chans must be >= 1, got {n_chans}")
        if capacity < 1:
            raise StreamError(f"capacity must be >= 1, got {capacity}")
        self.n_chans = int(n_chans)
        self.capacity = int(capacity)
        self._data = resident_zeros((self.capacity, self.n_chans), dtype)  # time-major; resident (module doc)
        self._times = resident_zeros((self.capacity,))
        self._arrival = resident_zeros((self.capacity,))
        self._n_written = 0
        self._n_overflowed = 0
        self._lock = threading.Lock()
        self._written = threading.Condition(self._lock)  # notified at each write and clear

    @property
    def dtype(self) -> np.dtype:
        """The samples' numpy dtype."""
        return self._data.dtype

    @property
    def n_written(self) -> int:
        """Samples written since creation (or the last :meth:`clear`)."""
        return self._n_written

    @property
    def n_available(self) -> int:
        """Samples currently held (≤ capacity)."""
        return min(self._n_written, self.capacity)

    @property
    def n_overflowed(self) -> int:
        """Samples dropped at write because one chunk was larger than the whole buffer."""
        return self._n_overflowed

    def write(self, data: np.ndarray, timestamps: np.ndarray) -> None:
        """Append ``data`` (n_chans, n) with ``timestamps`` (n,)."""
        data = np.asarray(data)
        timestamps = np.asarray(timestamps, dtype=np.float64)
        if data.ndim != 2 or data.shape[0] != self.n_chans:
            raise StreamError(f"expected data of shape ({self.n_chans}, n), got {data.shape}")
        n = data.shape[1]
        if timestamps.shape != (n,):
            raise StreamError(f"expected {n} timestamps, got shape {timestamps.shape}")
        if n == 0:
            return
        arrived = time.perf_counter()
        with self._lock:
            if n > self.capacity:
                dropped = n - self.capacity
                self._n_overflowed += dropped
                log.warning("chunk of %d samples exceeds buffer capacity %d: %d oldest dropped", n, self.capacity, dropped)
                self._n_written += dropped
                data, timestamps, n = data[:, dropped:], timestamps[dropped:], self.capacity
            start = self._n_written % self.capacity
            first = min(n, self.capacity - start)
            self._data[start : start + first] = data[:, :first].T
            self._times[start : start + first] = timestamps[:first]
            self._arrival[start : start + first] = arrived
            if first < n:
                self._data[: n - first] = data[:, first:].T
                self._times[: n - first] = timestamps[first:]
                self._arrival[: n - first] = arrived
            self._n_written += n
            self._written.notify_all()

    def _copy_range(self, begin: int, end: int, rows: slice | np.ndarray = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        """Copy absolute sample range [begin, end) of ``rows`` as ``(n_rows, n)``; caller holds the lock
        and checked bounds. Every channel: Fortran order (a straight copy of the time-major block, what
        the decoder and the recorder read); some channels (a display page): C order, so each channel's
        trace is contiguous for the per-channel work that follows."""
        n = end - begin
        every = isinstance(rows, slice) and rows == slice(None)
        n_rows = len(range(self.n_chans)[rows]) if isinstance(rows, slice) else len(rows)
        out = np.empty((n, n_rows) if every else (n_rows, n), dtype=self._data.dtype)
        dest = out if every else out.T  # time-major view either way
        times = np.empty(n, dtype=np.float64)
        if n > 0:
            start = begin % self.capacity
            first = min(n, self.capacity - start)
            dest[:first] = self._data[start : start + first, rows]
            times[:first] = self._times[start : start + first]
            if first < n:
                dest[first:] = self._data[: n - first, rows]
                times[first:] = self._times[: n - first]
        return (out.T if every else out), times

    def latest(self, n: int | None = None, rows: slice | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the newest ``n`` samples (all held samples when ``None``), oldest first; only the
        channels ``rows`` (a slice or index array) when given (a display page of a 256-channel cap).

        Returns fewer than ``n`` when fewer are held: (n_rows, k), (k,).
        """
        with self._lock:
            k = self.n_available if n is None else min(int(n), self.n_available)
            return self._copy_range(self._n_written - k, self._n_written, slice(None) if rows is None else rows)

    def read_since(self, index: int, rows: slice | np.ndarray | None = None,
                   max_samples: int | None = None) -> ReadResult:
        """Every sample written at absolute positions ``>= index`` that is still held (the oldest
        ``max_samples`` of them when given: ``next_index`` then points past the last one read), of
        the channels ``rows`` (all when ``None``; a decoder reads its model's channels alone, in C
        order, so no per-sample work ever touches the others)."""
        if max_samples is not None and max_samples < 1:
            raise StreamError(f"max_samples must be >= 1, got {max_samples}")
        with self._lock:
            end = self._n_written
            oldest = end - self.n_available
            begin = min(max(index, oldest), end)
            lost = max(0, oldest - index)
            if max_samples is not None:
                end = min(end, begin + int(max_samples))
            data, times = self._copy_range(begin, end, slice(None) if rows is None else rows)
            return ReadResult(data, times, end, lost)

    def wait_written(self, index: int, timeout: float) -> bool:
        """Block until the sample at absolute ``index`` has been written (``n_written > index``) or
        ``timeout`` seconds passed (or the buffer was cleared); returns whether it has. A reader thread
        wakes when its data arrive, never on an empty poll."""
        with self._written:
            if self._n_written <= index:
                self._written.wait(timeout)
            return self._n_written > index

    def arrival_time(self, index: int) -> float:
        """``time.perf_counter()`` seconds at which absolute sample ``index`` was written (entered the
        buffer), or NaN when it is not held (not yet written, or overwritten). Used for latency."""
        with self._lock:
            if not self._n_written - self.n_available <= index < self._n_written:
                return math.nan
            return float(self._arrival[index % self.capacity])

    def clear(self) -> None:
        """Forget every sample (counters reset)."""
        with self._lock:
            self._n_written = 0
            self._n_overflowed = 0
            self._written.notify_all()
