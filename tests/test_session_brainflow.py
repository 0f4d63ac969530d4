"""A whole session on BrainFlow's real synthetic board: its descriptor's 16 channels (Fz C3 Cz C4 Pz
PO7 Oz PO8 F5 F7 F3 F1 F2 F4 F6 F8) hold only 4 of the configured base's 16 (C3 Cz C4 Pz) but all 8 of
the shipped ``unicorn8`` base's, so the job takes that base (nothing interpolated), calibrates, trains,
gates and decodes online."""

from __future__ import annotations

import pytest

from bci_app.acquisition.brainflow import StreamBrainFlow
from bci_app.config import AppConfig
from bci_app.session import Mode, Session
from calibration.job import CalibrationJob

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def test_synthetic_board_calibrates_trains_and_decodes_online():
    cfg = AppConfig()
    cfg.paradigm = cfg.paradigm.model_copy(update={
        "trials_per_class": 3, "trials_per_run": 100, "cue_at_s": 0.5, "cue_duration_s": 0.5,
        "imagery_end_s": 4.0, "rest_min_s": 0.3, "rest_max_s": 0.3, "break_s": 0.0})
    cfg.finetune = cfg.finetune.model_copy(update={"max_epochs": 5, "min_trials_per_class": 3})
    session = Session(cfg)
    errors: list[str] = []
    session.subscribe("error", lambda e: errors.append(e.message))
    try:
        assert session.connect(StreamBrainFlow("synthetic", bufsize=60.0)), errors
        assert session.start_calibration(), errors
        assert session.run_until(lambda: session.mode is not Mode.CALIBRATING, timeout_s=90), "calibration too slow"
        job = CalibrationJob([session.calibration_data], cfg, preset="gdf", classes=cfg.paradigm.classes)
        assert session.start_training(job.run(), lambda outcome: outcome.decoder_model, cancel=job.cancel.set)
        assert session.wait_training(120) and session.model is not None, errors
        outcome = session.training_result
        assert outcome.metadata["base_model"] == "unicorn8"
        choice = outcome.metadata["base_choice"]
        assert "4 of the 16 channels" in choice and "none interpolated" in choice
        assert len(outcome.data.missing) == 0 and len(outcome.data.y) == 6
        assert session.start_online(runner=False, outlet=False), errors
        assert session.run_until(lambda: session.decoder.counters.decisions >= 5, timeout_s=20), errors
        assert session.last_prediction is not None and session.last_prediction.classes == ("left_hand", "right_hand")
    finally:
        session.stop_online()
        session.disconnect()
    assert not errors
