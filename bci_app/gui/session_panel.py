"""Session panel: subject and session ids, the per-subject data folder, recording start/stop,
the offer to continue a session a crash left unfinished, config load/save, log file.

Unfinished recordings (no StreamFooter: the app was killed or lost power) are looked for with
:func:`bci_app.io.resume.find_incomplete_recordings` on a worker thread when the window starts and
when the data folder or the subject id changes. One is offered in a non-modal banner
(:class:`ResumeBanner`): *Continue* makes the next recording go to
:func:`~bci_app.io.resume.continuation_path` of it with the same subject and session ids;
*Dismiss* leaves the file as it is (it stays readable) and stops offering it in this run.
"""

from __future__ import annotations

import datetime as _dt
import re
import threading
from pathlib import Path

import yaml
from PySide6 import QtCore, QtWidgets

from bci_app.config import AppConfig, load_config
from bci_app.errors import BCIError
from bci_app.io.resume import XdfScan, continuation_path, find_incomplete_recordings

_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


def safe_id(text: str, default: str) -> str:
    """A folder-safe id: letters, digits, ``_`` and ``-`` only (no path separators, no ``..``)."""
    cleaned = _SAFE.sub("-", text.strip()).strip("-")
    return cleaned or default


_SUBJECT_DIR = re.compile(r"^sub-(?P<subject>[A-Za-z0-9_-]+)$")
_SESSION_DIR = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})_ses-(?P<session>[A-Za-z0-9_-]+)$")
RESCAN_DELAY_MS = 400


def ids_from_path(path: str | Path) -> tuple[str, str] | None:
    """``(subject, session)`` of a recording stored as ``…/sub-<subject>/<date>_ses-<session>/<file>``
    (see :func:`session_folder`); ``None`` for a file stored elsewhere."""
    path = Path(path)
    subj, ses = _SUBJECT_DIR.match(path.parent.parent.name), _SESSION_DIR.match(path.parent.name)
    if subj is None or ses is None:
        return None
    return subj.group("subject"), ses.group("session")


def recording_name(subject: str, session: str, run: int) -> str:
    """``sub-<subject>_ses-<session>_run-<NN>.xdf``."""
    return f"sub-{safe_id(subject, 'anonymous')}_ses-{safe_id(session, '01')}_run-{run:02d}.xdf"


def _is_part_of(path: Path, original: Path) -> bool:
    """True when ``path`` is a continuation file (``<stem>-partN.xdf``) of ``original``."""
    base = re.sub(r"-part\d+$", "", original.stem)
    return path.parent == original.parent and re.fullmatch(re.escape(base) + r"-part\d+", path.stem) is not None


def session_folder(root: str | Path, subject: str, session: str, date: _dt.date | None = None) -> Path:
    """``<root>/sub-<subject>/<YYYY-MM-DD>_ses-<session>``: where recordings and adapters go."""
    date = date or _dt.date.today()
    return Path(root).expanduser() / f"sub-{safe_id(subject, 'anonymous')}" / f"{date.isoformat()}_ses-{safe_id(session, '01')}"


class ResumeBanner(QtWidgets.QFrame):
    """Non-modal offer to continue an unfinished recording: a message with Continue and Dismiss."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet("ResumeBanner{background:#fff8e1;border:1px solid #f9a825;border-radius:4px}")
        self.title = QtWidgets.QLabel("Unfinished session found")
        self.title.setStyleSheet("color:#e65100;font-weight:bold")
        self.text = QtWidgets.QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.continue_button = QtWidgets.QPushButton("Continue")
        self.continue_button.setToolTip("The next recording goes to a new file next to the unfinished one")
        self.dismiss_button = QtWidgets.QPushButton("Dismiss")
        self.dismiss_button.setToolTip("Leave the file as it is (it stays readable); start a new session")
        buttons = QtWidgets.QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.continue_button)
        buttons.addWidget(self.dismiss_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        layout.addLayout(buttons)
        self.hide()


def _offer_text(scan: XdfScan, n_more: int) -> str:
    ids = ids_from_path(scan.path)
    try:
        written = _dt.datetime.fromtimestamp(scan.path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    except OSError:
        written = "unknown"
    who = f"The last session of subject {ids[0]} (session {ids[1]}, " if ids else "A recording ("
    text = (f"{who}file {scan.path.name}, last written {written}) was not closed properly. "
            f"What was recorded up to then is kept and readable. Continue it? The next recording will go to "
            f"{continuation_path(scan.path).name} in the same folder.")
    if n_more:
        text += f"\n({n_more} more unfinished recording{'s' if n_more > 1 else ''} in the data folder.)"
    return text


class SessionPanel(QtWidgets.QWidget):
    """Who and where: emits ``config_changed(AppConfig)`` after a successful load,
    ``record_requested()`` / ``stop_record_requested()`` from the recording buttons (the window
    starts the recording at :meth:`next_recording_path`) and ``offer_changed(object)`` with the
    unfinished recording offered (an :class:`~bci_app.io.resume.XdfScan`) or ``None``."""

    config_changed = QtCore.Signal(object)
    error = QtCore.Signal(object, str)
    record_requested = QtCore.Signal()
    stop_record_requested = QtCore.Signal()
    offer_changed = QtCore.Signal(object)
    _scanned = QtCore.Signal(int, object, object)  # (generation, list[XdfScan] or None, exception or None)

    def __init__(self, config: AppConfig, log_path: Path | None = None, parent: QtWidgets.QWidget | None = None,
                 *, config_path: str | Path | None = None) -> None:
        super().__init__(parent)
        self.config = config
        #: the participant's session folder (:meth:`show_participant`): recordings go there
        self.participant_folder: Path | None = None
        self.offer: XdfScan | None = None  # the unfinished recording offered now
        self.continuing: Path | None = None  # the unfinished recording the next one continues
        self.recording_path: Path | None = None  # the file being recorded now
        self.n_scans = 0  # finished scans (for tests and diagnostics)
        self._found: list[XdfScan] = []
        self._dismissed: set[Path] = set()
        self._own: set[Path] = set()  # files recorded in this run: never offered
        self._scan_gen = 0
        self._scan_threads: list[threading.Thread] = []
        self._closed = False
        self._can_record = False
        self._recording_continues: Path | None = None
        self.subject_edit = QtWidgets.QLineEdit("S01")
        self.session_edit = QtWidgets.QLineEdit("01")
        self.root_edit = QtWidgets.QLineEdit(config.recording.directory)
        self.folder_label = QtWidgets.QLabel()
        self.folder_label.setWordWrap(True)
        self.folder_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.resume_banner = ResumeBanner()
        self.record_button = QtWidgets.QPushButton("Start recording")
        self.stop_record_button = QtWidgets.QPushButton("Stop recording")
        self.record_label = QtWidgets.QLabel()
        self.record_label.setWordWrap(True)
        self.record_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.load_button = QtWidgets.QPushButton("Load config…")
        self.save_button = QtWidgets.QPushButton("Save config…")
        self.config_label = QtWidgets.QLabel(f"Config: {config_path}" if config_path else
                                             "Config: built-in defaults (configs/default.yaml)")
        self.config_label.setWordWrap(True)
        self.config_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log_label = QtWidgets.QLabel(f"Log file: {log_path}" if log_path else "Log file: –")
        self.log_label.setWordWrap(True)
        form = QtWidgets.QFormLayout(self)
        form.addRow(self.resume_banner)
        form.addRow("Participant", self.subject_edit)
        form.addRow("Session id", self.session_edit)
        form.addRow("Data folder", self.root_edit)
        form.addRow("Saving to", self.folder_label)
        rec_row = QtWidgets.QHBoxLayout()
        rec_row.addWidget(self.record_button)
        rec_row.addWidget(self.stop_record_button)
        form.addRow(rec_row)
        form.addRow(self.record_label)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.load_button)
        row.addWidget(self.save_button)
        form.addRow(row)
        form.addRow(self.config_label)
        form.addRow(self.log_label)
        self._rescan_timer = QtCore.QTimer(self)
        self._rescan_timer.setSingleShot(True)
        self._rescan_timer.setInterval(RESCAN_DELAY_MS)
        self._rescan_timer.timeout.connect(self.rescan)
        for edit in (self.subject_edit, self.session_edit, self.root_edit):
            edit.textChanged.connect(self._update_folder)
        for edit in (self.subject_edit, self.root_edit):  # the subject folder changes: look again
            edit.textChanged.connect(self._rescan_timer.start)
        self.load_button.clicked.connect(self._ask_load)
        self.save_button.clicked.connect(self._ask_save)
        self.record_button.clicked.connect(self.record_requested)
        self.stop_record_button.clicked.connect(self.stop_record_requested)
        self.resume_banner.continue_button.clicked.connect(self.continue_offer)
        self.resume_banner.dismiss_button.clicked.connect(self.dismiss_offer)
        self._scanned.connect(self._on_scanned)
        self._update_folder()

    @property
    def subject(self) -> str:
        return safe_id(self.subject_edit.text(), "anonymous")

    @property
    def session(self) -> str:
        return safe_id(self.session_edit.text(), "01")

    def root(self) -> Path:
        """The data folder (``recording.directory`` unless edited)."""
        return Path(self.root_edit.text() or self.config.recording.directory).expanduser()

    def folder(self) -> Path:
        """Where recordings go: the participant's session folder once a session started, else
        ``<data folder>/sub-<subject>/<date>_ses-<session>``."""
        if self.participant_folder is not None:
            return self.participant_folder
        return session_folder(self.root(), self.subject, self.session)

    def show_participant(self, participant: str, folder: str | Path) -> None:
        """A participant's session started (guide): show who and where; recordings go to ``folder``."""
        self.participant_folder = Path(folder)
        self.subject_edit.setText(participant)
        for edit in (self.subject_edit, self.session_edit, self.root_edit):
            edit.setEnabled(False)
            edit.setToolTip("set by the participant's session (the guide's Start session)")
        self.session_edit.setText(self.participant_folder.name)
        self._update_folder()

    def next_recording_path(self) -> Path:
        """Where the next recording goes: the continuation of the unfinished recording the operator
        chose to continue, else the first free ``sub-…_ses-…_run-NN.xdf`` in :meth:`folder`."""
        if self.continuing is not None:
            return continuation_path(self.continuing)
        folder = self.folder()
        run = 1
        while (folder / recording_name(self.subject, self.session, run)).exists():
            run += 1
        return folder / recording_name(self.subject, self.session, run)

    def _update_folder(self) -> None:
        if self.continuing is not None and (
            ids_from_path(self.continuing) not in (None, (self.subject, self.session))
            or not self.continuing.is_relative_to(self.root())
        ):
            self.continuing = None  # the operator moved to another subject, session or folder
        folder = self.continuing.parent if self.continuing is not None else self.folder()
        self.folder_label.setText(str(folder))
        self._update_record_label()

    # -- recording ---------------------------------------------------------------------------------
    def set_can_record(self, can: bool) -> None:
        """Enable the recording buttons (a source is connected and the session may record)."""
        self._can_record = can
        self._update_record_buttons()

    def _update_record_buttons(self) -> None:
        recording = self.recording_path is not None
        self.record_button.setEnabled(self._can_record and not recording)
        self.stop_record_button.setEnabled(recording)

    def _update_record_label(self, last: str = "") -> None:
        if self.recording_path is not None:
            text = f"Recording to {self.recording_path}"
            if self._recording_continues is not None:
                text += f" (continues {self._recording_continues.name})"
        else:
            nxt = self.next_recording_path()
            text = f"{last}Next recording: {nxt.name}"
            if self.continuing is not None:
                text += f" (continues {self.continuing.name}, same subject and session)"
        self.record_label.setText(text)

    def recording_changed(self, path: str | Path, state: str) -> None:
        """The session's ``recording`` event: ``state`` is ``started``, ``closing``, ``stopped`` or ``failed``."""
        path = Path(path) if path else None
        last = ""
        if state == "started" and path is not None:
            self.recording_path = path
            self._own.add(path)
            self._recording_continues = None
            if self.continuing is not None and _is_part_of(path, self.continuing):
                self._recording_continues = self.continuing
                self.continuing = None  # continued: the next recording starts a new run
                self._update_folder()
        else:
            self.recording_path = None
            if path is not None:
                last = (f"Closing the recording {path.name}… (its end is written to disk)\n" if state == "closing"
                        else f"Last recording {'failed' if state == 'failed' else 'saved'}: {path.name}\n")
        self._update_record_buttons()
        self._update_record_label(last)

    # -- unfinished recordings -------------------------------------------------------------------
    def rescan(self) -> None:
        """Look for unfinished recordings in the data folder on a worker thread (non-blocking); the
        result updates the offer. Called at start-up and when the data folder or subject changes."""
        if self._closed:
            return
        self._rescan_timer.stop()
        self._scan_threads = [t for t in self._scan_threads if t.is_alive()]
        self._scan_gen += 1
        gen, root = self._scan_gen, self.root()

        def work() -> None:
            try:
                found, exc = find_incomplete_recordings(root), None
            except Exception as err:  # noqa: BLE001 - handed to the UI thread and shown
                found, exc = None, err
            try:
                self._scanned.emit(gen, found, exc)
            except RuntimeError:  # the panel was deleted meanwhile: nothing to show
                pass

        thread = threading.Thread(target=work, name="resume-scan", daemon=True)
        self._scan_threads.append(thread)
        thread.start()

    def _on_scanned(self, gen: int, found, exc) -> None:
        if self._closed or gen != self._scan_gen:
            return  # a newer scan is on its way
        self.n_scans += 1
        if exc is not None:
            self.error.emit(exc, f"looking for unfinished recordings in {self.root()}")
            return
        self._found = list(found)
        self._show_offer()

    def _candidates(self) -> list[XdfScan]:
        skip = self._dismissed | self._own | {p for p in (self.continuing, self.recording_path) if p is not None}
        found = [s for s in self._found if s.path not in skip and s.path.exists()]
        mine = [s for s in found if (ids_from_path(s.path) or ("",))[0] == self.subject]
        return mine + [s for s in found if s not in mine]  # the current subject's first, then oldest first

    def _show_offer(self) -> None:
        cands = self._candidates()
        if not cands:
            self.offer = None
            self.resume_banner.hide()
        else:
            mine = [s for s in cands if (ids_from_path(s.path) or ("",))[0] == self.subject]
            self.offer = (mine or cands)[-1]  # the most recent
            self.resume_banner.text.setText(_offer_text(self.offer, len(cands) - 1))
            self.resume_banner.text.setToolTip(str(self.offer.path))
            self.resume_banner.show()
        self.offer_changed.emit(self.offer)

    def continue_offer(self) -> None:
        """Continue the offered recording: the next recording goes to its continuation file, with
        the subject and session ids taken from its folder."""
        scan = self.offer
        if scan is None:
            return
        ids = ids_from_path(scan.path)
        self.continuing = None
        if ids is not None:
            self.subject_edit.setText(ids[0])
            self.session_edit.setText(ids[1])
            self._rescan_timer.stop()  # same data: no need to look again
        self.continuing = scan.path
        self._update_folder()
        self._show_offer()

    def dismiss_offer(self) -> None:
        """Leave the offered recording as it is (readable, not continued) and stop offering it."""
        if self.offer is not None:
            self._dismissed.add(self.offer.path)
        self._show_offer()

    def shutdown(self) -> None:
        """Stop the rescan timer and wait for a running scan (it only reads chunk headers)."""
        self._closed = True
        self._rescan_timer.stop()
        for thread in self._scan_threads:
            thread.join(10.0)
        self._scan_threads = []

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
        from bci_app.outputs import atomic_write_text

        atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))
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
            except (OSError, BCIError) as exc:  # the atomic writer's OutputError (e.g. a FIFO of that name)
                self.error.emit(exc, "saving the configuration")
