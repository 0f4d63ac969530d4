"""The report drawn in a process of its own (:mod:`bci_app.io.worker`), so its matplotlib and MNE
figures never hold the app's interpreter: drawn on a thread of the app, they stalled the window's
timer 46-67 ms in the first seconds of online decoding.

The app's side (:func:`render_calibration_report`, :func:`render_online_run`) hands the process its
task and waits; the process draws the report, writes the HTML file and hands back a
:class:`~bci_app.report.rendered.RenderedReport` (HTML and PNG bytes, no figures). The process
imports only what a report needs (numpy, matplotlib, MNE, the report's modules), never torch or Qt.
A failure in the process comes back as a :class:`~bci_app.errors.ReportError` with the process's
traceback in ``details`` (and in the log); a process that does not finish within ``timeout``
seconds, or whose ``cancel`` is set, is killed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bci_app.errors import ProcessError, ReportError
from bci_app.io import worker
from bci_app.report.rendered import RenderedReport

__all__ = ["REPORT_TIMEOUT_S", "render_calibration_report", "render_online_run", "run_in_process", "TASKS"]

#: the longest a report may take to draw before its process is killed (s): a calibration report
#: takes seconds; a hung process must not hold a session's end for ever
REPORT_TIMEOUT_S = 600.0


def render_calibration_report(inputs: Any, path: str | Path, *, timeout: float = REPORT_TIMEOUT_S,
                              cancel: threading.Event | None = None, **options: Any) -> RenderedReport:
    """Draw the calibration report of ``inputs`` (:class:`~bci_app.report.inputs.ReportInputs`) in a
    process of its own and save it at ``path`` (:func:`~bci_app.report.write_calibration_report`'s
    ``options``: ``paradigm``, ``preprocessing``, ...). Returns the report as drawn."""
    return run_in_process("calibration", {"inputs": inputs, "path": str(Path(path).resolve()), "options": options},
                          timeout=timeout, cancel=cancel)


def render_online_run(report: RenderedReport, scores: dict[str, Any], title: str, path: str | Path, *,
                      timeout: float = REPORT_TIMEOUT_S, cancel: threading.Event | None = None) -> RenderedReport:
    """``report`` with a scored online run added (:func:`bci_app.online.scoring.score_trials`'s
    ``scores``, its confusion matrix drawn in a process of its own), saved again at ``path``."""
    return run_in_process("online_run", {"report": report, "scores": scores, "title": title,
                                         "path": str(Path(path).resolve())}, timeout=timeout, cancel=cancel)


def calibration_task(inputs: Any, path: str, options: dict[str, Any]) -> RenderedReport:
    """In the process: the calibration report of ``inputs`` written at ``path``, as drawn."""
    from bci_app.report.calibration_report import write_calibration_report

    return write_calibration_report(inputs, path, **options).rendered()


def online_run_task(report: RenderedReport, scores: dict[str, Any], title: str, path: str) -> RenderedReport:
    """In the process: ``report`` with the scored run ``title`` added, written again at ``path``."""
    from bci_app.report.calibration_report import add_scored_run

    report = add_scored_run(report, scores, title=title)
    report.save(path)
    return report


#: what the report's process can be asked to do: name -> function of the task's keyword arguments
TASKS: dict[str, Callable[..., Any]] = {"calibration": calibration_task, "online_run": online_run_task}


def run_in_process(task: str, kwargs: dict[str, Any], *, timeout: float = REPORT_TIMEOUT_S,
                   cancel: threading.Event | None = None) -> Any:
    """Run :data:`TASKS` ``[task](**kwargs)`` in a process of its own (:func:`bci_app.io.worker.run_in_process`)
    and return its result; :class:`ReportError` (``details``: the process's traceback or log) when it
    fails, takes longer than ``timeout`` s or ``cancel`` is set (the process is killed)."""
    if task not in TASKS:
        raise ReportError(f"unknown report task {task!r}; expected one of {', '.join(TASKS)}")
    try:
        return worker.run_in_process(f"{__name__}:{TASKS[task].__name__}", kwargs, timeout=timeout, cancel=cancel)
    except ProcessError as exc:
        raise ReportError(str(exc), details=exc.details) from exc
