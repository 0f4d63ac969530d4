"""Session state machine, stepped with a manual clock (no sleeps): transitions, events, errors,
calibration with the simulated user, background fine-tuning while acquisition continues, online
decoding, cancel, recording with predictions."""

from __future__ import annotations

import sys

import torch

from bci_app.acquisition import StreamSimulated
from bci_app.clocks import ManualClock
from bci_app.config import AppConfig
from bci_app.models import ATCNet
from bci_app.session import Mode, Session
from bci_app.signal.preprocess import PreprocessingSpec
from bci_app.vocabulary import CUE_CODES, SENSORIMOTOR_16
from calibration.job import CalibrationJob

CLASSES = ("left_hand", "right_hand")
META = {"classes": list(CLASSES), "window": {"tmin_s": 0.5}, "euclidean_alignment": True,
        "preprocessing": PreprocessingSpec(SENSORIMOTOR_16, 160.0).to_dict()}


def _config(trials: int = 5) -> AppConfig:
    cfg = AppConfig()
    cfg.paradigm = cfg.paradigm.model_copy(update={
        "trials_per_class": trials, "trials_per_run": 100, "cue_at_s": 0.5, "cue_duration_s": 0.5,
        "imagery_end_s": 4.5, "rest_min_s": 0.5, "rest_max_s": 0.5, "break_s": 0.0})
    cfg.finetune = cfg.finetune.model_copy(update={"max_epochs": 5, "min_trials_per_class": 2})
    return cfg


def _setup(trials: int = 5):
    clock = ManualClock(100.0)
    sim = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, clock=clock, bufsize=60.0, subject_seed=1)
    session = Session(_config(trials), clock=clock)
    events: list[tuple[str, object]] = []
    session.subscribe("*", lambda name, payload: events.append((name, payload)))
    return clock, sim, session, events


def _run(session: Session, clock: ManualClock, seconds: float, dt: float = 0.05) -> None:
    for _ in range(int(round(seconds / dt))):
        clock.advance(dt)
        session.update()


def _model() -> ATCNet:
    torch.manual_seed(0)
    return ATCNet(16, 2, 160.0, 480).eval()


def test_full_cycle_by_stepping(tmp_path):
    clock, sim, session, events = _setup()
    assert session.mode is Mode.IDLE
    assert session.connect(sim) and session.mode is Mode.CONNECTED
    assert session.start_recording(tmp_path / "s.xdf")
    imagery = session.config.paradigm.imagery_end_s - session.config.paradigm.cue_at_s

    def imagine(ev):
        if ev.code in CUE_CODES.values():
            sim.imagine(ev.label, ev.timestamp, imagery)

    assert session.start_calibration(on_event=imagine) and session.mode is Mode.CALIBRATING
    _run(session, clock, session.paradigm.duration_s + 0.2)
    assert session.mode is Mode.CONNECTED
    rec = session.calibration_data
    assert rec is not None and rec.n_times >= session.paradigm.duration_s * 160 - 10
    assert sorted(m.value for m in rec.markers if m.value in ("769", "770")) == ["769"] * 5 + ["770"] * 5

    job = CalibrationJob([rec], session.config, base="test", model=_model(), meta=META, preset="gdf", name="adapted")
    received_before = sim.counters.received
    assert session.start_training(job.run(), lambda outcome: outcome.decoder_model, cancel=job.cancel.set)
    assert session.mode is Mode.TRAINING
    _run(session, clock, 0.5)  # acquisition and recording continue while training runs
    assert sim.counters.received > received_before
    assert session.wait_training(120)
    assert session.mode is Mode.CONNECTED and session.model is not None
    assert len(session.training_result.data.y) == 10 and session.training_result.chosen in ("adapted", "base")
    assert any(n == "progress" for n, _ in events)
    assert any(n == "model" for n, _ in events)

    assert session.start_online(runner=False, outlet=False) and session.mode is Mode.ONLINE
    _run(session, clock, 4.5)
    assert session.last_prediction is not None
    assert session.last_prediction.classes == CLASSES
    assert any(n == "prediction" for n, _ in events)
    n_decisions = session.decoder.counters.decisions
    assert n_decisions > 5
    session.stop_online()
    assert session.mode is Mode.CONNECTED
    session.disconnect()
    assert session.mode is Mode.IDLE
    modes = [p.value for n, p in events if n == "mode"]
    assert modes == ["connected", "calibrating", "connected", "training", "connected", "online", "connected", "idle"]

    from bci_app.io.recording import read_recording

    saved = read_recording(tmp_path / "s.xdf")
    assert "bci-app-predictions" in saved.extra_streams
    assert len(saved.extra_streams["bci-app-predictions"]["time_stamps"]) == n_decisions
    assert {"769", "770", "768", "800"} <= {m.value for m in saved.markers}


def test_errors_become_events_not_exceptions():
    clock, sim, session, events = _setup()
    assert not session.start_calibration()  # idle
    assert not session.start_online()
    session.connect(sim)
    assert not session.start_online()  # no model yet
    errors = [p for n, p in events if n == "error"]
    assert len(errors) == 3
    assert "while idle" in errors[0].message and "no model" in errors[2].message
    # a calibration start time already past: an error event, still connected, a later start works
    assert not session.start_calibration(start_at=clock() - 1.0)
    assert session.mode is Mode.CONNECTED and session.paradigm is None
    assert "cannot start calibration" in [p for n, p in events if n == "error"][-1].message
    assert session.start_calibration(start_at=clock() + 2.0) and session.mode is Mode.CALIBRATING
    assert session.paradigm.planned_cues()[0][0] == clock() + 2.0 + session.config.paradigm.cue_at_s
    session.abort_calibration()
    session.disconnect()


def test_training_failure_and_cancel_are_reported(tmp_path):
    clock, sim, session, events = _setup()
    session.connect(sim)

    def failing():
        yield "epoch 1"
        raise RuntimeError("boom")

    session.start_training(failing(), lambda r: r)
    assert session.wait_training(10)
    assert session.mode is Mode.CONNECTED
    assert [p.message for n, p in events if n == "error"][-1] == "training failed: boom"

    import threading

    gate = threading.Event()

    def slow():
        for i in range(1000):
            gate.wait(1.0)
            yield i

    session.start_training(slow(), lambda r: r, cancel=gate.set)
    session.cancel_training(wait=True)
    assert session.mode is Mode.CONNECTED and not session.training
    assert "cancelled" in [p.message for n, p in events if n == "error"][-1]
    assert session.model is None
    session.disconnect()


def test_session_and_online_are_qt_free():
    import subprocess

    code = ("import sys, bci_app.session, bci_app.online, bci_app.commands.demo, bci_app.commands.evaluate, "
            "bci_app.commands.replay; assert 'PySide6' not in sys.modules and 'pyqtgraph' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
