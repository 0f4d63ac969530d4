"""Plain-language error messages for users; the details (traceback) go to a log file."""

from __future__ import annotations

import logging
from pathlib import Path

from bci_app.errors import (
    BCIError,
    CalibrationError,
    ConfigError,
    ModelError,
    RecordingError,
    ReportError,
    StreamError,
    TrainingCancelled,
    TrainingError,
)
from bci_app.outputs import default_log_dir  # one home for the log folder, the CLI's too

log = logging.getLogger("bci_app.gui")

_TITLES: tuple[tuple[type[BaseException], str], ...] = (
    (TrainingCancelled, "Training was cancelled"),
    (RecordingError, "The recording could not be read or written"),
    (StreamError, "The EEG source has a problem"),
    (ConfigError, "The configuration is not valid"),
    (ModelError, "The model or adapter could not be used"),
    (CalibrationError, "The calibration data cannot be used"),
    (ReportError, "The report could not be written"),
    (TrainingError, "Training failed"),
)


def setup_file_log(log_dir: str | Path | None = None) -> Path:
    """Attach a file handler (INFO and above, with tracebacks) to the ``bci_app`` logger; returns its path."""
    directory = Path(log_dir) if log_dir is not None else default_log_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "bci-app.log"
    root = logging.getLogger("bci_app")
    for h in root.handlers:
        if isinstance(h, logging.FileHandler) and Path(h.baseFilename) == path.resolve():
            return path
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"))
    handler.setLevel(logging.INFO)
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    return path


def plain_message(exc: BaseException, doing: str = "") -> tuple[str, str]:
    """``(title, text)`` for a user: what went wrong in plain words, no traceback.

    Errors the app raises on purpose (:class:`BCIError`) carry a message written for users; any
    other exception is an internal problem and the text points to the log file.
    """
    title = next((t for cls, t in _TITLES if isinstance(exc, cls)), None)
    prefix = f"While {doing}: " if doing else ""
    if isinstance(exc, BCIError):
        return title or "Something went wrong", prefix + str(exc)
    return (
        "Unexpected problem",
        prefix + f"an internal error occurred ({type(exc).__name__}). The details are in the log file; "
        "please include it when reporting the problem.",
    )


def log_exception(exc: BaseException, doing: str = "") -> None:
    log.error("error while %s: %s", doing or "working", exc, exc_info=(type(exc), exc, exc.__traceback__))
