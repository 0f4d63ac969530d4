"""Starting the app: ``run_gui`` (``bci-app gui``) and ``run_demo_window`` (``bci-app demo``)."""

from __future__ import annotations

import argparse
import logging
import sys

log = logging.getLogger(__name__)


def _application():
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication(sys.argv[:1])
        app.setApplicationName("bci-app")
    return app


def run_gui(args: argparse.Namespace | None = None) -> int:
    """Open the main window and run the Qt event loop until it is closed. Returns the exit code.

    ``args`` may carry ``config`` (a YAML path) and ``log_dir``.
    """
    import torch

    from bci_app.config import load_config
    from bci_app.gui.main_window import MainWindow

    torch.set_num_threads(1)
    app = _application()
    config = load_config(getattr(args, "config", None))
    window = MainWindow(config, log_dir=getattr(args, "log_dir", None))
    window.show()
    return int(app.exec())


def default_training_factory(session):
    """Fine-tune the configured base model on ``session.calibration_data`` (LoRA per config)."""
    from bci_app.models.pretrained import load_base_model
    from bci_app.online.calibrate import calibration_job

    model, meta = load_base_model(session.config.model.base)
    job = calibration_job(session.calibration_data, model, meta, session.config)
    return job.job, job.to_model, job.cancel.set


def run_demo_window(args: argparse.Namespace) -> int:
    """``bci-app demo`` with a window: the simulated headset, calibration with the simulated user
    imagining each cue, background fine-tuning, then online feedback — all visible.

    ``args`` may carry ``config`` (YAML path), ``log_dir``, ``seconds`` (close after this many
    seconds of online feedback; default: stay open). Returns the exit code.
    """
    import torch
    from PySide6 import QtCore

    from bci_app.config import load_config
    from bci_app.gui.main_window import MainWindow

    torch.set_num_threads(1)
    app = _application()
    from bci_app.commands.demo import short_paradigm
    from bci_app.models.pretrained import load_base_model
    from bci_app.online.calibrate import window_tmin

    config = load_config(getattr(args, "config", None))
    base = getattr(args, "base", None) or config.model.base
    model, meta = load_base_model(base)
    sfreq = float(meta["preprocessing"]["sfreq"])
    config = config.model_copy(deep=True)
    config.paradigm = short_paradigm(
        config, getattr(args, "trials_per_class", 10) or 10, getattr(args, "seed", 0) or 0,
        window_tmin(meta), model.n_times / sfreq,
    ).model_copy(update={"classes": list(meta["classes"])})
    window = MainWindow(config, log_dir=getattr(args, "log_dir", None), training_factory=default_training_factory)
    window.show()
    source = {"kind": "simulated", "ch_names": tuple(meta["preprocessing"]["ch_names"]), "sfreq": sfreq,
              "subject_seed": getattr(args, "seed", 0) or 0}
    demo = DemoDriver(window, source, online_seconds=getattr(args, "seconds", None))
    QtCore.QTimer.singleShot(0, demo.start)
    return int(app.exec())


class DemoDriver:
    """Clicks through the session like an operator would: connect → calibrate → (train) → online."""

    def __init__(self, window, source: dict, online_seconds: float | None = None) -> None:
        self.w = window
        self.source = source
        self.online_seconds = online_seconds
        self._online_started = False

    def start(self) -> None:
        from PySide6 import QtCore

        self.w.connect_source(self.source)
        self.timer = QtCore.QTimer(self.w)
        self.timer.setInterval(200)
        self.timer.timeout.connect(self._step)
        self.timer.start()

    def _step(self) -> None:
        from PySide6 import QtCore

        state = self.w.state_text
        if state == "connected" and self.w.session.calibration_data is None and self.w.operator_panel.start_button.isEnabled():
            self.w.operator_panel.start_button.click()
        elif state == "connected" and self.w.session.model is not None and not self._online_started:
            self._online_started = True
            self.w.online_panel.start_button.click()
            if self.online_seconds:
                QtCore.QTimer.singleShot(int(self.online_seconds * 1000), self.w.close)


run_demo = run_demo_window  # the name bci_app.commands.demo calls
