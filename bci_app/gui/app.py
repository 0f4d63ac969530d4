"""Starting the app: ``run_gui`` (``bci-app gui``) and ``run_demo_window`` (``bci-app demo``)."""

from __future__ import annotations

import argparse
import logging
import sys

log = logging.getLogger(__name__)


#: shared libraries Qt's xcb platform plugin needs beyond Qt itself -> the Debian/Ubuntu package
XCB_LIBRARIES = {"xcb-cursor": "libxcb-cursor0", "xcb-icccm": "libxcb-icccm4", "xcb-keysyms": "libxcb-keysyms1",
                 "xkbcommon-x11": "libxkbcommon-x11-0"}


def missing_display_libraries(platform: str | None = None, system: str | None = None) -> list[str]:
    """Packages to install before Qt can open a window on X11 (empty when none is missing, or when
    the platform is not xcb: ``QT_QPA_PLATFORM`` offscreen/wayland, or not Linux)."""
    import ctypes.util
    import os

    platform = os.environ.get("QT_QPA_PLATFORM", "") if platform is None else platform
    system = sys.platform if system is None else system
    if not system.startswith("linux") or (platform and not platform.startswith("xcb")):
        return []
    return [pkg for lib, pkg in XCB_LIBRARIES.items() if ctypes.util.find_library(lib) is None]


def _application():
    from PySide6 import QtWidgets

    from bci_app.errors import ConfigError

    app = QtWidgets.QApplication.instance()
    if app is None:
        missing = missing_display_libraries()
        if missing:  # Qt would abort with "Could not load the Qt platform plugin xcb"
            raise ConfigError(
                f"the window needs system libraries that are not installed: {', '.join(missing)}. Install them "
                f"(Debian/Ubuntu: sudo apt install {' '.join(missing)}), or run without a window: "
                "bci-app demo --headless")
        app = QtWidgets.QApplication(sys.argv[:1])
        app.setApplicationName("bci-app")
    return app


def run_gui(args: argparse.Namespace | None = None) -> int:
    """Open the main window and run the Qt event loop until it is closed. Returns the exit code.

    ``args`` may carry ``config`` (a YAML path), ``log_dir`` and ``cue_source`` (an
    :class:`~bci_app.paradigm.external_cues.ExternalCueSource`: another program's cues, chosen in the
    source panel).
    """
    import torch

    from bci_app.config import load_config
    from bci_app.gui.main_window import MainWindow
    from bci_app.session.training import warm_up

    torch.set_num_threads(1)
    app = _application()
    config = load_config(getattr(args, "config", None))
    cues = getattr(args, "cue_source", None)
    if cues is not None:
        cues.check_classes(config.paradigm.classes)
    log.info("training modules imported in %.1f s", warm_up())  # none is imported while the window runs
    window = MainWindow(config, log_dir=getattr(args, "log_dir", None), config_path=getattr(args, "config", None))
    if cues is not None:
        window.source_panel.cue_box.choose(cues.stream, cues.events)
    window.show()
    window.activateWindow()  # the keyboard goes to the window (its shortcuts work at once)
    return int(app.exec())


def build_demo(args: argparse.Namespace):
    """Create the demo's window and its :class:`DemoDriver` (not started) over the Qt-free rig
    (:func:`bci_app.session.demo.demo_rig`). See :func:`run_demo_window`."""
    from bci_app.config import load_config
    from bci_app.gui.main_window import MainWindow
    from bci_app.session import Session
    from bci_app.session.demo import demo_rig

    config = load_config(getattr(args, "config", None))
    rig = demo_rig(config, base=getattr(args, "base", None) or config.model.base, seed=getattr(args, "seed", 0) or 0,
                   trials_per_class=getattr(args, "trials_per_class", 10) or 10,
                   time_scale=getattr(args, "time_scale", None) or 1.0)
    given = getattr(args, "config", None)
    window = MainWindow(rig.config, session=rig.session, log_dir=getattr(args, "log_dir", None),
                        training_factory=Session.calibration_training,
                        config_path=f"{given or 'built-in defaults'} (demo: paradigm shortened to "
                                    f"{rig.config.paradigm.trials_per_class} trials per class)")
    window.bridge.imagine = rig.simulator.imagine  # the simulated person behind the LSL stream follows the cues
    driver = DemoDriver(window, rig.source_spec, player=rig.player, simulator=rig.simulator,
                        online_trials_per_class=getattr(args, "online_trials_per_class", 6) or 6,
                        exit_when_done=bool(getattr(args, "exit_when_done", False)),
                        record=getattr(args, "record", None))
    return window, driver


def run_demo_window(args: argparse.Namespace) -> int:
    """``bci-app demo`` with a window: the simulated headset published over LSL and read back like
    an amplifier, calibration with the cue display (the simulated user imagines each cue),
    background fine-tuning with its curves, then online feedback with cued, scored trials — all
    visible. ``args``: the demo command's options (``config``, ``base``, ``seed``,
    ``trials_per_class``, ``online_trials_per_class``, ``time_scale``, ``record``) and optionally
    ``log_dir`` and ``exit_when_done`` (close when the online trials are scored). Returns the exit code.
    """
    import torch
    from PySide6 import QtCore

    from bci_app.session.training import warm_up

    torch.set_num_threads(1)
    app = _application()
    log.info("training modules imported in %.1f s", warm_up())  # none is imported while the window runs
    window, driver = build_demo(args)
    window.show()
    window.activateWindow()
    QtCore.QTimer.singleShot(0, driver.start)
    return int(app.exec())


class DemoDriver:
    """Clicks through the session like an operator would: connect (LSL) → calibrate → (training
    starts by itself) → online with cued trials → result. Stops its LSL player and simulator when
    the window shuts down."""

    def __init__(self, window, source: dict, *, player=None, simulator=None, online_trials_per_class: int = 6,
                 exit_when_done: bool = False, record=None) -> None:
        self.w = window
        self.source = source
        self.player = player
        self.simulator = simulator
        self.online_trials_per_class = online_trials_per_class
        self.exit_when_done = exit_when_done
        self.record = record
        self.stage = "new"
        self.result: dict | None = None
        self.timer = None
        window.add_shutdown_hook(self.stop)

    def start(self) -> None:
        from PySide6 import QtCore

        self.stage = "connecting"
        self.w.connect_source(self.source)
        self.timer = QtCore.QTimer(self.w)
        self.timer.setInterval(100)
        self.timer.timeout.connect(self._step)
        self.timer.start()

    def _step(self) -> None:
        w, s = self.w, self.w.session
        state = w.state_text
        if self.stage == "connecting" and state == "connected":
            if self.player is not None:
                self.player.start()  # after the inlet is open: every published sample arrives
            if self.record:
                s.start_recording(self.record, overwrite=True)
            self.stage = "calibrating"
            w.operator_panel.start_button.click()
        elif self.stage == "calibrating" and state == "connected" and s.model is not None:
            self.stage = "online"
            w.online_panel.cued_check.setChecked(True)
            w.online_panel.cued_trials.setValue(self.online_trials_per_class)
            w.online_panel.start_button.click()
        elif self.stage == "online":
            score = s.online_result()
            if score is not None:
                self.stage = "done"
                self.result = score
                w.online_panel.trial_label.setText(
                    f"Demo finished: {score['accuracy']:.0%} of {score['n_trials']} cued trials correct")
                if self.exit_when_done:
                    from PySide6 import QtCore

                    QtCore.QTimer.singleShot(500, w.close)
        elif self.stage in ("connecting", "calibrating") and state == "idle" and w.error_banner.isVisible():
            self.stage = "failed"

    def stop(self) -> None:
        """Stop the step timer, the LSL player and the simulator (window shutdown)."""
        if self.timer is not None:
            self.timer.stop()
        if self.player is not None:
            self.player.stop()
        if self.simulator is not None and self.simulator.connected:
            self.simulator.disconnect()


run_demo = run_demo_window  # the name bci_app.commands.demo calls
