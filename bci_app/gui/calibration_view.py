"""Calibration: the participant-facing cue display and the operator panel.

Both render snapshots: :class:`CueDisplay` draws a :class:`bci_app.paradigm.timing.ParadigmState`
(fixation cross, arrow, rest, break); :class:`OperatorPanel` shows trial k of N, per-class counts,
rejected trials, time left, and the Qt-free :class:`bci_app.signal.quality.CalibrationSummary`.
"""

from __future__ import annotations

import math

from PySide6 import QtCore, QtGui, QtWidgets

ARROWS = {"left_hand": "left", "right_hand": "right", "feet": "down", "tongue": "up"}
#: how the participant sees the decoder: a bar from the centre, a cursor, or nothing (cues only)
FEEDBACK_STYLES = ("bar", "cursor", "none")
_DIRECTIONS = {"right": (1.0, 0.0), "left": (-1.0, 0.0), "down": (0.0, 1.0), "up": (0.0, -1.0)}
CLASS_TEXT = {"left_hand": "left hand", "right_hand": "right hand", "feet": "feet", "tongue": "tongue"}


def screen_choice() -> QtWidgets.QComboBox:
    """A list of the monitors (the last one selected: usually the participant's)."""
    box = QtWidgets.QComboBox()
    screens = QtGui.QGuiApplication.screens()
    box.addItems([f"monitor {i + 1}: {s.name()} ({s.geometry().width()}×{s.geometry().height()})"
                  for i, s in enumerate(screens)] or ["monitor 1"])
    box.setCurrentIndex(max(0, len(screens) - 1))
    box.setToolTip("the monitor the participant screen goes to")
    return box


class CueDisplay(QtWidgets.QWidget):
    """The participant screen: black, a white fixation cross and a red arrow for the cue (Graz style),
    and during online decoding the feedback: a bar growing from the centre in the decoded class's
    arrow direction, or a cursor moving there (``feedback_style``), sized by how far the decoder's
    probability for that class is above chance.

    ``set_state(phase, label)``; ``set_feedback(classes, probabilities)`` (None clears it);
    ``show_fullscreen_on(screen_index)`` moves it to its own full-screen window (e.g. the
    participant's monitor); ``beep`` rings the system bell at each trial start.
    """

    #: the participant screen went full screen (True) or came back into the window (False)
    fullscreen_changed = QtCore.Signal(bool)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.phase = "idle"
        self.label: str | None = None
        self.beep = False
        self.feedback_style = "bar"
        #: (dx, dy) in units of the cross's half-size: where the feedback points now
        self.feedback: tuple[float, float] | None = None
        self._home: tuple[QtWidgets.QSplitter, int] | None = None  # where it sits in the window
        self.setMinimumSize(240, 180)
        self.setAutoFillBackground(False)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.setToolTip("the participant's view; Esc leaves full screen")

    def set_state(self, phase: str, label: str | None) -> None:
        if (phase, label) == (self.phase, self.label):
            return
        if self.beep and phase == "fixation" and self.phase != "fixation":
            QtWidgets.QApplication.beep()
        self.phase, self.label = phase, label
        self.update()

    def set_feedback(self, classes, probabilities) -> None:
        """Point the feedback at the decoded class: length 0 at chance, 1 at probability 1. Classes
        without an arrow direction add nothing; ``classes`` None clears the feedback."""
        if classes is None:
            self.feedback = None
        else:
            proba = [float(p) for p in probabilities]
            chance = 1.0 / max(len(proba), 1)
            dx = dy = 0.0
            for name, p in zip(classes, proba):
                ux, uy = _DIRECTIONS.get(ARROWS.get(str(name), ""), (0.0, 0.0))
                weight = max(0.0, p - chance) / (1.0 - chance) if chance < 1 else 0.0
                dx, dy = dx + ux * weight, dy + uy * weight
            self.feedback = (dx, dy)
        self.update()

    def set_feedback_style(self, style: str) -> None:
        if style not in FEEDBACK_STYLES:
            raise ValueError(f"feedback style must be one of {', '.join(FEEDBACK_STYLES)}, got {style!r}")
        self.feedback_style = style
        self.update()

    @property
    def is_fullscreen(self) -> bool:
        """Whether it is the detached, full-screen participant window (not a panel of the window)."""
        return self.isWindow() and self.isVisible()

    def show_fullscreen_on(self, screen_index: int = -1) -> None:
        """Detach to a frameless full-screen window on screen ``screen_index`` (default: the last).
        Esc, :meth:`leave_fullscreen` or the window's toggle bring it back into its panel."""
        if self.is_fullscreen:
            return
        screens = QtGui.QGuiApplication.screens()
        screen = screens[screen_index] if screens and -len(screens) <= screen_index < len(screens) else None
        parent = self.parentWidget()
        if isinstance(parent, QtWidgets.QSplitter):
            self._home = (parent, parent.indexOf(self))
        self.setParent(None, QtCore.Qt.WindowType.Window | QtCore.Qt.WindowType.FramelessWindowHint)
        self.setWindowTitle("bci-app — participant screen (Esc to leave)")
        if screen is not None:
            self.setGeometry(screen.geometry())
        self.showFullScreen()
        self.activateWindow()
        self.setFocus(QtCore.Qt.FocusReason.ActiveWindowFocusReason)
        self.fullscreen_changed.emit(True)

    def leave_fullscreen(self) -> None:
        """Back into its panel of the main window (or just hidden when it has none)."""
        if not self.isWindow():
            return
        self.hide()
        if self._home is not None:
            splitter, index = self._home
            splitter.insertWidget(index, self)
            self.show()
            self.window().activateWindow()  # the keyboard goes back to the main window
        self.fullscreen_changed.emit(False)

    def toggle_fullscreen(self, screen_index: int = -1) -> None:
        """Full screen on ``screen_index`` when it is in the window, back into the window when not."""
        if self.is_fullscreen:
            self.leave_fullscreen()
        else:
            self.show_fullscreen_on(screen_index)

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:  # noqa: N802 (Qt name)
        if event.key() == QtCore.Qt.Key.Key_Escape and self.isWindow():
            self.leave_fullscreen()
            event.accept()
            return
        super().keyPressEvent(event)

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802 (Qt name)
        self.activateWindow()  # a click gives the participant screen the keyboard (Esc leaves)
        self.setFocus(QtCore.Qt.FocusReason.MouseFocusReason)
        super().mousePressEvent(event)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802 (Qt name)
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        rect = self.rect()
        p.fillRect(rect, QtGui.QColor("black"))
        c = rect.center()
        size = min(rect.width(), rect.height()) * 0.35
        white = QtGui.QPen(QtGui.QColor("white"), max(3.0, size / 18))
        phase = self.phase
        if phase in ("fixation", "cue", "imagery"):
            p.setPen(white)
            p.drawLine(QtCore.QPointF(c.x() - size, c.y()), QtCore.QPointF(c.x() + size, c.y()))
            p.drawLine(QtCore.QPointF(c.x(), c.y() - size), QtCore.QPointF(c.x(), c.y() + size))
        if phase == "cue" and self.label in ARROWS:
            self._arrow(p, c, size, ARROWS[self.label])
        if self.feedback is not None and self.feedback_style != "none" and phase not in ("rest", "break", "paused"):
            self._feedback(p, c, size)
        text = {
            "idle": "Waiting to start",
            "rest": "Rest",
            "break": "Break — relax",
            "paused": "Paused",
            "finished": "Calibration complete — thank you",
            "aborted": "Calibration stopped",
        }.get(phase)
        if text:
            p.setPen(QtGui.QColor("#cfd8dc"))
            font = p.font()
            font.setPixelSize(max(12, int(size / 5)))
            p.setFont(font)
            p.drawText(rect, QtCore.Qt.AlignmentFlag.AlignCenter, text)
        p.end()

    def _feedback(self, p: QtGui.QPainter, c: QtCore.QPoint, size: float) -> None:
        dx, dy = self.feedback
        end = QtCore.QPointF(c.x() + dx * size, c.y() + dy * size)
        colour = QtGui.QColor("#29b6f6")
        if self.feedback_style == "bar":
            p.setPen(QtGui.QPen(colour, max(8.0, size / 6), QtCore.Qt.PenStyle.SolidLine, QtCore.Qt.PenCapStyle.FlatCap))
            p.drawLine(QtCore.QPointF(c), end)
        else:
            p.setPen(QtCore.Qt.PenStyle.NoPen)
            p.setBrush(colour)
            r = max(6.0, size / 10)
            p.drawEllipse(end, r, r)

    @staticmethod
    def _arrow(p: QtGui.QPainter, c: QtCore.QPoint, size: float, direction: str) -> None:
        tip, back, half = size * 0.95, size * 0.15, size * 0.35
        pts = [QtCore.QPointF(tip, 0), QtCore.QPointF(back, -half), QtCore.QPointF(back, half)]
        angle = {"right": 0, "down": 90, "left": 180, "up": 270}[direction]
        t = QtGui.QTransform().translate(c.x(), c.y()).rotate(angle)
        poly = QtGui.QPolygonF([t.map(pt) for pt in pts])
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(QtGui.QColor("#e53935"))
        p.drawPolygon(poly)


class OperatorPanel(QtWidgets.QWidget):
    """Progress and calibration quality for the operator, with start/pause/resume/abort buttons."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._marked_rejected = 0  # trials marked 1023 in the paradigm
        self._artifact_rejected = 0  # trials the calibration quality's artifact check dropped
        self._rejections: dict[str, int] = {}
        self.start_button = QtWidgets.QPushButton("Start calibration")
        self.pause_button = QtWidgets.QPushButton("Pause")
        self.resume_button = QtWidgets.QPushButton("Resume")
        self.abort_button = QtWidgets.QPushButton("Abort")
        self.fullscreen_button = QtWidgets.QPushButton("Cue display on participant screen")
        self.fullscreen_button.setCheckable(True)
        self.screen_choice = screen_choice()
        self.beep_check = QtWidgets.QCheckBox("Beep at trial start")
        buttons = QtWidgets.QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.resume_button, self.abort_button):
            buttons.addWidget(b)
        self.trial_label = QtWidgets.QLabel("Trial – of –")
        self.trial_label.setStyleSheet("font-size:16px;font-weight:bold")
        self.phase_label = QtWidgets.QLabel("Phase: idle")
        self.counts_label = QtWidgets.QLabel("")
        self.rejected_label = QtWidgets.QLabel("Rejected trials: 0")
        self.time_label = QtWidgets.QLabel("Time left: –")
        self.progress = QtWidgets.QProgressBar()
        self.erd_table = QtWidgets.QTableWidget(0, 4)
        self.erd_table.setHorizontalHeaderLabels(["C3 mu", "C3 beta", "C4 mu", "C4 beta"])
        self.erd_table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.erd_table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.erd_table.setMaximumHeight(120)
        self.separability_label = QtWidgets.QLabel("Separability: – (needs 3 trials per class)")
        self.advice_label = QtWidgets.QLabel("")
        self.advice_label.setWordWrap(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(buttons)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.fullscreen_button)
        row.addWidget(self.screen_choice)
        row.addWidget(self.beep_check)
        layout.addLayout(row)
        for w in (self.trial_label, self.phase_label, self.counts_label, self.rejected_label, self.time_label, self.progress):
            layout.addWidget(w)
        layout.addWidget(QtWidgets.QLabel("ERD % (power change imagery vs fixation; negative = desynchronisation)"))
        layout.addWidget(self.erd_table)
        layout.addWidget(self.separability_label)
        layout.addWidget(self.advice_label)
        layout.addStretch(1)
        self.set_running(False)

    def set_running(self, running: bool, paused: bool = False) -> None:
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running and not paused)
        self.resume_button.setEnabled(running and paused)
        self.abort_button.setEnabled(running)

    def render_state(self, state) -> None:
        """Show a :class:`bci_app.paradigm.timing.ParadigmState`."""
        k = "–" if state.trial_index is None else str(state.trial_index + 1)
        self.trial_label.setText(f"Trial {k} of {state.n_trials}  ·  run {state.run_index + 1} of {state.n_runs}")
        cue = f" ({CLASS_TEXT.get(state.label, state.label)})" if state.label else ""
        self.phase_label.setText(f"Phase: {state.phase}{cue}")
        self.counts_label.setText(
            "Completed per class: " + ", ".join(f"{CLASS_TEXT.get(c, c)} {n}" for c, n in state.completed_per_class.items())
        )
        self._marked_rejected = len(state.rejected)
        self._show_rejected()
        if math.isfinite(state.time_left_s):
            m, s = divmod(int(round(state.time_left_s)), 60)
            self.time_label.setText(f"Time left: {m}:{s:02d}")
        else:  # another program's cues: it decides
            self.time_label.setText("Time left: set by the stimulus program")
        done = sum(state.completed_per_class.values())
        self.progress.setMaximum(max(state.n_trials, 1))
        self.progress.setValue(done)

    def reset_rejections(self) -> None:
        """A new calibration starts: no trial rejected yet."""
        self._marked_rejected, self._artifact_rejected, self._rejections = 0, 0, {}
        self._show_rejected()

    def _show_rejected(self) -> None:
        """Trials marked rejected in the paradigm plus trials the artifact check dropped, with the
        most frequent reasons (e.g. "amplitude at FT8 ×3")."""
        n = self._marked_rejected + self._artifact_rejected
        top = ", ".join(f"{k} ×{v}" for k, v in list(self._rejections.items())[:2])
        self.rejected_label.setText(f"Rejected trials: {n}" + (f" ({top})" if top else ""))

    def render_summary(self, summary) -> None:
        """Show a :class:`bci_app.signal.quality.CalibrationSummary`."""
        classes = list(summary.erd)
        if self.erd_table.rowCount() != len(classes):
            self.erd_table.setRowCount(len(classes))
            self.erd_table.setVerticalHeaderLabels([CLASS_TEXT.get(c, c) for c in classes])
        for r, c in enumerate(classes):
            vals = summary.erd[c]
            cells = [vals["C3"]["mu"], vals["C3"]["beta"], vals["C4"]["mu"], vals["C4"]["beta"]]
            for col, v in enumerate(cells):
                text = "–" if v != v else f"{v:+.0f}"
                item = self.erd_table.item(r, col)
                if item is None:
                    self.erd_table.setItem(r, col, QtWidgets.QTableWidgetItem(text))
                else:
                    item.setText(text)
        if summary.separability is None:
            self.separability_label.setText("Separability: – (needs 3 clean trials per class)")
        else:
            self.separability_label.setText(
                f"Separability (leave-one-out, C3/C4 band power): {summary.separability:.0%} (chance {summary.chance:.0%})"
            )
        self._artifact_rejected = summary.n_rejected
        self._rejections = summary.rejections
        self._show_rejected()
        self.advice_label.setText(summary.advice)
        color = "#2e7d32" if summary.enough else "#ef6c00"
        self.advice_label.setStyleSheet(f"color:{color};font-weight:bold")
