"""The session's XDF file: the source's EEG and markers, the paradigm's GDF codes (stream
``bci-app-paradigm``) and the decoder's predictions (``bci-app-predictions``), plus the whole
configuration in the file header; :class:`SessionRecorder` is the session's one recording at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bci_app.errors import BCIError
from bci_app.io.xdf import XdfRecorder
from bci_app.online.outputs import RecorderSink
from bci_app.session.finishing import closing
from bci_app.session.messages import Inbox, RecordingClosed, RecordingFailed

if TYPE_CHECKING:
    from bci_app.acquisition.base import Stream
    from bci_app.config import AppConfig
    from bci_app.io.xdf import XdfRecorder
    from bci_app.online.decoder import Decoder
    from bci_app.session.finishing import Finishing
    from bci_app.session.observers import EventHub

PARADIGM_STREAM = "bci-app-paradigm"


def open_recorder(path: str | Path, stream: Stream, config: AppConfig, clock: Callable[[], float], *,
                  overwrite: bool, on_error: Callable[[BaseException], None]) -> tuple[XdfRecorder, Any]:
    """Start recording ``stream`` to ``path``; returns the recorder and the handle of its paradigm
    marker stream. Raises :class:`~bci_app.errors.RecordingError` when the file cannot be written."""
    # libyaml's emitter when present (the same text; the pure-Python one took ~5 ms of the UI thread's tick)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    rec = XdfRecorder(
        path, file_desc={"config": yaml.dump(config.model_dump(mode="json"), Dumper=dumper, sort_keys=False)},
        flush_interval=config.recording.flush_interval_s, clock=clock, overwrite=overwrite, on_error=on_error,
    )
    rec.record_stream(stream)
    paradigm = rec.add_stream(PARADIGM_STREAM, "Markers", ["code"], ch_types=["Marker"], units=[""], sfreq=0.0,
                              channel_format="string", source_id=PARADIGM_STREAM)
    return rec, paradigm


def record_predictions(recorder: XdfRecorder, decoder: Decoder, step_s: float) -> Callable[[], None]:
    """Write every decision of ``decoder`` (with its start index, for replays) into ``recorder``;
    returns the removal of that output."""
    sink = RecorderSink(recorder, decoder.classes, step_s=step_s, model=decoder.model.name,
                        start_index=decoder.start_index, first_index=recorder.first_index(decoder.stream))
    return decoder.add_output(sink)


@dataclass(frozen=True)
class OpenedRecording:
    """A participant's recording opened off the session's thread for a decoder about to start
    (:meth:`SessionRecorder.opener`): the recorder, its paradigm marker stream, and the removal of
    the decoder's prediction sink (the decoder records into it from its first decision)."""

    recorder: XdfRecorder
    paradigm: Any
    detach: Callable[[], None]


class SessionRecorder:
    """The session's one recording at a time: open, stop, the paradigm's markers, the decoder's
    predictions, the participant's files recorded by themselves, files closed on a thread of their
    own (tracked by ``finishing``), and a recorder that fails on its thread (a
    :class:`~bci_app.session.messages.RecordingFailed` through ``inbox``).

    ``config()`` gives the configuration in force; ``clock``: the session clock (seconds)."""

    def __init__(self, hub: EventHub, inbox: Inbox, config: Callable[[], AppConfig], clock: Callable[[], float],
                 finishing: Finishing) -> None:
        self.recorder: XdfRecorder | None = None
        self._hub, self._inbox, self._config, self._clock = hub, inbox, config, clock
        self._finishing = finishing
        self._paradigm_stream: Any = None
        self._auto = False
        inbox.handle(RecordingFailed, self._on_failed)
        inbox.handle(RecordingClosed, lambda m: hub.emit(
            "recording", {"path": m.path, "state": "failed" if m.failed else "stopped"}))

    def start(self, path: str | Path, stream: Stream | None, decoder: Decoder | None, *, overwrite: bool = False) -> bool:
        """Record ``stream`` (EEG + its markers), paradigm markers and ``decoder``'s predictions to
        ``path`` (.xdf); an ``error`` event and False when it cannot."""
        if stream is None:
            self._hub.error("recording", "connect a source before recording")
            return False
        if self.recorder is not None:
            self._hub.error("recording", f"already recording to {self.recorder.path}; stop it first")
            return False
        try:
            rec, self._paradigm_stream = open_recorder(path, stream, self._config(), self._clock, overwrite=overwrite,
                                                       on_error=lambda e: self._inbox.post(RecordingFailed(e)))
        except BCIError as exc:
            self._hub.error("recording", str(exc), exc)
            return False
        self.recorder = rec
        if decoder is not None:
            self.attach(decoder)
        self._hub.emit("recording", {"path": str(rec.path), "state": "started"})
        return True

    def stop(self, *, background: bool = False, after: threading.Thread | None = None) -> None:
        """Stop and close the recording; with ``background`` it closes on a thread of its own (the last
        flush waits for the writer and the disk: an fsync on a busy disk held the UI thread 50-300 ms):
        a ``recording`` event ``"closing"`` now, ``"stopped"`` (or ``"failed"``) once the file is
        complete and synced (:class:`~bci_app.session.messages.RecordingClosed` through the inbox);
        ``after``: a thread to end first (the decoder's: its last decision goes into the file)."""
        rec, self.recorder = self.recorder, None
        if rec is None:
            return
        if background:
            def close() -> None:
                if after is not None:
                    after.join()
                rec.close()
                self._inbox.post(RecordingClosed(str(rec.path), rec.error is not None))

            self._hub.emit("recording", {"path": str(rec.path), "state": "closing"})
            self._finishing.start(closing(rec.path), close)
            return
        rec.close()
        self._hub.emit("recording", {"path": str(rec.path), "state": "failed" if rec.error else "stopped"})

    def attach(self, decoder: Decoder) -> None:
        """Record ``decoder``'s predictions (when recording)."""
        if self.recorder is not None:
            record_predictions(self.recorder, decoder, self._config().online.step_s)

    def marker(self, value: str, timestamp: float) -> None:
        """Write a marker into the paradigm stream of the active recording; nothing when not recording."""
        if self.recorder is not None and self._paradigm_stream is not None:
            self.recorder.push(self._paradigm_stream, [str(value)], [timestamp])

    def auto_start(self, path: Path | None, stream: Stream | None, decoder: Decoder | None = None) -> None:
        """Record to ``path`` (a participant's file; ``None``: no participant) when nothing records yet."""
        if path is not None and self.recorder is None and stream is not None:
            self._auto = self.start(path, stream, decoder)

    def opener(self, path: Path | None, stream: Stream | None) -> Callable[[Decoder], OpenedRecording] | None:
        """:meth:`auto_start` of ``path`` as a function safe on any thread, opening the recording and
        recording a ``decoder``'s predictions (writing the file's headers: 5-20 ms of a core with 64
        channels, kept off the window's thread); :meth:`adopt` makes it the session's. ``None`` when
        :meth:`auto_start` would not record (no participant, or a recording under way).
        The function raises :class:`~bci_app.errors.BCIError` when the file cannot be written."""
        if path is None or self.recorder is not None or stream is None:
            return None
        config, clock, inbox = self._config(), self._clock, self._inbox

        def open_for(decoder: Decoder) -> OpenedRecording:
            rec, paradigm = open_recorder(path, stream, config, clock, overwrite=False,
                                          on_error=lambda e: inbox.post(RecordingFailed(e)))
            return OpenedRecording(rec, paradigm, record_predictions(rec, decoder, config.online.step_s))

        return open_for

    def adopt(self, opened: OpenedRecording | BaseException) -> Callable[[Decoder], None]:
        """Make the recording :meth:`opener` opened the session's own, as :meth:`auto_start` would
        have (its ``recording`` event; a failure to open, ``opened``, is an ``error`` event); returns
        how the decoder is then attached (already, or to a recording the user started meanwhile)."""
        if isinstance(opened, BaseException):
            self._hub.error("recording", str(opened), opened)
            return self.attach
        if self.recorder is not None:  # the user started one meanwhile: the decoder goes into theirs
            self.discard(opened)
            return self.attach
        self.recorder, self._paradigm_stream, self._auto = opened.recorder, opened.paradigm, True
        self._hub.emit("recording", {"path": str(opened.recorder.path), "state": "started"})
        return lambda _decoder: None

    def discard(self, opened: OpenedRecording | BaseException | None) -> None:
        """Close and delete a recording :meth:`opener` opened for a start given up (any thread)."""
        if not isinstance(opened, OpenedRecording):
            return
        opened.detach()
        rec = opened.recorder
        self._finishing.start(closing(rec.path), lambda: (rec.close(), rec.path.unlink(missing_ok=True)))

    def auto_stop(self, *, after: threading.Thread | None = None) -> None:
        """Stop a recording :meth:`auto_start` began (one the user started goes on), closing it on its
        thread once ``after`` (e.g. the decoder's thread) has ended."""
        if self._auto:
            self._auto = False
            self.stop(background=True, after=after)

    def close(self, *, wait: bool = True) -> None:
        """Stop recording; ``wait``: close the file now and wait until every recording closing on its
        thread is complete, else close it on its thread too (``finishing`` tells when)."""
        self.stop(background=not wait)
        self._auto = False
        if wait:
            self._finishing.wait(10.0)

    def _on_failed(self, message: RecordingFailed) -> None:
        failed, self.recorder = self.recorder, None
        self._hub.error("recording", str(message.error), message.error)
        self._hub.emit("recording", {"path": str(failed.path) if failed is not None else "", "state": "failed"})
