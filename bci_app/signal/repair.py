"""Bad-channel repair: find electrodes that spoil most calibration trials and interpolate them.

A channel is *bad* when the artifact rules of :func:`~bci_app.signal.preprocess.reject_artifacts`
(flat, railed, amplitude) fire on it in at least ``fraction`` of the calibration trials: one loose
electrode, not blinks that come and go. Bad channels are replaced by MNE's spherical-spline
interpolation from the good ones (10-05 positions of the colin27 head). The interpolation is linear, so it is
computed once as a matrix (n_chans, n_chans) and stored in the
:class:`~bci_app.signal.preprocess.PreprocessingSpec` (``repair``), where the continuous stage of the
shared preprocessing applies it: calibration and online decoding repair identically.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from bci_app.errors import CalibrationError
from bci_app.vocabulary import POSITIONS_MONTAGE

logger = logging.getLogger(__name__)

__all__ = ["channel_violations", "find_bad_channels", "interpolation_matrix"]


def channel_violations(windows_uv: np.ndarray, *, amplitude_uv: float, flat_uv: float,
                       railed_fraction: float) -> np.ndarray:
    """Which rule-breaking channels each trial has: bool (n_trials, n_chans).

    ``windows_uv``: demeaned band-passed trials (n_trials, n_chans, n_times) in µV; non-finite samples
    count as violations. Same thresholds as :func:`~bci_app.signal.preprocess.reject_artifacts`.
    """
    x = np.asarray(windows_uv, dtype=np.float64)
    if x.ndim != 3:
        raise CalibrationError(f"channel_violations expects (n_trials, n_chans, n_times), got {x.shape}")
    finite = np.isfinite(x).all(axis=2)
    x = np.where(np.isfinite(x), x, 0.0)
    ptp = x.max(axis=2) - x.min(axis=2)
    at_limit = np.maximum((x == x.max(axis=2, keepdims=True)).sum(axis=2),
                          (x == x.min(axis=2, keepdims=True)).sum(axis=2)) / x.shape[2]
    peak = np.abs(x - x.mean(axis=2, keepdims=True)).max(axis=2)
    return ~finite | (ptp < flat_uv) | (at_limit > railed_fraction) | (peak > amplitude_uv)


def find_bad_channels(windows_uv: np.ndarray, ch_names: Sequence[str], *, fraction: float, max_fraction: float,
                      amplitude_uv: float, flat_uv: float, railed_fraction: float) -> list[str]:
    """Channels breaking an artifact rule in at least ``fraction`` of the trials, worst first, at most
    ``max_fraction`` of all channels (the rest cannot be interpolated from too few good neighbours).
    More than half of the channels *dead* (flat, railed or non-finite) in that many trials is a
    :class:`CalibrationError`: nothing sound is left to repair them from. Channels that are only too
    large (noisy but alive) never refuse a calibration: the worst are repaired, the trials kept."""
    if len(ch_names) != np.shape(windows_uv)[1]:
        raise CalibrationError(f"find_bad_channels got {len(ch_names)} names for {np.shape(windows_uv)[1]} channels")
    if np.shape(windows_uv)[0] == 0:
        return []
    rate = channel_violations(windows_uv, amplitude_uv=amplitude_uv, flat_uv=flat_uv,
                              railed_fraction=railed_fraction).mean(axis=0)
    dead_rate = channel_violations(windows_uv, amplitude_uv=np.inf, flat_uv=flat_uv,
                                   railed_fraction=railed_fraction).mean(axis=0)
    order = np.argsort(-rate, kind="stable")
    bad = [str(ch_names[i]) for i in order if rate[i] >= fraction]
    dead = [str(ch_names[i]) for i in order if dead_rate[i] >= fraction]
    limit = int(np.floor(max_fraction * len(ch_names)))
    if 2 * len(dead) > len(ch_names):
        raise CalibrationError(
            f"{len(dead)} of {len(ch_names)} channels are flat, railed or not finite in at least {fraction:.0%} of the "
            f"trials ({', '.join(dead)}): too few live ones remain to repair them from, and the model would learn "
            "from no signal. Check the electrodes, the amplifier and the recording.")
    if len(bad) > limit:
        logger.warning("%d channels look bad (%s); repairing only the worst %d", len(bad), ", ".join(bad), limit)
        bad = bad[:limit]
    return bad


def interpolation_matrix(ch_names: Sequence[str], bad: Sequence[str]) -> np.ndarray:
    """Linear map (n_chans, n_chans) that replaces the ``bad`` channels by MNE's spherical-spline
    interpolation from the others and leaves the good ones unchanged (identity rows).

    Computed by interpolating the identity matrix (each column a unit impulse on one channel)
    with :meth:`mne.io.Raw.interpolate_bads`. Raises :class:`CalibrationError` for a channel without
    a standard 10-05 position or when fewer than 3 good channels remain.
    """
    import mne

    names = [str(c) for c in ch_names]
    bad = [str(b) for b in bad]
    n = len(names)
    if not bad:
        return np.eye(n)
    missing = [b for b in bad if b not in names]
    if missing:
        raise CalibrationError(f"cannot repair {missing}: not among the model's channels {names}")
    if n - len(bad) < 3:
        raise CalibrationError(f"cannot repair {bad}: fewer than 3 good channels remain of {names}")
    info = mne.create_info(names, sfreq=float(max(n, 1)), ch_types="eeg", verbose="error")
    raw = mne.io.RawArray(np.eye(n), info, verbose="error")
    montage = mne.channels.make_standard_montage(POSITIONS_MONTAGE)
    try:
        raw.set_montage(montage, match_case=False, on_missing="raise", verbose="error")
    except ValueError as exc:
        raise CalibrationError(f"cannot repair channels: {exc}") from exc
    raw.info["bads"] = bad
    raw.interpolate_bads(reset_bads=True, mode="accurate", origin=(0.0, 0.0, 0.04), verbose="error")
    matrix = raw.get_data()
    good = [i for i, c in enumerate(names) if c not in bad]
    matrix[good] = np.eye(n)[good]
    return matrix
