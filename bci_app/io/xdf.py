"""Incremental, crash-safe XDF 1.0 writer and a recorder for :class:`~bci_app.acquisition.Stream` sources.

File layout (https://github.com/sccn/xdf/wiki/Specifications): the magic ``XDF:``, a FileHeader
chunk, then StreamHeader, Samples, ClockOffset and Boundary chunks as data arrive, and a StreamFooter
per stream at close. Every chunk is ``[NumLengthBytes][Length][Tag][Content]`` with a variable-length
length (1, 4 or 8 bytes, little endian); stream chunks start with a uint32 stream id; each sample
carries its timestamp (``0x08`` + float64).

Crash safety: chunks are encoded into memory and appended whole, then ``fsync``'d, at least every
``flush_interval`` seconds (default 0.5 s, never more than 1 s). A killed process therefore leaves a
file that ends on a chunk boundary (minus at most one partly written chunk, which pyxdf skips) and
lacks at most the last interval. When a write fails (disk full: ``ENOSPC``/``EFBIG``), the file is cut
back to the last complete chunk, the recorder stops with a :class:`RecordingError` in
:attr:`XdfRecorder.error` and an ``on_error`` callback, and pushes become no-ops: the caller's thread
never sees the exception.

While a recorder is open, ``<file>.xdf.lock`` (:mod:`bci_app.io.lock`) names its process: another
instance refuses to record to the same file (even with ``overwrite``), and the start-up scan does
not offer a running recording for continuation. It is removed at close and after a write failure;
a killed recorder leaves a stale lock, which is ignored and replaced.

Timestamps are written as given (LSL clock seconds); ClockOffset chunks with offset 0 record that they
are already on the recording machine's clock. EEG recorded from a :class:`Stream` in volts is written
in microvolts with unit ``"microvolts"`` (the XDF convention); :func:`bci_app.io.recording.read_recording`
scales it back to volts. Nothing inside a stream is used as a path.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import math
import os
import re
import struct
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bci_app.errors import OutputError, RecordingError
from bci_app.io.lock import acquire_lock, release_lock
from bci_app.outputs import FILE_MODE, refuse_special
from bci_app.units import MICROVOLTS, MICROVOLTS_PER_VOLT, volt_scale

if TYPE_CHECKING:
    from bci_app.acquisition.base import Stream

log = logging.getLogger(__name__)

MAGIC = b"XDF:"
TAG_FILE_HEADER, TAG_STREAM_HEADER, TAG_SAMPLES, TAG_CLOCK_OFFSET, TAG_BOUNDARY, TAG_STREAM_FOOTER = 1, 2, 3, 4, 5, 6
BOUNDARY_UUID = bytes(
    [0x43, 0xA5, 0x46, 0xDC, 0xCB, 0xF5, 0x41, 0x0F, 0xB3, 0x0E, 0xD5, 0x46, 0x73, 0x83, 0xCB, 0xE4]
)
#: XDF channel formats and their little-endian numpy dtypes (``string`` has none).
NUMERIC_FORMATS: dict[str, str] = {
    "float32": "<f4",
    "double64": "<f8",
    "int8": "<i1",
    "int16": "<i2",
    "int32": "<i4",
    "int64": "<i8",
}
CHANNEL_FORMATS = (*NUMERIC_FORMATS, "string")


def varlen(n: int) -> bytes:
    """XDF variable-length integer: one byte giving the width (1, 4 or 8), then the value."""
    if n < 0:
        raise RecordingError(f"XDF lengths are unsigned, got {n}")
    if n < 1 << 8:
        return b"\x01" + struct.pack("<B", n)
    if n < 1 << 32:
        return b"\x04" + struct.pack("<I", n)
    return b"\x08" + struct.pack("<Q", n)


def chunk(tag: int, content: bytes, stream_id: int | None = None) -> bytes:
    """One chunk: ``varlen(len) + uint16 tag [+ uint32 stream id] + content``."""
    return b"".join(chunk_parts(tag, [content], stream_id))


def chunk_parts(tag: int, content: Sequence[Any], stream_id: int | None = None) -> list[Any]:
    """:func:`chunk` as the list of its byte-like parts (``content``: bytes or contiguous uint8
    arrays, written as they are): large sample chunks are copied once, when the file is written."""
    head = struct.pack("<H", tag) + (b"" if stream_id is None else struct.pack("<I", stream_id))
    return [varlen(len(head) + sum(memoryview(part).nbytes for part in content)), head, *content]


def _xml(root: ET.Element) -> bytes:
    return b'<?xml version="1.0"?>' + ET.tostring(root, encoding="utf-8")


#: characters XML 1.0 cannot carry (C0 controls but tab/newline/return, surrogates, U+FFFE/U+FFFF): a
#: header holding one is unreadable for every XDF reader (pyxdf included)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str, what: str = "text") -> str:
    """``text`` with each character XML cannot carry written as a visible escape (``\\x01``), so
    the file stays readable; a WARNING names ``what`` and both spellings."""
    if not _NOT_XML.search(text):
        return text
    safe = _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}",
                        text)
    log.warning("XDF header %s %r holds control characters an XDF file cannot carry; written as %r", what, text, safe)
    return safe


def _add_text(parent: ET.Element, tag: str, text: Any) -> ET.Element:
    el = ET.SubElement(parent, tag)
    el.text = xml_safe(str(text), tag)
    return el


def _dict_to_xml(parent: ET.Element, data: Mapping[str, Any]) -> None:
    """Nested mapping → child elements (keys sanitised to XML names; lists repeat the element)."""
    for key, value in data.items():
        tag = "".join(ch if ch.isalnum() or ch in "_-." else "_" for ch in str(key)) or "_"
        if not (tag[0].isalpha() or tag[0] == "_"):
            tag = "_" + tag
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, Mapping):
                _dict_to_xml(ET.SubElement(parent, tag), item)
            else:
                _add_text(parent, tag, "" if item is None else item)


def read_file_desc(path: str | Path) -> dict[str, str]:
    """The ``<desc>`` of an XDF file's header as ``{tag: text}`` (e.g. ``{"config": yaml_text}`` of a
    session's recording), read from the first chunk only; empty when the header has none. Raises
    :class:`~bci_app.errors.RecordingError` when ``path`` is no XDF file."""
    with open(path, "rb") as f:
        head = f.read(len(MAGIC) + 1)
        if head[: len(MAGIC)] != MAGIC or head[-1:] not in (b"\x01", b"\x04", b"\x08"):
            raise RecordingError(f"{Path(path).name} is not an XDF file (no XDF header)")
        width = head[-1]
        length = int.from_bytes(f.read(width), "little")
        tag = struct.unpack("<H", f.read(2))[0]
        if tag != TAG_FILE_HEADER or length > 64 * 2**20:
            raise RecordingError(f"{Path(path).name} does not start with an XDF file header")
        root = ET.fromstring(f.read(length - 2))
    desc = root.find("desc")
    return {} if desc is None else {child.tag: child.text or "" for child in desc}


def write_all(fd: int, payload: bytes, *, sync: bool) -> None:
    """Write all of ``payload`` to the file descriptor ``fd`` (and ``fsync`` it with ``sync``);
    raises :class:`OSError`."""
    view = memoryview(payload).cast("B")
    while view:
        view = view[os.write(fd, view):]
    if sync:
        os.fsync(fd)


#: parts at least this large (bytes) are written as they are; smaller neighbours are joined first
LARGE_PART = 1 << 16


def write_parts(fd: int, parts: Sequence[Any], *, sync: bool) -> int:
    """Write the byte-like ``parts`` in order to ``fd`` (and ``fsync`` with ``sync``); returns the
    bytes written, raises :class:`OSError`. Large parts (sample records) go to the file as they are:
    joining them first copied every flush's megabytes once more while holding the GIL, which held
    up the acquisition and decoder threads (the OS writes them with the GIL released)."""
    total, small = 0, []
    for part in parts:
        size = memoryview(part).nbytes
        total += size
        if size < LARGE_PART:
            small.append(part)
            continue
        if small:
            write_all(fd, b"".join(small), sync=False)
            small = []
        write_all(fd, part, sync=False)
    if small:
        write_all(fd, b"".join(small), sync=False)
    if sync:
        os.fsync(fd)
    return total


def encode_numeric_samples(data: np.ndarray, timestamps: np.ndarray, dtype: str,
                           scale: np.ndarray | None = None) -> list[Any]:
    """Samples chunk body for ``data`` (n_chans, n) at ``timestamps`` (n,), each channel multiplied
    by ``scale`` (n_chans,) when given, as byte-like parts (the count, then the samples as one uint8
    array, not copied again): each sample is ``0x08 + float64 timestamp + n_chans values``. The
    values are converted (and scaled) straight into the samples' record, in one pass."""
    n_chans, n = data.shape
    rec = np.empty(n, dtype=[("flag", "u1"), ("ts", "<f8"), ("values", dtype, (n_chans,))])
    rec["flag"] = 8
    rec["ts"] = timestamps
    if scale is None:
        rec["values"] = data.T
    else:
        np.multiply(data.T, scale, out=rec["values"], casting="same_kind")
    return [varlen(n), rec.view(np.uint8)]


def encode_string_samples(values: Sequence[Sequence[str]], timestamps: np.ndarray) -> bytes:
    """Samples chunk body for string samples: ``values[k]`` holds one string per channel."""
    parts = [varlen(len(values))]
    for ts, sample in zip(timestamps, values):
        parts.append(b"\x08" + struct.pack("<d", float(ts)))
        for text in sample:
            raw = str(text).encode("utf-8", "backslashreplace")  # a lone surrogate cannot be UTF-8
            parts.append(varlen(len(raw)) + raw)
    return b"".join(parts)


def encode_samples(handle: XdfStream, data: np.ndarray | Sequence[Any], timestamps: np.ndarray,
                   scale: np.ndarray | None = None) -> list[Any]:
    """Samples chunk body (byte-like parts; none for no sample) of a push to ``handle``'s stream at
    ``timestamps`` (n,) float64: numeric ``data`` (n_chans, n), each channel multiplied by ``scale``
    (n_chans,) when given, or, for a string stream, a list of n strings (one channel) or of n
    per-sample lists. Raises :class:`RecordingError` for data not of that shape."""
    n = timestamps.size
    if handle.channel_format == "string":
        values = [[s] if isinstance(s, str) else list(s) for s in data]
        if len(values) != n or any(len(v) != handle.n_chans for v in values):
            raise RecordingError(f"stream {handle.name!r}: expected {n} samples of {handle.n_chans} strings")
        return [encode_string_samples(values, timestamps)] if n else []
    arr = np.asarray(data)
    if arr.ndim == 1 and handle.n_chans == 1:
        arr = arr[None, :]
    if arr.shape != (handle.n_chans, n):
        raise RecordingError(f"stream {handle.name!r}: expected data of shape ({handle.n_chans}, {n}), got {arr.shape}")
    if scale is not None and np.shape(scale) != (handle.n_chans,):
        raise RecordingError(f"stream {handle.name!r}: expected one scale per channel ({handle.n_chans}), "
                             f"got shape {np.shape(scale)}")
    return encode_numeric_samples(arr, timestamps, NUMERIC_FORMATS[handle.channel_format], scale) if n else []


def recording_path(path: str | os.PathLike[str], overwrite: bool) -> Path:
    """``path`` as a new recording file: ``.xdf``, not existing unless ``overwrite``, never a special file."""
    path = Path(path)
    if path.suffix.lower() != ".xdf":
        raise RecordingError(f"recording file must end in .xdf, got {path.name!r}")
    if path.exists() and not overwrite:
        raise RecordingError(f"{path} already exists; choose another file name or pass overwrite=True")
    try:
        refuse_special(path, "recording")
    except OutputError as exc:
        raise RecordingError(str(exc)) from exc
    return path


def file_header(desc: Mapping[str, Any] | None = None) -> bytes:
    """The FileHeader XML of a new file: version 1.0, the UTC time of writing, the writer, and
    ``desc`` (a nested mapping, e.g. ``{"config": yaml_text}``) as its ``desc``."""
    info = ET.Element("info")
    _add_text(info, "version", "1.0")
    _add_text(info, "datetime", _dt.datetime.now(_dt.timezone.utc).isoformat())
    _add_text(info, "writer", "bci-app")
    if desc:
        _dict_to_xml(ET.SubElement(info, "desc"), desc)
    return _xml(info)


def stream_footer(handle: XdfStream) -> ET.Element:
    """The StreamFooter ``info`` of a recorded stream: first/last timestamp, sample count, clock offsets."""
    info = ET.Element("info")
    _add_text(info, "first_timestamp", repr(handle.first_timestamp if handle.first_timestamp is not None else 0.0))
    _add_text(info, "last_timestamp", repr(handle.last_timestamp if handle.last_timestamp is not None else 0.0))
    _add_text(info, "sample_count", handle.sample_count)
    offsets = ET.SubElement(info, "clock_offsets")
    for time, value in handle.clock_offsets:
        offset = ET.SubElement(offsets, "offset")
        _add_text(offset, "time", repr(time))
        _add_text(offset, "value", repr(value))
    return info


def stream_header(name: str, stype: str, ch_names: Sequence[str], ch_types: Sequence[str], units: Sequence[str], *,
                  sfreq: float, channel_format: str, source_id: str, created_at: float,
                  desc: Mapping[str, Any] | None = None, source_labels: Sequence[str] | None = None) -> bytes:
    """The StreamHeader XML of a stream: LSL-style ``info`` with ``desc/channels/channel`` (label,
    type, unit, and ``source_label`` when given) and ``desc`` entries from ``desc``. Raises
    :class:`RecordingError` for an unknown format, no channel, or types/units not one per channel."""
    if channel_format not in CHANNEL_FORMATS:
        raise RecordingError(f"unknown XDF channel format {channel_format!r}; expected one of {', '.join(CHANNEL_FORMATS)}")
    n = len(ch_names)
    if n == 0:
        raise RecordingError(f"stream {name!r} has zero channels")
    if len(ch_types) != n or len(units) != n:
        raise RecordingError(f"stream {name!r}: {n} channel names but {len(ch_types)} types and {len(units)} units")
    info = ET.Element("info")
    for tag, value in (
        ("name", name), ("type", stype), ("channel_count", len(ch_names)), ("nominal_srate", repr(float(sfreq))),
        ("channel_format", channel_format), ("source_id", source_id), ("version", "1.1"),
        ("created_at", repr(created_at)), ("uid", uuid.uuid4()), ("session_id", "default"), ("hostname", ""),
    ):
        _add_text(info, tag, value)
    desc_el = ET.SubElement(info, "desc")
    channels = ET.SubElement(desc_el, "channels")
    for k, (label, ctype, unit) in enumerate(zip(ch_names, ch_types, units)):
        ch = ET.SubElement(channels, "channel")
        _add_text(ch, "label", label)
        _add_text(ch, "type", ctype)
        _add_text(ch, "unit", unit)
        if source_labels:
            _add_text(ch, "source_label", source_labels[k])
    if desc:
        _dict_to_xml(desc_el, desc)
    return _xml(info)


@dataclass
class XdfStream:
    """A stream registered with a recorder (returned by :meth:`XdfRecorder.add_stream`)."""

    stream_id: int
    name: str
    stype: str
    n_chans: int
    sfreq: float
    channel_format: str
    first_timestamp: float | None = None
    last_timestamp: float | None = None
    sample_count: int = 0
    clock_offsets: list[tuple[float, float]] = field(default_factory=list)


class XdfRecorder:
    """Write streams into one XDF file, incrementally and crash-safely.

    Parameters
    ----------
    path : the ``.xdf`` file to create (an existing file is refused unless ``overwrite``).
    file_desc : nested mapping written into the FileHeader (e.g. ``{"config": yaml_text}``).
    flush_interval : seconds between flushes (0 < x ≤ 1); ``None`` for no background thread (call
        :meth:`flush` yourself).
    clock : seconds on the timestamps' clock, for ClockOffset collection times (default
        ``pylsl.local_clock``).
    on_error : called with the :class:`RecordingError` (from the flush thread) when writing fails.

    Use as a context manager or call :meth:`close`. Thread-safe: ``push`` from any thread.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        file_desc: Mapping[str, Any] | None = None,
        flush_interval: float | None = 0.5,
        clock: Callable[[], float] | None = None,
        on_error: Callable[[RecordingError], None] | None = None,
        overwrite: bool = False,
        clock_offset_interval: float = 5.0,
    ) -> None:
        if flush_interval is not None and not 0 < flush_interval <= 1.0:
            raise RecordingError(f"flush_interval must be in (0, 1] s so a crash loses at most 1 s, got {flush_interval}")
        self.path = recording_path(path, overwrite)
        if clock is None:
            from bci_app.lsl_config import configure_lsl

            configure_lsl()
            import pylsl

            clock = pylsl.local_clock
        self._clock = clock
        self.on_error = on_error
        self.flush_interval = flush_interval
        self.clock_offset_interval = clock_offset_interval
        self.error: RecordingError | None = None
        self._lock = threading.RLock()
        self._write_lock = threading.RLock()  # one flush at a time; taken before _lock (see flush)
        self._pending: list[Any] = []  # byte-like parts, joined once at each flush
        self._streams: dict[int, XdfStream] = {}
        self._sources: list[_SourceTap] = []
        self._closed = False
        self._last_offset_time = -math.inf
        self._bytes_written = 0
        self._fd = -1
        # before touching the file: another instance may be writing it (overwrite or not)
        self._lock_file: Path | None = acquire_lock(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        except OSError as exc:
            self._release_lock()
            raise RecordingError(f"cannot create recording {self.path}: {exc.strerror or exc}; check the folder and "
                                 "its permissions") from exc
        self._pending.append(MAGIC + chunk(TAG_FILE_HEADER, file_header(file_desc)))
        self.flush(sync=False)  # on the caller's (often the UI) thread: the first timed flush syncs it
        if self.error is not None:
            raise self.error  # _fail released the lock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if flush_interval is not None:
            self._thread = threading.Thread(target=self._run, name=f"xdf-{self.path.name}", daemon=True)
            self._thread.start()

    # -- streams --------------------------------------------------------------------------------
    def add_stream(
        self,
        name: str,
        stype: str,
        ch_names: Sequence[str],
        *,
        ch_types: Sequence[str] | None = None,
        units: Sequence[str] | None = None,
        sfreq: float = 0.0,
        channel_format: str = "float32",
        source_id: str = "",
        desc: Mapping[str, Any] | None = None,
        source_labels: Sequence[str] | None = None,
    ) -> XdfStream:
        """Register a stream and write its StreamHeader; returns the handle for :meth:`push`.

        ``sfreq`` 0 means irregular (markers). Channel labels/types/units go into
        ``desc/channels/channel`` per the XDF conventions; ``source_labels`` (the headset's own labels
        when a channel map placed them) go beside each as ``source_label``.
        """
        n = len(ch_names)
        ch_types = list(ch_types) if ch_types is not None else [stype] * n
        units = list(units) if units is not None else [""] * n
        with self._lock:
            stream_id = len(self._streams) + 1
            header = stream_header(name, stype, ch_names, ch_types, units, sfreq=sfreq, channel_format=channel_format,
                                   source_id=source_id, created_at=float(self._clock()), desc=desc,
                                   source_labels=source_labels)
            handle = XdfStream(stream_id, name, stype, n, float(sfreq), channel_format)
            self._streams[stream_id] = handle
            self._queue(chunk(TAG_STREAM_HEADER, header, stream_id))
        return handle

    def push(self, handle: XdfStream, data: np.ndarray | Sequence[Any], timestamps: Sequence[float] | np.ndarray,
             *, scale: np.ndarray | None = None) -> bool:
        """Queue samples: numeric ``data`` (n_chans, n), each channel multiplied by ``scale``
        (n_chans,) when given, or, for string streams, a list of n strings (one channel) or of n
        per-sample lists. Returns False (and writes nothing) once the recorder has stopped; raises
        :class:`RecordingError` only for malformed input."""
        timestamps = np.asarray(timestamps, dtype=np.float64).reshape(-1)
        n = timestamps.size
        body = encode_samples(handle, data, timestamps, scale)
        with self._lock:
            if self._closed or self.error is not None:
                return False
            if handle.stream_id not in self._streams:
                raise RecordingError(f"stream {handle.name!r} was not added to this recorder")
            if n == 0:
                return True
            self._pending.extend(chunk_parts(TAG_SAMPLES, body, handle.stream_id))
            if handle.first_timestamp is None:
                handle.first_timestamp = float(timestamps[0])
            handle.last_timestamp = float(timestamps[-1])
            handle.sample_count += n
        return True

    def first_index(self, stream: Stream) -> int:
        """The absolute index (in ``stream``'s count) of the first sample of ``stream`` in the file:
        recorded sample indices (decisions, decoder start) are counted from it."""
        with self._lock:
            for tap in self._sources:
                if tap.stream is stream:
                    return tap.first_index
        raise RecordingError(f"{stream.info.name!r} is not recorded in {self.path}")

    def record_stream(self, stream: Stream, *, name: str | None = None, to_microvolts: bool = True) -> _SourceTap:
        """Record a connected :class:`Stream`: every sample (through ``read_since`` cursors, from the
        oldest sample still in its buffer) and every marker (through ``get_markers`` cursors) as an
        EEG stream plus a ``Markers`` string stream. Polled at each flush (or :meth:`poll`)."""
        tap = _SourceTap.attach(self, stream, name or stream.info.name, to_microvolts)
        with self._lock:
            self._sources.append(tap)
        return tap

    @property
    def streams(self) -> list[XdfStream]:
        with self._lock:
            return list(self._streams.values())

    @property
    def bytes_written(self) -> int:
        return self._bytes_written

    @property
    def failed(self) -> bool:
        return self.error is not None

    # -- writing ----------------------------------------------------------------------------------
    def _queue(self, data: bytes) -> None:
        self._pending.append(data)

    def poll(self) -> None:
        """Pull new samples and markers from recorded :class:`Stream` sources into the queue."""
        with self._lock:
            taps = list(self._sources)
        for tap in taps:
            tap.poll(self)

    def _clock_offsets(self) -> None:
        now = float(self._clock())
        if now - self._last_offset_time < self.clock_offset_interval:
            return
        self._last_offset_time = now
        for handle in self._streams.values():
            handle.clock_offsets.append((now, 0.0))
            self._queue(chunk(TAG_CLOCK_OFFSET, struct.pack("<dd", now, 0.0), handle.stream_id))
        self._queue(chunk(TAG_BOUNDARY, BOUNDARY_UUID))

    def flush(self, *, sync: bool = True) -> bool:
        """Write queued chunks and (``sync``) ``fsync``, outside ``_lock``: a push from the UI thread (a
        paradigm marker) never waits for the disk. Returns False when the recorder has failed."""
        with self._write_lock:
            with self._lock:
                if self.error is not None:
                    return False
                if not self._closed and self._streams:
                    self._clock_offsets()
                if not self._pending:
                    return True
                parts, self._pending, fd = self._pending, [], self._fd
            try:  # pushes go on meanwhile (an fsync can take a second on a busy disk)
                written = write_parts(fd, parts, sync=sync)
            except OSError as exc:
                with self._lock:
                    self._fail(exc)
                return False
            self._bytes_written += written  # only a flush (under _write_lock) changes it
            return True

    def _fail(self, exc: OSError) -> None:
        """Cut the file back to its last complete chunk, stop, and tell the owner."""
        reason = {28: "the disk is full", 27: "the file size limit was reached"}.get(exc.errno or 0, exc.strerror or str(exc))
        self.error = RecordingError(
            f"recording to {self.path} stopped: {reason} (errno {exc.errno}). The {self._bytes_written} bytes "
            "written before stay readable; free space or choose another folder, then start a new recording."
        )
        self.error.__cause__ = exc
        log.error("%s", self.error)
        try:
            os.ftruncate(self._fd, self._bytes_written)
        except OSError:
            log.exception("could not truncate %s after the write error", self.path)
        self._pending = []
        self._closed = True
        try:
            os.close(self._fd)
        except OSError:
            log.exception("closing %s after the write error failed", self.path)
        self._fd = -1
        self._release_lock()  # what was written is final: a later start-up may offer to continue it
        if self.on_error is not None:
            try:
                self.on_error(self.error)
            except Exception:  # noqa: BLE001 - a bad callback must not hide the error
                log.exception("recording on_error callback failed")

    def _run(self) -> None:
        assert self.flush_interval is not None
        while not self._stop.wait(self.flush_interval):
            try:
                self.poll()
            except Exception as exc:  # noqa: BLE001 - a failing source stops recording of it, visibly
                log.exception("recorder could not read its source")
                with self._lock:
                    if self.error is None:
                        self.error = RecordingError(f"recording to {self.path} could not read its source: {exc}")
            if not self.flush():
                return

    def close(self) -> None:
        """Write what is queued, the StreamFooters and close. Safe to call twice; never raises
        for write errors (see :attr:`error`)."""
        if self._thread is not None and self._thread is not threading.current_thread():
            self._stop.set()
            self._thread.join(timeout=5.0)
        with self._write_lock, self._lock:
            if self._closed:
                return
            try:
                self.poll()
            except Exception as exc:  # noqa: BLE001
                log.exception("recorder could not read its source at close")
                if self.error is None:
                    self.error = RecordingError(f"recording to {self.path} could not read its source: {exc}")
            if self.error is None and not self.flush():
                return
            for handle in self._streams.values():
                self._queue(chunk(TAG_STREAM_FOOTER, _xml(stream_footer(handle)), handle.stream_id))
            self._closed = True
            err, self.error = self.error, None
            ok = self.flush()
            self.error = err or self.error
            if ok:
                os.close(self._fd)
                self._fd = -1
                self._release_lock()

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            release_lock(self._lock_file)
            self._lock_file = None

    def __enter__(self) -> XdfRecorder:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        fd = getattr(self, "_fd", -1)
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)


#: bytes of the stream's buffer a recorder copies at a time (see :meth:`_SourceTap.poll`)
READ_BYTES = 1 << 20


@dataclass
class _SourceTap:
    """Cursor state for one :class:`Stream` being recorded."""

    stream: Stream
    eeg: XdfStream
    markers: XdfStream
    scale: np.ndarray
    index: int = 0
    marker_index: int = 0
    n_lost: int = 0
    #: the stream's absolute index of the first sample recorded (sample 0 of the file)
    first_index: int = 0

    @classmethod
    def attach(cls, recorder: XdfRecorder, stream: Stream, name: str, to_microvolts: bool) -> _SourceTap:
        """Register ``stream``'s EEG and Markers streams in ``recorder``; the cursors start at the
        oldest sample still in its buffer (on a full buffer, past its oldest quarter, which the
        source overwrites before the first flush could save it)."""
        info = stream.info
        units = list(info.units)
        scale = np.ones(info.n_chans)
        if to_microvolts:
            volts = np.array([volt_scale(u) == 1.0 for u in units])
            scale[volts] = MICROVOLTS_PER_VOLT
            units = [MICROVOLTS if v else u for u, v in zip(units, volts)]
        eeg = recorder.add_stream(
            name, info.stype, info.ch_names, ch_types=[t.upper() if t.lower() == "eeg" else t for t in info.ch_types],
            units=units, sfreq=info.sfreq, channel_format="float32", source_id=info.source_id,
            source_labels=info.source_labels or None,
        )
        markers = recorder.add_stream(
            f"{name}-markers", "Markers", ["marker"], ch_types=["Marker"], units=[""], sfreq=0.0,
            channel_format="string", source_id=f"{info.source_id}-markers",
        )
        buf = stream.buffer
        first = max(0, buf.n_written - buf.n_available) + max(0, buf.n_available - (3 * buf.capacity) // 4)
        return cls(stream, eeg, markers, scale, index=first, first_index=first)

    def poll(self, recorder: XdfRecorder) -> None:
        """Queue what the stream received since the last poll, one Samples chunk per
        :data:`READ_BYTES` read (the buffer's lock, which the acquisition thread's writes wait for, is
        held for one such copy at a time: half a second of 1024 channels x 4096 Hz is 16 MB)."""
        per_read = max(1, READ_BYTES // (8 * self.eeg.n_chans))
        while True:
            result = self.stream.read_since(self.index, max_samples=per_read)
            if result.n_lost:
                self.n_lost += result.n_lost
                log.warning("recorder lost %d samples of %s (buffer overrun)", result.n_lost, self.eeg.name)
            self.index = result.next_index
            n = result.timestamps.size
            if n:  # volts (float64) to microvolts (float32) straight into the file's records
                recorder.push(self.eeg, result.data, result.timestamps, scale=self.scale)
            if n < per_read:
                break
        markers = self.stream.get_markers(self.marker_index)
        if markers:
            self.marker_index += len(markers)
            recorder.push(self.markers, [m.value for m in markers], [m.timestamp for m in markers])
