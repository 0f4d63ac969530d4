"""The session's decoding: the active model, the decoder on the source (its thread, its LSL outlet)
and the latest prediction, handed to the session's thread at most once per update."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from bci_app.errors import BCIError
from bci_app.online.outputs import PredictionOutlet
from bci_app.online.runner import DecoderRunner
from bci_app.session.messages import DecoderFailed, Inbox

if TYPE_CHECKING:
    from bci_app.config import OnlineConfig
    from bci_app.online.decoder import Decoder, DecoderModel, Prediction
    from bci_app.online.outputs import PredictionOutlet
    from bci_app.online.runner import DecoderRunner
    from bci_app.session.finishing import Finishing
    from bci_app.session.observers import EventHub


class Decoding:
    """The active :attr:`model` and, while online or replaying, the :attr:`decoder`, its
    :attr:`runner` thread and its prediction outlet. A decoder thread that fails posts
    :class:`~bci_app.session.messages.DecoderFailed`; ``on_failed()`` then stops decoding. The outlet
    closes on a thread tracked by ``finishing`` (liblsl joins its I/O threads: ~50 ms)."""

    def __init__(self, hub: EventHub, inbox: Inbox, on_failed: Callable[[], None], finishing: Finishing) -> None:
        self.model: DecoderModel | None = None
        self.decoder: Decoder | None = None
        self.runner: DecoderRunner | None = None
        self.last_prediction: Prediction | None = None
        self._hub, self._inbox, self._on_failed = hub, inbox, on_failed
        self._finishing = finishing
        #: the thread ending the decoder :meth:`stop` stopped last (joined, every decision delivered, once it ends)
        self.stopping: threading.Thread | None = None
        self._outlet: PredictionOutlet | None = None
        self._pending: Prediction | None = None
        self._lock = threading.Lock()  # the decoder thread writes the latest prediction
        inbox.handle(DecoderFailed, self._failed)

    def set_model(self, model: DecoderModel) -> None:
        """Make ``model`` active (installed atomically into a running decoder); ``model`` event."""
        self.model = model
        if self.decoder is not None:
            try:
                self.decoder.install(model)
            except BCIError as exc:
                self._hub.error("model", f"could not install {model.name}: {exc}", exc)
                return
        self._hub.emit("model", model)

    @staticmethod
    def build(make: Callable[[], Decoder], model: DecoderModel, config: OnlineConfig, *,
              outlet: bool) -> tuple[Decoder, PredictionOutlet | None]:
        """The decoder (``make()``) and, with ``outlet``, its LSL prediction outlet for ``model``: the
        heavy part of starting (filters primed from the buffer, the outlet's I/O threads), safe on
        any thread. Raises :class:`~bci_app.errors.BCIError`."""
        decoder = make()
        out = None
        if outlet:
            out = PredictionOutlet(model.classes, name=config.outlet_name, step_s=config.step_s, model=model.name)
            decoder.add_output(out)
        return decoder, out

    def start(self, make: Callable[[], Decoder], config: OnlineConfig, *, outlet: bool, runner: bool,
              attach: Callable[[Decoder], None], on_decision: Callable[[Prediction], None] | None = None,
              built: tuple[Decoder, PredictionOutlet | None] | None = None) -> bool:
        """Build the decoder and its outlet (:meth:`build`; ``built``: already built off this thread),
        ``attach(decoder)`` (the recorder), subscribe ``on_decision`` and start the runner thread
        (``runner``; otherwise :meth:`poll` decodes); an ``error`` event and False on failure."""
        if self.model is None:
            self._hub.error("online", "no model to decode with; calibrate first or load an adapter")
            return False
        try:
            self.decoder, self._outlet = built if built is not None else self.build(make, self.model, config,
                                                                                     outlet=outlet)
        except BCIError as exc:
            self.decoder = None
            self._hub.error("online", f"cannot start decoding: {exc}", exc)
            return False
        attach(self.decoder)
        decoder = self.decoder
        decoder.subscribe(lambda pred: self._keep(pred, decoder))
        if on_decision is not None:
            self.decoder.subscribe(on_decision)
        if runner:
            self.runner = DecoderRunner(self.decoder, on_error=lambda e: self._inbox.post(DecoderFailed(e))).start()
        return True

    def poll(self) -> None:
        """Decode what a thread-less decoder has not decoded yet."""
        if self.decoder is not None and self.runner is None:
            try:
                self.decoder.poll()
            except BCIError as exc:
                self._hub.error("online", str(exc), exc)

    def stop(self) -> threading.Thread | None:
        """Stop decoding now: the decoder is dropped and its decisions from here on are not delivered;
        its thread ends the decision under way and is joined, then the outlet closes, on a thread
        tracked by ``finishing`` (returned, ``None`` when nothing had to finish): the caller's thread
        never waits for a decision (5-25 ms on a busy core) or liblsl (~50 ms). The model stays."""
        runner, outlet = self.runner, self._outlet
        self.runner, self._outlet, self.decoder, self.stopping = None, None, None, None
        with self._lock:
            self._pending = None  # a decision made before Stop but not yet delivered is not shown either
        if runner is None and outlet is None:
            return None

        def finish() -> None:
            if runner is not None:
                runner.stop()
            if outlet is not None:
                outlet.close()

        self.stopping = self._finishing.start(
            "stopping the decoder" if runner is not None else "closing the prediction stream", finish)
        return self.stopping

    def close_outlet(self, outlet: PredictionOutlet | None) -> None:
        """Close ``outlet`` on a thread of its own (tracked by ``finishing``)."""
        if outlet is not None:
            self._finishing.start("closing the prediction stream", outlet.close)

    def deliver(self) -> None:
        """The newest prediction since the last call, as a ``prediction`` event."""
        with self._lock:
            pred, self._pending = self._pending, None
        if pred is not None:
            self._hub.emit("prediction", pred)

    def _keep(self, pred: Prediction, decoder: Decoder) -> None:
        if self.decoder is not decoder:  # stopped: its last decision under way is not shown
            return
        with self._lock:
            self.last_prediction = pred
            self._pending = pred

    def _failed(self, message: DecoderFailed) -> None:
        self._hub.error("online", f"decoding stopped: {message.error}", message.error)
        self._on_failed()


__all__ = ["Decoding"]
