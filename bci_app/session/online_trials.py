"""Cued online trials: the Graz paradigm cues the person while the decoder runs, every decision is
kept, and finished trials are scored with :func:`bci_app.online.scoring.score_trials`.

The one implementation behind the GUI's "Cued trials", the GUI demo and ``bci-app demo``
(through :meth:`bci_app.session.Session.start_online_trials`); :class:`CuedRuns` runs them one at a
time and keeps each finished run's labelled trials for co-adaptation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bci_app.errors import BCIError
from bci_app.online.scoring import Trial, score_trials
from bci_app.paradigm.timing import GrazParadigm, check_model_window
from bci_app.session.calibration import CalibrationTap
from bci_app.types import Marker, Recording
from bci_app.vocabulary import is_cue, window_tmin

if TYPE_CHECKING:
    from bci_app.config import ParadigmConfig
    from bci_app.online.decoder import Decoder, DecoderModel, Prediction
    from bci_app.paradigm.timing import ParadigmEvent
    from bci_app.session.observers import EventHub


class OnlineTrials:
    """One run of cued trials on ``decoder`` (see module doc).

    ``config``: the paradigm (its classes, counts and seed as given); ``tmin``: seconds from the cue
    to the model's window; ``window_s``: the model's window (s); ``sfreq``: the source's rate (Hz);
    ``record_marker(value, timestamp)``: where GDF codes go (the recording); ``on_event``: gets each
    paradigm event too (e.g. a simulated user imagining the cue); ``paradigm``: the cues' source
    (default a Graz paradigm of ``config``; e.g. :class:`bci_app.paradigm.external_cues.ExternalCues`).
    """

    def __init__(self, config: ParadigmConfig, clock: Callable[[], float], decoder: Decoder, *,
                 tmin: float, window_s: float, sfreq: float, record_marker: Callable[[str, float], None],
                 on_event: Callable[[ParadigmEvent], None] | None = None, paradigm: Any = None) -> None:
        self.classes = tuple(config.classes)
        self.tmin, self.window_s, self.sfreq = float(tmin), float(window_s), float(sfreq)
        self.trials: list[Trial] = []
        #: the run's samples and GDF markers: labelled trials for retraining (co-adaptation)
        self.tap = CalibrationTap(decoder.stream) if decoder.stream is not None else None
        self.markers: list[Marker] = []
        self._preds: list[Prediction] = []
        self._lock = threading.Lock()  # the decoder thread appends decisions
        imagery_s = config.imagery_end_s - config.cue_at_s
        self.paradigm: GrazParadigm = paradigm if paradigm is not None else GrazParadigm(config, clock)

        def on_paradigm(ev: ParadigmEvent) -> None:
            if is_cue(ev.code) and ev.label is not None:
                self.trials.append(Trial(ev.timestamp, ev.timestamp + imagery_s, ev.label))
            if ev.code is not None:
                record_marker(str(ev.code), ev.timestamp)
                self.markers.append(Marker(ev.timestamp, str(ev.code)))

        if on_event is not None:
            self.paradigm.subscribe(on_event)
        self.paradigm.subscribe(on_paradigm)
        self._unsubscribe: Callable[[], None] | None = decoder.subscribe(self._keep)

    def _keep(self, pred: Prediction) -> None:
        with self._lock:
            self._preds.append(pred)

    @property
    def active(self) -> bool:
        """Decisions are still being collected (not stopped)."""
        return self._unsubscribe is not None

    def start(self, start_at: float | None = None) -> None:
        """Start the paradigm (``start_at``: clock time of the first trial, default now)."""
        self.paradigm.start(start_at)

    def update(self) -> None:
        if not self.paradigm.finished:
            self.paradigm.update()
        if self.tap is not None and self.active:
            self.tap.poll()

    def labelled_recording(self) -> Recording | None:
        """The run so far as a recording with its GDF cues (trials to retrain on); None without a
        cue or without the stream's samples."""
        if self.tap is None or not any(is_cue(m.value) for m in self.markers):
            return None
        self.tap.poll()
        return self.tap.recording(list(self.markers))

    def stop(self) -> None:
        """Stop collecting decisions and abort an unfinished paradigm (the score so far stays)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if not self.paradigm.finished:
            self.paradigm.abort()

    def score(self) -> dict | None:
        """Score of the trials the decoder has passed the end of (``score_trials``' dict), ``None``
        before any."""
        with self._lock:
            preds = list(self._preds)
        last = preds[-1].timestamp if preds else -np.inf
        done = [t for t in self.trials if t.end <= last]
        if not done:
            return None
        return score_trials(preds, done, self.classes, tmin=self.tmin, window_s=self.window_s, sfreq=self.sfreq)

    def result(self) -> dict | None:
        """The final score: once the paradigm has finished and every trial is scored; else ``None``."""
        if not self.paradigm.finished:
            return None
        score = self.score()
        return score if score is not None and score["n_trials"] == len(self.trials) else None


class CuedRuns:
    """The session's cued online runs, one at a time (:attr:`trials`), and the labelled trials of
    every finished run (:attr:`data`, for co-adaptation). When a run ends (its last trial scored,
    or stopped), ``on_run(recording)`` gets its labelled trials (``None`` without any), once."""

    def __init__(self, hub: EventHub, on_run: Callable[[Recording | None], None]) -> None:
        self.trials: OnlineTrials | None = None
        self.data: list[Recording] = []
        self._hub, self._on_run = hub, on_run
        self._taken = True

    @property
    def paradigm(self) -> Any:
        """The paradigm of the cued online trials (``None`` before any ran)."""
        return self.trials.paradigm if self.trials is not None else None

    def start(self, config: ParadigmConfig, clock: Callable[[], float], decoder: Decoder | None,
              model: DecoderModel | None, *,
              sfreq: float, record_marker: Callable[[str, float], None],
              on_event: Sequence[Callable[[ParadigmEvent], None] | None], trials_per_class: int | None = None,
              seed_offset: int = 1000, tmin: float | None = None, start_at: float | None = None,
              paradigm: Any = None) -> bool:
        """End the running run, then cue ``config`` (seed + ``seed_offset``, the model's classes,
        ``trials_per_class`` when given) on ``decoder``; ``on_event``: paradigm subscribers (``None``
        skipped). ``tmin`` defaults to the model's metadata. ``paradigm``: another program's cues instead
        (:class:`bci_app.paradigm.external_cues.ExternalCues`). An ``error`` event and False when the
        paradigm cannot start or no decoder runs."""
        if decoder is None or model is None:
            self._hub.error("online", "cued online trials need the decoder running; start online first")
            return False
        self.end()
        tmin = float(tmin) if tmin is not None else window_tmin(model.metadata)
        if paradigm is None:  # the configured timeline must leave room for the model's window
            try:
                check_model_window(config, tmin, model.n_times / model.spec.sfreq)
            except BCIError as exc:
                self._hub.error("online", f"cannot start cued online trials: {exc}", exc)
                return False
        update: dict[str, Any] = {"seed": config.seed + seed_offset, "classes": list(model.classes)}
        if trials_per_class is not None:
            update["trials_per_class"] = int(trials_per_class)
        subscribers = [s for s in on_event if s is not None]

        def fan_out(ev: ParadigmEvent) -> None:
            for sub in subscribers:
                sub(ev)

        trials = OnlineTrials(
            config.model_copy(update=update), clock, decoder,
            tmin=tmin, window_s=model.n_times / model.spec.sfreq,
            sfreq=sfreq, record_marker=record_marker, on_event=fan_out if subscribers else None, paradigm=paradigm,
        )
        try:
            trials.start(start_at)
        except BCIError as exc:
            trials.stop()
            self._hub.error("online", f"cannot start cued online trials: {exc}", exc)
            return False
        self.trials, self._taken = trials, False
        return True

    def update(self) -> None:
        """Advance the run; take it once every trial is scored."""
        if self.trials is not None:
            self.trials.update()
            if not self._taken and self.trials.result() is not None:
                self._take()

    def end(self) -> None:
        """Take the run (if not yet) and stop it; its score stays."""
        if self.trials is not None:
            self._take()
            self.trials.stop()

    def score(self) -> dict | None:
        return self.trials.score() if self.trials is not None else None

    def result(self) -> dict | None:
        return self.trials.result() if self.trials is not None else None

    def _take(self) -> None:
        if self._taken or self.trials is None:
            return
        self._taken = True
        run = self.trials.labelled_recording()
        if run is not None:
            self.data.append(run)
        self._on_run(run)
