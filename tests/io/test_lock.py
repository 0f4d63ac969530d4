"""The recording lock: a second recorder never truncates a file being written, the start-up scan does
not offer a running recording, and a killed recorder's stale lock is ignored and replaced."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from bci_app.errors import RecordingError
from bci_app.io.lock import acquire_lock, live_lock, lock_path, read_lock, release_lock
from bci_app.io.resume import find_incomplete_recordings
from bci_app.io.xdf import XdfRecorder


def _clock() -> float:
    return 1.0


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    return int(proc.stdout)


def _write_lock(recording, **fields) -> None:
    data = {"pid": os.getpid(), "host": socket.gethostname(), "process_start": None, "started": "2026-01-01T00:00:00+00:00"}
    data.update(fields)
    lock_path(recording).write_text(json.dumps(data), encoding="utf-8")


def test_open_recording_is_locked_and_not_offered(tmp_path):
    path = tmp_path / "rec.xdf"
    rec = XdfRecorder(path, flush_interval=None, clock=_clock)
    lock = read_lock(path)
    assert lock is not None and lock.pid == os.getpid() and lock.host == socket.gethostname()
    assert live_lock(path) == lock
    with pytest.raises(RecordingError, match="being recorded"):
        XdfRecorder(path, overwrite=True, flush_interval=None, clock=_clock)  # same process, same file
    # unfinished on disk (no footers yet) but being written: not offered for continuation
    assert find_incomplete_recordings(tmp_path) == []
    rec.close()
    assert not lock_path(path).exists() and live_lock(path) is None


def test_a_live_owner_is_never_overwritten(tmp_path):
    path = tmp_path / "rec.xdf"
    path.write_bytes(b"XDF:precious")
    # another live process on this machine (the test runner's parent) holds the lock
    _write_lock(path, pid=os.getppid())
    with pytest.raises(RecordingError, match=rf"being recorded by process {os.getppid()} on"):
        XdfRecorder(path, overwrite=True, flush_interval=None, clock=_clock)
    assert path.read_bytes() == b"XDF:precious"
    # a lock from another host cannot be checked: it counts as live
    _write_lock(path, host="some-other-host")
    with pytest.raises(RecordingError, match="some-other-host"):
        XdfRecorder(path, overwrite=True, flush_interval=None, clock=_clock)


def test_stale_and_unreadable_locks_are_replaced(tmp_path, caplog):
    path = tmp_path / "rec.xdf"
    _write_lock(path, pid=_dead_pid())
    assert read_lock(path) is not None and live_lock(path) is None
    with XdfRecorder(path, flush_interval=None, clock=_clock):
        assert read_lock(path).pid == os.getpid()
    assert not lock_path(path).exists()
    lock_path(path).write_text('{"pid": 12', encoding="utf-8")  # cut short
    assert read_lock(path) is None and "unreadable recording lock" in caplog.text
    with XdfRecorder(path, overwrite=True, flush_interval=None, clock=_clock):
        pass
    assert not lock_path(path).exists()


def test_reused_pid_is_stale(tmp_path):
    if not os.path.exists(f"/proc/{os.getpid()}/stat"):
        pytest.skip("process start times need /proc")
    path = tmp_path / "rec.xdf"
    _write_lock(path, process_start=1)  # this pid, but a different process start: reused
    assert read_lock(path) is not None and live_lock(path) is None


def test_acquire_and_release_directly(tmp_path):
    path = tmp_path / "sub" / "rec.xdf"
    lock = acquire_lock(path)
    assert lock == lock_path(path) and lock.exists()
    with pytest.raises(RecordingError, match=f"process {os.getpid()}"):
        acquire_lock(path)  # this process again while it holds it: refused too
    release_lock(lock)
    release_lock(lock)  # twice: fine
    assert not lock.exists()
