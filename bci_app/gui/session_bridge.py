"""The only place the window talks to the Qt-free :class:`bci_app.session.Session`; it holds no logic.

Buttons map to session calls (``connect``/``disconnect``, ``start_calibration``/``abort_calibration``,
``pause``/``resume`` of ``session.paradigm``, ``cancel_training``, ``start_online``/``stop_online``,
``start_online_trials``, ``replay_file``/``stop_replay``, ``start_recording``/``stop_recording``,
``set_config``); session events are rendered into the panels. What happens when (training after a
calibration, the end of a replay, the calibration quality, the LoRA plan) is decided by the session.
Each frame the window calls :meth:`SessionBridge.render`: ``session.update()`` delivers the events
synchronously in this thread, then the visible panel draws snapshots. Nothing here blocks: long jobs
run on the session's threads; replayed decisions come from the decoder thread through a queue
(:class:`~bci_app.gui.replay_run.ReplayRun`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bci_app.acquisition.simulated import cued_imagery
from bci_app.errors import ConfigError
from bci_app.gui.cue_source_view import CueOpener
from bci_app.gui.files_view import FilesView
from bci_app.gui.online_view import prediction_fields
from bci_app.gui.replay_run import ReplayRun
from bci_app.session import Mode
from bci_app.workflow import continue_reason, session_facts

if TYPE_CHECKING:
    from bci_app.gui.main_window import MainWindow

log = logging.getLogger(__name__)

ERROR_TITLES = {"stream": "The EEG source has a problem", "training": "Training", "calibration": "Calibration",
                "online": "Online decoding", "recording": "Recording"}


def _connect_controls(bridge: SessionBridge, window: MainWindow) -> None:
    """Every control of ``window`` to what ``bridge`` (or its session) does with it."""
    op, tr, on, rp = window.operator_panel, window.training_panel, window.online_panel, window.replay_panel
    sp = window.session_panel
    gp = window.guide_panel
    gp.participant_chosen.connect(bridge.start_participant)
    gp.continue_requested.connect(bridge.continue_previous)
    window.tabs.currentChanged.connect(lambda _: bridge.files.note_report_seen())
    tr.retrain_button.clicked.connect(bridge.retrain)
    sp.record_requested.connect(bridge.start_recording)
    sp.stop_record_requested.connect(lambda: bridge._call("stop_recording", "stopping the recording"))
    op.start_button.clicked.connect(bridge.start_calibration)
    op.pause_button.clicked.connect(bridge.pause_calibration)
    op.resume_button.clicked.connect(bridge.resume_calibration)
    op.abort_button.clicked.connect(lambda: bridge._call("abort_calibration", "aborting the calibration"))
    cue = window.cue_display
    op.fullscreen_button.clicked.connect(lambda: cue.toggle_fullscreen(op.screen_choice.currentIndex()))
    on.participant_button.clicked.connect(lambda: cue.toggle_fullscreen(on.screen_choice.currentIndex()))
    cue.fullscreen_changed.connect(bridge._on_fullscreen)
    op.beep_check.toggled.connect(lambda on_: setattr(window.cue_display, "beep", on_))
    op.beep_check.setChecked(window.config.paradigm.beep)  # the config's paradigm.beep, until toggled
    tr.cancel_button.clicked.connect(lambda: bridge._call("cancel_training", "cancelling the training"))
    on.feedback_style.currentTextChanged.connect(window.cue_display.set_feedback_style)
    on.coadapt_check.toggled.connect(lambda checked: setattr(bridge.session, "coadapt", bool(checked)))
    on.start_button.clicked.connect(bridge.start_online)
    on.stop_button.clicked.connect(lambda: bridge._call("stop_online", "stopping online feedback"))
    rp.play_button.clicked.connect(bridge.start_replay)
    rp.stop_button.clicked.connect(lambda: bridge._call("stop_replay", "stopping the replay"))
    on.start_button.setEnabled(False)


class SessionBridge:
    """Wires the panels of ``window`` to ``window.session``."""

    def __init__(self, window: MainWindow) -> None:
        self.w = window
        self.session = s = window.session
        self.imagine = None  # optional imagine(label, onset, duration_s) of a simulated user
        self.history: list = []
        self.replay = ReplayRun(window)
        self.files = FilesView(window)  # recordings, the report, and closing once they are complete
        self.n_predictions = 0
        self._last_pred = None
        window.session_panel.set_can_record(False)
        self._unsubscribe = [
            s.subscribe("mode", self._on_mode),
            s.subscribe("error", self._on_error),
            s.subscribe("quality", self.w.operator_panel.render_summary),  # each trial's check, complete
            s.subscribe("progress", self.history.append),
            s.subscribe("model", self._on_model),
            s.subscribe("prediction", self._on_prediction),
            s.subscribe("stream", self._on_stream),
            s.subscribe("replay", self.replay.ended),
            s.subscribe("saved", self._on_saved),
            *self.files.subscribe(),
        ]
        self._can_continue = False
        self._previous = None  # the participant's earlier adapter (looked up once, at Start session)
        self._loading = False  # the training thread is loading an earlier adapter, not training
        self._cued = 0  # cued trials per class to run once the online start under way is online
        self._planned: tuple[object, float] = (None, 0.0)  # (paradigm config, planned seconds)
        self.cue_opener = CueOpener()  # a stimulus program's cues, opened off the UI thread
        _connect_controls(self, window)

    # -- calls ------------------------------------------------------------------------------------
    def _call(self, method: str, doing: str, *args, **kwargs):
        try:
            return getattr(self.session, method)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a visible message
            self.w.show_error(exc, doing)
            return None

    def _simulated_user(self):
        """The paradigm callback making a simulated headset imagine each cue (``None`` for a real
        source); ``self.imagine`` overrides the source's own ``imagine``."""
        return cued_imagery(self.imagine or getattr(self.w.stream, "imagine", None), self.session.config.paradigm)

    def start_participant(self, participant: str) -> None:
        if self._call("start_participant", "opening the participant's folder", participant):
            self._previous = self.session.previous_adapter()
            self._can_continue = self._previous is not None
            self.w.session_panel.show_participant(self.session.folder.participant, self.session.folder.path)
            self.w.report_panel.bids.set_source(self.session.folder.path)

    def continue_previous(self) -> None:
        self._loading = True  # before the call: the mode event it sends must know it
        self._loading = bool(self._call("continue_previous", "loading the earlier adapter"))

    def retrain(self) -> None:
        self._loading = False
        self._call("train_calibration", "retraining")

    def continue_reason(self) -> str:
        """Why *Continue previous session* cannot be used now ("" when it can)."""
        return continue_reason(self.session, self._previous)

    def _planned_s(self) -> float:
        """The configured paradigm's planned length (s), computed once per paradigm config."""
        from bci_app.paradigm.timing import planned_duration_s

        paradigm = self.session.config.paradigm
        if self._planned[0] is not paradigm:
            try:
                self._planned = (paradigm, planned_duration_s(paradigm))
            except ValueError:
                self._planned = (paradigm, 0.0)
        return self._planned[1]

    def _on_saved(self, _saved) -> None:
        self._can_continue = False  # this session has its own adapter now

    def facts(self):
        """What the guide needs, read from the session (UI thread, every frame: cheap reads only)."""
        s, w = self.session, self.w
        bad = tuple(q.name for q in w.signal_view.last_quality if q.flags) if s.stream is not None else ()
        return session_facts(s, bad_channels=bad, calibration_s=self._planned_s(), loading=self._loading,
                             report_seen=self.files.report_seen)

    def start_calibration(self) -> None:
        """Calibrate with the app's own cues, or (chosen in the source panel) another program's."""
        self.history.clear()
        self.w.operator_panel.reset_rejections()
        if not self._open_cues("calibration", self.session.config.paradigm.trials_per_class):
            self._call("start_calibration", "starting the calibration", self._simulated_user())

    def start_online(self) -> None:
        """Online feedback, its decoder built off the UI thread; with "Cued trials" ticked, the
        paradigm's (or the chosen program's) cues run and are scored once it is online (:meth:`render`)."""
        on = self.w.online_panel
        on.render_accuracy(0, 0)
        on.render_trial(None)
        if self._call("start_online", "starting online feedback", background=True):
            on.start_button.setEnabled(False)
            self._cued = on.cued_trials.value() if on.cued_check.isChecked() else 0

    def _start_cued(self) -> None:
        n, self._cued = self._cued, 0
        if not self._open_cues("online", n):
            self._call("start_online_trials", "starting cued online trials", self._simulated_user(), trials_per_class=n)

    def _open_cues(self, purpose: str, trials_per_class: int) -> bool:
        """Open the source panel's external cues for ``purpose`` off the UI thread (the run starts
        when they are open: :meth:`_cues_opened`). False when the app cues by itself."""
        try:
            choice = self.w.source_panel.cue_box.choice()
        except ConfigError as exc:
            self.w.show_error(exc, f"choosing the cues of the {purpose}")
            return True  # nothing starts: the operator fixes the mapping
        if choice is None:
            return False
        s = self.session
        if not self.cue_opener.open(purpose, choice, s.config.paradigm, s.clock, record=s.record_marker,
                                    trials_per_class=trials_per_class):
            self.w.error_banner.show_error("Cues", "The cue stream is still being opened; wait a moment.")
        return True

    def _cues_opened(self, purpose: str, cues, exc: BaseException | None) -> None:
        if exc is not None:
            self.w.show_error(exc, f"opening the cue stream for the {purpose}")
            return
        if purpose == "calibration":
            ok = self._call("start_calibration", "starting the calibration", self._simulated_user(), paradigm=cues)
        else:
            ok = self.session.mode is Mode.ONLINE and self._call(
                "start_online_trials", "starting cued online trials", self._simulated_user(), paradigm=cues)
        if not ok:
            cues.close()

    def start_recording(self) -> bool:
        """Record to the session panel's next file (a new run, or the continuation of an unfinished
        recording the operator chose to continue)."""
        path = self.w.session_panel.next_recording_path()
        return bool(self._call("start_recording", f"starting the recording {path}", path))

    def pause_calibration(self) -> None:
        if self.session.paradigm is not None:
            self.session.paradigm.pause()
            self.w.operator_panel.set_running(True, paused=True)

    def resume_calibration(self) -> None:
        if self.session.paradigm is not None:
            self.session.paradigm.resume()
            self.w.operator_panel.set_running(True, paused=False)

    def start_replay(self) -> None:
        self.replay.start(self._call, self.session.model is not None)

    @property
    def replay_predictions(self) -> list:
        return self.replay.predictions

    @property
    def live_predictions(self) -> list:
        return self.replay.live

    def config_changed(self, config) -> None:
        if not self.session.set_config(config):
            self.w.error_banner.show_error("Configuration loaded", "It applies from the next connection.")

    def source_connected(self, stream) -> bool:
        return bool(self._call("connect", "attaching the source", stream))

    def source_disconnecting(self) -> bool:
        """The session lets the window's source go; True when it closes it too (on its thread)."""
        owned = self.w.stream is not None and self.w.stream is self.session.stream
        if self.w.stream is not None:
            self._call("disconnect", "disconnecting", wait=False)  # files complete on the session's threads
        return owned

    # -- session events (delivered by session.update(), in the UI thread) ---------------------------
    def _on_error(self, err) -> None:
        if err.exception is not None:
            log.error("%s: %s", err.source, err.message,
                      exc_info=(type(err.exception), err.exception, err.exception.__traceback__))
        self.w.error_banner.show_error(ERROR_TITLES.get(err.source, "Problem"),
                                       f"{err.message}\n(Details: {self.w.log_path})")

    def _on_model(self, model) -> None:
        self.w.online_panel.start_button.setEnabled(self.session.mode.value == "connected")
        s = self.session
        if s.model_source == "loaded":
            self._loading = False
            self.w.training_panel.render_loaded(model, s.training_result.path, s.training_result.metadata)
        else:
            self.w.training_panel.render_outcome(model, s.training_result)

    def _on_fullscreen(self, on: bool) -> None:
        """The participant screen went full screen or came back: both toggles say so."""
        for button in (self.w.operator_panel.fullscreen_button, self.w.online_panel.participant_button):
            button.setChecked(on)

    def _on_prediction(self, pred) -> None:
        self.n_predictions += 1

    def _on_stream(self, ev) -> None:
        if ev.kind == "gap":  # failures arrive as session errors
            self.w.error_banner.show_error("Signal lost", ev.message)

    def _on_mode(self, mode) -> None:
        name, s, w = mode.value, self.session, self.w
        previous = w.state_text
        w.session_panel.set_can_record(name not in ("idle", "replay"))
        w.set_state(name)
        w.operator_panel.set_running(name == "calibrating")
        if name == "calibrating" and not getattr(s.paradigm, "pausable", True):  # another program's cues
            w.operator_panel.pause_button.setEnabled(False)
        w.source_panel.cue_box.setEnabled(name in ("idle", "connected"))
        w.paradigm_editor.setEnabled(name in ("idle", "connected"))  # editable before a run, not during it
        w.training_panel.cancel_button.setEnabled(name == "training")
        w.online_panel.set_running(name == "online")
        if previous == "online" and name != "online":  # stopped: no bar or decoded class frozen on screen
            w.online_panel.clear_prediction()
            w.cue_display.set_feedback(None, None)
        w.online_panel.start_button.setEnabled(name == "connected" and s.model is not None)
        w.replay_panel.set_running(name == "replay")
        if name == "replay":
            self.replay.started()
        if name == "calibrating" and s.calibration_quality_problem:
            w.operator_panel.advice_label.setText(s.calibration_quality_problem)
        if name == "training" and self._loading:
            self.history.clear()
            w.training_panel.show_loading(self._previous)
        elif name == "training":
            self.history.clear()
            w.training_panel.reset(s.config.finetune.max_epochs, s.training_plan())
            w.training_panel.set_status("Training started…")
        if name == "connected" and previous == "training" and s.model is None:
            w.training_panel.set_status("Training stopped; no model yet. Calibrate again or load an adapter.")
        w.show_mode_panel(name)  # last: a panel filled while hidden is painted once (QProgressBar repaints at once)

    # -- frame -----------------------------------------------------------------------------------
    def render(self) -> None:
        s, w = self.session, self.w
        try:
            s.update()
        except Exception as exc:  # noqa: BLE001 - the frame loop must survive
            w.show_error(exc, "updating the session")
        self.files.render()
        if self._cued and s.mode is Mode.ONLINE:
            self._start_cued()
        elif s.mode is Mode.CONNECTED and not s.online_starting:  # a start given up or refused: Start again
            self._cued = 0
            w.online_panel.start_button.setEnabled(s.model is not None)
        for purpose, cues, exc in self.cue_opener.poll():
            self._cues_opened(purpose, cues, exc)
        reason = self.continue_reason()
        w.guide_panel.render(self.facts(), can_continue=self._can_continue and not reason, continue_reason=reason)
        w.training_panel.retrain_button.setEnabled((s.calibration_data is not None or bool(s.online_data)) and not s.training)
        paradigm = s.paradigm
        if paradigm is not None and w.mode_panel_shown("calibrating"):
            state = paradigm.state
            w.cue_display.set_state(state.phase, state.label)
            w.operator_panel.render_state(state)
        if w.mode_panel_shown("training"):
            w.training_panel.render_history(self.history)
        cued = s.online_paradigm
        cue = None
        online = s.mode is Mode.ONLINE
        if online:  # the participant screen: the cued trial (or a fixation cross) and the feedback
            state = cued.state if cued is not None else None
            w.cue_display.set_state(state.phase if state is not None else "fixation",
                                    state.label if state is not None else None)
        elif paradigm is None or not w.mode_panel_shown("calibrating"):
            w.cue_display.set_feedback(None, None)
        if cued is not None and w.mode_panel_shown("online"):
            state = cued.state
            w.online_panel.render_trial(state)
            cue = state.label if state.phase in ("cue", "imagery") else None
            w.online_panel.render_score(s.online_score())
        pred = s.last_prediction
        if pred is not None and pred is not self._last_pred:
            self._last_pred = pred
            if online:
                w.cue_display.set_feedback(*prediction_fields(pred)[:2])
            if online and w.mode_panel_shown("online"):  # after Stop: no decision brings a bar back
                w.online_panel.render_prediction(pred, cue)
        self.replay.render()

    def shutdown(self) -> None:
        """Stop the session's jobs and threads (training is cancelled and joined)."""
        try:
            self.session.disconnect()
        except Exception as exc:  # noqa: BLE001 - closing must finish; the failure is logged
            log.error("closing the session failed: %s", exc, exc_info=(type(exc), exc, exc.__traceback__))
        self.cue_opener.close()
        for unsub in self._unsubscribe:
            unsub()
        self._unsubscribe = []
