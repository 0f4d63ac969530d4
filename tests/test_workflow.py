"""The guided flow says what to do next and why a step is not yet possible."""

from __future__ import annotations

from dataclasses import replace

from bci_app.workflow import STEPS, SessionFacts, current_step, guide


def _status(facts: SessionFacts) -> dict[str, str]:
    return {s.name: s.status for s in guide(facts)}


def test_a_session_walks_the_steps_in_order() -> None:
    f = SessionFacts()
    assert current_step(f).name == "participant" and "participant's ID" in current_step(f).text
    f = replace(f, participant="P007", folder="data/P007/2026-11-29_2300")
    assert current_step(f).name == "headset" and "Connect the headset" in current_step(f).text
    assert "Needs a connected headset" in {s.name: s.text for s in guide(f)}["calibration"]
    f = replace(f, connected=True, bad_channels=("C3", "Cz"))
    assert current_step(f).name == "headset" and "C3, Cz" in current_step(f).text
    f = replace(f, bad_channels=(), calibrating=True, calibration_trials=7, calibration_total=40)
    assert current_step(f).name == "calibration" and "trial 7 of 40" in current_step(f).text
    f = replace(f, calibrating=False, calibration_trials=40, training=True)
    assert current_step(f).name == "training"
    f = replace(f, training=False, model=True, model_source="calibrated")
    assert current_step(f).name == "report"
    f = replace(f, report=True, saved=True)
    assert current_step(f).name == "online" and "Start online feedback" in current_step(f).text
    f = replace(f, online_runs=1)
    assert current_step(f) is None and set(_status(f).values()) == {"done"}


def test_continuing_with_an_earlier_adapter_skips_calibration_and_training() -> None:
    f = SessionFacts(participant="P007", connected=True, model=True, model_source="loaded", saved=True)
    status = _status(f)
    assert [status[s] for s in STEPS] == ["done"] * 5 + ["current", "done"]
    assert "earlier session" in {s.name: s.text for s in guide(f)}["calibration"]


def test_a_failed_training_says_what_to_do() -> None:
    f = SessionFacts(participant="P1", connected=True, calibration_trials=40, calibration_total=40,
                     training_error="no clean trials.")
    step = current_step(f)
    assert step.name == "training" and "Retrain, or calibrate again" in step.text


def test_flagged_channels_warn_but_do_not_hold_a_running_session() -> None:
    f = SessionFacts(participant="P1", connected=True, bad_channels=("T7",), calibrating=True,
                     calibration_trials=1, calibration_total=40)
    steps = {s.name: s for s in guide(f)}
    assert steps["headset"].status == "done" and "T7" in steps["headset"].text
    assert current_step(f).name == "calibration"
