"""Work run in a process of its own (``python -m bci_app.io.worker``), so that work done in Python
for seconds never holds the app's interpreter: drawn or parsed on a thread of the app, the
calibration report's figures stalled the window's timer 46-67 ms, and pyxdf's per-sample parsing
and clock-sync fit of a replayed recording 17-23 ms.

The app's side (:func:`run_in_process`) starts the process, hands it the task (a function of the app
named ``"module:function"`` and its keyword arguments) and waits; the process runs it and hands the
result back. The process imports only what the task needs (never torch or Qt unless the task does),
with one thread per numeric library, and runs at a lower priority than the app.

Between the two, one frame each way over the process's stdin and stdout (:mod:`bci_app.io.wire`:
JSON with the arrays' memory written to the pipe as it is; never a pickle). A failure in the process
comes back as a :class:`~bci_app.errors.ProcessError` with the process's traceback in ``details``
(and in the log); a process that does not finish within ``timeout`` seconds, or whose ``cancel`` is
set, is killed.
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

from bci_app.errors import ProcessError
from bci_app.io.wire import PACKAGES, app_attribute, read_frame, write_frame

__all__ = ["NICENESS", "run_in_process", "task_function"]

log = logging.getLogger(__name__)

#: how much lower the worker process runs than the app (``os.nice``): the window and the decoder win a core
NICENESS = 10


def task_function(target: str) -> Callable[..., Any]:
    """The function ``target`` (``"module:function"``) of the app (:func:`~bci_app.io.wire.app_attribute`);
    :class:`ProcessError` for anything else."""
    function = app_attribute(target)
    if not callable(function) or isinstance(function, type):
        raise ProcessError(f"{target!r} names no function of the app; a task is 'module:function' of "
                           f"{', '.join(p.rstrip('.') for p in PACKAGES)}")
    return function


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


def run_in_process(target: str, kwargs: dict[str, Any], *, timeout: float,
                   cancel: threading.Event | None = None) -> Any:
    """Run the function ``target`` (``"module:function"``) of the app on ``kwargs`` in a new
    ``python -m bci_app.io.worker`` and return its result; :class:`ProcessError` (``details``: the
    process's traceback or log) when it fails, takes longer than ``timeout`` s or ``cancel`` is set
    (the process is killed), or when ``kwargs`` or the result cannot cross (:mod:`bci_app.io.wire`)."""
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "bci_app.io.worker"]
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=_child_env())
    except OSError as exc:
        raise ProcessError(f"the worker process could not start ({' '.join(cmd)}): {exc}") from exc
    try:
        write_frame(proc.stdin, (target, kwargs))
    except BrokenPipeError:
        pass  # the process ended before reading its task: its stderr says why (below)
    except ProcessError as exc:
        raise ProcessError(f"the task's inputs cannot be handed to its process: {exc}", details=_stop(proc)) from exc
    deadline = time.monotonic() + timeout
    while True:
        try:
            out, err_bytes = proc.communicate(timeout=0.25)
            break
        except subprocess.TimeoutExpired:
            if cancel is not None and cancel.is_set():
                raise ProcessError("the task was cancelled", details=_stop(proc)) from None
            if time.monotonic() > deadline:
                raise ProcessError(f"the worker process did not finish in {timeout:g} s and was stopped",
                                   details=_stop(proc)) from None
    err = err_bytes.decode("utf-8", "replace")
    for line in err.splitlines():
        log.debug("worker process: %s", line)
    try:
        status, value = read_frame(io.BytesIO(out))
    except (EOFError, ValueError, ProcessError) as exc:
        last = err.strip().splitlines()[-1] if err.strip() else f"exit status {proc.returncode}"
        raise ProcessError(f"the worker process ended without a result ({last})", details=err) from exc
    if status != "ok":
        kind, reason, details = value
        raise ProcessError(f"{kind}: {reason}", details=details, kind=kind, reason=reason)
    log.info("task %s ran in its own process in %.1f s", target, time.perf_counter() - t0)
    return value


# -- the worker process ---------------------------------------------------------------------------------
def main() -> int:
    """Read one task from stdin, run it, write ``("ok", result)`` or ``("error", (type, message, traceback))``
    to stdout. Anything printed on the way goes to stderr (the app's log), never into the result."""
    result_out = sys.stdout.buffer
    sys.stdout = sys.stderr
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if hasattr(os, "nice"):
        os.nice(NICENESS)
    try:
        target, kwargs = read_frame(sys.stdin.buffer)
        answer: tuple[str, Any] = ("ok", task_function(target)(**kwargs))
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the app, with its traceback
        answer = ("error", (type(exc).__name__, str(exc), traceback.format_exc()))
        traceback.print_exc()
    try:
        write_frame(result_out, answer)
    except ProcessError as exc:  # the result cannot cross: say so instead
        traceback.print_exc()
        write_frame(result_out, ("error", (type(exc).__name__, f"the task's result cannot be handed back: {exc}",
                                           traceback.format_exc())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
