"""Stateful streaming filters: chunked output equals one-shot output.

- :class:`StreamingBandpass`: causal Butterworth band-pass (``sosfilt`` with ``zi`` carried across
  chunks; the initial state is ``sosfilt_zi`` scaled by the first sample, so a DC offset causes no
  onset transient).
- :class:`StreamingResampler`: rational polyphase FIR resampler (the Kaiser-window design of
  ``scipy.signal.resample_poly``) with carried input history. Causal: output sample ``m`` depends on
  input up to ``floor(m * down / up)``; its linear-phase delay is reported by
  :attr:`StreamingResampler.delay_s` and :meth:`output_times` compensates it.
"""

from __future__ import annotations

import functools
from fractions import Fraction

import numpy as np
from scipy import signal as sps

from bci_app.errors import ConfigError, StreamError


def design_bandpass(sfreq: float, l_freq: float, h_freq: float, order: int) -> np.ndarray:
    """Butterworth band-pass as second-order sections (``order`` per edge, ``2*order`` poles)."""
    nyq = sfreq / 2.0
    if not 0 < l_freq < h_freq < nyq:
        raise ConfigError(
            f"band-pass edges must satisfy 0 < l_freq < h_freq < sfreq/2 = {nyq:g} Hz; "
            f"got l_freq={l_freq:g}, h_freq={h_freq:g}. Lower h_freq or raise the sampling rate."
        )
    if order < 1:
        raise ConfigError(f"filter order must be >= 1, got {order}")
    return sps.butter(order, [l_freq, h_freq], btype="bandpass", fs=sfreq, output="sos")


@functools.lru_cache(maxsize=64)
def _bandpass_design(sfreq: float, l_freq: float, h_freq: float, order: int) -> tuple[np.ndarray, np.ndarray]:
    """``(sos, sosfilt_zi(sos))`` of :func:`design_bandpass`, read-only, designed once per parameters:
    a design costs 3-35 ms (more on a loaded machine), and the decoder, the calibration check and
    the report build the same filters on the UI thread again and again."""
    sos = design_bandpass(sfreq, l_freq, h_freq, order)
    zi = sps.sosfilt_zi(sos)
    sos.flags.writeable = zi.flags.writeable = False
    return sos, zi


class StreamingBandpass:
    """Causal band-pass over ``(n_chans, n_times)`` chunks with state carried between calls."""

    def __init__(self, sfreq: float, l_freq: float, h_freq: float, order: int, n_chans: int) -> None:
        self.sfreq = float(sfreq)
        self.n_chans = int(n_chans)
        sos, zi = _bandpass_design(float(sfreq), float(l_freq), float(h_freq), int(order))
        self.sos = sos.copy()  # scipy's sosfilt wants a writable array
        self._zi_unit = zi[:, None, :]  # (n_sections, 1, 2)
        self._zi: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the state; the next chunk re-initialises it from its first sample."""
        self._zi = None

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Filter ``chunk`` (n_chans, n) and return the filtered (n_chans, n) float64."""
        x = np.asarray(chunk, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != self.n_chans:
            raise StreamError(f"expected a chunk of shape ({self.n_chans}, n), got {x.shape}")
        if x.shape[1] == 0:
            return x.copy()
        if self._zi is None:
            self._zi = self._zi_unit * x[None, :, 0:1]
        y, self._zi = sps.sosfilt(self.sos, x, axis=-1, zi=self._zi)
        return y


def _pairwise_sum(terms: np.ndarray) -> np.ndarray:
    """Sum ``terms`` (..., n) over its last axis in one fixed pairwise order that depends on ``n``
    alone (never on the other axes' sizes, memory layout or numpy's reduction strategy), so
    outputs computed in chunks of any size are bit-identical."""
    while terms.shape[-1] > 1:
        half = terms.shape[-1] // 2
        paired = terms[..., :half] + terms[..., half : 2 * half]
        terms = paired if terms.shape[-1] % 2 == 0 else np.concatenate([paired, terms[..., 2 * half :]], axis=-1)
    return terms[..., 0]


class StreamingResampler:
    """Rational resampler ``sfreq_in`` → ``sfreq_out`` over chunks, equal to one-shot processing.

    Equivalent to ``scipy.signal.upfirdn(h, x, up, down)`` (with ``h`` scaled by ``up``) computed
    sample by sample with the input history kept between calls; the input before the first sample
    counts as zeros (the band-passed signal starts near zero). Each output's products are summed in
    one fixed pairwise order (:func:`_pairwise_sum`) in a few vectorised steps: a chunk of one or two
    samples (the online decoder's 1 ms polls at 2048 Hz) costs tens of microseconds, not one numpy
    call per filter lag (257 at 2048 -> 160 Hz).
    """

    #: elements of the (n_chans, outputs, n_lags) product array computed at once
    _BLOCK = 1 << 17

    def __init__(self, sfreq_in: float, sfreq_out: float, n_chans: int, *, max_denominator: int = 1000) -> None:
        ratio = Fraction(float(sfreq_out) / float(sfreq_in)).limit_denominator(max_denominator)
        if ratio <= 0:
            raise ConfigError(f"cannot resample {sfreq_in} Hz → {sfreq_out} Hz")
        self.sfreq_in = float(sfreq_in)
        self.sfreq_out = float(sfreq_out)
        self.up, self.down = ratio.numerator, ratio.denominator
        self.n_chans = int(n_chans)
        max_rate = max(self.up, self.down)
        half_len = 10 * max_rate
        h = sps.firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0)) * self.up
        self.n_taps = h.size
        self.half_len = half_len
        #: polyphase taps: phases[p, q] = h[p + q*up]  (p = phase, q = input lag)
        self.n_lags = -(-h.size // self.up)
        padded = np.zeros(self.n_lags * self.up)
        padded[: h.size] = h
        self.phases = padded.reshape(self.n_lags, self.up).T.copy()
        self._taps_reversed = np.ascontiguousarray(self.phases[:, ::-1])  # [p, r]: lag n_lags - 1 - r
        self.reset()

    @property
    def delay_s(self) -> float:
        """Linear-phase group delay of the anti-aliasing FIR, seconds."""
        return self.half_len / (self.up * self.sfreq_in)

    def reset(self) -> None:
        self._hist = np.zeros((self.n_chans, self.n_lags - 1))  # last n_lags-1 input samples
        self._n_in = 0  # input samples consumed so far
        self._n_out = 0  # output samples produced so far

    def _n_ready(self, n_in: int) -> int:
        """Outputs computable once ``n_in`` inputs are known: m with floor(m*down/up) <= n_in-1."""
        if n_in <= 0:
            return 0
        return (n_in * self.up - 1) // self.down + 1

    def process(self, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Resample ``chunk`` (n_chans, n). Returns ``(out (n_chans, k), m (k,))`` where ``m`` are the
        global output indices (to derive timestamps with :meth:`output_times`)."""
        x = np.asarray(chunk, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != self.n_chans:
            raise StreamError(f"expected a chunk of shape ({self.n_chans}, n), got {x.shape}")
        n = x.shape[1]
        buf = np.concatenate([self._hist, x], axis=1)  # buf[:, i] is input index base + i
        base = self._n_in - (self.n_lags - 1)
        n_total = self._n_in + n
        m = np.arange(self._n_out, self._n_ready(n_total))
        out = np.empty((self.n_chans, m.size))
        if m.size:
            pos = m * self.down
            j0 = pos // self.up - base  # column in buf of the newest input used (>= n_lags - 1)
            phase = pos % self.up
            # windows[c, j, r] = buf[c, j + r]: output i uses window j0_i - (n_lags - 1), lags reversed
            windows = np.lib.stride_tricks.sliding_window_view(buf, self.n_lags, axis=1)
            taps = self._taps_reversed[phase]  # (k, n_lags)
            step = max(1, self._BLOCK // (self.n_lags * self.n_chans))
            for a in range(0, m.size, step):  # bounded memory for long chunks (training)
                sl = slice(a, a + step)
                out[:, sl] = _pairwise_sum(windows[:, j0[sl] - (self.n_lags - 1), :] * taps[sl])
        self._hist = buf[:, buf.shape[1] - (self.n_lags - 1):].copy()
        self._n_in = n_total
        self._n_out += m.size
        return out, m

    def output_times(self, m: np.ndarray, input_time) -> np.ndarray:
        """Timestamps of outputs ``m``, delay-compensated: input index ``(m*down - half_len)/up``
        mapped to time by ``input_time(fractional_index)``."""
        return input_time((m * self.down - self.half_len) / self.up)
