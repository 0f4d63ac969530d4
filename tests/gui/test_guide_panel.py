"""The guide's line follows the session: what runs now is never called done, a replay says so, and
*Continue previous session* says why it is grey."""

from __future__ import annotations

from bci_app.workflow import SessionFacts

DONE = {"participant": "P1", "folder": "data/P1/x", "connected": True, "calibration_trials": 20,
        "calibration_total": 20, "calibration_finished": True, "model": True, "model_source": "calibrated",
        "report": True, "report_seen": True, "online_runs": 1, "saved": True}


def test_the_guide_line_says_what_runs(qtbot):
    from bci_app.gui.guide_view import GuidePanel

    g = GuidePanel()
    qtbot.addWidget(g)
    g.render(SessionFacts(**DONE))
    assert g.next_label.text().startswith("Every step is done")
    g.render(SessionFacts(**{**DONE, "online": True}))
    assert g.next_label.text().startswith("Next — Online feedback: Running")
    g.render(SessionFacts(**{**DONE, "training": True}))  # co-adaptation retrains while the rest is done
    assert g.next_label.text().startswith("Next — Training: Adapting")
    g.render(SessionFacts(**{**DONE, "connected": False, "replaying": True}))
    assert g.next_label.text().startswith("Replaying a recording")
    g.render(SessionFacts(connected=True, calibrating=True, calibration_trial=3, calibration_total=20))
    assert "participant's ID" not in g.next_label.text() and "trial 3 of 20" in g.next_label.text()
    assert g.step_labels["participant"].text().startswith("–")  # skipped, not ticked and not asked for


def test_continue_previous_says_why_it_is_grey(qtbot):
    from bci_app.gui.guide_view import GuidePanel

    g = GuidePanel()
    qtbot.addWidget(g)
    g.render(SessionFacts(), can_continue=False, continue_reason="Continue needs the participant's ID.")
    assert not g.continue_button.isEnabled() and g.continue_note.text() == "Continue needs the participant's ID."
    assert "Continue needs the participant's ID." in g.continue_button.toolTip()
    g.render(SessionFacts(participant="P1", connected=True), can_continue=True, continue_reason="")
    assert g.continue_button.isEnabled() and g.continue_note.text() == ""
