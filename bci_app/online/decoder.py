"""Sliding-window online decoder.

Every ``step`` source samples (``online.step_s``, 62.5 ms by default) the decoder takes the model's
window ending at that sample from the shared :class:`~bci_app.signal.preprocess.StreamingPreprocessor`
(fed incrementally: only new samples are filtered), runs the model under ``torch.inference_mode``,
smooths the class probabilities and emits a frozen :class:`Prediction` to its subscribers (LSL
outlet, recorder, session, GUI).

Reproducibility: decisions are tied to **sample indices**, not to wall-clock time. The decision
whose window ends at source sample ``k`` (0-based from the start of the stream) exists iff
``(k + 1) % step == 0``, and the preprocessor has been fed exactly samples ``0..k`` when it is made.
So the same samples give the same decisions however they arrive (live in chunks, or replayed from
a file at any speed).

Gaps: a jump between consecutive sample timestamps larger than ``online.gap_threshold_s`` (or
samples lost to a buffer overrun) restarts the filters and the smoother; decisions resume once a
whole window plus ``online.settle_s`` of new data has been filtered. While the source is away no
samples arrive, so decoding simply pauses.

Channels: the decoder reads from the stream's buffer only the channels its model uses (16 of a
256-channel cap), so no per-sample work (copy, cleaning, filtering) ever touches the others.

Non-finite samples (NaN/Inf) are recorded as received by the recorder (it reads the stream, not
the decoder). On the model's channels the decoder replaces them by the channel's last finite value
before filtering (so the filter state stays finite) and makes **no decision** for any window that
contains one, nor for ``settle_s`` after it; :attr:`Decoder.counters` counts the skipped steps.
Channels the model does not use never stop decisions.

Latency of a prediction = ``time.perf_counter()`` when it is published minus the moment the
window's last sample entered the stream's ring buffer (:meth:`RingBuffer.arrival_time`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from bci_app.config import OnlineConfig
from bci_app.errors import ModelError, StreamError
from bci_app.online.fast import build_fast_model, merged_copy
from bci_app.signal.preprocess import PreprocessingSpec, StreamingPreprocessor, finalize_window

if TYPE_CHECKING:
    from bci_app.acquisition.base import Stream
    from bci_app.config import OnlineConfig, SmoothingConfig

log = logging.getLogger(__name__)

__all__ = ["DecoderCounters", "DecoderModel", "Decoder", "Prediction", "Smoother"]


@dataclass(frozen=True)
class Prediction:
    """One decision.

    timestamp: LSL-clock time (s) of the window's last sample; sample_index: its absolute index in
    the source stream; probabilities: smoothed class probabilities (sum 1) in ``classes`` order;
    raw_probabilities: before smoothing; label: argmax class name; latency_s: publish time minus
    the time the window's last sample entered the buffer (NaN when unknown); model: name of the
    model that decided; model_generation: increments at each :meth:`Decoder.install`.
    """

    timestamp: float
    sample_index: int
    probabilities: tuple[float, ...]
    raw_probabilities: tuple[float, ...]
    label: str
    classes: tuple[str, ...]
    latency_s: float
    model: str
    model_generation: int


@dataclass(frozen=True)
class DecoderModel:
    """What the decoder runs: an ATCNet (LoRA adapters allowed, merged for inference), its
    preprocessing spec (channels, rate, band, alignment) and class names in output order."""

    module: nn.Module
    spec: PreprocessingSpec
    classes: tuple[str, ...]
    name: str = "model"
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(self.classes))
        n_out = getattr(self.module, "n_outputs", None)
        if n_out is not None and n_out != len(self.classes):
            raise ModelError(f"model {self.name!r} has {n_out} outputs but {len(self.classes)} class names were given")
        n_chans = getattr(self.module, "n_chans", None)
        if n_chans is not None and n_chans != self.spec.n_chans:
            raise ModelError(
                f"model {self.name!r} expects {n_chans} channels but its preprocessing spec lists {self.spec.n_chans}"
            )
        sfreq = getattr(self.module, "sfreq", None)
        if sfreq is not None and not math.isclose(float(sfreq), self.spec.sfreq):
            raise ModelError(f"model {self.name!r} runs at {sfreq} Hz but its spec says {self.spec.sfreq} Hz")

    @property
    def n_times(self) -> int:
        return int(self.module.n_times)

    def prepare(self, fast: bool = True) -> DecoderModel:
        """Build what running it needs now (merge LoRA; with ``fast``: fold, trace and verify the fast
        path), so that a later :meth:`Decoder.install` or :meth:`Decoder.for_stream` costs nothing: call
        it on the training thread, never on the UI thread. The prepared runnable goes to the first
        decoder that runs the model (the next one builds its own: runnables hold buffers). Returns ``self``."""
        cache = self.__dict__.setdefault("_prepared", {})
        if fast not in cache:
            cache[fast] = build_fast_model(self.module, self.spec) if fast else merged_copy(self.module)
        return self

    def _runnable(self, fast: bool):
        """The prepared fast model or merged eager copy, handed over once (built now when not prepared)."""
        return self.prepare(fast).__dict__["_prepared"].pop(fast)


class Smoother:
    """Class-probability smoothing: ``exponential`` (``s = a p + (1 - a) s``), ``moving_average``
    (mean of the last ``window`` outputs) or ``none``. :meth:`reset` forgets the history."""

    def __init__(self, method: str = "exponential", alpha: float = 0.3, window: int = 8) -> None:
        if method not in ("exponential", "moving_average", "none"):
            raise ModelError(f"unknown smoothing method {method!r}; use exponential, moving_average or none")
        self.method, self.alpha, self.window = method, float(alpha), int(window)
        self.reset()

    @classmethod
    def from_config(cls, config: SmoothingConfig) -> Smoother:
        return cls(config.method, config.alpha, config.window)

    def reset(self) -> None:
        self._state: np.ndarray | None = None
        self._hist: deque[np.ndarray] = deque(maxlen=self.window)

    def __call__(self, p: np.ndarray) -> np.ndarray:
        if self.method == "none":
            return p
        if self.method == "exponential":
            self._state = p.copy() if self._state is None else self.alpha * p + (1.0 - self.alpha) * self._state
            return self._state
        self._hist.append(p)
        return np.mean(self._hist, axis=0)


@dataclass
class DecoderCounters:
    """Steps decided, steps skipped (not enough clean data yet / non-finite samples), restarts
    after gaps, samples lost to buffer overruns before the decoder read them, non-finite samples."""

    decisions: int = 0
    skipped_warmup: int = 0
    skipped_nonfinite: int = 0
    gaps: int = 0
    lost: int = 0
    non_finite_samples: int = 0


class _Active:
    """A model ready to run: its description plus the (fast or eager) callable."""

    def __init__(self, model: DecoderModel, fast: bool, generation: int) -> None:
        self.model = model
        self.generation = generation
        self.fast = model._runnable(True) if fast else None  # noqa: SLF001 - built once per model
        self.eager = None if fast else model._runnable(False)  # noqa: SLF001
        self.window = np.empty((model.spec.n_chans, model.n_times))

    def logits(self, window: np.ndarray) -> np.ndarray:
        if self.fast is not None:
            return self.fast(window)
        x = torch.from_numpy(finalize_window(window, self.model.spec))[None]
        with torch.inference_mode():
            return self.eager(x)[0].numpy()


def _filter_key(spec: PreprocessingSpec) -> tuple:
    """What the continuous (filter) stage depends on; alignment only matters per window."""
    return (tuple(spec.ch_names), spec.sfreq, spec.l_freq, spec.h_freq, spec.filter_order)


class LastFiniteHold:
    """Each source channel's last finite value, which stands in for its non-finite samples."""

    def __init__(self, n_channels: int) -> None:
        self.values = np.zeros(n_channels)

    def apply(self, seg: np.ndarray, picks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``seg`` (channels ``picks`` of the source, (n_picks, n)) with each non-finite value replaced
        by its channel's last finite one (``seg`` itself when all are finite), and the columns that
        held a non-finite value."""
        finite = np.isfinite(seg)
        if finite.all():
            self.values[picks] = seg[:, -1]
            return seg, _NO_COLUMNS
        seg = seg.copy()
        hold = self.values[picks]
        for j in range(seg.shape[1]):
            col = finite[:, j]
            seg[~col, j] = hold[~col]
            hold = seg[:, j].copy()
        self.values[picks] = hold
        return seg, np.nonzero(~finite.all(axis=0))[0]


_NO_COLUMNS = np.zeros(0, dtype=np.int64)


class Decoder:
    """Sliding-window decoder over one source.

    Parameters
    ----------
    model : the :class:`DecoderModel` to start with.
    source_sfreq, source_ch_names : what the incoming samples are (use :meth:`for_stream`).
    config : the ``online`` config section.
    fast : override ``config.fast`` (the folded/traced path; ``False``: finalize_window + eager model).
    start_index : absolute source index of the first sample fed (replays start where live did).

    Feed it with :meth:`feed` (arrays) or attach a stream with :meth:`for_stream` and call
    :meth:`poll` (or run :class:`~bci_app.online.runner.DecoderRunner`). Predictions go to
    :meth:`subscribe` callbacks in the feeding thread, in order.
    """

    def __init__(
        self,
        model: DecoderModel,
        source_sfreq: float,
        source_ch_names: Sequence[str],
        config: OnlineConfig | None = None,
        *,
        fast: bool | None = None,
        start_index: int = 0,
        source_ch_types: Sequence[str] | None = None,
    ) -> None:
        if config is None:
            config = OnlineConfig()
        self.config = config
        self.fast = config.fast if fast is None else bool(fast)
        self.source_sfreq = float(source_sfreq)
        self.source_ch_names = tuple(source_ch_names)
        #: channel types of the source: non-EEG ones (EOG, accelerometer, ...) never feed the model
        self.source_ch_types = None if source_ch_types is None else tuple(source_ch_types)
        self.step = max(1, int(round(config.step_s * self.source_sfreq)))
        self.counters = DecoderCounters()
        self.smoother = Smoother.from_config(config.smoothing)
        self._subscribers: list[Callable[[Prediction], None]] = []
        self._outputs: list[Callable[[Prediction], None]] = []
        self._lock = threading.Lock()  # guards _pending (install from any thread)
        self._generation = 0
        self._active = _Active(model, self.fast, self._generation)
        self._pending: _Active | None = None
        self._pre = self._make_preprocessor(model.spec)
        self._index = int(start_index)  # absolute index of the next source sample to feed
        self.start_index = int(start_index)  #: source index of the first sample this decoder filtered
        self._last_ts: float | None = None
        self._hold = LastFiniteHold(len(self.source_ch_names))
        self._ready_at = self._warmup_end(self._index)
        self._bad_until = -1  # decisions at indices <= this are suppressed (non-finite)
        self.stream: Stream | None = None
        self.last_prediction: Prediction | None = None

    # -- construction -----------------------------------------------------------------------------
    @classmethod
    def for_stream(
        cls, stream: Stream, model: DecoderModel, config: OnlineConfig | None = None, *, fast: bool | None = None,
        start_index: int | str | None = None,
    ) -> Decoder:
        """A decoder reading ``stream`` (connected) from its current newest sample on, or from the
        absolute sample ``start_index`` (a replay starts where the live decoder did; samples before
        it are never fed), or with ``start_index="buffered"`` from as far back in the stream's buffer
        as its warm-up needs (window + settling), so the first decision comes at once."""
        info = stream.info
        if start_index == "buffered":
            buf = stream.buffer
            warmup = int(math.ceil(model.n_times * info.sfreq / model.spec.sfreq))
            warmup += int(round((config or OnlineConfig()).settle_s * info.sfreq))
            first = max(buf.n_written - buf.n_available, buf.n_written - warmup)
        else:
            first = stream.buffer.n_written if start_index is None else int(start_index)
        dec = cls(model, info.sfreq, info.ch_names, config, fast=fast, start_index=first,
                  source_ch_types=info.ch_types)
        dec.stream = stream
        return dec

    @property
    def next_index(self) -> int:
        """Absolute source index of the next sample this decoder will read (all before it are fed)."""
        return self._index

    @property
    def next_decision_index(self) -> int:
        """Absolute source index of the sample that completes the next step: once it is in the
        stream's buffer, a :meth:`poll` makes the next decision (what the runner waits for)."""
        k0 = self._index
        return k0 + (-(k0 - self.start_index + 1)) % self.step

    @property
    def install_pending(self) -> bool:
        """Whether a model passed to :meth:`install` waits for the next :meth:`poll` to be swapped in."""
        return self._pending is not None

    def _make_preprocessor(self, spec: PreprocessingSpec) -> StreamingPreprocessor:
        cap = max(2.0 * self._active.model.n_times / spec.sfreq, 4.0)
        return StreamingPreprocessor(spec, self.source_sfreq, self.source_ch_names, capacity_s=cap, error=StreamError,
                                     source_ch_types=self.source_ch_types)

    def _window_source_samples(self) -> int:
        m = self._active.model
        return int(math.ceil(m.n_times * self.source_sfreq / m.spec.sfreq))

    def _warmup_end(self, start: int) -> int:
        """First source index whose window is all filtered data from ``start`` on, plus settling."""
        return start + self._window_source_samples() + int(round(self.config.settle_s * self.source_sfreq)) - 1

    # -- observers --------------------------------------------------------------------------------
    def add_output(self, sink: Callable[[Prediction], None]) -> Callable[[], None]:
        """A publisher (LSL outlet, recorder): called first for each decision, before the latency is
        taken (so it counts publishing); ``latency_s`` is NaN there. Returns a remove function."""
        self._outputs.append(sink)
        return lambda: self._outputs.remove(sink) if sink in self._outputs else None

    def subscribe(self, callback: Callable[[Prediction], None]) -> Callable[[], None]:
        """Call ``callback(prediction)`` for each decision, after publishing (``latency_s`` set);
        returns an unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    # -- models -----------------------------------------------------------------------------------
    @property
    def model(self) -> DecoderModel:
        return self._active.model

    @property
    def classes(self) -> tuple[str, ...]:
        return self._active.model.classes

    def install(self, model: DecoderModel) -> None:
        """Prepare ``model`` now (merge LoRA, fold, trace, verify: in the caller's thread) and swap it
        in atomically before the next step. Acquisition and filtering never pause; a model with the
        same channels, rate and band keeps the filter state, otherwise the new filters are primed
        from the stream's buffer (or decoding restarts its warm-up when no stream is attached)."""
        m = self._active.model
        if model.n_times != m.n_times and self.stream is None:
            log.info("new model has another window length; decoding restarts its warm-up")
        with self._lock:
            self._generation += 1
            generation = self._generation
        active = _Active(model, self.fast, generation)
        with self._lock:
            self._pending = active

    def _apply_pending(self) -> None:
        with self._lock:
            new, self._pending = self._pending, None
        if new is None:
            return
        old = self._active
        self._active = new
        if _filter_key(new.model.spec) != _filter_key(old.model.spec) or new.model.n_times > self._pre.capacity:
            self._pre = self._make_preprocessor(new.model.spec)
            if not self._prime_from_stream():
                self._ready_at = max(self._ready_at, self._warmup_end(self._index))
        if new.model.classes != old.model.classes:
            self.smoother.reset()
        log.info("decoder now runs %s (generation %d)", new.model.name, new.generation)

    def _prime_from_stream(self) -> bool:
        """Feed the new preprocessor the last window + settling samples already in the buffer."""
        if self.stream is None:
            return False
        need = self._window_source_samples() + int(round(self.config.settle_s * self.source_sfreq))
        start = self._index - need
        if start < 0:
            return False
        res = self.stream.read_since(start, rows=self._pre.picks)
        first = res.next_index - res.data.shape[1]  # absolute index of res.data[:, 0]
        if first > start or res.next_index < self._index:
            return False
        data = res.data[:, start - first : self._index - first]
        ts = res.timestamps[start - first : self._index - first]
        if not np.all(np.isfinite(data)) or (ts.size > 1 and np.max(np.diff(ts)) > self.config.gap_threshold_s):
            return False
        self._pre.push(data, ts, picked=True)
        return True

    # -- feeding ----------------------------------------------------------------------------------
    def poll(self) -> list[Prediction]:
        """Read every new sample of the attached stream and make the decisions they complete."""
        if self.stream is None:
            raise StreamError("this decoder has no stream attached; use Decoder.for_stream or feed()")
        self._apply_pending()  # before reading: a new model may use other channels
        if self.stream.buffer.n_written <= self._index:  # nothing new (or not yet at the start index)
            return []
        res = self.stream.read_since(self._index, rows=self._pre.picks)  # the model's channels alone
        if res.n_lost:
            self.counters.lost += res.n_lost
            log.warning("decoder fell behind: %d samples overwritten before it read them; restarting", res.n_lost)
            self._restart(self._index + res.n_lost)
            self._index += res.n_lost
        buffer = self.stream.buffer
        return self._feed(res.data, res.timestamps, buffer.arrival_time, picked=True)

    def feed(
        self, data: np.ndarray, timestamps: np.ndarray, *, arrival: Callable[[int], float] | None = None
    ) -> list[Prediction]:
        """Feed source samples (n_source_chans, n) volts with timestamps (n,); returns the predictions
        made (also sent to subscribers). ``arrival(index)`` gives the perf_counter time a sample
        entered the buffer (for latency); without it, the time of this call is used."""
        return self._feed(data, timestamps, arrival, picked=False)

    def _feed(self, data: np.ndarray, timestamps: np.ndarray, arrival: Callable[[int], float] | None, *,
              picked: bool) -> list[Prediction]:
        """:meth:`feed` of all source channels, or (``picked``) of the current model's channels alone
        (``self._pre.picks``, read by :meth:`poll`, which swaps a pending model in before reading)."""
        arrived = time.perf_counter()
        n = data.shape[1]
        out: list[Prediction] = []
        pos = 0
        while pos < n:
            if not picked:
                self._apply_pending()
            k0 = self._index
            # next decision index >= k0, on the step grid counted from the decoder's start (so a replay
            # of a recording that began elsewhere in the source's count decides on the same samples)
            nxt = self.next_decision_index
            end = min(n, pos + (nxt - k0) + 1)
            seg = data[:, pos:end] if picked else data[self._pre.picks, pos:end]
            ts = timestamps[pos:end]
            seg = self._clean(seg, k0)
            self._check_gap(ts, k0)
            self._pre.push(seg, ts, picked=True)
            self._last_ts = float(ts[-1])
            self._index = k0 + (end - pos)
            pos = end
            if self._index - 1 == nxt:
                p = self._decide(nxt, arrival(nxt) if arrival is not None else arrived)
                if p is not None:
                    out.append(p)
        return out

    def _clean(self, seg: np.ndarray, k0: int) -> np.ndarray:
        """``seg`` with its non-finite values held (:class:`LastFiniteHold`); decisions whose window
        holds one of them are suppressed."""
        seg, bad_cols = self._hold.apply(seg, self._pre.picks)
        if bad_cols.size:
            self.counters.non_finite_samples += bad_cols.size
            last_bad = k0 + int(bad_cols[-1])
            self._bad_until = max(self._bad_until, last_bad + self._window_source_samples()
                                  + int(round(self.config.settle_s * self.source_sfreq)) - 1)
        return seg

    def _check_gap(self, ts: np.ndarray, k0: int) -> None:
        thr = self.config.gap_threshold_s
        prev = self._last_ts
        if prev is not None and ts.size and ts[0] - prev > thr:
            self._restart(k0)
        elif ts.size > 1:
            jumps = np.nonzero(np.diff(ts) > thr)[0]
            if jumps.size:
                # restart at the first sample after the last jump; earlier samples of this segment
                # belong to the old run and no decision falls inside this segment before its end
                self._restart(k0 + int(jumps[-1]) + 1)

    def _restart(self, start: int) -> None:
        self.counters.gaps += 1
        self._pre.reset()
        self.smoother.reset()
        self._ready_at = max(self._ready_at, self._warmup_end(start))
        log.info("decoder: gap before sample %d; decisions resume at sample %d", start, self._ready_at)

    def _decide(self, index: int, arrived: float) -> Prediction | None:
        act = self._active
        if index < self._ready_at or self._pre.n_available < act.model.n_times:
            self.counters.skipped_warmup += 1
            return None
        if index <= self._bad_until:
            self.counters.skipped_nonfinite += 1
            return None
        window, ts = self._pre.latest_window(act.model.n_times, out=act.window)
        logits = act.logits(window).astype(np.float64)
        e = np.exp(logits - logits.max())
        raw = e / e.sum()
        smooth = self.smoother(raw)
        classes = act.model.classes
        label = classes[int(np.argmax(smooth))]
        pred = Prediction(
            timestamp=float(self._last_ts if self._last_ts is not None else ts),
            sample_index=index,
            probabilities=tuple(float(v) for v in smooth),
            raw_probabilities=tuple(float(v) for v in raw),
            label=label,
            classes=classes,
            latency_s=math.nan,
            model=act.model.name,
            model_generation=act.generation,
        )
        self.counters.decisions += 1
        for sink in list(self._outputs):
            sink(pred)  # publishing: LSL outlet, recorder
        latency = time.perf_counter() - arrived if math.isfinite(arrived) else math.nan
        pred = replace(pred, latency_s=latency)
        self.last_prediction = pred
        for cb in list(self._subscribers):
            cb(pred)
        return pred
