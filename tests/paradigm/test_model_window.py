"""A paradigm the model cannot decode is refused before calibration starts: the model's window
(``window.tmin_s`` after the cue, ``window.length_s`` long, from the base's JSON) must end by the end
of imagery; the message names both times and the fix."""

from __future__ import annotations

import pytest

from bci_app.acquisition import StreamSimulated
from bci_app.clocks import ManualClock
from bci_app.config import AppConfig, ParadigmConfig
from bci_app.errors import CalibrationError
from bci_app.models.pretrained import base_model_metadata
from bci_app.paradigm.timing import check_model_window
from bci_app.session import Mode, Session
from bci_app.vocabulary import SENSORIMOTOR_16, window_span


def test_a_window_ending_after_imagery_is_refused_naming_both_times():
    paradigm = ParadigmConfig(cue_at_s=2.0, imagery_end_s=5.0)  # imagery ends 3 s after the cue
    with pytest.raises(CalibrationError) as err:
        check_model_window(paradigm, 0.5, 3.0)  # the window ends 3.5 s after the cue
    text = str(err.value)
    assert "3.5 s after the cue" in text and "ends 3 s after the cue" in text
    assert "imagery_end_s to at least 5.5 s" in text


def test_a_window_that_fits_exactly_is_accepted():
    check_model_window(ParadigmConfig(cue_at_s=0.5, imagery_end_s=4.0), 0.5, 3.0)
    check_model_window(ParadigmConfig(), *window_span(base_model_metadata("sensorimotor16")))  # the defaults


def test_window_span_reads_the_base_json():
    assert window_span(base_model_metadata("sensorimotor16")) == (0.5, 3.0)
    assert window_span({"n_times": 480, "sfreq": 160.0}) == (0.5, 3.0)  # no window: n_times / sfreq


def test_the_session_refuses_to_start_such_a_calibration():
    cfg = AppConfig()
    cfg.paradigm = cfg.paradigm.model_copy(update={"cue_at_s": 2.0, "imagery_end_s": 5.0})
    clock = ManualClock(100.0)
    sim = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, clock=clock, bufsize=10.0, subject_seed=1)
    session = Session(cfg, clock=clock)
    errors = []
    session.subscribe("error", errors.append)
    assert session.connect(sim)
    assert session.paradigm_problem() is not None
    assert not session.start_calibration()
    assert session.mode is Mode.CONNECTED and session.paradigm is None and session.recorder is None
    assert "3.5 s after the cue" in errors[-1].message and "3 s after the cue" in errors[-1].message
    session.config = cfg.model_copy(update={"paradigm": cfg.paradigm.model_copy(update={"imagery_end_s": 5.5})})
    assert session.paradigm_problem() is None and session.start_calibration()
    session.disconnect()
