"""Lab Streaming Layer in and out: :class:`StreamLSL` (an inlet behind the ``Stream`` contract) and
:class:`LslPlayer` (publishes any ``Stream`` as an LSL EEG outlet plus a ``Markers`` outlet).

Both call :func:`bci_app.lsl_config.configure_lsl` before touching pylsl, so LSL stays on this
machine unless the user widened the scope.

Units: LSL outlets written by :class:`LslPlayer` carry voltage channels in **microvolts** (declared
as ``unit=microvolts`` in ``desc/channels/channel``), the convention of most LSL EEG software;
:class:`StreamLSL` converts every declared voltage unit (V, mV, µV/uV/microvolts, nV) to volts.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Literal

import numpy as np

from bci_app.acquisition.base import MAX_CHANNELS, Stream, StreamInfo, StreamState, check_buffer_size
from bci_app.config import MAX_SFREQ_HZ
from bci_app.errors import StreamError
from bci_app.lsl_config import configure_lsl
from bci_app.types import GAP_MARKER, Marker
from bci_app.units import MICROVOLTS, MICROVOLTS_PER_VOLT, VOLT_SCALES, VOLTAGE_TYPES, volt_scale

log = logging.getLogger(__name__)

#: shortest time between two pulls of the acquisition thread (s), however often a source pushes
MIN_PULL_GAP_S = 0.005
#: once a chunk's first sample has woken the acquisition thread, the rest of the chunk is taken as
#: arrived when the inlet's queue has not grown for this long (s) ...
CHUNK_SETTLE_S = 0.0003
#: ... or at the latest this long after the wake (s): a source pushing sample by sample never settles
MAX_SETTLE_S = 0.002


def _settle_chunk(inlet) -> None:
    """Let the rest of the chunk whose first sample just arrived reach the inlet (its queue stops
    growing for :data:`CHUNK_SETTLE_S`, at most :data:`MAX_SETTLE_S`) before it is pulled. liblsl
    receives a chunk sample by sample: pulled at once, a large chunk (41 samples x 1024
    channels) came in two pulls half the time, the second one a pull period later, and its
    samples waited 6-12 ms instead of about 1."""
    import pylsl

    deadline = time.perf_counter() + MAX_SETTLE_S
    try:
        queued = inlet.samples_available()
        while time.perf_counter() < deadline:
            time.sleep(CHUNK_SETTLE_S)
            now = inlet.samples_available()
            if now == queued:
                return
            queued = now
    except pylsl.util.LostError:
        return  # the next pull sees it too and starts reconnecting


_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = "abcdefghijklmnopqrstuvwxyz"


def _lit(value: str) -> str:
    """An XPath 1.0 string literal for ``value`` (which has no escape syntax)."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise StreamError(f"LSL stream property {value!r} contains both quote characters; rename the stream")


def _type_is(stype: str) -> str:
    """Case-insensitive XPath predicate on the stream type (some software publishes ``eeg``)."""
    return f"translate(type,{_lit(_UPPER)},{_lit(_LOWER)})={_lit(stype.lower())}"


#: how a Markers stream names the EEG stream it belongs to (``<name>-markers``, what :class:`LslPlayer` and
#: the simulator publish; ``_markers`` and ``Markers`` from other software)
_MARKER_SUFFIXES = ("-markers", "_markers", "Markers")


def _own_marker_names(name: str) -> str:
    return " or ".join(repr(name + suffix) for suffix in _MARKER_SUFFIXES)


def _own_markers(full) -> str:
    """LSL predicate of the Markers streams that belong to the stream ``full``: named after it on the
    same host, or with its source_id plus ``-markers``. Another program's Markers stream never matches."""
    names = " or ".join(f"name={_lit(full.name() + suffix)}" for suffix in _MARKER_SUFFIXES)
    own = [f"(({names}) and hostname={_lit(full.hostname())})"]
    if full.source_id():
        own.append(f"source_id={_lit(full.source_id() + '-markers')}")
    return "(" + " or ".join(own) + ")"


def _same_outlet(full) -> str:
    """LSL predicate of the outlets that publish the stream ``full`` (when it comes back after being
    lost): the same source_id or, without one, the same name, type and host."""
    if full.source_id():
        return f"source_id={_lit(full.source_id())}"
    return f"name={_lit(full.name())} and type={_lit(full.type())} and hostname={_lit(full.hostname())}"


def _describe(infos: list) -> str:
    if not infos:
        return "none"
    return "; ".join(
        f"name={i.name()!r} type={i.type()!r} source_id={i.source_id()!r} "
        f"{i.channel_count()} ch @ {i.nominal_srate():g} Hz on {i.hostname()}"
        for i in infos
    )


def _channel_info(full, default_unit: str) -> tuple[StreamInfo, np.ndarray]:
    """The :class:`StreamInfo` of an LSL stream's full description ``full`` and, per channel, the
    factor to volts of its declared unit (``default_unit`` for voltage channels declaring none; 1
    for channels that are not voltages)."""
    n = full.channel_count()
    labels = full.get_channel_labels() or [None] * n
    types = full.get_channel_types() or [None] * n
    units = full.get_channel_units() or [None] * n
    labels, types, units = (list(x)[:n] + [None] * (n - len(x)) for x in (labels, types, units))
    ch_names, ch_types, ch_units, scale = [], [], [], np.ones(n)
    for k in range(n):
        ch_names.append(labels[k] or f"ch{k + 1}")
        ctype = (types[k] or "eeg").lower()
        ch_types.append(ctype)
        unit = (units[k] or "").strip()
        if not unit and ctype in VOLTAGE_TYPES:
            unit = default_unit
        factor = volt_scale(unit)
        if factor is not None:
            scale[k] = factor
            ch_units.append("V")
        else:
            ch_units.append(unit)
    if len(set(ch_names)) != n:
        log.warning("LSL stream %r has duplicate channel labels: %s", full.name(), ch_names)
    info = StreamInfo(name=full.name(), sfreq=float(full.nominal_srate()), ch_names=tuple(ch_names),
                      ch_types=tuple(ch_types), units=tuple(ch_units), source_id=full.source_id(), stype=full.type())
    return info, scale


class _PairedMarkers:
    """The ``Markers`` stream paired with an EEG inlet (:class:`StreamLSL`'s ``marker_stream``: a name,
    or ``None`` for the one that belongs to the EEG stream): found, opened with
    ``open_inlet(info, processing)``, pulled and closed here."""

    def __init__(self, wanted: str | None, resolve_timeout: float, open_inlet) -> None:
        self.wanted, self.resolve_timeout, self._open_inlet = wanted, resolve_timeout, open_inlet
        self.inlet = None
        self.info = None

    @staticmethod
    def _predicate(extra: str) -> str:
        return f"{_type_is('markers')} and {extra}"

    def pair(self, full) -> None:
        """Find and open the Markers stream of the EEG stream ``full`` (none found: no markers, logged;
        a named one not found: :class:`StreamError`)."""
        import pylsl

        candidates: list = []
        if isinstance(self.wanted, str):
            predicate = self._predicate(f"name={_lit(self.wanted)}")
            candidates = pylsl.resolve_bypred(predicate, 1, self.resolve_timeout)
            if not candidates:
                visible = pylsl.resolve_streams(wait_time=min(1.0, self.resolve_timeout))
                raise StreamError(
                    f"no LSL Markers stream named {self.wanted!r} found within {self.resolve_timeout:g} s. "
                    f"Visible streams: {_describe(visible)}. Pass marker_stream=None to pair automatically or "
                    f"False to go without markers."
                )
        else:
            candidates = pylsl.resolve_bypred(self._predicate(_own_markers(full)), 1, 0.5)
        candidates = [c for c in candidates if c.channel_format() == pylsl.cf_string]
        if not candidates:
            others = pylsl.resolve_bypred(_type_is("markers"), 1000, min(1.0, self.resolve_timeout))
            log.warning("no Markers stream of its own for %r (one named %s on %s, or with source_id %r): "
                        "going without markers (name another with marker_stream / record --markers).%s",
                        full.name(), _own_marker_names(full.name()),
                        full.hostname(), f"{full.source_id()}-markers" if full.source_id() else "(none: no source_id)",
                        f" Not paired, as they belong to other streams: {_describe(others)}." if others else "")
            self.inlet = self.info = None
            return
        self.info = candidates[0]
        self.inlet = self._open_inlet(candidates[0], pylsl.proc_clocksync)
        log.warning("paired the Markers stream %s with %r", _describe(candidates[:1]), full.name())


    def pull(self, stream_name: str) -> list[Marker]:
        """The markers arrived since the last pull (none when unpaired or lost)."""
        import pylsl

        if self.inlet is None:
            return []
        try:
            values, stamps = self.inlet.pull_chunk(timeout=0.0)
        except pylsl.util.LostError:
            log.warning("Markers stream of %r lost", stream_name)
            self.inlet = None
            return []
        return [Marker(float(t), str(v[0]) if len(v) == 1 else "/".join(map(str, v))) for v, t in zip(values, stamps)]

    def close(self) -> None:
        _close_inlet(self.inlet)
        self.inlet = None


def _close_inlet(inlet) -> None:
    if inlet is not None:
        try:
            inlet.close_stream()
        except Exception:  # noqa: BLE001 - closing a dead inlet may fail; nothing to save
            log.debug("closing an LSL inlet failed", exc_info=True)


class StreamLSL(Stream):
    """An LSL EEG inlet.

    Parameters
    ----------
    name, stype, source_id : str | None
        What to resolve: exact name, type (matched case-insensitively; ``None`` for any type),
        exact source_id. At least one should be given; with several matches the first found is used.
    resolve_timeout : float
        Seconds to wait for the stream at :meth:`connect`.
    bufsize : float
        Ring-buffer length in seconds.
    acquisition_delay : float | None
        Seconds between background pulls; ``None``: no thread, call :meth:`acquire` yourself.
    marker_stream : str | None | False
        Name of the ``Markers`` stream to pair with; ``None`` (auto): the ``Markers`` stream that
        belongs to the EEG stream, named ``<name>-markers`` (also ``_markers``/``Markers``) on the same
        host or with source_id ``<source_id>-markers``, else none (never another program's); what
        was paired, or that none was, is logged as a WARNING; ``False``: no markers.
    default_unit : str
        Unit assumed for voltage channels whose description declares none (most LSL EEG software
        sends microvolts).
    dejitter : bool
        Also let liblsl smooth timestamps (``proc_dejitter``); clock synchronisation
        (``time_correction``) is always applied.
    max_chunk : int
        Samples per ``pull_chunk`` into the preallocated array.

    The inlet is opened without liblsl's silent recovery: when the outlet vanishes, the stream goes
    to ``RECONNECTING`` (``counters.gaps`` + 1, a ``gap`` event), watches for an outlet with the same
    source_id (or, without one, the same name, type and host) and, when data flow again, emits
    ``reconnected`` and adds a :data:`~bci_app.acquisition.base.GAP_MARKER` marker spanning the gap.
    """

    def __init__(
        self,
        name: str | None = None,
        stype: str | None = "EEG",
        source_id: str | None = None,
        *,
        resolve_timeout: float = 5.0,
        bufsize: float = 30.0,
        acquisition_delay: float | None = None,
        marker_stream: str | None | Literal[False] = None,
        default_unit: str = "microvolts",
        dejitter: bool = False,
        max_chunk: int = 1024,
    ) -> None:
        super().__init__(bufsize=bufsize, acquisition_delay=acquisition_delay)
        if name is None and stype is None and source_id is None:
            raise StreamError("StreamLSL needs a name, a type or a source_id to look for")
        if default_unit.lower() not in VOLT_SCALES:
            raise StreamError(f"default_unit {default_unit!r} is not a voltage unit; use one of {sorted(VOLT_SCALES)}")
        self.name = name
        self.stype = stype
        self.source_id = source_id
        self.resolve_timeout = float(resolve_timeout)
        self.marker_stream = marker_stream
        self.default_unit = default_unit
        self.dejitter = dejitter
        self.max_chunk = int(max_chunk)
        self._inlet = None
        self._paired = _PairedMarkers(marker_stream if isinstance(marker_stream, str) else None,
                                      self.resolve_timeout, self._open_inlet)
        self._dest: np.ndarray | None = None
        self._held: np.ndarray | None = None  # timestamp (1,) of the sample that woke the thread, in _dest[0]
        self._scale: np.ndarray | None = None
        self._lsl_info = None  # full pylsl.StreamInfo of the connected outlet
        self._resolver = None
        self._last_ts: float | None = None
        self._lost_at_ts: float | None = None

    @classmethod
    def from_config(cls, config, name: str | None = None, stype: str | None = "EEG", source_id: str | None = None,
                    **overrides) -> StreamLSL:
        """Build from an :class:`~bci_app.config.LslConfig` (``config.lsl``); keywords override."""
        kwargs = {
            "resolve_timeout": config.resolve_timeout_s,
            "bufsize": config.bufsize_s,
            "acquisition_delay": config.acquisition_delay_s,
            "default_unit": config.default_unit,
        }
        kwargs.update(overrides)
        configure_lsl(config.scope)
        return cls(name, stype, source_id, **kwargs)

    # -- helpers ------------------------------------------------------------------------------
    def now(self) -> float:
        import pylsl

        return pylsl.local_clock()

    def _predicate(self) -> str:
        parts = []
        if self.name is not None:
            parts.append(f"name={_lit(self.name)}")
        if self.stype is not None:
            parts.append(_type_is(self.stype))
        if self.source_id is not None:
            parts.append(f"source_id={_lit(self.source_id)}")
        return " and ".join(parts)

    def _wanted(self) -> str:
        given = (("name", self.name), ("type", self.stype), ("source_id", self.source_id))
        parts = [f"{k}={v!r}" for k, v in given if v is not None]
        return ", ".join(parts)

    def _inlet_seconds(self) -> int:
        """Seconds liblsl buffers in an inlet."""
        return int(max(30, self.bufsize))

    def _check_sizes(self, info) -> None:
        """Refuse, from the outlet's header alone, a stream whose inlet (liblsl's buffer) or ring buffer would
        pass :data:`~bci_app.acquisition.base.MAX_BUFFER_BYTES`, before either is allocated."""
        n_chans, sfreq = int(info.channel_count()), float(info.nominal_srate())
        value_bytes = {1: 4, 2: 8, 4: 4, 5: 2, 6: 1, 7: 8}.get(int(info.channel_format()), 8)  # pylsl cf_* codes
        where = f"LSL stream {info.name()!r}: "
        if n_chans > MAX_CHANNELS:
            raise StreamError(f"{where}{n_chans} channels, at most {MAX_CHANNELS} are supported")
        if sfreq > MAX_SFREQ_HZ:
            raise StreamError(f"{where}a sampling rate of {sfreq:g} Hz, at most {MAX_SFREQ_HZ:g} Hz is supported")
        try:
            check_buffer_size(n_chans, sfreq, self._inlet_seconds(), bytes_per_value=value_bytes, what="LSL inlet")
            check_buffer_size(n_chans, sfreq, self.bufsize)
        except StreamError as exc:
            raise StreamError(where + str(exc)) from None

    def _open_inlet(self, info, processing: int):
        import pylsl

        inlet = pylsl.StreamInlet(info, max_buflen=self._inlet_seconds(), recover=False, processing_flags=processing)
        try:
            inlet.open_stream(timeout=self.resolve_timeout)
            # the first clock-offset estimate takes ~0.6 s of probes; take it now, not in acquire()
            inlet.time_correction(timeout=self.resolve_timeout)
        except pylsl.util.TimeoutError as exc:
            raise StreamError(f"LSL stream {info.name()!r} was found but did not accept a connection within "
                              f"{self.resolve_timeout:g} s") from exc
        except pylsl.util.LostError as exc:
            raise StreamError(f"LSL stream {info.name()!r} disappeared while connecting; check the sender and "
                              "connect again") from exc
        return inlet

    # -- Stream hooks -------------------------------------------------------------------------
    def _connect(self) -> StreamInfo:
        configure_lsl()
        import pylsl

        found = pylsl.resolve_bypred(self._predicate(), 1, self.resolve_timeout)
        usable = [i for i in found if i.channel_format() != pylsl.cf_string and i.nominal_srate() > 0]
        if not usable:
            visible = pylsl.resolve_streams(wait_time=min(1.0, self.resolve_timeout))
            rejected = ""
            if found:
                rejected = (" Matching but unusable (string or irregular-rate streams cannot be EEG): "
                            + _describe(found) + ".")
            raise StreamError(
                f"no LSL stream with {self._wanted()} found within {self.resolve_timeout:g} s.{rejected} "
                f"Visible streams: {_describe(visible)}. Check that the device software is streaming, that the "
                f"name/type/source_id are spelled as published, and that the LSL scope (config 'lsl.scope', "
                f"'machine' by default) includes the computer the stream comes from."
            )
        if len(usable) > 1:
            log.warning("several LSL streams match %s; using the first: %s", self._wanted(), _describe(usable))
        self._check_sizes(usable[0])
        processing = pylsl.proc_clocksync | (pylsl.proc_dejitter if self.dejitter else 0)
        self._processing = processing
        if self.marker_stream is not False:
            self._paired.pair(usable[0])  # markers first: none is missed around the first samples
        inlet = self._open_inlet(usable[0], processing)
        full = inlet.info(timeout=self.resolve_timeout)
        info, self._scale = _channel_info(full, self.default_unit)
        self._inlet, self._lsl_info = inlet, full
        self._dest = np.empty((self.max_chunk, full.channel_count()), dtype=inlet.np_dtype)
        self._last_ts = None
        self._lost_at_ts = None
        self._resolver = None
        return info

    def _wait_for_data(self, timeout: float) -> bool:
        """The acquisition thread sleeps in liblsl until a sample arrives (or ``timeout``), then pulls
        at once: a chunk waits for transport only, not for the rest of a fixed pull period (which put
        the pull latency's p99 at the period). Pulls are at least :data:`MIN_PULL_GAP_S` apart, so a
        source pushing every sample cannot wake it thousands of times a second. True when stopping."""
        import pylsl

        if self._stop.wait(MIN_PULL_GAP_S):
            return True
        inlet, dest, rest = self._inlet, self._dest, max(0.0, timeout - MIN_PULL_GAP_S)
        if inlet is None or dest is None or self._held is not None:  # reconnecting: the plain period
            return self._stop.wait(rest)
        try:
            view, ts = inlet.pull_chunk(timeout=rest, max_samples=1, dest_obj=dest, as_numpy=True)
        except pylsl.util.LostError:
            return self._stop.is_set()  # the next pull sees it too and starts reconnecting
        if len(ts):
            self._held = np.asarray(ts[:1], dtype=np.float64)  # its values stay in dest[0]: the rest follow it
            _settle_chunk(inlet)
        return self._stop.is_set()

    def _disconnect(self) -> None:
        self._held = None
        _close_inlet(self._inlet)
        self._paired.close()
        self._inlet = None
        self._resolver = None

    # -- pulling ------------------------------------------------------------------------------
    def _pull(self) -> tuple[np.ndarray, np.ndarray, list[Marker]]:
        import pylsl

        markers = self._paired.pull(self.info.name)
        n_chans = self.info.n_chans
        if self._inlet is None and not self._try_reconnect():
            return np.empty((n_chans, 0)), np.empty(0), markers
        chunks, stamps = [], []
        dest, scale = self._dest, self._scale
        assert dest is not None and scale is not None
        held, self._held = self._held, None
        n_held = 0 if held is None else 1  # pulled while waiting for data: dest[0], it comes first
        while True:
            room, ts = self.max_chunk - n_held, np.empty(0)
            target = dest if n_held == 0 else memoryview(dest).cast("B")[n_held * dest.strides[0]:]
            try:
                if room:
                    _, ts = self._inlet.pull_chunk(timeout=0.0, max_samples=room, dest_obj=target, as_numpy=True)
            except pylsl.util.LostError:
                self._on_lost()
            n = n_held + len(ts)
            if n:
                chunks.append(dest[:n].T * scale[:, None])  # a new float64 array: volts
                stamps.append(ts if held is None else np.concatenate([held, ts]))
            if self._inlet is None or len(ts) < room:
                break
            held, n_held = None, 0
        if not chunks:
            return np.empty((n_chans, 0)), np.empty(0), markers
        data = chunks[0] if len(chunks) == 1 else np.concatenate(chunks, axis=1)
        timestamps = stamps[0] if len(stamps) == 1 else np.concatenate(stamps)
        if self._lost_at_ts is not None or self._state is StreamState.RECONNECTING:
            last = self._lost_at_ts if self._lost_at_ts is not None else float(timestamps[0])
            markers.append(Marker(last, GAP_MARKER, max(0.0, float(timestamps[0]) - last)))
            self._lost_at_ts = None
            self._state = StreamState.CONNECTED
            self._emit("reconnected", f"LSL stream {self.info.name!r} is back after {float(timestamps[0]) - last:.2f} s")
        self._last_ts = float(timestamps[-1])
        return data, timestamps, markers

    def _on_lost(self) -> None:
        import pylsl

        log.warning("LSL stream %r lost; waiting for it to come back", self.info.name)
        self._inlet = None
        self._lost_at_ts = self._last_ts if self._last_ts is not None else self.now()
        self.counters.gaps += 1
        self._state = StreamState.RECONNECTING
        full = self._lsl_info
        self._resolver = pylsl.ContinuousResolver(pred=_same_outlet(full))
        self._emit("gap", f"LSL stream {full.name()!r} lost; reconnecting when an outlet with the same "
                          f"{'source_id' if full.source_id() else 'name, type and host'} appears")

    def _try_reconnect(self) -> bool:
        """Non-blocking: open a new inlet when the lost outlet (same source_id) is visible again."""
        if self._resolver is None:
            return False
        old = self._lsl_info
        for candidate in self._resolver.results():
            if candidate.uid() == old.uid():
                continue  # the dead outlet, not yet forgotten by the resolver
            if candidate.channel_count() != old.channel_count() or candidate.nominal_srate() != old.nominal_srate():
                raise StreamError(
                    f"LSL stream {old.name()!r} came back with {candidate.channel_count()} channels at "
                    f"{candidate.nominal_srate():g} Hz instead of {old.channel_count()} at {old.nominal_srate():g} Hz; "
                    f"reconnect explicitly (disconnect() then connect()) to accept the new layout"
                )
            try:
                inlet = self._open_inlet(candidate, self._processing)
            except StreamError:
                log.warning("LSL stream %r reappeared but the connection failed; retrying", old.name(), exc_info=True)
                return False
            self._inlet = inlet
            self._lsl_info = candidate
            self._resolver = None
            log.info("LSL stream %r reappeared (uid %s)", old.name(), candidate.uid())
            if self._paired.inlet is None and self.marker_stream is not False:
                try:
                    self._paired.pair(old)
                except StreamError:
                    log.warning("markers of %r not found after reconnection", old.name(), exc_info=True)
            return True
        return False

class LslPlayer:
    """Publish a connected :class:`Stream` as an LSL outlet (float32) plus a ``Markers`` outlet.

    Used by ``bci-app play`` (recordings), ``bci-app simulate`` and the demo/GUI. Voltage channels are
    (types eeg/eog/emg/ecg/... in volts) are sent in microvolts (``eeg_unit="microvolts"``, the usual
    LSL convention) or volts (``"V"``); other channels go unchanged with their own unit. The unit is
    declared per channel in ``desc/channels/channel/unit`` together with label and type.
    Sample timestamps and marker timestamps are the source stream's (LSL clock for live and
    simulated sources; see :class:`~bci_app.acquisition.file.StreamFile` for files).

    Drive it with :meth:`step` (manual) or :meth:`start` (a thread calling ``step`` every
    ``interval`` s). When the source has no acquisition thread, ``step`` calls its ``acquire()``.
    The markers outlet is named ``<name>-markers`` with source_id ``<source_id>-markers``, which
    :class:`StreamLSL` pairs automatically.
    """

    def __init__(
        self,
        stream: Stream,
        name: str | None = None,
        *,
        stype: str = "EEG",
        source_id: str | None = None,
        eeg_unit: Literal["microvolts", "V"] = "microvolts",
        interval: float = 0.01,
        markers: bool = True,
    ) -> None:
        if eeg_unit not in ("microvolts", "V"):
            raise StreamError(f"eeg_unit must be 'microvolts' or 'V', got {eeg_unit!r}")
        self.stream = stream
        self._name = name
        self.stype = stype
        self._source_id = source_id
        self.eeg_unit = eeg_unit
        self.interval = float(interval)
        self.with_markers = markers
        self.outlet = None
        self.marker_outlet = None
        self.n_pushed = 0
        self.n_markers_pushed = 0
        self.n_lost = 0
        self.error: BaseException | None = None
        self._index = 0
        self._marker_cursor = 0
        self._scale: np.ndarray | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.done = threading.Event()

    @property
    def name(self) -> str:
        return self._name or self.stream.info.name

    @property
    def source_id(self) -> str:
        return self._source_id or f"bci-app-{self.name}"

    def open(self) -> LslPlayer:
        """Create the outlets (connects the source first if needed)."""
        if self.outlet is not None:
            return self
        configure_lsl()
        import pylsl

        if not self.stream.connected:
            self.stream.connect()
        info = self.stream.info
        factor = MICROVOLTS_PER_VOLT if self.eeg_unit == MICROVOLTS else 1.0
        volt = [u == "V" and t in VOLTAGE_TYPES for u, t in zip(info.units, info.ch_types)]
        self._scale = np.array([factor if v else 1.0 for v in volt])
        units = [self.eeg_unit if v else (u or "") for v, u in zip(volt, info.units)]
        lsl_info = pylsl.StreamInfo(self.name, self.stype, info.n_chans, info.sfreq, "float32", self.source_id)
        lsl_info.set_channel_labels(list(info.ch_names))
        lsl_info.set_channel_types([t.upper() if t in VOLTAGE_TYPES else t for t in info.ch_types])
        lsl_info.set_channel_units(units)
        lsl_info.desc().append_child_value("manufacturer", "bci-app")
        self.outlet = pylsl.StreamOutlet(lsl_info, chunk_size=0, max_buffered=int(max(30, self.stream.bufsize)))
        if self.with_markers:
            m_info = pylsl.StreamInfo(f"{self.name}-markers", "Markers", 1, pylsl.IRREGULAR_RATE, "string",
                                      f"{self.source_id}-markers")
            self.marker_outlet = pylsl.StreamOutlet(m_info)
        self._index = self.stream.buffer.n_written  # publish from now on
        self._marker_cursor = self.stream.n_markers
        return self

    def wait_for_consumers(self, timeout: float) -> bool:
        """Block until an inlet is connected to the EEG outlet (``True``) or ``timeout`` s pass,
        then up to 1 s more for an inlet on the markers outlet."""
        self.open()
        found = bool(self.outlet.wait_for_consumers(timeout))
        if found and self.marker_outlet is not None:
            self.marker_outlet.wait_for_consumers(min(timeout, 1.0))  # its markers inlet, if any
        return found

    @property
    def finished(self) -> bool:
        """``True`` once a finite source (file) has ended and everything was pushed."""
        return bool(getattr(self.stream, "finished", False)) and self._index >= self.stream.buffer.n_written

    def step(self) -> int:
        """Acquire (when the source has no thread) and push what is new. Returns samples pushed."""
        self.open()
        if self.stream.acquisition_delay is None:
            self.stream.acquire()
        res = self.stream.read_since(self._index)
        if res.n_lost:
            self.n_lost += res.n_lost
            log.warning("LslPlayer %r: %d samples overwritten before they were published", self.name, res.n_lost)
        self._index = res.next_index
        n = res.data.shape[1]
        if n:
            chunk = np.ascontiguousarray((res.data * self._scale[:, None]).T, dtype=np.float32)
            self.outlet.push_chunk(chunk, res.timestamps.tolist())
            self.n_pushed += n
        if self.marker_outlet is not None:
            new = self.stream.get_markers(self._marker_cursor)
            self._marker_cursor += len(new)
            for marker in new:
                self.marker_outlet.push_sample([marker.value], marker.timestamp)
            self.n_markers_pushed += len(new)
        if self.finished:
            self.done.set()
        return n

    def start(self, wait_for_consumers: float | None = None) -> LslPlayer:
        """Publish from a background thread; optionally wait first for an inlet (``timeout`` s)."""
        self.open()
        if wait_for_consumers:
            self.wait_for_consumers(wait_for_consumers)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"lsl-player-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        next_t = time.monotonic()
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as exc:  # noqa: BLE001 - reported through .error and the log
                log.exception("LslPlayer %r stopped", self.name)
                self.error = exc
                self.done.set()
                return
            if self.done.is_set():
                return
            next_t += self.interval
            delay = next_t - time.monotonic()
            if delay < 0:
                next_t = time.monotonic()
                delay = 0
            self._stop.wait(delay)

    def halt(self) -> None:
        """Stop publishing but keep the outlets open, so consumers still get what was pushed and
        ``n_pushed`` is final. Safe to call twice; :meth:`start` publishes again."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        self._thread = None

    def stop(self) -> None:
        """Stop the thread and close the outlets (the source stays connected). Safe to call twice."""
        self.halt()
        self.outlet = None
        self.marker_outlet = None

    def __enter__(self) -> LslPlayer:
        return self.open()

    def __exit__(self, *exc_info) -> None:
        self.stop()
