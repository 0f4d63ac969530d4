"""The session's calibrating mode: starting a calibration (refused before any trial when the model
could not decode its trials), its recording and cue stream, aborting it, and what its end starts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bci_app.errors import BCIError
from bci_app.session.calibration import CalibrationRun
from bci_app.session.modes import Mode, ModeMachine

if TYPE_CHECKING:
    from bci_app.acquisition.base import Stream
    from bci_app.config import AppConfig
    from bci_app.paradigm.timing import ParadigmEvent
    from bci_app.session.cues import CuePublisher
    from bci_app.session.observers import EventHub
    from bci_app.session.participant import ParticipantFiles
    from bci_app.session.recording import SessionRecorder


class CalibratingMode:
    """Enters and leaves ``calibrating``: ``run`` collects the data, ``recording`` records it into the
    participant's files (``files``), ``cues`` publishes the cue codes; ``completed()`` is called when a
    calibration ran to its end (the session then trains, when asked to)."""

    def __init__(self, hub: EventHub, modes: ModeMachine, run: CalibrationRun, recording: SessionRecorder,
                 files: ParticipantFiles, cues: CuePublisher, *, completed: Callable[[], None]) -> None:
        self._hub, self._modes, self._run, self._recording = hub, modes, run, recording
        self._files, self._cues, self._completed = files, cues, completed

    def start(self, config: AppConfig, clock: Callable[[], float], stream: Stream, problem: str | None,
              on_event: Callable[[ParadigmEvent], None] | None, *, marker_outlet: Any, start_at: float | None,
              paradigm: Any) -> bool:
        """:meth:`bci_app.session.Session.start_calibration`; ``problem``: why the configured paradigm
        cannot calibrate the model (refused), or ``None``."""
        if not self._modes.require("start calibration", Mode.CONNECTED):
            return False
        if problem is not None and paradigm is None:  # external cues keep their own timing
            self._hub.error("calibration", f"cannot start calibration: {problem}")
            return False
        self._recording.auto_start(self._files.recording_path("calibration"), stream)
        self._files.keep_paradigm(config.paradigm)  # the set-up beside the recording (its header has it too)
        outlet = marker_outlet if marker_outlet is not None or paradigm is not None else self._cues.outlet()
        paradigm = self._run.prepare(config, clock, stream, [on_event, outlet], paradigm)
        self._modes.enter(Mode.CALIBRATING)
        try:
            paradigm.start(start_at)
        except BCIError as exc:
            self._run.drop()
            self._recording.auto_stop()
            self._modes.enter(Mode.CONNECTED)
            self._hub.error("calibration", f"cannot start calibration: {exc}", exc)
            return False
        return True

    def abort(self) -> None:
        if self._run.paradigm is not None and self._modes.mode is Mode.CALIBRATING:
            self._run.abort()
            self.finish()

    def finish(self) -> None:
        """The paradigm ended (or was aborted): stop its recording, back to ``connected``."""
        if not self._run.finish():
            return
        self._recording.auto_stop()
        self._modes.enter(Mode.CONNECTED)
        if self._run.completed:
            self._completed()


__all__ = ["CalibratingMode"]
