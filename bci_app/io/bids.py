"""Export a session's recordings to BIDS (EEG) with MNE-BIDS; the XDF stays the source of truth.

``export_bids(source, bids_root)``: ``source`` is a session folder (every ``*.xdf`` in it, one BIDS run
each, in the order they were written) or one recording file (XDF, EDF, BDF, GDF, FIF). Per recording:

- the EEG in BrainVision format (``sub-<s>_ses-<n>_task-<t>_run-<r>_eeg.vhdr``), samples in volts, in
  the recording's order with gaps closed up (sample times live in the XDF);
- ``events.tsv``: every marker as an event at its time from the first sample; cue codes become the
  class names (``left_hand`` ...; GDF 769-772 by default, ``events`` for other markers), the other GDF
  codes their meaning (``trial_start``, ``feedback_onset``, ``end_of_trial``, ``rejected``); the
  decoder's own decisions (``pred:...``) are left out (they are the XDF's prediction record);
- ``channels.tsv``: type per channel from the recording's channel types (EEG, EOG, EMG, ECG, MISC),
  and ``status`` ``bad`` for the channels the calibration repaired (``repaired_channels`` of the
  session folder's ``adapter.json``), with that reason;
- ``participants.tsv`` and ``dataset_description.json`` (MNE-BIDS).

Labels default to the session folder layout (``<participant>/<YYYY-MM-DD_HHMMSS>/``): subject = the
participant ID, session = the date and time, both reduced to letters and digits as BIDS wants; a file
outside a session folder needs ``subject``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bci_app.errors import RecordingError
from bci_app.types import GAP_MARKER, Recording
from bci_app.vocabulary import CUE_CODES, END_OF_TRIAL, FEEDBACK_ONSET, REJECTED, TRIAL_START

log = logging.getLogger(__name__)

__all__ = ["BidsExport", "export_bids", "bids_label", "repaired_channels", "session_recordings"]

ADAPTER_JSON = "adapter.json"
#: the GDF codes that are not cues, by what they mean (events.tsv trial_type)
GDF_EVENT_NAMES = {str(TRIAL_START): "trial_start", str(FEEDBACK_ONSET): "feedback_onset",
                   str(END_OF_TRIAL): "end_of_trial", str(REJECTED): "rejected"}
#: recording channel types -> MNE channel types (BIDS EEG, EOG, EMG, ECG, MISC); anything else is misc
_MNE_TYPES = {"eeg": "eeg", "eog": "eog", "emg": "emg", "ecg": "ecg"}
_RECORDING_SUFFIXES = (".xdf", ".edf", ".bdf", ".gdf", ".fif")
#: a session folder's name (:class:`bci_app.io.participant.SessionFolder`)
_SESSION_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}_\d{6}(-\d+)?$")


@dataclass(frozen=True)
class BidsExport:
    """What :func:`export_bids` wrote: the BIDS root, one ``.vhdr`` per recording (its BIDSPath), and
    the channels marked bad."""

    bids_root: Path
    subject: str
    session: str | None
    task: str
    files: list[Path] = field(default_factory=list)
    bids_paths: list[Any] = field(default_factory=list, repr=False)
    bad_channels: list[str] = field(default_factory=list)


def bids_label(text: str, what: str) -> str:
    """``text`` reduced to the letters and digits a BIDS label allows; RecordingError when none remain."""
    label = re.sub(r"[^A-Za-z0-9]", "", str(text))
    if not label:
        raise RecordingError(f"{what} {text!r} has no letters or digits to make a BIDS label; give --{what} explicitly")
    return label


def session_recordings(source: str | Path) -> tuple[list[Path], Path]:
    """``(recordings to export, the folder holding them)`` of a session folder or one recording file.
    Raises RecordingError when there is nothing to export."""
    source = Path(source).expanduser()
    if source.is_dir():
        # in the order they were recorded (calibration.xdf, online.xdf, calibration-2.xdf ...)
        files = sorted((p for p in source.glob("*.xdf") if p.is_file()), key=lambda p: (p.stat().st_mtime, p.name))
        if not files:
            raise RecordingError(f"{source} holds no .xdf recording; give a session folder or a recording file")
        return files, source
    if not source.is_file():
        raise RecordingError(f"{source} does not exist; give a session folder or a recording file")
    if source.suffix.lower() not in _RECORDING_SUFFIXES:
        raise RecordingError(f"{source.name} is not a recording ({', '.join(_RECORDING_SUFFIXES)})")
    return [source], source.parent


def repaired_channels(folder: str | Path) -> list[str]:
    """Channels the session's calibration repaired (``repaired_channels`` of ``folder/adapter.json``);
    none when the folder has no adapter. RecordingError when the JSON is unreadable."""
    path = Path(folder) / ADAPTER_JSON
    if not path.is_file():
        return []
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RecordingError(f"cannot read {path}: {exc}; restore it or export without it (move it away)") from exc
    channels = info.get("repaired_channels", []) if isinstance(info, dict) else None
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise RecordingError(f"{path}: repaired_channels must be a list of channel names, got {channels!r}")
    return channels


def _event_name(value: str, events: Mapping[str, str]) -> str | None:
    """The events.tsv trial_type of a marker value, None for markers that are not exported."""
    value = value.strip()
    if value.startswith("pred:") or not value:
        return None
    if value in events:
        return events[value]
    if value == GAP_MARKER:
        return "BAD_gap"  # the source was away: MNE and BIDS readers skip BAD_ spans
    return GDF_EVENT_NAMES.get(value, value)


def to_raw(recording: Recording, *, events: Mapping[str, str] | None = None, bads: Sequence[str] = ()) -> Any:
    """The recording as an :class:`mne.io.RawArray` (volts, MNE channel types), markers as annotations
    named for events.tsv, ``bads`` (matched by name, case and dots ignored) in ``info['bads']``."""
    import mne
    import numpy as np

    from bci_app.vocabulary import normalize_ch_name

    if recording.n_times == 0:
        raise RecordingError(f"{recording.path} holds no samples to export")
    cues = {str(code): cls for cls, code in CUE_CODES.items()}
    cues.update(events or {})
    types = [_MNE_TYPES.get(t.lower(), "misc") for t in recording.ch_types]
    info = mne.create_info(list(recording.ch_names), recording.sfreq, types)
    raw = mne.io.RawArray(np.asarray(recording.data, dtype=np.float64), info, verbose="error")
    onsets, durations, names = [], [], []
    for m in recording.markers:
        name = _event_name(m.value, cues)
        if name is None:
            continue
        # times inside the exported samples: the sample nearest the marker (gaps are closed up)
        k = int(np.clip(np.searchsorted(recording.timestamps, m.timestamp), 0, recording.n_times - 1))
        onsets.append(k / recording.sfreq)
        durations.append(float(m.duration))
        names.append(name)
    if m_out := len(recording.markers) - len(names):
        log.info("%s: %d marker(s) left out of events.tsv (decoder decisions)", recording.path.name, m_out)
    raw.set_annotations(mne.Annotations(onsets, durations, names, orig_time=None))
    by_norm = {normalize_ch_name(c): c for c in recording.ch_names}
    raw.info["bads"] = [by_norm[normalize_ch_name(b)] for b in bads if normalize_ch_name(b) in by_norm]
    return raw


def export_bids(source: str | Path, bids_root: str | Path, *, subject: str | None = None, session: str | None = None,
                task: str = "motorimagery",
                events: Mapping[str, str] | Callable[[Path], Mapping[str, str]] | None = None,
                overwrite: bool = False, progress: Callable[[int, int, Path], None] | None = None) -> BidsExport:
    """Write ``source`` (a session folder or one recording file) under ``bids_root`` (module doc).

    ``events``: marker value -> class name for cues other than GDF 769-772 (e.g. EEGMMIDB ``T1``), or a
    function of the recording's path giving it (a dataset preset whose labels depend on the run).
    ``progress(done, total, path)`` is called before each recording (``done`` written so far) and once
    at the end (``done == total``). Returns what was written; raises RecordingError naming what is
    missing or unreadable.
    """
    import mne_bids

    from bci_app import __version__
    from bci_app.io.recording import read_recording

    files, folder = session_recordings(source)
    in_session = bool(_SESSION_FOLDER.match(folder.name))
    if subject is None and not in_session:
        raise RecordingError(f"{folder} is not a session folder (<participant>/<YYYY-MM-DD_HHMMSS>); give --subject")
    subject = bids_label(subject if subject is not None else folder.parent.name, "subject")
    if session is not None:
        session = bids_label(session, "session")
    elif in_session:
        session = bids_label(folder.name, "session")
    task = bids_label(task, "task")
    bads = repaired_channels(folder)
    out = BidsExport(Path(bids_root), subject, session, task, bad_channels=list(bads))
    for run, path in enumerate(files, start=1):
        if progress is not None:
            progress(run - 1, len(files), path)
        recording = read_recording(path)
        raw = to_raw(recording, events=events(path) if callable(events) else events, bads=bads)
        bids_path = mne_bids.BIDSPath(subject=subject, session=session, task=task,
                                      run=run if len(files) > 1 else None, datatype="eeg", root=bids_root)
        mne_bids.write_raw_bids(raw, bids_path, format="BrainVision", allow_preload=True, overwrite=overwrite,
                                verbose="error")
        # MNE-BIDS names the BrainVision writer's maker; the headset's is not known from the recording
        mne_bids.update_sidecar_json(bids_path.copy().update(suffix="eeg", extension=".json"),
                                     {"Manufacturer": "n/a", "SoftwareVersions": f"bci-app {__version__}"},
                                     verbose="error")
        if raw.info["bads"]:
            mne_bids.mark_channels(bids_path, ch_names=raw.info["bads"], status="bad",
                                   descriptions="repaired (interpolated) by the calibration", verbose="error")
        out.files.append(bids_path.fpath)
        out.bids_paths.append(bids_path)
        log.info("BIDS: %s -> %s", path.name, bids_path.fpath)
    if progress is not None:
        progress(len(files), len(files), files[-1])
    return out
