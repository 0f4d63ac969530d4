"""A replay as the window shows it: the replayed decisions (made on the session's decoder thread,
queued, moved here by the frame timer), the live decisions logged in the recording, and the replay
panel's text. Used by :class:`~bci_app.gui.session_bridge.SessionBridge`; the replay itself is the
session's (``replay_file``/``stop_replay``). Play opens the recording in the background (reading a
file and building its decoder took the UI thread 0.1-0.3 s): the panel says so, and fills in when
the session enters ``replay`` (:meth:`ReplayRun.started`)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from bci_app.online.replay import live_predictions

if TYPE_CHECKING:
    from bci_app.gui.main_window import MainWindow


class ReplayRun:
    """The window's side of one replay at a time (UI thread only, but for :attr:`queue`)."""

    def __init__(self, window: MainWindow) -> None:
        self.w = window
        self.predictions: list = []  # replayed decisions, filled from `queue` each frame
        self.queue: queue.SimpleQueue = queue.SimpleQueue()  # decisions from the decoder thread
        self.live: list = []  # the decisions logged live in the recording
        self.sfreq = 1.0
        self._steps: list[Callable[[], bool | None]] = []  # one-off work of a starting replay, one per frame

    def start(self, call: Callable, has_model: bool) -> None:
        """Replay the panel's file through the session (``call`` is the bridge's guarded session call)."""
        rp = self.w.replay_panel
        path = rp.path_edit.text().strip()
        if not path:
            rp.status_label.setText("Choose a recording first (Open…).")
            return
        if not has_model:
            rp.status_label.setText("Load or train a model first: replay runs the recording through it.")
            return
        if self.w.stream is not None:
            self.w.disconnect_source()
        rp.reset()
        self.predictions.clear()
        self.live = []
        self.queue = queue.SimpleQueue()  # decisions of an earlier replay are dropped
        if call("replay_file", "replaying the recording", path, speed=rp.speed.value(), on_decision=self.queue.put,
                background=True):
            rp.status_label.setText(f"Opening {path}…")
            rp.set_running(True)  # Stop gives up the opening too

    def started(self) -> None:
        """The session entered ``replay``: show the file's live decisions (read on a thread of their own:
        10 minutes of them, 9600, took 16-35 ms), then its signals, one per frame in the frames that
        follow (the frame that started the replay has had its share)."""
        stream = self.w.session.stream
        if stream is None or getattr(stream, "recording", None) is None:
            return
        read: list = []
        threading.Thread(target=lambda: read.append(live_predictions(stream.recording)), name="bci-replay-live",
                         daemon=True).start()

        def show_live() -> bool:
            if not read:
                return False  # not read yet: again next frame
            self.live = read[0]
            self.sfreq = stream.info.sfreq
            self.w.replay_panel.status_label.setText(
                f"Replaying {stream.info.name} at {self.w.replay_panel.speed.value():g}× "
                f"({stream.recording.duration:.0f} s; {len(self.live)} live decisions logged)")
            return True

        # this frame (its render follows at once) adds nothing; the next ones one step each
        self._steps = [lambda: None, show_live, lambda: self.w.signal_view.set_source(stream)]

    def drain(self) -> None:
        """Move the decisions the decoder thread has queued to :attr:`predictions`."""
        while True:
            try:
                self.predictions.append(self.queue.get_nowait())
            except queue.Empty:
                return

    def render(self) -> None:
        if self._steps and self._steps[0]() is not False:  # a step returning False is not done yet
            self._steps.pop(0)
        self.drain()
        if self.w.mode_panel_shown("replay"):
            self.w.replay_panel.render(self.predictions, self.live, self.sfreq)

    def ended(self, state: str) -> None:
        """The session ended the replay (``"finished"``: whole file decoded; ``"stopped"``: early;
        ``"failed"``: the recording could not be opened or played, said by an error)."""
        self._steps.clear()
        self.drain()
        rp = self.w.replay_panel
        n = len(self.predictions)
        rp.render(self.predictions, self.live, self.sfreq)
        rp.status_label.setText(f"Replay finished: {n} decisions replayed" if state == "finished"
                                else "The recording could not be replayed (see the message)" if state == "failed"
                                else f"Replay stopped after {n} decisions")
        self.w.signal_view.set_source(None)
        rp.set_running(False)
