"""The calibration report drawn in a process of its own (``bci_app.report.process``): the same report
as drawn in the app's process, online runs added after it, a failure coming back with the process's
traceback, a cancelled or overdue process stopped, and a process that imports neither torch nor Qt.
The session's side: ``ParticipantFiles`` writes one report after the other and says when one fails."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from bci_app.config import AppConfig
from bci_app.errors import ProcessError, ReportError
from bci_app.io.wire import decode, encode, read_frame, write_frame
from bci_app.report.inputs import ReportInputs, report_inputs
from bci_app.report.process import render_calibration_report, render_online_run, run_in_process

ROOT = Path(__file__).resolve().parents[2]
SCORES = {"trials": [{"true": "left_hand", "predicted": "left_hand"}, {"true": "left_hand", "predicted": None},
                     {"true": "right_hand", "predicted": "right_hand"}, {"true": "right_hand", "predicted": "left_hand"}]}


def _config() -> AppConfig:
    config = AppConfig()
    config.lora.enabled = False  # the base with alignment: a calibration in seconds
    config.paradigm = config.paradigm.model_copy(update={"rest_min_s": 1.0, "rest_max_s": 1.0})  # cue every 7 s
    return config


@pytest.fixture(scope="module")
def outcome():
    from test_calibration_report import _simulated_calibration

    from calibration.job import CalibrationJob

    return CalibrationJob([_simulated_calibration()], _config(), base="sensorimotor16").run_to_end()


def test_the_report_drawn_in_its_own_process_is_the_report(outcome, tmp_path):
    from bci_app.report import build_calibration_report

    config = _config()
    inputs = report_inputs(outcome)
    assert isinstance(inputs, ReportInputs) and inputs.predicted_unadapted is not None  # LoRA off: decided here
    here = build_calibration_report(outcome, paradigm=config.paradigm, preprocessing=config.preprocessing).rendered()
    path = tmp_path / "calibration_report.html"
    drawn = render_calibration_report(inputs, path, paradigm=config.paradigm, preprocessing=config.preprocessing)
    assert [s.title for s in drawn.sections] == [s.title for s in here.sections]
    assert [s.html for s in drawn.sections] == [s.html for s in here.sections]
    assert [s.notes for s in drawn.sections] == [s.notes for s in here.sections]
    assert list(drawn.figure_pngs()) == list(here.figure_pngs()) and len(drawn.figure_pngs()) == 3
    assert all(png.startswith(b"\x89PNG") for png in drawn.figure_pngs().values())
    assert drawn.installed == "unadapted base" and drawn.trial_seconds == 7.0
    assert drawn.decoding["unadapted base"].confusion.tolist() == here.decoding["unadapted base"].confusion.tolist()
    text = path.read_text(encoding="utf-8")
    assert text == drawn.to_html() and text.count('src="data:image/png;base64,') == 3

    again = render_online_run(drawn, SCORES, "Online run 1", path)
    run = again.online[0]
    assert run.confusion.tolist() == [[1, 0, 1], [1, 1, 0]] and run.accuracy == 0.5
    assert [s.title for s in again.sections][-1] == "Online run 1"
    assert "Online run 1: confusion matrix" in again.figure_pngs()
    assert "Online run 1" in path.read_text(encoding="utf-8")


def test_a_failed_drawing_comes_back_with_the_process_traceback(outcome, tmp_path):
    (tmp_path / "r.html").mkdir()  # a folder where the file goes
    with pytest.raises(ReportError, match=r"OutputError: cannot write .*r\.html") as info:
        render_calibration_report(report_inputs(outcome), tmp_path / "r.html")
    assert "Traceback (most recent call last)" in info.value.details and "atomic_write" in info.value.details
    with pytest.raises(ReportError, match="unknown report task 'nothing'"):
        run_in_process("nothing", {})


def test_a_cancelled_or_overdue_drawing_is_stopped(outcome, tmp_path):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ReportError, match="cancelled"):
        render_calibration_report(report_inputs(outcome), tmp_path / "r.html", cancel=cancel)
    with pytest.raises(ReportError, match="did not finish in 0.5 s"):
        render_calibration_report(report_inputs(outcome), tmp_path / "r.html", timeout=0.5)
    assert not (tmp_path / "r.html").exists()


def test_the_process_imports_neither_torch_nor_qt(outcome, tmp_path):
    """A fresh interpreter reads a task as the process does and imports what drawing it needs."""
    frame = io.BytesIO()
    task = {"inputs": report_inputs(outcome), "path": str(tmp_path / "r.html"), "options": {"paradigm": _config().paradigm}}
    write_frame(frame, ("bci_app.report.process:calibration_task", task))
    (tmp_path / "task").write_bytes(frame.getvalue())
    code = textwrap.dedent(f"""
        import sys
        from bci_app.io import wire, worker
        with open({str(tmp_path / "task")!r}, "rb") as f:
            target, kwargs = wire.read_frame(f)
        assert worker.task_function(target).__name__ == "calibration_task"
        assert type(kwargs["inputs"]).__name__ == "ReportInputs"
        from bci_app.report import calibration_report, erd, figures
        import mne.time_frequency, mne.viz.topomap
        print(sorted(m for m in ("torch", "PySide6", "pyqtgraph", "pylsl", "brainflow", "sklearn") if m in sys.modules))
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_frame_carries_the_inputs_and_the_report_and_nothing_else(outcome, tmp_path):
    """No pickle: JSON and raw buffers, and only the listed types are built from a frame."""
    config = _config()
    inputs = report_inputs(outcome)
    frame = io.BytesIO()
    write_frame(frame, {"inputs": inputs, "paradigm": config.paradigm, "t": (1, "a")})
    frame.seek(0)
    back = read_frame(frame)
    assert back["paradigm"] == config.paradigm and back["t"] == (1, "a")
    got = back["inputs"]
    assert got.classes == inputs.classes and got.preparation == inputs.preparation and got.summary == inputs.summary
    assert np.array_equal(got.predicted_unadapted, inputs.predicted_unadapted)
    rec, orig = got.recordings[0], inputs.recordings[0]
    assert np.array_equal(rec.data, orig.data) and rec.data.dtype == orig.data.dtype and rec.markers == orig.markers
    assert rec.path == orig.path and rec.ch_names == orig.ch_names
    from bci_app.report import build_calibration_report

    drawn = build_calibration_report(inputs).rendered()
    again = decode(*encode(drawn))
    assert again.to_html() == drawn.to_html() and again.decoding["unadapted base"].classes == drawn.classes
    for array in (np.asfortranarray(np.arange(24.0).reshape(4, 6)), np.arange(24.0).reshape(4, 6)[:, ::2],
                  np.zeros((0, 3), np.float32), np.array(5)):  # Fortran order crosses as it is, without a copy
        crossed = decode(*encode(array))
        assert np.array_equal(crossed, array) and crossed.shape == array.shape and crossed.dtype == array.dtype
    with pytest.raises(ProcessError, match="cannot hold a builtins.object"):
        encode({"x": object()})
    # the app's data only (and no module whose import runs the app)
    for name in ("subprocess:Popen", "bci_app.io.worker:subprocess", "bci_app.errors:BCIError", "bci_app.__main__:X"):
        with pytest.raises(ProcessError, match=f"names the type '{name}', which may not cross"):
            decode(b'{"__type__": "%s", "fields": {"args": ["true"]}}' % name.encode(), [])
    from bci_app.io.worker import task_function

    # functions of the app only
    for target in ("os:system", "bci_app.io.worker:subprocess", "bci_app.types:Recording", "bci_app.__main__:main"):
        with pytest.raises(ProcessError, match="names no function of the app"):
            task_function(target)


# -- the session's side -------------------------------------------------------------------------------
def _files(tmp_path):
    from bci_app.session.finishing import Finishing
    from bci_app.session.messages import Inbox
    from bci_app.session.observers import EventHub
    from bci_app.session.participant import ParticipantFiles

    hub, inbox = EventHub(), Inbox()
    files = ParticipantFiles(hub, inbox, Finishing())
    assert files.start(tmp_path, "P001")
    events: list = []
    hub.subscribe("*", lambda name, payload: events.append((name, payload)))
    return files, inbox, hub, events


def test_an_online_run_waits_for_the_calibration_report_and_joins_it(outcome, tmp_path):
    from bci_app.session.participant import FilesSaved, keep_outcome

    files, inbox, hub, events = _files(tmp_path)
    model = keep_outcome(outcome, files.folder, _config(), post=lambda s: inbox.post(FilesSaved(s)),
                         started=files.track)
    assert model is not None and (files.folder.path / "adapter.safetensors").is_file()
    files.add_online_run({"n_trials": 4, **SCORES})  # the calibration report is still being drawn
    assert files.drawing  # said while it is drawn, what for, and waited for before the app ends
    assert files._finishing.pending() == ["drawing the calibration report", "adding the online run to the report"]
    assert files.wait_written(240) and not files._finishing.pending()
    assert files.drawing  # until the session has taken the reports (the frame that shows them)
    inbox.drain()
    assert not files.drawing
    assert not hub.errors, [e.message for e in hub.errors]
    saved = files.saved
    assert [name for name, _ in events] == ["saved", "saved"] and saved.report_path == files.folder.report_path
    assert [s.title for s in saved.report.sections][-1] == "Online run 1" and len(saved.report.online) == 1
    assert "Online run 1: confusion matrix" in saved.report_pngs
    assert "Online run 1" in files.folder.report_path.read_text(encoding="utf-8")


def test_the_report_of_an_earlier_session_is_not_shown_as_this_one(outcome, tmp_path):
    """Disconnect no longer waits for the report: a new participant's session may have begun when the
    earlier report is written. It is in its own folder; this session holds no report."""
    from bci_app.session.participant import FilesSaved, keep_outcome

    files, inbox, hub, events = _files(tmp_path)
    earlier = files.folder
    keep_outcome(outcome, earlier, _config(), post=lambda s: inbox.post(FilesSaved(s)), started=files.track)
    assert files.start(tmp_path, "P002")  # the next participant, while the report is drawn
    assert not files.drawing  # the Report tab of P002 says nothing is drawn for them
    assert files.wait_written(240)
    inbox.drain()
    assert earlier.report_path.is_file() and files.saved is None and not events


def test_a_report_that_cannot_be_written_is_said_with_its_traceback(outcome, tmp_path):
    from bci_app.session.participant import FilesSaved, Saved, _write_report

    files, inbox, hub, events = _files(tmp_path)
    folder = files.folder
    folder.report_path.mkdir()  # a folder where the report goes: it cannot be written
    saved = Saved()
    _write_report(report_inputs(outcome), folder, _config(), saved, lambda s: inbox.post(FilesSaved(s)))
    inbox.drain()
    assert saved.report is None and isinstance(saved.error, ReportError)
    error = hub.errors[-1]
    assert error.message.startswith("the calibration report could not be written: OutputError: cannot write")
    assert "details in the log" in error.message and "Traceback" in error.exception.details
    files.add_online_run({"n_trials": 4, **SCORES})  # nothing to add it to: said, not lost
    assert files.wait_written(60)
    inbox.drain()
    assert "there is no calibration report to add Online run 1 to" in hub.errors[-1].message
    assert np.array_equal([name for name, _ in events], ["error", "saved", "error"])
