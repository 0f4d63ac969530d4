"""The calibration report on a real EEGMMIDB calibration: the file, its numbers, its maps, and the
formulas (Wolpaw ITR, Cohen's kappa) against values worked out by hand."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bci_app.config import AppConfig
from bci_app.models.pretrained import fold_base_for
from bci_app.online.scoring import cohen_kappa, confusion_matrix, wolpaw_itr
from bci_app.report import build_calibration_report, classify, write_calibration_report
from calibration.job import CalibrationJob

# ------------------------------------------------------------------------------ formulas by hand


def test_wolpaw_itr_known_values():
    # N = 2, P = 0.75: 1 + 0.75 log2 0.75 + 0.25 log2 0.25 = 1 - 0.31128 - 0.5
    assert wolpaw_itr(0.75, 2) == pytest.approx(0.1887, abs=1e-4)
    # N = 4, P = 0.7: 2 + 0.7 log2 0.7 + 0.3 log2 (0.3 / 3)
    assert wolpaw_itr(0.7, 4) == pytest.approx(2 + 0.7 * math.log2(0.7) + 0.3 * math.log2(0.1), abs=1e-12)
    assert wolpaw_itr(1.0, 4) == 2.0 and wolpaw_itr(0.5, 2) == 0.0 and wolpaw_itr(0.2, 4) == 0.0
    with pytest.raises(ValueError, match="at least 2 classes"):
        wolpaw_itr(0.9, 1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        wolpaw_itr(1.2, 2)


def test_cohen_kappa_on_a_known_matrix():
    # po = 35/50 = 0.7; rows 25, 25; columns 30, 20: pe = (25*30 + 25*20) / 50**2 = 0.5; kappa = 0.2/0.5
    assert cohen_kappa(np.array([[20, 5], [10, 15]])) == pytest.approx(0.4)
    # an undecided trial counts as a disagreement: true a,a,b,b; decided a,-,b,a -> po 0.5, pe 6/16
    cm = confusion_matrix(["a", "a", "b", "b"], ["a", None, "b", "a"], ["a", "b"])
    assert cm.tolist() == [[1, 0, 1], [1, 1, 0]]
    assert cohen_kappa(cm) == pytest.approx((0.5 - 6 / 16) / (1 - 6 / 16))
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 3, 60), rng.integers(0, 3, 60)
    assert cohen_kappa(confusion_matrix(t, p, ["x", "y", "z"])) == pytest.approx(cohen_kappa_score(t, p))
    with pytest.raises(ValueError, match="not one of the classes"):
        confusion_matrix(["a"], ["c"], ["a", "b"])


def test_classification_per_class_accuracy_and_bits_per_minute():
    r = classify(["l"] * 4 + ["r"] * 4, ["l", "l", "l", "r", "r", "r", "r", None], ["l", "r"], trial_seconds=8.0)
    assert r.accuracy == 0.75 and r.per_class_accuracy == {"l": 0.75, "r": 0.75}
    assert r.itr_bits_per_min == pytest.approx(wolpaw_itr(0.75, 2) * 60 / 8.0)


# ------------------------------------------------------------------------------ a real calibration


def _small_config() -> AppConfig:
    config = AppConfig()
    config.finetune = config.finetune.model_copy(update={"max_epochs": 8, "gate_folds": 3, "gate_repeats": 2})
    return config


@pytest.fixture(scope="module")
def s001_outcome(eegmmidb_dir):
    """S001 run 4 (left/right hand imagery) on the sensorimotor16 fold base that never saw S001."""
    path = eegmmidb_dir / "S001" / "S001R04.edf"
    return CalibrationJob([path], _small_config(), base=fold_base_for("S001", "sensorimotor16")).run_to_end()


def test_gate_keeps_its_cross_validated_decisions(s001_outcome):
    gate = s001_outcome.gate
    y = gate.labels
    assert gate.predicted_adapted.shape == (2, len(y)) and (gate.predicted_adapted >= 0).all()
    assert (gate.predicted_adapted == np.tile(y, (2, 1))).mean() == pytest.approx(gate.cv_accuracy_adapted)
    assert (gate.predicted_base == y).mean() == pytest.approx(gate.cv_accuracy_base)


def test_report_file_is_self_contained_with_the_numbers(s001_outcome, tmp_path):
    config = _small_config()
    path = tmp_path / "calibration.html"
    report = write_calibration_report(s001_outcome, path, preprocessing=config.preprocessing)
    text = path.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["calibration.html"]  # the temporary file is gone
    # self-contained: no script, no style sheet or image from elsewhere, no link out
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text, re.IGNORECASE)
    assert "<script" not in text and "<link" not in text
    assert text.count('src="data:image/png;base64,') == len(report.figures) >= 4

    gate = s001_outcome.gate
    classes = list(s001_outcome.data.classes)
    base = report.decoding["unadapted base"]
    expected = confusion_matrix(gate.labels, gate.predicted_base, classes)
    assert base.confusion.tolist() == expected.tolist()
    adapter = report.decoding["adapter"]
    # one row per model counts the same trials; the adapter says it decided each one once per repeat
    assert adapter.n_trials == base.n_trials == len(gate.labels) and adapter.repeats == gate.repeats == 2
    assert adapter.n_decisions == 2 * len(gate.labels) and adapter.accuracy == pytest.approx(gate.cv_accuracy_adapted)
    assert f"{adapter.n_decisions} (2 per trial)" in text and report.installed in ("adapter", "unadapted base")
    cells = [int(c) for c in re.findall(r'<td class="num">(\d+)</td>', text)]
    for r in (base, adapter):
        row_cells = r.confusion[:, : len(classes)].ravel().tolist()
        assert any(cells[i:i + len(row_cells)] == row_cells for i in range(len(cells)))
        assert f"{r.kappa:.3f}" in text and f"{r.itr_bits_per_trial:.3f}" in text
        assert r.kappa == pytest.approx(cohen_kappa(r.confusion))
        assert r.itr_bits_per_trial == pytest.approx(wolpaw_itr(r.accuracy, 2))
    # EEGMMIDB: a cue every 4.1 s task + 4.1 s rest (the recording's own timing)
    assert report.trial_seconds == pytest.approx(8.2, abs=0.3)
    assert f"{base.itr_bits_per_min:.2f}" in text

    tf = report.erd.tf
    assert tf.channels == ("C3", "Cz", "C4")
    for cls in classes:
        assert tf.power[cls].shape == (3, len(tf.freqs), len(tf.times)) and np.isfinite(tf.power[cls]).all()
        assert min(tf.n_trials[cls].values()) >= 3
    w = report.erd.windows
    assert tf.times[0] == pytest.approx(w.baseline[0], abs=0.05) and tf.times[-1] <= w.tmax
    # the baseline period averages to no change
    base_sel = (tf.times >= w.baseline[0]) & (tf.times < w.baseline[1])
    assert abs(float(tf.power[classes[0]][..., base_sel].mean())) < 1e-6
    assert set(report.erd.scalp.values) == {"mu", "beta"} and len(report.erd.scalp.ch_names) == 64
    assert "ERD/ERS maps" in text and "time-frequency maps at C3, Cz, C4" in text


def test_maps_are_drawn_without_qt_or_pyplot_state(eegmmidb_dir):
    """In a fresh interpreter: the ERD maps and figures leave Qt out and open no pyplot figure."""
    code = textwrap.dedent(f"""
        import sys
        from bci_app.io.recording import read_recording
        from bci_app.report.erd import erd_maps
        from bci_app.report.figures import figure_png, scalp_figure, tf_figure
        maps = erd_maps([read_recording({str(eegmmidb_dir / "S001" / "S001R04.edf")!r})], ["left_hand", "right_hand"])
        assert figure_png(tf_figure(maps.tf))[1:4] == b"PNG"
        assert figure_png(scalp_figure(maps.scalp))[1:4] == b"PNG"
        import matplotlib.pyplot as plt
        leaked = [m for m in ("PySide6", "pyqtgraph", "superqt") if m in sys.modules]
        print("LEAKED", leaked, "PYPLOT FIGURES", plt.get_fignums())
        sys.exit(1 if leaked or plt.get_fignums() else 0)
    """)
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(root)})
    assert result.returncode == 0, result.stdout + result.stderr


def test_online_runs_add_their_confusion_matrix(s001_outcome, tmp_path):
    report = build_calibration_report(s001_outcome)
    true = ["left_hand"] * 5 + ["right_hand"] * 5
    decided = ["left_hand"] * 4 + ["right_hand"] + ["right_hand"] * 3 + ["left_hand", None]
    run = report.add_online_run(true, decided, title="Online run 1 (cued)")
    scored = report.add_scored_run({"trials": [{"true": t, "predicted": p} for t, p in zip(true, decided)]})
    assert scored.confusion.tolist() == run.confusion.tolist() and "Online run 2" in [s.title for s in report.sections]
    assert run.confusion.tolist() == [[4, 1, 0], [1, 3, 1]] and run.accuracy == 0.7
    path = report.save(tmp_path / "r.html")
    text = path.read_text(encoding="utf-8")
    assert "Online run 1 (cued)" in text and "decided undecided" in text
    assert f"{run.kappa:.3f}" in text and "Online run 1 (cued): confusion matrix" in report.figures


def test_a_headset_without_cz_gets_maps_at_c3_c4_and_a_note(eegmmidb_dir, tmp_path):
    """An 8-channel layout without Cz (lora off: the base with alignment, fast)."""
    config = _small_config()
    config.lora.enabled = False
    eight = ["FC3", "FC4", "C5", "C3", "C4", "C6", "CP3", "CP4"]
    outcome = CalibrationJob([eegmmidb_dir / "S001" / "S001R04.edf"], config, channels=eight).run_to_end()
    report = write_calibration_report(outcome, tmp_path / "r.html")
    assert report.erd.tf.channels == ("C3", "C4")
    assert any("Cz not on this headset" in n for n in report.erd.notes)
    assert report.erd.scalp.ch_names == tuple(eight)
    text = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Cz not on this headset: no time-frequency map there" in text
    # no gate with LoRA off: the base's decisions, which never trained on these trials
    assert list(report.decoding) == ["unadapted base"] and "LoRA disabled" in text


def test_calibrate_command_writes_the_report(eegmmidb_dir, tmp_path, capsys):
    from bci_app.cli import main

    cfg = tmp_path / "small.yaml"
    cfg.write_text("lora: {enabled: false}\n", encoding="utf-8")
    args = ["calibrate", "--calib", str(eegmmidb_dir / "S001" / "S001R04.edf"), "--out", str(tmp_path / "a"),
            "--config", str(cfg), "--base", fold_base_for("S001", "sensorimotor16")]
    assert main(args + ["--report", str(tmp_path / "r.html")]) == 0
    assert "report written" in capsys.readouterr().out
    assert "Decoding accuracy on the calibration trials" in (tmp_path / "r.html").read_text(encoding="utf-8")
    # a report folder that does not exist is refused before the calibration runs
    args[args.index("--out") + 1] = str(tmp_path / "b")
    assert main(args + ["--report", str(tmp_path / "missing" / "r.html")]) == 2  # bad input
    err = capsys.readouterr().err
    assert "--report" in err and "does not exist" in err and not (tmp_path / "missing").exists()


# ------------------------------------------------------------------------------ the maps are right


def _simulated_calibration(trials_per_class: int = 10):
    """A recording of the simulated headset (right hand: ERD over C3, left hand: over C4) with GDF cues
    every 7 s and 4 s of imagery, driven by a manual clock."""
    from bci_app.acquisition.simulated import StreamSimulated
    from bci_app.clocks import ManualClock
    from bci_app.io.recording import Marker, Recording
    from bci_app.vocabulary import SENSORIMOTOR_16

    clock = ManualClock(100.0)
    sim = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, clock=clock, bufsize=250.0, subject_seed=1,
                          blinks=False)
    sim.connect()
    labels = np.random.default_rng(0).permutation(["left_hand", "right_hand"] * trials_per_class)
    markers, cue = [], 103.0
    for label in labels:
        sim.imagine(str(label), cue, 4.0)
        markers.append(Marker(cue, "769" if label == "left_hand" else "770"))
        cue += 7.0
    while clock.now < cue + 1.0:
        clock.advance(0.5)
        sim.acquire()
    data, ts = sim.get_data()
    sim.disconnect()
    info = sim.info
    return Recording(Path("simulated.xdf"), data, ts, info.sfreq, tuple(info.ch_names), tuple(info.ch_types),
                     tuple(info.units), tuple(markers))


def test_maps_show_the_erd_opposite_the_imagined_hand():
    from bci_app.report.erd import erd_maps

    maps = erd_maps([_simulated_calibration()], ["left_hand", "right_hand"], preset="gdf")
    tf = maps.tf
    mu = (tf.freqs >= 8) & (tf.freqs <= 13)
    during = (tf.times > 0.5) & (tf.times < 4.0)
    c3, c4 = tf.channels.index("C3"), tf.channels.index("C4")

    def tf_mu(cls: str, ch: int) -> float:
        return float(tf.power[cls][ch][mu][:, during].mean())

    assert tf_mu("right_hand", c3) < -20 and tf_mu("right_hand", c3) < tf_mu("right_hand", c4) - 20
    assert tf_mu("left_hand", c4) < -20 and tf_mu("left_hand", c4) < tf_mu("left_hand", c3) - 20
    scalp = maps.scalp.values["mu"]
    names = list(maps.scalp.ch_names)
    assert scalp["right_hand"][names.index("C3")] < scalp["right_hand"][names.index("C4")] - 20
    assert scalp["left_hand"][names.index("C4")] < scalp["left_hand"][names.index("C3")] - 20
    assert maps.notes == []  # 16 named channels with positions, no artifacts


def test_erd_windows_follow_the_paradigm():
    from bci_app.errors import CalibrationError
    from bci_app.report.erd import ErdWindows

    graz = AppConfig().paradigm  # fixation 2 s, imagery until 6 s after the trial start
    assert ErdWindows.for_paradigm(graz) == ErdWindows((-1.5, -0.5), (0.5, 4.0), 4.5)
    short = graz.model_copy(update={"cue_at_s": 0.5, "imagery_end_s": 4.5})
    assert ErdWindows.for_paradigm(short) == ErdWindows((-0.5, -0.125), (0.5, 4.0), 4.5)
    with pytest.raises(CalibrationError, match="baseline"):
        ErdWindows((-0.5, 0.5), (0.5, 4.0), 4.5)


def test_a_live_calibration_reports_with_its_paradigm(tmp_path):
    """As the session does: an in-memory recording with GDF cues, the paradigm it ran with."""
    config = AppConfig()
    config.lora.enabled = False
    config.paradigm = config.paradigm.model_copy(update={"rest_min_s": 1.0, "rest_max_s": 1.0})  # cue every 7 s
    outcome = CalibrationJob([_simulated_calibration()], config, base="sensorimotor16").run_to_end()
    assert outcome.recordings and outcome.recordings[0].path.name == "simulated.xdf"
    report = write_calibration_report(outcome, tmp_path / "r.html", paradigm=config.paradigm)
    assert report.trial_seconds == 7.0 and report.erd.windows.baseline == (-1.5, -0.5)
    assert report.erd.tf.channels == ("C3", "Cz", "C4")
    assert "bits per minute with a trial of 7.0 s (the paradigm" in (tmp_path / "r.html").read_text(encoding="utf-8")
