from pathlib import Path

import numpy as np
import pytest
from shared_data import missing_data

from bci_app.clocks import ManualClock
from bci_app.config import ParadigmConfig, PreprocessingConfig
from bci_app.errors import CalibrationError, ConfigError
from bci_app.io.dataset_presets import load_dataset_preset
from bci_app.io.recording import read_recording
from bci_app.paradigm.timing import GrazParadigm
from bci_app.signal.preprocess import (
    PreprocessingSpec,
    StreamingPreprocessor,
    finalize_window,
    finalize_windows,
    fit_euclidean_alignment,
)
from bci_app.types import Marker, Recording
from bci_app.vocabulary import SENSORIMOTOR_16
from calibration.epochs import Epochs, epochs_for_model, extract_epochs

# per-file counts from ../shared/data/README.md: (T1, T2)
README_COUNTS = {"S001R04": (8, 7), "S001R06": (7, 8), "S042R04": (7, 8), "S002R04": (7, 8)}


def _annotations(path):
    import mne

    raw = mne.io.read_raw_edf(path, preload=False, verbose="error")
    return [(float(o), str(d)) for o, d in zip(raw.annotations.onset, raw.annotations.description)]


def test_presets_load():
    p = load_dataset_preset("eegmmidb")
    assert p.labels_for(Path("S001R04.edf")) == {"T1": "left_hand", "T2": "right_hand"}
    assert p.labels_for(Path("S001R10.edf")) == {"T1": "both_hands", "T2": "feet"}
    with pytest.raises(CalibrationError, match="run 3"):
        p.labels_for(Path("S001R03.edf"))
    g = load_dataset_preset("gdf")
    assert g.labels_for(None)["769"] == "left_hand" and g.rejected == "1023"
    with pytest.raises(ConfigError, match="not found"):
        load_dataset_preset("nope")


@pytest.mark.parametrize("stem", sorted(README_COUNTS))
def test_epochs_match_annotations(eegmmidb_dir, stem):
    path = eegmmidb_dir / stem[:4] / f"{stem}.edf"
    if not path.is_file():
        missing_data(f"{path} absent")
    rec = read_recording(path)
    ep = extract_epochs(rec, "eegmmidb", 0.0, 4.0)
    ann = [(o, d) for o, d in _annotations(path) if d in ("T1", "T2")]
    assert ep.n_trials == 15 == len(ann)
    np.testing.assert_allclose(ep.onsets, [o for o, _ in ann])
    run = int(stem[-2:])
    names = ("left_hand", "right_hand") if run in (4, 8, 12) else ("both_hands", "feet")
    assert ep.classes == names
    assert [ep.classes[i] for i in ep.labels] == [names[0] if d == "T1" else names[1] for _, d in ann]
    t1, t2 = README_COUNTS[stem]
    assert (int((ep.labels == 0).sum()), int((ep.labels == 1).sum())) == (t1, t2)
    assert ep.data.shape == (15, 64, 640) and ep.data.dtype == np.float64 and ep.sfreq == 160.0
    # the first sample of each epoch is the sample at the annotation onset
    for k, (onset, _) in enumerate(ann):
        np.testing.assert_array_equal(ep.data[k, :, 0], rec.data[:, int(round(onset * 160))])
    counts = ep.counts()
    assert counts[names[0]]["total"] == t1


def test_epochs_channel_subset_and_class_filter(eegmmidb_dir):
    rec = read_recording(eegmmidb_dir / "S001" / "S001R04.edf")
    ep = extract_epochs(rec, "eegmmidb", -0.5, 4.0, classes=["right_hand"], ch_names=["C4", "Cz", "C3"])
    assert ep.classes == ("right_hand",) and ep.n_trials == 7 and (ep.labels == 0).all()
    assert ep.ch_names == ("C4", "Cz", "C3") and ep.data.shape == (7, 3, 720)
    with pytest.raises(CalibrationError, match="feet"):
        extract_epochs(rec, "eegmmidb", 0.0, 4.0, classes=["left_hand", "feet"])


def test_epochs_for_model_equal_online_path(eegmmidb_dir):
    rec = read_recording(eegmmidb_dir / "S001" / "S001R04.edf")
    spec = PreprocessingSpec(ch_names=SENSORIMOTOR_16, sfreq=160.0)
    ep = epochs_for_model(rec, spec, ["left_hand", "right_hand"], 0.5, 3.5, "eegmmidb")
    assert ep.data.shape == (15, 16, 480) and ep.data.dtype == np.float32
    spec_ea = spec.with_alignment(fit_euclidean_alignment(ep.clean().data))
    ep_ea = epochs_for_model(rec, spec_ea, ["left_hand", "right_hand"], 0.5, 3.5, "eegmmidb")
    # online path for trial 6: push in irregular chunks up to the window's last sample
    k = 6
    start = int(round((ep.onsets[k] + 0.5) * 160))
    end = start + 480
    pre = StreamingPreprocessor(spec_ea, rec.sfreq, rec.ch_names, capacity_s=5.0)
    rng = np.random.default_rng(0)
    pos = 0
    while pos < end:
        n = min(int(rng.integers(3, 17)), end - pos)
        pre.push(rec.data[:, pos:pos + n], rec.timestamps[pos:pos + n])
        pos += n
    window, last_ts = pre.latest_window(480)
    assert last_ts == rec.timestamps[end - 1]
    np.testing.assert_array_equal(finalize_window(window, spec_ea), ep_ea.data[k])
    np.testing.assert_array_equal(finalize_windows(window[None], spec)[0], ep.data[k])


def test_gdf_preset_on_paradigm_markers_with_rejection():
    """Markers produced by the real paradigm (incl. mark_rejected) → epochs with the gdf preset."""
    cfg = ParadigmConfig(trials_per_class=3, trials_per_run=6, seed=2)
    clock = ManualClock(1000.0)
    p = GrazParadigm(cfg, clock)
    events = []
    p.subscribe(events.append)
    p.start()
    while not p.finished:
        clock.advance(0.05)
        p.update()
    p.mark_rejected(2)
    markers = tuple(Marker(e.timestamp, str(e.code)) for e in events if e.code is not None)
    sfreq = 250.0
    ts = np.arange(999.0 * sfreq, clock.now * sfreq + 10) / sfreq
    rng = np.random.default_rng(0)
    data = rng.standard_normal((3, ts.size)) * 10e-6
    rec = Recording(Path("session.xdf"), data, ts, sfreq, ("C3", "Cz", "C4"), ("eeg",) * 3, ("V",) * 3, markers)
    ep = extract_epochs(rec, "gdf", 0.0, 4.0, classes=["left_hand", "right_hand"])
    assert ep.n_trials == 6
    assert [ep.classes[i] for i in ep.labels] == p.order
    cue_times = [e.timestamp for e in events if e.code in (769, 770)]
    np.testing.assert_allclose(ep.onsets, cue_times)
    assert ep.rejected.tolist() == [k == 2 for k in range(6)]
    assert "1023" in ep.reasons[2]
    assert ep.counts()[p.order[2]]["rejected"] == 1
    assert ep.clean().n_trials == 5


def test_one_trial_type_across_recordings_keeps_classes_rejections_and_sources():
    """Epochs of two recordings put together for some classes (what calibration's preparation and the
    ERD maps do): labels index the asked classes, rejections and reasons follow their trials, and
    each trial knows its recording."""
    def part(labels, classes, rejected, onsets):
        n = len(labels)
        return Epochs(np.arange(n * 2 * 4, dtype=np.float64).reshape(n, 2, 4), np.asarray(labels), classes,
                      np.asarray(onsets, float), ("C3", "C4"), 100.0, np.asarray(rejected), tuple(
                          "amplitude" if r else None for r in rejected), tmin=-0.5)

    a = part([0, 1, 2], ("left_hand", "right_hand", "feet"), [False, True, False], [1.0, 2.0, 3.0])
    b = part([1, 0], ("feet", "right_hand"), [True, False], [5.0, 6.0])
    both = Epochs.concatenate([a.of_classes(["right_hand", "feet"]), b.of_classes(["right_hand", "feet"])])
    assert both.classes == ("right_hand", "feet")
    assert both.labels.tolist() == [0, 1, 0, 1] and both.source.tolist() == [0, 0, 1, 1]
    assert both.onsets.tolist() == [2.0, 3.0, 5.0, 6.0] and both.rejected.tolist() == [True, False, True, False]
    assert both.reasons == ("amplitude", None, "amplitude", None)
    np.testing.assert_array_equal(both.data[1], a.data[2])
    assert both.tmin == -0.5 and both.tmax == pytest.approx(-0.46)
    clean = both.clean()
    assert clean.source.tolist() == [0, 1] and clean.n_trials == 2
    with pytest.raises(CalibrationError, match="cannot be put together"):
        Epochs.concatenate([a, b])  # other classes
    with pytest.raises(CalibrationError, match="no epochs"):
        Epochs.concatenate([])


def test_artifacts_rejected_in_epochs(eegmmidb_dir):
    rec = read_recording(eegmmidb_dir / "S001" / "S001R04.edf")
    data = rec.data.copy()
    cue = next(m for m in rec.markers if m.value == "T1")
    i = int(round(cue.timestamp * 160))
    t = np.arange(80) / 160.0
    data[10, i + 50:i + 130] += 500e-6 * np.sin(2 * np.pi * 20 * t)  # 0.5 s, 500 µV burst on Cz
    bad = Recording(rec.path, data, rec.timestamps, rec.sfreq, rec.ch_names, rec.ch_types, rec.units, rec.markers)
    ep = extract_epochs(bad, "eegmmidb", 0.0, 4.0, config=PreprocessingConfig(reject_amplitude_uv=300))
    first = int(np.argmin(np.abs(ep.onsets - cue.timestamp)))
    assert ep.rejected[first] and ep.reasons[first].startswith("amplitude (Cz..: ")  # named as in the file
