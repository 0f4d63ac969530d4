"""The guided flow says what to do next and why a step is not yet possible."""

from __future__ import annotations

from dataclasses import replace

from bci_app.workflow import STEPS, SessionFacts, busy, current_step, duration_text, guide


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
    f = replace(f, bad_channels=(), calibrating=True, calibration_trials=6, calibration_trial=7, calibration_total=40)
    assert current_step(f).name == "calibration" and "trial 7 of 40" in current_step(f).text
    f = replace(f, calibration_trials=40)  # the last trial's end has passed, the paradigm not yet ended
    assert current_step(f).name == "calibration"
    f = replace(f, calibrating=False, calibration_trial=0, calibration_finished=True, training=True)
    assert current_step(f).name == "training"
    f = replace(f, training=False, model=True, model_source="calibrated")
    assert current_step(f).name == "report"
    f = replace(f, report=True, saved=True)
    assert current_step(f).name == "report" and "open the Report tab" in current_step(f).text  # not yet seen
    f = replace(f, report_seen=True)
    assert current_step(f).name == "online" and "Start online feedback" in current_step(f).text
    f = replace(f, online=True)
    assert current_step(f).name == "online" and busy(f) == "online"
    f = replace(f, online=False, online_runs=1)
    assert current_step(f) is None and set(_status(f).values()) == {"done"} and busy(f) is None
    f = replace(f, online=True)  # a second run: the online step is running, not done
    assert _status(f)["online"] == "current"


def test_continuing_with_an_earlier_adapter_skips_calibration_training_and_report() -> None:
    f = SessionFacts(participant="P007", connected=True, model=True, model_source="loaded", saved=False)
    status = _status(f)
    assert [status[s] for s in STEPS] == ["done", "done", "skipped", "skipped", "skipped", "current", "waiting"]
    texts = {s.name: s.text for s in guide(f)}
    assert "earlier session" in texts["calibration"] and "Not written" in texts["report"]


def test_a_demo_without_participant_never_asks_for_the_id_once_it_runs() -> None:
    f = SessionFacts(connected=True, calibrating=True, calibration_trial=1, calibration_total=20, calibration_s=57)
    steps = {s.name: s for s in guide(f)}
    assert steps["participant"].status == "skipped" and "participant's ID" not in steps["participant"].text
    assert current_step(f).name == "calibration"
    assert steps["save"].status == "skipped"


def test_the_time_estimate_follows_the_paradigm() -> None:
    from bci_app.config import ParadigmConfig
    from bci_app.paradigm.timing import planned_duration_s

    short = ParadigmConfig(trials_per_class=5, cue_at_s=0.5, imagery_end_s=4.5, rest_min_s=0.5, rest_max_s=1.0,
                           break_s=0)
    seconds = planned_duration_s(short)
    assert 10 * 5.0 <= seconds <= 10 * 5.5
    f = SessionFacts(participant="P1", connected=True, calibration_s=seconds)
    assert f"about {round(seconds)} s" in current_step(f).text and "5 minutes" not in current_step(f).text
    long = planned_duration_s(ParadigmConfig())  # 40 trials of 6 s + rests + a break
    assert duration_text(long) == f"about {round(long / 60)} minutes"


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
