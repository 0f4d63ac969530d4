"""Signal quality and calibration quality, Qt-free (the GUI only renders these results).

- :func:`channel_quality`: per-channel flags for a recent window (flat, railed, noisy, line noise).
- :func:`dead_signal`: a recording whose every EEG channel is flat, railed or non-finite (refused by
  calibration, warned about by replay and evaluate).
- :func:`power_spectrum` / :func:`band_power`: Welch spectra and mean power in frequency bands.
- :class:`CalibrationQuality`: accrues calibration trials and reports mu/beta ERD at C3/C4 per
  class, a cross-validated separability estimate, "enough data" advice and, as trials come in, the
  artifact rejections training will apply (same rules, named channels), so a bad electrode is
  fixed during the session rather than found after it.

Inputs are volts, (n_chans, n_times); frequencies in Hz; powers in V²/Hz.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy import signal as sps

from bci_app.errors import CalibrationError
from bci_app.signal.channels import match_channels
from bci_app.signal.filters import StreamingBandpass
from bci_app.signal.preprocess import reject_artifacts, summarize_rejections
from bci_app.units import MICROVOLTS_PER_VOLT
from bci_app.vocabulary import normalize_ch_name

if TYPE_CHECKING:
    from bci_app.config import PreprocessingConfig
    from bci_app.types import Recording

#: Seconds of signal before the trial start that the artifact check filters from (filter settling).
ARTIFACT_LEAD_S = 2.0

MU_BAND: tuple[float, float] = (8.0, 13.0)
BETA_BAND: tuple[float, float] = (13.0, 30.0)
QUALITY_FLAGS: tuple[str, ...] = ("flat", "railed", "noisy", "line_noise")


@dataclass(frozen=True)
class ChannelQuality:
    """Quality of one channel over a window.

    ptp_uv: peak-to-peak (µV); rms_uv: standard deviation (µV); railed_fraction: share of samples at
    the channel's min or max; line_ratio: power at the mains frequency ±1 Hz over power in 2–40 Hz.
    ``flags`` is a subset of :data:`QUALITY_FLAGS`; an empty tuple means good.
    """

    name: str
    ptp_uv: float
    rms_uv: float
    railed_fraction: float
    line_ratio: float
    flags: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.flags

    @property
    def label(self) -> str:
        """``"ok"`` or the flags joined with ``", "`` (plain words for a badge)."""
        return "ok" if self.ok else ", ".join(f.replace("_", " ") for f in self.flags)


def power_spectrum(data: np.ndarray, sfreq: float, *, nperseg: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Welch PSD of ``data`` (n_chans, n_times) volts → ``(freqs (n_freqs,) Hz, psd (n_chans, n_freqs) V²/Hz)``.

    Non-finite samples are replaced by 0 (so one bad sample does not blank a channel's spectrum).
    """
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 2:
        raise CalibrationError(f"power_spectrum expects (n_chans, n_times >= 2), got {x.shape}")
    x = np.where(np.isfinite(x), x, 0.0)
    n = x.shape[1]
    seg = int(min(n, nperseg if nperseg is not None else max(int(sfreq), 8)))
    freqs, psd = sps.welch(x, fs=sfreq, nperseg=seg, axis=-1, detrend="constant")
    return freqs, psd


def band_power(freqs: np.ndarray, psd: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    """Mean PSD inside ``band`` (Hz, inclusive) for each row of ``psd`` → (n_chans,) V²/Hz."""
    lo, hi = band
    sel = (freqs >= lo) & (freqs <= hi)
    if not sel.any():
        raise CalibrationError(f"band {lo:g}-{hi:g} Hz holds no frequency bin (resolution {freqs[1] - freqs[0]:g} Hz)")
    return psd[..., sel].mean(axis=-1)


def erd_percent(p_base: np.ndarray, p_imag: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """ERD/ERS in percent: ``100 * (mean imagery power / mean baseline power - 1)``, the means taken
    over trials (axis 0) of per-trial powers ``p_base`` and ``p_imag`` (n_trials, n_chans, ...), only
    where ``mask`` (n_trials, n_chans) is true (NaN for a channel without any such trial). Negative =
    desynchronisation. The one ERD of the app: the operator's live table and the report's maps.

    It is the ratio of the class means (MNE's ``percent`` baseline mode on averaged power), never
    the mean of per-trial ratios: a trial whose short baseline happens to hold little power would
    drive that mean to hundreds of percent of *synchronisation*."""
    p_base, p_imag = np.asarray(p_base, dtype=np.float64), np.asarray(p_imag, dtype=np.float64)
    if mask is None:
        mask = np.ones(p_imag.shape[:2], dtype=bool)
    w = np.asarray(mask).reshape(mask.shape + (1,) * (p_imag.ndim - 2)).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        base = (p_base * w).sum(axis=0) / w.sum(axis=0)
        imag = (p_imag * w).sum(axis=0) / w.sum(axis=0)
        return 100.0 * (imag / np.maximum(base, 1e-30) - 1.0)


def channel_quality(
    data: np.ndarray,
    sfreq: float,
    ch_names: Sequence[str],
    *,
    flat_uv: float = 0.5,
    noisy_uv: float = 100.0,
    railed_fraction: float = 0.05,
    line_freq: float | None = None,
    line_ratio: float = 1.0,
    spectrum: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[ChannelQuality]:
    """Flag each channel of ``data`` (n_chans, n_times) volts.

    flat: peak-to-peak below ``flat_uv``; railed: more than ``railed_fraction`` of samples stuck at the
    channel's min or max (and not flat); noisy: standard deviation above ``noisy_uv`` or non-finite
    samples; line_noise: power at ``line_freq`` (default: whichever of 50/60 Hz is stronger, if below
    Nyquist) ±1 Hz exceeds ``line_ratio`` × the mean power density in 2–40 Hz. ``spectrum``: the
    ``(freqs, psd)`` of ``data`` by :func:`power_spectrum` when the caller has it (one Welch, not two).
    """
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != len(ch_names):
        raise CalibrationError(f"channel_quality expects ({len(ch_names)}, n_times), got {x.shape}")
    n_chans, n_times = x.shape
    if n_times < 4:
        return [ChannelQuality(str(n), 0.0, 0.0, 0.0, 0.0, ()) for n in ch_names]
    finite = np.isfinite(x).all(axis=1)
    xf = np.where(np.isfinite(x), x, 0.0)
    ptp = (xf.max(axis=1) - xf.min(axis=1)) * MICROVOLTS_PER_VOLT
    rms = xf.std(axis=1) * MICROVOLTS_PER_VOLT
    at_max = (xf == xf.max(axis=1, keepdims=True)).sum(axis=1)
    at_min = (xf == xf.min(axis=1, keepdims=True)).sum(axis=1)
    railed = np.maximum(at_max, at_min) / n_times
    ratios = np.zeros(n_chans)
    if n_times >= 16:
        freqs, psd = spectrum if spectrum is not None else power_spectrum(xf, sfreq)
        candidates = [f for f in ((line_freq,) if line_freq else (50.0, 60.0)) if f + 1 < sfreq / 2]
        ref_sel = (freqs >= 2.0) & (freqs <= min(40.0, sfreq / 2))
        if candidates and ref_sel.any():
            ref = psd[:, ref_sel].mean(axis=1) + 1e-30
            best = np.zeros(n_chans)
            for f in candidates:
                sel = np.abs(freqs - f) <= 1.0
                if sel.any():
                    best = np.maximum(best, psd[:, sel].mean(axis=1) / ref)
            ratios = best
    out = []
    for i, name in enumerate(ch_names):
        flags = []
        if ptp[i] < flat_uv:
            flags.append("flat")
        elif railed[i] > railed_fraction:
            flags.append("railed")
        if not finite[i] or rms[i] > noisy_uv:
            flags.append("noisy")
        if "flat" not in flags and ratios[i] > line_ratio:
            flags.append("line_noise")
        out.append(ChannelQuality(str(name), float(ptp[i]), float(rms[i]), float(railed[i]), float(ratios[i]), tuple(flags)))
    return out


#: a channel is railed when at least this share of its samples sit at its minimum or its maximum
DEAD_RAILED_FRACTION = 0.5


def dead_signal(data: np.ndarray, ch_names: Sequence[str], *, flat_uv: float = 0.5) -> str | None:
    """Why the EEG ``data`` (n_chans, n_times) volts cannot hold brain activity, or None.

    It cannot when every channel is dead: no finite sample, flat (peak-to-peak below ``flat_uv``
    µV over the whole of it) or railed (at least :data:`DEAD_RAILED_FRACTION` of its samples at its
    minimum or maximum: an amplifier at its limits). One living channel is enough to return None;
    single bad channels are the business of the bad-channel repair.
    """
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != len(ch_names):
        raise CalibrationError(f"dead_signal expects ({len(ch_names)}, n_times), got {x.shape}")
    if x.shape[0] == 0 or x.shape[1] < 2:
        return None
    finite = np.isfinite(x)
    none_finite = ~finite.any(axis=1)
    lo = np.where(finite, x, np.inf).min(axis=1)
    hi = np.where(finite, x, -np.inf).max(axis=1)
    flat = ~none_finite & ((hi - lo) * MICROVOLTS_PER_VOLT < flat_uv)
    at_limits = ((x == lo[:, None]) | (x == hi[:, None])).sum(axis=1) / x.shape[1]
    railed = ~none_finite & ~flat & (at_limits >= DEAD_RAILED_FRACTION)
    if not (none_finite | flat | railed).all():
        return None
    parts = [f"{what}: {', '.join(str(ch_names[i]) for i in np.flatnonzero(mask)[:8])}"
             + (" ..." if mask.sum() > 8 else "")
             for what, mask in (("no finite sample", none_finite), (f"flat (< {flat_uv:g} µV peak to peak)", flat),
                                ("railed (stuck at its limits)", railed)) if mask.any()]
    return f"every one of its {x.shape[0]} EEG channels is dead ({'; '.join(parts)})"


def dead_recording(recording: Recording, *, flat_uv: float = 0.5) -> str | None:
    """:func:`dead_signal` of a recording's EEG channels (all channels when none is typed EEG)."""
    eeg = [i for i, t in enumerate(recording.ch_types) if str(t).lower() == "eeg"] or list(range(len(recording.ch_names)))
    return dead_signal(recording.data[eeg], [recording.ch_names[i] for i in eeg], flat_uv=flat_uv)


# ------------------------------------------------------------------------------ calibration quality


@dataclass(frozen=True)
class CalibrationSummary:
    """What the operator sees while calibrating.

    erd: ``{class: {"C3": {"mu": %, "beta": %}, "C4": {...}}}``, ERD% per class by :func:`erd_percent`
    over the clean trials (negative = desynchronisation: power drop during imagery relative to the
    fixation baseline), as the report computes it.
    n_trials: clean trials per class; n_rejected: trials dropped (non-finite, flat or too short at
    C3/C4, or an artifact by the training rules); rejections: those artifacts by rule and channel,
    most frequent first (:func:`bci_app.signal.preprocess.summarize_rejections`).
    separability: leave-one-out accuracy (0–1) of a nearest-class-mean classifier on standardised
    log band power at C3/C4, or ``None`` with fewer than 3 trials per class; chance: 1 / n_classes.
    enough: the advice flag; advice: one plain sentence.
    """

    erd: dict[str, dict[str, dict[str, float]]]
    n_trials: dict[str, int]
    n_rejected: int
    separability: float | None
    chance: float
    enough: bool
    advice: str
    rejections: dict[str, int] = field(default_factory=dict)


class CalibrationQuality:
    """Accrue calibration trials and estimate their quality (ERD at C3/C4, separability).

    Parameters
    ----------
    ch_names : channel names of the data passed to :meth:`add_trial` (C3 and C4 are looked up by name).
    sfreq : Hz.
    classes : class names in display order.
    baseline : (start, stop) seconds relative to trial start (the fixation period).
    imagery : (start, stop) seconds relative to trial start.
    min_trials_per_class : trials per class before "enough data" can be advised.
    artifacts : the ``preprocessing`` config whose rejection rules (band, amplitude, flat, railed)
        training applies; None skips the artifact check.
    artifact_channels : channels the check looks at (the base model's), default every channel. When
        the source lacks some, the check is off and every summary's advice says why (training on
        this source would fail for the same reason).
    """

    def __init__(
        self,
        ch_names: Sequence[str],
        sfreq: float,
        classes: Sequence[str],
        *,
        baseline: tuple[float, float] = (0.5, 1.75),
        imagery: tuple[float, float] = (2.5, 6.0),
        min_trials_per_class: int = 5,
        channels: Sequence[str] = ("C3", "C4"),
        artifacts: PreprocessingConfig | None = None,
        artifact_channels: Sequence[str] | None = None,
    ) -> None:
        norm = [normalize_ch_name(n) for n in ch_names]
        self.channels = tuple(channels)
        self._idx = []
        for ch in self.channels:
            if normalize_ch_name(ch) not in norm:
                raise CalibrationError(
                    f"calibration quality needs channel {ch}; the source has {', '.join(ch_names)}"
                )
            self._idx.append(norm.index(normalize_ch_name(ch)))
        self.sfreq = float(sfreq)
        self.classes = tuple(classes)
        self.baseline = baseline
        self.imagery = imagery
        self.min_trials_per_class = int(min_trials_per_class)
        # per trial: (label, log power features (n_ch*2,), (baseline, imagery) band power (2, n_ch, 2))
        self._trials: list[tuple[str, np.ndarray, np.ndarray]] = []
        self.n_rejected = 0
        self.artifacts = artifacts
        #: why the artifact check is off although asked for (the source lacks the base's channels)
        self.artifact_problem: str | None = None
        self._artifact_idx, self._artifact_names = list(range(len(ch_names))), tuple(ch_names)
        if artifacts is not None and artifact_channels is not None:
            try:
                self._artifact_idx = match_channels(ch_names, artifact_channels, source="the calibration source")
                self._artifact_names = tuple(artifact_channels)
            except CalibrationError as exc:
                self.artifacts, self.artifact_problem = None, str(exc)
        self._artifact_reasons: list[str] = []
        #: training's band-pass for the artifact check, designed here (a design per trial held the UI
        #: thread 10-35 ms at each trial's end)
        self._band = None if self.artifacts is None else StreamingBandpass(
            self.sfreq, self.artifacts.l_freq, self.artifacts.h_freq, self.artifacts.filter_order,
            len(self._artifact_idx))

    @property
    def lookback_s(self) -> float:
        """Seconds of signal before a trial's start that :meth:`add_trial` looks at (the artifact
        check's lead before the baseline); a caller passes the trial's span, not a whole buffer."""
        start = self.baseline[0] - (ARTIFACT_LEAD_S if self.artifacts is not None else 0.0)
        return max(0.0, -min(start, self.imagery[0]))

    def _segment_power(self, seg: np.ndarray) -> np.ndarray:
        freqs, psd = power_spectrum(seg, self.sfreq, nperseg=min(seg.shape[1], int(self.sfreq)))
        return np.stack([band_power(freqs, psd, MU_BAND), band_power(freqs, psd, BETA_BAND)], axis=1)

    def add_trial(self, label: str, data: np.ndarray, timestamps: np.ndarray, trial_start: float) -> bool:
        """Add one trial from continuous ``data`` (n_chans, n_times) volts with ``timestamps`` (s).

        ``trial_start`` is the trial's 768 time. Returns False (and counts a rejection) when the data
        do not cover the baseline and imagery periods or are flat/non-finite at C3/C4.
        """
        steps = self.trial_steps(label, data, timestamps, trial_start)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return bool(done.value)

    def trial_steps(self, label: str, data: np.ndarray, timestamps: np.ndarray,
                    trial_start: float) -> Generator[None, None, bool]:
        """:meth:`add_trial` in two steps, one per ``next()`` (1-3 ms of a core each with 64 channels, so
        a caller can spread them over frames): the checks and the artifact rules, then the band
        powers; returns (``StopIteration.value``) what :meth:`add_trial` returns. The trial counts
        once its last step ran; steps of several trials run in trial order."""
        if label not in self.classes:
            raise CalibrationError(f"unknown class {label!r}; expected one of {', '.join(self.classes)}")
        t = np.asarray(timestamps) - trial_start
        x = np.asarray(data)[self._idx]
        base = x[:, (t >= self.baseline[0]) & (t < self.baseline[1])]
        imag = x[:, (t >= self.imagery[0]) & (t < self.imagery[1])]
        min_len = int(0.25 * self.sfreq)
        if (
            base.shape[1] < min_len
            or imag.shape[1] < min_len
            or not (np.isfinite(base).all() and np.isfinite(imag).all())
            or (np.ptp(imag, axis=1) < 0.5e-6).any()
        ):
            self.n_rejected += 1
            return False
        reason = self._artifact(np.asarray(data), t)
        if reason is not None:
            self._artifact_reasons.append(reason)
            self.n_rejected += 1
            return False
        yield
        p_base = self._segment_power(base)
        p_imag = self._segment_power(imag)
        feats = np.log(np.maximum(p_imag / np.maximum(p_base, 1e-30), 1e-12)).ravel()
        self._trials.append((label, feats, np.stack([p_base, p_imag])))
        return True

    def _artifact(self, data: np.ndarray, t: np.ndarray) -> str | None:
        """The training rules' reason to reject this trial's imagery period, or None (clean, or no
        check configured). ``t``: sample times relative to the trial start."""
        if self.artifacts is None:
            return None
        cfg = self.artifacts
        span = (t >= self.baseline[0] - ARTIFACT_LEAD_S) & (t < self.imagery[1])
        seg = data[self._artifact_idx][:, span]
        assert self._band is not None  # made with the artifact rules
        self._band.reset()  # each trial filtered from its own first sample
        imagery = self._band.process(seg)[:, t[span] >= self.imagery[0]]
        _, reasons = reject_artifacts(imagery[None], cfg, self._artifact_names)
        return reasons[0]

    def separability(self) -> float | None:
        """Leave-one-out nearest-class-mean accuracy on standardised features, or None."""
        labels = np.array([t[0] for t in self._trials])
        counts = [int((labels == c).sum()) for c in self.classes]
        if min(counts, default=0) < 3:
            return None
        feats = np.array([t[1] for t in self._trials])
        feats = (feats - feats.mean(axis=0)) / (feats.std(axis=0) + 1e-12)
        correct = 0
        for i in range(len(feats)):
            mask = np.ones(len(feats), dtype=bool)
            mask[i] = False
            dists = [
                np.linalg.norm(feats[i] - feats[mask & (labels == c)].mean(axis=0)) for c in self.classes
            ]
            correct += self.classes[int(np.argmin(dists))] == labels[i]
        return correct / len(feats)

    def summary(self) -> CalibrationSummary:
        n_trials = {c: sum(1 for t in self._trials if t[0] == c) for c in self.classes}
        erd: dict[str, dict[str, dict[str, float]]] = {}
        for c in self.classes:
            rows = [t[2] for t in self._trials if t[0] == c]  # (2, n_ch, 2) each
            mean = erd_percent(*np.stack(rows, axis=1)) if rows else np.full((len(self.channels), 2), np.nan)
            erd[c] = {ch: {"mu": float(mean[i, 0]), "beta": float(mean[i, 1])} for i, ch in enumerate(self.channels)}
        sep = self.separability()
        chance = 1.0 / len(self.classes)
        fewest = min(n_trials.values(), default=0)
        if fewest < self.min_trials_per_class:
            enough = False
            advice = f"Keep going: {fewest} of {self.min_trials_per_class} clean trials in the smallest class."
        elif sep is not None and sep < chance + 0.1:
            enough = False
            advice = (
                f"Classes barely differ yet ({sep:.0%} vs {chance:.0%} chance): more trials may help; "
                "check electrode contact at C3/C4."
            )
        else:
            enough = True
            advice = "Enough data to train." + (f" Separability {sep:.0%}." if sep is not None else "")
        rejections = summarize_rejections(self._artifact_reasons)
        if self.artifact_problem is not None:
            advice = f"Artifact check off: {self.artifact_problem} " + advice
        if rejections:
            n = len(self._artifact_reasons)
            worst, count = next(iter(rejections.items()))
            advice = (f"{n} trial{'s' if n > 1 else ''} rejected for artifacts, most for {worst} ({count}): "
                      "check that electrode, and ask the participant to relax and not blink during imagery. " + advice)
        return CalibrationSummary(erd, n_trials, self.n_rejected, sep, chance, enough, advice, rejections)
