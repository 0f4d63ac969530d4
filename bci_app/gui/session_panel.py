"""Session panel: subject and session ids, the per-subject data folder, config load/save, log file."""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path

import yaml
from PySide6 import QtCore, QtWidgets

from bci_app.config import AppConfig, load_config

_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


def safe_id(text: str, default: str) -> str:
    """A folder-safe id: letters, digits, ``_`` and ``-`` only (no path separators, no ``..``)."""
    cleaned = _SAFE.sub("-", text.strip()).strip("-")
    return cleaned or default


def session_folder(root: str | Path, subject: str, session: str, date: _dt.date | None = None) -> Path:
    """``<root>/sub-<subject>/<YYYY-MM-DD>_ses-<session>``: where recordings and adapters go."""
    date = date or _dt.date.today()
    return Path(root).expanduser() / f"sub-{safe_id(subject, 'anonymous')}" / f"{date.isoformat()}_ses-{safe_id(session, '01')}"


class SessionPanel(QtWidgets.QWidget):
    """Who and where: emits ``config_changed(AppConfig)`` after a successful load."""

    config_changed = QtCore.Signal(object)
    error = QtCore.Signal(object, str)

    def __init__(self, config: AppConfig, log_path: Path | None = None, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.config = config
        self.subject_edit = QtWidgets.QLineEdit("S01")
        self.session_edit = QtWidgets.QLineEdit("01")
        self.root_edit = QtWidgets.QLineEdit(config.recording.directory)
        self.folder_label = QtWidgets.QLabel()
        self.folder_label.setWordWrap(True)
        self.folder_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.load_button = QtWidgets.QPushButton("Load config…")
        self.save_button = QtWidgets.QPushButton("Save config…")
        self.config_label = QtWidgets.QLabel("Config: built-in defaults")
        self.log_label = QtWidgets.QLabel(f"Log file: {log_path}" if log_path else "Log file: –")
        self.log_label.setWordWrap(True)
        form = QtWidgets.QFormLayout(self)
        form.addRow("Subject id", self.subject_edit)
        form.addRow("Session id", self.session_edit)
        form.addRow("Data folder", self.root_edit)
        form.addRow("Saving to", self.folder_label)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.load_button)
        row.addWidget(self.save_button)
        form.addRow(row)
        form.addRow(self.config_label)
        form.addRow(self.log_label)
        for edit in (self.subject_edit, self.session_edit, self.root_edit):
            edit.textChanged.connect(self._update_folder)
        self.load_button.clicked.connect(self._ask_load)
        self.save_button.clicked.connect(self._ask_save)
        self._update_folder()

    @property
    def subject(self) -> str:
        return safe_id(self.subject_edit.text(), "anonymous")

    @property
    def session(self) -> str:
        return safe_id(self.session_edit.text(), "01")

    def folder(self) -> Path:
        return session_folder(self.root_edit.text() or self.config.recording.directory, self.subject, self.session)

    def _update_folder(self) -> None:
        self.folder_label.setText(str(self.folder()))

    def load(self, path: str | Path) -> AppConfig:
        """Load and validate a YAML config (raises ConfigError)."""
        config = load_config(path)
        self.config = config
        self.root_edit.setText(config.recording.directory)
        self.config_label.setText(f"Config: {Path(path).name}")
        self.config_changed.emit(config)
        return config

    def save(self, path: str | Path) -> Path:
        """Write the current config as YAML (only through ``yaml.safe_dump``)."""
        path = Path(path)
        data = self.config.model_dump(mode="json")
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        self.config_label.setText(f"Config: saved to {path.name}")
        return path

    def _ask_load(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Load config", "", "YAML (*.yaml *.yml)")
        if path:
            try:
                self.load(path)
            except Exception as exc:  # noqa: BLE001 - shown to the user by the main window
                self.error.emit(exc, "loading the configuration")

    def _ask_save(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save config", "bci-app.yaml", "YAML (*.yaml)")
        if path:
            try:
                self.save(path)
            except OSError as exc:
                self.error.emit(exc, "saving the configuration")
