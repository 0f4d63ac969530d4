"""The clinician's guided flow, Qt-free: which step a session is at, what to do next, and why a step
is not possible yet.

Steps, in order: participant -> headset and signal check -> calibration -> training -> report ->
online feedback -> save. :func:`guide` reads plain facts about the session (:class:`SessionFacts`)
and returns one :class:`Step` per step with its status (``done``, ``skipped``, ``current``,
``waiting``) and a sentence for the operator; the window draws them and enables the matching controls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bci_app.session import Session

STEPS = ("participant", "headset", "calibration", "training", "report", "online", "save")
TITLES = {
    "participant": "Participant",
    "headset": "Headset and signal",
    "calibration": "Calibration",
    "training": "Training",
    "report": "Report",
    "online": "Online feedback",
    "save": "Saved",
}


@dataclass(frozen=True)
class SessionFacts:
    """What the guide needs to know about a session (all plain values, read on the UI thread).

    ``bad_channels``: channels the signal check flags now; ``calibration_trials``: trials *completed*
    (their end marker passed) of ``calibration_total``; ``calibration_trial``: the trial running now
    (1-based; 0 when none); ``calibration_finished``: the calibration ran to its end (not aborted);
    ``calibration_s``: the configured paradigm's planned length (s, pauses excluded; 0: unknown);
    ``model``: an adapted (or loaded) model is active; ``model_source``: ``"calibrated"`` or
    ``"loaded"`` (continued from an earlier session); ``report``: a calibration report exists;
    ``report_drawing``: it is being drawn (in its own process); ``report_seen``: the operator opened
    it; ``online_runs``: online runs finished; ``saved``: the adapter (and report) are in the session
    folder; ``replaying``: a recording is played through the decoder (Replay tab; no headset is connected meanwhile).
    """

    participant: str | None = None
    connected: bool = False
    bad_channels: tuple[str, ...] = ()
    recording: bool = False
    calibrating: bool = False
    calibration_trials: int = 0
    calibration_total: int = 0
    calibration_trial: int = 0
    calibration_finished: bool = False
    calibration_s: float = 0.0
    training: bool = False
    training_error: str | None = None
    model: bool = False
    model_source: str | None = None
    report: bool = False
    report_drawing: bool = False
    report_seen: bool = False
    online: bool = False
    online_runs: int = 0
    saved: bool = False
    folder: str | None = None
    replaying: bool = False


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    status: str  #: "done" | "skipped" (not needed in this session) | "current" | "waiting"
    text: str


def duration_text(seconds: float) -> str:
    """``"about 57 s"``, ``"about 4 minutes"``: a planned duration in words."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    return f"about {round(seconds / 60)} minutes"


def guide(f: SessionFacts) -> list[Step]:
    """One :class:`Step` per :data:`STEPS`: the first neither done nor skipped is ``current`` and
    says what to do; the later ones say what they wait for. Every sentence follows the facts: a
    session without a participant (the demo) skips the participant and saving; a continued session
    skips calibration, training and the report; a running step is never called done."""
    done: dict[str, bool] = {}
    skipped: dict[str, bool] = dict.fromkeys(STEPS, False)
    text: dict[str, str] = {}
    loaded = f.model and f.model_source == "loaded"
    went_on = f.calibrating or f.calibration_trials > 0 or f.model or f.training or f.online

    done["participant"] = bool(f.participant)
    skipped["participant"] = not f.participant and went_on
    text["participant"] = (f"Participant {f.participant}; files go to {f.folder}." if f.participant and f.folder
                           else f"Participant {f.participant}." if f.participant
                           else "No participant ID: this session's files are not kept by themselves." if went_on
                           else "Enter the participant's ID: the recordings, adapter and report are saved in their folder.")

    done["headset"] = f.connected and (not f.bad_channels or went_on)  # flagged channels do not hold the session
    if not f.connected:
        text["headset"] = "Connect the headset (Source): LSL stream, BrainFlow board, or the simulated headset."
    elif f.bad_channels:
        text["headset"] = (f"Check the electrodes: {', '.join(f.bad_channels[:8])}"
                           f"{' …' if len(f.bad_channels) > 8 else ''} flagged. Fix them, or go on (bad channels "
                           "are repaired from their neighbours at calibration).")
    else:
        text["headset"] = "Signal looks good on every channel."

    calibrated = not f.calibrating and (f.calibration_finished or (f.calibration_total > 0
                                                                   and f.calibration_trials >= f.calibration_total))
    done["calibration"] = calibrated
    skipped["calibration"] = loaded and not f.calibrating and not calibrated
    length = f" ({duration_text(f.calibration_s)})" if f.calibration_s > 0 else ""
    if f.calibrating:
        text["calibration"] = (f"Running: trial {max(f.calibration_trial, f.calibration_trials)} of "
                               f"{f.calibration_total} ({f.calibration_trials} completed). The participant imagines "
                               "the cued movement; the recording runs by itself.")
    elif calibrated:
        text["calibration"] = f"Done: {f.calibration_trials} trials recorded."
    elif skipped["calibration"]:
        text["calibration"] = "Skipped: an adapter from an earlier session of this participant is loaded."
    elif f.calibration_trials and f.calibration_total:
        text["calibration"] = (f"Stopped after {f.calibration_trials} of {f.calibration_total} trials. Start the "
                               f"calibration again{length}.")
    else:
        text["calibration"] = (f"Start the calibration: the participant follows the arrows{length}; the recording "
                               "starts by itself." if f.connected else "Needs a connected headset.")

    done["training"] = f.model and not f.training and not loaded
    skipped["training"] = loaded and not f.training
    if f.training:
        text["training"] = ("Loading the earlier adapter (checked against the base and this headset)."
                            if f.model_source == "loading" else
                            "Adapting the model to this participant (in the background; the signal keeps streaming).")
    elif loaded:
        text["training"] = "Skipped: the loaded adapter decodes."
    elif f.training_error:
        text["training"] = f"Training failed: {f.training_error} Retrain, or calibrate again."
    elif f.model:
        text["training"] = "Done: the model is installed (Training tab: which one and why)."
    else:
        text["training"] = ("Starts by itself when the calibration ends." if not calibrated
                            else "Train the model on the calibration trials.")

    done["report"] = f.report and (f.report_seen or f.online or f.online_runs > 0)
    skipped["report"] = loaded and not f.report
    text["report"] = ("Seen: accuracy, confusion matrix, ERD maps (Report tab)." if done["report"]
                      else "Ready: open the Report tab (accuracy, confusion matrix, ERD maps)." if f.report
                      else "Being drawn in the background: it appears in the Report tab in a few seconds."
                      if f.report_drawing
                      else "Not written: continuing with an earlier adapter (its report is in its own folder)."
                      if skipped["report"] else "Written after training.")

    done["online"] = f.online_runs > 0 and not f.online
    if f.online:
        text["online"] = "Running: the participant controls the feedback. Stop ends the run."
    elif f.online_runs:
        text["online"] = f"{f.online_runs} run(s) done. Run again, retrain, or finish."
    else:
        text["online"] = "Start online feedback." if f.model else "Needs a trained or loaded model."

    done["save"] = f.saved
    skipped["save"] = not f.participant and went_on
    text["save"] = (f"Saved in {f.folder}." if f.saved and f.folder else
                    "Not saved: no participant ID (record from the Session tab to keep the data)." if skipped["save"]
                    else "The adapter and report are saved by themselves after training." if f.participant
                    else "Needs a participant ID to know where to save.")

    steps = []
    current_found = False
    for name in STEPS:
        if done[name]:
            status = "done"
        elif skipped[name]:
            status = "skipped"
        elif not current_found:
            status, current_found = "current", True
        else:
            status = "waiting"
        steps.append(Step(name, TITLES[name], status, text[name]))
    return steps


def busy(f: SessionFacts) -> str | None:
    """What runs now (calibration, training, online feedback), or None: "every step is done" is never
    said while something runs."""
    if f.calibrating:
        return "calibration"
    if f.training:
        return "training"
    if f.online:
        return "online"
    if f.replaying:
        return "replay"
    return None


def current_step(f: SessionFacts) -> Step | None:
    """The step to do now (None when every step is done)."""
    return next((s for s in guide(f) if s.status == "current"), None)


def session_facts(s: Session, *, bad_channels: tuple[str, ...], calibration_s: float, loading: bool,
                  report_seen: bool) -> SessionFacts:
    """The guide's facts read from a :class:`~bci_app.session.Session` ``s`` (cheap reads only: every
    frame). ``bad_channels``: those the signal view flags; ``calibration_s``: the paradigm's planned
    length; ``loading``: the training thread is loading an earlier adapter; ``report_seen``: the
    operator has opened the report."""
    mode = s.mode.value
    paradigm = s.paradigm
    state = paradigm.state if paradigm is not None else None
    total = state.n_trials if state is not None else 0
    completed = sum(state.completed_per_class.values()) if state is not None else 0
    running = state.trial_index + 1 if state is not None and state.trial_index is not None else 0
    failed = next((e.message for e in reversed(s.errors) if e.source == "training"), None) \
        if s.model is None and not s.training else None
    saved = s.saved
    return SessionFacts(
        participant=s.folder.participant if s.folder is not None else None,
        folder=str(s.folder.path) if s.folder is not None else None,
        connected=s.stream is not None and mode != "replay", bad_channels=bad_channels,
        recording=s.recorder is not None, replaying=mode == "replay",
        calibrating=mode == "calibrating", calibration_trials=completed, calibration_total=total,
        calibration_trial=running if mode == "calibrating" else 0,
        calibration_finished=paradigm is not None and paradigm.phase == "finished",
        calibration_s=calibration_s,
        training=s.training, training_error=failed, model=s.model is not None,
        model_source="loading" if loading and s.training else s.model_source,
        report=saved is not None and saved.report is not None, report_drawing=s.report_drawing,
        report_seen=report_seen,
        online=mode == "online", online_runs=s.online_runs,
        saved=saved is not None and saved.adapter is not None)


def continue_reason(s: Session, previous: object | None) -> str:
    """Why *Continue previous session* cannot be used now on ``s`` ("" when it can); ``previous``:
    the participant's earlier adapter, if any."""
    if s.folder is None:
        return "Continue needs the participant's ID: type it and press Start session."
    if previous is None:
        return f"No earlier adapter of {s.folder.participant} to continue with: calibrate."
    if s.model_source == "loaded":
        return ""
    if s.stream is None:
        return "Continue needs the headset connected: the adapter's channels are checked against it."
    if s.mode.value != "connected":
        return f"Continue is possible once the {s.mode.value} step has ended."
    return ""


__all__ = ["STEPS", "TITLES", "SessionFacts", "Step", "busy", "continue_reason", "current_step", "duration_text",
           "guide", "session_facts"]
