"""The session's files as the window tells them: recordings (started, closing, saved), the calibration
report (being drawn, shown, seen, or why it could not be written), and closing the window only
once every file is complete.

The session completes files on threads of its own after it has moved on (``Session.finishing``: a
recording's last flush and fsync, the report drawn in its own process for 5-11 s), so Stop and
Disconnect return at once. Closing the window waits for them, with the window drawn and saying what
it waits for (:meth:`FilesView.finish_before_closing`): a clinician who closes the app right after
a session loses neither the recording's end nor the report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6 import QtCore

if TYPE_CHECKING:
    from bci_app.gui.main_window import MainWindow

#: how often the window looks whether the files it waits for before closing are complete (ms)
CLOSE_POLL_MS = 50


class FilesView:
    """The window's side of the session's files (module doc); UI thread only."""

    def __init__(self, window: MainWindow) -> None:
        self.w = window
        self.report_seen = False  #: the operator has opened the report shown
        self._closing = False  # a close waits for the files

    def subscribe(self) -> list:
        """Subscribe to the session's ``saved`` and ``recording`` events; returns the unsubscribers."""
        s = self.w.session
        return [s.subscribe("saved", self.on_saved), s.subscribe("recording", self.on_recording)]

    def note_report_seen(self) -> None:
        """The Report tab is shown with a report in it: the guide ticks the report."""
        if self.w.tabs.currentWidget() is self.w.report_panel and self.w.report_panel.captions:
            self.report_seen = True

    def on_saved(self, saved) -> None:
        if saved.report is not None:
            self.report_seen = False
            self.w.report_panel.show_report(saved.report, saved.report_pngs, saved.report_path)
            self.note_report_seen()
        elif saved.note:
            self.w.report_panel.show_failed(saved.note)

    def on_recording(self, ev: dict) -> None:
        self.w.session_panel.recording_changed(ev.get("path", ""), ev.get("state", ""))

    def render(self) -> None:
        """Each frame, after the session's update: whether a report is being drawn; a figure decoded."""
        self.w.report_panel.set_drawing(self.w.session.report_drawing)
        self.w.report_panel.render_figures()

    def finish_before_closing(self) -> bool:
        """Stop the session without waiting, then wait until every file it completes is complete,
        the window drawn meanwhile (its frame timer runs, the reports arrive) and its status bar and
        title saying what it waits for; its controls are off, so nothing new starts. False when a
        wait is under way already (a second close: the first one closes the window)."""
        if self._closing:
            return False
        self._closing = True
        w, s = self.w, self.w.session
        w.disconnect_source()  # the window's source and signal view let go (the session's files go on)
        s.disconnect(wait=False)  # a replay too
        if not s.finishing:
            return True
        for panel in (w.left_tabs, w.tabs, w.guide_panel):
            panel.setEnabled(False)
        title = w.windowTitle()
        loop = QtCore.QEventLoop()
        timer = QtCore.QTimer()
        timer.setInterval(CLOSE_POLL_MS)

        def check() -> None:
            pending = s.finishing
            if not pending:
                loop.quit()
                return
            w.statusBar().showMessage(f"Saving before the window closes: {'; '.join(pending)}…")

        timer.timeout.connect(check)
        w.setWindowTitle(f"{title} - saving before closing")
        check()
        timer.start()
        loop.exec()
        timer.stop()
        s.update()  # the last files' events: the report shown, the recording saved
        w.statusBar().clearMessage()
        w.setWindowTitle(title)
        return True
