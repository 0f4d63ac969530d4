"""The report drawn in a process of its own (``python -m bci_app.report.process``), so its
matplotlib and MNE figures never hold the app's interpreter: drawn on a thread of the app, they
stalled the window's timer 46-67 ms in the first seconds of online decoding.

The app's side (:func:`render_calibration_report`, :func:`render_online_run`) starts the process,
hands it the task and waits; the process draws the report, writes the HTML file and hands back
a :class:`~bci_app.report.rendered.RenderedReport` (HTML and PNG bytes, no figures). The process
imports only what a report needs (numpy, matplotlib, MNE, the report's modules), never torch or Qt,
and runs at a lower priority than the app.

Between the two, one frame each way over the process's stdin and stdout (:mod:`bci_app.report.wire`:
JSON with the arrays' memory written to the pipe as it is, without a copy on the app's side; never a
pickle). A failure in the process comes back as a
:class:`~bci_app.errors.ReportError` with the process's traceback in ``details`` (and in the log);
a process that does not finish within ``timeout`` seconds, or whose ``cancel`` is set, is killed.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bci_app.errors import ReportError
from bci_app.report.rendered import RenderedReport
from bci_app.report.wire import read_frame, write_frame

__all__ = ["REPORT_TIMEOUT_S", "render_calibration_report", "render_online_run", "run_in_process", "TASKS"]

log = logging.getLogger(__name__)

#: the longest a report may take to draw before its process is killed (s): a calibration report
#: takes seconds; a hung process must not hold a session's end for ever
REPORT_TIMEOUT_S = 600.0
#: how much lower the report's process runs than the app (``os.nice``): the window and the decoder win a core
NICENESS = 10


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


def _calibration_task(inputs: Any, path: str, options: dict[str, Any]) -> RenderedReport:
    from bci_app.report.calibration_report import write_calibration_report

    return write_calibration_report(inputs, path, **options).rendered()


def _online_run_task(report: RenderedReport, scores: dict[str, Any], title: str, path: str) -> RenderedReport:
    from bci_app.report.calibration_report import add_scored_run

    report = add_scored_run(report, scores, title=title)
    report.save(path)
    return report


#: what the report's process can be asked to do: name -> function of the task's keyword arguments
TASKS: dict[str, Callable[..., Any]] = {"calibration": _calibration_task, "online_run": _online_run_task}


# -- the app's side ------------------------------------------------------------------------------------
def _child_env() -> dict[str, str]:
    """The app's environment, with this code importable, one thread per numeric library and Agg."""
    env = dict(os.environ)
    root = Path(__file__).resolve().parents[2]  # holds bci_app and calibration
    if root.name not in ("site-packages", "dist-packages"):  # a checkout: installed, the interpreter finds it
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, "1")
    env["MPLBACKEND"] = "Agg"
    return env


def _stop(proc: subprocess.Popen) -> str:
    proc.kill()
    _, err = proc.communicate()
    return err.decode("utf-8", "replace")


def run_in_process(task: str, kwargs: dict[str, Any], *, timeout: float = REPORT_TIMEOUT_S,
                   cancel: threading.Event | None = None) -> Any:
    """Run :data:`TASKS` ``[task](**kwargs)`` in a new ``python -m bci_app.report.process`` and return
    its result; :class:`ReportError` (``details``: the process's traceback or log) when it fails,
    takes longer than ``timeout`` s or ``cancel`` is set (the process is killed)."""
    if task not in TASKS:
        raise ReportError(f"unknown report task {task!r}; expected one of {', '.join(TASKS)}")
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "bci_app.report.process"]
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=_child_env())
    except OSError as exc:
        raise ReportError(f"the report's process could not start ({' '.join(cmd)}): {exc}") from exc
    try:
        write_frame(proc.stdin, (task, kwargs))
    except BrokenPipeError:
        pass  # the process ended before reading its task: its stderr says why (below)
    except ReportError as exc:
        raise ReportError(f"the report's inputs cannot be handed to its process: {exc}", details=_stop(proc)) from exc
    deadline = time.monotonic() + timeout
    while True:
        try:
            out, err_bytes = proc.communicate(timeout=0.25)
            break
        except subprocess.TimeoutExpired:
            if cancel is not None and cancel.is_set():
                raise ReportError("the report was cancelled", details=_stop(proc)) from None
            if time.monotonic() > deadline:
                raise ReportError(f"the report's process did not finish in {timeout:g} s and was stopped",
                                  details=_stop(proc)) from None
    err = err_bytes.decode("utf-8", "replace")
    for line in err.splitlines():
        log.debug("report process: %s", line)
    try:
        status, value = read_frame(io.BytesIO(out))
    except (EOFError, ValueError, ReportError) as exc:
        last = err.strip().splitlines()[-1] if err.strip() else f"exit status {proc.returncode}"
        raise ReportError(f"the report's process ended without a result ({last})", details=err) from exc
    if status != "ok":
        message, details = value
        raise ReportError(message, details=details)
    log.info("report task %s drawn in its own process in %.1f s", task, time.perf_counter() - t0)
    return value


# -- the report's process -----------------------------------------------------------------------------
def main() -> int:
    """Read one task from stdin, run it, write ``("ok", result)`` or ``("error", (message, traceback))``
    to stdout. Anything printed on the way goes to stderr (the app's log), never into the result."""
    result_out = sys.stdout.buffer
    sys.stdout = sys.stderr
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if hasattr(os, "nice"):
        os.nice(NICENESS)
    task, kwargs = read_frame(sys.stdin.buffer)
    try:
        answer: tuple[str, Any] = ("ok", TASKS[task](**kwargs))
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the app, with its traceback
        answer = ("error", (f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        traceback.print_exc()
    write_frame(result_out, answer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
