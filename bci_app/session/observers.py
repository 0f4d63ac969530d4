"""The session's observers and errors: ``subscribe(event, callback)``, events delivered in order,
and every failure as a :class:`SessionError` (kept, logged, and sent as an ``error`` event).

The one place where session events are named (:data:`EVENTS`); every collaborator of the session
reports through an :class:`EventHub` it is given, never through the session itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bci_app.errors import BCIError

log = logging.getLogger("bci_app.session")

EVENTS = ("mode", "error", "stream", "paradigm", "quality", "progress", "model", "prediction", "recording", "replay",
          "saved")
"""Session events: ``subscribe(name, callback)``; ``"*"`` receives all as ``callback(name, payload)``."""


@dataclass(frozen=True)
class SessionError:
    """An error as the user sees it: a plain ``message`` and where it came from (``source``)."""

    message: str
    source: str
    exception: BaseException | None = None


class EventHub:
    """Subscribers per event and the errors so far; call :meth:`emit` only in the session's thread."""

    def __init__(self) -> None:
        self._subscribers: dict[str, list[Callable]] = {}
        self.errors: list[SessionError] = []

    def subscribe(self, event: str, callback: Callable) -> Callable[[], None]:
        """``callback(payload)`` for ``event`` (one of :data:`EVENTS`), or ``callback(event, payload)``
        for ``"*"``. Returns an unsubscribe function."""
        if event != "*" and event not in EVENTS:
            raise ValueError(f"unknown session event {event!r}; expected one of {', '.join(EVENTS)} or '*'")
        callbacks = self._subscribers.setdefault(event, [])
        callbacks.append(callback)
        return lambda: callbacks.remove(callback) if callback in callbacks else None

    def emit(self, event: str, payload: Any) -> None:
        """Deliver ``payload`` to the subscribers of ``event``, then to those of ``"*"``; a failing
        subscriber is logged and the others still get it."""
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

    def error(self, source: str, message: str, exc: BaseException | None = None) -> SessionError:
        """Keep, log and emit an error (a traceback in the log only for exceptions that are not
        :class:`~bci_app.errors.BCIError`, i.e. bugs)."""
        err = SessionError(message, source, exc)
        self.errors.append(err)
        log.error("%s: %s", source, message, exc_info=exc if exc is not None and not isinstance(exc, BCIError) else None)
        self.emit("error", err)
        return err


__all__ = ["EVENTS", "EventHub", "SessionError"]
