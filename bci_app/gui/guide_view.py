"""The guided flow at the top of the window: the participant's ID, the steps of a session with what
to do next (from the Qt-free :mod:`bci_app.workflow`), and "continue a previous session"."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from bci_app.workflow import STEPS, TITLES, SessionFacts, Step, busy, guide

_MARK = {"done": "✔", "skipped": "–", "current": "▶", "waiting": "·"}
_STYLE = {"done": "color:#2e7d32", "skipped": "color:#78909c;font-style:italic",
          "current": "color:#0d47a1;font-weight:bold", "waiting": "color:#78909c"}
_RUNNING = {"calibration": "Calibration is running", "training": "Training runs in the background",
            "online": "Online feedback is running", "replay": "A recording is replaying"}


class GuidePanel(QtWidgets.QWidget):
    """Emits ``participant_chosen(id)`` and ``continue_requested()``; :meth:`render` shows the steps."""

    participant_chosen = QtCore.Signal(str)
    continue_requested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.participant = QtWidgets.QLineEdit()
        self.participant.setPlaceholderText("participant ID, e.g. P007")
        self.start_button = QtWidgets.QPushButton("Start session")
        self.continue_button = QtWidgets.QPushButton("Continue previous session")
        self.continue_button.setToolTip("load this participant's latest adapter and decode without a new calibration")
        self.continue_button.setEnabled(False)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("Participant"))
        top.addWidget(self.participant)
        top.addWidget(self.start_button)
        top.addWidget(self.continue_button)
        #: why *Continue previous session* is grey (shown beside it)
        self.continue_note = QtWidgets.QLabel("")
        self.continue_note.setStyleSheet("color:#78909c")
        self.continue_note.setWordWrap(True)
        top.addWidget(self.continue_note, 1)
        self.step_labels: dict[str, QtWidgets.QLabel] = {}
        row = QtWidgets.QHBoxLayout()
        for name in STEPS:
            label = QtWidgets.QLabel(TITLES[name])
            self.step_labels[name] = label
            row.addWidget(label)
            row.addStretch(1)
        self.next_label = QtWidgets.QLabel("")
        self.next_label.setWordWrap(True)
        self.next_label.setStyleSheet("font-size:14px")
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(row)
        layout.addWidget(self.next_label)
        self.start_button.clicked.connect(lambda: self.participant_chosen.emit(self.participant.text().strip()))
        self.participant.returnPressed.connect(self.start_button.click)
        self.continue_button.clicked.connect(self.continue_requested)
        self.steps: list[Step] = []
        self._facts: SessionFacts | None = None

    def render(self, facts: SessionFacts, *, can_continue: bool = False, continue_reason: str = "") -> None:
        """Show ``facts`` as the steps (cheap when nothing changed: called every frame).
        ``continue_reason``: why *Continue previous session* cannot be used now (shown beside it)."""
        enabled = can_continue and facts.model_source != "loaded"
        self.continue_button.setEnabled(enabled)
        note = "" if enabled else continue_reason
        if note != self.continue_note.text():
            self.continue_note.setText(note)
            self.continue_button.setToolTip("load this participant's latest adapter and decode without a new "
                                            "calibration" + (f" — {note}" if note else ""))
        if facts == self._facts:
            return
        self._facts = facts
        self.steps = guide(facts)
        for step in self.steps:
            label = self.step_labels[step.name]
            label.setText(f"{_MARK[step.status]} {step.title}")
            label.setStyleSheet(_STYLE[step.status])
            label.setToolTip(step.text)
        current = next((s for s in self.steps if s.status == "current"), None)
        running = busy(facts)
        if running == "replay":
            text = ("Replaying a recording through the decoder (Replay tab): its decisions are compared with the "
                    "live ones. The session's steps wait until it ends.")
        elif current is not None:
            text = f"Next — {current.title}: {current.text}"
        elif running is not None:
            text = f"{_RUNNING[running]}: " + next(s.text for s in self.steps if s.name == running)
        else:
            text = "Every step is done. Run online feedback again, retrain, or start a new session."
        self.next_label.setText(text)
        self.participant.setEnabled(not facts.participant)
        self.start_button.setEnabled(not facts.participant)
