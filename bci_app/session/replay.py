"""The session's replay mode: a recording decoded as it was live, through the one replay driver
(:func:`bci_app.online.replay.replay_decoder`), from the sample where the live decoder started, so
the decisions are the live ones; no prediction outlet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bci_app.errors import BCIError
from bci_app.online.replay import replay_decoder, replay_stream
from bci_app.session.modes import Mode, ModeMachine

if TYPE_CHECKING:
    from bci_app.acquisition.base import Stream
    from bci_app.acquisition.file import StreamFile
    from bci_app.config import AppConfig
    from bci_app.online.decoder import Prediction
    from bci_app.session.decoding import Decoding
    from bci_app.session.observers import EventHub


class ReplayMode:
    """Enters and leaves ``replay``: ``connect(stream)`` / ``disconnect()`` are the session's (the file
    becomes its source), ``decoding`` decodes it, ``attach(decoder)`` records the decisions."""

    def __init__(self, hub: EventHub, modes: ModeMachine, decoding: Decoding, *, config: Callable[[], AppConfig],
                 clock: Callable[[], float], connect: Callable[[Stream], bool], disconnect: Callable[[], None],
                 attach: Callable) -> None:
        self._hub, self._modes, self._decoding = hub, modes, decoding
        self._config, self._clock = config, clock
        self._connect, self._disconnect, self._attach = connect, disconnect, attach

    def start(self, stream: StreamFile, *, runner: bool, on_decision: Callable[[Prediction], None] | None) -> bool:
        """Replay ``stream`` with the active model. ``runner``: decode on a worker thread (else the
        session's update polls); ``on_decision(prediction)`` runs on the decoding thread."""
        if not self._modes.require("replay", Mode.IDLE):
            return False
        model = self._decoding.model
        if model is None:
            self._hub.error("online", "no model to replay with; calibrate first or load an adapter")
            return False
        if not self._connect(stream):
            return False

        online = self._config().online
        if not self._decoding.start(lambda: replay_decoder(stream, model, online), online, outlet=False, runner=runner,
                                    attach=self._attach, on_decision=on_decision):
            self._disconnect()
            return False
        self._modes.enter(Mode.REPLAY)
        return True

    def start_file(self, path: str | Path, *, speed: float, runner: bool,
                   on_decision: Callable[[Prediction], None] | None) -> bool:
        """:meth:`start` on the recording at ``path`` played at ``speed`` × real time on the session
        clock (:func:`bci_app.online.replay.replay_stream`)."""
        try:
            stream = replay_stream(path, speed=speed, clock=self._clock)
        except BCIError as exc:
            self._hub.error("stream", f"cannot open the recording {path}: {exc}", exc)
            return False
        return self.start(stream, runner=runner, on_decision=on_decision)

    def finished(self, stream: Stream | None) -> bool:
        """Replaying, the file has ended and the decoder has read its last sample."""
        dec = self._decoding.decoder
        return (self._modes.mode is Mode.REPLAY and stream is not None and getattr(stream, "finished", False)
                and (dec is None or dec.next_index >= stream.buffer.n_written))

    def stop(self, state: str) -> None:
        """Leave replay (the session disconnects, joining the decoder thread); ``replay`` event ``state``."""
        if self._modes.mode is not Mode.REPLAY:
            return
        self._disconnect()
        self._hub.emit("replay", state)


__all__ = ["ReplayMode"]
