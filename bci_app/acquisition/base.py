"""The one ``Stream`` contract every source implements (LSL, BrainFlow, file, simulator).

A stream is connected with :meth:`Stream.connect` (or ``with``), exposes a frozen :class:`StreamInfo`,
and moves samples into its :class:`RingBuffer` on :meth:`Stream.acquire`. With
``acquisition_delay=None`` there is no thread and callers (tests) call ``acquire()`` themselves;
with a delay in seconds, a background thread calls it. A failure in that thread is logged, puts the
stream in ``StreamState.FAILED``, reaches subscribers as an event and re-raises on the next
``acquire()``/``get_data()`` call from the owner.

Data inside the core are volts; timestamps are LSL clock seconds (``pylsl.local_clock`` base).
"""

from __future__ import annotations

import enum
import logging
import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from bci_app.acquisition.ringbuffer import ReadResult, RingBuffer
from bci_app.config import MAX_SFREQ_HZ
from bci_app.errors import StreamError
from bci_app.signal.channels import ChannelMap
from bci_app.types import GAP_MARKER, Marker
from bci_app.vocabulary import is_model_input

log = logging.getLogger(__name__)

__all__ = ["GAP_MARKER", "Marker", "Stream", "StreamEvent", "StreamInfo", "StreamState"]

#: the most channels one stream may have
MAX_CHANNELS = 1024
#: the largest ring buffer a stream may allocate (bytes)
MAX_BUFFER_BYTES = 2**30


def check_buffer_size(n_chans: int, sfreq: float, seconds: float, *, bytes_per_value: int = 8,
                      what: str = "buffer") -> int:
    """Bytes of a ``seconds`` buffer of ``n_chans`` channels at ``sfreq`` Hz; :class:`StreamError`
    naming the figures and :data:`MAX_BUFFER_BYTES` when it is larger (checked before allocating)."""
    if not (n_chans >= 1 and math.isfinite(sfreq) and sfreq > 0):
        raise StreamError(f"a stream of {n_chans} channels at {sfreq:g} Hz cannot be buffered; expected at least one "
                          "channel and a positive, finite sampling rate")
    size = n_chans * max(1, int(round(seconds * sfreq))) * bytes_per_value
    if size > MAX_BUFFER_BYTES:
        raise StreamError(
            f"a {seconds:g} s {what} of {n_chans} channels at {sfreq:g} Hz needs {size / 2**30:.1f} GiB, more than "
            f"the {MAX_BUFFER_BYTES / 2**30:g} GiB limit; lower the sampling rate, the channel count or the buffer "
            "length")
    return size


@dataclass(frozen=True)
class StreamInfo:
    """What a source is: names, rate and units of its channels.

    sfreq is in Hz (0 for irregular streams); units per channel (``"V"`` for EEG inside the core).
    """

    name: str
    sfreq: float
    ch_names: tuple[str, ...]
    ch_types: tuple[str, ...]
    units: tuple[str, ...]
    source_id: str
    stype: str = "EEG"
    #: the source's own channel labels when a :class:`~bci_app.signal.channels.ChannelMap` renamed
    #: them (empty: ``ch_names`` are the source's labels)
    source_labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.ch_names)
        if n == 0:
            raise StreamError(f"stream {self.name!r} has zero channels; an EEG source needs at least one")
        if len(self.ch_types) != n or len(self.units) != n:
            raise StreamError(
                f"stream {self.name!r}: {n} channel names but {len(self.ch_types)} types and {len(self.units)} units"
            )
        if not 0 < self.sfreq <= MAX_SFREQ_HZ:
            raise StreamError(f"stream {self.name!r}: sampling rate must be in (0, {MAX_SFREQ_HZ:g}] Hz, got {self.sfreq}")
        if n > MAX_CHANNELS:
            raise StreamError(f"stream {self.name!r}: {n} channels, at most {MAX_CHANNELS} are supported")

    @property
    def n_chans(self) -> int:
        return len(self.ch_names)

    def channel_map(self) -> dict[str, str]:
        """``{source label: position or type}`` for every channel (what the recording and the
        adapter keep): EEG channels give their name, the others their type."""
        labels = self.source_labels or self.ch_names
        return {label: (name if is_model_input(t) else t) for label, name, t in zip(labels, self.ch_names, self.ch_types)}

    def mapped(self, channel_map: ChannelMap) -> StreamInfo:
        """This info with ``channel_map`` applied (names, types, ``source_labels``); data rows unchanged."""
        labels = self.source_labels or self.ch_names
        names, types, _ = channel_map.apply(labels, self.ch_types, source=f"stream {self.name!r}", error=StreamError)
        return replace(self, ch_names=names, ch_types=types, source_labels=tuple(labels))


class StreamState(enum.Enum):
    DISCONNECTED = "disconnected"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    FAILED = "failed"


@dataclass
class StreamCounters:
    """Running counts: samples received, samples lost to buffer overflow, gaps detected."""

    received: int = 0
    lost_overflow: int = 0
    gaps: int = 0
    non_finite: int = 0


@dataclass(frozen=True)
class StreamEvent:
    """Something a subscriber should know: ``kind`` in {"connected", "disconnected", "gap",
    "reconnected", "failed", "ended"}, a plain ``message`` and the LSL-clock ``timestamp``.

    ``gap``: the source was lost (state becomes ``RECONNECTING``); ``reconnected``: data flow again
    (a :data:`GAP_MARKER` marker spanning the gap is added); ``ended``: a finite source (file) has
    delivered its last sample."""

    kind: str
    message: str
    timestamp: float
    error: BaseException | None = field(default=None, compare=False)


class Stream(ABC):
    """Base class of every source. Subclasses implement ``_connect``, ``_disconnect`` and ``_pull``.

    Parameters
    ----------
    bufsize : float
        Ring-buffer length in seconds.
    acquisition_delay : float | None
        Seconds between background ``acquire()`` calls; ``None`` for no thread (manual mode).
    """

    def __init__(self, bufsize: float = 30.0, acquisition_delay: float | None = None) -> None:
        if bufsize <= 0:
            raise StreamError(f"bufsize must be > 0 s, got {bufsize}")
        self.bufsize = float(bufsize)
        self.acquisition_delay = acquisition_delay
        self._info: StreamInfo | None = None
        self._buffer: RingBuffer | None = None
        self._markers: list[Marker] = []
        self._markers_lock = threading.Lock()
        self.counters = StreamCounters()
        self._state = StreamState.DISCONNECTED
        self._error: BaseException | None = None
        self._subscribers: list[Callable[[StreamEvent], None]] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._acquire_lock = threading.Lock()
        #: applied to the source's info at each connect (positions and types of its channels)
        self.channel_map: ChannelMap | None = None

    # -- subclass hooks -------------------------------------------------------------------------
    @abstractmethod
    def _connect(self) -> StreamInfo:
        """Open the source and return its info."""

    @abstractmethod
    def _disconnect(self) -> None:
        """Close the source; must be safe to call after a failure."""

    @abstractmethod
    def _pull(self) -> tuple[np.ndarray, np.ndarray, list[Marker]]:
        """Return what is available now without blocking: data (n_chans, n) in volts,
        timestamps (n,) LSL seconds, new markers."""

    @abstractmethod
    def now(self) -> float:
        """The current time on this stream's clock (LSL seconds, or the file/simulation clock)."""

    # -- public contract ------------------------------------------------------------------------
    @property
    def info(self) -> StreamInfo:
        if self._info is None:
            raise StreamError(f"{type(self).__name__} is not connected; call connect() first")
        return self._info

    @property
    def state(self) -> StreamState:
        return self._state

    @property
    def connected(self) -> bool:
        return self._state in (StreamState.CONNECTED, StreamState.RECONNECTING)

    @property
    def buffer(self) -> RingBuffer:
        if self._buffer is None:
            raise StreamError(f"{type(self).__name__} is not connected; call connect() first")
        return self._buffer

    @property
    def n_new_samples(self) -> int:
        """Samples written to the buffer since connection (absolute index of the next sample)."""
        return self.buffer.n_written

    def subscribe(self, callback: Callable[[StreamEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` on connection changes, gaps and failures; returns an unsubscribe."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def _emit(self, kind: str, message: str, error: BaseException | None = None) -> None:
        event = StreamEvent(kind, message, self.now() if self._info is not None else 0.0, error)
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # noqa: BLE001 - one bad observer must not stop acquisition
                log.exception("stream event subscriber %r failed on %s", callback, kind)

    def connect(self) -> Stream:
        """Open the source, allocate the buffer, start the acquisition thread if configured.

        On failure the state becomes ``FAILED``, a ``failed`` event is emitted and the
        :class:`StreamError` propagates; calling ``connect()`` again retries.
        """
        if self.connected:
            return self
        if self._state is StreamState.FAILED:
            self._safe_disconnect()
        try:
            info = self._connect()
        except Exception as exc:
            self._error = exc
            self._state = StreamState.FAILED
            self._emit("failed", f"connection failed: {exc}", exc)
            self._safe_disconnect()
            if isinstance(exc, StreamError):
                raise
            raise StreamError(f"{type(self).__name__} could not connect: {type(exc).__name__}: {exc}") from exc
        if self.channel_map is not None:
            try:
                info = info.mapped(self.channel_map)
            except StreamError as exc:
                self._error = exc
                self._state = StreamState.FAILED
                self._emit("failed", f"channel map does not fit: {exc}", exc)
                self._safe_disconnect()
                raise
        self._info = info
        capacity = max(1, int(round(self.bufsize * info.sfreq)))
        try:
            check_buffer_size(info.n_chans, info.sfreq, self.bufsize)
        except StreamError:
            self._safe_disconnect()
            raise
        self._buffer = RingBuffer(info.n_chans, capacity)
        with self._markers_lock:
            self._markers = []
        self.counters = StreamCounters()
        self._error = None
        self._state = StreamState.CONNECTED
        self._emit("connected", f"connected to {info.name} ({info.n_chans} channels at {info.sfreq:g} Hz)")
        if self.acquisition_delay is not None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"acquire-{info.name}", daemon=True)
            self._thread.start()
        return self

    def _safe_disconnect(self) -> None:
        try:
            self._disconnect()
        except Exception:  # noqa: BLE001 - cleaning up after a failure must not mask it
            log.exception("%s: cleanup after failure raised", type(self).__name__)

    def disconnect(self) -> None:
        """Stop the thread and close the source. Safe to call twice."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
            if self._thread.is_alive():
                log.error("acquisition thread of %s did not stop within 5 s", type(self).__name__)
        self._thread = None
        if self._state is not StreamState.DISCONNECTED:
            try:
                self._disconnect()
            finally:
                was_failed = self._state is StreamState.FAILED
                self._state = StreamState.DISCONNECTED
                if not was_failed:
                    self._emit("disconnected", "disconnected")

    def __enter__(self) -> Stream:
        return self.connect()

    def __exit__(self, *exc_info) -> None:
        self.disconnect()

    def _raise_if_failed(self) -> None:
        if self._state is StreamState.FAILED and self._error is not None:
            raise StreamError(f"{type(self).__name__} failed: {self._error}") from self._error

    def acquire(self) -> int:
        """Move every available sample and marker into the buffer without blocking.

        Returns the number of new samples. Non-finite samples are kept as received and counted.
        """
        self._raise_if_failed()
        if not self.connected:
            raise StreamError(f"{type(self).__name__} is not connected; call connect() first")
        with self._acquire_lock:
            try:
                data, timestamps, markers = self._pull()
            except Exception as exc:
                self._fail(exc)
                if isinstance(exc, StreamError):
                    raise
                raise StreamError(f"{type(self).__name__} failed: {type(exc).__name__}: {exc}") from exc
            n = data.shape[1] if data.size else 0
            if n:
                before = self.buffer.n_overflowed
                self.buffer.write(data, timestamps)
                self.counters.lost_overflow += self.buffer.n_overflowed - before
                self.counters.received += n
                finite = np.isfinite(data)
                if not finite.all():
                    self.counters.non_finite += int((~finite).any(axis=0).sum())
            if markers:
                with self._markers_lock:
                    self._markers.extend(markers)
            return n

    def get_data(self, winsize: float | None = None, rows: slice | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The latest ``winsize`` seconds (all buffered when ``None``) of the channels ``rows`` (all when None).

        Returns data (n_rows, n_times) in volts and timestamps (n_times,) in LSL seconds.
        """
        self._raise_if_failed()
        n = None if winsize is None else int(round(winsize * self.info.sfreq))
        return self.buffer.latest(n, rows)

    def read_since(self, index: int, rows: slice | np.ndarray | None = None,
                   max_samples: int | None = None) -> ReadResult:
        """Every buffered sample from absolute index ``index`` on, of the channels ``rows`` (all when
        ``None``), at most ``max_samples`` (see :meth:`RingBuffer.read_since`)."""
        self._raise_if_failed()
        return self.buffer.read_since(index, rows, max_samples)

    def get_markers(self, start: int = 0) -> list[Marker]:
        """Markers received since connection, from position ``start`` (so readers keep a cursor)."""
        with self._markers_lock:
            return self._markers[start:]

    @property
    def n_markers(self) -> int:
        with self._markers_lock:
            return len(self._markers)

    # -- background acquisition ------------------------------------------------------------------
    def _run(self) -> None:
        assert self.acquisition_delay is not None
        while not self._wait_for_data(self.acquisition_delay):
            try:
                self.acquire()
            except Exception as exc:  # noqa: BLE001 - any failure fails the stream, visibly
                log.exception("acquisition from %s failed", self._info.name if self._info else "?")
                if self._state is not StreamState.FAILED:
                    self._fail(exc)
                return

    def _wait_for_data(self, timeout: float) -> bool:
        """Sleep until the next :meth:`acquire` of the acquisition thread is due (``timeout`` s, the
        acquisition delay); True when the stream is stopping. A source that can sleep until its
        samples arrive overrides it (:class:`~bci_app.acquisition.lsl.StreamLSL`)."""
        return self._stop.wait(timeout)

    def _fail(self, exc: BaseException) -> None:
        """Put the stream in ``FAILED`` and tell subscribers (once)."""
        self._error = exc
        self._state = StreamState.FAILED
        self._emit("failed", f"acquisition stopped: {exc}", exc)
