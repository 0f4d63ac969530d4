"""The one replay driver: a recording through the online :class:`~bci_app.online.decoder.Decoder`.

``bci-app replay``, ``bci-app evaluate`` and :meth:`bci_app.session.Session.start_replay` (the GUI's
replay panel) all decode a recording the same way: a :class:`~bci_app.acquisition.file.StreamFile`
plays it and a decoder attached with :func:`replay_decoder` reads it **from the sample where the live
decoder started** (``decoder_start_index``, logged with the live predictions). Decisions are tied to
sample indices, so the same model on the same samples makes the same decisions as live.

- :func:`replay_decoder`: the decoder for a connected file stream (the session runs it on its
  decoder thread, at the panel's speed on a real clock).
- :class:`Replay`: the headless loop (commands): a manual clock advanced one decoder step per
  ``acquire()`` (faster than real time, nothing dropped), optionally paced at ``speed`` × real time.
- :func:`live_predictions` / :func:`compare_predictions`: the decisions logged live, and their
  agreement with replayed ones matched by sample index (:class:`PredictionComparison`: the same,
  kept up to date as a replay runs).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bci_app.acquisition.file import StreamFile
from bci_app.clocks import ManualClock
from bci_app.errors import RecordingError
from bci_app.io.recording import read_recording, read_recording_apart
from bci_app.online.decoder import Decoder, DecoderModel, Prediction
from bci_app.online.outputs import RECORDED_STREAM
from bci_app.signal.quality import dead_recording
from bci_app.types import Recording

if TYPE_CHECKING:
    from bci_app.acquisition.file import StreamFile
    from bci_app.config import OnlineConfig

log = logging.getLogger(__name__)

__all__ = ["LoggedPrediction", "PredictionComparison", "Replay", "compare_predictions", "live_predictions", "live_start_index",
           "replay_decoder", "replay_stream"]


def live_start_index(recording: Recording) -> int:
    """Source sample index at which the live decoder started (``decoder_start_index`` of the logged
    predictions); 0 (the whole recording) when it holds no live predictions. A prediction stream
    without the index is logged as a warning and also gives 0."""
    live = recording.extra_streams.get(RECORDED_STREAM)
    if live is None:
        return 0
    try:
        return int(float(live["info"]["desc"][0]["decoder_start_index"][0]))
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        log.warning("%s: the live predictions do not say where the live decoder started (%s: %s); "
                    "replaying from the first sample, so early decisions may differ from the live ones",
                    recording.path, type(exc).__name__, exc)
        return 0


def replay_stream(path: str | Path, *, speed: float, clock: Callable[[], float], apart: bool = False) -> StreamFile:
    """A file stream (no acquisition thread) playing the recording at ``path`` at ``speed`` × real time
    on ``clock``, from the sample where its live decoder started (what comes before is released at
    once). ``apart``: read the file in a process of its own (:func:`~bci_app.io.recording.read_recording_apart`;
    the same recording, the app's interpreter free meanwhile). Raises
    :class:`~bci_app.errors.RecordingError` when the file cannot be read."""
    rec = read_recording_apart(path) if apart else read_recording(path)
    return StreamFile(rec, speed=speed, clock=clock, start_index=live_start_index(rec))


def replay_decoder(stream: StreamFile, model: DecoderModel, config: OnlineConfig, *,
                   start_index: int | None = None) -> Decoder:
    """A decoder reading the connected file ``stream`` from ``start_index`` (default: where the live
    decoder of the recording started, :func:`live_start_index`)."""
    if stream.recording is None:
        raise RecordingError("connect the file stream before attaching the replay decoder")
    if start_index is None:
        start_index = live_start_index(stream.recording)
    return Decoder.for_stream(stream, model, config, start_index=start_index)


class Replay:
    """Decode a recording headless, as fast as possible or paced at ``speed`` × real time.

    Parameters
    ----------
    source : a recording file or a loaded :class:`~bci_app.types.Recording`.
    model, config : the decoder model and the ``online`` config section.
    start_index : first source sample decoded (default: where the live decoder started).
    start_s : clock time (s) of the recording's first sample; decisions and :meth:`clock_time` use it
        (evaluate puts files on disjoint spans of one clock).
    speed : 0 (default) as fast as possible; X > 0 paces the decoding at X times real time.
    """

    def __init__(self, source: Path | str | Recording, model: DecoderModel, config: OnlineConfig, *,
                 start_index: int | None = None, start_s: float = 0.0, speed: float = 0.0) -> None:
        if not speed >= 0:
            raise RecordingError(f"replay speed must be >= 0 (0: as fast as possible), got {speed}")
        self.recording = source if isinstance(source, Recording) else read_recording(source)
        dead = dead_recording(self.recording)
        #: why the decisions of this replay mean nothing (every EEG channel dead), or None
        self.warning: str | None = None
        if dead:
            self.warning = f"{self.recording.path.name}: {dead}; its decisions reflect no brain signal"
            log.warning("%s", self.warning)
        self.speed = float(speed)
        self._clock = ManualClock(start_s)
        self.step = max(1, int(round(config.step_s * self.recording.sfreq)))
        self.stream = StreamFile(self.recording, speed=1.0, clock=self._clock, max_chunk=self.step,
                                 bufsize=30.0).connect()
        self.decoder = replay_decoder(self.stream, model, config, start_index=start_index)
        self.predictions: list[Prediction] = []
        rec, first = self.recording, self.decoder.start_index
        window_s = model.n_times / model.spec.sfreq
        if not 0 <= first < rec.n_times or (rec.n_times - first) / rec.sfreq < window_s:
            self.close()
            raise RecordingError(
                f"{rec.path} is too short to decode: {(rec.n_times - min(first, rec.n_times)) / rec.sfreq:.2f} s from "
                f"sample {first} of {rec.n_times}, the model's window is {window_s:g} s")

    @property
    def start_index(self) -> int:
        return self.decoder.start_index

    def clock_time(self, file_timestamp: float) -> float:
        """Clock time (s) at which the replay plays the recording's sample stamped ``file_timestamp``."""
        return self.stream.t0 + float(file_timestamp) - float(self.recording.timestamps[0])

    @property
    def now(self) -> float:
        """The replay clock (s): the time of the last sample released."""
        return self._clock.now

    def run(self, on_progress: Callable[[float, float], None] | None = None, *,
            progress_interval_s: float = 2.0) -> list[Prediction]:
        """Play the whole recording; returns every decision (also in :attr:`predictions`).

        ``on_progress(done_s, total_s)`` (recording seconds from the start index) is called about every
        ``progress_interval_s`` of wall time and once at the end. Ctrl+C stops it (KeyboardInterrupt)."""
        rec, dec, stream = self.recording, self.decoder, self.stream
        sfreq = rec.sfreq
        total = (rec.n_times - self.start_index) / sfreq
        # samples before the start index: released at once (the decoder ignores them)
        if self.start_index > 0:
            self._clock.set(self.clock_time(rec.timestamps[min(self.start_index, rec.n_times) - 1]))
            while stream.acquire():
                self.predictions += dec.poll()
        dt = self.step / sfreq
        wall0 = next_report = time.perf_counter()
        played0 = self._clock.now
        while not stream.finished:
            if on_progress is not None and time.perf_counter() >= next_report:
                on_progress(max(0.0, (dec.next_index - self.start_index) / sfreq), total)
                next_report += progress_interval_s
            self._clock.advance(dt)
            if self.speed > 0:
                delay = wall0 + (self._clock.now - played0) / self.speed - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            while stream.acquire():
                self.predictions += dec.poll()
        self.predictions += dec.poll()
        if on_progress is not None:
            on_progress(total, total)
        return self.predictions

    def close(self) -> None:
        self.stream.disconnect()


@dataclass(frozen=True)
class LoggedPrediction:
    """One decision read back from a recording: ``probabilities`` (smoothed, as published live) in
    ``classes`` order, the source ``sample_index`` it was made at, and its LSL ``timestamp`` (s)."""

    timestamp: float
    sample_index: int
    probabilities: tuple[float, ...]
    classes: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.classes[int(np.argmax(self.probabilities))]


def live_predictions(recording: Recording) -> list[LoggedPrediction]:
    """The predictions logged live in ``recording`` (stream ``bci-app-predictions``, written by the
    session); empty when it holds none."""
    live = recording.extra_streams.get(RECORDED_STREAM)
    if live is None:
        return []
    series = np.asarray(live["time_series"], dtype=np.float64)
    if series.ndim != 2 or series.shape[0] == 0:
        return []
    ts = np.asarray(live["time_stamps"], dtype=np.float64)
    try:
        classes = tuple(str(c) for c in live["info"]["desc"][0]["classes"][0]["class"])
    except (KeyError, IndexError, TypeError):
        classes = tuple(f"class {i}" for i in range(series.shape[1] - 1))
    # whole columns to Python numbers at once: per-value conversions took 24 ms for 10 minutes (9600 decisions)
    indices = series[:, -1].astype(np.int64).tolist()
    return [LoggedPrediction(t, i, tuple(p), classes)
            for t, i, p in zip(ts.tolist(), indices, series[:, :-1].tolist())]


class PredictionComparison:
    """Replayed decisions against those logged ``live``, matched by sample index, kept up to date as
    replayed decisions are :meth:`add`-ed (each sample index once, as a decoder decides them), so a
    window comparing a running replay does the work of the new decisions only; :meth:`result` is
    :func:`compare_predictions`'s."""

    def __init__(self, live: Sequence[LoggedPrediction]) -> None:
        self._live: dict[int, list[LoggedPrediction]] = {}
        for q in live:
            self._live.setdefault(int(q.sample_index), []).append(q)
        self.n_live, self.n_replayed, self.n_matched = len(live), 0, 0
        self._same, self._diff = 0, 0.0

    def add(self, replayed: Sequence) -> PredictionComparison:
        """Count the replayed decisions ``replayed`` (not added before)."""
        for p in replayed:
            self.n_replayed += 1
            for q in self._live.get(int(p.sample_index), ()):
                self.n_matched += 1
                self._same += p.label == q.label
                if len(p.probabilities) == len(q.probabilities):
                    self._diff = max(self._diff, float(np.max(np.abs(np.subtract(p.probabilities, q.probabilities)))))
        return self

    def result(self) -> dict:
        """``n_live``, ``n_replayed``, ``n_matched``, ``agreement`` (fraction of matched decisions with
        the same label; ``None`` without matches) and ``max_probability_difference``."""
        n = self.n_matched
        return {"n_live": self.n_live, "n_replayed": self.n_replayed, "n_matched": n,
                "agreement": self._same / n if n else None, "max_probability_difference": self._diff}


def compare_predictions(replayed: Sequence, live: Sequence[LoggedPrediction]) -> dict:
    """Match decisions by sample index (a sample index replayed twice counts its last decision):
    ``n_live``, ``n_replayed``, ``n_matched``, ``agreement`` (fraction of matched decisions with the
    same label; ``None`` without matches) and ``max_probability_difference``."""
    last = {int(p.sample_index): p for p in replayed}
    return {**PredictionComparison(live).add(list(last.values())).result(), "n_replayed": len(replayed)}
