"""The session decides what happens when (the GUI only renders): training starts by itself after a
completed calibration when asked, the calibration quality is collected per trial in the core, a
configuration only changes while idle, and a replayed file ends the replay by itself."""

from __future__ import annotations

import threading

from bci_app.acquisition import StreamSimulated
from bci_app.clocks import ManualClock
from bci_app.config import AppConfig
from bci_app.models.pretrained import load_base_model
from bci_app.online.calibrate import base_decoder_model
from bci_app.session import Mode, Session
from bci_app.vocabulary import END_OF_TRIAL, SENSORIMOTOR_16
from calibration.job import CalibrationJob
from tests.test_session import META, _config, _model, _run


def test_training_starts_by_itself_after_a_completed_calibration_only():
    clock = ManualClock(100.0)
    sim = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, clock=clock, bufsize=60.0, subject_seed=1)
    built = []

    def factory(session):
        job = CalibrationJob([session.calibration_data], session.config, base="test", model=_model(), meta=META,
                             preset="gdf", name="adapted")
        built.append(job)
        return job.run(), (lambda outcome: outcome.decoder_model), job.cancel.set

    session = Session(_config(3), clock=clock, train_after_calibration=True, training_factory=factory)
    modes, summaries, ends, checked, updates = [], [], [], [], [0]
    session.subscribe("mode", modes.append)
    # a trial is checked in steps after the update in which it ended (3-6 ms of the UI thread with 64 channels)
    session.subscribe("paradigm", lambda ev: ends.append(updates[0]) if ev.code == END_OF_TRIAL else None)
    session.subscribe("quality", lambda summary: (summaries.append(summary), checked.append(updates[0])))
    real_update = session.update
    session.update = lambda: (updates.__setitem__(0, updates[0] + 1), real_update())
    assert session.connect(sim) and session.start_calibration()
    assert session.calibration_quality is not None and session.calibration_quality_problem is None
    session.abort_calibration()  # aborted: no training
    assert session.mode is Mode.CONNECTED and not built
    assert session.start_calibration()
    _run(session, clock, session.paradigm.duration_s + 0.2)
    assert session.mode is Mode.TRAINING and len(built) == 1
    assert len(summaries) == 6 and summaries[-1] == session.calibration_quality.summary()  # one per trial checked
    assert all(1 <= u - ends[k] <= 2 for k, u in enumerate(checked))  # its steps in the updates after its end
    assert "calibration trials: 6" in session.training_plan() and "LoRA targets: dense" in session.training_plan()
    assert sum(session.calibration_quality.summary().n_trials.values()) + session.calibration_quality.n_rejected == 6
    assert session.wait_training(120) and session.model is not None
    assert session.training_result is not None and session.training_result.chosen in ("adapted", "base")
    assert [m.value for m in modes][-4:] == ["calibrating", "connected", "training", "connected"]
    later = AppConfig()
    assert not session.set_config(later) and session.config is not later  # not while connected...
    session.disconnect()
    assert session.config is later  # ...but from the moment the session is idle again
    cfg = AppConfig()
    assert session.set_config(cfg) and session.config is cfg


def test_replay_file_ends_by_itself(tmp_path):
    model, meta = load_base_model("sensorimotor16")
    clock = ManualClock(10.0)
    sim = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, clock=clock)
    live = Session(AppConfig(), clock=clock)
    live.connect(sim)
    live.start_recording(tmp_path / "s.xdf")
    live.set_model(base_decoder_model(model, meta))
    _run(live, clock, 5.0)
    live.start_online(runner=False, outlet=False)  # decoding starts on the buffered warm-up (3.5 s back)
    live_start = live.decoder.start_index
    assert live_start > 150
    _run(live, clock, 5.0)
    live.disconnect()

    session = Session(AppConfig(), clock=clock)
    ends = []
    session.subscribe("replay", ends.append)
    assert not session.replay_file(tmp_path / "s.xdf")  # no model yet: an error event, not an exception
    session.set_model(base_decoder_model(model, meta))
    decisions = []
    assert session.replay_file(tmp_path / "s.xdf", speed=2.0, runner=False, on_decision=decisions.append)
    assert session.decoder.start_index == live_start  # where the live decoder started
    while session.mode is Mode.REPLAY:
        clock.advance(0.05)
        session.update()
    assert ends == ["finished"] and session.mode is Mode.IDLE
    assert len(decisions) > 20 and decisions[0].sample_index >= live_start

    # opened in the background (as the window does): the file is read and its decoder built on a
    # thread; the replay starts in a later update, with the same decisions
    again: list = []
    assert session.replay_file(tmp_path / "s.xdf", speed=2.0, runner=False, on_decision=again.append, background=True)
    assert session.mode is Mode.IDLE and session.stream is None  # nothing on the caller's thread
    while session.mode is not Mode.REPLAY:
        session.update()
    while session.mode is Mode.REPLAY:
        clock.advance(0.05)
        session.update()
    assert ends == ["finished", "finished"] and [d.sample_index for d in again] == [d.sample_index for d in decisions]
    # stopped before it is open: never played; a file that cannot be read: an error and "failed"
    assert session.replay_file(tmp_path / "s.xdf", background=True)
    session.stop_replay()
    for thread in threading.enumerate():
        if thread.name == "bci-replay-open":
            thread.join(30)
    session.update()
    assert ends[-1] == "stopped" and session.mode is Mode.IDLE and session.stream is None
    (tmp_path / "bad.xdf").write_bytes(b"not an xdf file")
    assert session.replay_file(tmp_path / "bad.xdf", background=True)
    while ends[-1] != "failed":
        session.update()
    assert "cannot open the recording" in session.errors[-1].message and session.mode is Mode.IDLE


def test_calibration_tap_keeps_every_sample_past_its_expected_length():
    """The tap's preallocated store grows when a run goes longer than expected; the recording it
    hands out holds every sample from its lead on, in order, and later samples never change it."""
    import numpy as np

    from bci_app.session.calibration import CalibrationTap

    clock = ManualClock(100.0)
    sim = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, clock=clock, bufsize=30.0)
    sim.connect()
    try:
        for _ in range(20):  # 2 s before the tap: its 1 s lead comes from the buffer
            clock.advance(0.1)
            sim.acquire()
        # another program's cues run for as long as it sends them: an unknown length starts at a minute
        assert CalibrationTap(sim, lead_s=1.0, expected_s=float("inf"))._times.size == 160 * 66  # noqa: SLF001
        tap = CalibrationTap(sim, lead_s=1.0, expected_s=0.5)
        first = tap.index
        for _ in range(60):  # 6 s: several times what it expected
            clock.advance(0.1)
            sim.acquire()
            tap.poll()
        rec = tap.recording([])
        ref = sim.read_since(first)
        assert rec.data.shape == (16, sim.buffer.n_written - first) == ref.data.shape
        np.testing.assert_array_equal(rec.data, ref.data)
        np.testing.assert_array_equal(rec.timestamps, ref.timestamps)
        held = rec.data.copy()
        clock.advance(1.0)
        sim.acquire()
        tap.poll()
        np.testing.assert_array_equal(rec.data, held)
        assert tap.recording([]).data.shape[1] == rec.data.shape[1] + 160
    finally:
        sim.disconnect()
