"""Injectable clocks (seconds): :class:`ManualClock` for tests and headless replays, :class:`ScaledClock`
for simulations faster than real time. The paradigm, file streams and the session take any ``() -> float``."""

from __future__ import annotations


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
