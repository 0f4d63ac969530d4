"""The ONE preprocessing path shared by training and online decoding.

Continuous stage (stateful, causal, chunk-invariant) — :class:`StreamingPreprocessor`:
    select channels by name → causal band-pass (source rate) → resample to the model rate →
    preallocated ring of processed samples (volts) with timestamps.
Window stage (stateless) — :func:`final_step` (with a spec: :func:`finalize_window`):
    per-window, per-channel demean → ``* spec.scale`` → Euclidean alignment ``R @ x`` → float32.

Online: ``push`` each chunk, then ``finalize_window(pre.latest_window(n_times)[0], spec)``.
Training: :func:`preprocess_recording` pushes the recording through the same class in chunks, then
windows are cut (:func:`cut_windows`) and finalized with the same :func:`finalize_window`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from bci_app.errors import CalibrationError, ConfigError, StreamError
from bci_app.signal.channels import match_channels
from bci_app.signal.filters import StreamingBandpass, StreamingResampler
from bci_app.units import MICROVOLTS_PER_VOLT, VOLTS_PER_MICROVOLT

if TYPE_CHECKING:
    from bci_app.config import PreprocessingConfig
    from bci_app.types import Recording

SPEC_VERSION = 1


@dataclass(frozen=True)
class PreprocessingSpec:
    """Everything needed to turn raw samples into model input; saved with models and adapters.

    ch_names: model channels in model order. sfreq: model rate (Hz). l_freq/h_freq: band-pass
    edges (Hz). filter_order: Butterworth order per edge. scale: factor applied after demeaning
    (1e6: volts → µV). alignment: Euclidean-alignment matrix (n_chans, n_chans) as nested tuples,
    or None. repair: bad-channel repair (n_chans, n_chans), a fixed linear map applied to the
    band-passed samples in the continuous stage (rows of the ``repaired`` channels hold their
    spherical-spline interpolation from the others, every other row is the identity), or None.
    missing: model channels the headset does not have; the continuous stage feeds zeros for them and
    the repair matrix (which must list them in ``repaired``) fills them from the present channels.
    """

    ch_names: tuple[str, ...]
    sfreq: float
    l_freq: float = 4.0
    h_freq: float = 40.0
    filter_order: int = 4
    scale: float = 1e6
    alignment: tuple[tuple[float, ...], ...] | None = None
    repair: tuple[tuple[float, ...], ...] | None = None
    repaired: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    _alignment_array: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    _repair_array: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ch_names", tuple(str(c) for c in self.ch_names))
        object.__setattr__(self, "sfreq", float(self.sfreq))
        if not self.ch_names:
            raise ConfigError("PreprocessingSpec needs at least one channel name")
        if not (np.isfinite(self.sfreq) and 0 < self.sfreq <= 100_000):
            raise ConfigError(f"PreprocessingSpec.sfreq must be in (0, 100000] Hz, got {self.sfreq}")
        if not (isinstance(self.scale, (int, float)) and np.isfinite(self.scale) and self.scale != 0):
            raise ConfigError(f"preprocessing scale must be a finite number other than 0, got {self.scale!r}")
        if not (isinstance(self.filter_order, int) and not isinstance(self.filter_order, bool)
                and 1 <= self.filter_order <= 8):
            raise ConfigError(f"preprocessing filter_order must be an integer from 1 to 8, got {self.filter_order!r}")
        if not 0 < self.l_freq < self.h_freq < self.sfreq / 2:
            raise ConfigError(
                f"band {self.l_freq}-{self.h_freq} Hz must lie inside (0, sfreq/2 = {self.sfreq / 2} Hz)"
            )
        if self.alignment is not None:
            arr = np.asarray(self.alignment, dtype=np.float64)
            n = len(self.ch_names)
            if arr.shape != (n, n) or not np.all(np.isfinite(arr)):
                raise ConfigError(
                    f"alignment matrix must be finite with shape ({n}, {n}) for {n} channels, got {arr.shape}"
                )
            arr.setflags(write=False)
            object.__setattr__(self, "alignment", tuple(tuple(float(v) for v in row) for row in arr))
            object.__setattr__(self, "_alignment_array", arr)
        object.__setattr__(self, "repaired", tuple(str(c) for c in self.repaired))
        object.__setattr__(self, "missing", tuple(str(c) for c in self.missing))
        if not set(self.missing) <= set(self.repaired):
            raise ConfigError(f"missing channels {sorted(set(self.missing) - set(self.repaired))} must be "
                              "interpolated by the repair matrix (listed in 'repaired')")
        if (self.repair is None) != (not self.repaired):
            raise ConfigError("a repair matrix and the names of the repaired channels go together")
        if self.repair is not None:
            arr = np.asarray(self.repair, dtype=np.float64)
            n = len(self.ch_names)
            unknown = [c for c in self.repaired if c not in self.ch_names]
            if arr.shape != (n, n) or not np.all(np.isfinite(arr)) or unknown:
                raise ConfigError(
                    f"repair matrix must be finite with shape ({n}, {n}) and name model channels, "
                    f"got {arr.shape} for {list(self.repaired)}"
                )
            arr.setflags(write=False)
            object.__setattr__(self, "repair", tuple(tuple(float(v) for v in row) for row in arr))
            object.__setattr__(self, "_repair_array", arr)

    @property
    def n_chans(self) -> int:
        return len(self.ch_names)

    @property
    def alignment_matrix(self) -> np.ndarray | None:
        """The alignment matrix as a read-only float64 array (or None)."""
        return self._alignment_array

    def with_alignment(self, matrix: np.ndarray | None) -> PreprocessingSpec:
        """A copy with ``matrix`` (n_chans, n_chans) as the alignment (None removes it)."""
        value = None if matrix is None else tuple(tuple(float(v) for v in row) for row in np.asarray(matrix))
        return replace(self, alignment=value)

    @property
    def repair_matrix(self) -> np.ndarray | None:
        """The bad-channel repair matrix as a read-only float64 array (or None)."""
        return self._repair_array

    def with_repair(self, matrix: np.ndarray | None, repaired: Sequence[str] = (),
                    missing: Sequence[str] = ()) -> PreprocessingSpec:
        """A copy repairing channels ``repaired`` (of which ``missing`` are absent at the source) with
        ``matrix`` (n_chans, n_chans); None removes repair and missing channels."""
        value = None if matrix is None else tuple(tuple(float(v) for v in row) for row in np.asarray(matrix))
        if matrix is None:
            return replace(self, repair=None, repaired=(), missing=())
        return replace(self, repair=value, repaired=tuple(repaired), missing=tuple(missing))

    @property
    def present_ch_names(self) -> tuple[str, ...]:
        """Model channels the source must provide (all but ``missing``)."""
        return tuple(c for c in self.ch_names if c not in self.missing)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (alignment as nested lists)."""
        return {
            "version": SPEC_VERSION,
            "ch_names": list(self.ch_names),
            "sfreq": self.sfreq,
            "l_freq": self.l_freq,
            "h_freq": self.h_freq,
            "filter_order": self.filter_order,
            "scale": self.scale,
            "alignment": None if self.alignment is None else [list(r) for r in self.alignment],
            **({"repair": [list(r) for r in self.repair], "repaired": list(self.repaired)} if self.repair else {}),
            **({"missing": list(self.missing)} if self.missing else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreprocessingSpec:
        """Inverse of :meth:`to_dict`; raises :class:`ConfigError` on missing or unknown keys."""
        if not isinstance(data, dict):
            raise ConfigError(f"preprocessing spec must be a mapping, got {type(data).__name__}")
        data = dict(data)
        version = data.pop("version", SPEC_VERSION)
        if version != SPEC_VERSION:
            raise ConfigError(f"preprocessing spec version {version} is not supported (expected {SPEC_VERSION})")
        known = {"ch_names", "sfreq", "l_freq", "h_freq", "filter_order", "scale", "alignment", "repair", "repaired",
                 "missing"}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown preprocessing spec key(s): {', '.join(sorted(unknown))}")
        missing = {"ch_names", "sfreq"} - set(data)
        if missing:
            raise ConfigError(f"preprocessing spec lacks required key(s): {', '.join(sorted(missing))}")
        align = data.pop("alignment", None)
        repair = data.pop("repair", None)
        repaired = data.pop("repaired", ())
        missing = data.pop("missing", ())
        try:
            return cls(**data, alignment=None if align is None else tuple(tuple(r) for r in align),
                       repair=None if repair is None else tuple(tuple(r) for r in repair), repaired=tuple(repaired),
                       missing=tuple(missing))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"invalid preprocessing spec: {exc}") from exc

    @classmethod
    def from_config(
        cls, config: PreprocessingConfig, ch_names: Sequence[str], sfreq: float
    ) -> PreprocessingSpec:
        """Spec from the ``preprocessing`` config section for a model's channels and rate."""
        return cls(
            ch_names=tuple(ch_names),
            sfreq=sfreq,
            l_freq=config.l_freq,
            h_freq=config.h_freq,
            filter_order=config.filter_order,
            scale=config.scale,
        )


class StreamingPreprocessor:
    """Channel selection + causal band-pass + resampling with state, into a preallocated ring.

    ``source_ch_names``/``source_sfreq`` describe the incoming chunks; ``capacity_s`` sizes the ring
    of processed samples (model rate). Not thread-safe: call from one thread.
    """

    def __init__(
        self,
        spec: PreprocessingSpec,
        source_sfreq: float,
        source_ch_names: Sequence[str],
        *,
        capacity_s: float = 30.0,
        error: type[Exception] = StreamError,
        source_ch_types: Sequence[str] | None = None,
    ) -> None:
        self.spec = spec
        self.source_sfreq = float(source_sfreq)
        self.source_ch_names = tuple(source_ch_names)
        self.picks = np.asarray(
            match_channels(self.source_ch_names, spec.present_ch_names, error=error, source="the EEG source",
                           types=source_ch_types),
            dtype=np.intp,
        )
        #: model rows fed from the source (the others are missing channels: zeros, filled by the repair)
        self._present_rows = np.asarray([i for i, c in enumerate(spec.ch_names) if c not in spec.missing], dtype=np.intp)
        if spec.h_freq >= self.source_sfreq / 2:
            raise error(
                f"source rate {self.source_sfreq:g} Hz is too low for the {spec.h_freq:g} Hz band edge; "
                f"it must exceed {2 * spec.h_freq:g} Hz"
            )
        n = spec.n_chans
        self.bandpass = StreamingBandpass(self.source_sfreq, spec.l_freq, spec.h_freq, spec.filter_order, n)
        self.resampler = (
            None if math.isclose(self.source_sfreq, spec.sfreq) else StreamingResampler(self.source_sfreq, spec.sfreq, n)
        )
        # recent input timestamps (global index → time) for resampler output times
        hist = (self.resampler.n_lags + 4) if self.resampler else 1
        self._ts_hist = np.zeros(hist)
        self._n_in = 0
        self.capacity = max(int(round(capacity_s * spec.sfreq)), 1)
        self._ring = np.zeros((n, self.capacity))
        self._ring_ts = np.zeros(self.capacity)
        self._write = 0
        self.n_total = 0  #: processed samples produced since the start (model rate)

    @property
    def n_available(self) -> int:
        """Processed samples currently in the ring."""
        return min(self.n_total, self.capacity)

    def reset(self) -> None:
        """Drop filter state, resampler history and the ring (e.g. after a stream gap)."""
        self.bandpass.reset()
        if self.resampler:
            self.resampler.reset()
        self._n_in = 0
        self._write = 0
        self.n_total = 0

    def _input_time(self, f: np.ndarray) -> np.ndarray:
        """Time of fractional global input index ``f`` from the recent timestamp history."""
        hist = self._ts_hist.size
        lo = max(self._n_in - hist, 0)
        i = np.clip(np.floor(f).astype(np.int64), lo, self._n_in - 1)
        return self._ts_hist[i % hist] + (f - i) / self.source_sfreq

    def process(self, chunk: np.ndarray, timestamps: np.ndarray, *, picked: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Process one chunk (n_source_chans, n) volts with timestamps (n,) seconds; with ``picked``,
        the chunk holds only the source rows :attr:`picks`, in that order (len(picks), n): what a
        decoder reads from the stream's buffer, so no other channel is ever copied.

        Returns ``(processed (n_chans, k) volts at the model rate, timestamps (k,))``; with resampling,
        timestamps are compensated for the resampler's linear-phase delay. Does not touch the ring.
        """
        x = np.asarray(chunk)
        ts = np.asarray(timestamps, dtype=np.float64)
        n_rows = len(self.picks) if picked else len(self.source_ch_names)
        if x.ndim != 2 or x.shape[0] != n_rows or ts.shape != (x.shape[1],):
            raise StreamError(
                f"expected a chunk ({n_rows}, n) with timestamps (n,), "
                f"got {x.shape} and {ts.shape}"
            )
        rows = x if picked else x[self.picks]
        if len(self._present_rows) == self.spec.n_chans:
            sel = rows
        else:
            sel = np.zeros((self.spec.n_chans, x.shape[1]), dtype=np.result_type(x.dtype, np.float64))
            sel[self._present_rows] = rows
        y = self.bandpass.process(sel)
        R = self.spec.repair_matrix
        if R is not None:
            y = R @ y
        if self.resampler is None:
            self._n_in += ts.size
            return y, ts.copy()
        hist = self._ts_hist.size
        idx = np.arange(self._n_in, self._n_in + ts.size)
        keep = slice(max(ts.size - hist, 0), ts.size)
        self._ts_hist[idx[keep] % hist] = ts[keep]
        self._n_in += ts.size
        out, m = self.resampler.process(y)
        return out, (self.resampler.output_times(m, self._input_time) if m.size else np.zeros(0))

    def push(self, chunk: np.ndarray, timestamps: np.ndarray, *, picked: bool = False) -> int:
        """Process a chunk (``picked``: see :meth:`process`) and append the result to the ring.
        Returns the number of new samples."""
        y, ts = self.process(chunk, timestamps, picked=picked)
        k = ts.size
        if k == 0:
            return 0
        if k > self.capacity:
            y, ts = y[:, -self.capacity:], ts[-self.capacity:]
        n = ts.size
        end = self._write + n
        if end <= self.capacity:
            self._ring[:, self._write:end] = y
            self._ring_ts[self._write:end] = ts
        else:
            first = self.capacity - self._write
            self._ring[:, self._write:] = y[:, :first]
            self._ring_ts[self._write:] = ts[:first]
            self._ring[:, : n - first] = y[:, first:]
            self._ring_ts[: n - first] = ts[first:]
        self._write = end % self.capacity
        self.n_total += k
        return k

    def latest_window(self, n_times: int, out: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        """The newest ``n_times`` processed samples ``(n_chans, n_times)`` volts (a copy, or written
        into ``out``) and the timestamp of the last one. Raises :class:`StreamError` when fewer are
        available."""
        if n_times > self.n_available:
            raise StreamError(
                f"only {self.n_available} processed samples available, {n_times} requested; "
                "wait for more data (or enlarge capacity_s)"
            )
        if out is None:
            out = np.empty((self.spec.n_chans, n_times))
        start = (self._write - n_times) % self.capacity
        if start + n_times <= self.capacity:
            out[:] = self._ring[:, start:start + n_times]
        else:
            first = self.capacity - start
            out[:, :first] = self._ring[:, start:]
            out[:, first:] = self._ring[:, : n_times - first]
        return out, float(self._ring_ts[(self._write - 1) % self.capacity])

    def latest_timestamps(self, n_times: int) -> np.ndarray:
        """Timestamps (n_times,) of the newest ``n_times`` processed samples."""
        if n_times > self.n_available:
            raise StreamError(f"only {self.n_available} processed samples available, {n_times} requested")
        idx = (self._write - n_times + np.arange(n_times)) % self.capacity
        return self._ring_ts[idx]


def final_step(windows: np.ndarray, scale: float, alignment: np.ndarray | None = None,
               out: np.ndarray | None = None) -> np.ndarray:
    """The one last step before the model, for training, pretraining, the report's scores and the
    decoder: per window, per-channel demean, ``* scale``, Euclidean alignment ``R @ x`` (float64),
    then float32.

    windows: (n_chans, n_times) or (n_windows, n_chans, n_times) volts; scale: e.g. 1e6 (volts → µV);
    alignment: ``R`` (n_chans, n_chans) or None. Returns float32 of the same shape, into ``out`` when
    given. A stack is computed window by window with the same operations as one window, so a window
    gives bit-identical model input whether the decoder or a training batch finalises it. (The
    decoder's folded path, :mod:`bci_app.online.fast`, folds this step into its first layer and is
    checked against it when a model loads.)
    """
    w = np.asarray(windows, dtype=np.float64)
    if w.ndim == 3:
        result = np.empty(w.shape, dtype=np.float32) if out is None else out
        for i in range(w.shape[0]):
            final_step(w[i], scale, alignment, out=result[i])
        return result
    if w.ndim != 2:
        raise StreamError(f"expected a window (n_chans, n_times) or windows (n, n_chans, n_times), got {w.shape}")
    x = (w - w.mean(axis=1, keepdims=True)) * scale
    if alignment is not None:
        x = alignment @ x
    if out is None:
        return x.astype(np.float32)
    out[:] = x
    return out


def finalize_window(window: np.ndarray, spec: PreprocessingSpec, out: np.ndarray | None = None) -> np.ndarray:
    """:func:`final_step` of a processed window (n_chans, n_times) volts with ``spec``'s scale and
    alignment. Returns float32 (n_chans, n_times)."""
    w = np.asarray(window)
    if w.ndim != 2 or w.shape[0] != spec.n_chans:
        raise StreamError(f"expected a window ({spec.n_chans}, n_times), got {w.shape}")
    return final_step(w, spec.scale, spec.alignment_matrix, out=out)


def finalize_windows(windows: np.ndarray, spec: PreprocessingSpec) -> np.ndarray:
    """:func:`final_step` of (n_windows, n_chans, n_times) volts with ``spec`` → float32, same shape."""
    w = np.asarray(windows)
    if w.ndim != 3 or w.shape[1] != spec.n_chans:
        raise StreamError(f"expected windows (n, {spec.n_chans}, n_times), got {w.shape}")
    return final_step(w, spec.scale, spec.alignment_matrix)


def preprocess_recording(
    recording: Recording, spec: PreprocessingSpec, *, chunk_s: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Run a whole recording through :class:`StreamingPreprocessor` in chunks of ``chunk_s``.

    Returns ``(processed (n_chans, n) volts at spec.sfreq, timestamps (n,))``. Raises
    :class:`CalibrationError` when the recording lacks model channels.
    """
    pre = StreamingPreprocessor(
        spec, recording.sfreq, recording.ch_names, capacity_s=1.0, error=CalibrationError
    )
    step = max(int(round(chunk_s * recording.sfreq)), 1)
    outs, times = [], []
    for start in range(0, recording.n_times, step):
        y, ts = pre.process(recording.data[:, start:start + step], recording.timestamps[start:start + step])
        outs.append(y)
        times.append(ts)
    if not outs:
        return np.zeros((spec.n_chans, 0)), np.zeros(0)
    return np.concatenate(outs, axis=1), np.concatenate(times)


def window_starts(timestamps: np.ndarray, onsets: np.ndarray, tmin: float, sfreq: float) -> np.ndarray:
    """Index of the sample nearest to ``onset + tmin`` for each onset (timestamps sorted)."""
    target = np.asarray(onsets, dtype=np.float64) + tmin
    idx = np.searchsorted(timestamps, target - 0.5 / sfreq, side="left")
    return idx


def cut_windows(
    data: np.ndarray, timestamps: np.ndarray, onsets: Sequence[float], tmin: float, n_times: int, sfreq: float
) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``n_times`` samples from ``onset + tmin`` for each onset of a continuous (n_chans, n) array.

    Returns ``(windows (n_ok, n_chans, n_times), ok mask (n_onsets,))``; windows that do not fit
    inside the data are left out (``ok`` False).
    """
    starts = window_starts(timestamps, np.asarray(onsets, dtype=np.float64), tmin, sfreq)
    ok = (starts >= 0) & (starts + n_times <= data.shape[1])
    if len(starts):
        # the sample found must really be near the requested time (no gaps / outside the data)
        near = np.zeros_like(ok)
        valid = starts < data.shape[1]
        near[valid] = np.abs(timestamps[starts[valid]] - (np.asarray(onsets)[valid] + tmin)) <= 1.0 / sfreq
        ok &= near
    windows = np.stack([data[:, s:s + n_times] for s in starts[ok]]) if ok.any() else np.zeros(
        (0, data.shape[0], n_times)
    )
    return windows, ok


def fit_euclidean_alignment(windows: np.ndarray, *, shrinkage: float = 1e-3) -> np.ndarray:
    """Euclidean alignment (He & Wu 2019): ``R^{-1/2}`` of the mean trial covariance, float64.

    ``windows``: (n_trials, n_chans, n_times), normally :func:`finalize_window` outputs of a spec
    without alignment. Each covariance ``x x^T / n_times`` is shrunk toward ``trace/n_chans * I``
    by ``shrinkage`` (so rank-deficient data, e.g. common-average referenced, still work).
    """
    x = np.asarray(windows, dtype=np.float64)
    if x.ndim != 3 or x.shape[0] < 1:
        raise CalibrationError(f"Euclidean alignment needs windows (n_trials, n_chans, n_times), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise CalibrationError("Euclidean alignment got NaN or Inf samples; reject those trials first")
    n_chans = x.shape[1]
    covs = np.einsum("nct,ndt->ncd", x, x) / x.shape[2]
    mean = covs.mean(axis=0)
    mean = (mean + mean.T) / 2
    nu = np.trace(mean) / n_chans
    if not nu > 0:
        raise CalibrationError("Euclidean alignment: the calibration windows are all zero (flat signal)")
    mean = (1 - shrinkage) * mean + shrinkage * nu * np.eye(n_chans)
    evals, evecs = np.linalg.eigh(mean)
    evals = np.maximum(evals, nu * 1e-10)
    return (evecs * (1.0 / np.sqrt(evals))) @ evecs.T


def reject_artifacts(
    epochs: np.ndarray, config: PreprocessingConfig, ch_names: Sequence[str] | None = None
) -> tuple[np.ndarray, list[str | None]]:
    """Flag bad trials of ``epochs`` (n_trials, n_chans, n_times) volts.

    Rules, checked per trial in this order (first hit is the reason):
    non-finite samples; flat (peak-to-peak below ``reject_flat_uv`` on any channel); railed (more
    than ``reject_railed_fraction`` of a channel's samples stuck at its min or its max); amplitude
    (a demeaned sample beyond ±``reject_amplitude_uv``). Returns ``(keep (n_trials,) bool,
    reasons)`` with ``None`` for kept trials and ``"<rule> (<channel>: <detail>)"`` otherwise; the
    channel is named from ``ch_names`` when given, else ``channel <index>``
    (:func:`summarize_rejections` counts them).
    """
    x = np.asarray(epochs, dtype=np.float64)
    if x.ndim != 3:
        raise CalibrationError(f"reject_artifacts expects (n_trials, n_chans, n_times), got {x.shape}")
    n_trials, n_chans, n_times = x.shape
    if ch_names is not None and len(ch_names) != n_chans:
        raise CalibrationError(f"reject_artifacts got {len(ch_names)} channel names for {n_chans} channels")

    def name(ch: int) -> str:
        return str(ch_names[ch]) if ch_names is not None else f"channel {ch}"

    keep = np.ones(n_trials, dtype=bool)
    reasons: list[str | None] = [None] * n_trials
    flat_v = config.reject_flat_uv * VOLTS_PER_MICROVOLT
    amp_v = config.reject_amplitude_uv * VOLTS_PER_MICROVOLT
    for i in range(n_trials):
        e = x[i]
        finite = np.isfinite(e)
        if not finite.all():
            ch = int(np.nonzero(~finite.all(axis=1))[0][0])
            keep[i], reasons[i] = False, f"NaN/Inf ({name(ch)}: samples not finite)"
            continue
        ptp = e.max(axis=1) - e.min(axis=1)
        if (ptp < flat_v).any():
            ch = int(np.argmin(ptp))
            keep[i], reasons[i] = False, f"flat ({name(ch)}: {ptp[ch] * MICROVOLTS_PER_VOLT:.2f} µV peak-to-peak)"
            continue
        at_max = (e == e.max(axis=1, keepdims=True)).sum(axis=1)
        at_min = (e == e.min(axis=1, keepdims=True)).sum(axis=1)
        railed = np.maximum(at_max, at_min) / n_times
        if (railed > config.reject_railed_fraction).any():
            ch = int(np.argmax(railed))
            keep[i], reasons[i] = False, f"railed ({name(ch)}: {railed[ch]:.0%} of samples at its limit)"
            continue
        peak = np.abs(e - e.mean(axis=1, keepdims=True)).max(axis=1)
        if (peak > amp_v).any():
            ch = int(np.argmax(peak))
            keep[i], reasons[i] = False, f"amplitude ({name(ch)}: {peak[ch] * MICROVOLTS_PER_VOLT:.0f} µV)"
    return keep, reasons


_REASON = re.compile(r"^(?P<rule>[^()]+?) \((?P<channel>[^:()]+):")


def summarize_rejections(reasons: Iterable[str | None]) -> dict[str, int]:
    """Count rejection reasons (from :func:`reject_artifacts`, or e.g. "marked rejected (1023) ...")
    by rule and channel, most frequent first: ``{"amplitude at FT8": 15, "flat at C3": 2}``. The
    operator sees at once whether one electrode spoils every trial (fix it) or blinks come and go."""
    counts: dict[str, int] = {}
    for reason in reasons:
        if reason is None:
            continue
        m = _REASON.match(reason)
        key = f"{m.group('rule')} at {m.group('channel')}" if m else reason
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
