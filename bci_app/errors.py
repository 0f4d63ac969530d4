"""One exception hierarchy for the whole app.

Messages say what was wrong, what was expected and what to do. Raise with ``from exc``
when wrapping a lower-level error.
"""


class BCIError(Exception):
    """Base class of every error bci-app raises on purpose."""


class ConfigError(BCIError):
    """A configuration file or value is invalid."""


class OutputError(BCIError):
    """An output path is unusable (names an input, a folder, or an existing file without
    ``--overwrite``) or could not be written."""


class StreamError(BCIError):
    """A data source could not be found, connected, read or written."""


class RecordingError(StreamError):
    """A recording could not be written or read."""


class ModelError(BCIError):
    """A model, base model or adapter file is missing, corrupt or does not fit."""


class CalibrationError(BCIError):
    """Calibration data are unusable (too few clean trials, missing channels, ...)."""


class TrainingError(BCIError):
    """Fine-tuning or pretraining failed."""


class TrainingCancelled(TrainingError):
    """The user cancelled a training job; nothing was written."""


class ProcessError(BCIError):
    """A task run in a process of the app's own (:mod:`bci_app.io.worker`) failed, was stopped or
    could not start, or what crosses to it or back cannot cross. ``details``: the process's
    traceback or log, for the log file; ``kind`` and ``reason``: the type name and message of the
    exception the task raised in the process ("" when the process itself failed)."""

    def __init__(self, message: str, *, details: str = "", kind: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.details, self.kind, self.reason = details, kind, reason


class ReportError(BCIError):
    """A report could not be drawn or written (its own process failed, was stopped or could not
    start). ``details``: the drawing process's traceback or log, for the log file."""

    def __init__(self, message: str, *, details: str = "") -> None:
        super().__init__(message)
        self.details = details

