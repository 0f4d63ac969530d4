"""The headless session: one Qt-free state machine shared by the GUI and the command line.

Its helpers live beside it: :mod:`bci_app.session.training` (the training runner and the LoRA
plan), :mod:`bci_app.session.online_trials` (cued online trials and their score),
:mod:`bci_app.session.calibration` (calibration data and quality) and
:mod:`bci_app.session.recording` (the XDF file).

Modes (:class:`Mode`)::

    idle ──connect──▶ connected ──start_calibration──▶ calibrating ──(paradigm ends)──▶ connected
                       │  ▲ ▲                                                           │
                       │  │ └──────────── training finished / failed / cancelled ◀── training
                       │  └── stop_online ──┐
                       └── start_online ──▶ online        idle ──start_replay──▶ replay ──▶ idle

``training`` runs a fine-tuning job in a background thread (started by the caller, or by the session
itself when a calibration ends and :attr:`Session.train_after_calibration` is set) (torch limited to
``finetune.torch_threads``) while acquisition, recording and the paradigm continue; when the session
was online, it stays online (mode ``training`` is entered only from ``connected``) and the new model
is installed atomically into the running decoder.

Threads: the stream, the recorder, the decoder runner and the training job run in their own
threads, but every event reaches subscribers from :meth:`Session.update`, in the thread that calls
it (the GUI timer, the CLI loop, a test), in order. Tests step the session by calling ``update()``
with injectable clocks; nothing in here sleeps.

Events (``subscribe(name, callback)``; ``"*"`` receives all as ``callback(name, payload)``):

- ``mode``: :class:`Mode` entered; ``error``: :class:`SessionError` (plain ``message``; also logged);
- ``stream``: a :class:`~bci_app.acquisition.base.StreamEvent` (connected, gap, reconnected, ...);
- ``paradigm``: a :class:`~calibration.paradigm.ParadigmEvent`;
- ``progress``: a fine-tuning progress record; ``model``: the :class:`DecoderModel` now active;
- ``prediction``: the latest :class:`~bci_app.online.decoder.Prediction` (at most one per update);
- ``recording``: ``{"path", "state"}`` when a recording starts, stops or fails;
- ``replay``: ``"finished"`` (the whole file decoded) or ``"stopped"`` when a replay ends;
- ``saved``: a :class:`~bci_app.session.participant.Saved` when the participant's folder got the
  adapter and the calibration report (after training, and again after each scored online run).

With a participant (:meth:`Session.start_participant`) the session keeps its own files: the
calibration and each online run are recorded by themselves into the participant's session folder,
and the adapter and report are saved there after training; :meth:`Session.continue_previous`
decodes with the participant's latest adapter without a new calibration. Calibration and online
cues go out on an LSL ``Markers`` stream (GDF codes; trials the quality check rejects get 1023).
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bci_app.config import AppConfig
from bci_app.errors import BCIError, StreamError
from bci_app.events import END_OF_TRIAL
from bci_app.session.calibration import CalibrationTap
from bci_app.session.online_trials import OnlineTrials
from bci_app.session.participant import LoadedAdapter, Saved
from bci_app.session.recording import open_recorder, record_predictions
from bci_app.session.training import TrainingFactory, TrainingRunner
from bci_app.types import Marker, Recording

if TYPE_CHECKING:
    from bci_app.acquisition.base import Stream, StreamEvent
    from bci_app.acquisition.file import StreamFile
    from bci_app.io.participant import SessionFolder
    from bci_app.io.xdf import XdfRecorder
    from bci_app.online.decoder import Decoder, DecoderModel, Prediction
    from bci_app.online.runner import DecoderRunner
    from bci_app.signal.quality import CalibrationQuality
    from calibration.paradigm import GrazParadigm, ParadigmEvent

log = logging.getLogger(__name__)

EVENTS = ("mode", "error", "stream", "paradigm", "progress", "model", "prediction", "recording", "replay", "saved")
#: name of the LSL Markers stream the session publishes the paradigm's GDF codes on
CUE_STREAM = "bci-app-markers"


class Mode(enum.Enum):
    IDLE = "idle"
    CONNECTED = "connected"
    CALIBRATING = "calibrating"
    TRAINING = "training"
    ONLINE = "online"
    REPLAY = "replay"


@dataclass(frozen=True)
class SessionError:
    """An error as the user sees it: a plain ``message`` and where it came from (``source``)."""

    message: str
    source: str
    exception: BaseException | None = None


@dataclass(frozen=True)
class StreamStatus:
    """Snapshot for display: state, counters and the newest sample's timestamp."""

    name: str
    state: str
    sfreq: float
    n_chans: int
    received: int
    lost: int
    gaps: int
    non_finite: int


class Session:
    """Holds the source, recorder, paradigm, active model, decoder, last prediction, stream status.

    ``config``: the whole :class:`AppConfig`. ``clock``: seconds for the paradigm (default
    ``pylsl.local_clock``, the stream's clock). All public methods report failures as ``error``
    events (never raise :class:`BCIError` to the caller), except programming errors.
    """

    def __init__(
        self, config: AppConfig | None = None, *, clock: Callable[[], float] | None = None,
        train_after_calibration: bool = False,
        training_factory: TrainingFactory | None = None,
    ) -> None:
        self.config = config or AppConfig()
        if clock is None:
            from bci_app.lsl_config import configure_lsl

            configure_lsl(self.config.lsl.scope)
            import pylsl

            clock = pylsl.local_clock
        self.clock = clock
        self.mode = Mode.IDLE
        self.stream: Stream | None = None
        self.recorder: XdfRecorder | None = None
        self.paradigm: GrazParadigm | None = None
        self.model: DecoderModel | None = None
        self.decoder: Decoder | None = None
        self.runner: DecoderRunner | None = None
        self.last_prediction: Prediction | None = None
        self.errors: list[SessionError] = []
        self.calibration_data: Recording | None = None
        #: running quality of the calibration (None when the source cannot be checked: see
        #: :attr:`calibration_quality_problem`)
        self.calibration_quality: CalibrationQuality | None = None
        self.calibration_quality_problem: str | None = None
        #: when a calibration ends normally, start ``training_factory(self)`` (default
        #: :meth:`calibration_training`) by itself (the app does; scripts start their own job)
        self.train_after_calibration = bool(train_after_calibration)
        self.training_factory = training_factory or Session.calibration_training
        self.training_result: Any = None
        self.online_trials: OnlineTrials | None = None  #: the cued online trials (start_online_trials)
        self._subscribers: dict[str, list[Callable]] = {}
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()  # (event, payload) from other threads
        self._unsub_stream: Callable[[], None] | None = None
        self._tap: CalibrationTap | None = None
        self._paradigm_markers: list[Marker] = []
        self._paradigm_stream = None
        self._trainer = TrainingRunner(lambda kind, payload: self._inbox.put((kind, payload)))
        self._outlet = None
        self._rec_sink = None
        self._pending_prediction: Prediction | None = None
        self._pred_lock = threading.Lock()
        self._mode_before_training = Mode.CONNECTED
        #: the participant's session folder (:meth:`start_participant`); None: nothing is kept by itself
        self.folder: SessionFolder | None = None
        #: what the folder holds (adapter, report); ``model_source``: "calibrated" or "loaded"
        self.saved: Saved | None = None
        self.model_source: str | None = None
        self._auto_recording = False
        self._cue_outlet = None
        self._online_runs = 0
        #: labelled trials of the finished cued online runs (co-adaptation: retraining uses them too)
        self.online_data: list[Recording] = []
        #: retrain in the background after each finished cued online run, with the calibration and
        #: every online run's trials; the gate installs the new adapter only when it decodes better
        self.coadapt = False
        self._run_taken = True
        self._pending_config: AppConfig | None = None  # set_config while not idle
        #: (seconds after the cue, length) of the window the calibrated model decodes; None: the
        #: configured base's (its JSON ``window``). A custom ``training_factory`` with another window sets it.
        self.model_window: tuple[float, float] | None = None

    # -- observers --------------------------------------------------------------------------------
    def subscribe(self, event: str, callback: Callable) -> Callable[[], None]:
        """``callback(payload)`` for ``event`` (one of :data:`EVENTS`), or ``callback(event, payload)``
        for ``"*"``. Returns an unsubscribe function."""
        if event != "*" and event not in EVENTS:
            raise ValueError(f"unknown session event {event!r}; expected one of {', '.join(EVENTS)} or '*'")
        self._subscribers.setdefault(event, []).append(callback)
        return lambda: self._subscribers[event].remove(callback) if callback in self._subscribers[event] else None

    def _emit(self, event: str, payload: Any) -> None:
        for cb in list(self._subscribers.get(event, ())):
            try:
                cb(payload)
            except Exception:  # noqa: BLE001 - a bad observer must not break the session
                log.exception("session subscriber %r failed on %s", cb, event)
        for cb in list(self._subscribers.get("*", ())):
            try:
                cb(event, payload)
            except Exception:  # noqa: BLE001
                log.exception("session subscriber %r failed on %s", cb, event)

    def _set_mode(self, mode: Mode) -> None:
        if mode is Mode.IDLE and self._pending_config is not None:  # set_config while busy
            self.config, self._pending_config = self._pending_config, None
        if mode is not self.mode:
            log.info("session: %s -> %s", self.mode.value, mode.value)
            self.mode = mode
            self._emit("mode", mode)

    def _error(self, source: str, message: str, exc: BaseException | None = None) -> SessionError:
        err = SessionError(message, source, exc)
        self.errors.append(err)
        log.error("%s: %s", source, message, exc_info=exc if exc is not None and not isinstance(exc, BCIError) else None)
        self._emit("error", err)
        return err

    def _require(self, action: str, *modes: Mode) -> bool:
        if self.mode in modes:
            return True
        self._error("session", f"cannot {action} while {self.mode.value}; expected {' or '.join(m.value for m in modes)}")
        return False

    def set_config(self, config: AppConfig) -> bool:
        """Use ``config``: at once while idle (``True``); otherwise from the moment the session is
        idle again (``False``), so a running source, paradigm or decoder never changes settings
        under way."""
        if self.mode is Mode.IDLE:
            self.config, self._pending_config = config, None
            return True
        self._pending_config = config
        return False

    # -- stream -----------------------------------------------------------------------------------
    def connect(self, stream: Stream) -> bool:
        """Connect ``stream`` (if needed) and make it the session's source."""
        if not self._require("connect", Mode.IDLE):
            return False
        try:
            if not stream.connected:
                stream.connect()
        except BCIError as exc:
            self._error("stream", f"could not connect: {exc}", exc)
            return False
        self.stream = stream
        self._unsub_stream = stream.subscribe(lambda ev: self._inbox.put(("stream", ev)))
        self._set_mode(Mode.CONNECTED)
        return True

    def disconnect(self) -> None:
        """Stop everything (decoder, training, paradigm, recording) and close the source."""
        self.stop_online()
        self.cancel_training(wait=True)
        if self.paradigm is not None and not self.paradigm.finished:
            self.paradigm.abort()
        self.stop_recording()
        self._auto_recording = False
        if self._cue_outlet is not None:
            self._cue_outlet.close()
            self._cue_outlet = None
        if self.stream is not None:
            if self._unsub_stream:
                self._unsub_stream()
            try:
                self.stream.disconnect()
            except BCIError as exc:
                self._error("stream", f"disconnect failed: {exc}", exc)
            self.stream = None
        self._drain()
        self._set_mode(Mode.IDLE)

    close = disconnect

    @property
    def stream_status(self) -> StreamStatus | None:
        s = self.stream
        if s is None:
            return None
        info, c = s.info, s.counters
        return StreamStatus(info.name, s.state.value, info.sfreq, info.n_chans, c.received, c.lost_overflow, c.gaps, c.non_finite)

    # -- recording --------------------------------------------------------------------------------
    def start_recording(self, path: str | Path, *, overwrite: bool = False) -> bool:
        """Record the source (EEG + its markers), paradigm markers and predictions to ``path`` (.xdf)."""
        if self.stream is None:
            self._error("recording", "connect a source before recording")
            return False
        if self.recorder is not None:
            self._error("recording", f"already recording to {self.recorder.path}; stop it first")
            return False
        try:
            rec, self._paradigm_stream = open_recorder(path, self.stream, self.config, self.clock, overwrite=overwrite,
                                                       on_error=lambda e: self._inbox.put(("recording-error", e)))
        except BCIError as exc:
            self._error("recording", str(exc), exc)
            return False
        self.recorder = rec
        if self.decoder is not None:
            self._rec_sink = record_predictions(rec, self.decoder, self.config.online.step_s)
        self._emit("recording", {"path": str(rec.path), "state": "started"})
        return True

    def stop_recording(self) -> None:
        rec, self.recorder = self.recorder, None
        self._rec_sink = None
        if rec is None:
            return
        rec.close()
        self._emit("recording", {"path": str(rec.path), "state": "failed" if rec.error else "stopped"})

    def record_marker(self, value: str, timestamp: float) -> None:
        """Write a marker (e.g. a GDF code of an online paradigm) into the paradigm stream of the
        active recording; nothing when not recording."""
        if self.recorder is not None and self._paradigm_stream is not None:
            self.recorder.push(self._paradigm_stream, [str(value)], [timestamp])

    # -- the participant's session folder --------------------------------------------------------
    def start_participant(self, participant: str) -> bool:
        """Open a new session folder for ``participant`` under ``recording.directory``: from now on the
        calibration and online runs are recorded there by themselves, and the adapter and report are
        saved there after training."""
        from bci_app.io.participant import SessionFolder

        try:
            self.folder = SessionFolder.create(self.config.recording.directory, participant)
        except (BCIError, OSError) as exc:
            self._error("recording", f"cannot open the participant's folder: {exc}", exc)
            return False
        self.saved, self._online_runs = None, 0
        log.info("participant %s: files go to %s", self.folder.participant, self.folder.path)
        return True

    def previous_adapter(self) -> Path | None:
        """The participant's latest adapter from an earlier session (None without one or no participant)."""
        from bci_app.io.participant import previous_adapters

        if self.folder is None:
            return None
        earlier = [p for p in previous_adapters(self.config.recording.directory, self.folder.participant)
                   if p.parent != self.folder.path]
        return earlier[0] if earlier else None

    def continue_previous(self, path: str | Path | None = None) -> bool:
        """Decode with an earlier adapter (default: the participant's latest) without calibrating:
        it is checked against its base and this headset's channels, loaded and prepared on the
        training thread, then installed (``model`` event)."""
        from bci_app.session.participant import load_previous
        from bci_app.signal.channels import is_model_input

        adapter = Path(path) if path is not None else self.previous_adapter()
        if adapter is None:
            self._error("training", "no earlier adapter of this participant to continue with; calibrate first")
            return False
        if self.stream is None:
            self._error("training", "connect the headset before loading an adapter: its channels are checked")
            return False
        info = self.stream.info
        names = [n for n, t in zip(info.ch_names, info.ch_types) if is_model_input(t)]
        job = load_previous(adapter, names, self.config.online.fast)
        return self.start_training(job, lambda loaded: loaded.model)

    def _auto_record(self, kind: str) -> None:
        """Record into the participant's folder when nothing records yet (``kind``.xdf)."""
        if self.folder is not None and self.recorder is None and self.stream is not None:
            self._auto_recording = self.start_recording(self.folder.recording_path(kind))

    def _stop_auto_recording(self) -> None:
        if self._auto_recording:
            self._auto_recording = False
            self.stop_recording()

    def _cue_publisher(self):
        """The LSL Markers outlet for the paradigm's GDF codes (made once; an error event when LSL
        cannot make it: the cues then reach the recording only)."""
        if self._cue_outlet is None:
            from calibration.markers import LslMarkerOutlet

            try:
                self._cue_outlet = LslMarkerOutlet(CUE_STREAM, f"{CUE_STREAM}-{id(self):x}")
            except BCIError as exc:
                self._error("calibration", f"cues are not published over LSL: {exc}", exc)
                return None
        return self._cue_outlet

    # -- calibration ------------------------------------------------------------------------------
    def start_calibration(
        self, on_event: Callable[[ParadigmEvent], None] | None = None, *, marker_outlet=None,
        start_at: float | None = None, paradigm: Any = None,
    ) -> bool:
        """Start the Graz paradigm (``config.paradigm``) on the session clock and collect the data.

        ``on_event`` is called synchronously for each paradigm event (e.g. the simulator imagining
        the cued class); ``marker_outlet`` (e.g. :class:`calibration.markers.LslMarkerOutlet`) gets
        the GDF codes too. Paradigm markers are recorded when a recording is active. ``start_at``:
        session-clock time of the first trial (default now; the demo puts it on a fixed sample).
        ``paradigm``: another program's cues instead (:class:`calibration.external_cues.ExternalCues`);
        the session then publishes no cues of its own.
        """
        if not self._require("start calibration", Mode.CONNECTED):
            return False
        from calibration.paradigm import GrazParadigm

        external = paradigm is not None
        problem = None if external else self.paradigm_problem()  # another program's cues: its own timing
        if problem is not None:  # refused before any trial: the model could never decode these trials
            self._error("calibration", f"cannot start calibration: {problem}")
            return False
        self.paradigm = paradigm if external else GrazParadigm(self.config.paradigm, self.clock)
        self._paradigm_markers = []
        self._tap = CalibrationTap(self.stream)
        self._start_quality()
        self._auto_record("calibration")
        if marker_outlet is None and not external:
            marker_outlet = self._cue_publisher()

        def on_paradigm(ev: ParadigmEvent) -> None:
            if ev.code is not None:
                self._paradigm_markers.append(Marker(ev.timestamp, str(ev.code)))
                self.record_marker(str(ev.code), ev.timestamp)
            if ev.code == END_OF_TRIAL:
                self._add_quality_trial(ev)
            self._emit("paradigm", ev)

        if on_event is not None:
            self.paradigm.subscribe(on_event)
        if marker_outlet is not None:
            self.paradigm.subscribe(marker_outlet)
        self.paradigm.subscribe(on_paradigm)
        self._set_mode(Mode.CALIBRATING)
        try:
            self.paradigm.start(start_at)
        except BCIError as exc:
            self.paradigm, self._tap = None, None
            self._stop_auto_recording()
            self._set_mode(Mode.CONNECTED)
            self._error("calibration", f"cannot start calibration: {exc}", exc)
            return False
        return True

    def paradigm_problem(self) -> str | None:
        """Why ``config.paradigm`` cannot calibrate the configured base (its window does not fit
        between the cue and the end of imagery), or ``None`` when it can
        (:func:`calibration.paradigm.check_model_window`)."""
        from bci_app.events import window_span
        from bci_app.models.pretrained import base_model_metadata
        from calibration.paradigm import check_model_window

        try:
            window = self.model_window or window_span(base_model_metadata(self.config.model.base))
            check_model_window(self.config.paradigm, *window)
        except BCIError as exc:
            return str(exc)
        return None

    def _start_quality(self) -> None:
        from bci_app.session.calibration import calibration_quality

        self.calibration_quality, self.calibration_quality_problem = None, None
        try:
            self.calibration_quality = calibration_quality(self.config, self.stream)
        except BCIError as exc:  # the check is advisory: say why it is missing
            self.calibration_quality_problem = f"Calibration quality unavailable: {exc}"

    def _add_quality_trial(self, ev: ParadigmEvent) -> None:
        quality, paradigm = self.calibration_quality, self.paradigm
        if quality is None or paradigm is None or self.stream is None or ev.label is None:
            return
        start = paradigm.trial_start_time(ev.trial_index)
        if start is not None:
            data, ts = self.stream.get_data(None)
            if not quality.add_trial(ev.label, data, ts, start):
                paradigm.mark_rejected(ev.trial_index)  # GDF 1023 into the recording and the cue stream

    def abort_calibration(self) -> None:
        if self.paradigm is not None and self.mode is Mode.CALIBRATING:
            self.paradigm.abort()
            self._finish_calibration()

    def _finish_calibration(self) -> None:
        tap, self._tap = self._tap, None
        if tap is None:
            return
        tap.poll()
        self.calibration_data = tap.recording(list(self._paradigm_markers))
        self._stop_auto_recording()
        if tap.lost:
            self._error("calibration", f"{tap.lost} samples were lost while calibrating (buffer overrun)")
        self._set_mode(Mode.CONNECTED)
        completed = self.paradigm is not None and self.paradigm.phase == "finished"
        if completed and self.train_after_calibration:
            self.train_calibration()

    def train_calibration(self) -> bool:
        """Start ``training_factory(self)`` (default :meth:`calibration_training`) on the training
        thread; a failure to build the job is an ``error`` event."""
        try:
            job, to_model, cancel = self.training_factory(self)
        except Exception as exc:  # noqa: BLE001 - any failure to build the job becomes an error event
            self._error("training", f"could not prepare the training: {exc}", exc)
            return False
        return self.start_training(job, to_model, cancel=cancel)

    # -- training ---------------------------------------------------------------------------------
    def calibration_training(self) -> tuple[Iterator[Any], Callable[[Any], DecoderModel], Callable[[], None]]:
        """The :class:`calibration.job.CalibrationJob` on :attr:`calibration_data` (GDF cues, the
        paradigm's classes), as ``(job, to_model, cancel)`` for :meth:`start_training`. Nothing runs
        here: loading the base, preparation, training and the gate happen on the training thread."""
        from bci_app.errors import CalibrationError
        from bci_app.session.participant import keep_outcome
        from calibration.job import CalibrationJob

        sources = [r for r in (self.calibration_data, *self.online_data) if r is not None]
        if not sources:
            raise CalibrationError("nothing to train on yet: run a calibration (or cued online trials) first")
        job = CalibrationJob(sources, self.config, preset="gdf", classes=self.config.paradigm.classes,
                             source_channel_map=self.stream.info.channel_map() if self.stream is not None else None)
        folder, config = self.folder, self.config

        def to_model(outcome) -> DecoderModel:  # on the training thread: prepare, save adapter and report
            return keep_outcome(outcome, folder, config, post=lambda saved: self._inbox.put(("saved", saved)))

        return job.run(), to_model, job.cancel.set

    def start_training(
        self,
        job: Iterator[Any],
        to_model: Callable[[Any], DecoderModel],
        *,
        cancel: Callable[[], None] | None = None,
    ) -> bool:
        """Run ``job`` (an iterator yielding progress records and *returning* its result) in a
        background thread; each record becomes a ``progress`` event; the result goes through
        ``to_model`` and is installed (``model`` event). ``cancel`` (e.g. the job's cancel flag) is
        called by :meth:`cancel_training`; the iteration also stops between records."""
        if self._trainer.running:
            self._error("training", "a training job is already running; cancel it first")
            return False
        if not self._require("train", Mode.CONNECTED, Mode.ONLINE, Mode.IDLE):
            return False
        if self.mode is not Mode.ONLINE:
            self._mode_before_training = self.mode
            self._set_mode(Mode.TRAINING)
        self._trainer.start(job, to_model, cancel=cancel, torch_threads=self.config.finetune.torch_threads)
        return True

    @property
    def training(self) -> bool:
        return self._trainer.running

    def training_plan(self) -> str:
        """What training on :attr:`calibration_data` will adapt (targets, rank, epochs), for display."""
        from bci_app.session.training import training_plan

        return training_plan(self.config, self.calibration_data)

    def wait_training(self, timeout: float | None = None) -> bool:
        """Join the training thread (tests, scripts) and deliver its events; True when it ended."""
        if not self._trainer.join(timeout):
            return False
        self.update()
        return not self._trainer.running

    def cancel_training(self, *, wait: bool = False) -> None:
        """Ask the job to stop (between batches/records); ``wait`` joins the thread."""
        if not self._trainer.running:
            return
        self._trainer.cancel()
        if wait:
            self._trainer.join(timeout=30.0)
            self.update()

    # -- models and online decoding -------------------------------------------------------------
    def set_model(self, model: DecoderModel) -> None:
        """Make ``model`` active (installed atomically into the decoder when online)."""
        self.model = model
        if self.decoder is not None:
            try:
                self.decoder.install(model)
            except BCIError as exc:
                self._error("model", f"could not install {model.name}: {exc}", exc)
                return
        self._emit("model", model)

    def start_online(self, *, runner: bool = True, outlet: bool = True) -> bool:
        """Decode the source with the active model: LSL outlets, recording, ``prediction`` events.

        ``runner=False``: no thread; :meth:`update` polls the decoder (tests, replay)."""
        if not self._require("go online", Mode.CONNECTED):
            return False
        from bci_app.online.decoder import Decoder

        self._auto_record("online")
        # decoding starts on the buffered seconds its warm-up needs: the first decision comes at once
        if not self._start_decoder(lambda: Decoder.for_stream(self.stream, self.model, self.config.online,
                                                              start_index="buffered"),
                                   outlet=outlet, runner=runner):
            self._stop_auto_recording()
            return False
        self._set_mode(Mode.ONLINE)
        return True

    def _start_decoder(self, make: Callable[[], Decoder], *, outlet: bool, runner: bool,
                       on_decision: Callable[[Prediction], None] | None = None) -> bool:
        """Build the decoder (``make()``), attach the outlet and the recorder, subscribe
        ``on_decision`` and start the runner thread; ``False`` (with an error event) on failure."""
        if self.model is None:
            self._error("online", "no model to decode with; calibrate first or load an adapter")
            return False
        from bci_app.online.outputs import PredictionOutlet
        from bci_app.online.runner import DecoderRunner

        oc = self.config.online
        try:
            self.decoder = make()
            if outlet:
                self._outlet = PredictionOutlet(self.model.classes, name=oc.outlet_name, step_s=oc.step_s, model=self.model.name)
                self.decoder.add_output(self._outlet)
        except BCIError as exc:
            self.decoder = None
            self._error("online", f"cannot start decoding: {exc}", exc)
            return False
        if self.recorder is not None:
            self._rec_sink = record_predictions(self.recorder, self.decoder, oc.step_s)
        self.decoder.subscribe(self._on_prediction)
        if on_decision is not None:
            self.decoder.subscribe(on_decision)
        if runner:
            self.runner = DecoderRunner(self.decoder, on_error=lambda e: self._inbox.put(("decoder-failed", e))).start()
        return True

    def _on_prediction(self, pred: Prediction) -> None:
        with self._pred_lock:
            self.last_prediction = pred
            self._pending_prediction = pred

    def stop_online(self) -> None:
        self._end_online_trials()
        if self.runner is not None:
            self.runner.stop()
            self.runner = None
        if self._outlet is not None:
            self._outlet.close()
            self._outlet = None
        self.decoder = None
        self._stop_auto_recording()
        if self.mode in (Mode.ONLINE, Mode.REPLAY):
            self._set_mode(Mode.CONNECTED)

    @property
    def online_runs(self) -> int:
        """Scored online runs added to the participant's report in this session."""
        return self._online_runs

    def _report_online_run(self) -> None:
        """Add the scored cued online trials to the calibration report and save it again, on a worker
        thread (a ``saved`` event when done)."""
        saved, trials = self.saved, self.online_trials
        score = trials.score() if trials is not None else None
        if saved is None or saved.report is None or not score or not score.get("n_trials"):
            return
        from bci_app.session.participant import add_online_run

        self._online_runs += 1
        title = f"Online run {self._online_runs}"

        def work() -> None:
            try:
                self._inbox.put(("saved", add_online_run(saved, score, title)))
            except Exception as exc:  # noqa: BLE001 - becomes an error event
                self._inbox.put(("report-failed", exc))

        threading.Thread(target=work, name="bci-report", daemon=True).start()

    # -- cued online trials (running accuracy) ---------------------------------------------------
    def start_online_trials(
        self, on_event: Callable[[ParadigmEvent], None] | None = None, *, trials_per_class: int | None = None,
        seed_offset: int = 1000, tmin: float | None = None, start_at: float | None = None, paradigm: Any = None,
    ) -> bool:
        """While online, run the Graz paradigm (``config.paradigm``; ``trials_per_class`` overrides
        its count, seed + ``seed_offset``) so that the cues are known, keep every decision and score
        finished trials with :func:`bci_app.online.scoring.score_trials` (see :meth:`online_score`).
        ``on_event`` gets each paradigm event (e.g. the simulator imagining the cue); GDF codes go to
        the recording. ``tmin``: seconds from the cue to the model's window (default: the model's
        metadata, :func:`bci_app.events.window_tmin`). ``start_at``: session-clock time of the
        first trial (default now; the demo puts it on a fixed sample). The one implementation of
        cued online trials (:mod:`bci_app.session.online_trials`): the GUI, the GUI demo and
        ``bci-app demo`` all run them here. ``paradigm``: another program's cues instead
        (:class:`calibration.external_cues.ExternalCues`); no cues are published then."""
        if not self._require("run cued online trials", Mode.ONLINE):
            return False
        if self.decoder is None or self.model is None:
            self._error("online", "cued online trials need the decoder running; start online first")
            return False
        from bci_app.events import window_tmin

        self._end_online_trials()
        cfg = self.config.paradigm
        update: dict[str, Any] = {"seed": cfg.seed + seed_offset, "classes": list(self.model.classes)}
        if trials_per_class is not None:
            update["trials_per_class"] = int(trials_per_class)
        m = self.model
        if paradigm is None:  # the configured timeline must leave room for the model's window
            from calibration.paradigm import check_model_window

            try:
                check_model_window(cfg, float(tmin) if tmin is not None else window_tmin(m.metadata),
                                   m.n_times / m.spec.sfreq)
            except BCIError as exc:
                self._error("online", f"cannot start cued online trials: {exc}", exc)
                return False
        publisher = self._cue_publisher() if paradigm is None else None
        if publisher is not None:
            user = on_event

            def on_event(ev: ParadigmEvent) -> None:
                if user is not None:
                    user(ev)
                publisher(ev)

        trials = OnlineTrials(
            cfg.model_copy(update=update), self.clock, self.decoder,
            tmin=float(tmin) if tmin is not None else window_tmin(m.metadata), window_s=m.n_times / m.spec.sfreq,
            sfreq=self.stream.info.sfreq, record_marker=self.record_marker, on_event=on_event, paradigm=paradigm,
        )
        try:
            trials.start(start_at)
        except BCIError as exc:
            trials.stop()
            self._error("online", f"cannot start cued online trials: {exc}", exc)
            return False
        self.online_trials = trials
        self._run_taken = False
        return True

    @property
    def online_paradigm(self) -> GrazParadigm | None:
        """The paradigm of the cued online trials (``None`` before any ran)."""
        return self.online_trials.paradigm if self.online_trials is not None else None

    def _end_online_trials(self) -> None:
        if self.online_trials is not None:
            self._take_online_run()
            self.online_trials.stop()

    def _take_online_run(self) -> None:
        """Once per cued run: keep its labelled trials for retraining, add its score to the report,
        and with :attr:`coadapt` retrain in the background (the model swaps in while decoding)."""
        if self._run_taken or self.online_trials is None:
            return
        self._run_taken = True
        run = self.online_trials.labelled_recording()
        if run is not None:
            self.online_data.append(run)
        self._report_online_run()
        if self.coadapt and run is not None and not self.training:
            log.info("co-adaptation: retraining with the calibration and %d online run(s)", len(self.online_data))
            self.train_calibration()

    def online_score(self) -> dict | None:
        """Score of the cued online trials finished so far (the decoder has passed their end):
        the dict of :func:`~bci_app.online.scoring.score_trials` (``accuracy``, ``n_trials``, ...),
        ``None`` before any trial ended or when no cued trials ran."""
        return self.online_trials.score() if self.online_trials is not None else None

    def online_result(self) -> dict | None:
        """The final score of the cued online trials (:meth:`online_score`) once their paradigm has
        finished and the decoder has passed the end of every trial; ``None`` before."""
        return self.online_trials.result() if self.online_trials is not None else None

    # -- stepping ---------------------------------------------------------------------------------
    def update(self) -> None:
        """Advance the paradigm, collect calibration data, poll a thread-less decoder and deliver
        every pending event. Call it often (GUI timer, CLI loop, tests)."""
        if self.stream is not None and self.stream.acquisition_delay is None and self.stream.connected:
            try:
                self.stream.acquire()
            except BCIError as exc:
                self._error("stream", str(exc), exc)
        if self.mode is Mode.CALIBRATING and self.paradigm is not None:
            self.paradigm.update()
            if self._tap is not None:
                try:
                    self._tap.poll()
                except BCIError as exc:
                    self._error("calibration", str(exc), exc)
            if self.paradigm.finished:
                self._finish_calibration()
        if self.online_trials is not None:
            self.online_trials.update()
            if not self._run_taken and self.online_trials.result() is not None:
                self._take_online_run()
        if self.decoder is not None and self.runner is None and self.mode in (Mode.ONLINE, Mode.REPLAY):
            try:
                self.decoder.poll()
            except BCIError as exc:
                self._error("online", str(exc), exc)
        self._drain()
        if self._replay_done():
            self.stop_replay("finished")

    def _drain(self) -> None:
        while True:
            try:
                kind, payload = self._inbox.get_nowait()
            except queue.Empty:
                break
            if kind == "stream":
                self._on_stream_event(payload)
            elif kind == "progress":
                self._emit("progress", payload)
            elif kind == "trained":
                self._trainer.ended()
                self._leave_training()
                self.training_result, model = payload
                self.model_source = "loaded" if isinstance(self.training_result, LoadedAdapter) else "calibrated"
                self.set_model(model)
            elif kind == "report-failed":
                self._error("online", f"the online run could not be added to the report: {payload}", payload)
            elif kind == "saved":
                self.saved = payload
                if payload.note:
                    self._error("training", payload.note)
                self._emit("saved", payload)
            elif kind == "train-cancelled":
                self._trainer.ended()
                self._leave_training()
                self._error("training", "training was cancelled; the previous model stays active", payload)
            elif kind == "train-failed":
                self._trainer.ended()
                self._leave_training()
                self._error("training", f"training failed: {payload}", payload)
            elif kind == "decoder-failed":
                self._error("online", f"decoding stopped: {payload}", payload)
                self.stop_online()
            elif kind == "recording-error":
                failed, self.recorder = self.recorder, None
                self._rec_sink = None
                self._error("recording", str(payload), payload)
                self._emit("recording", {"path": str(failed.path) if failed is not None else "", "state": "failed"})
        with self._pred_lock:
            pred, self._pending_prediction = self._pending_prediction, None
        if pred is not None:
            self._emit("prediction", pred)

    def _leave_training(self) -> None:
        if self.mode is Mode.TRAINING:
            self._set_mode(self._mode_before_training if self.stream is not None else Mode.IDLE)

    def _on_stream_event(self, ev: StreamEvent) -> None:
        self._emit("stream", ev)
        if ev.kind == "failed":
            self._error("stream", f"the source failed: {ev.message}", ev.error)
        elif ev.kind == "gap":
            log.warning("source lost: %s (decoding pauses until data return)", ev.message)

    # -- replay -----------------------------------------------------------------------------------
    def start_replay(
        self, stream: StreamFile, *, runner: bool = True, on_decision: Callable[[Prediction], None] | None = None,
    ) -> bool:
        """Replay mode: like ``online`` on a file stream, without an outlet, through the one replay
        driver (:func:`bci_app.online.replay.replay_decoder`): decoding starts at the sample where the
        live decoder started, as in ``bci-app replay``, so the decisions are the live ones.

        ``runner=True`` (default): a worker thread (``bci-decoder``) reads the stream and feeds the
        decoder in sample-index order, so decoding costs the caller's (UI) thread nothing; the
        decisions are the same as with ``runner=False`` (no thread: :meth:`update` polls the
        decoder). ``on_decision(prediction)`` is subscribed to the decoder before the worker starts
        (no decision is missed) and is called on the decoding thread: hand the decisions over with
        a thread-safe queue. When the file has ended and every sample is decoded, :meth:`update`
        ends the replay (``replay`` event ``"finished"``); :meth:`stop_replay` ends it early
        (``"stopped"``); both stop and join the worker and return to ``idle``."""
        if not self._require("replay", Mode.IDLE):
            return False
        if self.model is None:
            self._error("online", "no model to replay with; calibrate first or load an adapter")
            return False
        if not self.connect(stream):
            return False
        from bci_app.online.replay import replay_decoder

        if not self._start_decoder(lambda: replay_decoder(stream, self.model, self.config.online),
                                   outlet=False, runner=runner, on_decision=on_decision):
            self.disconnect()
            return False
        self._set_mode(Mode.REPLAY)
        return True

    def replay_file(self, path: str | Path, *, speed: float = 1.0, runner: bool = True,
                    on_decision: Callable[[Prediction], None] | None = None) -> bool:
        """:meth:`start_replay` on the recording at ``path`` played at ``speed`` × real time on the
        session clock from the sample where the live decoder started (what comes before it is
        released at once), with no acquisition thread: the decoder thread, or :meth:`update` with
        ``runner=False``, reads it."""
        from bci_app.acquisition.file import StreamFile
        from bci_app.io.recording import read_recording
        from bci_app.online.replay import live_start_index

        try:
            rec = read_recording(path)
            stream = StreamFile(rec, speed=speed, clock=self.clock, start_index=live_start_index(rec))
        except BCIError as exc:
            self._error("stream", f"cannot open the recording {path}: {exc}", exc)
            return False
        return self.start_replay(stream, runner=runner, on_decision=on_decision)

    def _replay_done(self) -> bool:
        """The replayed file has ended and the decoder has read its last sample."""
        stream, dec = self.stream, self.decoder
        return (self.mode is Mode.REPLAY and stream is not None and getattr(stream, "finished", False)
                and (dec is None or dec.next_index >= stream.buffer.n_written))

    def stop_replay(self, state: str = "stopped") -> None:
        """End the replay (joins the decoder thread; its last decisions reach ``on_decision`` first)
        and return to ``idle``; ``replay`` event with ``state`` (``"stopped"`` or ``"finished"``)."""
        if self.mode is not Mode.REPLAY:
            return
        self.disconnect()
        self._emit("replay", state)

    def run_until(self, predicate: Callable[[], bool], *, timeout_s: float, interval_s: float = 0.01) -> bool:
        """Live helper for scripts: call :meth:`update` every ``interval_s`` (wall clock) until
        ``predicate()`` is true (returns True) or ``timeout_s`` passes (False)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            self.update()
            if predicate():
                return True
            time.sleep(interval_s)
        self.update()
        return predicate()


__all__ = ["EVENTS", "Mode", "Session", "SessionError", "StreamStatus", "StreamError"]
