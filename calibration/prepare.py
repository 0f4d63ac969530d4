"""Calibration data preparation: recordings -> the model-input trials a base is adapted on.

Steps (all through the shared preprocessing, so online decoding sees the same signal):

1. cue-locked windows of the base's classes (dataset preset per file, or forced);
2. **missing channels**: base channels the recordings lack (a headset with other electrodes) are
   interpolated from the present ones (spherical splines, at least 3 present), with the same fixed map;
3. **bad-channel repair**: a channel that breaks an artifact rule in at least
   ``preprocessing.bad_channel_fraction`` of the trials is interpolated from its neighbours
   (:mod:`bci_app.signal.repair`; the fixed linear map goes into the spec);
4. artifact rejection; when it would leave a class below ``finetune.min_trials_per_class``, the
   rejected trials of that class come back (least extreme first, never non-finite ones): rejection
   alone never refuses a calibration, it is reported instead;
5. Euclidean alignment fitted on the kept trials (unlabeled) when the base was pretrained with it.

The band-pass, filter order and scale are the base's (its JSON): an adapter must see what the base was
trained on. The config's ``preprocessing.l_freq``/``h_freq``/``filter_order``/``scale`` state what
the user expects them to be; a base trained otherwise is refused (:func:`check_base_preprocessing`).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from bci_app.errors import CalibrationError, ConfigError
from bci_app.io.recording import read_recording
from bci_app.models.pretrained import load_base_model
from bci_app.signal.preprocess import PreprocessingSpec, fit_euclidean_alignment, summarize_rejections
from bci_app.signal.quality import dead_recording
from bci_app.signal.repair import find_bad_channels, interpolation_matrix
from bci_app.types import Recording
from bci_app.units import MICROVOLTS_PER_VOLT
from bci_app.vocabulary import is_model_input, normalize_ch_name, window_tmin
from calibration.epochs import Epochs, decision_windows, epochs_for_model, find_cues, label_mapping

logger = logging.getLogger(__name__)

__all__ = ["CalibrationData", "prepare_calibration", "rejection_advice", "cue_trials", "check_base_preprocessing",
           "window_offsets", "decision_trials", "cued_classes"]

#: the preprocessing a base fixes for every adapter of it, as the config names it
BASE_PREPROCESSING_KEYS = ("l_freq", "h_freq", "filter_order", "scale")

_PEAK = re.compile(r"^amplitude \([^:]+: (?P<uv>[0-9.]+) µV\)$")


@dataclass(frozen=True)
class CalibrationData:
    """Calibration trials ready for fine-tuning, and what produced them.

    X: (n_trials, n_chans, n_times) float32 model input (shared preprocessing, repaired and aligned
    as the spec says); y: (n_trials,) indices into ``classes``; ``spec`` carries the repair and
    alignment matrices. ``readmitted``: trials an artifact rule rejected that were kept because their
    class was short; ``repaired``: interpolated channels.
    """

    model: nn.Module
    meta: dict[str, Any]
    classes: list[str]
    spec: Any
    X: np.ndarray
    y: np.ndarray
    rejected_per_class: dict[str, int]
    #: rejected trials by rule and channel, most frequent first (:func:`summarize_rejections`)
    rejections: dict[str, int] = field(default_factory=dict)
    repaired: tuple[str, ...] = ()
    readmitted: int = 0
    #: base channels the recordings lack, interpolated from the present ones (a subset of ``repaired``)
    missing: tuple[str, ...] = ()
    n_cues: int = 0
    #: the windows the online decoder decides on, per kept trial: (n_trials, n_windows, n_chans, n_times)
    #: float32, window ``j`` starting ``window_offsets_s[j]`` after the model's window start
    #: (``windows[:, 0]`` is ``X``); None when only ``X`` was cut
    windows: np.ndarray | None = field(default=None, repr=False)
    window_offsets_s: tuple[float, ...] = (0.0,)

    @property
    def decision_windows(self) -> np.ndarray:
        """``windows`` when cut, else ``X`` as one window per trial: (n_trials, n_windows, n_chans, n_times)."""
        return self.windows if self.windows is not None else self.X[:, None]

    def rejection_note(self, config: Any) -> str | None:
        """:func:`rejection_advice` when trials were rejected, else None."""
        return rejection_advice(self.rejections, config.preprocessing.reject_amplitude_uv) if self.rejections else None

    def report(self) -> dict[str, Any]:
        """What preparation did, for the operator and the adapter JSON."""
        return {"n_cues": self.n_cues, "n_trials": int(len(self.y)),
                "n_trials_per_class": {c: int((self.y == i).sum()) for i, c in enumerate(self.classes)},
                "rejected_per_class": dict(self.rejected_per_class), "rejections": dict(self.rejections),
                "readmitted_trials": self.readmitted,
                "repaired_channels": [c for c in self.repaired if c not in self.missing],
                "missing_channels": list(self.missing)}


def rejection_advice(rejections: dict[str, int], amplitude_uv: float) -> str:
    """Plain text for an operator: the most frequent rejection reasons and what to do."""
    if not rejections:
        return "no trial was rejected for artifacts"
    top = ", ".join(f"{k} in {v} trial{'s' if v > 1 else ''}" for k, v in list(rejections.items())[:3])
    return (f"most rejections: {top}; check those electrodes (impedance, gel, cable) and ask the participant "
            f"not to blink or move during imagery, or raise preprocessing.reject_amplitude_uv ({amplitude_uv:g} µV)")


def _severity(reason: str | None) -> float:
    """Order for re-admission: amplitude rejections by peak µV, other rules after them."""
    m = _PEAK.match(reason or "")
    return float(m.group("uv")) if m else float("inf")


def _select(trials: Epochs, n_classes: int, min_per_class: int) -> tuple[np.ndarray, int]:
    """Kept-trial mask: clean trials, plus the least extreme rejected (finite) trials of each class
    short of ``min_per_class``. Returns (mask, number re-admitted)."""
    keep = ~trials.rejected
    readmitted = 0
    for c in range(n_classes):
        short = min_per_class - int((keep & (trials.labels == c)).sum())
        if short <= 0:
            continue
        candidates = [i for i in np.flatnonzero(trials.rejected & (trials.labels == c))
                      if np.isfinite(trials.data[i]).all()]
        candidates.sort(key=lambda i: _severity(trials.reasons[i]))
        for i in candidates[:short]:
            keep[i] = True
            readmitted += 1
    return keep, readmitted


def check_base_preprocessing(preprocessing: Any, spec: Any, base: str | Path) -> None:
    """Raise :class:`ConfigError` when the config's band-pass, filter order or scale
    (``preprocessing``, a :class:`~bci_app.config.PreprocessingConfig`) differ from those the base
    was trained with (``spec``, its :class:`~bci_app.signal.preprocess.PreprocessingSpec`)."""
    differ = [f"preprocessing.{k} is {getattr(preprocessing, k):g}, base {Path(str(base)).name} has "
              f"{getattr(spec, k):g}" for k in BASE_PREPROCESSING_KEYS
              if float(getattr(preprocessing, k)) != float(getattr(spec, k))]
    if differ:
        raise ConfigError("; ".join(differ) + ". An adapter sees what its base was trained on: set these keys "
                          "to the base's values, or pretrain a base with yours (bci-app pretrain).")


def prepare_calibration(
    sources: Sequence[Any],
    config: Any,
    base: str | Path | None = None,
    *,
    model: nn.Module | None = None,
    meta: dict[str, Any] | None = None,
    preset: Any = None,
    imagery_s: float | None = None,
) -> CalibrationData:
    """Cut, repair, select and align the calibration trials of a base model (module doc).

    ``imagery_s``: seconds from the cue to the end of imagery, when known (a live paradigm's): the
    decision windows (``finetune.window_span_s``) never reach past it.

    ``sources`` are file paths (EEGMMIDB EDF via its preset, or XDF/EDF with GDF cues 769-772) or
    in-memory :class:`~bci_app.io.recording.Recording` objects (the session's); ``preset`` (a preset
    name, :class:`~bci_app.io.dataset_presets.DatasetPreset` or marker-to-class mapping) forces the cues'
    meaning (default: chosen per file). The base is ``model``/``meta`` when given, else loaded
    from ``base``. Raises :class:`CalibrationError` when the recordings hold no usable trial of the
    base's classes.
    """
    if model is None or meta is None:
        model, meta = load_base_model(str(base))
    classes = list(meta["classes"])
    pre = config.preprocessing
    spec = PreprocessingSpec.from_dict(meta["preprocessing"]).with_alignment(None).with_repair(None)
    check_base_preprocessing(pre, spec, base if base is not None else meta.get("name", "given"))
    tmin = window_tmin(meta)
    tmax = tmin + int(model.n_times) / spec.sfreq
    recordings = [src if isinstance(src, Recording) else read_recording(src) for src in sources]
    names = [str(rec.path) for rec in recordings]
    for rec in recordings:
        dead = dead_recording(rec, flat_uv=pre.reject_flat_uv)
        if dead:
            raise CalibrationError(f"{rec.path}: {dead}; it holds no brain signal to calibrate on: check the headset's "
                                   "electrodes and connection, then record again")
    missing = missing_channels(spec.ch_names, recordings)
    if missing:
        if not pre.interpolate_missing_channels or spec.n_chans - len(missing) < 3:
            raise CalibrationError(
                f"{', '.join(names)} lack{'s' if len(names) == 1 else ''} {len(missing)} of the base's "
                f"{spec.n_chans} channels ({', '.join(missing)})"
                + ("; fewer than 3 would remain to interpolate them from" if pre.interpolate_missing_channels
                   else "; preprocessing.interpolate_missing_channels is off")
                + ". Map the headset's channels to 10-10 names or choose a base on the channels you have.")
        logger.warning("interpolating %d channel(s) the headset lacks: %s", len(missing), ", ".join(missing))
        spec = spec.with_repair(interpolation_matrix(spec.ch_names, missing), missing, missing)

    warned: set[Path] = set()  # files whose unused cues were named (once, not at every re-cut)

    def _trials(s: PreprocessingSpec) -> Epochs:
        parts = []
        for rec in recordings:
            ep = epochs_for_model(rec, s, None, tmin, tmax, preset, config=pre)
            mine = ep.of_classes(classes)
            if mine.n_trials < ep.n_trials and rec.path not in warned:
                warned.add(rec.path)
                other = Counter(str(ep.classes[i]) for i in ep.labels if ep.classes[i] not in classes)
                logger.warning("%s: %d cue(s) of classes the base does not decode were left unused: %s (base "
                               "classes: %s)", rec.path.name, ep.n_trials - mine.n_trials, dict(other), classes)
            parts.append(mine)
        return Epochs.concatenate(parts)

    trials = _trials(spec)
    if len(trials.labels) == 0:
        raise CalibrationError(f"no calibration trials of classes {classes} in {names}")
    repaired: list[str] = list(missing)
    if pre.repair_bad_channels:
        present = [i for i, c in enumerate(spec.ch_names) if c not in missing]
        bad = find_bad_channels(trials.data[:, present] / spec.scale * MICROVOLTS_PER_VOLT, [spec.ch_names[i] for i in present],
                                fraction=pre.bad_channel_fraction, max_fraction=pre.max_repaired_fraction,
                                amplitude_uv=pre.reject_amplitude_uv, flat_uv=pre.reject_flat_uv,
                                railed_fraction=pre.reject_railed_fraction)
        if bad and spec.n_chans - len(missing) - len(bad) >= 3:
            logger.warning("repairing bad channel(s) %s by spherical-spline interpolation", ", ".join(bad))
            repaired += bad
            spec = spec.with_repair(interpolation_matrix(spec.ch_names, repaired), repaired, missing)
            trials = _trials(spec)
    keep, readmitted = _select(trials, len(classes), config.finetune.min_trials_per_class)
    rejections = summarize_rejections(r for r, k in zip(trials.reasons, keep) if not k)
    rejected = {c: int((~keep & (trials.labels == i)).sum()) for i, c in enumerate(classes)}
    if readmitted:
        logger.warning("kept %d artifact trial(s) so that every class has %d trials: %s", readmitted,
                       config.finetune.min_trials_per_class, rejection_advice(
                           summarize_rejections(r for r, k, rej in zip(trials.reasons, keep, trials.rejected)
                                                if k and rej), pre.reject_amplitude_uv))
    if rejections:
        logger.warning("rejected %d of %d calibration trials: %s", sum(rejections.values()), len(keep),
                       ", ".join(f"{k}: {v}" for k, v in rejections.items()))
    if not keep.any():
        raise CalibrationError(
            f"no usable calibration trials of classes {classes} in {names} (every trial holds non-finite "
            f"samples; {rejection_advice(rejections, pre.reject_amplitude_uv)})"
        )
    if meta.get("euclidean_alignment", False) and pre.euclidean_alignment:
        spec = spec.with_alignment(fit_euclidean_alignment(trials.data[keep]))
        trials = _trials(spec)
    elif meta.get("euclidean_alignment", False):
        logger.warning("base model %s was pretrained on Euclidean-aligned data but alignment is off in the config", base)
    offsets = window_offsets(config, None if imagery_s is None else imagery_s - tmax)
    windows = None
    if len(offsets) > 1:
        kept = trials.take(keep)  # each trial's recording (source) and cue onset find its later windows
        # filled by a broadcast copy, not ``np.repeat``: repeat holds the GIL for the whole array (40
        # trials x 5 windows x 64 channels: 50 MB, 60 ms in which the window's thread could not run)
        windows = np.empty((kept.data.shape[0], len(offsets), *kept.data.shape[1:]), dtype=kept.data.dtype)
        windows[...] = kept.data[:, None]
        for r, rec in enumerate(recordings):
            mine = np.flatnonzero(kept.source == r)
            if not mine.size:
                continue
            later, fits = decision_windows(rec, spec, np.array([round(float(kept.onsets[i]), 6) for i in mine]), tmin,
                                           int(model.n_times), offsets)
            for row, i in enumerate(mine):  # a window past the recording's end keeps the trial's first window
                windows[i, fits[row]] = later[row, fits[row]]
    return CalibrationData(model, meta, classes, spec, trials.data[keep], trials.labels[keep], rejected, rejections,
                           repaired=tuple(repaired), readmitted=readmitted, n_cues=int(len(keep)),
                           missing=tuple(missing), windows=windows, window_offsets_s=offsets)


def window_offsets(config: Any, max_span_s: float | None = None) -> tuple[float, ...]:
    """Start offsets (s) after the model's window start of the windows fine-tuning trains on: every
    ``finetune.window_stride_s`` up to ``finetune.window_span_s`` (the part of the imagery period the
    online decoder's sliding window covers) or ``max_span_s`` when smaller, ``(0.0,)`` when the span is 0."""
    ft = config.finetune
    span = ft.window_span_s if max_span_s is None else min(ft.window_span_s, max_span_s)
    if span <= 0:
        return (0.0,)
    n = int(np.floor(span / ft.window_stride_s + 1e-9))
    return tuple(round(k * ft.window_stride_s, 6) for k in range(n + 1))


def missing_channels(ch_names: Sequence[str], recordings: Sequence[Any]) -> list[str]:
    """Names in ``ch_names`` that at least one of ``recordings`` lacks (case, dots, spaces ignored)."""
    have = [{normalize_ch_name(c) for c, t in zip(rec.ch_names, rec.ch_types) if is_model_input(t)}
            for rec in recordings]
    return [c for c in ch_names if not all(normalize_ch_name(c) in h for h in have)]


def cue_trials(sources: Sequence[Any], spec: Any, classes: Sequence[str], tmin: float,
               n_times: int) -> tuple[np.ndarray, np.ndarray]:
    """Every cue window of ``classes`` in ``sources`` (paths or recordings), finalized with ``spec``
    (a calibration's repair and alignment), none rejected: the trials an online test scores.
    Returns ``(X (n, n_chans, n_times) float32, y (n,) indices into classes)``."""
    classes = list(classes)
    xs, ys = [], []
    for src in sources:
        rec = src if isinstance(src, Recording) else read_recording(src)
        ep = epochs_for_model(rec, spec, None, tmin, tmin + n_times / spec.sfreq, None)
        mine = np.isin(np.asarray(ep.classes)[ep.labels], classes)
        xs.append(ep.data[mine])
        ys += [classes.index(ep.classes[i]) for i in ep.labels[mine]]
    return np.concatenate(xs), np.asarray(ys, dtype=np.int64)


def decision_trials(sources: Sequence[Any], spec: Any, classes: Sequence[str], tmin: float, n_times: int,
                    offsets: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Every cue of ``classes`` in ``sources`` as the windows the online decoder decides on: one
    window per start ``tmin + offset`` (s after the cue), finalized with ``spec``, none rejected.
    Returns ``(X (n, len(offsets), n_chans, n_times) float32, y (n,))``; a trial with a window that
    leaves its recording is left out."""
    classes = list(classes)
    xs, ys = [], []
    for src in sources:
        rec = src if isinstance(src, Recording) else read_recording(src)
        onsets, labels, classes_t, _ = find_cues(rec, None)
        mine = np.isin(np.asarray(classes_t)[labels], classes) if len(labels) else np.zeros(0, dtype=bool)
        windows, fits = decision_windows(rec, spec, onsets[mine], tmin, n_times, offsets)
        whole = fits.all(axis=1)
        xs.append(windows[whole])
        ys.append(np.asarray([classes.index(classes_t[i]) for i in labels[mine][whole]], dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def cued_classes(recordings: Sequence[Any], preset: Any = None) -> dict[str, int]:
    """``{class: number of cues}`` over ``recordings`` (:class:`~bci_app.types.Recording`, each read
    with ``preset``, a preset name, :class:`~bci_app.io.dataset_presets.DatasetPreset` or marker-to-class
    mapping, or else its dataset preset by file name), classes in the order the presets name them;
    classes without a cue are left out."""
    counts: dict[str, int] = {}
    for rec in recordings:
        mapping, _ = label_mapping(rec, preset)
        for cls in dict.fromkeys(mapping.values()):
            counts.setdefault(cls, 0)
        for m in rec.markers:
            cls = mapping.get(m.value.strip())
            if cls is not None:
                counts[cls] += 1
    return {c: n for c, n in counts.items() if n}
