"""Faults the session survives: app killed mid-recording (and continued), LSL source lost for 10 s,
disk full while recording, close during training and recording.

Already covered elsewhere (not repeated here): the recorder alone killed with SIGKILL and disk full
(tests/io/test_xdf.py), BrainFlow board errors and reconnection
(tests/acquisition/test_brainflow.py), LSL reconnection of the stream alone
(tests/acquisition/test_lsl.py), decoder gap/NaN handling (tests/online/test_decoder.py), training
cancel through the session (tests/test_session.py) and close during training in the GUI
(tests/gui/test_session_flow.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from bci_app.acquisition import LslPlayer, StreamLSL, StreamSimulated
from bci_app.clocks import ManualClock
from bci_app.config import AppConfig, FinetuneConfig, LoraConfig, resolve_lora
from bci_app.io.recording import read_recording
from bci_app.io.resume import continuation_path, find_incomplete_recordings, scan_xdf
from bci_app.models import ATCNet
from bci_app.models.io import model_hash
from bci_app.online import DecoderModel
from bci_app.session import Mode, Session
from bci_app.signal.preprocess import PreprocessingSpec
from bci_app.types import GAP_MARKER
from bci_app.vocabulary import SENSORIMOTOR_16

REPO = Path(__file__).resolve().parents[2]
CLASSES = ("left_hand", "right_hand")


def _small_model(n_times: int = 240) -> DecoderModel:
    torch.manual_seed(0)
    module = ATCNet(len(SENSORIMOTOR_16), 2, 160.0, n_times).eval()
    return DecoderModel(module, PreprocessingSpec(SENSORIMOTOR_16, 160.0), CLASSES, name="test")


def _threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.is_alive()}


# -- app killed mid-recording ---------------------------------------------------------------------

_CHILD_SESSION = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {repo!r})
    from bci_app.acquisition import StreamSimulated
    from bci_app.config import AppConfig, FinetuneConfig, LoraConfig
    from bci_app.session import Session
    from bci_app.vocabulary import SENSORIMOTOR_16
    sim = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, clock=time.monotonic, acquisition_delay=0.02)
    session = Session(AppConfig(), clock=time.monotonic)
    assert session.connect(sim) and session.start_recording({path!r})
    session.record_marker("768", time.monotonic())
    print("ready", flush=True)
    while True:
        session.update()
        time.sleep(0.02)
    """
)


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_app_killed_mid_recording_file_loads_and_session_can_continue(tmp_path):
    folder = tmp_path / "sub-S01"
    path = folder / "run1.xdf"
    proc = subprocess.Popen([sys.executable, "-c", _CHILD_SESSION.format(repo=str(REPO), path=str(path))],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(3.0)
        killed_at = time.monotonic()  # CLOCK_MONOTONIC: the child's sample clock too
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()

    rec = read_recording(path)  # pyxdf reads it although no stream got its footer
    assert rec.data.shape[0] == 16 and rec.n_times > 160
    assert np.all(np.diff(rec.timestamps) > 0)
    assert killed_at - rec.timestamps[-1] <= 1.0  # at most the last second is missing
    assert "768" in [m.value for m in rec.markers]

    # restarting: the unfinished session is found and continued in a new file next to it
    (folder / "notes.xdf").write_text("not a recording")  # ignored, not ours
    (incomplete,) = find_incomplete_recordings(tmp_path)
    assert incomplete.path == path and not incomplete.complete
    assert "bci-app-simulated" in incomplete.unfinished_streams
    nxt = continuation_path(path)
    assert nxt == folder / "run1-part2.xdf"

    clock = ManualClock(50.0)
    session = Session(AppConfig(), clock=clock)
    sim = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, clock=clock)
    assert session.connect(sim) and session.start_recording(nxt)
    for _ in range(20):
        clock.advance(0.05)
        session.update()
    session.close()
    assert scan_xdf(nxt).complete
    assert find_incomplete_recordings(tmp_path) == []  # continued: not offered again
    assert continuation_path(path) == folder / "run1-part3.xdf"


# -- LSL source lost for 10 s ---------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.timeout(120)
def test_lsl_source_lost_10s_session_reconnects_records_gap_and_resumes_decoding(tmp_path, unique_name):
    sid = f"{unique_name}-sid"
    sim = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, acquisition_delay=0.02, name=unique_name)
    player = LslPlayer(sim, unique_name, source_id=sid, interval=0.02, markers=False).start()
    config = AppConfig()
    session = Session(config)
    predictions: list = []
    kinds: list[str] = []
    session.subscribe("prediction", predictions.append)
    session.subscribe("stream", lambda ev: kinds.append(ev.kind))
    stream = StreamLSL(unique_name, resolve_timeout=5.0, acquisition_delay=0.01, marker_stream=False)
    try:
        assert session.connect(stream)
        assert session.start_recording(tmp_path / "gap.xdf")
        session.set_model(_small_model())
        assert session.start_online(outlet=False)
        assert session.run_until(lambda: len(predictions) >= 5, timeout_s=15)

        player.stop()  # the device software quits
        sim.disconnect()
        assert session.run_until(lambda: "gap" in kinds, timeout_s=10)
        lost_at = stream.now()
        n_at_gap = len(predictions)
        session.run_until(lambda: False, timeout_s=max(0.0, 10.0 - (stream.now() - lost_at)))
        during_gap = predictions[n_at_gap:]
        assert len(during_gap) <= 1  # at most a decision already computed when the source went
        assert session.mode is Mode.ONLINE and session.errors == []

        sim = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, acquisition_delay=0.02, name=unique_name)
        player = LslPlayer(sim, unique_name, source_id=sid, interval=0.02, markers=False).start()  # it returns
        assert session.run_until(lambda: "reconnected" in kinds, timeout_s=15)
        n_back = len(predictions)
        assert session.run_until(lambda: len(predictions) >= n_back + 5, timeout_s=15)  # decoding resumed
        assert session.decoder.counters.gaps >= 1
        assert session.mode is Mode.ONLINE and session.errors == []
    finally:
        session.close()
        player.stop()
        sim.disconnect()
    rec = read_recording(tmp_path / "gap.xdf")
    gaps = [m for m in rec.markers if m.value == GAP_MARKER]
    assert len(gaps) == 1
    jump = np.diff(rec.timestamps).max()
    assert jump >= 9.5  # the 10 s without data are visible in the samples ...
    assert gaps[0].timestamp == pytest.approx(rec.timestamps[np.argmax(np.diff(rec.timestamps))], abs=1e-6)  # ... and marked
    resumed = [p for p in predictions if p.timestamp > gaps[0].timestamp + 1.0]
    assert resumed and min(p.timestamp for p in resumed) - gaps[0].timestamp >= jump  # none inside the gap


# -- disk full through the session ------------------------------------------------------------------

_CHILD_FULL = textwrap.dedent(
    """
    import json, resource, signal, sys, time
    sys.path.insert(0, {repo!r})
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))
    from bci_app.acquisition import StreamSimulated
    from bci_app.config import AppConfig, FinetuneConfig, LoraConfig
    from bci_app.session import Session
    from bci_app.vocabulary import SENSORIMOTOR_16
    from bci_app.clocks import ManualClock
    clock = ManualClock(10.0)
    sim = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, clock=clock)
    session = Session(AppConfig(), clock=clock)
    events = []
    session.subscribe("*", lambda name, payload: events.append((name, payload)))
    session.connect(sim)
    assert session.start_recording({path!r})
    end = time.monotonic() + 40
    while not any(n == "error" for n, _ in events) and time.monotonic() < end:
        clock.advance(0.1)
        session.update()
        time.sleep(0.005)
    received_at_error = sim.counters.received
    for _ in range(50):  # the session keeps running after the failure
        clock.advance(0.1)
        session.update()
    errors = [p for n, p in events if n == "error"]
    print(json.dumps({{
        "errors": [[e.source, e.message] for e in errors],
        "recording": [p["state"] for n, p in events if n == "recording"],
        "mode": session.mode.value, "recorder": session.recorder is not None,
        "received_at_error": received_at_error, "received_after": sim.counters.received,
        "new_recording_refused": not session.start_recording({path!r}),
    }}))
    session.close()
    """
)


@pytest.mark.timeout(90)
def test_disk_full_while_recording_session_reports_and_keeps_running(tmp_path):
    path = tmp_path / "full.xdf"
    out = subprocess.run([sys.executable, "-c", _CHILD_FULL.format(repo=str(REPO), path=str(path))],
                         capture_output=True, text=True, timeout=80)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    (source, message), *_ = report["errors"]
    assert source == "recording"
    assert "file size limit" in message and "stay readable" in message and str(path) in message
    assert report["recording"] == ["started", "failed"]
    assert report["mode"] == "connected" and report["recorder"] is False
    assert report["received_after"] > report["received_at_error"]  # acquisition went on
    assert report["new_recording_refused"]  # the damaged file is never overwritten silently
    assert path.stat().st_size <= 300_000
    rec = read_recording(path)  # what was written stays readable
    assert rec.data.shape[0] == 16 and rec.n_times > 1000
    assert np.all(np.diff(rec.timestamps) > 0)


# -- close during training and recording ------------------------------------------------------------

def test_close_during_finetuning_and_recording_leaves_clean_state(tmp_path):
    from calibration.finetune import finetune

    clock = ManualClock(100.0)
    sim = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, clock=clock, acquisition_delay=0.02)
    config = AppConfig()
    session = Session(config, clock=clock)
    progress: list = []
    session.subscribe("progress", progress.append)
    before = _threads()
    assert session.connect(sim) and session.start_recording(tmp_path / "busy.xdf")
    model = _small_model().module
    rng = np.random.default_rng(0)
    X = rng.standard_normal((24, 16, 240)).astype(np.float32)
    y = np.arange(24) % 2
    cancel = threading.Event()
    job = finetune(model, X, y, lora=resolve_lora(LoraConfig(target_modules=["dense"]), len(y)), cancel=cancel,
                   config=FinetuneConfig(max_epochs=1000, patience=1000, min_trials_per_class=2))
    hash_before = model_hash(model)
    assert session.start_training(job, lambda r: _small_model(), cancel=cancel.set)
    assert session.run_until(lambda: len(progress) >= 1, timeout_s=60)
    assert session.mode is Mode.TRAINING and session.training

    session.close()  # the operator closes the window mid-training, mid-recording

    assert session.mode is Mode.IDLE and not session.training and session.recorder is None
    assert cancel.is_set()
    leftover = [t.name for t in _threads() - before]
    assert leftover == []  # no training, acquisition or recorder thread left behind
    assert not sim.connected
    scan = scan_xdf(tmp_path / "busy.xdf")
    assert scan.complete  # footers written, file closed
    assert [e.source for e in session.errors] == ["training"]  # "cancelled", told once
    assert "cancelled" in session.errors[0].message
    assert model_hash(model) == hash_before  # the base stays untouched
    assert session.model is None  # nothing half-trained was installed


def test_failed_recording_event_names_the_file(tmp_path):
    clock = ManualClock(10.0)
    sim = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, clock=clock)
    session = Session(AppConfig(), clock=clock)
    states: list[dict] = []
    session.subscribe("recording", states.append)
    session.connect(sim)
    path = tmp_path / "broken.xdf"
    assert session.start_recording(path)
    recorder = session.recorder
    os.close(recorder._fd)  # the file handle goes bad under the recorder (device removed)
    clock.advance(1.0)
    session.update()
    recorder.flush()  # the write fails: the recorder stops and reports through on_error
    session.update()
    try:
        assert states[-1]["state"] == "failed"
        assert states[-1]["path"] == str(path)
    finally:
        session.close()


def test_decoder_runs_the_shipped_default_base():
    """The shipped 64-channel base decodes 8 s of the simulated headset: a decision every step once
    a window is full, probabilities that sum to 1, the fast path equal to the eager model."""
    import numpy as np

    from bci_app.acquisition import StreamSimulated
    from bci_app.clocks import ManualClock
    from bci_app.config import OnlineConfig, SmoothingConfig
    from bci_app.models.pretrained import load_base_model
    from bci_app.online import Decoder
    from bci_app.online.calibrate import base_decoder_model

    model, meta = load_base_model("default")
    dm = base_decoder_model(model, meta)
    sfreq, ch_names = dm.spec.sfreq, dm.spec.ch_names
    clock = ManualClock(10.0)
    sim = StreamSimulated(ch_names=ch_names, sfreq=sfreq, subject_seed=3, clock=clock, bufsize=12).connect()
    clock.advance(8.0)
    sim.acquire()
    data, ts = sim.get_data()
    sim.disconnect()
    config = OnlineConfig(smoothing=SmoothingConfig(method="none"))
    fast = Decoder(dm, sfreq, ch_names, config).feed(data, ts)
    eager = Decoder(dm, sfreq, ch_names, config, fast=False).feed(data, ts)
    step = round(config.step_s * sfreq)
    idx = np.array([p.sample_index for p in fast])
    assert len(fast) >= (data.shape[1] - model.n_times - config.settle_s * sfreq) // step
    assert np.all(np.diff(idx) == step) and idx[-1] >= data.shape[1] - step
    assert [p.sample_index for p in eager] == list(idx)
    probs = np.array([p.probabilities for p in fast])
    assert np.all(np.isfinite(probs)) and np.allclose(probs.sum(axis=1), 1.0)
    assert {p.label for p in fast} <= set(meta["classes"]) and probs.std(axis=0).max() > 0  # decisions move
    assert np.abs(probs - np.array([p.probabilities for p in eager])).max() < 1e-4
