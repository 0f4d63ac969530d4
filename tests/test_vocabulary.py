"""The GDF codes are defined once (bci_app.vocabulary); the ``gdf`` dataset preset, the paradigm and the
config's classes agree with them, and the window start has one default."""

from __future__ import annotations

from bci_app import vocabulary as events
from bci_app.config import AppConfig
from bci_app.io.dataset_presets import load_dataset_preset
from bci_app.paradigm import timing as paradigm


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


def test_every_class_has_one_cue_code_both_hands_included():
    assert tuple(events.CUE_CODES) == events.CLASSES and len(set(events.CUE_CODES.values())) == len(events.CLASSES)
    assert events.CUE_CODES["both_hands"] == 0x0305 == 773 and events.is_cue("773")
    assert set(events.EEGMMIDB_CLASSES) <= set(events.CLASSES)


def test_the_paradigm_cues_both_hands_with_its_code():
    from bci_app.clocks import ManualClock
    from bci_app.config import ParadigmConfig

    clock = ManualClock(0.0)
    p = paradigm.GrazParadigm(ParadigmConfig(classes=["both_hands", "feet"], trials_per_class=1, trials_per_run=2), clock)
    codes = []
    p.subscribe(lambda ev: codes.append(ev.code))
    p.start()
    while not p.finished:
        clock.advance(0.05)
        p.update()
    assert 773 in codes and 771 in codes


def test_eegmmidb_preset_agrees_with_the_run_table():
    preset = load_dataset_preset("eegmmidb")
    runs = {run: rule.labels for rule in preset.rules for run in rule.runs}
    assert sorted(runs) == list(events.EEGMMIDB_IMAGERY_RUNS)
    assert [r for r, labels in runs.items() if set(labels.values()) == {"left_hand", "right_hand"}] == list(
        events.EEGMMIDB_LR_RUNS)
    assert {c for labels in runs.values() for c in labels.values()} == set(events.EEGMMIDB_CLASSES)


def test_the_vocabulary_is_at_the_bottom_of_the_house():
    """It imports no other module of the app, so every floor may import it."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(events.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m.split(".")[0] in ("bci_app", "calibration", "pretraining")}


def test_channel_names_and_positions_have_one_table():
    assert events.position_name("fcz") == "FCz" and events.position_name("nope") is None
    name, xyz = events.electrode_positions()["c3"]
    assert name == "C3" and xyz.shape == (3,)
    assert events.normalize_ch_name(" Fc 5. ") == "fc5"
    assert set(events.SENSORIMOTOR_8) <= set(events.SENSORIMOTOR_16) <= set(events.EEGMMIDB_64)


def test_montages_have_one_key_scheme_shared_by_pretraining_the_simulator_and_the_shipped_bases():
    """A montage key names the same channels everywhere: ``bci-app pretrain --montage KEY``, the
    simulated headset's choice and the shipped base called KEY (the 64-channel one is ``default``)."""
    from bci_app.models.pretrained import base_model_metadata, list_base_models
    from pretraining.train import PretrainOptions

    for key, channels in events.MONTAGES.items():
        assert PretrainOptions(montage=key).ch_names == channels
    bases = {name: tuple(base_model_metadata(name)["ch_names"]) for name in list_base_models()}
    assert bases["default"] == events.MONTAGES["eegmmidb64"]
    for name, channels in bases.items():
        if name in events.MONTAGES:
            assert channels == events.MONTAGES[name], name
    assert {"sensorimotor16", "sensorimotor8", "unicorn8", "motor3"} <= set(bases) & set(events.MONTAGES)
