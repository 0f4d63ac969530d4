"""A lock file beside a recording while it is being written: ``rec.xdf`` → ``rec.xdf.lock``.

It tells other bci-app instances (and the start-up scan for crashed sessions) that the file is in
use, so a second instance never truncates it (even with ``overwrite``) nor offers to "continue" a
recording that is still running. The lock holds JSON: process id, host, the process's start time
(Linux: ``/proc/<pid>/stat``; guards against a reused pid) and when recording began.

A lock whose process is gone (the recorder was killed) is stale: it is replaced when the file is
recorded again and ignored by the scan, so a crashed session is still offered for continuation. A
lock written on another host cannot be checked and counts as live. An unreadable lock (cut short)
counts as stale, with a warning.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from bci_app.errors import RecordingError
from bci_app.outputs import FILE_MODE

log = logging.getLogger(__name__)

__all__ = ["RecordingLock", "lock_path", "read_lock", "live_lock", "acquire_lock", "release_lock"]


@dataclass(frozen=True)
class RecordingLock:
    """Who writes a recording: ``pid`` on ``host`` (process started at ``process_start``, clock
    ticks since boot, or None where unknown), recording since ``started`` (ISO 8601, UTC)."""

    pid: int
    host: str
    process_start: int | None
    started: str

    def describe(self) -> str:
        return f"process {self.pid} on {self.host} (recording since {self.started})"


def lock_path(recording: str | os.PathLike[str]) -> Path:
    """The lock file of ``recording``: its name plus ``.lock``."""
    recording = Path(recording)
    return recording.with_name(recording.name + ".lock")


def _process_start(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (Linux ``/proc``), None where unavailable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: fields follow the last ')'
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return int(fields[19])  # field 22 of the whole line
    except (IndexError, ValueError):
        return None


def read_lock(recording: str | os.PathLike[str]) -> RecordingLock | None:
    """The lock of ``recording``, or None when there is none or it cannot be read (logged)."""
    path = lock_path(recording)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        lock = RecordingLock(
            pid=int(raw["pid"]), host=str(raw["host"]),
            process_start=None if raw.get("process_start") is None else int(raw["process_start"]),
            started=str(raw["started"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable recording lock %s: %s", path, exc)
        return None
    if lock.pid <= 0:
        log.warning("ignoring recording lock %s with pid %d", path, lock.pid)
        return None
    return lock


def _alive(lock: RecordingLock) -> bool:
    if lock.host != socket.gethostname():
        return True  # another machine's process cannot be checked from here
    try:
        os.kill(lock.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if lock.process_start is not None:
        now = _process_start(lock.pid)
        if now is not None and now != lock.process_start:
            return False  # the pid was reused by a newer process
    return True


def live_lock(recording: str | os.PathLike[str]) -> RecordingLock | None:
    """The lock of ``recording`` when a live process holds it (the file is being written), else None."""
    lock = read_lock(recording)
    return lock if lock is not None and _alive(lock) else None


def acquire_lock(recording: str | os.PathLike[str]) -> Path:
    """Create the lock of ``recording`` for this process; a stale lock is replaced. Raises
    :class:`RecordingError` naming the owner when a live process already records to it."""
    path = lock_path(recording)
    owner = live_lock(recording)
    if owner is not None:  # this very process included: two recorders on one file would truncate it
        raise RecordingError(
            f"{Path(recording).name} is being recorded by {owner.describe()}; choose another file name "
            f"(if that process is gone for sure, delete {path.name})"
        )
    content = json.dumps({
        "pid": os.getpid(), "host": socket.gethostname(), "process_start": _process_start(os.getpid()),
        "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }).encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # stale
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError as exc:
        raise RecordingError(f"{Path(recording).name} was locked by another process just now; choose another file name") from exc
    except OSError as exc:
        raise RecordingError(f"cannot create the lock file {path}: {exc.strerror or exc}") from exc
    try:
        os.write(fd, content)
    except OSError as exc:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise RecordingError(f"cannot write the lock file {path}: {exc.strerror or exc}") from exc
    os.close(fd)
    return path


def release_lock(path: Path) -> None:
    """Remove a lock this process created (missing is fine; other errors are logged, not raised:
    the recording itself is complete)."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not remove the recording lock %s: %s", path, exc.strerror or exc)
