"""What a calibration report needs from a :class:`~calibration.job.CalibrationOutcome`, without
torch: the numbers, the gate's decisions and the recordings. :func:`report_inputs` takes them from an
outcome where the outcome lives (the training thread); the report is then drawn from them anywhere,
in a process of its own too (:mod:`bci_app.report.process`), which never imports torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["GateDecisions", "ReportInputs", "report_inputs"]


@dataclass(frozen=True)
class GateDecisions:
    """The gate's cross-validation (:class:`~calibration.job.GateReport`'s decisions): ``labels`` (n,)
    class indices, ``predicted_base`` (n,), ``predicted_adapted`` (repeats, n) or None."""

    labels: np.ndarray | None
    predicted_base: np.ndarray | None
    predicted_adapted: np.ndarray | None
    repeats: int
    folds: int
    reason: str


@dataclass(frozen=True)
class ReportInputs:
    """A calibration outcome as its report reads it.

    ``classes``; ``preparation``: ``CalibrationData.report()`` (trials, rejections, repairs);
    ``summary``: the outcome's paragraph for the operator; ``chosen``: "adapted", "base" or
    "base (lora disabled)"; ``seconds_total``: the calibration's time (s); ``base_model`` and
    ``calibration_files`` (from the adapter's metadata); ``gate`` (None: no gate ran);
    ``labels`` (n,) and ``predicted_unadapted`` (n,): the trials' classes and, with LoRA disabled,
    the installed base's decisions on them; ``recordings`` (as calibrated on) and ``preset`` (the cues'
    meaning) to cut the ERD trials again."""

    classes: tuple[str, ...]
    preparation: dict[str, Any]
    summary: str
    chosen: str
    seconds_total: float
    base_model: str
    calibration_files: tuple[str, ...]
    gate: GateDecisions | None
    labels: np.ndarray
    predicted_unadapted: np.ndarray | None = None
    recordings: list[Any] = field(default_factory=list, repr=False)
    preset: Any = None


def report_inputs(outcome: Any) -> ReportInputs:
    """:class:`ReportInputs` of a :class:`~calibration.job.CalibrationOutcome`. With LoRA disabled the
    base decides the trials here (a forward pass of the outcome's model: torch is where the model is)."""
    if isinstance(outcome, ReportInputs):
        return outcome
    gate = outcome.gate
    decisions = None if gate is None else GateDecisions(gate.labels, gate.predicted_base, gate.predicted_adapted,
                                                        int(gate.repeats), int(gate.folds), str(gate.reason))
    unadapted = None
    if (gate is None or gate.labels is None) and outcome.chosen.startswith("base"):
        from calibration.finetune import predict_proba  # torch: only where the outcome's model lives

        unadapted = predict_proba(outcome.model, outcome.data.X).argmax(1)
    meta = outcome.metadata
    return ReportInputs(
        classes=tuple(outcome.data.classes), preparation=outcome.data.report(), summary=outcome.summary(),
        chosen=str(outcome.chosen), seconds_total=float(outcome.seconds.get("total", 0.0)),
        base_model=str(meta.get("base_model", "?")), calibration_files=tuple(map(str, meta.get("calibration_files", []))),
        gate=decisions, labels=np.asarray(outcome.data.y), predicted_unadapted=unadapted,
        recordings=list(outcome.recordings), preset=outcome.preset)
