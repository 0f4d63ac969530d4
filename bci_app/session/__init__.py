"""The headless session (Qt-free): the state machine (:mod:`.machine`), its training runner
(:mod:`.training`), cued online trials (:mod:`.online_trials`), calibration collection
(:mod:`.calibration`) and its XDF file (:mod:`.recording`). ``from bci_app.session import Session, Mode``
is the public entry."""

from bci_app.errors import StreamError
from bci_app.session.machine import EVENTS, Mode, Session, SessionError, StreamStatus

__all__ = ["EVENTS", "Mode", "Session", "SessionError", "StreamStatus", "StreamError"]
