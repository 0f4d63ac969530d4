"""Shared data types at the bottom of the house: every layer (acquisition, io, signal, calibration,
online, session) imports them from here, and this module imports nothing of bci_app.

- :class:`Marker`: an event on the samples' time base.
- :class:`Recording`: a whole recording in memory (volts, timestamps, channels, markers).
- :data:`GAP_MARKER`: the marker value a stream adds where its source went away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

GAP_MARKER = "gap"
"""Value of the marker a stream adds when data resume after a lost source: its ``timestamp`` is the
last sample before the gap and its ``duration`` the time to the first sample after it."""


@dataclass(frozen=True)
class Marker:
    """An event: ``timestamp`` (s, same base as the samples), ``value`` (e.g. ``"769"`` or ``"T1"``),
    ``duration`` (s, 0 when unknown)."""

    timestamp: float
    value: str
    duration: float = 0.0


@dataclass(frozen=True)
class Recording:
    """A recording in memory.

    data: (n_chans, n_times) float64, volts for EEG channels.
    timestamps: (n_times,) seconds; for files without a clock, ``first_time + index / sfreq``.
    """

    path: Path
    data: np.ndarray
    timestamps: np.ndarray
    sfreq: float
    ch_names: tuple[str, ...]
    ch_types: tuple[str, ...]
    units: tuple[str, ...]
    markers: tuple[Marker, ...] = field(default_factory=tuple)
    extra_streams: dict[str, dict] = field(default_factory=dict)

    @property
    def n_times(self) -> int:
        return self.data.shape[1]

    @property
    def duration(self) -> float:
        return self.n_times / self.sfreq
