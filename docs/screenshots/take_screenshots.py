"""Reproduce docs/screenshots/*.png: the real window in each state, on a real X server (Xvfb), at
the size of a clinic laptop (1366 x 768, the window fitted to it less a task bar).

    apt-get install -y xvfb libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1   # once (see STACK.md)
    python docs/screenshots/take_screenshots.py --xvfb        # starts Xvfb :99 1366x768x24 itself
    python docs/screenshots/take_screenshots.py --xvfb --scale 1.5   # 1920x1080 at 150 %: 09-150-percent.png
    QT_QPA_PLATFORM=offscreen python docs/screenshots/take_screenshots.py   # no X server

With ``--scale`` (``QT_SCALE_FACTOR``) only one picture is taken: the calibration tab during a cue,
on a 1920 x 1080 screen scaled to 150 % (1280 x 720 logical pixels).

It runs the demo session with the default configuration (``bci_app.gui.build_demo``: the default
``sensorimotor16`` base, its 16 simulated channels published over LSL, 2× speed; only the data folder
is a temporary one) as a clinician would: a participant, the headset, calibration (recorded by
itself), training, the report, online feedback, then a replay of the online run; it grabs the window
(``QWidget.grab``) at each step. PNGs are written next to this script (``--out`` to change).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--xvfb", action="store_true", help="start Xvfb :99 and use the xcb platform")
    parser.add_argument("--time-scale", type=float, default=2.0)
    parser.add_argument("--scale", type=float, default=None, help="QT_SCALE_FACTOR (e.g. 1.5 on a 1920x1080 screen)")
    args = parser.parse_args()
    xvfb = None
    if args.scale:
        os.environ["QT_SCALE_FACTOR"] = f"{args.scale:g}"
    if args.xvfb:
        screen = "1920x1080x24" if args.scale else "1366x768x24"
        xvfb = subprocess.Popen(["Xvfb", ":99", "-screen", "0", screen, "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        os.environ["DISPLAY"] = ":99"
        os.environ["QT_QPA_PLATFORM"] = "xcb"
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        return shoot(args)
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(5)


def shoot(args) -> int:
    import torch
    from PySide6 import QtCore, QtWidgets

    from bci_app.gui.app import build_demo

    torch.set_num_threads(1)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["bci-app"])
    tmp = Path(tempfile.mkdtemp(prefix="bci-shots-"))
    cfg = tmp / "config.yaml"
    cfg.write_text(f"recording:\n  directory: {tmp / 'data'}\n")  # the default configuration otherwise
    demo_args = argparse.Namespace(config=cfg, base=None, seed=2, trials_per_class=10, online_trials_per_class=3,
                                   time_scale=args.time_scale, record=None, log_dir=tmp / "logs")
    w, driver = build_demo(demo_args)
    from bci_app.gui.layout import DECORATIONS, fit_to_screen

    avail = w.screen().availableGeometry().size()  # the screen less a title and a task bar
    fit_to_screen(w, avail - DECORATIONS)
    w.show()
    print(f"window {w.width()}x{w.height()} on a {avail.width()}x{avail.height()} screen "
          f"(device pixel ratio {w.devicePixelRatio():g})", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []

    def wait(pred, timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > end:
                raise TimeoutError(f"waiting for {what}: {w.error_banner.text.text()}")
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 30)
            time.sleep(0.01)

    def pause(seconds: float) -> None:
        until = time.monotonic() + seconds
        wait(lambda: time.monotonic() > until, seconds + 5, "time")

    def grab(name: str, panel=None) -> None:
        if panel is not None:
            w.tabs.setCurrentWidget(panel)
            pause(0.3)
        path = args.out / f"{name}.png"
        w.grab().save(str(path), "PNG")
        shots.append(path)
        print(f"{path.name}: {path.stat().st_size // 1024} KB", flush=True)

    pause(0.5)
    if not args.scale:
        grab("01-participant")
    w.guide_panel.participant.setText("P001")
    w.guide_panel.start_button.click()
    w.connect_source(driver.source)
    wait(lambda: w.state_text == "connected", 20, "connection")
    driver.player.start()
    pause(4.5)
    if not args.scale:
        grab("02-headset-signals", w.signal_view)
        w.left_tabs.setCurrentWidget(w.paradigm_editor)  # the set-up, editable until calibration starts
        pause(0.3)
        grab("10-paradigm-setup")
        w.left_tabs.setCurrentWidget(w.source_panel)
    w.operator_panel.start_button.click()
    wait(lambda: w.cue_display.phase == "cue", 30, "a cue")
    pause(0.15)
    if args.scale:
        grab(f"09-{round(args.scale * 100)}-percent")
        w.close()
        app.processEvents()
        return 0
    grab("03-calibration-cue")

    def erd_filled() -> bool:
        t = w.operator_panel.erd_table
        return t.rowCount() == 2 and all(t.item(r, c) is not None and t.item(r, c).text() not in ("", "–")
                                         for r in range(2) for c in range(4))

    wait(lambda: erd_filled() and w.cue_display.phase == "imagery", 240, "the ERD table")
    grab("04-calibration-quality")
    wait(lambda: w.state_text == "training" and len(w.bridge.history) >= 3, 240, "training epochs")
    pause(1.0)
    grab("05-training")
    wait(lambda: w.session.model is not None and w.session.saved is not None, 300, "the adapter and report")
    pause(0.5)
    grab("06-report", w.report_panel)
    driver.stage = "online"
    w.online_panel.cued_check.setChecked(True)
    w.online_panel.cued_trials.setValue(demo_args.online_trials_per_class)
    w.online_panel.start_button.click()
    wait(lambda: w.online_panel.total >= 2 and w.session.online_paradigm.state.phase == "imagery"
         and w.session.online_paradigm.state.label is not None, 240, "scored online trials")
    pause(1.0)
    grab("07-online", w.online_panel)
    w.online_panel.stop_button.click()
    online = w.session.folder.path / "online.xdf"
    w.disconnect_source()
    os.chdir(online.parent)  # the path field shows the file name only
    w.tabs.setCurrentWidget(w.replay_panel)
    w.replay_panel.path_edit.setText(online.name)
    w.replay_panel.speed.setValue(8.0)
    w.replay_panel.play_button.click()
    wait(lambda: w.state_text == "idle" and w.replay_panel.comparison is not None, 240, "the replay")
    pause(0.3)
    grab("08-replay")
    w.close()
    app.processEvents()
    for p in shots:
        if p.stat().st_size > 300 * 1024:
            print(f"warning: {p.name} is over 300 KB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
