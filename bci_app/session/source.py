"""The session's EEG source: connecting it, its status for display, manual acquisition and what its
events mean to the user."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bci_app.errors import BCIError
from bci_app.session.messages import Inbox, StreamChanged
from bci_app.vocabulary import is_model_input

if TYPE_CHECKING:
    from bci_app.acquisition.base import Stream
    from bci_app.session.finishing import Finishing
    from bci_app.session.observers import EventHub

log = logging.getLogger("bci_app.session")


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


@dataclass(frozen=True)
class SourceCloseFailed:
    """Message: closing the source on its thread failed with ``error``."""

    error: BaseException


class SourceLink:
    """Holds the connected :class:`~bci_app.acquisition.base.Stream`; its events arrive through
    ``inbox`` as :class:`~bci_app.session.messages.StreamChanged` and reach ``hub`` as ``stream``
    events (and ``error`` when the source failed). A source with an acquisition thread of its own
    can close on a thread tracked by ``finishing``."""

    def __init__(self, hub: EventHub, inbox: Inbox, finishing: Finishing) -> None:
        self.stream: Stream | None = None
        self._hub = hub
        self._inbox = inbox
        self._finishing = finishing
        self._unsubscribe: Callable[[], None] | None = None
        inbox.handle(StreamChanged, self._on_event)
        inbox.handle(SourceCloseFailed, lambda m: hub.error("stream", f"disconnect failed: {m.error}", m.error))

    def connect(self, stream: Stream) -> bool:
        """Connect ``stream`` (if needed) and hold it; an ``error`` event and False when it fails."""
        try:
            if not stream.connected:
                stream.connect()
        except BCIError as exc:
            self._hub.error("stream", f"could not connect: {exc}", exc)
            return False
        self.stream = stream
        self._unsubscribe = stream.subscribe(lambda ev: self._inbox.post(StreamChanged(ev)))
        return True

    def disconnect(self, *, wait: bool = True) -> None:
        """Close the source (a failure to close is an ``error`` event) and let it go; ``wait=False``: a
        source with its own acquisition thread closes on a thread of its own (joining that thread,
        which may sit in a driver's pull, and closing an LSL inlet held the window's thread up to
        ~20-70 ms), said by ``finishing`` as "closing the source <name>"."""
        stream, self.stream = self.stream, None
        if stream is None:
            return
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if wait or stream.acquisition_delay is None:
            try:
                stream.disconnect()
            except BCIError as exc:
                self._hub.error("stream", f"disconnect failed: {exc}", exc)
            return

        def close() -> None:
            try:
                stream.disconnect()
            except BCIError as exc:
                self._inbox.post(SourceCloseFailed(exc))

        self._finishing.start(f"closing the source {stream.info.name}", close)

    def acquire(self) -> None:
        """Pull the source's new samples when it has no acquisition thread of its own."""
        s = self.stream
        if s is not None and s.acquisition_delay is None and s.connected:
            try:
                s.acquire()
            except BCIError as exc:
                self._hub.error("stream", str(exc), exc)

    @property
    def status(self) -> StreamStatus | None:
        s = self.stream
        if s is None:
            return None
        info, c = s.info, s.counters
        return StreamStatus(info.name, s.state.value, info.sfreq, info.n_chans, c.received, c.lost_overflow, c.gaps,
                            c.non_finite)

    def model_input_names(self) -> list[str]:
        """The source's channels that feed the model (EEG, not EOG/EMG/AUX)."""
        info = self.stream.info
        return [n for n, t in zip(info.ch_names, info.ch_types) if is_model_input(t)]

    def _on_event(self, message: StreamChanged) -> None:
        ev = message.event
        self._hub.emit("stream", ev)
        if ev.kind == "failed":
            self._hub.error("stream", f"the source failed: {ev.message}", ev.error)
        elif ev.kind == "gap":
            log.warning("source lost: %s (decoding pauses until data return)", ev.message)


__all__ = ["SourceLink", "StreamStatus"]
