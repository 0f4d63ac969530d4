"""The headless session (Qt-free) the GUI and the CLI share: a small mode machine
(:mod:`.machine`, :mod:`.modes`) over collaborators with one concern each (source, recording, cues,
calibration, training, decoding, cued online runs, participant files, replay), talking through typed
messages (:mod:`.messages`). ``from bci_app.session import Session, Mode`` is the public entry."""

from bci_app.errors import StreamError
from bci_app.session.machine import EVENTS, Mode, Session, SessionError, StreamStatus

__all__ = ["EVENTS", "Mode", "Session", "SessionError", "StreamStatus", "StreamError"]
