"""The only place the window talks to the Qt-free :class:`bci_app.session.Session`.

Each frame the window calls :meth:`SessionBridge.render`, which calls ``session.update()`` (the
session delivers its events synchronously, in this thread) and renders snapshots. Buttons map to
session calls: ``connect``/``disconnect``, ``start_calibration``/``abort_calibration`` (pause and
resume go to ``session.paradigm``), ``start_training(job, to_model, cancel=)`` with a job from
``training_factory(session)``, ``cancel_training``, ``start_online``/``stop_online``,
``start_replay(StreamFile)``. Nothing here blocks: long jobs run on the session's threads; the
replay decodes on the session's decoder thread and its decisions come back through a queue that
each frame drains.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bci_app.events import END_OF_TRIAL, WINDOW_TMIN_S, count_cues
from bci_app.signal.quality import CalibrationQuality

if TYPE_CHECKING:
    from bci_app.gui.main_window import MainWindow

log = logging.getLogger(__name__)

TrainingFactory = Callable[[Any], tuple[Any, Callable[[Any], Any], Callable[[], None] | None]]
"""``factory(session) -> (job, to_model, cancel)``: a fine-tuning generator built from
``session.calibration_data``, the function turning its result into a ``DecoderModel``, and the
job's cancel callback (see ``Session.start_training``)."""


class SessionBridge:
    """Wires the panels of ``window`` to ``window.session`` (``None``: those controls are disabled)."""

    def __init__(self, window: "MainWindow", training_factory: TrainingFactory | None = None) -> None:
        self.w = window
        self.session = window.session
        self.training_factory = training_factory
        self.imagine = None  # optional imagine(label, onset, duration_s) of a simulated user
        self.history: list = []
        self.replay_predictions: list = []  # UI thread only; filled from _replay_queue each frame
        self._replay_queue: queue.SimpleQueue = queue.SimpleQueue()  # decisions from the decoder thread
        self.live_predictions: list = []
        self.n_predictions = 0
        self._unsubscribe: list = []
        self._quality: CalibrationQuality | None = None
        self._trial_ends: list = []
        self._last_pred = None
        self._replay_sfreq = 1.0
        op, tr, on, rp = window.operator_panel, window.training_panel, window.online_panel, window.replay_panel
        sp = window.session_panel
        sp.set_can_record(False)
        s = self.session
        self._unsubscribe = [
            s.subscribe("mode", self._on_mode),
            s.subscribe("error", self._on_error),
            s.subscribe("paradigm", self._on_paradigm),
            s.subscribe("progress", self.history.append),
            s.subscribe("model", self._on_model),
            s.subscribe("prediction", self._on_prediction),
            s.subscribe("recording", self._on_recording),
            s.subscribe("stream", self._on_stream),
            s.subscribe("replay", self._on_replay_end),
        ]
        sp.record_requested.connect(self.start_recording)
        sp.stop_record_requested.connect(lambda: self._call("stop_recording", "stopping the recording"))
        op.start_button.clicked.connect(self.start_calibration)
        op.pause_button.clicked.connect(self.pause_calibration)
        op.resume_button.clicked.connect(self.resume_calibration)
        op.abort_button.clicked.connect(lambda: self._call("abort_calibration", "aborting the calibration"))
        op.fullscreen_button.clicked.connect(lambda: window.cue_display.show_fullscreen_on(-1))
        op.beep_check.toggled.connect(lambda on_: setattr(window.cue_display, "beep", on_))
        tr.cancel_button.clicked.connect(lambda: self._call("cancel_training", "cancelling the training"))
        on.start_button.clicked.connect(self.start_online)
        on.stop_button.clicked.connect(lambda: self._call("stop_online", "stopping online feedback"))
        rp.play_button.clicked.connect(self.start_replay)
        rp.stop_button.clicked.connect(self.stop_replay)
        on.start_button.setEnabled(False)

    # -- calls ------------------------------------------------------------------------------------
    def _call(self, method: str, doing: str, *args, **kwargs):
        try:
            return getattr(self.session, method)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a visible message
            self.w.show_error(exc, doing)
            return None

    def _simulated_user(self):
        """A paradigm callback making the simulated headset imagine each cued class (``None`` for a
        real source). ``self.imagine`` (``imagine(label, onset, duration_s)``) overrides the source's."""
        imagine = self.imagine
        if imagine is None:
            imagine = getattr(self.w.stream, "imagine", None)
        if imagine is None:
            return None
        cfg = self.session.config.paradigm

        def on_event(ev) -> None:
            if ev.phase == "cue" and ev.label is not None:
                imagine(ev.label, ev.timestamp, max(cfg.imagery_end_s - cfg.cue_at_s, 0.1))

        return on_event

    def start_calibration(self) -> None:
        self.history.clear()
        self._call("start_calibration", "starting the calibration", self._simulated_user())

    def start_online(self) -> None:
        """Online feedback; with "Cued trials" ticked, the paradigm's cues run and are scored."""
        on = self.w.online_panel
        on.render_accuracy(0, 0)
        on.render_trial(None)
        if not self._call("start_online", "starting online feedback"):
            return
        if on.cued_check.isChecked():
            self._call("start_online_trials", "starting cued online trials", self._simulated_user(),
                       trials_per_class=on.cued_trials.value())

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

    def start_training(self) -> bool:
        """Build a job from the calibration data (``training_factory``) and run it on the session."""
        try:
            job, to_model, cancel = self.training_factory(self.session)
        except Exception as exc:  # noqa: BLE001
            self.w.show_error(exc, "preparing the training")
            return False
        self.history.clear()
        self.w.training_panel.reset(self.session.config.finetune.max_epochs, self._lora_plan())
        self.w.tabs.setCurrentIndex(2)
        return bool(self._call("start_training", "starting the training", job, to_model, cancel=cancel))

    def _lora_plan(self) -> str:
        """What the job will adapt (the LoRA guide's summary), before it starts."""
        from bci_app.config import resolve_lora

        cfg = self.session.config
        rec = self.session.calibration_data
        n = count_cues(m.value for m in rec.markers) if rec is not None else 0
        r = resolve_lora(cfg.lora, n)
        return (f"base model: {cfg.model.base}\ncalibration trials: {n}\nLoRA targets: {', '.join(r.target_modules)} "
                f"({r.reason}); rank {r.rank}, alpha {r.alpha:g}, dropout {r.dropout:g}\n"
                f"epochs ≤ {cfg.finetune.max_epochs}, early stopping on {cfg.finetune.monitor} (patience {cfg.finetune.patience})")

    def start_replay(self) -> None:
        from bci_app.acquisition.file import StreamFile

        rp = self.w.replay_panel
        path = rp.path_edit.text().strip()
        if not path:
            rp.status_label.setText("Choose a recording first (Open…).")
            return
        if self.session.model is None:
            rp.status_label.setText("Load or train a model first: replay runs the recording through it.")
            return
        if self.w.stream is not None:
            self.w.disconnect_source()
        rp.reset()
        self.replay_predictions.clear()
        self._replay_queue = queue.SimpleQueue()  # decisions of an earlier replay are dropped
        try:
            stream = StreamFile(path, speed=rp.speed.value())  # no thread: session.update() reads it each frame
        except Exception as exc:  # noqa: BLE001
            self.w.show_error(exc, "opening the recording")
            return
        # every replayed decision: made on the session's decoder thread (in sample-index order),
        # queued, and moved to replay_predictions by the frame timer (_drain_replay)
        if self._call("start_replay", "replaying the recording", stream, on_decision=self._replay_queue.put):
            from bci_app.online.replay import live_predictions

            self.live_predictions = live_predictions(stream.recording) if stream.recording is not None else []
            self._replay_sfreq = stream.info.sfreq
            rp.status_label.setText(
                f"Replaying {stream.info.name} at {rp.speed.value():g}× ({stream.recording.duration:.0f} s; "
                f"{len(self.live_predictions)} live decisions logged)"
            )
            self.w.signal_view.set_source(stream)

    def _drain_replay(self) -> None:
        """Move the decisions the decoder thread has queued to ``replay_predictions`` (UI thread)."""
        q = self._replay_queue
        while True:
            try:
                self.replay_predictions.append(q.get_nowait())
            except queue.Empty:
                return

    def stop_replay(self) -> None:
        self._call("stop_replay", "stopping the replay")  # joins the decoder thread; "replay" event

    def _on_replay_end(self, state: str) -> None:
        """The session ended the replay (``"finished"``: whole file decoded; ``"stopped"``: early)."""
        self._drain_replay()
        rp = self.w.replay_panel
        n = len(self.replay_predictions)
        rp.render(self.replay_predictions, self.live_predictions, self._replay_sfreq)
        rp.status_label.setText(f"Replay finished: {n} decisions replayed" if state == "finished"
                                else f"Replay stopped after {n} decisions")
        self.w.signal_view.set_source(None)
        rp.set_running(False)

    def config_changed(self, config) -> None:
        if self.session is not None:
            if self.session.mode.value != "idle":
                self.w.error_banner.show_error("Configuration loaded", "It applies from the next connection.")
            else:
                self.session.config = config

    def source_connected(self, stream) -> bool:
        if self.session is None:
            return True
        return bool(self._call("connect", "attaching the source", stream))

    def source_disconnecting(self) -> None:
        if self.session is not None and self.w.stream is not None:
            self._call("disconnect", "disconnecting")

    # -- session events (delivered by session.update(), in the UI thread) ---------------------------
    def _on_error(self, err) -> None:
        title = {"stream": "The EEG source has a problem", "training": "Training", "calibration": "Calibration",
                 "online": "Online decoding", "recording": "Recording"}.get(err.source, "Problem")
        if err.exception is not None:
            log.error("%s: %s", err.source, err.message,
                      exc_info=(type(err.exception), err.exception, err.exception.__traceback__))
        self.w.error_banner.show_error(title, f"{err.message}\n(Details: {self.w.log_path})")

    def _on_paradigm(self, ev) -> None:
        if ev.code == END_OF_TRIAL:
            self._trial_ends.append(ev)

    def _on_model(self, model) -> None:
        self.w.online_panel.start_button.setEnabled(self.session.mode.value == "connected")
        outcome = getattr(self.session, "training_result", None)
        result = getattr(outcome, "finetune", None)
        acc = getattr(result, "val_accuracy", None)
        if outcome is not None and hasattr(outcome, "summary"):
            text = self.w.training_panel.summary.toPlainText() + f"\n\n{outcome.summary()}"
            if result is not None:
                text += (f"\nadapted modules: {', '.join(result.wrapped_modules) or '–'}\n"
                         f"trainable parameters: {result.trainable_params:,} of {result.total_params:,} "
                         f"({100 * result.trainable_params / max(result.total_params, 1):.1f} %)\n"
                         f"epochs run: {result.epochs_run} (best {result.best_epoch}); feature cache: {result.cache}; "
                         f"{result.elapsed_s:.1f} s")
            self.w.training_panel.set_summary(text)
        self.w.training_panel.set_status(
            f"Model ready: {model.name}" + (f" (validation accuracy {acc:.0%})" if acc is not None else "")
            + " — start online feedback"
        )

    def _on_prediction(self, pred) -> None:
        self.n_predictions += 1

    def _on_stream(self, ev) -> None:
        if ev.kind == "gap":  # failures arrive as session errors
            self.w.error_banner.show_error("Signal lost", ev.message)

    def _on_recording(self, ev: dict) -> None:
        self.w.session_panel.recording_changed(ev.get("path", ""), ev.get("state", ""))

    def _on_mode(self, mode) -> None:
        name = mode.value
        self.w.session_panel.set_can_record(name not in ("idle", "replay"))
        previous = self.w.state_text
        self.w._set_state(name)
        op, tr, on, rp = self.w.operator_panel, self.w.training_panel, self.w.online_panel, self.w.replay_panel
        op.set_running(name == "calibrating")
        tr.cancel_button.setEnabled(name == "training")
        on.set_running(name == "online")
        on.start_button.setEnabled(name == "connected" and self.session.model is not None)
        rp.set_running(name == "replay")
        target = {"calibrating": 1, "training": 2, "online": 3, "replay": 4}.get(name)
        if target is not None:
            self.w.tabs.setCurrentIndex(target)
        if name == "calibrating":
            self._start_quality()
        if name == "training":
            tr.set_status("Training started…")
        if name == "connected" and previous == "calibrating" and self.session.calibration_data is not None:
            if self.session.paradigm is not None and self.session.paradigm.phase == "finished":
                self.start_training()
        if name == "connected" and previous == "training" and self.session.model is None:
            tr.set_status("Training stopped; no model yet. Calibrate again or load an adapter.")

    def _start_quality(self) -> None:
        stream = self.w.stream
        paradigm = self.session.paradigm
        self._trial_ends = []
        self._quality = None
        self.w.operator_panel.reset_rejections()
        if stream is None or paradigm is None:
            return
        try:
            self._quality = CalibrationQuality(
                stream.info.ch_names, stream.info.sfreq, paradigm.config.classes,
                imagery=(paradigm.config.cue_at_s + WINDOW_TMIN_S, paradigm.config.imagery_end_s),
                baseline=(0.25, max(0.5, paradigm.config.cue_at_s - 0.25)),
                min_trials_per_class=min(5, paradigm.config.trials_per_class),
                # the rejection training will apply, on the channels the base model reads
                artifacts=self.session.config.preprocessing,
                artifact_channels=self._base_channels(),
            )
        except Exception as exc:  # noqa: BLE001 - quality is advisory; say why it is missing
            self.w.operator_panel.advice_label.setText(f"Calibration quality unavailable: {exc}")

    def _base_channels(self) -> tuple[str, ...]:
        """Channels of the configured base model (what training will cut and check)."""
        from bci_app.models.pretrained import load_base_model

        _, meta = load_base_model(self.session.config.model.base)
        return tuple(meta["preprocessing"]["ch_names"])

    # -- frame -----------------------------------------------------------------------------------
    def render(self) -> None:
        s = self.session
        if s is None:
            return
        try:
            s.update()
        except Exception as exc:  # noqa: BLE001 - the frame loop must survive
            self.w.show_error(exc, "updating the session")
        w = self.w
        current = w.tabs.currentIndex()
        paradigm = s.paradigm
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
            w.training_panel.render_history(self.history)
        cued = s.online_paradigm
        cue = None
        if cued is not None and current == 3:
            state = cued.state
            w.online_panel.render_trial(state)
            cue = state.label if state.phase in ("cue", "imagery") else None
            score = s.online_score()
            if score is not None and score["n_trials"] != w.online_panel.total:
                correct = sum(t["true"] == t["predicted"] for t in score["trials"])
                w.online_panel.render_accuracy(correct, score["n_trials"], score["n_undecided"])
        pred = s.last_prediction
        if pred is not None and pred is not self._last_pred:
            self._last_pred = pred
            if current == 3:
                w.online_panel.render_prediction(pred, cue)
        self._drain_replay()
        if current == 4:
            w.replay_panel.render(self.replay_predictions, self.live_predictions, self._replay_sfreq)

    def shutdown(self) -> None:
        """Stop the session's jobs and threads (training is cancelled and joined)."""
        if self.session is not None:
            try:
                self.session.disconnect()
            except Exception as exc:  # noqa: BLE001 - closing must finish; the failure is logged
                log.error("closing the session failed: %s", exc, exc_info=(type(exc), exc, exc.__traceback__))
        for unsub in self._unsubscribe:
            unsub()
        self._unsubscribe = []
