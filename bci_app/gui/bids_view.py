"""BIDS export in the window: a session folder (or one recording) written as a BIDS EEG dataset by
:func:`bci_app.io.bids.export_bids` on a worker thread, its progress per recording and its outcome
(or the error, in plain words) shown here. The XDF stays the source of truth."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from bci_app.gui.errors import plain_message

log = logging.getLogger(__name__)


class BidsExportBox(QtWidgets.QGroupBox):
    """Source (session folder or recording), BIDS root, *Export BIDS*; emits ``finished(result,
    exception)`` on the UI thread when an export ends (a :class:`~bci_app.io.bids.BidsExport` or
    ``None``, and the exception or ``None``)."""

    finished = QtCore.Signal(object, object)
    _progress = QtCore.Signal(int, int, str)
    _done = QtCore.Signal(object, object)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("BIDS export", parent)
        self.source_edit = QtWidgets.QLineEdit()
        self.source_edit.setPlaceholderText("session folder or recording (.xdf)")
        self.root_edit = QtWidgets.QLineEdit()
        self.root_edit.setPlaceholderText("BIDS dataset folder (created if needed)")
        self.source_browse = QtWidgets.QPushButton("Folder…")
        self.root_browse = QtWidgets.QPushButton("Folder…")
        self.overwrite_check = QtWidgets.QCheckBox("Replace earlier files of this session")
        self.export_button = QtWidgets.QPushButton("Export BIDS")
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)  # "k of n recordings" once an export has counted them
        self.status = QtWidgets.QLabel("Writes the session's recordings as BIDS EEG (BrainVision, events, channels, "
                                       "participants); the XDF files stay as they are.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QtWidgets.QFormLayout(self)
        for label, edit, browse in (("Session", self.source_edit, self.source_browse),
                                    ("BIDS root", self.root_edit, self.root_browse)):
            row = QtWidgets.QHBoxLayout()
            row.addWidget(edit, 1)
            row.addWidget(browse)
            form.addRow(label, row)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.overwrite_check)
        row.addStretch(1)
        row.addWidget(self.export_button)
        form.addRow(row)
        form.addRow(self.progress)
        form.addRow(self.status)
        self.result = None
        self._thread: threading.Thread | None = None
        self.source_browse.clicked.connect(lambda: self._ask(self.source_edit, "The session folder to export"))
        self.root_browse.clicked.connect(lambda: self._ask(self.root_edit, "The BIDS dataset folder"))
        self.export_button.clicked.connect(self.start_export)
        self._progress.connect(self._show_progress)
        self._done.connect(self._on_done)

    def set_source(self, folder: str | Path) -> None:
        """Offer ``folder`` (the participant's session folder); the BIDS root defaults to ``bids``
        beside the participants' folders (``<recording directory>/bids``)."""
        folder = Path(folder)
        self.source_edit.setText(str(folder))
        if not self.root_edit.text().strip():
            self.root_edit.setText(str(folder.parent.parent / "bids"))

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start_export(self) -> bool:
        """Start the export on a worker thread (False, said in the box, when a field is empty or one runs)."""
        source, root = self.source_edit.text().strip(), self.root_edit.text().strip()
        if self.busy:
            return False
        if not source or not root:
            self._say("Give the session folder (or a recording) and the BIDS root first.", error=True)
            return False
        overwrite = self.overwrite_check.isChecked()
        self.export_button.setEnabled(False)
        self.progress.setRange(0, 0)  # busy until the recordings are counted
        self._say(f"Exporting {source} …")

        def work() -> None:
            from bci_app.io.bids import export_bids

            try:
                result = export_bids(source, root, overwrite=overwrite,
                                     progress=lambda done, total, path: self._progress.emit(done, total, str(path)))
            except Exception as exc:  # noqa: BLE001 - handed to the UI thread, shown in the box and the log
                log.error("BIDS export of %s failed", source, exc_info=(type(exc), exc, exc.__traceback__))
                self._done.emit(None, exc)
            else:
                self._done.emit(result, None)

        self._thread = threading.Thread(target=work, name="bids-export", daemon=True)
        self._thread.start()
        return True

    def wait(self, timeout: float = 60.0) -> None:
        """Wait for a running export (the window's shutdown)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _show_progress(self, done: int, total: int, path: str) -> None:
        self.progress.setFormat("%v of %m recordings")
        self.progress.setTextVisible(True)
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        if done < total:
            self._say(f"Exporting {Path(path).name} ({done + 1} of {total}) …")

    def _on_done(self, result, exc) -> None:
        self._thread = None
        self.export_button.setEnabled(True)
        self.result = result
        if exc is not None:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setTextVisible(False)
            title, text = plain_message(exc, "exporting to BIDS")
            self._say(f"{title}: {text}", error=True)
        else:
            ses = "" if result.session is None else f" ses-{result.session}"
            bads = f"; marked bad (repaired): {', '.join(result.bad_channels)}" if result.bad_channels else ""
            self._say(f"Wrote {len(result.files)} recording(s) as sub-{result.subject}{ses} task-{result.task} "
                      f"in {result.bids_root}{bads}")
        self.finished.emit(result, exc)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color:#b71c1c" if error else "")

    def _ask(self, edit: QtWidgets.QLineEdit, title: str) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(self, title, edit.text())
        if path:
            edit.setText(path)
