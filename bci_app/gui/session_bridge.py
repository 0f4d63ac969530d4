"""The only place the window talks to the Qt-free ``Session``: buttons → session calls, session
events → a queue drained each frame, snapshots → panels.

Session calls used (all non-blocking; long jobs run on the session's own worker threads):
``attach(stream)``, ``detach()``, ``start_calibration()``, ``pause_calibration()``,
``resume_calibration()``, ``abort_calibration()``, ``cancel_training()``, ``start_online()``,
``stop_online()``, ``start_replay(path, speed)``, ``stop_replay()``, ``close()``; snapshots:
``mode``, ``paradigm``, ``training_history``, ``training_summary``, ``last_prediction``,
``online_score``, ``replay_predictions``, ``live_predictions``, ``calibration_data(winsize)``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bci_app.signal.quality import CalibrationQuality

if TYPE_CHECKING:
    from bci_app.gui.main_window import MainWindow

log = logging.getLogger(__name__)

SESSION_EVENTS = ("mode", "paradigm", "training", "prediction", "error", "replay")


class SessionBridge:
    """Wires the panels of ``window`` to ``window.session`` (which may be ``None``: controls disabled)."""

    def __init__(self, window: "MainWindow") -> None:
        self.w = window
        self.session = window.session
        self._unsubscribe = []
        self._quality: CalibrationQuality | None = None
        self._trial_ends: list = []
        op, tr, on, rp = window.operator_panel, window.training_panel, window.online_panel, window.replay_panel
        if self.session is None:
            for b in (op.start_button, on.start_button, rp.play_button):
                b.setEnabled(False)
                b.setToolTip("needs bci_app.session (not installed in this build)")
            return
        for name in SESSION_EVENTS:
            try:
                self._unsubscribe.append(self.session.subscribe(name, lambda payload, n=name: window.post_event(n, payload)))
            except Exception:  # noqa: BLE001 - a session without that event is fine
                log.debug("session has no %r event", name)
        op.start_button.clicked.connect(lambda: self._call("start_calibration", "starting the calibration"))
        op.pause_button.clicked.connect(lambda: self._call("pause_calibration", "pausing"))
        op.resume_button.clicked.connect(lambda: self._call("resume_calibration", "resuming"))
        op.abort_button.clicked.connect(lambda: self._call("abort_calibration", "aborting the calibration"))
        op.fullscreen_button.clicked.connect(lambda: window.cue_display.show_fullscreen_on(-1))
        op.beep_check.toggled.connect(lambda on_: setattr(window.cue_display, "beep", on_))
        tr.cancel_button.clicked.connect(lambda: self._call("cancel_training", "cancelling the training"))
        on.start_button.clicked.connect(lambda: self._call("start_online", "starting online feedback"))
        on.stop_button.clicked.connect(lambda: self._call("stop_online", "stopping online feedback"))
        rp.play_button.clicked.connect(self.start_replay)
        rp.stop_button.clicked.connect(lambda: self._call("stop_replay", "stopping the replay"))

    # -- calls ------------------------------------------------------------------------------------
    def _call(self, method: str, doing: str, *args):
        try:
            return getattr(self.session, method)(*args)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a visible message
            self.w.show_error(exc, doing)
            return None

    def start_replay(self) -> None:
        path = self.w.replay_panel.path_edit.text().strip()
        if not path:
            self.w.replay_panel.status_label.setText("Choose a recording first (Open…).")
            return
        self.w.replay_panel.reset()
        self._call("start_replay", "replaying the recording", path, self.w.replay_panel.speed.value())

    def config_changed(self, config) -> None:
        if self.session is not None and hasattr(self.session, "set_config"):
            self._call("set_config", "applying the configuration", config)

    def source_connected(self, stream) -> None:
        if self.session is not None:
            self._call("attach", "attaching the source", stream)

    def source_disconnecting(self) -> None:
        if self.session is not None and self.w.stream is not None:
            self._call("detach", "detaching the source")

    # -- events (UI thread, drained each frame) ----------------------------------------------------
    def handle_event(self, kind: str, payload) -> None:
        if kind == "error":
            exc = payload if isinstance(payload, BaseException) else getattr(payload, "error", None)
            if exc is None:
                exc = RuntimeError(str(payload))
            self.w.show_error(exc, getattr(payload, "doing", "") if not isinstance(payload, BaseException) else "")
        elif kind == "mode":
            self._on_mode(payload)
        elif kind == "paradigm" and getattr(payload, "code", None) == 800:
            self._trial_ends.append(payload)
        elif kind == "training" and getattr(payload, "summary", None):
            self.w.training_panel.set_summary(payload.summary)

    def _on_mode(self, mode) -> None:
        name = getattr(mode, "value", str(mode))
        self.w._set_state(name)
        op, tr, on, rp = self.w.operator_panel, self.w.training_panel, self.w.online_panel, self.w.replay_panel
        op.set_running(name == "calibrating")
        tr.cancel_button.setEnabled(name == "training")
        on.set_running(name == "online")
        rp.set_running(name == "replay")
        tabs = self.w.tabs
        target = {"calibrating": 1, "training": 2, "online": 3, "replay": 4}.get(name)
        if target is not None:
            tabs.setCurrentIndex(target)
        if name == "calibrating":
            self._start_quality()
        if name == "training":
            tr.reset(summary=getattr(self.session, "training_summary", None) or None)

    def _start_quality(self) -> None:
        stream = self.w.stream
        paradigm = getattr(self.session, "paradigm", None)
        self._trial_ends = []
        self._quality = None
        if stream is None or paradigm is None:
            return
        try:
            self._quality = CalibrationQuality(
                stream.info.ch_names, stream.info.sfreq, paradigm.config.classes,
                imagery=(paradigm.config.cue_at_s + 0.5, paradigm.config.imagery_end_s),
                baseline=(0.25, max(0.5, paradigm.config.cue_at_s - 0.25)),
                min_trials_per_class=min(5, paradigm.config.trials_per_class),
            )
        except Exception as exc:  # noqa: BLE001 - quality is advisory; say why it is missing
            self.w.operator_panel.advice_label.setText(f"Calibration quality unavailable: {exc}")

    # -- frame -----------------------------------------------------------------------------------
    def render(self) -> None:
        s = self.session
        if s is None:
            return
        w = self.w
        current = w.tabs.currentIndex()
        paradigm = getattr(s, "paradigm", None)
        if paradigm is not None and current == 1:
            state = paradigm.state
            w.cue_display.set_state(state.phase, state.label)
            w.operator_panel.render_state(state)
        if self._trial_ends and self._quality is not None and w.stream is not None:
            data, ts = w.stream.get_data(None)
            for ev in self._trial_ends:
                start = paradigm.trial_start_time(ev.trial_index) if paradigm is not None else None
                if start is not None:
                    self._quality.add_trial(ev.label, data, ts, start)
            self._trial_ends = []
            w.operator_panel.render_summary(self._quality.summary())
        if current == 2:
            history = list(getattr(s, "training_history", ()) or ())
            w.training_panel.render_history(history)
            summary = getattr(s, "training_summary", None)
            if summary:
                w.training_panel.set_summary(summary)
        if current == 3:
            pred = getattr(s, "last_prediction", None)
            if pred is not None and pred is not getattr(self, "_last_pred", None):
                self._last_pred = pred
                w.online_panel.render_prediction(pred, getattr(s, "current_cue", None))
            score = getattr(s, "online_score", None)
            if score is not None:
                w.online_panel.render_accuracy(*score)
        if current == 4:
            w.replay_panel.render(list(getattr(s, "replay_predictions", ()) or ()),
                                  list(getattr(s, "live_predictions", ()) or ()))

    def shutdown(self) -> None:
        for unsub in self._unsubscribe:
            try:
                unsub()
            except Exception:  # noqa: BLE001
                log.exception("unsubscribe failed")
        self._unsubscribe = []
        if self.session is not None:
            try:
                self.session.close()
            except Exception as exc:  # noqa: BLE001 - closing must finish; the failure is logged
                log_exception_safe(exc)


def log_exception_safe(exc: BaseException) -> None:
    log.error("closing the session failed: %s", exc, exc_info=(type(exc), exc, exc.__traceback__))
