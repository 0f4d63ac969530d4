"""The paradigm set-up, editable before calibration: classes (those the base decodes), trials per
class, runs and breaks, the cue/imagery/rest timeline, the beep. Every edit is validated as the
config is (:func:`bci_app.config.config_from_dict`: the key and the bad value are named) and checked
against the base (:func:`bci_app.paradigm.timing.paradigm_problems`: its classes, the model-window
refusal); a set-up that passes is emitted (``paradigm_changed``) and the window gives it to the
session. *Load…* takes the set-up of an earlier session (its folder's ``paradigm.yaml``, a
recording's header, or a YAML file: :func:`bci_app.io.paradigm_file.load_paradigm`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from bci_app.config import ParadigmConfig, config_from_dict
from bci_app.errors import ConfigError
from bci_app.io.paradigm_file import load_paradigm
from bci_app.paradigm.timing import describe_paradigm, paradigm_problems
from bci_app.vocabulary import CLASSES

#: the timeline's fields: (config key, label, maximum seconds)
TIMES = (("cue_at_s", "Cue at", 60.0), ("cue_duration_s", "Cue shown for", 60.0), ("imagery_end_s", "Imagery ends at", 60.0),
         ("rest_min_s", "Rest, shortest", 60.0), ("rest_max_s", "Rest, longest", 60.0), ("break_s", "Break between runs", 3600.0))


class ParadigmEditor(QtWidgets.QWidget):
    """Edits a :class:`~bci_app.config.ParadigmConfig`; emits ``paradigm_changed(ParadigmConfig)``
    for each edit that is valid and fits the base (:meth:`set_base`), says why otherwise."""

    paradigm_changed = QtCore.Signal(object)

    def __init__(self, paradigm: ParadigmConfig, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._decoded: tuple[str, ...] = tuple(CLASSES)
        self._window: tuple[float, float] | None = None
        self._seed = paradigm.seed
        self._filling = False
        self.class_checks = {c: QtWidgets.QCheckBox(c.replace("_", " ")) for c in CLASSES}
        classes = QtWidgets.QGroupBox("Classes")
        grid = QtWidgets.QGridLayout(classes)
        for i, box in enumerate(self.class_checks.values()):
            grid.addWidget(box, i // 3, i % 3)
        self.trials_per_class = _spin(1, 1000, "Trials of each class")
        self.trials_per_run = _spin(1, 1000, "Trials in one run; runs are separated by a break")
        self.times = {key: _seconds(top) for key, _, top in TIMES}
        self.beep = QtWidgets.QCheckBox("Beep at trial start")
        form = QtWidgets.QFormLayout()
        form.addRow("Trials per class", self.trials_per_class)
        form.addRow("Trials per run", self.trials_per_run)
        for key, label, _ in TIMES:
            form.addRow(label, self.times[key])
        form.addRow(self.beep)
        note = QtWidgets.QLabel("Cue and imagery: seconds from the trial start (fixation cross). After the imagery, "
                                "each trial rests for a random time between the shortest and longest rest.")
        note.setWordWrap(True)
        self.status = QtWidgets.QLabel()
        self.status.setWordWrap(True)
        self.load_button = QtWidgets.QPushButton("Load…")
        self.load_button.setToolTip("The set-up of an earlier session: its folder's paradigm.yaml, a recording "
                                    "(.xdf, from its header) or a YAML config")
        self.reset_button = QtWidgets.QPushButton("Defaults")
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.reset_button)
        buttons.addStretch(1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(classes)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.set_paradigm(paradigm)
        for box in self.class_checks.values():
            box.toggled.connect(lambda _: self._edited())
        for w in (self.trials_per_class, self.trials_per_run, *self.times.values()):
            w.valueChanged.connect(lambda _: self._edited())
        self.beep.toggled.connect(lambda _: self._edited())
        self.load_button.clicked.connect(self._ask_load)
        self.reset_button.clicked.connect(lambda: self.set_paradigm(ParadigmConfig(), emit=True))

    # -- what the window tells it ------------------------------------------------------------------
    def set_base(self, name: str, decoded: Sequence[str], window: tuple[float, float] | None) -> None:
        """The base the session calibrates: ``decoded`` classes (the others are offered disabled) and
        its ``window`` ((seconds after the cue, length); ``None``: not checked)."""
        self._decoded, self._window = tuple(decoded), window
        for c, box in self.class_checks.items():
            box.setEnabled(c in self._decoded)
            box.setToolTip("" if c in self._decoded else f"the base model {name} does not decode {c.replace('_', ' ')}")
        self._edited(emit=False)

    def set_paradigm(self, paradigm: ParadigmConfig, *, emit: bool = False) -> None:
        """Show ``paradigm`` (e.g. a loaded config's); ``emit``: also apply it when it passes."""
        self._filling = True
        try:
            self._seed = paradigm.seed
            for c, box in self.class_checks.items():
                box.setChecked(c in paradigm.classes)
            self.trials_per_class.setValue(paradigm.trials_per_class)
            self.trials_per_run.setValue(paradigm.trials_per_run)
            for key, spin in self.times.items():
                spin.setValue(float(getattr(paradigm, key)))
            self.beep.setChecked(paradigm.beep)
        finally:
            self._filling = False
        self._edited(emit=emit)

    def load(self, path: str | Path) -> ParadigmConfig:
        """Show and apply the set-up of ``path`` (raises :class:`ConfigError` naming what is wrong)."""
        paradigm = load_paradigm(path)
        self.set_paradigm(paradigm, emit=True)
        return paradigm

    # -- reading -----------------------------------------------------------------------------------
    def paradigm(self) -> ParadigmConfig:
        """The set-up shown, validated as the config is (:class:`ConfigError` names the key and value)."""
        data = {"classes": [c for c, box in self.class_checks.items() if box.isChecked()],
                "trials_per_class": self.trials_per_class.value(), "trials_per_run": self.trials_per_run.value(),
                "beep": self.beep.isChecked(), "seed": self._seed,
                **{key: round(spin.value(), 3) for key, spin in self.times.items()}}
        return config_from_dict({"paradigm": data}, origin="paradigm set-up").paradigm

    def problems(self) -> list[str]:
        """Why the set-up shown cannot calibrate the base (empty when it can)."""
        try:
            paradigm = self.paradigm()
        except ConfigError as exc:
            return [str(exc)]
        return paradigm_problems(paradigm, decoded=self._decoded, window=self._window or (0.0, 0.0))

    def _edited(self, emit: bool = True) -> None:
        if self._filling:
            return
        problems = self.problems()
        if problems:
            self.status.setText("Not used: " + " ".join(problems))
            self.status.setStyleSheet("color:#b71c1c")
            return
        paradigm = self.paradigm()
        self.status.setText(describe_paradigm(paradigm))
        self.status.setStyleSheet("color:#2e7d32")
        if emit:
            self.paradigm_changed.emit(paradigm)

    def _ask_load(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "The paradigm set-up of a session", "", "Session files (paradigm.yaml *.xdf *.yaml *.yml)")
        if path:
            try:
                self.load(path)
            except ConfigError as exc:
                self.status.setText(f"Not loaded: {exc}")
                self.status.setStyleSheet("color:#b71c1c")


def _spin(low: int, high: int, tip: str) -> QtWidgets.QSpinBox:
    spin = QtWidgets.QSpinBox()
    spin.setRange(low, high)
    spin.setToolTip(tip)
    return spin


def _seconds(top: float) -> QtWidgets.QDoubleSpinBox:
    spin = QtWidgets.QDoubleSpinBox()
    spin.setRange(0.0, top)
    spin.setDecimals(2)
    spin.setSingleStep(0.25)
    spin.setSuffix(" s")
    return spin
