"""BIDS export of a real session folder (XDF from EEGMMIDB S001 + a calibration's adapter), read back
with MNE-BIDS."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from bci_app.errors import RecordingError
from bci_app.io.bids import export_bids
from bci_app.io.recording import read_recording
from bci_app.io.xdf import XdfRecorder

mne_bids = pytest.importorskip("mne_bids")


@pytest.fixture(scope="module")
def session_dir(tmp_path_factory, eegmmidb_dir):
    """``P007/2026-12-02_010203/`` with calibration.xdf (S001 run 4: 64 EEG channels, C4 dead, an EOG
    channel, GDF trial markers) and the adapter.json of a real calibration on it."""
    from bci_app.config import AppConfig
    from bci_app.models.pretrained import fold_base_for
    from calibration.job import CalibrationJob

    rec = read_recording(eegmmidb_dir / "S001" / "S001R04.edf")
    folder = tmp_path_factory.mktemp("sessions") / "P007" / "2026-12-02_010203"
    folder.mkdir(parents=True)
    names = [c.strip(".") for c in rec.ch_names]
    data = rec.data * 1e6  # µV in the XDF, as the recorder writes EEG
    data[names.index("C4")] = 0.0  # a dead electrode: the calibration repairs it
    eog = data[names.index("Fp1")] - data[names.index("Fp2")]
    ts = 1000.0 + rec.timestamps
    with XdfRecorder(folder / "calibration.xdf", flush_interval=None, clock=lambda: 1000.0) as xdf:
        eeg = xdf.add_stream("eeg", "EEG", [*names, "EOG1"], ch_types=["eeg"] * 64 + ["eog"],
                             units=["microvolts"] * 65, sfreq=rec.sfreq)
        xdf.push(eeg, np.vstack([data, eog]).astype(np.float32), ts)
        markers = xdf.add_stream("markers", "Markers", ["marker"], channel_format="string")
        values, times = [], []
        for m in rec.markers:
            if m.value in ("T1", "T2"):
                values += ["768", "769" if m.value == "T1" else "770", "800", "pred:left_hand"]
                times += [m.timestamp - 1.0, m.timestamp, m.timestamp + 4.0, m.timestamp + 3.6]
        order = np.argsort(times)
        xdf.push(markers, [values[i] for i in order], 1000.0 + np.asarray(times)[order])
    config = AppConfig()
    config = config.model_copy(update={"lora": config.lora.model_copy(update={"enabled": False})})
    outcome = CalibrationJob([folder / "calibration.xdf"], config, base=fold_base_for("S001", "sensorimotor16")).run_to_end()
    assert "C4" in outcome.metadata["repaired_channels"]
    outcome.save(folder / "adapter")
    return folder


def _tsv(path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_session_folder_exports_to_bids_and_reads_back(session_dir, tmp_path):
    root = tmp_path / "bids"
    result = export_bids(session_dir, root)
    assert (result.subject, result.session, result.task) == ("P007", "20261202010203", "motorimagery")
    assert result.bad_channels == ["C4"]
    bids_path = result.bids_paths[0]
    assert bids_path.fpath.suffix == ".vhdr"
    raw = mne_bids.read_raw_bids(bids_path, verbose="error")
    source = read_recording(session_dir / "calibration.xdf")
    assert raw.n_times == source.n_times and raw.info["sfreq"] == source.sfreq
    assert np.allclose(raw.get_data(picks=["Cz"])[0], source.data[source.ch_names.index("Cz")], atol=1e-9)
    assert raw.info["bads"] == ["C4"]
    assert raw.get_channel_types(picks=["EOG1"]) == ["eog"] and raw.get_channel_types(picks=["Cz"]) == ["eeg"]
    # events.tsv: trial types by name, cues as classes, no decoder decisions
    events = _tsv(bids_path.copy().update(suffix="events", extension=".tsv").fpath)
    kinds = {e["trial_type"] for e in events}
    assert kinds == {"trial_start", "left_hand", "right_hand", "end_of_trial"}
    cues = [m for m in source.markers if m.value in ("769", "770")]
    got = [e for e in events if e["trial_type"] in ("left_hand", "right_hand")]
    assert len(got) == len(cues) == 15
    assert np.allclose([float(e["onset"]) for e in got], [m.timestamp - source.timestamps[0] for m in cues],
                       atol=1 / source.sfreq)
    # channels.tsv: types and the repaired channel's status
    channels = {c["name"]: c for c in _tsv(bids_path.copy().update(suffix="channels", extension=".tsv").fpath)}
    assert channels["EOG1"]["type"] == "EOG" and channels["Cz"]["type"] == "EEG"
    assert channels["C4"]["status"] == "bad" and "repaired" in channels["C4"]["status_description"]
    assert channels["Cz"]["status"] == "good"
    sidecar = json.loads(bids_path.copy().update(suffix="eeg", extension=".json").fpath.read_text())
    assert sidecar["Manufacturer"] == "n/a" and sidecar["EOGChannelCount"] == 1
    participants = _tsv(root / "participants.tsv")
    assert [p["participant_id"] for p in participants] == ["sub-P007"]
    assert json.loads((root / "dataset_description.json").read_text())["BIDSVersion"]


def test_one_recording_outside_a_session_needs_a_subject(eegmmidb_dir, tmp_path):
    edf = eegmmidb_dir / "S001" / "S001R04.edf"
    with pytest.raises(RecordingError, match="give --subject"):
        export_bids(edf, tmp_path / "bids")
    result = export_bids(edf, tmp_path / "bids", subject="S001", task="imagery", events={"T1": "left_hand", "T2": "right_hand"})
    raw = mne_bids.read_raw_bids(result.bids_paths[0], verbose="error")
    assert result.session is None and raw.info["bads"] == []
    assert sorted(set(raw.annotations.description)) == ["T0", "left_hand", "right_hand"]


def test_cli_export_bids(session_dir, tmp_path, capsys):
    from bci_app.cli import main

    rc = main(["export-bids", str(session_dir), "--bids-root", str(tmp_path / "b"), "--subject", "07", "--session", "1",
               "--task", "calib", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["subject"] == "07" and out["session"] == "1" and out["bad_channels"] == ["C4"]
    assert (tmp_path / "b" / "sub-07" / "ses-1" / "eeg" / "sub-07_ses-1_task-calib_eeg.vhdr").is_file()
    assert main(["export-bids", str(tmp_path / "nothing"), "--bids-root", str(tmp_path / "c")]) != 0
    assert "nothing does not exist; give a session folder or a recording file" in capsys.readouterr().err
