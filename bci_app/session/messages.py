"""Typed messages from the session's worker threads, and the inbox that hands them to the session's
thread.

The stream, recorder, decoder runner, training job and report writer run in their own threads;
each posts one of the messages below (never a string-keyed tuple), and :meth:`Inbox.drain` (called
by ``Session.update`` in the GUI timer, the CLI loop or a test) gives each to the handler that the
collaborator owning it registered with :meth:`Inbox.handle`. A message whose payload belongs to one
collaborator is defined there (:class:`bci_app.session.participant.FilesSaved`).
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from bci_app.acquisition.base import StreamEvent
    from bci_app.online.decoder import DecoderModel


@dataclass(frozen=True)
class StreamChanged:
    """The source's state changed (connected, gap, reconnected, failed, ended)."""

    event: StreamEvent


@dataclass(frozen=True)
class TrainingProgress:
    """One progress record of the training job (e.g. a fine-tuning epoch)."""

    record: Any


@dataclass(frozen=True)
class TrainingDone:
    """The training job returned ``result``; ``model`` is the decoder model made from it."""

    result: Any
    model: DecoderModel


@dataclass(frozen=True)
class TrainingStopped:
    """The training job ended without a model: ``cancelled`` or failed with ``error``."""

    error: BaseException
    cancelled: bool


@dataclass(frozen=True)
class ReportFailed:
    """An online run could not be added to the calibration report."""

    error: BaseException


@dataclass(frozen=True)
class DecoderFailed:
    """The decoder thread stopped on ``error``."""

    error: BaseException


@dataclass(frozen=True)
class RecordingClosed:
    """A recording the session stopped by itself was closed on its own thread (``failed``: it had
    stopped on an error)."""

    path: str
    failed: bool


@dataclass(frozen=True)
class RecordingFailed:
    """The recorder stopped on ``error`` (e.g. the disk is full)."""

    error: BaseException


M = TypeVar("M")


class Inbox:
    """A thread-safe queue of messages; :meth:`post` from any thread, :meth:`drain` in one."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._handlers: dict[type, Callable[[Any], None]] = {}

    def handle(self, kind: type[M], handler: Callable[[M], None]) -> None:
        """``handler(message)`` receives every message of type ``kind`` (one handler per type)."""
        if kind in self._handlers:
            raise ValueError(f"{kind.__name__} already has a handler")
        self._handlers[kind] = handler

    def post(self, message: object) -> None:
        """Queue ``message`` (any thread): a message dataclass whose type has a handler."""
        if type(message) not in self._handlers:
            raise TypeError(f"no handler for session message {type(message).__name__}")
        self._queue.put(message)

    def drain(self) -> None:
        """Hand every queued message to its handler, in the order posted."""
        while True:
            try:
                message = self._queue.get_nowait()
            except queue.Empty:
                return
            self._handlers[type(message)](message)


__all__ = ["DecoderFailed", "Inbox", "RecordingFailed", "ReportFailed", "StreamChanged",
           "TrainingDone", "TrainingProgress", "TrainingStopped"]
