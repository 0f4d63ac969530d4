"""The session's replay mode: a recording decoded as it was live, through the one replay driver
(:func:`bci_app.online.replay.replay_decoder`), from the sample where the live decoder started, so
the decisions are the live ones; no prediction outlet.

Opening a recording (reading the whole file, then building its decoder) takes 0.3-0.5 s: the
window opens it in the background (``start_file(..., background=True)``) on a ``bci-replay-open``
thread, which has the file read in a process of its own (pyxdf parses samples and fits clocks in
Python: read on that thread, it held the window's timer for tens of ms), and the replay starts in
the session's thread when it is open (a :class:`ReplayOpened` message), once the session has closed
it when it was still closing it (the session's own recording replayed right after Stop); a
recording that cannot be opened is an ``error`` event and a ``replay`` event ``"failed"``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bci_app.errors import BCIError
from bci_app.online.replay import replay_decoder, replay_stream
from bci_app.session.finishing import closing
from bci_app.session.modes import Mode, ModeMachine

if TYPE_CHECKING:
    from bci_app.acquisition.base import Stream
    from bci_app.acquisition.file import StreamFile
    from bci_app.config import AppConfig
    from bci_app.online.decoder import Decoder, Prediction
    from bci_app.session.decoding import Decoding
    from bci_app.session.finishing import Finishing
    from bci_app.session.messages import Inbox
    from bci_app.session.observers import EventHub


@dataclass(frozen=True)
class ReplayEnded:
    """Message: the replay's decoder thread has ended (its every decision delivered): ``replay`` ``state``."""

    state: str


@dataclass(frozen=True)
class ReplayOpened:
    """Message: the recording ``path`` was opened on its thread (``stream`` connected, ``decoder``
    built for it), or could not be (``error``); ``ticket`` names the request it answers."""

    ticket: object
    path: str
    stream: StreamFile | None = None
    decoder: Decoder | None = None
    error: BaseException | None = None


class ReplayMode:
    """Enters and leaves ``replay``: ``connect(stream)`` / ``disconnect()`` are the session's (the file
    becomes its source), ``decoding`` decodes it, ``attach(decoder)`` records the decisions."""

    def __init__(self, hub: EventHub, modes: ModeMachine, decoding: Decoding, *, config: Callable[[], AppConfig],
                 clock: Callable[[], float], connect: Callable[[Stream], bool], disconnect: Callable[[], None],
                 attach: Callable, inbox: Inbox, finishing: Finishing) -> None:
        self._hub, self._modes, self._decoding = hub, modes, decoding
        self._config, self._clock = config, clock
        self._connect, self._disconnect, self._attach = connect, disconnect, attach
        self._inbox, self._finishing = inbox, finishing
        #: the background opening wanted now (its ticket, and how to start once open); None: none
        self._opening: tuple[object, bool, Callable[[Prediction], None] | None] | None = None
        inbox.handle(ReplayOpened, self._opened)
        inbox.handle(ReplayEnded, lambda m: hub.emit("replay", m.state))

    @property
    def opening(self) -> bool:
        """A recording is being opened in the background."""
        return self._opening is not None

    def _ready(self) -> bool:
        if not self._modes.require("replay", Mode.IDLE):
            return False
        if self._decoding.model is None:
            self._hub.error("online", "no model to replay with; calibrate first or load an adapter")
            return False
        return True

    def start(self, stream: StreamFile, *, runner: bool, on_decision: Callable[[Prediction], None] | None,
              decoder: Decoder | None = None) -> bool:
        """Replay ``stream`` with the active model (``decoder``: already built for it). ``runner``: decode
        on a worker thread (else the session's update polls); ``on_decision(prediction)`` runs on the
        decoding thread."""
        if not self._ready() or not self._connect(stream):
            return False
        model, online = self._decoding.model, self._config().online
        make = (lambda: decoder) if decoder is not None else (lambda: replay_decoder(stream, model, online))
        if not self._decoding.start(make, online, outlet=False, runner=runner, attach=self._attach,
                                    on_decision=on_decision):
            self._disconnect()
            return False
        self._modes.enter(Mode.REPLAY)
        return True

    def start_file(self, path: str | Path, *, speed: float, runner: bool,
                   on_decision: Callable[[Prediction], None] | None, background: bool = False) -> bool:
        """:meth:`start` on the recording at ``path`` played at ``speed`` × real time on the session
        clock (:func:`bci_app.online.replay.replay_stream`). ``background``: open it (and build its
        decoder) on a thread of its own and start when it is open (module doc); True once that began."""
        if not background:
            try:
                stream = replay_stream(path, speed=speed, clock=self._clock)
            except BCIError as exc:
                self._hub.error("stream", f"cannot open the recording {path}: {exc}", exc)
                return False
            return self.start(stream, runner=runner, on_decision=on_decision)
        if not self._ready():
            return False
        if self._opening is not None:
            self._hub.error("stream", "a recording is being opened already; wait for it or stop it")
            return False
        ticket, model, online, clock = object(), self._decoding.model, self._config().online, self._clock

        def work() -> None:
            try:
                self._finishing.wait(30.0, closing(path))  # a recording the session is still closing: its end too
                stream = replay_stream(path, speed=speed, clock=clock, apart=True)
                stream.connect()
                self._inbox.post(ReplayOpened(ticket, str(path), stream, replay_decoder(stream, model, online)))
            except Exception as exc:  # noqa: BLE001 - any failure reaches the session as an error, never a dead thread
                self._inbox.post(ReplayOpened(ticket, str(path), error=exc))

        self._opening = (ticket, runner, on_decision)
        threading.Thread(target=work, name="bci-replay-open", daemon=True).start()
        return True

    def cancel_opening(self) -> None:
        """Forget the recording being opened (stop or disconnect before it is open): it is not played."""
        self._opening = None

    def _opened(self, message: ReplayOpened) -> None:
        wanted, self._opening = self._opening, None
        if wanted is None or wanted[0] is not message.ticket:  # stopped meanwhile: not played
            self._opening = wanted
            if message.stream is not None:
                message.stream.disconnect()
            return
        if message.error is not None:
            self._hub.error("stream", f"cannot open the recording {message.path}: {message.error}", message.error)
            self._hub.emit("replay", "failed")
        elif not self.start(message.stream, runner=wanted[1], on_decision=wanted[2], decoder=message.decoder):
            message.stream.disconnect()
            self._hub.emit("replay", "failed")

    def finished(self, stream: Stream | None) -> bool:
        """Replaying, the file has ended and the decoder has read its last sample."""
        dec = self._decoding.decoder
        return (self._modes.mode is Mode.REPLAY and stream is not None and getattr(stream, "finished", False)
                and (dec is None or dec.next_index >= stream.buffer.n_written))

    def stop(self, state: str) -> None:
        """Leave replay now (the session disconnects; ``idle``); the ``replay`` event ``state`` follows
        once the decoder thread, joined off this thread, has delivered its last decision (through the
        inbox: a later update). A recording still being opened is not played (``replay`` ``state`` at once)."""
        if self._opening is not None:
            self.cancel_opening()
            self._hub.emit("replay", state)
            return
        if self._modes.mode is not Mode.REPLAY:
            return
        self._disconnect()
        stopping = self._decoding.stopping
        if stopping is None or not stopping.is_alive():
            self._hub.emit("replay", state)
            return
        self._finishing.start("ending the replay", lambda: (stopping.join(), self._inbox.post(ReplayEnded(state))))


__all__ = ["ReplayEnded", "ReplayMode", "ReplayOpened"]
