"""The session's modes and the transitions between them, checked.

::

    idle ──connect──▶ connected ──start_calibration──▶ calibrating ──(paradigm ends)──▶ connected
                       │  ▲ ▲                                                           │
                       │  │ └──────────── training finished / failed / cancelled ◀── training
                       │  └── stop_online ──┐
                       └── start_online ──▶ online        idle ──start_replay──▶ replay ──▶ idle

Every mode can return to ``idle`` (disconnect). ``training`` is entered from ``connected`` or
``idle`` only: an online session trains in the background and stays online.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

log = logging.getLogger("bci_app.session")


class Mode(enum.Enum):
    IDLE = "idle"
    CONNECTED = "connected"
    CALIBRATING = "calibrating"
    TRAINING = "training"
    ONLINE = "online"
    REPLAY = "replay"


TRANSITIONS: dict[Mode, frozenset[Mode]] = {
    Mode.IDLE: frozenset({Mode.CONNECTED, Mode.TRAINING}),
    Mode.CONNECTED: frozenset({Mode.IDLE, Mode.CALIBRATING, Mode.TRAINING, Mode.ONLINE, Mode.REPLAY}),
    Mode.CALIBRATING: frozenset({Mode.IDLE, Mode.CONNECTED}),
    Mode.TRAINING: frozenset({Mode.IDLE, Mode.CONNECTED}),
    Mode.ONLINE: frozenset({Mode.IDLE, Mode.CONNECTED}),
    Mode.REPLAY: frozenset({Mode.IDLE, Mode.CONNECTED}),
}
"""Which modes each mode may go to (staying is always allowed)."""


class ModeMachine:
    """The current :class:`Mode`. ``on_enter(mode)`` is called after each change; ``on_refused(text)``
    when an action is asked for in a mode that does not allow it."""

    def __init__(self, on_enter: Callable[[Mode], None], on_refused: Callable[[str], None]) -> None:
        self.mode = Mode.IDLE
        self._on_enter = on_enter
        self._on_refused = on_refused
        self._before_training = Mode.CONNECTED

    def enter(self, mode: Mode) -> None:
        """Go to ``mode`` (nothing when already there); a transition outside :data:`TRANSITIONS` is a
        bug and raises ``RuntimeError``."""
        if mode is self.mode:
            return
        if mode not in TRANSITIONS[self.mode]:
            raise RuntimeError(f"session mode {self.mode.value} -> {mode.value} is not a transition")
        log.info("session: %s -> %s", self.mode.value, mode.value)
        self.mode = mode
        self._on_enter(mode)

    def require(self, action: str, *modes: Mode) -> bool:
        """True in one of ``modes``; otherwise ``on_refused`` says why and False."""
        if self.mode in modes:
            return True
        self._on_refused(f"cannot {action} while {self.mode.value}; expected {' or '.join(m.value for m in modes)}")
        return False

    def begin_training(self) -> None:
        """Enter ``training`` (remembering where from) unless online: online decoding goes on."""
        if self.mode is not Mode.ONLINE:
            self._before_training = self.mode
            self.enter(Mode.TRAINING)

    def end_training(self, connected: bool) -> None:
        """Leave ``training`` for the mode it came from (``idle`` when the source is gone)."""
        if self.mode is Mode.TRAINING:
            self.enter(self._before_training if connected else Mode.IDLE)


__all__ = ["Mode", "ModeMachine", "TRANSITIONS"]
