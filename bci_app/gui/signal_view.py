"""Scrolling multichannel traces, per-channel quality badges and a spectrum / band-power view.

A thin view: it pulls ``stream.get_data(winsize, rows)`` when :meth:`SignalView.refresh` is called
(by the main window's ~30 Hz timer); curves are created once per source and updated with ``setData``.
Large caps are paged (:data:`PAGE_SIZE` channels at a time, a page selector) and long windows are drawn
as a min/max envelope of :data:`MAX_BINS` bins (what a screen can show anyway) kept up to date from the
new samples only (:class:`TraceEnvelope`), so a 256-channel cap at 2048 Hz draws about as cheaply as
16 channels at 200 Hz. A page of 16 traces stays readable in the signal plot of a 1366 x 768 laptop
(32 left each about 13 px) and is half the drawing of 32: the 64-channel frame's one path of 32
traces alone was 4 ms of the UI thread's 16. Quality and spectra come from
the Qt-free :mod:`bci_app.signal.quality` for the channels shown, recomputed at ~2 Hz in steps, one a
frame (the numbers, then the badges, then the spectrum), never in the frame that draws a new source
first: the three at once with a new source's first frame held the UI thread ~20 ms with 64 channels.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from bci_app.signal.quality import BETA_BAND, MU_BAND, band_power, channel_quality, power_spectrum
from bci_app.units import VOLTS_PER_MICROVOLT

log = logging.getLogger(__name__)

AMPLITUDES_UV = (10, 20, 50, 100, 200, 500)
TIME_SPANS_S = (2, 5, 10, 20)
BADGE_STYLE = {
    "ok": "background:#2e7d32;color:white",
    "flat": "background:#616161;color:white",
    "railed": "background:#6a1b9a;color:white",
    "noisy": "background:#c62828;color:white",
    "line_noise": "background:#ef6c00;color:white",
}
PAGE_SIZE = 16  #: channels drawn at once (about 26 px a trace on a 768-px screen); larger caps get a page selector
MAX_BINS = 600  #: time bins per trace (about 2 px each): longer windows are drawn as their min/max envelope
BANDS = {"θ 4-8": (4.0, 8.0), "μ 8-13": MU_BAND, "β 13-30": BETA_BAND, "γ 30-45": (30.0, 45.0)}
RIGHT_MIN_WIDTH = 300  #: px of the spectrum column: its title and the band names never overlap or clip


def decade_range(values: np.ndarray) -> tuple[float, float]:
    """The whole decades (log10) around positive ``values``: a spectrum's log axis range that moves
    only when the power crosses a decade, so its axis is not laid out again every update (pyqtgraph's
    auto-range regenerated its ticks and labels each time: 10-20 ms of a frame now and then)."""
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size == 0:
        return -1.0, 1.0
    lo, hi = float(np.floor(np.log10(positive.min()))), float(np.ceil(np.log10(positive.max())))
    return lo, max(hi, lo + 1.0)


def nice_ceiling(value: float) -> float:
    """The next of 1, 2, 5 x 10^k at or above ``value`` (> 0): a bar chart's upper limit that moves
    only in steps. 1.0 for non-positive or non-finite values."""
    if not np.isfinite(value) or value <= 0:
        return 1.0
    k = np.floor(np.log10(value))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * 10**k >= value:
            return float(m * 10**k)
    return float(10 ** (k + 1))


def held_decades(current: tuple[float, float], new: tuple[float, float]) -> tuple[float, float]:
    """The spectrum's decade range after an update: ``current`` while it holds ``new`` and is at most
    one decade wider, else ``new`` (a mean of few channels crosses a decade now and then; laying the
    axis out again each time is a long frame)."""
    holds = current[0] <= new[0] and new[1] <= current[1]
    return current if holds and (current[1] - current[0]) - (new[1] - new[0]) <= 1 else new


def held_ceiling(current: float, new: float) -> float:
    """The bars' limit after an update: ``current`` while ``new`` (a :func:`nice_ceiling`) is at most
    it and not below a fifth of it (two 1-2-5 steps), else ``new``."""
    return current if current / 5 <= new <= current else new


class TraceEnvelope:
    """The min/max envelope of the newest ``n_bins`` bins of ``per`` samples of the channels ``rows``
    of a stream, kept up to date from the samples that arrived since the last call: only the new
    bins are computed each frame (a 256-channel cap at 2048 Hz over 20 s is 41 k samples a channel)."""

    def __init__(self, stream, rows: slice, per: int, n_bins: int) -> None:
        self.stream, self.rows, self.per, self.n_bins = stream, rows, int(per), int(n_bins)
        self.next: int | None = None  # absolute index of the next sample to bin
        self.count = 0  # valid bins (the newest ``count`` columns)
        self.lo = self.hi = None
        self.t_first = np.zeros(self.n_bins)
        self.t_last = np.zeros(self.n_bins)
        self._carry: tuple[np.ndarray, np.ndarray] | None = None

    def update(self) -> None:
        stream = self.stream
        buf = stream.buffer
        if self.next is None:
            self.next = max(buf.n_written - buf.n_available, buf.n_written - self.per * self.n_bins)
        res = stream.read_since(self.next)
        if res.n_lost:  # fell behind the buffer: start over from what it holds
            self.count, self._carry = 0, None
        self.next = res.next_index
        data, times = res.data[self.rows], res.timestamps
        if self._carry is not None:
            data = np.concatenate([self._carry[0], data], axis=1)
            times = np.concatenate([self._carry[1], times])
        k = data.shape[1] // self.per
        used = k * self.per
        self._carry = (data[:, used:], times[used:]) if used < data.shape[1] else None
        if k == 0:
            return
        if self.lo is None:
            self.lo = np.zeros((data.shape[0], self.n_bins), dtype=data.dtype)
            self.hi = np.zeros_like(self.lo)
        if k > self.n_bins:  # only the newest bins matter
            skip = (k - self.n_bins) * self.per
            data, times, used, k = data[:, skip:used], times[skip:used], used - skip, self.n_bins
        bins = data[:, :used].reshape(data.shape[0], k, self.per)
        tb = times[:used].reshape(k, self.per)
        for arr in (self.lo, self.hi, self.t_first, self.t_last):
            arr[..., :-k] = arr[..., k:]
        self.lo[:, -k:] = bins.min(axis=2)
        self.hi[:, -k:] = bins.max(axis=2)
        self.t_first[-k:] = tb[:, 0]
        self.t_last[-k:] = tb[:, -1]
        self.count = min(self.n_bins, self.count + k)

    def trace(self) -> tuple[np.ndarray, np.ndarray]:
        """``(times (2 * count,), values (n_rows, 2 * count))``: each bin's min at its first sample's
        time and max at its last's, oldest first."""
        c = self.count
        x = np.column_stack([self.t_first[-c:], self.t_last[-c:]]).ravel()
        y = np.stack([self.lo[:, -c:], self.hi[:, -c:]], axis=2).reshape(self.lo.shape[0], 2 * c)
        return x, y


class QualityBadges(QtWidgets.QWidget):
    """A grid of small labels, one per channel, coloured by its quality flag."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._grid = QtWidgets.QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        self._labels: list[QtWidgets.QLabel] = []
        self._shown: list[str] = []

    def set_channels(self, ch_names) -> None:
        for label in self._labels:
            label.deleteLater()
        self._labels, self._shown = [], []
        cols = 16
        for i, name in enumerate(ch_names):
            label = QtWidgets.QLabel(name)
            label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
            label.setMinimumWidth(34)
            self._grid.addWidget(label, i // cols, i % cols)
            self._labels.append(label)
            self._shown.append("")

    def set_quality(self, qualities) -> None:
        for i, q in enumerate(qualities[: len(self._labels)]):
            key = q.flags[0] if q.flags else "ok"
            state = f"{key}|{q.label}"
            if state == self._shown[i]:
                continue
            self._shown[i] = state
            self._labels[i].setStyleSheet(BADGE_STYLE[key] + ";border-radius:3px;padding:1px")
            self._labels[i].setToolTip(
                f"{q.name}: {q.label} (peak-to-peak {q.ptp_uv:.1f} µV, SD {q.rms_uv:.1f} µV, "
                f"mains ratio {q.line_ratio:.2f})"
            )

    def flags(self) -> list[str]:
        """The shown flag of each channel (for tests)."""
        return [s.split("|")[0] for s in self._shown]


class SignalView(QtWidgets.QWidget):
    """Traces of every channel of a stream, amplitude and time-span controls, badges, spectrum."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, *, quality_interval_s: float = 0.5) -> None:
        super().__init__(parent)
        self._stream = None
        self._envelope: TraceEnvelope | None = None
        self._curves: list[pg.PlotDataItem] = []
        self._ch_names: tuple[str, ...] = ()
        self._last_quality = 0.0
        #: what is left of the quality update under way, one step a frame (:meth:`_quality_steps`)
        self._steps: list = []
        self.quality_interval_s = quality_interval_s
        self.n_frames = 0
        self.last_n_times = 0
        self.last_quality = []

        self.amplitude = QtWidgets.QComboBox()
        self.amplitude.addItems([f"{a} µV" for a in AMPLITUDES_UV])
        self.amplitude.setCurrentIndex(2)
        self.amplitude.setToolTip("vertical scale: channel spacing")
        self.timespan = QtWidgets.QComboBox()
        self.timespan.addItems([f"{t} s" for t in TIME_SPANS_S])
        self.timespan.setCurrentIndex(1)
        self.page = QtWidgets.QComboBox()
        self.page.setToolTip(f"which {PAGE_SIZE} channels to draw")
        self.page.setVisible(False)
        self.info_label = QtWidgets.QLabel("No source connected")
        controls = QtWidgets.QHBoxLayout()
        controls.addWidget(QtWidgets.QLabel("Amplitude"))
        controls.addWidget(self.amplitude)
        controls.addWidget(QtWidgets.QLabel("Time span"))
        controls.addWidget(self.timespan)
        controls.addWidget(self.page)
        controls.addStretch(1)
        controls.addWidget(self.info_label)

        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setLabel("bottom", "time", units="s")
        self.plot.getPlotItem().getViewBox().setDefaultPadding(0.0)
        # one path for all channels (a NaN breaks it between channels): far cheaper to draw than one
        # item per channel at 64 channels; the view draws the whole window, already reduced to its
        # envelope (no clipping or downsampling). Made once: a new source reuses it (set_source)
        self._trace = self.plot.plot(pen=pg.mkPen("#263238", width=1))

        self.spectrum = pg.PlotWidget()
        self.spectrum.setMenuEnabled(False)
        self.spectrum.setLogMode(x=False, y=True)
        self.spectrum.setLabel("bottom", "frequency", units="Hz")
        self.spectrum.setLabel("left", "PSD (µV²/Hz)")
        self.spectrum.setTitle("Spectrum (mean of channels)")
        self.spectrum.getAxis("left").setStyle(maxTextLevel=0)  # decades only: minor log labels overlap
        self._spec_curve = self.spectrum.plot(pen=pg.mkPen("#1565c0", width=2))
        self.spectrum.disableAutoRange()  # ranges set in steps by draw_spectrum (decade_range)
        self.bands = pg.PlotWidget()
        self.bands.setMenuEnabled(False)
        self.bands.setTitle("Band power (µV²/Hz)")
        self.bands.setToolTip("mean power of the channels shown in the theta, mu, beta and gamma bands (Hz)")
        self._bars = pg.BarGraphItem(x=np.arange(len(BANDS)), height=np.zeros(len(BANDS)), width=0.6, brush="#43a047")
        self.bands.addItem(self._bars)
        self.bands.getAxis("bottom").setTicks([list(enumerate(BANDS))])
        self.bands.disableAutoRange()  # the bars' limit set in steps by draw_spectrum (nice_ceiling)
        self.bands.setXRange(-0.5, len(BANDS) - 0.5, padding=0.05)
        self._spectrum_ranges: tuple = ()

        self.badges = QualityBadges()
        right = QtWidgets.QVBoxLayout()
        right.addWidget(self.spectrum, 3)
        right.addWidget(self.bands, 2)
        right_w = QtWidgets.QWidget()
        right_w.setLayout(right)
        right_w.setMinimumWidth(RIGHT_MIN_WIDTH)  # the titles and the four band names stay readable
        split = QtWidgets.QSplitter()
        split.addWidget(self.plot)
        split.addWidget(right_w)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(split, 1)
        layout.addWidget(QtWidgets.QLabel("Channel quality (green ok · grey flat · purple railed · red noisy · orange mains)"))
        layout.addWidget(self.badges)
        self.amplitude.currentIndexChanged.connect(self._apply_layout)
        self.timespan.currentIndexChanged.connect(self._apply_layout)
        self.page.currentIndexChanged.connect(self._apply_layout)

    # -- source ---------------------------------------------------------------------------------
    @property
    def winsize(self) -> float:
        return float(TIME_SPANS_S[self.timespan.currentIndex()])

    @property
    def spacing_v(self) -> float:
        return AMPLITUDES_UV[self.amplitude.currentIndex()] * VOLTS_PER_MICROVOLT

    @property
    def page_rows(self) -> slice:
        """The source channels drawn now (the selected page)."""
        start = max(0, self.page.currentIndex()) * PAGE_SIZE
        return slice(start, min(start + PAGE_SIZE, len(self._ch_names)))

    def channel_trace(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) currently drawn for channel ``i`` of the page (seconds before now, volts with offset)."""
        x, y = self._curves[0].getData()
        n = self.last_n_times
        stride = n + 1  # each trace ends with a NaN that breaks the path before the next channel
        return x[i * stride:i * stride + n], y[i * stride:i * stride + n]

    def set_source(self, stream) -> None:
        """Show ``stream`` (a connected core ``Stream``) or nothing (``None``), on the view's one trace."""
        self._stream = stream
        self._steps = [lambda: None]  # the first frame of a source only draws; quality from the next
        self._last_quality = 0.0
        self._trace.setData([], [])
        self._curves = []
        self._spec_curve.setData([], [])
        self._spectrum_ranges = ()  # a new source's spectrum sets its own ranges, none held from the last
        if stream is None:
            self._ch_names = ()
            self.badges.set_channels(())
            self.info_label.setText("No source connected")
            return
        info = stream.info
        self._ch_names = tuple(info.ch_names)
        self._curves = [self._trace]
        n = len(self._ch_names)
        self.page.blockSignals(True)
        self.page.clear()
        self.page.addItems([f"channels {a + 1}–{min(a + PAGE_SIZE, n)} of {n}" for a in range(0, n, PAGE_SIZE)])
        self.page.blockSignals(False)
        self.page.setVisible(n > PAGE_SIZE)
        self.info_label.setText(f"{info.name}: {info.n_chans} channels at {info.sfreq:g} Hz")
        self._apply_layout()

    def _apply_layout(self) -> None:
        names = self._ch_names[self.page_rows]
        n = len(names)
        if not n:
            return
        self._steps = [lambda: None]  # another page: a quality update under way was for the one before
        self.badges.set_channels(names)
        ticks = [(-(i * self.spacing_v), name) for i, name in enumerate(names)]
        step = max(1, n // 32)
        self.plot.getAxis("left").setTicks([ticks[::step], []])
        self.plot.setYRange(-(n - 0.5) * self.spacing_v, 0.5 * self.spacing_v, padding=0)
        self.plot.setXRange(-self.winsize, 0, padding=0)

    # -- drawing --------------------------------------------------------------------------------
    def refresh(self) -> bool:
        """Pull the latest window and redraw; returns False when there is nothing to draw."""
        stream = self._stream
        if stream is None or not self._curves or not stream.connected:
            return False
        sfreq = stream.info.sfreq
        n_window = int(round(self.winsize * sfreq))
        if n_window > 2 * MAX_BINS:  # long windows: the envelope, only its new bins computed
            per, rows = n_window // MAX_BINS, self.page_rows
            env = self._envelope
            if env is None or env.rows != rows or env.per != per or env.stream is not stream:
                env = self._envelope = TraceEnvelope(stream, rows, per, MAX_BINS)
            env.update()
            if env.count < 2:
                self.last_n_times = 0
                return False
            x, data = env.trace()
            x = x - x[-1]
        else:
            data, times = stream.get_data(self.winsize, self.page_rows)
            if data.shape[1] < 2:
                self.last_n_times = data.shape[1]
                return False
            x = times - times[-1]
        n_times = data.shape[1]
        self.last_n_times = n_times
        mean = data.mean(axis=1)
        if not np.isfinite(mean).all():  # NaN/Inf samples: centre on the finite ones, draw the rest as 0
            data = np.where(np.isfinite(data), data, 0.0)
            mean = data.mean(axis=1)
        offsets = -np.arange(data.shape[0]) * self.spacing_v
        n_chans = data.shape[0]
        # one path for the page: each trace followed by a NaN ("finite" connection breaks the line
        # there), several times cheaper for pyqtgraph to turn into a QPainterPath than a connect array
        ys = np.full((n_chans, n_times + 1), np.nan)
        ys[:, :n_times] = data - mean[:, None] + offsets[:, None]
        xs = np.full(n_times + 1, np.nan)
        xs[:n_times] = x
        self._curves[0].setData(np.tile(xs, n_chans), ys.ravel(), connect="finite")
        self.n_frames += 1
        if self._steps:
            self._steps.pop(0)()
        elif time.monotonic() - self._last_quality >= self.quality_interval_s:
            self._last_quality = time.monotonic()
            self._steps = self._quality_steps(stream.get_data(2.0, self.page_rows)[0], sfreq)
            self._steps.pop(0)()
        return True

    def _quality_steps(self, data: np.ndarray, sfreq: float) -> list:
        """One quality update of the page's ``data`` (n_rows, n_times) volts as steps, one a frame:
        the channels' quality and spectrum (one Welch for both), the badges, the spectrum and bands."""
        span = data[:, -int(2 * sfreq):]
        spectrum: list = []

        def measure() -> None:
            if span.shape[1] >= 16:
                spectrum.append(power_spectrum(span, sfreq))
            self.last_quality = channel_quality(span, sfreq, self._ch_names[self.page_rows],
                                                spectrum=spectrum[0] if spectrum else None)

        def draw_spectrum() -> None:
            if not spectrum or span.shape[1] < int(sfreq):  # ≥ 1 s: 1 Hz resolution
                return
            freqs, psd = spectrum[0]
            keep = (freqs > 0) & (freqs <= min(60.0, sfreq / 2))
            mean_psd = psd.mean(axis=0) * 1e12  # V²/Hz → µV²/Hz
            self._spec_curve.setData(freqs[keep], np.maximum(mean_psd[keep], 1e-6), skipFiniteCheck=True)
            heights = [
                float(band_power(freqs, mean_psd[None, :], band)[0]) if band[1] < sfreq / 2 else 0.0
                for band in BANDS.values()
            ]
            self._bars.setOpts(height=heights)
            shown = (freqs[keep][-1], decade_range(mean_psd[keep]), nice_ceiling(max(heights)))
            if self._spectrum_ranges:  # a range that still holds the values and is not far wider stays
                shown = (shown[0], held_decades(self._spectrum_ranges[1], shown[1]),
                         held_ceiling(self._spectrum_ranges[2], shown[2]))
            if shown != self._spectrum_ranges:  # axes laid out again only when a range changes
                self._spectrum_ranges = shown
                self.spectrum.setXRange(0.0, float(shown[0]), padding=0.02)
                self.spectrum.setYRange(*shown[1], padding=0)
                self.bands.setYRange(0.0, shown[2], padding=0)

        return [measure, lambda: self.badges.set_quality(self.last_quality), draw_spectrum]
