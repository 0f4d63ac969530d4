"""Read a whole recording into memory: one EEG stream plus its markers on one time base.

EDF/BDF/GDF/FIF go through MNE readers (annotations become markers), XDF through pyxdf (the EEG
stream with the most channels, or the one named, plus every ``Markers`` stream).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bci_app.errors import ProcessError, RecordingError
from bci_app.types import Marker, Recording
from bci_app.units import volt_scale

if TYPE_CHECKING:
    from bci_app.signal.channels import ChannelMap

log = logging.getLogger(__name__)

MNE_SUFFIXES = {".edf": "edf", ".bdf": "bdf", ".gdf": "gdf", ".fif": "fif"}
SUPPORTED_SUFFIXES = (*MNE_SUFFIXES, ".xdf")
#: the longest :func:`read_recording_apart` waits for its process (s): a long session's XDF reads in seconds
READ_APART_TIMEOUT_S = 300.0


def check_recording_path(path: Path) -> str:
    """The suffix of an existing recording file of a supported format (else :class:`RecordingError`)."""
    if not path.exists():
        raise RecordingError(f"recording not found: {path}")
    if not path.is_file():
        raise RecordingError(f"not a file: {path}")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise RecordingError(
            f"unsupported recording format {suffix!r} for {path}; expected one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    return suffix


def read_recording(path: str | Path, *, stream_name: str | None = None) -> Recording:
    """Read ``path`` (EDF/BDF/GDF/FIF/XDF) into a :class:`Recording`.

    Raises :class:`RecordingError` when the file is missing, of an unknown format, unreadable or
    holds no EEG stream.
    """
    path = Path(path)
    suffix = check_recording_path(path)
    rec = _read_xdf(path, stream_name) if suffix == ".xdf" else _read_mne(path, MNE_SUFFIXES[suffix])
    return _checked(rec)


def read_recording_apart(path: str | Path, *, timeout: float = READ_APART_TIMEOUT_S) -> Recording:
    """:func:`read_recording` in a process of its own (:mod:`bci_app.io.worker`): the same recording,
    while the app's interpreter stays free (pyxdf parses samples and fits clocks in Python: on a
    thread of the app it held the window's timer for tens of ms). Raises :class:`RecordingError`."""
    from bci_app.io.worker import run_in_process  # the subprocess machinery, only when asked for

    try:
        return run_in_process(f"{__name__}:read_recording", {"path": Path(path).resolve()}, timeout=timeout)
    except ProcessError as exc:
        log.debug("reading %s in its own process failed: %s", path, exc.details)
        if exc.kind == RecordingError.__name__:  # the reader's own words, as read here
            raise RecordingError(exc.reason) from exc
        raise RecordingError(f"cannot read {path}: {exc}") from exc


def _checked(rec: Recording) -> Recording:
    """Physics of what was read: a finite sampling rate in (0, MAX_SFREQ_HZ], as many timestamps
    as samples, at least one sample."""
    from bci_app.config import MAX_SFREQ_HZ

    if not (np.isfinite(rec.sfreq) and 0 < rec.sfreq <= MAX_SFREQ_HZ):
        raise RecordingError(f"{rec.path}: sampling rate {rec.sfreq!r} Hz is outside (0, {MAX_SFREQ_HZ:g}] Hz; "
                             "the file's header is corrupt")
    if rec.n_times == 0:
        raise RecordingError(f"{rec.path} is too short: it holds no samples")
    if len(rec.timestamps) != rec.n_times:
        raise RecordingError(f"{rec.path}: {len(rec.timestamps)} timestamps for {rec.n_times} samples; the file is corrupt")
    return rec


def _read_mne(path: Path, kind: str) -> Recording:
    import mne

    readers = {
        "edf": mne.io.read_raw_edf,
        "bdf": mne.io.read_raw_bdf,
        "gdf": mne.io.read_raw_gdf,
        "fif": mne.io.read_raw_fif,
    }
    try:
        raw = readers[kind](path, preload=True, verbose="error")
    except (ValueError, OSError, RuntimeError, KeyError, IndexError, AssertionError) as exc:
        # MNE's EDF reader asserts on a header whose byte count contradicts itself
        reason = str(exc) or f"its header contradicts itself ({type(exc).__name__})"
        raise RecordingError(f"cannot read {kind.upper()} file {path}: {reason}") from exc
    if kind in ("edf", "bdf"):
        _warn_truncated_edf(path, raw.n_times / float(raw.info["sfreq"]))
    picks = mne.pick_types(raw.info, eeg=True, eog=True, emg=True, ecg=True, misc=True, exclude=())
    if len(picks) == 0:
        raise RecordingError(f"{path} holds no EEG channels")
    data = raw.get_data(picks=picks)
    sfreq = float(raw.info["sfreq"])
    timestamps = np.arange(data.shape[1]) / sfreq
    ch_names = tuple(raw.ch_names[i] for i in picks)
    ch_types = tuple(raw.get_channel_types(picks=picks))
    # Annotations anchored to the measurement date count from it, and a cropped FIF file's first
    # sample lies ``first_time`` after it; our timestamps count from the first sample.
    offset = raw.first_time if raw.annotations.orig_time is not None else 0.0
    markers = tuple(
        Marker(float(onset) - offset, str(desc), float(duration))
        for onset, duration, desc in zip(
            raw.annotations.onset, raw.annotations.duration, raw.annotations.description
        )
    )
    return Recording(
        path=path,
        data=data,
        timestamps=timestamps,
        sfreq=sfreq,
        ch_names=ch_names,
        ch_types=ch_types,
        units=tuple("V" for _ in ch_names),
        markers=markers,
    )


def edf_header_seconds(path: Path) -> float | None:
    """Seconds of signal an EDF/BDF header promises (records x record duration), None when the
    header does not say (-1 records: an unfinished recording) or is unreadable."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
        n_records, record_s = int(head[236:244].decode("ascii").strip()), float(head[244:252].decode("ascii").strip())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return n_records * record_s if n_records > 0 and record_s > 0 else None


def _warn_truncated_edf(path: Path, found_s: float) -> None:
    expected = edf_header_seconds(path)
    if expected is not None and found_s < expected - 1e-6:
        log.warning("%s is truncated: its header promises %.1f s, the file holds %.1f s; using the %.1f s present",
                    path, expected, found_s, found_s)


def _warn_time_going_back(path: Path, timestamps: np.ndarray) -> None:
    steps = np.diff(timestamps)
    back = steps < 0
    if back.any():
        i = int(np.argmin(steps))
        log.warning("%s: timestamps go backwards %d time(s), by up to %.3f s (sample %d, at %.3f s); "
                    "the clock of the recording was reset or the file was spliced", path, int(back.sum()),
                    -float(steps[i]), i + 1, float(timestamps[i + 1] - timestamps[0]))


class _Collect(logging.Handler):
    """Collects a library's log records (pyxdf logs tracebacks for damaged chunks)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _xdf_channel_labels(stream: dict, n_chans: int) -> tuple[list[str], list[str], list[str]]:
    names, types, units = [], [], []
    try:
        channels = stream["info"]["desc"][0]["channels"][0]["channel"]
    except (KeyError, IndexError, TypeError):
        channels = []
    for i in range(n_chans):
        ch = channels[i] if i < len(channels) and isinstance(channels[i], dict) else {}
        names.append((ch.get("label") or [f"ch{i + 1}"])[0] or f"ch{i + 1}")
        types.append(((ch.get("type") or ["eeg"])[0] or "eeg").lower())
        units.append((ch.get("unit") or ["V"])[0] or "V")
    return names, types, units


def _stream_problem(stream: dict) -> str | None:
    """Why a signal stream of an XDF file holds no usable EEG (no samples, no finite value, every channel
    constant), or None."""
    samples = np.asarray(stream["time_series"], dtype=np.float64)
    if samples.size == 0:
        return "no samples"
    finite = np.isfinite(samples)
    if not finite.any():
        return "only NaN/Inf values"
    values = np.where(finite, samples, np.nan)
    if np.all(np.nanmax(values, axis=0) == np.nanmin(values, axis=0)):
        return "every channel constant (flat)"
    return None


def _choose_stream(path: Path, candidates: list[dict]) -> dict:
    """The EEG stream of a file holding several: the usable ones (:func:`_stream_problem`) with the most
    channels, named in a WARNING with why the others were left; RecordingError naming them all when
    none is usable or several usable ones are of the same size (which is the headset is unknowable)."""
    if len(candidates) == 1:
        return candidates[0]

    def describe(s: dict) -> str:
        return f"{s['info']['name'][0]!r} ({int(s['info']['channel_count'][0])} ch)"

    problems = {id(s): _stream_problem(s) for s in candidates}
    usable = [s for s in candidates if problems[id(s)] is None]
    listing = "; ".join(f"{describe(s)}: {problems[id(s)] or 'usable'}" for s in candidates)
    if not usable:
        raise RecordingError(f"{path} holds {len(candidates)} EEG streams and none is usable: {listing}")
    most = max(int(s["info"]["channel_count"][0]) for s in usable)
    widest = [s for s in usable if int(s["info"]["channel_count"][0]) == most]
    if len(widest) > 1:
        raise RecordingError(f"{path} holds {len(widest)} usable EEG streams of {most} channels ({listing}); "
                             "bci-app cannot tell which is the headset: keep one EEG stream per recording")
    log.warning("%s holds %d EEG streams; using %s (%s)", path, len(candidates), describe(widest[0]), listing)
    return widest[0]


def _read_xdf(path: Path, stream_name: str | None) -> Recording:
    import pyxdf

    pyxdf_log = logging.getLogger("pyxdf")
    collect, propagate = _Collect(), pyxdf_log.propagate
    pyxdf_log.addHandler(collect)
    pyxdf_log.propagate = False  # its tracebacks for damaged chunks become one warning below
    try:
        streams, _header = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    except Exception as exc:  # noqa: BLE001 - pyxdf raises many types on corrupt files
        raise RecordingError(f"cannot read XDF file {path}: {type(exc).__name__}: {exc}") from exc
    finally:
        pyxdf_log.removeHandler(collect)
        pyxdf_log.propagate = propagate
    if collect.messages:
        log.warning("%s is damaged: %s; reading what is intact", path, "; ".join(dict.fromkeys(collect.messages)))

    def _name(s: dict) -> str:
        return s["info"]["name"][0]

    def _type(s: dict) -> str:
        return (s["info"]["type"][0] or "").lower()

    signal = [
        s for s in streams if _type(s) != "markers" and s["info"]["channel_format"][0] != "string"
        and int(s["info"]["channel_count"][0]) > 0
    ]
    if stream_name is not None:
        signal = [s for s in signal if _name(s) == stream_name]
    eeg = [s for s in signal if _type(s) == "eeg"]
    if not eeg and signal:  # no stream says EEG: the widest signal stream
        eeg = [max(signal, key=lambda s: int(s["info"]["channel_count"][0]))]
    if not eeg:
        found = ", ".join(f"{_name(s)} ({_type(s)})" for s in streams) or "none"
        wanted = f"named {stream_name!r}" if stream_name else "of type EEG"
        raise RecordingError(f"{path} holds no signal stream {wanted}; streams found: {found}")
    stream = _choose_stream(path, eeg)
    samples = np.asarray(stream["time_series"], dtype=np.float64)
    n_chans = int(stream["info"]["channel_count"][0])
    if samples.size == 0:
        samples = np.zeros((0, n_chans))
    names, types, units = _xdf_channel_labels(stream, n_chans)
    scale = np.array([volt_scale(u) or 1.0 for u in units])  # non-voltage channels (stim, misc) as stored
    data = samples.T * scale[:, None]
    nominal = float(stream["info"]["nominal_srate"][0])
    timestamps = np.asarray(stream["time_stamps"], dtype=np.float64)
    _warn_time_going_back(path, timestamps)
    if nominal <= 0 and len(timestamps) < 2:
        raise RecordingError(f"{path}: the stream {_name(stream)!r} has an irregular rate and {len(timestamps)} "
                             "sample(s); its sampling rate cannot be known, so it cannot be used as EEG")
    sfreq = nominal if nominal > 0 else (len(timestamps) - 1) / max(timestamps[-1] - timestamps[0], 1e-9)
    markers: list[Marker] = []
    extra: dict[str, dict] = {}
    for s in streams:
        if s is stream:
            continue
        if _type(s) == "markers" or s["info"]["channel_format"][0] == "string":
            for ts, value in zip(s["time_stamps"], s["time_series"]):
                markers.append(Marker(float(ts), str(value[0] if len(value) else "")))
        else:
            extra[_name(s)] = s
    markers.sort(key=lambda m: m.timestamp)
    return Recording(
        path=path,
        data=data,
        timestamps=timestamps,
        sfreq=sfreq,
        ch_names=tuple(names),
        ch_types=tuple(types),
        units=tuple("V" if volt_scale(u) else u for u in units),
        markers=tuple(markers),
        extra_streams=extra,
    )


def map_channels(recording: Recording, channel_map: ChannelMap | Sequence[str]) -> Recording:
    """``recording`` with ``channel_map`` applied: listed channels renamed to their position (or typed
    ``eog``/``emg``/... and kept out of the model input). With ``channel_map.only_listed`` (the
    ``--channels`` option; a plain list of names means that too) only the listed channels remain, in
    the map's order, as if the headset had only those. Raises :class:`RecordingError` naming channels
    the recording lacks."""
    from bci_app.signal.channels import ChannelMap

    if not isinstance(channel_map, ChannelMap):
        channel_map = ChannelMap(tuple((str(n), str(n)) for n in channel_map), only_listed=True)
    names, types, listed = channel_map.apply(recording.ch_names, recording.ch_types, source=recording.path.name,
                                             error=RecordingError)
    idx = listed if channel_map.only_listed else list(range(len(names)))
    return replace(recording, data=recording.data[idx], ch_names=tuple(names[i] for i in idx),
                   ch_types=tuple(types[i] for i in idx), units=tuple(recording.units[i] for i in idx))
