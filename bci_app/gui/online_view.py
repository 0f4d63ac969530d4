"""Online feedback (Graz-style bar or arrow), class probabilities, running accuracy, latency.

Renders the core's latest prediction (fields read by name: ``classes``, ``probabilities``/
``proba``, ``label``, ``latency_ms``/``latency_s``) and running scores computed by the core.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from bci_app.gui.calibration_view import CLASS_TEXT, FEEDBACK_STYLES, screen_choice


def prediction_probabilities(pred) -> tuple[list[str], Sequence[float]]:
    """``(classes, probabilities)`` from a core prediction record (``probabilities`` or ``proba``, a
    sequence in ``classes`` order or a mapping by class); no label is worked out (cheap per record)."""
    classes = list(getattr(pred, "classes", ()) or ())
    proba = getattr(pred, "probabilities", None)
    if proba is None:
        proba = getattr(pred, "proba", None)
    if isinstance(proba, dict):
        classes = classes or list(proba)
        proba = [proba[c] for c in classes]
    return classes, proba if proba is not None else ()


def prediction_fields(pred) -> tuple[list[str], np.ndarray, str | None, float | None]:
    """``(classes, probabilities, label, latency_ms)`` from a core prediction record."""
    classes, proba = prediction_probabilities(pred)
    proba = np.asarray(proba, dtype=float)
    label = getattr(pred, "label", None)
    latency = getattr(pred, "latency_ms", None)
    if latency is None and getattr(pred, "latency_s", None) is not None:
        latency = 1000.0 * float(pred.latency_s)
    return classes, proba, label, None if latency is None else float(latency)


class FeedbackBar(QtWidgets.QWidget):
    """A horizontal bar growing toward the more probable class (two classes, Graz style); with more
    classes an arrow points to the winner, its length the winner's probability."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.classes: list[str] = []
        self.proba = np.zeros(0)
        self.cue: str | None = None
        self.setMinimumSize(300, 160)

    def set_prediction(self, classes, proba, cue: str | None = None) -> None:
        self.classes, self.proba, self.cue = list(classes), np.asarray(proba, float), cue
        self.update()

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        r = self.rect()
        p.fillRect(r, QtGui.QColor("#101418"))
        c = QtCore.QPointF(r.center())
        half_w = r.width() * 0.45
        p.setPen(QtGui.QPen(QtGui.QColor("white"), 3))
        p.drawLine(QtCore.QPointF(c.x(), c.y() - 30), QtCore.QPointF(c.x(), c.y() + 30))
        if self.proba.size == 2 and set(self.classes) <= {"left_hand", "right_hand"} and "left_hand" in self.classes:
            left = float(self.proba[self.classes.index("left_hand")])
            x = (1.0 - 2.0 * left) * half_w  # >0 right, <0 left
            bar = QtCore.QRectF(min(c.x(), c.x() + x), c.y() - 18, abs(x), 36)
            p.fillRect(bar, QtGui.QColor("#43a047"))
        elif self.proba.size:
            k = int(np.argmax(self.proba))
            direction = {"left_hand": (-1, 0), "right_hand": (1, 0), "feet": (0, 1), "tongue": (0, -1)}.get(
                self.classes[k] if k < len(self.classes) else "", (1, 0)
            )
            length = float(self.proba[k]) * min(half_w, r.height() * 0.45)
            end = QtCore.QPointF(c.x() + direction[0] * length, c.y() + direction[1] * length)
            p.setPen(QtGui.QPen(QtGui.QColor("#43a047"), 14))
            p.drawLine(c, end)
        if self.cue:
            p.setPen(QtGui.QColor("#ffca28"))
            p.drawText(r.adjusted(8, 8, -8, -8), QtCore.Qt.AlignmentFlag.AlignTop, f"cue: {CLASS_TEXT.get(self.cue, self.cue)}")
        p.end()


class OnlinePanel(QtWidgets.QWidget):
    """Feedback, probabilities, running accuracy and latency; Start/Stop wired by the main window."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.start_button = QtWidgets.QPushButton("Start online feedback")
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.cued_check = QtWidgets.QCheckBox("Cued trials (scored)")
        self.cued_check.setToolTip("Run the calibration paradigm's cues while decoding and score each trial")
        self.cued_trials = QtWidgets.QSpinBox()
        self.cued_trials.setRange(1, 100)
        self.cued_trials.setValue(6)
        self.cued_trials.setSuffix(" per class")
        self.trial_label = QtWidgets.QLabel("")
        self.feedback = FeedbackBar()
        self.prob_bars: dict[str, QtWidgets.QProgressBar] = {}
        self._prob_box = QtWidgets.QFormLayout()
        self.prediction_label = QtWidgets.QLabel("No prediction yet")
        self.prediction_label.setStyleSheet("font-size:16px;font-weight:bold")
        self.accuracy_label = QtWidgets.QLabel("Running accuracy: – (needs cues)")
        self.latency_label = QtWidgets.QLabel("Latency: –")
        self.n_predictions = 0
        self.correct = self.total = 0
        buttons = QtWidgets.QHBoxLayout()  # running the decoder
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addSpacing(12)
        buttons.addWidget(self.cued_check)
        buttons.addWidget(self.cued_trials)
        self.coadapt_check = QtWidgets.QCheckBox("Retrain after each cued run")
        self.coadapt_check.setToolTip("co-adaptation: after each cued run the adapter is retrained in the background on "
                                      "the calibration and every cued run so far, and swapped in while decoding; the "
                                      "gate keeps it only when it decodes better than the base")
        buttons.addWidget(self.coadapt_check)
        buttons.addStretch(1)
        self.feedback_style = QtWidgets.QComboBox()
        self.feedback_style.addItems(list(FEEDBACK_STYLES))
        self.feedback_style.setToolTip("what the participant screen shows of the decoder: a bar, a cursor, or nothing")
        self.participant_button = QtWidgets.QPushButton("Participant screen (full screen)")
        self.participant_button.setCheckable(True)
        self.screen_choice = screen_choice()
        screen_row = QtWidgets.QHBoxLayout()  # what the participant sees, and where
        screen_row.addWidget(QtWidgets.QLabel("Feedback"))
        screen_row.addWidget(self.feedback_style)
        screen_row.addWidget(self.participant_button)
        screen_row.addWidget(self.screen_choice, 1)
        screen_row.addStretch(1)
        side = QtWidgets.QVBoxLayout()
        side.addWidget(self.prediction_label)
        side.addLayout(self._prob_box)
        side.addWidget(self.trial_label)
        side.addWidget(self.accuracy_label)
        side.addWidget(self.latency_label)
        side.addStretch(1)
        body = QtWidgets.QHBoxLayout()
        body.addWidget(self.feedback, 3)
        body.addLayout(side, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addLayout(screen_row)
        layout.addLayout(body, 1)

    def _ensure_bars(self, classes) -> None:
        if list(self.prob_bars) == list(classes):
            return
        while self._prob_box.rowCount():
            self._prob_box.removeRow(0)
        self.prob_bars = {}
        for c in classes:
            bar = QtWidgets.QProgressBar()
            bar.setRange(0, 100)
            bar.setFormat("%p %")
            self._prob_box.addRow(CLASS_TEXT.get(c, c), bar)
            self.prob_bars[c] = bar

    def render_prediction(self, pred, cue: str | None = None) -> None:
        classes, proba, label, latency = prediction_fields(pred)
        self.n_predictions += 1
        self._ensure_bars(classes)
        for c, v in zip(classes, proba):
            self.prob_bars[c].setValue(int(round(100 * v)))
        if label is None and proba.size:
            label = classes[int(np.argmax(proba))]
        self.prediction_label.setText(f"Decoded: {CLASS_TEXT.get(label, label)}")
        self.feedback.set_prediction(classes, proba, cue)
        if latency is not None:
            self.latency_label.setText(f"Latency: {latency:.0f} ms")

    def clear_prediction(self) -> None:
        """Decoding stopped: no decoded class, empty bars and feedback (nothing frozen on screen)."""
        for bar in self.prob_bars.values():
            bar.setValue(0)
        self.prediction_label.setText("No prediction (decoding stopped)")
        self.feedback.set_prediction([], [], None)
        self.latency_label.setText("Latency: –")

    def render_accuracy(self, correct: int, total: int, undecided: int = 0) -> None:
        self.correct, self.total = correct, total
        if total:
            extra = f", {undecided} undecided" if undecided else ""
            self.accuracy_label.setText(f"Running accuracy: {correct / total:.0%} ({correct} of {total} trials{extra})")
        else:
            self.accuracy_label.setText("Running accuracy: – (needs cued trials)")

    def render_score(self, score: dict | None) -> None:
        """Show the running score of cued trials (``Session.online_score()``'s dict; ``None``: none yet)."""
        if score is None or score["n_trials"] == self.total:
            return
        correct = sum(t["true"] == t["predicted"] for t in score["trials"])
        self.render_accuracy(correct, score["n_trials"], score["n_undecided"])

    def render_trial(self, state) -> None:
        """Show the cued paradigm's :class:`~bci_app.paradigm.timing.ParadigmState` (or ``None``)."""
        if state is None:
            self.trial_label.setText("")
            return
        k = "–" if state.trial_index is None else str(state.trial_index + 1)
        cue = f": {CLASS_TEXT.get(state.label, state.label)}" if state.label and state.phase in ("cue", "imagery") else ""
        self.trial_label.setText(f"Cued trial {k} of {state.n_trials} · {state.phase}{cue}")

    def set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.cued_check.setEnabled(not running)
        self.cued_trials.setEnabled(not running)
