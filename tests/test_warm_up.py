"""The training thread imports nothing once the app has warmed up (``warm_up`` at start-up): an
import there holds the interpreter and stalled the window's timer 150-550 ms (scikit-learn at the
gate, MNE and matplotlib at the report). A clean interpreter runs a participant's calibration job,
gate, adapter and report after ``warm_up`` and lists the modules imported meanwhile: none."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_training_with_a_report_imports_nothing_after_warm_up(tmp_path):
    script = textwrap.dedent(f"""
        import json, sys
        import torch
        torch.set_num_threads(1)
        from bci_app.acquisition.simulated import StreamSimulated, cued_imagery
        from bci_app.clocks import ManualClock
        from bci_app.config import AppConfig
        from bci_app.vocabulary import WINDOW_TMIN_S
        from bci_app.io.participant import SessionFolder
        from bci_app.session import Session
        from bci_app.session.training import warm_up
        from bci_app.vocabulary import SENSORIMOTOR_16
        from bci_app.paradigm.timing import short_paradigm

        cfg = AppConfig()
        cfg.paradigm = short_paradigm(cfg, 6, 0, WINDOW_TMIN_S, 3.0)
        cfg.finetune.max_epochs = 2
        clock = ManualClock(1000.0)
        sim = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, clock=clock, bufsize=60.0)
        session = Session(cfg, clock=clock)
        session.folder = SessionFolder.create({str(tmp_path)!r}, "P1")
        session.connect(sim)
        session.start_calibration(on_event=cued_imagery(sim.imagine, cfg.paradigm))
        while session.mode.value == "calibrating":
            clock.advance(0.1)
            session.update()
        warm_up()
        before = set(sys.modules)
        assert session.train_calibration()
        session.wait_training(240)
        while session.saved is None and not session.errors:
            session.wait_training(1)
        print(json.dumps({{"new": sorted(set(sys.modules) - before), "errors": [e.message for e in session.errors],
                          "report": session.saved.report is not None}}))
        session.disconnect()
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=280,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not result["errors"] and result["report"]
    assert result["new"] == [], f"imported on the training thread: {result['new']}"


def test_warm_up_leaves_a_full_collection_nothing_to_scan_of_the_imports():
    """After warm_up the imports' objects are in the permanent generation (gc.freeze): a full
    collection, which the training thread's report may set off, no longer walks them holding the
    interpreter (180 ms over ~320 000 objects)."""
    import gc

    from bci_app.session.training import warm_up

    try:
        warm_up(("json",))
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # everything pytest, numpy and the app imported so far
        assert frozen > len(gc.get_objects())  # far more than a collection still scans
    finally:
        gc.unfreeze()


def test_warm_up_bounds_how_long_the_windows_thread_waits_for_the_interpreter():
    """A busy thread gives the interpreter back within 1 ms, not Python's 5 ms, once the app warmed up."""
    from bci_app.session.training import SWITCH_INTERVAL_S, warm_up

    before = sys.getswitchinterval()
    try:
        warm_up(())
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL_S) and SWITCH_INTERVAL_S <= 0.001
    finally:
        sys.setswitchinterval(before)
        gc.unfreeze()  # warm_up froze this test process's objects
