"""ERD/ERS of a calibration: time-frequency maps at C3/Cz/C4 and mu/beta band-power scalp maps.

The model's calibration windows start after the cue, so they hold no baseline. The trials are
therefore cut again from the calibration recordings, from before the cue to after the imagery, by
the one epocher (:func:`calibration.epochs.extract_epochs`: raw volts, the cues' meaning from the
same preset, the training's artifact rules). Trials it rejects are left out of the maps.

- Time-frequency: Morlet wavelets (MNE's ``tfr_array_morlet``, ``n_cycles = f / 2``), power averaged
  per class, as the percent change from the pre-cue baseline (MNE's ``percent`` mode × 100).
  Negative = ERD (power drop), positive = ERS.
- Artifacts: the training's rules are applied to each channel of each trial alone; a channel's
  maps average only its clean trials (a blink on Fp1 does not remove the trial from C3).
- Scalp maps: Welch band power (:mod:`bci_app.signal.quality`) in the imagery window against the
  baseline window, averaged over clean trials per class, as percent change; one map per class and band and,
  with two classes, their difference. Positions: MNE's ``colin27_1005`` (formerly ``standard_1005``) for the
  channels it names.

A channel or position the headset lacks is left out with a note (never silently).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from bci_app.errors import CalibrationError
from bci_app.signal.quality import BETA_BAND, MU_BAND, band_power, erd_percent, power_spectrum
from bci_app.vocabulary import electrode_positions, normalize_ch_name
from calibration.epochs import Epochs, extract_epochs

__all__ = ["ErdWindows", "ErdMaps", "TimeFrequencyMaps", "ScalpMaps", "cue_locked_trials", "erd_maps",
           "TF_CHANNELS"]

#: where the hand and feet areas are read (10-10 names)
TF_CHANNELS: tuple[str, ...] = ("C3", "Cz", "C4")
#: bands of the scalp maps (Hz)
BANDS: dict[str, tuple[float, float]] = {"mu": MU_BAND, "beta": BETA_BAND}
#: seconds cut beyond the shown span on both sides, so wavelets do not reach the epoch's edges
_EDGE_S = 0.5


@dataclass(frozen=True)
class ErdWindows:
    """Seconds relative to the cue: ``baseline`` (reference power), ``imagery`` (scalp maps' window),
    ``tmax`` (end of the time-frequency maps)."""

    baseline: tuple[float, float] = (-1.5, -0.5)
    imagery: tuple[float, float] = (0.5, 4.0)
    tmax: float = 4.5

    @classmethod
    def for_paradigm(cls, paradigm: Any) -> ErdWindows:
        """Windows for a Graz timeline (:class:`~bci_app.config.ParadigmConfig`): the baseline inside the
        fixation period before the cue (at most its last 1.5 s, ending before the cue), the imagery
        from 0.5 s after the cue to its end, the maps to at most 0.5 s after it (less when the
        shortest rest leaves no room for the wavelets' margin)."""
        fixation = float(paradigm.cue_at_s)
        if fixation <= 0:
            raise CalibrationError("paradigm.cue_at_s is 0: the trials have no pre-cue baseline for ERD maps")
        start = -min(1.5, fixation)
        imagery_end = float(paradigm.imagery_end_s) - fixation
        # the maps end up to 0.5 s after the imagery, as far as the shortest rest leaves room for the
        # wavelets' margin: the last trial of the calibration (its rest, then the end) is cut too
        after = max(0.0, min(0.5, float(getattr(paradigm, "rest_min_s", 1.0)) - _EDGE_S))
        return cls((start, start + min(1.0, 0.75 * fixation)), (min(0.5, imagery_end / 2), imagery_end),
                   imagery_end + after)

    def __post_init__(self) -> None:
        b0, b1 = self.baseline
        i0, i1 = self.imagery
        if not (b0 < b1 <= 0 < i0 < i1 <= self.tmax):
            raise CalibrationError(f"ERD windows must satisfy baseline start < end <= cue (0) < imagery start < end "
                                   f"<= tmax; got baseline {self.baseline}, imagery {self.imagery}, tmax {self.tmax}")


@dataclass(frozen=True)
class TimeFrequencyMaps:
    """Per class: ``power[class]`` (n_channels, n_freqs, n_times) percent change from the baseline
    (NaN where a channel has no clean trial); ``n_trials[class][channel]``: clean trials averaged."""

    channels: tuple[str, ...]
    freqs: np.ndarray
    times: np.ndarray
    power: dict[str, np.ndarray]
    n_trials: dict[str, dict[str, int]]


@dataclass(frozen=True)
class ScalpMaps:
    """``values[band][class]`` (n_channels,) percent change in the imagery window; ``info``: MNE Info with
    the channels' positions (in ``ch_names`` order)."""

    ch_names: tuple[str, ...]
    values: dict[str, dict[str, np.ndarray]]
    info: Any


@dataclass(frozen=True)
class ErdMaps:
    """What :func:`erd_maps` computed, and ``notes`` for the reader (missing channels, rejections)."""

    windows: ErdWindows
    tf: TimeFrequencyMaps | None
    scalp: ScalpMaps | None
    notes: list[str] = field(default_factory=list)


def _canonical_names(ch_names: Sequence[str]) -> tuple[list[str], dict[str, np.ndarray]]:
    """10-10 spelling of each name (``'Fc5.'`` -> ``'FC5'``) where the vocabulary's 10-05 positions know it, and the
    positions (m) of those it knows."""
    table = electrode_positions()
    found = [table.get(normalize_ch_name(c)) for c in ch_names]
    names = [f[0] if f is not None else str(c).strip(" .") for c, f in zip(ch_names, found)]
    return names, {f[0]: f[1] for f in found if f is not None}


def cue_locked_trials(recordings: Sequence[Any], classes: Sequence[str], tmin: float, tmax: float, *,
                      preset: Any = None, config: Any = None) -> tuple[Epochs, np.ndarray]:
    """Raw EEG trials [cue + ``tmin``, cue + ``tmax``) of ``classes`` from ``recordings``
    (:class:`~bci_app.io.recording.Recording`, same channels), by :func:`calibration.epochs.extract_epochs`,
    channels in their canonical 10-10 spelling where known, and ``clean`` (n_trials, n_chans) bool: the
    training's artifact rules (``config``: a ``preprocessing`` config) applied per channel, so a blink
    on Fp1 does not remove a trial from the C3 map; trials marked rejected (1023) are clean nowhere.
    ``preset``: the cues' meaning (None: chosen per file by name)."""
    classes = tuple(classes)
    if not recordings:
        raise CalibrationError("no calibration recordings to cut trials with a baseline from")
    eeg = [c for c, t in zip(recordings[0].ch_names, recordings[0].ch_types) if str(t).lower() == "eeg"]
    parts, clean = [], []
    for rec in recordings:
        ep = extract_epochs(rec, preset, tmin, tmax, ch_names=eeg, config=config)
        mine = np.array([ep.classes[i] in classes for i in ep.labels], dtype=bool)
        ok = np.stack([~extract_epochs(rec, preset, tmin, tmax, ch_names=[ch], config=config).rejected
                       for ch in eeg], axis=1)  # (n_trials, n_chans): the rules on each channel alone
        parts.append(ep.of_classes(classes))
        clean.append(ok[mine])
    names, _ = _canonical_names(eeg)
    return replace(Epochs.concatenate(parts), ch_names=tuple(names)), np.concatenate(clean)


def _tf_maps(trials: Epochs, clean: np.ndarray, picks: list[int], windows: ErdWindows, notes: list[str]) -> TimeFrequencyMaps:
    from mne.time_frequency import tfr_array_morlet

    freqs = np.arange(6.0, min(35.0, trials.sfreq / 2 - 2.0) + 0.5, 1.0)
    decim = max(1, int(trials.sfreq // 40))  # ~40 time points per second are plenty for a map
    names = [trials.ch_names[i] for i in picks]
    # (n_trials, n_picks, n_freqs, n_times) power
    power_all = tfr_array_morlet(trials.data[:, picks], trials.sfreq, freqs, n_cycles=freqs / 2.0,
                                 output="power", decim=decim, verbose="error")
    times = trials.tmin + np.arange(power_all.shape[-1]) * decim / trials.sfreq
    base = (times >= windows.baseline[0]) & (times < windows.baseline[1])
    shown = (times >= windows.baseline[0]) & (times <= windows.tmax)
    power, counts = {}, {}
    for c, cls in enumerate(trials.classes):
        mask = clean[:, picks] & (trials.labels == c)[:, None]
        counts[cls] = {ch: int(n) for ch, n in zip(names, mask.sum(axis=0))}
        empty = [ch for ch, n in counts[cls].items() if n == 0]
        if empty:
            notes.append(f"no clean trial of {cls} at {', '.join(empty)}: that map is blank")
        ref = power_all[..., base].mean(axis=-1, keepdims=True)  # each trial's baseline power
        power[cls] = erd_percent(ref, power_all[..., shown], mask)  # (n_picks, n_freqs, n_times)
    return TimeFrequencyMaps(tuple(names), freqs, times[shown], power, counts)


def _scalp_maps(trials: Epochs, clean: np.ndarray, windows: ErdWindows, notes: list[str]) -> ScalpMaps | None:
    import mne

    names, positions = _canonical_names(trials.ch_names)
    placed = [i for i, n in enumerate(names) if n in positions]
    unplaced = [names[i] for i in range(len(names)) if i not in placed]
    if unplaced:
        notes.append(f"no standard 10-05 position for {', '.join(unplaced)}: left out of the scalp maps")
    if len(placed) < 4:
        notes.append(f"scalp maps need at least 4 channels with a 10-05 position; the headset has {len(placed)}")
        return None
    t = trials.tmin + np.arange(trials.data.shape[2]) / trials.sfreq

    def band_powers(window: tuple[float, float]) -> dict[str, np.ndarray]:
        seg = (t >= window[0]) & (t < window[1])
        out = {b: np.empty((len(trials.labels), len(placed))) for b in BANDS}
        for k, trial in enumerate(trials.data[:, placed][:, :, seg]):
            f, psd = power_spectrum(trial, trials.sfreq, nperseg=min(int(seg.sum()), int(trials.sfreq)))
            for b, band in BANDS.items():
                out[b][k] = band_power(f, psd, band)
        return out

    base, imag = band_powers(windows.baseline), band_powers(windows.imagery)
    classes = [cls for c, cls in enumerate(trials.classes) if (trials.labels == c).any()]
    masks = {cls: clean[:, placed] & (trials.labels == trials.classes.index(cls))[:, None] for cls in classes}
    usable = np.all([m.any(axis=0) for m in masks.values()], axis=0)  # a clean trial of every class
    if not usable.all():
        notes.append(f"no clean trial of some class at {', '.join(names[placed[i]] for i in np.flatnonzero(~usable))}: "
                     "left out of the scalp maps")
    if usable.sum() < 4:
        notes.append(f"scalp maps need at least 4 channels with clean trials of every class; {int(usable.sum())} have")
        return None
    values: dict[str, dict[str, np.ndarray]] = {b: {} for b in BANDS}
    for b in BANDS:
        for cls, mask in masks.items():
            values[b][cls] = erd_percent(base[b], imag[b], mask)[usable]
    placed = [i for i, u in zip(placed, usable) if u]
    ch = [names[i] for i in placed]
    info = mne.create_info(ch, trials.sfreq, "eeg")
    info.set_montage(mne.channels.make_dig_montage(ch_pos={n: positions[n] for n in ch}, coord_frame="head"))
    return ScalpMaps(tuple(ch), values, info)


def erd_maps(recordings: Sequence[Any], classes: Sequence[str], *, windows: ErdWindows | None = None,
             preset: Any = None, preprocessing: Any = None, channels: Sequence[str] = TF_CHANNELS) -> ErdMaps:
    """Time-frequency maps at ``channels`` (those present) and band-power scalp maps of the
    calibration ``recordings`` (module doc); ``preprocessing``: the config whose artifact rules drop
    trials (default: the defaults). Raises :class:`CalibrationError` when no trial is clean."""
    windows = windows or ErdWindows()
    trials, clean = cue_locked_trials(recordings, classes, windows.baseline[0] - _EDGE_S, windows.tmax + _EDGE_S,
                                      preset=preset, config=preprocessing)
    notes = []
    if not len(trials.labels):
        raise CalibrationError(f"no cue of {', '.join(classes)} leaves room for the ERD span "
                               f"({trials.tmin:g} to {trials.tmax:g} s around the cue)")
    if not clean.all():
        bad, total = int((~clean).sum()), int(clean.size)
        notes.append(f"{bad} of {total} channel-trials ({100 * bad / total:.1f} %) break an artifact rule over "
                     f"{trials.tmin:g} to {trials.tmax:g} s around the cue; each channel's maps average only its "
                     "clean trials")
    norm = [normalize_ch_name(c) for c in trials.ch_names]
    picks = [norm.index(normalize_ch_name(c)) for c in channels if normalize_ch_name(c) in norm]
    missing = [c for c in channels if normalize_ch_name(c) not in norm]
    if missing:
        notes.append(f"{', '.join(missing)} not on this headset: no time-frequency map there")
    tf = _tf_maps(trials, clean, picks, windows, notes) if picks else None
    return ErdMaps(windows, tf, _scalp_maps(trials, clean, windows, notes), notes)
