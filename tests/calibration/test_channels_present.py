"""A headset with other channels than the base: restrict (--channels), pick the base, interpolate."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bci_app.errors import ModelError, RecordingError
from bci_app.io.recording import map_channels, read_recording
from bci_app.models.pretrained import base_for_channels
from bci_app.signal.preprocess import PreprocessingSpec, StreamingPreprocessor
from bci_app.signal.repair import interpolation_matrix
from bci_app.vocabulary import SENSORIMOTOR_16

CYTON = "Fp1,Fp2,C3,C4,P7,P8,O1,O2"


def test_base_follows_the_channels_present():
    assert base_for_channels("sensorimotor16", SENSORIMOTOR_16)[0] == "sensorimotor16"
    unicorn = ["Fz", "C3", "Cz", "C4", "Pz", "PO7", "Oz", "PO8"]  # 4 of sensorimotor16's channels
    base, reason = base_for_channels("sensorimotor16", unicorn)  # a base pretrained on exactly those 8
    assert base == "unicorn8" and "4 of the 16" in reason and "none interpolated" in reason
    base, reason = base_for_channels("sensorimotor16", ["C3", "Cz", "C4", "O1"])
    assert base == "motor3" and "exactly 3" in reason
    # fewer channels in a complete base than the headset has of the configured one: interpolate instead
    six = ["C3", "Cz", "C4", "CP1", "CP2", "Pz"]
    base, reason = base_for_channels("sensorimotor16", six)
    assert base == "sensorimotor16" and "6 of the 16" in reason and "10 are interpolated" in reason
    base, reason = base_for_channels("sensorimotor16", CYTON.split(","))
    assert base == "default" and "8 of its 64 channels" in reason and "56 interpolated" in reason
    with pytest.raises(ModelError, match="3 or more channels"):
        base_for_channels("sensorimotor16", ["TP9", "TP10"])


def test_spec_with_missing_channels_round_trips_and_streams():
    """Missing channels are fed as zeros and filled by the repair map, in the continuous stage."""
    names = SENSORIMOTOR_16
    missing = [c for c in names if c not in ("C3", "Cz", "C4", "FC3", "CP3", "Pz")]
    spec = PreprocessingSpec(names, 160.0).with_repair(interpolation_matrix(names, missing), missing, missing)
    again = PreprocessingSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec and again.missing == tuple(missing)
    source = ["C3", "Cz", "C4", "FC3", "CP3", "Pz", "O1"]  # the headset: 6 of the 16 and one other
    x = np.random.default_rng(0).standard_normal((len(source), 800)) * 1e-5
    pre = StreamingPreprocessor(spec, 160.0, source)
    pre.push(x, np.arange(800) / 160.0)
    window, _ = pre.latest_window(400)
    assert window.shape == (16, 400) and np.all(np.abs(window[names.index("C1")]) > 0)


def test_keep_channels_names_what_the_recording_lacks(eegmmidb_dir):
    rec = read_recording(eegmmidb_dir / "S001" / "S001R04.edf")
    cyton = map_channels(rec, CYTON.split(","))
    assert cyton.ch_names == tuple(CYTON.split(",")) and cyton.data.shape[0] == 8
    with pytest.raises(RecordingError, match="TP9"):
        map_channels(rec, ["C3", "TP9"])


def test_calibrate_cli_on_a_cyton_layout_picks_and_saves_the_base(eegmmidb_dir, tmp_path):
    from bci_app.cli import main
    from bci_app.online.calibrate import adapted_decoder_model

    out = tmp_path / "cyton"
    assert main(["calibrate", "--calib", str(eegmmidb_dir / "S001" / "S001R04.edf"), "--out", str(out),
                 "--channels", CYTON, "--json"]) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["base_model"] == "default" and len(meta["missing_channels"]) == 56
    assert meta["headset_channels"] == CYTON.split(",") and "interpolated" in meta["base_choice"]
    model, _ = adapted_decoder_model(out)
    assert set(model.spec.present_ch_names) == set(CYTON.split(","))
    # the adapter decodes a stream that has only the Cyton's channels
    rec = map_channels(read_recording(eegmmidb_dir / "S001" / "S001R08.edf"), CYTON.split(","))
    pre = StreamingPreprocessor(model.spec, rec.sfreq, rec.ch_names, capacity_s=10)
    pre.push(rec.data[:, :1600], rec.timestamps[:1600])
    assert np.isfinite(pre.latest_window(480)[0]).all()
