"""Read a whole recording into memory: one EEG stream plus its markers on one time base.

EDF/BDF/GDF/FIF go through MNE readers (annotations become markers), XDF through pyxdf (the EEG
stream with the most channels, or the one named, plus every ``Markers`` stream).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from bci_app.errors import RecordingError
from bci_app.types import Marker, Recording
from bci_app.units import volt_scale

MNE_SUFFIXES = {".edf": "edf", ".bdf": "bdf", ".gdf": "gdf", ".fif": "fif"}
SUPPORTED_SUFFIXES = (*MNE_SUFFIXES, ".xdf")


def _check_path(path: Path) -> str:
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
    suffix = _check_path(path)
    if suffix == ".xdf":
        return _read_xdf(path, stream_name)
    return _read_mne(path, MNE_SUFFIXES[suffix])


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
    except (ValueError, OSError, RuntimeError, KeyError, IndexError) as exc:
        raise RecordingError(f"cannot read {kind.upper()} file {path}: {exc}") from exc
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


def _read_xdf(path: Path, stream_name: str | None) -> Recording:
    import pyxdf

    try:
        streams, _header = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    except Exception as exc:  # noqa: BLE001 - pyxdf raises many types on corrupt files
        raise RecordingError(f"cannot read XDF file {path}: {type(exc).__name__}: {exc}") from exc

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
    eeg = [s for s in signal if _type(s) == "eeg"] or signal
    if not eeg:
        found = ", ".join(f"{_name(s)} ({_type(s)})" for s in streams) or "none"
        wanted = f"named {stream_name!r}" if stream_name else "of type EEG"
        raise RecordingError(f"{path} holds no signal stream {wanted}; streams found: {found}")
    stream = max(eeg, key=lambda s: int(s["info"]["channel_count"][0]))
    samples = np.asarray(stream["time_series"], dtype=np.float64)
    n_chans = int(stream["info"]["channel_count"][0])
    if samples.size == 0:
        samples = np.zeros((0, n_chans))
    names, types, units = _xdf_channel_labels(stream, n_chans)
    scale = np.array([volt_scale(u) or 1.0 for u in units])  # non-voltage channels (stim, misc) as stored
    data = samples.T * scale[:, None]
    nominal = float(stream["info"]["nominal_srate"][0])
    timestamps = np.asarray(stream["time_stamps"], dtype=np.float64)
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


def keep_channels(recording: Recording, names: Sequence[str]) -> Recording:
    """``recording`` with only the channels ``names`` (10-10 names; case, dots and spaces ignored), in
    that order: as if the headset had only those. Raises :class:`RecordingError` naming the channels
    the recording lacks."""
    from bci_app.signal.channels import match_channels

    names = [str(n).strip() for n in names if str(n).strip()]
    if not names:
        raise RecordingError("--channels names no channel; give comma-separated 10-10 names, e.g. C3,Cz,C4")
    idx = match_channels(recording.ch_names, names, error=RecordingError, source=recording.path.name)
    return replace(recording, data=recording.data[idx], ch_names=tuple(names),
                   ch_types=tuple(recording.ch_types[i] for i in idx), units=tuple(recording.units[i] for i in idx))


def parse_channel_list(text: str) -> list[str]:
    """``"Fp1, Fp2,C3"`` -> ``["Fp1", "Fp2", "C3"]`` (the ``--channels`` argument)."""
    return [c.strip() for c in str(text).split(",") if c.strip()]
