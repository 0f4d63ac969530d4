"""One Qt timer loop for the GUI benchmarks (``bench/gui.py``, ``bench/signal_view.py``,
``bench/switch_interval.py``), and the signal view they time on the simulated headset."""

from __future__ import annotations

import time
from collections.abc import Callable


def headset_view(width: int = 1280, height: int = 800):
    """``(stream, view)``: the window's signal view (``width`` x ``height``, shown) on a simulated
    64-channel EEGMMIDB headset pulling on its own thread, as the window's; the caller disconnects
    ``stream`` and closes ``view``."""
    from bci_app.acquisition.simulated import StreamSimulated
    from bci_app.gui.signal_view import SignalView

    stream = StreamSimulated(sfreq=160.0, acquisition_delay=0.02)
    stream.connect()
    view = SignalView()
    view.resize(width, height)
    view.show()
    view.set_source(stream)
    return stream, view


def run_timer(interval_ms: int, seconds: float, on_tick: Callable[[], None],
              until: Callable[[], bool] | None = None) -> list[float]:
    """Call ``on_tick`` from a precise Qt timer every ``interval_ms`` (0: as fast as the event loop
    allows) for ``seconds`` or until ``until()``; returns the perf_counter time of each tick."""
    from PySide6 import QtCore

    loop = QtCore.QEventLoop()
    stamps: list[float] = []
    timer = QtCore.QTimer()
    timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
    timer.setInterval(interval_ms)
    end = time.perf_counter() + seconds

    def tick() -> None:
        stamps.append(time.perf_counter())
        on_tick()
        if time.perf_counter() >= end or (until is not None and until()):
            loop.quit()

    timer.timeout.connect(tick)
    timer.start()
    loop.exec()
    timer.stop()
    return stamps
