"""A researcher's own recording with its own cue names: ``--events`` says which marker means which class."""

from __future__ import annotations

import json

import mne
import pytest
from shared_data import cue_count

from bci_app.cli import main
from bci_app.errors import ConfigError
from bci_app.io.dataset_presets import cue_preset, parse_event_mapping


def test_event_mapping_parses_and_names_mistakes():
    preset = parse_event_mapping("T1=left_hand, T2=right_hand")
    assert preset.labels_for("anything.fif") == {"T1": "left_hand", "T2": "right_hand"}
    with pytest.raises(ConfigError, match="not MARKER=CLASS"):
        parse_event_mapping("T1:left_hand")
    with pytest.raises(ConfigError, match="unknown class 'left'"):
        parse_event_mapping("T1=left")
    with pytest.raises(ConfigError, match="either --events or --dataset"):
        cue_preset("T1=left_hand", "eegmmidb")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_fif_recordings_with_their_own_names_calibrate_and_evaluate(eegmmidb_dir, tmp_path, capsys):
    """EEGMMIDB runs of S001 saved as FIF under other names: the file name no longer says which
    dataset they are, so --events maps their T1/T2 annotations."""
    from bci_app.models.pretrained import fold_base_for

    files = []
    for run in ("04", "08", "12"):
        raw = mne.io.read_raw_edf(eegmmidb_dir / "S001" / f"S001R{run}.edf", preload=True, verbose="error")
        path = tmp_path / f"alice-session{run}_raw.fif"
        raw.save(path, verbose="error")
        files.append(str(path))
    base = fold_base_for("S001", "sensorimotor16")
    out = tmp_path / "e.json"
    assert main(["evaluate", "--calib", files[0], "--test", *files[1:], "--base", base, "--json", str(out)]) == 2  # bad input
    err = capsys.readouterr().err
    assert "markers present: ['T0', 'T1', 'T2']" in err and "--events" in err
    assert main(["evaluate", "--calib", files[0], "--test", *files[1:], "--base", base, "--json", str(out),
                 "--events", "T1=left_hand,T2=right_hand"]) == 0
    report = json.loads(out.read_text())
    edf = [eegmmidb_dir / "S001" / f"S001R{run}.edf" for run in ("04", "08", "12")]
    assert report["preparation"]["n_cues"] == cue_count(edf[0]) and report["n_calib_trials"] <= cue_count(edf[0])
    assert report["n_test_trials"] == cue_count(edf[1]) + cue_count(edf[2]) and report["accuracy"] > 0.5
    assert main(["calibrate", "--calib", files[0], "--out", str(tmp_path / "a"), "--base", base,
                 "--events", "T1=left_hand,T2=right_hand"]) == 0
