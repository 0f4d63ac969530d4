"""The main window: a thin view over the Qt-free core.

One ~30 Hz ``QTimer`` pulls snapshots (stream buffer, paradigm state, training history, latest
prediction) and renders the visible panel; core events (from any thread) are queued by plain
callbacks and drained by that timer, so no per-chunk cross-thread signal exists. Connecting a
source runs on a worker thread; nothing here blocks the event loop.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from bci_app.acquisition.sources import make_stream
from bci_app.config import AppConfig, load_config
from bci_app.gui.calibration_view import CueDisplay, OperatorPanel
from bci_app.gui.errors import log_exception, plain_message, setup_file_log
from bci_app.gui.guide_view import GuidePanel
from bci_app.gui.layout import ScrollTabs, fit_to_screen
from bci_app.gui.online_view import OnlinePanel
from bci_app.gui.paradigm_view import ParadigmEditor
from bci_app.gui.replay_view import ReplayPanel
from bci_app.gui.report_view import ReportPanel
from bci_app.gui.session_panel import SessionPanel
from bci_app.gui.signal_view import SignalView
from bci_app.gui.source_panel import SourcePanel
from bci_app.gui.training_view import TrainingPanel
from bci_app.session import Session

log = logging.getLogger(__name__)

FRAME_MS = 33


class ErrorBanner(QtWidgets.QFrame):
    """A visible, non-modal error message with a Dismiss button (no stack traces)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet("ErrorBanner{background:#ffebee;border:1px solid #c62828;border-radius:4px}")
        self.title = QtWidgets.QLabel()
        self.title.setStyleSheet("color:#b71c1c;font-weight:bold")
        self.text = QtWidgets.QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        dismiss = QtWidgets.QPushButton("Dismiss")
        dismiss.clicked.connect(self.hide)
        layout = QtWidgets.QHBoxLayout(self)
        col = QtWidgets.QVBoxLayout()
        col.addWidget(self.title)
        col.addWidget(self.text)
        layout.addLayout(col, 1)
        layout.addWidget(dismiss)
        self.hide()

    def show_error(self, title: str, text: str) -> None:
        self.title.setText(title)
        self.text.setText(text)
        self.show()


class MainWindow(QtWidgets.QMainWindow):
    """bci-app's window. ``session`` is a core ``bci_app.session.Session`` (created when omitted);
    ``training_factory(session) -> (job, to_model, cancel)`` builds the fine-tuning job run after a
    finished calibration (default: :meth:`Session.calibration_training`; see :mod:`bci_app.gui.session_bridge`);
    ``config_path``: the YAML file ``config`` came from (shown in the Session tab)."""

    _connect_done = QtCore.Signal(object, object)  # (stream or None, exception or None), once per connect

    def __init__(
        self,
        config: AppConfig | None = None,
        *,
        session=None,
        log_dir: str | Path | None = None,
        frame_ms: int = FRAME_MS,
        training_factory=None,
        config_path: str | Path | None = None,
    ) -> None:
        super().__init__()
        self.config = config or load_config()
        self.log_path = setup_file_log(log_dir)
        self.session = session if session is not None else Session(self.config)
        # the app trains by itself when a calibration ends (the session decides; see Session)
        self.session.train_after_calibration = True
        if training_factory is not None:
            self.session.training_factory = training_factory
        self._connect_thread: threading.Thread | None = None
        self._connecting_spec: dict = {}
        self._shutdown_hooks: list = []
        self.stream = None
        self.state_text = "idle"
        self.setWindowTitle("bci-app")

        # panels
        self.source_panel = SourcePanel(brainflow=self.config.brainflow, channels=self.config.channels)
        self.session_panel = SessionPanel(self.config, self.log_path, config_path=config_path)
        self.signal_view = SignalView()
        self.cue_display = CueDisplay()
        self.operator_panel = OperatorPanel()
        self.training_panel = TrainingPanel()
        self.online_panel = OnlinePanel()
        self.replay_panel = ReplayPanel()
        self.report_panel = ReportPanel()
        self.guide_panel = GuidePanel()
        self.paradigm_editor = ParadigmEditor(self.config.paradigm)
        self.error_banner = ErrorBanner()

        calib = QtWidgets.QSplitter()
        calib.addWidget(self.cue_display)
        calib.addWidget(self.operator_panel)
        calib.setStretchFactor(0, 3)
        calib.setStretchFactor(1, 2)
        self.tabs = ScrollTabs()  # pages scroll rather than push the window past a small screen
        self.tabs.add_panel(self.signal_view, "Signals")
        self.tabs.add_panel(calib, "Calibration")
        self.tabs.add_panel(self.training_panel, "Training")
        self.tabs.add_panel(self.online_panel, "Online")
        self.tabs.add_panel(self.replay_panel, "Replay")
        self.tabs.add_panel(self.report_panel, "Report")
        #: the tab shown for each session mode
        self.mode_panels = {"calibrating": calib, "training": self.training_panel, "online": self.online_panel,
                            "replay": self.replay_panel}
        self.left_tabs = left = ScrollTabs()
        left.add_panel(self.source_panel, "Source")
        left.add_panel(self.session_panel, "Session")
        left.add_panel(self.paradigm_editor, "Paradigm")
        left.setMaximumWidth(420)
        split = QtWidgets.QSplitter()
        split.addWidget(left)
        split.addWidget(self.tabs)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        central = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.error_banner)
        layout.addWidget(self.guide_panel)
        layout.addWidget(split, 1)
        self.setCentralWidget(central)
        self.state_label = QtWidgets.QLabel()
        self.state_label.setStyleSheet("font-weight:bold;padding:0 8px")
        self.stream_label = QtWidgets.QLabel()
        self.statusBar().addWidget(self.state_label)
        self.statusBar().addWidget(self.stream_label, 1)
        self.set_state("idle")
        from bci_app.gui.actions import install_actions

        self.actions_by_name = install_actions(self)
        fit_to_screen(self, QtCore.QSize(1600, 1000))  # shrunk to a smaller screen's available area

        # wiring (GUI-internal signals only)
        self.source_panel.connect_requested.connect(self.connect_source)
        self.source_panel.disconnect_requested.connect(self.disconnect_source)
        self.session_panel.error.connect(self.show_error)
        self.session_panel.config_changed.connect(self._on_config)
        self.session_panel.offer_changed.connect(self._on_resume_offer)
        self.paradigm_editor.paradigm_changed.connect(self._on_paradigm)
        self._connect_done.connect(self._on_connected)
        self._wire_session_controls()
        self.show_base()

        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(frame_ms)
        self.timer.timeout.connect(self.tick)
        self.timer.start()
        self.session_panel.rescan()  # unfinished recordings from a crash: offered when found (worker thread)

    # -- session ---------------------------------------------------------------------------------
    def _wire_session_controls(self) -> None:
        """Buttons for calibration, training, online and replay call the session (see session_bridge)."""
        from bci_app.gui.session_bridge import SessionBridge

        self.bridge = SessionBridge(self)

    # -- state & errors --------------------------------------------------------------------------
    def set_state(self, text: str) -> None:
        self.state_text = text
        self.state_label.setText(f"State: {text}")

    def show_mode_panel(self, mode: str) -> None:
        """Bring the tab of a session mode to the front (modes without a tab leave the tabs alone)."""
        panel = self.mode_panels.get(mode)
        if panel is not None:
            self.tabs.setCurrentWidget(panel)

    def mode_panel_shown(self, mode: str) -> bool:
        """Whether the tab of a session mode is the current one (only it needs drawing)."""
        return self.tabs.currentWidget() is self.mode_panels.get(mode)

    def toggle_participant_screen(self) -> None:
        """The participant screen full screen on the monitor chosen in the visible tab, or back."""
        choice = self.online_panel.screen_choice if self.tabs.currentWidget() is self.online_panel \
            else self.operator_panel.screen_choice
        self.cue_display.toggle_fullscreen(choice.currentIndex())

    def show_shortcuts(self) -> None:
        """Help: the keyboard shortcuts (a non-modal box)."""
        from bci_app.gui.actions import shortcuts_text

        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Information, "Keyboard shortcuts",
                                    shortcuts_text() + "\nEsc\tLeave the participant screen", parent=self)
        box.setModal(False)
        box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()

    def show_error(self, exc: BaseException, doing: str = "") -> None:
        """Show ``exc`` in plain words; the traceback goes to the log file."""
        log_exception(exc, doing)
        title, text = plain_message(exc, doing)
        self.error_banner.show_error(title, f"{text}\n(Details: {self.log_path})")

    def _on_config(self, config: AppConfig) -> None:
        self.config = config
        self.bridge.config_changed(config)
        self.show_base()
        self.paradigm_editor.set_paradigm(config.paradigm)

    def show_base(self) -> None:
        """Tell the paradigm editor which classes and window the configured base has."""
        from bci_app.errors import ModelError
        from bci_app.models.pretrained import base_model_metadata
        from bci_app.vocabulary import CLASSES, window_span

        base = self.session.config.model.base
        try:
            meta = base_model_metadata(base)
        except ModelError as exc:
            log.warning("the paradigm editor cannot check against the base %s: %s", base, exc)
            self.paradigm_editor.set_base(base, CLASSES, None)
            return
        self.paradigm_editor.set_base(base, meta["classes"], self.session.model_window or window_span(meta))

    def _on_paradigm(self, paradigm) -> None:
        """The operator's paradigm set-up: the session's from now (refused, said, while a run is under
        way), the config saved from the Session tab, and the beep of the cue display."""
        if self.bridge._call("set_paradigm", "changing the paradigm", paradigm):  # noqa: SLF001 - the bridge's one call path
            self.config = self.config.model_copy(update={"paradigm": paradigm})
            self.session_panel.config = self.session_panel.config.model_copy(update={"paradigm": paradigm})
            self.operator_panel.beep_check.setChecked(paradigm.beep)

    def _on_resume_offer(self, scan) -> None:
        """An unfinished recording is offered: bring the Session tab (with the offer) to the front."""
        if scan is not None:
            self.left_tabs.setCurrentWidget(self.session_panel)

    # -- source ----------------------------------------------------------------------------------
    def connect_source(self, spec: dict) -> None:
        """Create the stream for ``spec`` and connect it on a worker thread."""
        if self._connect_thread is not None and self._connect_thread.is_alive():
            return
        try:
            stream = make_stream(spec, lsl=self.config.lsl)
        except Exception as exc:  # noqa: BLE001 - any bad choice is reported, not raised into Qt
            self.show_error(exc, "preparing the source")
            return
        self.source_panel.set_status("Connecting…", False)
        self.source_panel.connect_button.setEnabled(False)

        def work() -> None:
            try:
                stream.connect()
            except Exception as exc:  # noqa: BLE001 - handed to the UI thread
                self._connect_done.emit(None, exc)
            else:
                self._connect_done.emit(stream, None)

        self._connecting_spec = spec
        self._connect_thread = threading.Thread(target=work, name="connect-source", daemon=True)
        self._connect_thread.start()

    def _on_connected(self, stream, exc) -> None:
        self._connect_thread = None
        if exc is not None:
            self.source_panel.set_status("Not connected (connection failed)", False)
            self.show_error(exc, "connecting to the source")
            return
        if not self.bridge.source_connected(stream):
            stream.disconnect()
            self.source_panel.set_status("Not connected", False)
            return
        self.stream = stream
        self.source_panel.show_connected(self._connecting_spec, stream.info)
        self.signal_view.set_source(stream)

    def disconnect_source(self) -> None:
        closed_by_session = self.bridge.source_disconnecting()
        stream, self.stream = self.stream, None
        self.signal_view.set_source(None)
        if stream is not None and not closed_by_session:
            try:
                stream.disconnect()
            except Exception as exc:  # noqa: BLE001
                self.show_error(exc, "disconnecting")
        self.source_panel.set_status("Not connected", False)
        self.set_state("idle")

    # -- frame -----------------------------------------------------------------------------------
    def tick(self) -> None:
        """One frame: the session delivers its events (bridge), then the visible panel renders."""
        stream = self.stream
        if stream is None and self.session.stream is None:
            self.stream_label.setText("Source: none")
        if stream is not None:
            c = stream.counters
            self.stream_label.setText(
                f"Source: {stream.state.value} · {c.received} samples · lost {c.lost_overflow} · gaps {c.gaps}"
            )
        current = self.tabs.currentWidget()
        if current is self.signal_view and self.signal_view.isVisible():
            try:
                self.signal_view.refresh()
            except Exception as exc:  # noqa: BLE001 - a failed stream must not kill the frame loop
                self.signal_view.set_source(None)
                self.show_error(exc, "reading the source")
        self.bridge.render()

    # -- close -----------------------------------------------------------------------------------
    def add_shutdown_hook(self, hook) -> None:
        """``hook()`` runs when the window shuts down, after the session has stopped (e.g. the demo's
        LSL player and simulator)."""
        self._shutdown_hooks.append(hook)

    def shutdown(self) -> None:
        """Stop every job and thread the window started, close files and the source. Idempotent."""
        self.timer.stop()
        self.session_panel.shutdown()
        self.bridge.shutdown()
        if self._connect_thread is not None:
            self._connect_thread.join(10.0)
            self._connect_thread = None
        QtCore.QCoreApplication.sendPostedEvents()  # deliver a late _connect_done before disconnecting
        self.source_panel.wait_discovery()
        self.report_panel.bids.wait()
        self.disconnect_source()
        hooks, self._shutdown_hooks = self._shutdown_hooks, []
        for hook in hooks:
            try:
                hook()
            except Exception as exc:  # noqa: BLE001 - closing must finish; the failure is logged
                log_exception(exc, "closing")

    def _owns(self, widget: QtWidgets.QWidget) -> bool:
        """``widget`` (a window) was opened by this window (a parent of it, across windows)."""
        parent = widget.parentWidget()
        while parent is not None:
            if parent is self:
                return True
            parent = parent.parentWidget()
        return False

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802
        """Closing the window ends the app once every file is complete (FilesView): every job stops, and
        every other window of the app (the participant screen, a message) closes with it."""
        if not self.bridge.files.finish_before_closing():
            return event.ignore()
        self.shutdown()
        for widget in QtWidgets.QApplication.topLevelWidgets():
            if widget is not self and widget.isVisible() and (widget is self.cue_display or self._owns(widget)):
                widget.close()
        super().closeEvent(event)
