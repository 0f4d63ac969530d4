"""The session's online mode: the source decoded with the active model, its decisions published (LSL
outlet) and recorded into the participant's online recording; cued runs end with it.

Starting builds the decoder (its filters primed from the buffered seconds its warm-up needs: 10-25 ms
of a core with 64 channels), the LSL outlet (~5 ms) and opens the participant's online recording
(its headers: 5-20 ms with 64 channels). Asked with ``background=True`` (the window), all three are
made on a ``bci-online-open`` thread and the session enters ``online`` in its own thread
when they are ready (an :class:`OnlineOpened` message); meanwhile the session stays ``connected``
(:attr:`OnlineMode.starting`), and stopping or disconnecting gives the start up (a recording opened
for it is closed and deleted). A start that finds the session in another mode by then is refused
with an ``error`` event; one that finds another model active starts again with it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bci_app.errors import BCIError
from bci_app.online.decoder import Decoder
from bci_app.session.decoding import Decoding
from bci_app.session.modes import Mode, ModeMachine
from bci_app.session.recording import OpenedRecording

if TYPE_CHECKING:
    from bci_app.acquisition.base import Stream
    from bci_app.config import AppConfig, OnlineConfig
    from bci_app.online.decoder import DecoderModel
    from bci_app.session.messages import Inbox
    from bci_app.session.observers import EventHub
    from bci_app.session.online_trials import CuedRuns
    from bci_app.session.recording import SessionRecorder


@dataclass(frozen=True)
class OnlineOpened:
    """Message: the decoder and outlet of the start ``ticket`` were built on their thread (``built``:
    ``(decoder, outlet or None)``), or could not be (``error``); ``recording``: the participant's
    recording opened for it (or why it could not be), ``None`` when there was none to open."""

    ticket: object
    built: tuple[Decoder, Any] | None = None
    error: BaseException | None = None
    recording: OpenedRecording | BaseException | None = None


class OnlineMode:
    """Enters and leaves ``online`` (module doc): ``decoding`` decodes ``stream()``, ``recording``
    records to ``recording_path()`` (the participant's next online file, or ``None``), ``cued`` runs
    end with it."""

    def __init__(self, hub: EventHub, modes: ModeMachine, decoding: Decoding, recording: SessionRecorder,
                 cued: CuedRuns, *, inbox: Inbox, config: Callable[[], AppConfig], stream: Callable[[], Stream | None],
                 recording_path: Callable[[], Path | None]) -> None:
        self._hub, self._modes, self._decoding, self._recording, self._cued = hub, modes, decoding, recording, cued
        self._inbox, self._config, self._stream, self._recording_path = inbox, config, stream, recording_path
        #: the background start wanted now: (ticket, runner, outlet, model); None: none
        self._starting: tuple[object, bool, bool, DecoderModel] | None = None
        inbox.handle(OnlineOpened, self._opened)

    @property
    def starting(self) -> bool:
        """A background start is building the decoder (the session is still ``connected``)."""
        return self._starting is not None

    def _make(self, model: DecoderModel, online: OnlineConfig) -> Callable[[], Decoder]:
        stream = self._stream()
        # decoding starts on the buffered seconds its warm-up needs: the first decision comes at once
        return lambda: Decoder.for_stream(stream, model, online, start_index="buffered")

    def start(self, *, runner: bool = True, outlet: bool = True, background: bool = False) -> bool:
        """Decode the source with the active model (``runner=False``: the session's update polls);
        ``background``: build the decoder and outlet on a thread first (module doc)."""
        if not self._modes.require("go online", Mode.CONNECTED):
            return False
        model, online = self._decoding.model, self._config().online
        if model is None or not background:
            return self._enter(self._make(model, online), online, outlet=outlet, runner=runner)
        if self._starting is not None:
            self._hub.error("online", "online decoding is starting already")
            return False
        ticket, make = object(), self._make(model, online)
        open_recording = self._recording.opener(self._recording_path(), self._stream())

        def work() -> None:
            try:
                built = Decoding.build(make, model, online, outlet=outlet)
            except Exception as exc:  # noqa: BLE001 - any failure reaches the session as an error, never a dead thread
                self._inbox.post(OnlineOpened(ticket, error=exc))
                return
            recording: OpenedRecording | BaseException | None = None
            if open_recording is not None and self._wanted(ticket):
                try:
                    recording = open_recording(built[0])
                except Exception as exc:  # noqa: BLE001 - said as the recording's error when entering online
                    recording = exc
                if not self._wanted(ticket):  # given up meanwhile (stop, disconnect): no file left behind
                    self._recording.discard(recording)
                    recording = None
            self._inbox.post(OnlineOpened(ticket, built, recording=recording))

        self._starting = (ticket, runner, outlet, model)
        threading.Thread(target=work, name="bci-online-open", daemon=True).start()
        return True

    def _wanted(self, ticket: object) -> bool:
        """The background start ``ticket`` is still the one wanted (read from its thread too)."""
        starting = self._starting
        return starting is not None and starting[0] is ticket

    def _enter(self, make: Callable[[], Decoder], online: OnlineConfig, *, outlet: bool, runner: bool,
               built: tuple[Decoder, Any] | None = None, recording: OpenedRecording | BaseException | None = None) -> bool:
        if recording is None:
            self._recording.auto_start(self._recording_path(), self._stream())
            attach = self._recording.attach
        else:
            attach = self._recording.adopt(recording)
        if not self._decoding.start(make, online, outlet=outlet, runner=runner, attach=attach, built=built):
            self._recording.auto_stop()
            return False
        self._modes.enter(Mode.ONLINE)
        return True

    def _opened(self, message: OnlineOpened) -> None:
        wanted, self._starting = self._starting, None
        if wanted is None or wanted[0] is not message.ticket:  # given up meanwhile (stop, disconnect)
            self._starting = wanted
            if message.built is not None:
                self._decoding.close_outlet(message.built[1])
            self._recording.discard(message.recording)
            return
        _, runner, outlet, model = wanted
        if message.error is not None:
            text = str(message.error) if isinstance(message.error, BCIError) else repr(message.error)
            self._hub.error("online", f"cannot start decoding: {text}", message.error)
            return
        mode = self._modes.mode
        if mode is not Mode.CONNECTED or self._decoding.model is not model:
            self._decoding.close_outlet(message.built[1])
            self._recording.discard(message.recording)
            if mode is Mode.CONNECTED:  # another model arrived meanwhile: decode with it
                self.start(runner=runner, outlet=outlet, background=True)
            else:
                self._hub.error("online", f"online decoding did not start: the session is {mode.value} now")
            return
        self._enter(lambda: message.built[0], self._config().online, outlet=outlet, runner=runner, built=message.built,
                    recording=message.recording)

    def stop(self) -> None:
        """End cued runs, decoding (a start under way is given up) and the online recording; back to
        ``connected`` from ``online`` or ``replay``."""
        self._starting = None
        self._cued.end()
        self._recording.auto_stop(after=self._decoding.stop())  # the last decision is in the file
        if self._modes.mode in (Mode.ONLINE, Mode.REPLAY):
            self._modes.enter(Mode.CONNECTED)


__all__ = ["OnlineMode", "OnlineOpened"]
