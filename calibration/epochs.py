"""Epochs relative to cues, from recordings, through dataset presets
(:mod:`bci_app.io.dataset_presets`: which marker value means which class).

- :func:`extract_epochs`: raw epochs (volts, all channels or the ones asked) for inspection,
  baselines (CSP, tangent space) and artifact counts.
- :func:`epochs_for_model`: what training uses — the recording goes through the shared streaming
  preprocessing (:func:`bci_app.signal.preprocess.preprocess_recording`), windows are cut at the
  cues and finalized with :func:`~bci_app.signal.preprocess.finalize_window`, exactly like the
  online decoder's input.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from bci_app.config import PreprocessingConfig
from bci_app.errors import CalibrationError
from bci_app.io.dataset_presets import DatasetPreset, load_dataset_preset, preset_for
from bci_app.signal.channels import match_channels
from bci_app.signal.filters import StreamingBandpass
from bci_app.signal.preprocess import (
    PreprocessingSpec,
    cut_windows,
    finalize_windows,
    preprocess_recording,
    reject_artifacts,
)
from bci_app.types import GAP_MARKER, Recording

log = logging.getLogger(__name__)

NON_CUE_MARKERS = (GAP_MARKER,)
"""Marker values the app writes itself that are never cues (a lost source's gap)."""
NON_CUE_PREFIXES = ("pred:",)
"""Prefixes of marker values the app writes itself (decided labels)."""


@dataclass(frozen=True)
class Epochs:
    """Trials cut at cues: the one trial type of calibration, its report and the benchmarks.

    data: (n_trials, n_chans, n_times) float64 volts (:func:`extract_epochs`) or float32 model input
    (:func:`epochs_for_model`). labels: (n_trials,) int indices into ``classes``. onsets: cue times
    (s, recording time base). rejected: (n_trials,) bool; reasons: text per trial or None. tmin: s
    after the cue where each trial starts. source: (n_trials,) int, the recording each trial is from
    (:meth:`concatenate`'s part index; None: one recording).
    """

    data: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    onsets: np.ndarray
    ch_names: tuple[str, ...]
    sfreq: float
    rejected: np.ndarray
    reasons: tuple[str | None, ...]
    tmin: float = 0.0
    source: np.ndarray | None = None

    @property
    def n_trials(self) -> int:
        return int(self.data.shape[0])

    @property
    def tmax(self) -> float:
        """End of each trial (s after the cue)."""
        return self.tmin + self.data.shape[2] / self.sfreq

    def take(self, mask: np.ndarray) -> Epochs:
        """The trials where ``mask`` (n_trials,) bool is True."""
        mask = np.asarray(mask, dtype=bool)
        return replace(self, data=self.data[mask], labels=self.labels[mask], onsets=self.onsets[mask],
                       rejected=self.rejected[mask], reasons=tuple(r for r, k in zip(self.reasons, mask) if k),
                       source=None if self.source is None else self.source[mask])

    def clean(self) -> Epochs:
        """Only the trials not rejected."""
        return self.take(~self.rejected)

    def of_classes(self, classes: Sequence[str]) -> Epochs:
        """Only the trials of ``classes``, labelled by their index in ``classes`` (in that order)."""
        classes = tuple(classes)
        mine = np.isin(np.asarray(self.classes)[self.labels], classes) if self.n_trials else np.zeros(0, bool)
        kept = self.take(mine)
        labels = np.array([classes.index(self.classes[i]) for i in kept.labels], dtype=np.int64)
        return replace(kept, labels=labels, classes=classes)

    @staticmethod
    def concatenate(parts: Sequence[Epochs]) -> Epochs:
        """The trials of ``parts`` in order (same classes, channels, rate and ``tmin``); ``source`` is each
        trial's part index. Raises :class:`CalibrationError` for no parts or parts that differ."""
        if not parts:
            raise CalibrationError("no epochs to put together")
        first = parts[0]
        for p in parts[1:]:
            if (p.classes, p.ch_names, p.sfreq, p.tmin) != (first.classes, first.ch_names, first.sfreq, first.tmin):
                raise CalibrationError("epochs of different classes, channels, rate or start cannot be put together: "
                                       f"{first.classes}/{len(first.ch_names)} ch/{first.sfreq:g} Hz/{first.tmin:g} s and "
                                       f"{p.classes}/{len(p.ch_names)} ch/{p.sfreq:g} Hz/{p.tmin:g} s")
        return replace(first, data=np.concatenate([p.data for p in parts]),
                       labels=np.concatenate([p.labels for p in parts]).astype(np.int64),
                       onsets=np.concatenate([p.onsets for p in parts]),
                       rejected=np.concatenate([p.rejected for p in parts]),
                       reasons=tuple(r for p in parts for r in p.reasons),
                       source=np.concatenate([np.full(p.n_trials, i, dtype=np.int64) for i, p in enumerate(parts)]))

    def counts(self) -> dict[str, dict[str, int]]:
        """Per class: ``{"total": n, "rejected": r}``."""
        return {
            c: {
                "total": int((self.labels == i).sum()),
                "rejected": int(((self.labels == i) & self.rejected).sum()),
            }
            for i, c in enumerate(self.classes)
        }


def label_mapping(
    recording: Recording, preset: DatasetPreset | Mapping[str, str] | str | None
) -> tuple[dict[str, str], DatasetPreset | None]:
    """``({marker value: class}, the preset or None)`` of ``recording`` under ``preset`` (a preset, its
    name, a marker-to-class mapping, or None: the preset of the file's name, :func:`preset_for`)."""
    if preset is None:
        preset = preset_for(recording.path)
    if isinstance(preset, str):
        preset = load_dataset_preset(preset)
    if isinstance(preset, DatasetPreset):
        return preset.labels_for(recording.path), preset
    return dict(preset), None


def find_cues(
    recording: Recording,
    preset: DatasetPreset | Mapping[str, str] | str | None,
    classes: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], np.ndarray]:
    """Cue onsets (s), label indices, classes and a marked-rejected mask from the markers.

    ``classes`` fixes the label order and drops cues of other classes; by default the preset's
    classes for this file, in its order.
    """
    mapping, preset_obj = label_mapping(recording, preset)
    if classes is None:
        classes = tuple(dict.fromkeys(mapping.values()))
    classes = tuple(classes)
    unknown = set(classes) - set(mapping.values())
    if unknown:
        raise CalibrationError(
            f"{recording.path.name}: classes {sorted(unknown)} do not occur in its label mapping "
            f"{mapping}; choose among {sorted(set(mapping.values()))}"
        )
    markers = sorted(recording.markers, key=lambda m: m.timestamp)
    onsets, labels = [], []
    known = set(NON_CUE_MARKERS)
    if preset_obj is not None:
        known |= set(preset_obj.ignore) | {preset_obj.trial_start, preset_obj.rejected}
    unknown_codes: Counter[str] = Counter()
    for m in markers:
        value = m.value.strip()
        cls = mapping.get(value)
        if cls is not None and cls in classes:
            onsets.append(m.timestamp)
            labels.append(classes.index(cls))
        elif cls is None and value not in known and not value.startswith(NON_CUE_PREFIXES):
            unknown_codes[value] += 1
    if unknown_codes:
        source = ("the --events mapping " + ",".join(f"{k}={v}" for k, v in mapping.items())
                  if preset_obj is not None and preset_obj.name == "--events" else "this dataset preset")
        log.warning(
            "%s: ignored %d markers with codes that are not cues of %s: %s",
            recording.path.name, sum(unknown_codes.values()), source, dict(sorted(unknown_codes.items())),
        )
    onsets_a = np.asarray(onsets, dtype=np.float64)
    marked = np.zeros(len(onsets), dtype=bool)
    if preset_obj is not None and preset_obj.rejected is not None and len(onsets):
        rej_times = np.array([m.timestamp for m in markers if m.value.strip() == preset_obj.rejected])
        starts = np.array([m.timestamp for m in markers if m.value.strip() == preset_obj.trial_start])
        for i, t in enumerate(onsets_a):
            # the trial holding this cue: from its trial-start marker (or the cue) to the next one
            begin = starts[starts <= t].max() if (starts <= t).any() else t
            later = starts[starts > t]
            end = later.min() if later.size else np.inf
            marked[i] = bool(((rej_times >= begin) & (rej_times < end)).any())
    return onsets_a, np.asarray(labels, dtype=np.int64), classes, marked


def _check_enough(n_found: int, recording: Recording) -> None:
    if n_found == 0:
        raise CalibrationError(
            f"{recording.path.name}: no cue markers of the requested classes found "
            f"(markers present: {sorted({m.value for m in recording.markers}) or 'none'}); say which marker "
            "means which class with --events, e.g. --events T1=left_hand,T2=right_hand, or choose a --dataset"
        )


def _check_band(recording: Recording, config: PreprocessingConfig) -> None:
    """The configured band must lie below the Nyquist frequency of the recording's own rate."""
    nyquist = recording.sfreq / 2
    if not config.h_freq < nyquist:
        raise CalibrationError(
            f"preprocessing.h_freq = {config.h_freq:g} Hz is not below the Nyquist frequency of "
            f"{recording.path.name} ({recording.sfreq:g} Hz / 2 = {nyquist:g} Hz); lower preprocessing.h_freq"
        )


def _check_fit(recording: Recording, onsets: np.ndarray, ok: np.ndarray, tmin: float, tmax: float) -> None:
    """A file too short for any trial window is reported as too short, with the lengths."""
    if len(onsets) and not np.any(ok):
        raise CalibrationError(
            f"{recording.path.name} is too short: {recording.duration:.1f} s ({recording.n_times} samples at "
            f"{recording.sfreq:g} Hz), and no trial window [cue{tmin:+g} s, cue{tmax:+g} s] of its {len(onsets)} "
            f"cue(s) lies inside it; a calibration file needs whole trials of {tmax - tmin:g} s after each cue"
        )


def extract_epochs(
    recording: Recording,
    preset: DatasetPreset | Mapping[str, str] | str | None,
    tmin: float,
    tmax: float,
    *,
    classes: Sequence[str] | None = None,
    ch_names: Sequence[str] | None = None,
    config: PreprocessingConfig | None = None,
) -> Epochs:
    """Raw epochs [onset+tmin, onset+tmax) in volts, float64, for each cue mapped by ``preset``.

    ``ch_names``: channels to keep (matched by name), default all. Artifact rejection runs with
    ``config`` (default: the ``preprocessing`` defaults) on the same epochs band-passed causally with
    ``config``'s band; trials marked 1023 in the recording are rejected too. Cues whose window
    leaves the recording are dropped.
    """
    onsets, labels, classes_t, marked = find_cues(recording, preset, classes)
    _check_enough(len(onsets), recording)
    if ch_names is None:
        picks, names = list(range(len(recording.ch_names))), tuple(recording.ch_names)
    else:
        picks = match_channels(recording.ch_names, ch_names, source=recording.path.name, types=recording.ch_types)
        names = tuple(ch_names)
    config = config or PreprocessingConfig()
    _check_band(recording, config)
    n_times = int(round((tmax - tmin) * recording.sfreq))
    data = recording.data[picks]
    windows, ok = cut_windows(data, recording.timestamps, onsets, tmin, n_times, recording.sfreq)
    _check_fit(recording, onsets, ok, tmin, tmax)
    # rejection looks at the band-passed signal (as the model sees it), not at slow drifts
    band = StreamingBandpass(recording.sfreq, config.l_freq, config.h_freq, config.filter_order, len(picks))
    filtered, _ = cut_windows(band.process(data), recording.timestamps, onsets, tmin, n_times, recording.sfreq)
    keep, reasons = reject_artifacts(filtered, config, names)
    return _make_epochs(windows, labels[ok], classes_t, onsets[ok], names, recording.sfreq, keep, reasons, marked[ok],
                        tmin)


def _make_epochs(data, labels, classes, onsets, names, sfreq, keep, reasons, marked, tmin) -> Epochs:
    reasons = list(reasons)
    for i in np.nonzero(marked)[0]:
        reasons[i] = reasons[i] or "marked rejected (1023) during recording"
    rejected = ~np.asarray(keep, dtype=bool) | marked
    return Epochs(data, labels, tuple(classes), onsets, tuple(names), float(sfreq), rejected, tuple(reasons), float(tmin))


def epochs_for_model(
    recording: Recording,
    spec: PreprocessingSpec,
    classes: Sequence[str] | None,
    tmin: float,
    tmax: float,
    preset: DatasetPreset | Mapping[str, str] | str | None,
    *,
    config: PreprocessingConfig | None = None,
) -> Epochs:
    """Model-input epochs: shared streaming preprocessing over the whole recording, windows
    [onset+tmin, onset+tmax) at ``spec.sfreq`` finalized with ``spec`` → float32
    (n_trials, spec.n_chans, round((tmax-tmin)*spec.sfreq)).

    Artifact rejection runs on the band-passed windows (volts) before finalizing. To fit Euclidean
    alignment: call with a spec without alignment, ``R = fit_euclidean_alignment(ep.clean().data)``,
    then ``spec.with_alignment(R)`` and call again (or :func:`finalize_windows` again).
    """
    onsets, labels, classes_t, marked = find_cues(recording, preset, classes)
    _check_enough(len(onsets), recording)
    _check_band(recording, config or PreprocessingConfig())
    data, ts = preprocess_recording(recording, spec)
    n_times = int(round((tmax - tmin) * spec.sfreq))
    windows, ok = cut_windows(data, ts, onsets, tmin, n_times, spec.sfreq)
    _check_fit(recording, onsets, ok, tmin, tmax)
    keep, reasons = reject_artifacts(windows, config or PreprocessingConfig(), spec.ch_names)
    return _make_epochs(
        finalize_windows(windows, spec), labels[ok], classes_t, onsets[ok], spec.ch_names, spec.sfreq,
        keep, reasons, marked[ok], tmin,
    )


def decision_windows(recording: Recording, spec: PreprocessingSpec, onsets: np.ndarray, tmin: float, n_times: int,
                     offsets: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The windows the online decoder decides on after each cue: the shared preprocessing over the
    whole recording once, then for every onset (s) one window of ``n_times`` samples starting at
    ``onset + tmin + offset`` per offset, finalized with ``spec``. Returns ``(windows (n, k, n_chans,
    n_times) float32, fits (n, k) bool)``; a window that leaves the recording is zeros with ``fits`` False."""
    data, ts = preprocess_recording(recording, spec)
    onsets = np.asarray(onsets, dtype=np.float64)
    out = np.zeros((len(onsets), len(offsets), spec.n_chans, n_times), dtype=np.float32)
    fits = np.zeros((len(onsets), len(offsets)), dtype=bool)
    for j, off in enumerate(offsets):
        windows, ok = cut_windows(data, ts, onsets, tmin + off, n_times, spec.sfreq)
        if ok.any():
            out[ok, j] = finalize_windows(windows, spec)
        fits[:, j] = ok
    return out, fits
