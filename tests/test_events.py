"""The GDF codes are defined once (bci_app.events); the ``gdf`` dataset preset, the paradigm and the
config's classes agree with them, and the window start has one default."""

from __future__ import annotations

from bci_app import events
from bci_app.config import AppConfig
from calibration import paradigm
from calibration.epochs import load_dataset_preset


def test_gdf_preset_matches_the_event_codes():
    preset = load_dataset_preset("gdf")
    assert preset.labels_for(None) == {str(code): cls for cls, code in events.CUE_CODES.items()}
    assert preset.trial_start == str(events.TRIAL_START) and preset.rejected == str(events.REJECTED)
    assert set(preset.ignore) == {str(events.TRIAL_START), str(events.FEEDBACK_ONSET), str(events.END_OF_TRIAL)}


def test_paradigm_uses_the_same_codes_and_counting():
    assert paradigm.CUE_CODES is events.CUE_CODES and paradigm.END_OF_TRIAL == events.END_OF_TRIAL == 800
    assert events.count_cues(["768", "769", "770", "781", "800", "1023", "T1", "771", 772]) == 4
    assert set(AppConfig().paradigm.classes) <= set(events.CUE_CODES)


def test_window_start_default_and_metadata():
    assert events.window_tmin({}) == events.WINDOW_TMIN_S == 0.5
    assert events.window_tmin({"window": {"tmin_s": 1.0}}) == 1.0
