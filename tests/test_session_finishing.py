"""What the session completes after it moved on (the window's thread never waits for it): a recording
closed and synced on its thread at Disconnect, said as ``closing`` then ``stopped``, complete once
:attr:`Session.finishing` is empty; and online decoding started with its decoder built off the
caller's thread, entered from a later update, given up by a stop or refused in another mode."""

from __future__ import annotations

import threading
import time

import pyxdf

from bci_app.acquisition import StreamSimulated
from bci_app.clocks import ManualClock
from bci_app.config import AppConfig
from bci_app.io.xdf import XdfRecorder
from bci_app.models.pretrained import load_base_model
from bci_app.online.calibrate import base_decoder_model
from bci_app.session import Mode, Session

SLOW_CLOSE_S = 0.5


def _session(tmp_path, *, model: bool = False):
    clock = ManualClock(100.0)
    cfg = AppConfig()
    cfg.recording.directory = str(tmp_path / "data")
    if model:
        base, meta = load_base_model("sensorimotor8")
        names = tuple(meta["preprocessing"]["ch_names"])
    else:
        names = ("C3", "Cz", "C4")
    sim = StreamSimulated(ch_names=names, sfreq=160.0, clock=clock, bufsize=30.0)
    session = Session(cfg, clock=clock)
    events: list = []
    session.subscribe("*", lambda name, payload: events.append((name, payload)))
    assert session.connect(sim)
    if model:
        session.set_model(base_decoder_model(base, meta))
    return clock, session, events


def _run(session: Session, clock: ManualClock, seconds: float, dt: float = 0.05) -> None:
    for _ in range(int(round(seconds / dt))):
        clock.advance(dt)
        session.update()


def test_disconnect_returns_while_the_recording_closes_and_the_file_is_complete_after(tmp_path, monkeypatch):
    """A disk that takes 0.5 s to take the recording's end: Disconnect (the window's, ``wait=False``)
    returns at once, idle; the recording is said to be closing, then saved once complete."""
    real_close = XdfRecorder.close

    def slow_close(self):
        time.sleep(SLOW_CLOSE_S)  # a busy disk's last flush and fsync
        real_close(self)

    monkeypatch.setattr(XdfRecorder, "close", slow_close)
    clock, session, events = _session(tmp_path)
    path = tmp_path / "run.xdf"
    assert session.start_recording(path)
    _run(session, clock, 2.0)
    t0 = time.perf_counter()
    session.disconnect(wait=False)
    took = time.perf_counter() - t0
    assert took < SLOW_CLOSE_S / 2, f"disconnect waited {took:.3f} s for the recording"
    assert session.mode is Mode.IDLE and session.finishing == ["closing the recording run.xdf"]
    states = [p["state"] for n, p in events if n == "recording"]
    assert states == ["started", "closing"]  # not "stopped" before the file is complete
    assert session.wait_finished(10.0) and session.finishing == []
    states = [p["state"] for n, p in events if n == "recording"]
    assert states == ["started", "closing", "stopped"] and not session.errors
    streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    eeg = next(s for s in streams if s["info"]["type"][0] == "EEG")
    assert eeg["time_series"].shape[0] >= 300 and "footer" in eeg  # every sample, and the stream's end


def test_disconnect_returns_while_a_threaded_source_closes(monkeypatch):
    """A source with its own acquisition thread (every source the window connects) closes on a thread
    at the window's Disconnect (its driver's close: 0.3 s here), said by ``finishing``; waiting, at once."""
    slow = 0.3
    real = StreamSimulated._disconnect
    monkeypatch.setattr(StreamSimulated, "_disconnect", lambda self: (time.sleep(slow), real(self)))
    for wait in (False, True):
        sim = StreamSimulated(ch_names=("C3", "Cz", "C4"), sfreq=160.0, acquisition_delay=0.02)
        session = Session(AppConfig())
        assert session.connect(sim)
        t0 = time.perf_counter()
        session.disconnect(wait=wait)
        took = time.perf_counter() - t0
        assert session.mode is Mode.IDLE and session.stream is None
        if wait:
            assert took >= slow and not sim.connected and session.finishing == []
        else:
            assert took < slow / 2 and session.finishing == [f"closing the source {sim.info.name}"]
            assert session.wait_finished(10.0) and not sim.connected and not session.errors


def test_disconnect_while_training_returns_and_the_job_ends_on_its_thread(tmp_path):
    """The window's Disconnect during training: the job is cancelled, not joined (a batch of 0.5 s here);
    ``finishing`` says so until it ends, then its cancellation is said as before."""
    clock, session, events = _session(tmp_path)

    def slow_batches():
        for i in range(100):
            time.sleep(0.5)  # the job notices the cancel between batches
            yield i

    assert session.start_training(slow_batches(), lambda result: result)
    t0 = time.perf_counter()
    session.disconnect(wait=False)
    assert time.perf_counter() - t0 < 0.25 and session.mode is Mode.IDLE
    assert session.finishing == ["stopping the training"]
    assert session.wait_finished(10.0) and session.finishing == [] and not session.training
    assert "training was cancelled" in [p.message for n, p in events if n == "error"][-1]


def test_close_waits_for_every_file(tmp_path, monkeypatch):
    """The command line and quitting: ``disconnect()`` (waiting) returns with the file complete."""
    real_close = XdfRecorder.close
    monkeypatch.setattr(XdfRecorder, "close", lambda self: (time.sleep(0.2), real_close(self)))
    clock, session, events = _session(tmp_path)
    assert session.start_recording(tmp_path / "run.xdf")
    _run(session, clock, 1.0)
    session.close()
    assert session.finishing == [] and [p["state"] for n, p in events if n == "recording"][-1] == "stopped"
    assert pyxdf.load_xdf(str(tmp_path / "run.xdf"))[0]


def test_online_starts_with_its_decoder_built_off_the_callers_thread(tmp_path):
    clock, session, events = _session(tmp_path, model=True)
    _run(session, clock, 4.0)  # the buffered seconds the decoder's warm-up needs
    assert session.start_online(background=True, outlet=True)
    assert session.mode is Mode.CONNECTED and session.online_starting  # built on its thread meanwhile
    deadline = time.monotonic() + 30.0
    while session.mode is not Mode.ONLINE and time.monotonic() < deadline:
        clock.advance(0.01)
        session.update()
        time.sleep(0.01)
    assert session.mode is Mode.ONLINE and not session.online_starting, [e.message for e in session.errors]
    deadline = time.monotonic() + 30.0
    while session.last_prediction is None and time.monotonic() < deadline:  # the decoder's thread decides
        clock.advance(0.02)
        session.update()
        time.sleep(0.02)
    assert session.last_prediction is not None
    session.stop_online()
    assert session.mode is Mode.CONNECTED  # the outlet closes on its thread (liblsl joins its own)
    n_events = len(events)
    assert session.wait_finished(10.0) and session.finishing == [] and not session.errors
    _run(session, clock, 0.5)
    assert not [name for name, _ in events[n_events:] if name == "prediction"]  # none after Stop


def test_a_participants_online_recording_is_opened_with_the_decoder_off_the_callers_thread(tmp_path, monkeypatch):
    """Its headers (5-20 ms with 64 channels) are written on the start's thread; entering online makes
    it the session's (``recording`` ``started``, decisions in it); a start given up leaves no file."""
    opened_on: list[str] = []
    real_init = XdfRecorder.__init__

    def init(self, *args, **kwargs):
        opened_on.append(threading.current_thread().name)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(XdfRecorder, "__init__", init)
    clock, session, events = _session(tmp_path, model=True)
    assert session.start_participant("P001")
    _run(session, clock, 4.0)
    assert session.start_online(background=True, outlet=False)
    deadline = time.monotonic() + 30.0
    while session.last_prediction is None and time.monotonic() < deadline:
        clock.advance(0.02)
        session.update()
        time.sleep(0.02)
    assert session.mode is Mode.ONLINE and opened_on == ["bci-online-open"], [e.message for e in session.errors]
    path = session.recorder.path
    assert path.name == "online.xdf" and [p["state"] for n, p in events if n == "recording"] == ["started"]
    session.stop_online()
    assert session.wait_finished(10.0) and not session.errors
    streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    assert any(s["info"]["type"][0] == "Predictions" and len(s["time_stamps"]) for s in streams)

    for opened_before_stop in (False, True):  # given up before its recording opened, or after
        assert session.start_online(background=True, outlet=False)
        if opened_before_stop:
            deadline = time.monotonic() + 30.0
            while not (path.parent / "online-2.xdf").exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.3)  # its message posted, not taken yet
            assert (path.parent / "online-2.xdf").exists() and set(opened_on) == {"bci-online-open"}
        session.stop_online()
        time.sleep(1.0)
        _run(session, clock, 0.2)
        assert session.wait_finished(10.0) and session.mode is Mode.CONNECTED and session.recorder is None
        assert sorted(p.name for p in path.parent.glob("online*.xdf")) == ["online.xdf"] and not session.errors
    session.close()


def test_a_start_under_way_is_given_up_by_stop_and_refused_in_another_mode(tmp_path):
    clock, session, _events = _session(tmp_path, model=True)
    _run(session, clock, 4.0)
    assert session.start_online(background=True, outlet=False)
    assert not session.start_online(background=True)  # one start at a time, said
    assert "starting already" in session.errors[-1].message
    session.stop_online()  # given up: the decoder built meanwhile is dropped
    time.sleep(1.0)
    _run(session, clock, 0.5)
    assert session.mode is Mode.CONNECTED and not session.online_starting and session.decoder is None

    assert session.start_online(background=True, outlet=False)
    assert session.start_calibration()  # the operator calibrates before the decoder is ready
    time.sleep(1.0)
    _run(session, clock, 0.2)
    assert session.mode is Mode.CALIBRATING and session.decoder is None
    assert "online decoding did not start: the session is calibrating now" in session.errors[-1].message
    session.close()


def test_a_replay_of_the_recording_being_closed_reads_it_once_complete(tmp_path, monkeypatch):
    """Stop, Disconnect and Play at once: the replay opens the online recording only after its close."""
    import bci_app.session.replay as replay_module

    times: dict[str, float] = {}
    real_close, real_open = XdfRecorder.close, replay_module.replay_stream

    def slow_close(self):
        time.sleep(SLOW_CLOSE_S)
        real_close(self)
        times.setdefault("closed", time.perf_counter())

    def timed_open(*args, **kwargs):
        times.setdefault("opened", time.perf_counter())
        return real_open(*args, **kwargs)

    monkeypatch.setattr(XdfRecorder, "close", slow_close)
    monkeypatch.setattr(replay_module, "replay_stream", timed_open)
    clock, session, _events = _session(tmp_path, model=True)
    assert session.start_participant("P001")
    _run(session, clock, 4.0)
    assert session.start_online(runner=False, outlet=False)
    _run(session, clock, 2.0)
    session.stop_online()
    session.disconnect(wait=False)
    path = next((tmp_path / "data").rglob("online*.xdf"))
    assert session.replay_file(path, background=True, runner=False)
    deadline = time.monotonic() + 30.0
    while session.mode is not Mode.REPLAY and time.monotonic() < deadline:
        session.update()
        time.sleep(0.01)
    assert session.mode is Mode.REPLAY, [e.message for e in session.errors]
    assert times["opened"] >= times["closed"]
    session.close()
