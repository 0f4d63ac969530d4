"""A participant's session keeps its own files: the calibration and online runs are recorded into the
participant's folder by themselves, the adapter and the calibration report are saved after training,
cues go out on an LSL Markers stream, and a second session continues with the saved adapter."""

from __future__ import annotations

import pylsl
import pytest

from bci_app.acquisition import StreamSimulated
from bci_app.clocks import ManualClock
from bci_app.config import AppConfig
from bci_app.session import Mode, Session
from bci_app.vocabulary import CUE_CODES, SENSORIMOTOR_16

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _config(tmp_path, trials: int = 6) -> AppConfig:
    cfg = AppConfig()
    cfg.paradigm = cfg.paradigm.model_copy(update={
        "trials_per_class": trials, "trials_per_run": 100, "cue_at_s": 0.5, "cue_duration_s": 0.5,
        "imagery_end_s": 4.5, "rest_min_s": 0.5, "rest_max_s": 0.5, "break_s": 0.0})
    cfg.finetune = cfg.finetune.model_copy(update={"max_epochs": 5, "min_trials_per_class": 2, "gate_folds": 2,
                                                   "gate_repeats": 1})
    cfg.recording = cfg.recording.model_copy(update={"directory": str(tmp_path / "data")})
    return cfg


def _run(session: Session, clock: ManualClock, seconds: float, dt: float = 0.05) -> None:
    for _ in range(int(round(seconds / dt))):
        clock.advance(dt)
        session.update()


def test_participant_session_keeps_its_files_and_continues(tmp_path):
    clock = ManualClock(pylsl.local_clock())
    sim = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, clock=clock, bufsize=60.0, subject_seed=3)
    session = Session(_config(tmp_path), clock=clock, train_after_calibration=True)
    saved = []
    session.subscribe("saved", saved.append)
    assert session.connect(sim) and session.start_participant("P007")
    folder = session.folder.path
    imagery = session.config.paradigm.imagery_end_s - session.config.paradigm.cue_at_s

    def imagine(ev):
        if ev.code in CUE_CODES.values():
            sim.imagine(ev.label, ev.timestamp, imagery)

    assert session.start_calibration(on_event=imagine)
    assert session.recorder is not None and session.recorder.path == folder / "calibration.xdf"
    source_id = session._cues.source_id  # noqa: SLF001 - this session's cue stream
    found = pylsl.resolve_byprop("source_id", source_id, timeout=3.0)
    assert found and found[0].name() == "bci-app-markers" and found[0].type() == "Markers"
    inlet = pylsl.StreamInlet(found[0])
    inlet.open_stream(timeout=3.0)
    _run(session, clock, session.paradigm.duration_s + 0.2)
    codes = []
    while (sample := inlet.pull_sample(timeout=0.5))[0] is not None:
        codes.append(sample[0][0])
    assert codes.count("769") + codes.count("770") == 12 and "768" in codes  # the cues, as LabRecorder sees them
    assert session.recorder is None and (folder / "calibration.xdf").stat().st_size > 0  # closed at the end
    assert session.mode is Mode.TRAINING and session.wait_training(240)
    assert session.model is not None and session.model_source == "calibrated"
    assert saved and (folder / "adapter.safetensors").is_file() and (folder / "adapter.json").is_file()
    html = (folder / "calibration_report.html").read_text(encoding="utf-8")
    assert "Decoding accuracy on the calibration trials" in html and saved[-1].report_pngs

    assert session.start_online(runner=False)
    assert session.recorder is not None and session.recorder.path == folder / "online.xdf"
    _run(session, clock, 5.0)
    session.stop_online()
    assert session.recorder is None and (folder / "online.xdf").stat().st_size > 0
    sim.disconnect()

    # a second session of the same participant decodes with that adapter, without calibrating
    clock2 = ManualClock(pylsl.local_clock())
    sim2 = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, clock=clock2, bufsize=60.0, subject_seed=3)
    again = Session(_config(tmp_path), clock=clock2)
    assert again.connect(sim2) and again.start_participant("P007")
    assert again.previous_adapter() == folder / "adapter"
    assert again.continue_previous() and again.wait_training(120)
    assert again.model_source == "loaded" and again.model is not None
    preds = []
    again.subscribe("prediction", preds.append)
    assert again.start_online(runner=False)
    _run(again, clock2, 6.0)
    assert preds, "the loaded adapter decodes"
    again.stop_online()
    sim2.disconnect()


def test_continue_refuses_an_adapter_for_other_channels(tmp_path):
    from bci_app.errors import ModelError
    from bci_app.session.participant import check_adapter_fits

    meta = {"preprocessing": {"ch_names": ["C3", "Cz", "C4", "FC3"], "missing": ["FC3"]}}
    check_adapter_fits(meta, ["c3", "CZ", "C4"], tmp_path / "a")  # FC3 was interpolated: not needed
    with pytest.raises(ModelError, match="lacks: Cz"):
        check_adapter_fits(meta, ["C3", "C4"], tmp_path / "a")


def test_co_adaptation_retrains_with_a_cued_online_run(tmp_path):
    """A cued online run's trials are kept; with ``coadapt`` the adapter is retrained in the background
    on the calibration plus that run, and installed into the running decoder."""
    clock = ManualClock(pylsl.local_clock())
    sim = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, clock=clock, bufsize=120.0, subject_seed=5)
    session = Session(_config(tmp_path, trials=4), clock=clock, train_after_calibration=True)
    assert session.connect(sim)
    imagery = session.config.paradigm.imagery_end_s - session.config.paradigm.cue_at_s

    def imagine(ev):
        if ev.code in CUE_CODES.values():
            sim.imagine(ev.label, ev.timestamp, imagery)

    assert session.start_calibration(on_event=imagine)
    _run(session, clock, session.paradigm.duration_s + 0.2)
    assert session.wait_training(240) and session.model is not None
    first = session.training_result
    models = []
    session.subscribe("model", models.append)
    session.coadapt = True
    assert session.start_online(runner=False)
    assert session.start_online_trials(imagine, trials_per_class=3)
    _run(session, clock, session.online_paradigm.duration_s + 6.0)
    assert len(session.online_data) == 1 and session.online_data[0].n_times > 0
    assert session.mode is Mode.ONLINE and session.wait_training(240)  # retrained while online
    second = session.training_result
    assert second is not first and len(second.data.y) == len(first.data.y) + 6  # calibration + the run's trials
    _run(session, clock, 0.5)  # the new model swaps in at the next decoder step
    assert models and session.decoder is not None and session.decoder.model is models[-1]
    session.stop_online()
    session.disconnect()
