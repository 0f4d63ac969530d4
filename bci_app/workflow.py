"""The clinician's guided flow, Qt-free: which step a session is at, what to do next, and why a step
is not possible yet.

Steps, in order: participant -> headset and signal check -> calibration -> training -> report ->
online feedback -> save. :func:`guide` reads plain facts about the session (:class:`SessionFacts`)
and returns one :class:`Step` per step with its status (``done``, ``current``, ``waiting``) and a
sentence for the operator; the window draws them and enables the matching controls.
"""

from __future__ import annotations

from dataclasses import dataclass

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

    ``bad_channels``: channels the signal check flags now; ``calibration_trials``: trials done of
    ``calibration_total``; ``model``: an adapted (or loaded) model is active; ``model_source``:
    ``"calibrated"`` or ``"loaded"`` (continued from an earlier session); ``online_runs``: online runs
    finished; ``saved``: the adapter (and report) are in the session folder.
    """

    participant: str | None = None
    connected: bool = False
    bad_channels: tuple[str, ...] = ()
    recording: bool = False
    calibrating: bool = False
    calibration_trials: int = 0
    calibration_total: int = 0
    training: bool = False
    training_error: str | None = None
    model: bool = False
    model_source: str | None = None
    report: bool = False
    online: bool = False
    online_runs: int = 0
    saved: bool = False
    folder: str | None = None


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    status: str  #: "done" | "current" | "waiting"
    text: str


def guide(f: SessionFacts) -> list[Step]:
    """One :class:`Step` per :data:`STEPS`: the first not done is ``current`` and says what to do; the
    later ones say what they wait for."""
    done: dict[str, bool] = {}
    text: dict[str, str] = {}

    done["participant"] = bool(f.participant)
    text["participant"] = (f"Participant {f.participant}; files go to {f.folder}." if f.participant and f.folder
                           else f"Participant {f.participant}." if f.participant
                           else "Enter the participant's ID: the recordings, adapter and report are saved in their folder.")

    went_on = f.calibrating or f.calibration_trials > 0 or f.model  # flagged channels do not hold the session
    done["headset"] = f.connected and (not f.bad_channels or went_on)
    if not f.connected:
        text["headset"] = "Connect the headset (Source): LSL stream, BrainFlow board, or the simulated headset."
    elif f.bad_channels:
        text["headset"] = (f"Check the electrodes: {', '.join(f.bad_channels[:8])}"
                           f"{' …' if len(f.bad_channels) > 8 else ''} flagged. Fix them, or go on (bad channels "
                           "are repaired from their neighbours at calibration).")
    else:
        text["headset"] = "Signal looks good on every channel."

    loaded = f.model and f.model_source == "loaded"
    calibrated = loaded or (f.calibration_total > 0 and f.calibration_trials >= f.calibration_total)
    done["calibration"] = calibrated
    if f.model_source == "loaded":
        text["calibration"] = "Skipped: an adapter from an earlier session of this participant is loaded."
    elif f.calibrating:
        text["calibration"] = (f"Running: trial {f.calibration_trials} of {f.calibration_total}. The participant "
                               "imagines the cued movement; the recording runs by itself.")
    elif calibrated:
        text["calibration"] = f"Done: {f.calibration_trials} trials recorded."
    else:
        text["calibration"] = ("Start the calibration: the participant follows the arrows (about 5 minutes); the "
                               "recording starts by itself." if f.connected else "Needs a connected headset.")

    done["training"] = f.model
    if f.model and f.model_source == "loaded":
        text["training"] = "Skipped: the loaded adapter decodes."
    elif f.training:
        text["training"] = "Adapting the model to this participant (in the background; the signal keeps streaming)."
    elif f.training_error:
        text["training"] = f"Training failed: {f.training_error} Retrain, or calibrate again."
    elif f.model:
        text["training"] = "Done: the adapted model is active."
    else:
        text["training"] = ("Starts by itself when the calibration ends." if not calibrated
                            else "Train the model on the calibration trials.")

    done["report"] = f.report or f.model_source == "loaded"
    text["report"] = ("Ready: accuracy, confusion matrix, ERD maps (Report tab)." if f.report
                      else "Not needed: continuing with an earlier adapter." if f.model_source == "loaded"
                      else "Written after training.")

    done["online"] = f.online_runs > 0
    if f.online:
        text["online"] = "Running: the participant controls the feedback."
    elif f.online_runs:
        text["online"] = f"{f.online_runs} run(s) done. Run again, retrain, or finish."
    else:
        text["online"] = "Start online feedback." if f.model else "Needs a trained or loaded model."

    done["save"] = f.saved
    text["save"] = (f"Saved in {f.folder}." if f.saved and f.folder else
                    "The adapter and report are saved by themselves after training." if f.participant
                    else "Needs a participant ID to know where to save.")

    steps = []
    current_found = False
    for name in STEPS:
        if done[name]:
            status = "done"
        elif not current_found:
            status, current_found = "current", True
        else:
            status = "waiting"
        steps.append(Step(name, TITLES[name], status, text[name]))
    return steps


def current_step(f: SessionFacts) -> Step | None:
    """The step to do now (None when every step is done)."""
    return next((s for s in guide(f) if s.status == "current"), None)


__all__ = ["STEPS", "TITLES", "SessionFacts", "Step", "guide", "current_step"]
