"""``bci-app evaluate`` on a real shared subject: calibrate on run 4, decode runs 8 + 12 through the
online decoder; above chance, and at chance with the calibration labels shuffled (gate off; with the
gate on, the base is kept); same seed → same JSON. Uses a shipped fold base that never saw the subject."""

from __future__ import annotations

import json

import pytest
from shared_data import cue_count

from bci_app.cli import main
from bci_app.config import AppConfig

SUBJECT = "S002"  # its sensorimotor16 fold base never saw it


def _fold_base() -> str:
    from bci_app.errors import ModelError
    from bci_app.models.pretrained import fold_base_for

    try:
        return fold_base_for(SUBJECT, "sensorimotor16")
    except ModelError as exc:
        pytest.skip(f"no shipped fold base excludes {SUBJECT} yet: {exc}")


def _evaluate(eegmmidb_dir, tmp_path, name: str, *extra: str) -> dict:
    d = eegmmidb_dir / SUBJECT
    out = tmp_path / f"{name}.json"
    assert main(["evaluate", "--calib", str(d / f"{SUBJECT}R04.edf"),
                 "--test", str(d / f"{SUBJECT}R08.edf"), str(d / f"{SUBJECT}R12.edf"),
                 "--base", _fold_base(), "--json", str(out), *extra]) == 0
    return json.loads(out.read_text())


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_evaluate_real_subject_above_chance_and_shuffled_at_chance(eegmmidb_dir, tmp_path):
    report = _evaluate(eegmmidb_dir, tmp_path, "real")
    for key in ("accuracy", "kappa", "n_calib_trials", "n_test_trials", "finetune_seconds", "trainable_params",
                "total_params", "target_modules", "latency_ms", "per_class_recall", "trials"):
        assert key in report
    d = eegmmidb_dir / SUBJECT
    assert report["n_test_trials"] == cue_count(d / f"{SUBJECT}R08.edf") + cue_count(d / f"{SUBJECT}R12.edf")
    assert report["n_undecided"] == 0
    prep = report["preparation"]  # every cue of the calibration file is a trial, or a counted rejection
    assert prep["n_cues"] == cue_count(d / f"{SUBJECT}R04.edf") and report["n_calib_trials"] == prep["n_trials"] <= prep["n_cues"]
    assert 0 < report["trainable_params"] < report["total_params"]
    assert report["accuracy"] > 0.6

    again = _evaluate(eegmmidb_dir, tmp_path, "again")
    assert again["trials"] == report["trials"]  # same seed, same decisions

    # Shuffled calibration labels must not keep the accuracy: the pipeline cannot peek at test labels.
    # Without the gate the adapter learns the shuffled labels (with a strong base it can also fall
    # *below* chance; what it must never do is stay near the real figure) ...
    no_gate = tmp_path / "no-gate.yaml"
    no_gate.write_text("finetune:\n  gate: false\n", encoding="utf-8")
    shuffled = [_evaluate(eegmmidb_dir, tmp_path, f"shuffled{s}", "--shuffle-labels", str(s), "--config",
                          str(no_gate))["accuracy"] for s in (1, 2, 3)]
    assert sum(shuffled) / 3 < 0.6
    assert sum(shuffled) / 3 < report["accuracy"] - 0.2
    # ... and with the gate (the default) the adapter of shuffled labels does not cross-validate
    # better than the base, so the base is kept
    gated = _evaluate(eegmmidb_dir, tmp_path, "shuffled-gated", "--shuffle-labels", "1")
    assert gated["chosen"] == "base" and gated["gate"]["cv_accuracy_adapted"] <= gated["gate"]["cv_accuracy_base"]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_evaluate_four_classes_on_runs_4_6_then_8_10(eegmmidb_dir, tmp_path):
    """Four classes (left hand, right hand, both hands, feet): calibrate on runs 4 + 6, decode 8 + 10
    online with the 4-class fold base that never saw S001."""
    from bci_app.errors import ModelError
    from bci_app.models.pretrained import fold_base_for

    try:
        base = fold_base_for("S001", "sensorimotor16_4class")
    except ModelError as exc:
        pytest.skip(f"no 4-class fold base excludes S001: {exc}")
    d = eegmmidb_dir / "S001"
    out = tmp_path / "four.json"
    assert main(["evaluate", "--calib", str(d / "S001R04.edf"), str(d / "S001R06.edf"),
                 "--test", str(d / "S001R08.edf"), str(d / "S001R10.edf"), "--base", base, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    prep = report["preparation"]
    assert prep["n_cues"] == cue_count(d / "S001R04.edf") + cue_count(d / "S001R06.edf")
    assert report["n_calib_trials"] == prep["n_trials"] <= prep["n_cues"]
    assert report["n_calib_trials"] >= 4 * AppConfig().finetune.min_trials_per_class
    assert report["n_test_trials"] == cue_count(d / "S001R08.edf") + cue_count(d / "S001R10.edf")
    assert sorted(report["per_class_recall"]) == ["both_hands", "feet", "left_hand", "right_hand"]
    assert report["chosen"] in ("adapted", "base") and report["gate"]["folds"] >= 2


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_several_test_files_are_scored_as_each_alone(eegmmidb_dir):
    """Each test file is decoded on its own clock span: no decision of one file may fall into a trial
    of another (the scoring rule matches decisions to trials by time)."""
    from bci_app.commands.evaluate import calibrate, evaluate_outcome

    d = eegmmidb_dir / SUBJECT
    config = AppConfig()
    config.lora.enabled = False
    outcome = calibrate([d / f"{SUBJECT}R04.edf"], config, _fold_base())
    both = evaluate_outcome(outcome, [d / f"{SUBJECT}R08.edf", d / f"{SUBJECT}R12.edf"], config)
    alone = [evaluate_outcome(outcome, [d / f"{SUBJECT}R{r}.edf"], config) for r in ("08", "12")]
    assert [t["predicted"] for t in both["trials"]] == [t["predicted"] for a in alone for t in a["trials"]]
    assert [t["n_decisions"] for t in both["trials"]] == [t["n_decisions"] for a in alone for t in a["trials"]]
    n = [a["n_test_trials"] for a in alone]
    assert both["n_test_trials"] == sum(n)
    assert both["accuracy"] == pytest.approx((alone[0]["accuracy"] * n[0] + alone[1]["accuracy"] * n[1]) / sum(n))
