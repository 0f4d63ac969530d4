"""The headless session: one Qt-free state machine shared by the GUI and the command line.

:class:`Session` is the mode machine (:mod:`.modes`) and the one public face; each concern is a
collaborator in its own module, given only the callbacks it needs:

- :mod:`.observers`: subscribers and errors (:class:`EventHub`); :mod:`.messages`: typed messages
  from worker threads (:class:`Inbox`);
- :mod:`.source`: the EEG source; :mod:`.recording`: the XDF file; :mod:`.cues`: the LSL cue stream;
- :mod:`.calibration`: the calibration run and its quality; :mod:`.training`: the training thread;
- :mod:`.decoding`: the active model, decoder and predictions; :mod:`.online_trials`: cued online
  runs (co-adaptation); :mod:`.participant`: the participant's folder;
- the modes' comings and goings: :mod:`.calibrating`, :mod:`.online` (the decoder built off the
  caller's thread when asked), :mod:`.replay`; :mod:`.finishing`: what still completes a file on a
  thread after the session moved on (recordings closing, the report drawn), waited for at close.

``training`` runs a fine-tuning job in a background thread (started by the caller, or by the session
itself when a calibration ends and :attr:`Session.train_after_calibration` is set) while acquisition,
recording and the paradigm continue; an online session stays online and the new model is installed
atomically into the running decoder.

Threads: the stream, the recorder, the decoder runner and the training job run in their own
threads, but every event reaches subscribers from :meth:`Session.update`, in the thread that calls
it (the GUI timer, the CLI loop, a test), in order. Tests step the session by calling ``update()``
with injectable clocks; nothing in here sleeps.

Events (``subscribe(name, callback)``; ``"*"`` receives all as ``callback(name, payload)``):
``mode`` (:class:`Mode`), ``error`` (:class:`SessionError`), ``stream`` (a ``StreamEvent``),
``paradigm`` (a ``ParadigmEvent``), ``quality`` (the calibration's ``CalibrationSummary`` each time a
trial's check is complete, an update or two after the trial's end), ``progress`` (a fine-tuning record), ``model`` (the
``DecoderModel`` now active), ``prediction`` (at most one per update), ``recording`` (``{"path",
"state"}``), ``replay`` (``"finished"`` or ``"stopped"``), ``saved`` (a ``Saved``: the participant's
folder got the adapter and report).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bci_app.clocks import poll_until
from bci_app.config import AppConfig, ParadigmConfig
from bci_app.errors import StreamError
from bci_app.lsl_config import lsl_clock
from bci_app.session.calibrating import CalibratingMode
from bci_app.session.calibration import CalibrationRun
from bci_app.session.cues import CUE_STREAM, CuePublisher
from bci_app.session.decoding import Decoding
from bci_app.session.finishing import Finishing
from bci_app.session.messages import Inbox
from bci_app.session.modes import Mode, ModeMachine
from bci_app.session.observers import EVENTS, EventHub, SessionError
from bci_app.session.online import OnlineMode
from bci_app.session.online_trials import CuedRuns
from bci_app.session.participant import ParticipantFiles
from bci_app.session.recording import SessionRecorder
from bci_app.session.replay import ReplayMode
from bci_app.session.source import SourceLink, StreamStatus
from bci_app.session.training import Job, TrainingFactory, TrainingRunner, calibration_training, training_plan

if TYPE_CHECKING:
    from bci_app.acquisition.base import Stream
    from bci_app.acquisition.file import StreamFile
    from bci_app.online.decoder import DecoderModel, Prediction
    from bci_app.paradigm.timing import ParadigmEvent
    from bci_app.types import Recording


class _Held:
    """A session attribute held by a collaborator: ``_Held("_source", "stream")`` reads and writes
    ``session._source.stream`` (the attribute the session had before it had collaborators)."""

    def __init__(self, owner: str, name: str) -> None:
        self.owner, self.name = owner, name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        return self if obj is None else getattr(getattr(obj, self.owner), self.name)

    def __set__(self, obj: Any, value: Any) -> None:
        setattr(getattr(obj, self.owner), self.name, value)


class Session:
    """The mode machine over its collaborators (module doc). ``clock``: seconds (default: the LSL clock).
    Public methods report failures as ``error`` events, never raising :class:`BCIError`."""

    mode = _Held("_modes", "mode")
    errors = _Held("_hub", "errors")
    stream = _Held("_source", "stream")
    recorder = _Held("_recording", "recorder")
    paradigm = _Held("_calibration", "paradigm")
    calibration_data = _Held("_calibration", "data")
    calibration_quality = _Held("_calibration", "quality")
    calibration_quality_problem = _Held("_calibration", "quality_problem")
    model = _Held("_decoding", "model")
    decoder = _Held("_decoding", "decoder")
    runner = _Held("_decoding", "runner")
    last_prediction = _Held("_decoding", "last_prediction")
    training_result = _Held("_trainer", "result")
    model_source = _Held("_trainer", "model_source")
    online_trials = _Held("_cued", "trials")
    online_data = _Held("_cued", "data")
    online_paradigm = _Held("_cued", "paradigm")  # the cued online trials' paradigm (None before any ran)
    online_score = _Held("_cued", "score")  # online_score(): the score of the trials decoded so far (None before)
    online_result = _Held("_cued", "result")  # online_result(): the final score once all are scored (None before)
    folder = _Held("_files", "folder")
    saved = _Held("_files", "saved")
    online_runs = _Held("_files", "online_runs")

    def __init__(self, config: AppConfig | None = None, *, clock: Callable[[], float] | None = None,
                 train_after_calibration: bool = False, training_factory: TrainingFactory | None = None) -> None:
        self.config = config or AppConfig()
        self.clock = clock = clock if clock is not None else lsl_clock(self.config.lsl.scope)
        #: start ``training_factory(self)`` by itself when a calibration ends normally (as the app does)
        self.train_after_calibration = bool(train_after_calibration)
        self.training_factory = training_factory or Session.calibration_training
        #: co-adaptation: retrain in the background on the calibration and every cued online run after each run
        self.coadapt = False
        self._pending_config: AppConfig | None = None  # set_config while not idle
        #: (seconds after the cue, length) of the window the calibrated model decodes; None: the
        #: configured base's (its JSON ``window``). A custom ``training_factory`` with another window sets it.
        self.model_window: tuple[float, float] | None = None
        self._hub = hub = EventHub()
        self._inbox = inbox = Inbox()
        self._finishing = finishing = Finishing()
        self._modes = ModeMachine(self._entered, lambda text: hub.error("session", text))
        self._source = SourceLink(hub, inbox, finishing)
        self._recording = SessionRecorder(hub, inbox, lambda: self.config, clock, finishing)
        self._cues = CuePublisher(hub, f"{CUE_STREAM}-{id(self):x}", finishing)
        self._calibration = CalibrationRun(hub, self._recording.marker, lambda ev: hub.emit("paradigm", ev))
        self._decoding = Decoding(hub, inbox, on_failed=self.stop_online, finishing=finishing)
        self._trainer = TrainingRunner(hub, inbox, self._modes, connected=lambda: self.stream is not None,
                                       on_model=self.set_model, finishing=finishing)
        self._cued = CuedRuns(hub, on_run=self._online_run_ended)
        self._files = ParticipantFiles(hub, inbox, finishing)
        self._calibrating = CalibratingMode(hub, self._modes, self._calibration, self._recording, self._files,
                                            self._cues, completed=self._calibrated)
        self._online = OnlineMode(hub, self._modes, self._decoding, self._recording, self._cued, inbox=inbox,
                                  config=lambda: self.config, stream=lambda: self.stream,
                                  recording_path=lambda: self._files.recording_path("online"))
        self._replay = ReplayMode(hub, self._modes, self._decoding, config=lambda: self.config, clock=clock, inbox=inbox,
                                  connect=self.connect, disconnect=lambda: self.disconnect(wait=False),
                                  attach=self._recording.attach, finishing=finishing)

    # -- observers and configuration ------------------------------------------------------------
    def subscribe(self, event: str, callback: Callable) -> Callable[[], None]:
        """``callback(payload)`` for ``event`` (:data:`EVENTS`; ``"*"``: ``callback(event, payload)``); returns unsubscribe."""
        return self._hub.subscribe(event, callback)

    def _entered(self, mode: Mode) -> None:
        if mode is Mode.IDLE and self._pending_config is not None:  # set_config while busy
            self.config, self._pending_config = self._pending_config, None
        self._hub.emit("mode", mode)

    def set_config(self, config: AppConfig) -> bool:
        """Use ``config`` now while idle (True), else once idle again (False): nothing changes under way."""
        if self.mode is Mode.IDLE:
            self.config, self._pending_config = config, None
            return True
        self._pending_config = config
        return False

    def set_paradigm(self, paradigm: ParadigmConfig) -> bool:
        """Use ``paradigm`` for the next calibration and cued online runs: idle or connected (True), else
        refused with an ``error`` event; checked when a calibration starts (:meth:`paradigm_problem`)."""
        if ok := self._modes.require("change the paradigm", Mode.IDLE, Mode.CONNECTED):
            self.config = self.config.model_copy(update={"paradigm": paradigm})
        return ok

    # -- source and recording -------------------------------------------------------------------
    def connect(self, stream: Stream) -> bool:
        """Connect ``stream`` (if needed) and make it the session's source."""
        if not (self._modes.require("connect", Mode.IDLE) and self._source.connect(stream)):
            return False
        self._modes.enter(Mode.CONNECTED)
        return True

    def disconnect(self, *, wait: bool = True) -> None:
        """Stop everything (decoder, training, paradigm, recording) and close the source. ``wait``: until
        every file is complete (recordings closed, reports drawn) and the source closed; else they finish
        on their threads (the window: :attr:`finishing` says what is left, ``recording`` and ``saved`` events follow)."""
        self.stop_online()
        self.cancel_training(wait=wait)
        self._replay.cancel_opening()  # a recording being opened is not played after it
        if self.paradigm is not None and not self.paradigm.finished:
            self.paradigm.abort()
        self._recording.close(wait=wait)
        if wait:
            self._finishing.wait(60.0)  # a report being written is finished, never cut off
        self._cues.close()
        self._source.disconnect(wait=wait)
        self._inbox.drain()
        self._decoding.deliver()
        self._modes.enter(Mode.IDLE)

    close = disconnect

    @property
    def finishing(self) -> list[str]:
        """What is still being completed on the session's threads ("closing the recording x.xdf",
        "drawing the calibration report"), oldest first; empty: every file is complete."""
        return self._finishing.pending()

    def wait_finished(self, timeout: float | None = None) -> bool:
        """Wait until every file is complete (:attr:`finishing` empty), then deliver their events."""
        done = self._finishing.wait(timeout)
        self.update()
        return done

    @property
    def report_drawing(self) -> bool:
        """The calibration report is being drawn (or an online run added to it)."""
        return self._files.drawing

    @property
    def stream_status(self) -> StreamStatus | None:
        return self._source.status

    def start_recording(self, path: str | Path, *, overwrite: bool = False) -> bool:
        """Record the source, paradigm markers and predictions to ``path`` (.xdf)."""
        return self._recording.start(path, self.stream, self.decoder, overwrite=overwrite)

    def stop_recording(self) -> None:
        self._recording.stop()

    def record_marker(self, value: str, timestamp: float) -> None:
        """Write a marker (e.g. a GDF code) into the active recording; nothing when not recording."""
        self._recording.marker(value, timestamp)

    # -- the participant's session folder --------------------------------------------------------
    def start_participant(self, participant: str) -> bool:
        """Open ``participant``'s new session folder: runs, adapter and report are kept there by themselves."""
        return self._files.start(self.config.recording.directory, participant)

    def previous_adapter(self) -> Path | None:
        """The participant's latest adapter from an earlier session, if any."""
        return self._files.previous_adapter(self.config.recording.directory)

    def continue_previous(self, path: str | Path | None = None) -> bool:
        """Load an earlier adapter (default: the participant's latest), checked, on the training thread."""
        names = self._source.model_input_names() if self.stream is not None else None
        job = self._files.previous_job(path, self.config.recording.directory, names, self.config.online.fast)
        return job is not None and self.start_training(job, lambda loaded: loaded.model)

    # -- calibration ------------------------------------------------------------------------------
    def start_calibration(self, on_event: Callable[[ParadigmEvent], None] | None = None, *, marker_outlet=None,
                          start_at: float | None = None, paradigm: Any = None) -> bool:
        """Run the Graz paradigm (or ``paradigm``, another program's cues) and collect the data
        (:class:`~bci_app.session.calibration.CalibrationRun`); ``marker_outlet`` gets the GDF codes
        (default: the LSL cue stream, none for external cues); ``start_at``: first trial's time."""
        problem = self.paradigm_problem() if paradigm is None and self.mode is Mode.CONNECTED else None
        return self._calibrating.start(self.config, self.clock, self.stream, problem, on_event,
                                       marker_outlet=marker_outlet, start_at=start_at, paradigm=paradigm)

    def paradigm_problem(self) -> str | None:
        """Why ``config.paradigm`` cannot calibrate the model, or ``None`` (:meth:`.CalibrationRun.problem`)."""
        return CalibrationRun.problem(self.config, self.model_window)

    def abort_calibration(self) -> None:
        self._calibrating.abort()

    def _calibrated(self) -> None:
        if self.train_after_calibration:
            self.train_calibration()

    # -- training ---------------------------------------------------------------------------------
    def train_calibration(self) -> bool:
        """Start ``training_factory(self)`` on the training thread (a failure to build it: ``error``)."""
        try:
            job, to_model, cancel = self.training_factory(self)
        except Exception as exc:  # noqa: BLE001 - any failure to build the job becomes an error event
            self._hub.error("training", f"could not prepare the training: {exc}", exc)
            return False
        return self.start_training(job, to_model, cancel=cancel)

    def calibration_training(self) -> Job:
        """The calibration job on the calibration and cued online runs (:func:`.training.calibration_training`)."""
        channel_map = self.stream.info.channel_map() if self.stream is not None else None
        return calibration_training([self.calibration_data, *self.online_data], self.config, channel_map,
                                    self.folder, self._inbox, started=self._files.track)

    def start_training(self, job: Iterator[Any], to_model: Callable[[Any], DecoderModel], *,
                       cancel: Callable[[], None] | None = None) -> bool:
        """Run ``job`` on the training thread (:meth:`bci_app.session.training.TrainingRunner.start`)."""
        return self._trainer.start(job, to_model, cancel=cancel, torch_threads=self.config.finetune.torch_threads)

    @property
    def training(self) -> bool:
        return self._trainer.running

    def training_plan(self) -> str:
        """What training on :attr:`calibration_data` will adapt, for display."""
        return training_plan(self.config, [self.calibration_data, *self.online_data])

    def wait_training(self, timeout: float | None = None) -> bool:
        """Join the training thread (and the report it writes) and deliver its events; True when it ended."""
        if not (self._trainer.join(timeout) and self._files.wait_written(timeout)):
            return False
        self.update()
        return not self._trainer.running

    def cancel_training(self, *, wait: bool = False) -> None:
        """Ask the job to stop between records; ``wait`` joins the thread, else :attr:`finishing` tracks it."""
        if self._trainer.cancel(wait=wait):
            self.update()

    # -- models and online decoding -------------------------------------------------------------
    def set_model(self, model: DecoderModel) -> None:
        """Make ``model`` active (installed atomically into the decoder when online)."""
        self._decoding.set_model(model)

    def start_online(self, *, runner: bool = True, outlet: bool = True, background: bool = False) -> bool:
        """Decode the source with the active model; ``runner=False``: :meth:`update` polls the decoder;
        ``background``: its decoder built on a thread, online from a later :meth:`update` (:mod:`.online`)."""
        return self._online.start(runner=runner, outlet=outlet, background=background)

    @property
    def online_starting(self) -> bool:
        """:meth:`start_online` in the background is under way (still ``connected``)."""
        return self._online.starting

    def stop_online(self) -> None:
        self._online.stop()

    # -- cued online trials (running accuracy, co-adaptation) ------------------------------------
    def start_online_trials(self, on_event: Callable[[ParadigmEvent], None] | None = None, *, trials_per_class: int | None = None,
                            seed_offset: int = 1000, tmin: float | None = None, start_at: float | None = None,
                            paradigm: Any = None) -> bool:
        """While online, cue (or follow ``paradigm``'s cues) and score trials (:meth:`.online_trials.CuedRuns.start`)."""
        if not self._modes.require("run cued online trials", Mode.ONLINE):
            return False
        return self._cued.start(self.config.paradigm, self.clock, self.decoder, self.model,
                                sfreq=self.stream.info.sfreq, record_marker=self.record_marker,
                                on_event=[on_event, self._cues.outlet() if paradigm is None else None],
                                trials_per_class=trials_per_class, seed_offset=seed_offset, tmin=tmin, start_at=start_at,
                                paradigm=paradigm)

    def _online_run_ended(self, run: Recording | None) -> None:
        """A cued run ended: add its score to the report and, with :attr:`coadapt`, retrain."""
        self._files.add_online_run(self._cued.score())
        if self.coadapt and run is not None and not self.training:
            self.train_calibration()

    # -- stepping ---------------------------------------------------------------------------------
    def update(self) -> None:
        """Advance the paradigm, collect data, poll a thread-less decoder, deliver the events. Call often."""
        self._source.acquire()
        if self.mode is Mode.CALIBRATING and self._calibration.poll():
            self._calibrating.finish()
        self._cued.update()
        if self.mode in (Mode.ONLINE, Mode.REPLAY):
            self._decoding.poll()
        self._inbox.drain()
        self._decoding.deliver()
        if self._replay.finished(self.stream):
            self.stop_replay("finished")

    def run_until(self, predicate: Callable[[], bool], *, timeout_s: float, interval_s: float = 0.01) -> bool:
        """:meth:`update` every ``interval_s`` (wall clock) until ``predicate()`` (True) or ``timeout_s`` (False)."""
        return poll_until(self.update, predicate, timeout_s=timeout_s, interval_s=interval_s)

    # -- replay (:mod:`bci_app.session.replay`) ----------------------------------------------------
    def start_replay(self, stream: StreamFile, *, runner: bool = True,
                     on_decision: Callable[[Prediction], None] | None = None) -> bool:
        """Decode a file stream as it was live, no outlet; ends by itself (``replay``: ``"finished"``)."""
        return self._replay.start(stream, runner=runner, on_decision=on_decision)

    def replay_file(self, path: str | Path, *, speed: float = 1.0, runner: bool = True,
                    on_decision: Callable[[Prediction], None] | None = None, background: bool = False) -> bool:
        """:meth:`start_replay` on the recording at ``path`` at ``speed`` × real time (``background``: opened
        on a thread, started by a later :meth:`update`; :class:`~bci_app.session.replay.ReplayMode`)."""
        return self._replay.start_file(path, speed=speed, runner=runner, on_decision=on_decision, background=background)

    def stop_replay(self, state: str = "stopped") -> None:
        """End the replay (the decoder thread joined), back to ``idle``; ``replay`` event ``state``."""
        self._replay.stop(state)


__all__ = ["EVENTS", "Mode", "Session", "SessionError", "StreamStatus", "StreamError"]
