"""What the session still finishes after it has moved on: work handed to threads so that the
session's own thread (the window's) never waits for a disk or a process, yet that must end before
the app does, because it completes a file.

- a recording closing (the XDF writer's last flush and the fsync: 50-300 ms on a busy disk);
- the LSL prediction outlet closing (liblsl joins its I/O threads: ~50 ms);
- the calibration report being drawn in its own process (5-11 s), or an online run added to it.

:class:`Finishing` runs or tracks each as a named thread; :meth:`Finishing.pending` says what is
still under way, in words for the window ("closing the recording … / drawing the calibration
report"), and :meth:`Finishing.wait` joins them all (quitting, the command line, tests). A failure
of the work itself is its owner's to report (a ``recording`` or ``error`` event through the
session's inbox); what escapes the work is logged and re-raised on the thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


def closing(path: str | Path) -> str:
    """What :class:`Finishing` calls the closing of the
    recording ``path`` (a replay of it waits for it)."""
    return f"closing the recording {Path(path).name}"


class Finishing:
    """The session's threads that complete files after the session moved on (module doc); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: list[tuple[str, threading.Thread]] = []

    def start(self, what: str, work: Callable[[], None]) -> threading.Thread:
        """Run ``work()`` on a thread of its own, said as ``what`` (e.g. "closing the recording x.xdf")
        while it runs. Not a daemon: the interpreter waits for it at exit, so no file is cut off."""

        def run() -> None:
            try:
                work()
            except BaseException:
                log.exception("%s failed", what)
                raise

        thread = threading.Thread(target=run, name=f"bci-finish-{what[:40]}")
        thread.start()
        self.track(what, thread)
        return thread

    def track(self, what: str, thread: threading.Thread) -> None:
        """Count ``thread`` (started, e.g. a report writer) as finishing ``what``."""
        with self._lock:
            self._threads = [(w, t) for w, t in self._threads if t.is_alive()] + [(what, thread)]

    def pending(self) -> list[str]:
        """What is still being finished, oldest first (an empty list: every file is complete)."""
        with self._lock:
            self._threads = [(w, t) for w, t in self._threads if t.is_alive()]
            return [w for w, _ in self._threads]

    def wait(self, timeout: float | None = None, what: str | None = None) -> bool:
        """Join every thread (only those finishing ``what``, when given; ``timeout`` s in all; ``None``:
        no limit); True when none of them is left."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            threads = [t for w, t in self._threads if what is None or w == what]
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(what is None or w == what for w in self.pending())


__all__ = ["Finishing"]
