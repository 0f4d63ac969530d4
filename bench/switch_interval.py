"""How the interpreter's switch interval shares the interpreter between the window's thread and a
thread running Python (a recording parsed by pyxdf, a decoder or model being built, the training
loop between torch calls). Prints JSON.

    QT_QPA_PLATFORM=offscreen python bench/switch_interval.py [--seconds 15] [--intervals 0.001 0.0002]

The window's 64-channel signal view (as ``bench/gui.py``: simulated headset on its own thread, the
app's 30 Hz timer, 1280 x 800) draws while another thread runs pure Python for ``duty`` of every
10 ms (1.0: without pause). The window's thread gives the interpreter up at each Qt call and waits
to take it back, up to one switch interval each time while the other thread runs Python: a frame
of many Qt calls takes that many waits. Measured per switch interval and duty: frame time median,
p99, longest, frames over 16 ms, and how much Python the busy thread got through (its loop
iterations per second, relative to the first interval's): what a shorter interval costs it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.append(str(BENCH_DIR))  # last: bench helpers (qt_timer)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "1")


def busy_python(stop: threading.Event, duty: float, count: list[int]) -> None:
    """Pure Python for ``duty`` of every 10 ms until ``stop``; ``count[0]``: loop iterations done."""
    n = 0
    while not stop.is_set():
        end = time.perf_counter() + 0.01 * duty
        while time.perf_counter() < end:
            n += 1
        if duty < 1.0:
            time.sleep(0.01 * (1.0 - duty))
    count[0] = n


def measure(view, interval_s: float, duty: float, seconds: float) -> dict:
    import numpy as np
    from qt_timer import run_timer

    sys.setswitchinterval(interval_s)
    stop, count = threading.Event(), [0]
    thread = threading.Thread(target=busy_python, args=(stop, duty, count), daemon=True)
    frames: list[float] = []

    def frame() -> None:
        t = time.perf_counter()
        view.refresh()
        view.plot.viewport().repaint()
        frames.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    thread.start()
    run_timer(33, seconds, frame)
    stop.set()
    thread.join()
    elapsed = time.perf_counter() - t0
    ms = np.array(frames) * 1000
    return {"switch_interval_ms": interval_s * 1000, "busy_duty": duty, "frames": len(ms),
            "frame_median_ms": round(float(np.median(ms)), 2), "frame_p99_ms": round(float(np.percentile(ms, 99)), 1),
            "frame_longest_ms": round(float(ms.max()), 1), "frames_over_16ms": int((ms > 16).sum()),
            "busy_iterations_per_s": round(count[0] / elapsed)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=15.0, help="each measurement (15)")
    ap.add_argument("--intervals", type=float, nargs="+", default=[0.001, 0.0005, 0.0002, 0.0001],
                    help="switch intervals to compare, seconds (0.001 0.0005 0.0002 0.0001)")
    ap.add_argument("--duties", type=float, nargs="+", default=[1.0, 0.7, 0.3],
                    help="fraction of every 10 ms the other thread runs Python (1.0 0.7 0.3)")
    ap.add_argument("--smoke", action="store_true", help="CI: 1 s measurements, two intervals, one duty")
    args = ap.parse_args()
    if args.smoke:
        args.seconds, args.intervals, args.duties = 1.0, [0.001, 0.0002], [1.0]

    from PySide6 import QtWidgets
    from qt_timer import headset_view

    from bci_app.session.training import SWITCH_INTERVAL_S, warm_up

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    warm_up()
    load0 = os.getloadavg()[0]
    stream, view = headset_view()
    time.sleep(min(view.winsize, 2.0))  # fill the window
    rows = [measure(view, interval, duty, args.seconds) for duty in args.duties for interval in args.intervals]
    for duty in args.duties:  # the busy thread's Python throughput relative to the first interval's
        same = [r for r in rows if r["busy_duty"] == duty]
        for r in same:
            r["busy_throughput_vs_first"] = round(r["busy_iterations_per_s"] / max(same[0]["busy_iterations_per_s"], 1), 3)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    stream.disconnect()
    view.close()
    app.processEvents()
    print(json.dumps({"benchmark": "switch_interval", "n_chans": 64, "cpu_count": os.cpu_count(),
                      "machine_load_1min_at_start": round(load0, 2), "app_switch_interval_ms": SWITCH_INTERVAL_S * 1000,
                      "seconds_each": args.seconds, "rows": rows, "smoke": args.smoke}, indent=2))


if __name__ == "__main__":
    main()
