"""Signal view frame rate on a large cap: a 256-channel x 2048 Hz LSL stream (the acquisition
benchmark's producer, in a subprocess) through StreamLSL into the window's SignalView, redrawn by a
33 ms Qt timer as the main window does (offscreen unless a display is set). Prints JSON.

Measures the timer's frame rate, the time each frame takes (pull the page from the ring buffer,
envelope, setData, repaint) and the frame rate when drawing as fast as possible, at the default time
span (5 s) and the longest (20 s).

Usage: ``python bench/signal_view.py [--channels 256] [--sfreq 2048] [--seconds 10]``
Goal: >= 30 fps at 256 channels.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.append(str(BENCH_DIR))  # last: bench helpers (qt_timer)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bci_app.lsl_config import configure_lsl  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--sfreq", type=float, default=2048.0)
    parser.add_argument("--seconds", type=float, default=10.0, help="each measurement")
    args = parser.parse_args()
    configure_lsl()
    from PySide6 import QtWidgets
    from qt_timer import run_timer

    from bci_app.acquisition.lsl import StreamLSL
    from bci_app.gui.signal_view import MAX_BINS, PAGE_SIZE, TIME_SPANS_S, SignalView

    name = f"bciapp-bench-view-{uuid.uuid4().hex[:8]}"
    total = 4 * args.seconds + 8
    producer = subprocess.Popen(
        [sys.executable, "-P", str(BENCH_DIR / "acquisition.py"), "--producer", name, "--duration", str(total),
         "--channels", str(args.channels), "--sfreq", str(args.sfreq)], stdout=subprocess.PIPE, text=True)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])  # noqa: F841 - the widgets need it
    stream = StreamLSL(name, resolve_timeout=30.0, bufsize=30.0, acquisition_delay=0.01, marker_stream=False)
    stream.connect()
    view = SignalView()
    view.resize(1280, 800)
    view.show()
    view.set_source(stream)
    results: dict[str, dict] = {}
    try:
        time.sleep(3.0)  # producer starts after 1 s; fill a few seconds of buffer

        def frame(times: list[float]) -> None:
            t = time.perf_counter()
            view.refresh()
            view.plot.viewport().repaint()
            times.append(time.perf_counter() - t)

        def timed(interval_ms: int, seconds: float) -> tuple[list[float], list[float]]:
            costs: list[float] = []
            return run_timer(interval_ms, seconds, lambda: frame(costs)), costs

        for span in (5, 20):
            view.timespan.setCurrentIndex(TIME_SPANS_S.index(span))
            time.sleep(0.2)
            stamps, costs = timed(33, args.seconds)
            _, fast_costs = timed(0, args.seconds / 2)
            c = np.array(costs) * 1e3
            results[f"{span}s"] = {
                "timer_fps": round((len(stamps) - 1) / (stamps[-1] - stamps[0]), 1),
                "max_fps": round(len(fast_costs) / (sum(fast_costs) or 1e-9), 1),
                "frame_ms_p50": round(float(np.median(c)), 2),
                "frame_ms_p95": round(float(np.percentile(c, 95)), 2),
                "frame_ms_max": round(float(c.max()), 2),
                "points_per_channel": view.last_n_times,
            }
    finally:
        stream.disconnect()
        producer.kill()
        producer.wait(timeout=10)
    print(json.dumps({
        "channels": args.channels, "sfreq": args.sfreq, "seconds": args.seconds,
        "page_size": PAGE_SIZE, "max_bins": MAX_BINS, "lost_overflow": stream.counters.lost_overflow,
        "spans": results, "goals": {"fps": ">= 30"},
    }, indent=2))


if __name__ == "__main__":
    main()
