"""Injectable clocks (seconds): :class:`ManualClock` for tests and headless replays, :class:`ScaledClock`
for simulations faster than real time. The paradigm, file streams and the session take any ``() -> float``;
:func:`poll_until` steps something on the wall clock until a condition holds."""

from __future__ import annotations

import time
from collections.abc import Callable


def poll_until(step: Callable[[], object], predicate: Callable[[], bool], *, timeout_s: float,
                interval_s: float = 0.01) -> bool:
    """Live helper for scripts: ``step()`` every ``interval_s`` of wall time until ``predicate()`` is
    true (True) or ``timeout_s`` passes (False, after one last step)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        step()
        if predicate():
            return True
        time.sleep(interval_s)
    step()
    return predicate()


class ManualClock:
    """A clock for tests: ``clock()`` returns ``now``; move it with :meth:`advance` / :meth:`set`."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, dt: float) -> float:
        self.now += float(dt)
        return self.now

    def set(self, t: float) -> float:
        self.now = float(t)
        return self.now


class ScaledClock:
    """``pylsl.local_clock`` running ``scale`` times faster from the moment of creation."""

    def __init__(self, scale: float) -> None:
        import pylsl

        self._lc = pylsl.local_clock
        self.scale = float(scale)
        self.t0 = self._lc()

    def __call__(self) -> float:
        return self.t0 + (self._lc() - self.t0) * self.scale
