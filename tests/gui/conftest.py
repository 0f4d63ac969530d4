"""Qt test hygiene: offscreen platform, Qt warnings fail tests, no thread may outlive a test."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest.importorskip("PySide6", reason="the GUI extra is not installed (pip install bci-app[gui])")
pytest.importorskip("pyqtgraph")

from PySide6 import QtCore  # noqa: E402

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    """Every test under tests/gui carries the ``gui`` mark (``-m gui`` / ``-m "not gui"`` select them);
    a ``pytestmark`` in a conftest would mark nothing."""
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.gui)

_IGNORED_QT = (
    "This plugin does not support propagateSizeHints()",  # offscreen platform, harmless
    "This plugin does not support raise()",
    "QFont::setPointSize: Point size <= 0",
)


@pytest.fixture(autouse=True)
def qt_warnings_fail():
    """Turn every Qt warning/critical message during the test into a failure."""
    messages: list[str] = []

    def handler(mode, context, message):  # noqa: ARG001
        if mode in (QtCore.QtMsgType.QtWarningMsg, QtCore.QtMsgType.QtCriticalMsg, QtCore.QtMsgType.QtFatalMsg):
            if not any(s in message for s in _IGNORED_QT):
                messages.append(message)

    previous = QtCore.qInstallMessageHandler(handler)
    yield messages
    QtCore.qInstallMessageHandler(previous)
    assert not messages, f"Qt warnings: {messages}"


@pytest.fixture(autouse=True)
def no_thread_left_running(qapp):
    """Fail a test that leaves a Python thread or a QThreadPool job running."""
    before = set(threading.enumerate())
    yield
    pool = QtCore.QThreadPool.globalInstance()
    pool.waitForDone(5000)
    deadline = threading.Event()
    leaked = []
    for _ in range(50):
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive() and not _is_benign(t)]
        if not leaked:
            break
        deadline.wait(0.1)
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"
    assert pool.activeThreadCount() == 0, "QThreadPool jobs left running"


def _is_benign(thread: threading.Thread) -> bool:
    # pylsl/liblsl and torch keep no Python threads; asyncio/pytest-timeout helpers are not ours
    return thread.name.startswith(("pytest_timeout", "asyncio"))
