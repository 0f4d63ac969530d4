"""Play a recording (EDF/BDF/GDF/FIF/XDF) as if it were live: :class:`StreamFile`.

Time base: at :meth:`connect` the stream notes ``t0 = clock()``. Sample ``i`` of the file, at file
time ``f_i`` (seconds after the file's first sample), gets the timestamp ``t0 + f_i`` (plus one file
duration per completed loop) and is released once ``(clock() - t0) * speed >= f_i``. At speed 1 the
timestamps are therefore the emission times on the stream's clock, exactly like a live source; at
other speeds samples keep their file spacing (so timestamps match ``info.sfreq``) and only arrive
faster or slower. Markers (annotations, XDF marker streams) get ``t0 + marker file time`` and are
released with the sample at or after them. With ``speed="max"`` everything is released at once,
in chunks of at most ``max_chunk`` samples per :meth:`acquire` (default: the buffer's capacity, so
a reader that reads after each ``acquire()`` loses nothing).

``start_index=k`` plays from the file's sample ``k`` at ``speed``: the samples before it are due at
once (released in chunks of at most the buffer's capacity), so a replay reaches the sample where the
live decoder started without waiting; sample indices and timestamps keep their file spacing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bci_app.acquisition.base import Stream, StreamInfo
from bci_app.errors import StreamError
from bci_app.io.recording import read_recording
from bci_app.lsl_config import lsl_clock
from bci_app.types import Marker, Recording


class StreamFile(Stream):
    """A recording played back behind the ``Stream`` contract.

    Parameters
    ----------
    path : str | Path | Recording
        Recording file (read with :func:`bci_app.io.recording.read_recording`) or an already
        loaded :class:`Recording`.
    speed : float | "max"
        Playback speed factor (> 0; 1 = real time); ``"max"`` or ``inf`` as fast as possible.
    loop : bool
        Start again at the end, timestamps still increasing (one file duration per loop).
    clock : callable | None
        Returns the current time in seconds; default ``pylsl.local_clock``. Tests pass a manual clock.
    max_chunk : int | None
        Most samples released per ``acquire()``; default: unlimited for a finite speed, the buffer
        capacity for ``"max"``.
    start_index : int
        File sample from which playback is paced (see module doc; 0: the start).
    bufsize, acquisition_delay : see :class:`~bci_app.acquisition.base.Stream`.
    """

    def __init__(
        self,
        path: str | Path | Recording,
        *,
        speed: float | str = 1.0,
        loop: bool = False,
        clock: Callable[[], float] | None = None,
        max_chunk: int | None = None,
        bufsize: float = 30.0,
        acquisition_delay: float | None = None,
        stream_name: str | None = None,
        start_index: int = 0,
    ) -> None:
        super().__init__(bufsize=bufsize, acquisition_delay=acquisition_delay)
        if isinstance(speed, str):
            if speed.lower() not in ("max", "inf"):
                raise StreamError(f"speed must be a number > 0 or 'max', got {speed!r}")
            speed = math.inf
        if not speed > 0:
            raise StreamError(f"speed must be > 0 (1 = real time) or 'max', got {speed}")
        if start_index < 0:
            raise StreamError(f"start_index must be >= 0, got {start_index}")
        self.speed = float(speed)
        self.start_index = int(start_index)
        self.loop = loop
        self.max_chunk = max_chunk
        self._source = path
        self._stream_name = stream_name
        self._clock = clock
        self.recording: Recording | None = None
        self._t0 = 0.0
        self._pos = 0  # absolute released sample count (across loops)
        self._marker_pos = 0  # absolute released marker count (across loops)
        self._rel: np.ndarray | None = None  # file time of each sample, from 0
        self._period = 0.0
        self._marker_rel: np.ndarray | None = None
        self._ended = False

    # -- time -----------------------------------------------------------------------------------
    def now(self) -> float:
        if self._clock is None:
            self._clock = lsl_clock()
        return float(self._clock())

    @property
    def finished(self) -> bool:
        """``True`` once a non-looping file has released its last sample."""
        return self._ended

    @property
    def t0(self) -> float:
        """Clock time (s) of the file's first sample, set by :meth:`connect`."""
        return self._t0

    # -- Stream hooks -----------------------------------------------------------------------------
    def _connect(self) -> StreamInfo:
        rec = self._source if isinstance(self._source, Recording) else read_recording(self._source, stream_name=self._stream_name)
        if rec.n_times == 0:
            raise StreamError(f"recording {rec.path.name} holds no samples; nothing to play")
        self.recording = rec
        self._rel = np.asarray(rec.timestamps, dtype=np.float64) - float(rec.timestamps[0])
        if np.any(np.diff(self._rel) < 0):
            raise StreamError(f"recording {rec.path.name} has timestamps that go backwards; cannot play it")
        self._period = float(self._rel[-1]) + 1.0 / rec.sfreq
        self._marker_rel = np.array([m.timestamp - float(rec.timestamps[0]) for m in rec.markers], dtype=np.float64)
        self._pos = 0
        self._marker_pos = 0
        self._ended = False
        if self.start_index >= rec.n_times:
            raise StreamError(f"start_index {self.start_index} is beyond the {rec.n_times} samples of {rec.path.name}")
        # sample start_index is due now: everything before it at once
        ahead = 0.0 if math.isinf(self.speed) else float(self._rel[self.start_index]) / self.speed
        self._t0 = self.now() - ahead
        return StreamInfo(
            name=self._stream_name or rec.path.stem,
            sfreq=float(rec.sfreq),
            ch_names=rec.ch_names,
            ch_types=rec.ch_types,
            units=rec.units,
            source_id=f"file:{rec.path.name}",
            stype="EEG",
        )

    def _disconnect(self) -> None:
        """Nothing to close (the recording stays loaded for a reconnection)."""

    def _pull(self) -> tuple[np.ndarray, np.ndarray, list[Marker]]:
        rec, rel = self.recording, self._rel
        assert rec is not None and rel is not None and self._marker_rel is not None
        n_file = rec.n_times
        if self._ended:
            return np.empty((len(rec.ch_names), 0)), np.empty(0), []
        # how many samples are due by now
        if math.isinf(self.speed):
            due = math.inf
        else:
            played = (self.now() - self._t0) * self.speed
            loops, within = divmod(played, self._period) if self.loop else (0.0, played)
            due = int(loops) * n_file + int(np.searchsorted(rel, within, side="right"))
            if not self.loop:
                due = min(due, n_file)
        catching_up = self._pos < self.start_index
        limit = self.max_chunk if self.max_chunk is not None else (
            self.buffer.capacity if math.isinf(self.speed) or catching_up else None)
        end = due if limit is None else min(due, self._pos + limit)
        if not self.loop:
            end = min(end, n_file)
        end = int(end)
        if end <= self._pos:
            return np.empty((len(rec.ch_names), 0)), np.empty(0), []
        idx = np.arange(self._pos, end)
        loop_k, file_i = np.divmod(idx, n_file)
        data = rec.data[:, file_i]
        timestamps = self._t0 + loop_k * self._period + rel[file_i]
        self._pos = end
        markers = self._release_markers(float(timestamps[-1]))
        if not self.loop and self._pos >= n_file:
            self._ended = True
            markers.extend(self._release_markers(math.inf))
            self._emit("ended", f"{rec.path.name}: all {n_file} samples played")
        return data, timestamps, markers

    def _release_markers(self, upto_ts: float) -> list[Marker]:
        """Markers whose time is at or before the last released sample (all of them at the end)."""
        rec, mrel = self.recording, self._marker_rel
        n_m = len(mrel)
        if n_m == 0:
            return []
        out: list[Marker] = []
        while True:
            k, j = divmod(self._marker_pos, n_m)
            if not self.loop and k >= 1:
                break
            ts = self._t0 + k * self._period + float(mrel[j])
            if ts > upto_ts:
                break
            source = rec.markers[j]
            out.append(Marker(ts, source.value, source.duration))
            self._marker_pos += 1
        return out
