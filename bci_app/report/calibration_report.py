"""The calibration report: what a finished :class:`~calibration.job.CalibrationJob` found, for the
clinician and the record.

Sections: the calibration (trials, repairs, what was installed and why); decoding accuracy of the
installed model and of the unadapted base, from the gate's cross-validated decisions (confusion
matrix, accuracy per class, Cohen's kappa, Wolpaw ITR in bits per trial and per minute); ERD/ERS
time-frequency maps at C3/Cz/C4 and mu/beta scalp maps (:mod:`bci_app.report.erd`); online runs,
added as they are scored (:meth:`CalibrationReport.add_online_run`).

Honest numbers only: the adapter's figures are cross-validated (each trial decided by an adapter
that did not train on it); the base never trained on these trials. When the gate did not run with an
adapter installed (``finetune.gate: false``) the report says there is no honest accuracy instead of
showing the training accuracy.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bci_app.errors import CalibrationError
from bci_app.report.accuracy import Classification, classify
from bci_app.report.document import Report, html_table
from bci_app.report.erd import ErdMaps, ErdWindows, erd_maps
from bci_app.report.figures import confusion_figure, figure_png, scalp_figure, tf_figure
from bci_app.report.inputs import ReportInputs, report_inputs
from bci_app.report.rendered import RenderedReport, RenderedSection
from calibration.epochs import find_cues

logger = logging.getLogger(__name__)

__all__ = ["CalibrationReport", "build_calibration_report", "write_calibration_report", "trial_seconds_of",
           "add_scored_run"]


def _pct(v: float | None) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{100 * v:.1f} %"


def _num(v: float | None, digits: int = 3) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"


def trial_seconds_of(recordings: Sequence[Any], preset: Any = None, paradigm: Any = None) -> tuple[float | None, str]:
    """Length of one trial (s) for bits per minute, and where it came from: a Graz ``paradigm``'s
    timeline (imagery end + mean rest), else the median interval between consecutive cues of the
    recordings (the paradigm as it ran). ``(None, why)`` when neither is known."""
    if paradigm is not None:
        seconds = float(paradigm.imagery_end_s) + (float(paradigm.rest_min_s) + float(paradigm.rest_max_s)) / 2
        return seconds, "the paradigm's trial: imagery end + mean rest"

    gaps = []
    for rec in recordings:
        onsets = np.sort(find_cues(rec, preset)[0])
        gaps += list(np.diff(onsets))
    if not gaps:
        return None, "fewer than two cues in a recording: no trial length, no bits per minute"
    return float(np.median(gaps)), "the median interval between consecutive cues of the calibration"


class CalibrationReport(Report):
    """A :class:`~bci_app.report.document.Report` with the numbers kept: ``decoding`` (model ->
    :class:`Classification`), ``erd`` (:class:`ErdMaps` or None), ``online`` (one per run)."""

    def __init__(self, title: str, *, subtitle: str = "", classes: Sequence[str] = (),
                 trial_seconds: float | None = None) -> None:
        super().__init__(title, subtitle=subtitle)
        self.classes = tuple(classes)
        self.trial_seconds = trial_seconds
        self.decoding: dict[str, Classification] = {}
        #: the row of :attr:`decoding` that is the installed model ("adapter" or "unadapted base")
        self.installed: str | None = None
        self.erd: ErdMaps | None = None
        self.online: list[Classification] = []

    def add_online_run(self, y_true: Sequence[str | int], y_pred: Sequence[str | int | None], *,
                       title: str | None = None, trial_seconds: float | None = None) -> Classification:
        """Add an online run's confusion matrix, per-class accuracy, kappa and ITR. ``y_true``: the cued
        classes; ``y_pred``: the decided ones (None: undecided, e.g. during a gap). With
        :func:`bci_app.online.scoring.score_trials`'s result use :meth:`add_scored_run`.
        ``trial_seconds``: the online trial's length (default: the calibration's). Save again to write
        it into the file."""
        if not len(y_true):
            raise CalibrationError("an online run without trials has no confusion matrix")
        result = classify(y_true, y_pred, self.classes, trial_seconds or self.trial_seconds)
        self.online.append(result)
        name = title or f"Online run {len(self.online)}"
        self.add_section(name, _online_html(name, result),
                         [("confusion matrix", confusion_figure(result.confusion, self.classes, name))])
        return result

    def add_scored_run(self, scores: dict[str, Any], *, title: str | None = None,
                       trial_seconds: float | None = None) -> Classification:
        """:meth:`add_online_run` with the trials of :func:`bci_app.online.scoring.score_trials`."""
        trials = scores["trials"]
        return self.add_online_run([t["true"] for t in trials], [t["predicted"] for t in trials], title=title,
                                   trial_seconds=trial_seconds)

    def rendered(self) -> RenderedReport:
        """The report as drawn, with its numbers (what crosses to the app from the report's process)."""
        out = super().rendered()
        out.classes, out.trial_seconds, out.installed = self.classes, self.trial_seconds, self.installed
        out.decoding, out.online = dict(self.decoding), list(self.online)
        return out


def add_scored_run(report: RenderedReport, scores: dict[str, Any], *, title: str | None = None) -> RenderedReport:
    """A drawn calibration ``report`` with an online run's section added (as
    :meth:`CalibrationReport.add_scored_run`: the trials of :func:`bci_app.online.scoring.score_trials`)."""
    trials = scores["trials"]
    if not trials:
        raise CalibrationError("an online run without trials has no confusion matrix")
    result = classify([t["true"] for t in trials], [t["predicted"] for t in trials], report.classes,
                      report.trial_seconds)
    name = title or f"Online run {len(report.online) + 1}"
    png = figure_png(confusion_figure(result.confusion, report.classes, name))
    report.sections.append(RenderedSection(name, _online_html(name, result), [("confusion matrix", png)]))
    report.online.append(result)
    return report


def _online_html(name: str, result: Classification) -> str:
    return _decoding_table({name: result}) + _per_class_table({name: result}) + _confusion_html(result)


def _decoding_table(results: dict[str, Classification], installed: str | None = None) -> str:
    rows = []
    for name, r in results.items():
        label = f"{name} (installed)" if name == installed else name
        decisions = f"{r.n_decisions} ({r.repeats} per trial)" if r.repeats > 1 else r.n_decisions
        rows.append([label, r.n_trials, decisions, _pct(r.accuracy), _num(r.kappa), _num(r.itr_bits_per_trial),
                     _num(r.itr_bits_per_min, 2)])
    return html_table(["model", "trials", "decisions", "accuracy", "Cohen's kappa", "ITR (bits/trial)",
                       "ITR (bits/min)"], rows)


def _per_class_table(results: dict[str, Classification]) -> str:
    first = next(iter(results.values()))
    rows = [[name] + [_pct(v) for v in r.per_class_accuracy.values()] for name, r in results.items()]
    return html_table(["model"] + [f"{c.replace('_', ' ')} correct" for c in first.classes], rows)


def _confusion_html(result: Classification) -> str:
    k = len(result.classes)
    cols = list(result.classes) + (["undecided"] if result.confusion[:, k:].any() else [])
    rows = [[f"true {c}"] + [int(v) for v in result.confusion[i, : len(cols)]] for i, c in enumerate(result.classes)]
    return html_table([""] + [f"decided {c}" for c in cols], rows)


def _decoding(inputs: ReportInputs, classes: list[str],
              trial_seconds: float | None) -> tuple[dict[str, Classification], list[str]]:
    """Model name -> honest decisions on the calibration trials (module doc), and notes."""
    gate = inputs.gate
    notes: list[str] = []
    results: dict[str, Classification] = {}
    if gate is not None and gate.labels is not None:
        y = gate.labels
        if gate.predicted_adapted is not None:
            reps = gate.predicted_adapted.shape[0]
            results["adapter"] = classify(np.tile(y, reps), gate.predicted_adapted.ravel(), classes, trial_seconds,
                                          repeats=reps)
            notes.append(f"Adapter: {gate.repeats} × {gate.folds}-fold cross-validation on the {len(y)} calibration "
                         f"trials; each trial is decided once per repeat by an adapter that did not train on it, "
                         f"so its {len(y)} trials give {reps} × {len(y)} decisions (the base decides each trial "
                         "once: it never trained on them).")
        results["unadapted base"] = classify(y, gate.predicted_base, classes, trial_seconds)
        if gate.predicted_adapted is None:
            notes.append(f"No cross-validated adapter: {gate.reason}.")
    elif inputs.predicted_unadapted is not None:
        results["unadapted base"] = classify(inputs.labels, inputs.predicted_unadapted, classes, trial_seconds)
        notes.append("LoRA disabled: the base with this person's alignment, which never trained on these trials.")
    else:
        notes.append("finetune.gate is off: the adapter was not cross-validated, so there is no honest accuracy "
                     "(its accuracy on its own training trials would flatter it). Turn the gate on for one.")
    return results, notes


def build_calibration_report(outcome: Any, *, paradigm: Any = None, trial_seconds: float | None = None,
                             windows: ErdWindows | None = None, preprocessing: Any = None,
                             title: str = "Calibration report") -> CalibrationReport:
    """The report of a :class:`~calibration.job.CalibrationOutcome` or of its
    :class:`~bci_app.report.inputs.ReportInputs` (module doc).

    ``paradigm``: the Graz timeline the calibration ran with (a ``ParadigmConfig``; None for recorded
    files of another protocol): it sets the ERD windows and the trial length, else defaults
    (:class:`ErdWindows`) and the cue intervals measured in the recordings. ``trial_seconds`` overrides
    the trial length. ``preprocessing``: the config whose artifact rules select the trials of the ERD
    maps (default: the defaults). The ERD maps need ``outcome.recordings``; without them, or when no
    trial is clean, the report says why and goes on.
    """
    inputs = report_inputs(outcome)
    classes = list(inputs.classes)
    how = "given"
    if trial_seconds is None:
        trial_seconds, how = trial_seconds_of(inputs.recordings, inputs.preset, paradigm)
    report = CalibrationReport(title, classes=classes, trial_seconds=trial_seconds,
                               subtitle=f"Base {inputs.base_model}; files: "
                                        f"{', '.join(inputs.calibration_files) or '–'}.")
    rep = inputs.preparation
    counts = ", ".join(f"{c.replace('_', ' ')}: {n}" for c, n in rep["n_trials_per_class"].items())
    rows = [["trials kept", f"{rep['n_trials']} of {rep['n_cues']} cued ({counts})"],
            ["rejected for artifacts", ", ".join(f"{k}: {v}" for k, v in rep["rejections"].items()) or "none"],
            ["repaired channels", ", ".join(rep["repaired_channels"]) or "none"],
            ["channels the headset lacks (interpolated)", ", ".join(rep["missing_channels"]) or "none"],
            ["installed", inputs.chosen], ["calibration time", f"{inputs.seconds_total:.1f} s"]]
    report.add_section("Calibration", f"<p>{html.escape(inputs.summary)}</p>" + html_table(["", ""], rows))

    results, notes = _decoding(inputs, classes, trial_seconds)
    report.decoding = results
    installed = "adapter" if inputs.chosen == "adapted" else "unadapted base"
    report.installed = installed
    notes.append(f"Chance level {100 / len(classes):.0f} %. ITR after Wolpaw et al. (2000), 0 at or below chance; "
                 + (f"bits per minute with a trial of {trial_seconds:.1f} s ({how})." if trial_seconds else how + "."))
    if results:
        body = _decoding_table(results, installed) + _per_class_table(results) + "".join(
            f"<p>{html.escape(name)}:</p>{_confusion_html(r)}" for name, r in results.items())
        figures = [(f"{name}: confusion matrix", confusion_figure(r.confusion, classes, name))
                   for name, r in results.items()]
    else:
        body, figures = "", []
    report.add_section("Decoding accuracy on the calibration trials", body, figures, notes)

    erd_notes: list[str] = []
    if not inputs.recordings:
        erd_notes.append("the calibration's recordings were not kept with the outcome: no ERD/ERS maps")
    else:
        try:
            report.erd = erd_maps(inputs.recordings, classes, windows=windows or (
                ErdWindows.for_paradigm(paradigm) if paradigm is not None else None),
                preset=inputs.preset, preprocessing=preprocessing)
        except CalibrationError as exc:
            erd_notes.append(f"no ERD/ERS maps: {exc}")
            logger.warning("calibration report: no ERD/ERS maps: %s", exc)
    erd = report.erd
    if erd is not None:
        w = erd.windows
        erd_notes += erd.notes
        text = (f"<p>Power change from the pre-cue baseline ({w.baseline[0]:g} to {w.baseline[1]:g} s) in percent: "
                f"blue = event-related desynchronisation (ERD, a power drop, expected over the hand area "
                f"opposite the imagined hand), red = synchronisation (ERS). Time 0 is the cue.</p>")
        figs = []
        if erd.tf is not None:
            figs.append((f"time-frequency maps at {', '.join(erd.tf.channels)} (Morlet wavelets)", tf_figure(erd.tf)))
        if erd.scalp is not None:
            figs.append((f"mu (8–13 Hz) and beta (13–30 Hz) power, {w.imagery[0]:g} to {w.imagery[1]:g} s after "
                         f"the cue vs the baseline", scalp_figure(erd.scalp)))
        report.add_section("ERD/ERS maps", text, figs, erd_notes)
    else:
        report.add_section("ERD/ERS maps", "", (), erd_notes)
    return report


def write_calibration_report(outcome: Any, path: str | Path, **options: Any) -> CalibrationReport:
    """Build the report (:func:`build_calibration_report`, same ``options``) and save it as one
    self-contained HTML file at ``path`` (atomic). Returns the report (figures and numbers) so a
    caller can show it and add online runs later (then ``report.save(path)`` again)."""
    report = build_calibration_report(outcome, **options)
    report.save(path)
    return report
