"""The session's calibration run (:class:`CalibrationRun`): the paradigm, every sample from the start
(:class:`CalibrationTap`) and the running calibration quality shown to the operator
(:func:`calibration_quality`), each trial checked in steps over the updates after its end
(:class:`TrialChecks`)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bci_app.errors import BCIError
from bci_app.models.pretrained import base_model_metadata
from bci_app.paradigm.timing import GrazParadigm, check_model_window
from bci_app.signal.quality import CalibrationQuality
from bci_app.types import Marker, Recording
from bci_app.vocabulary import END_OF_TRIAL, window_span

if TYPE_CHECKING:
    from bci_app.acquisition.base import Stream
    from bci_app.config import AppConfig
    from bci_app.paradigm.timing import ParadigmEvent
    from bci_app.session.observers import EventHub


#: seconds of signal kept from before the calibration starts: the first trial's pre-cue baseline
#: (and the report's wavelet margin, up to 2 s before the cue) are then in the calibration data too
LEAD_S = 2.5


class CalibrationTap:
    """Collects every sample of a stream from ``lead_s`` seconds before it is created (as far as the
    stream's buffer holds them) on: the calibration data.

    Samples go into one preallocated array (sized for ``expected_s`` seconds, doubled when a run
    goes longer; a run of unknown length, another program's cues, starts at a minute), so
    :meth:`recording` hands out a view at once: joining thousands of small chunks at the end of a
    64-channel calibration held the UI thread for ~100 ms."""

    def __init__(self, stream: Stream, lead_s: float = LEAD_S, expected_s: float = 60.0) -> None:
        self.stream = stream
        buf = stream.buffer
        self.index = max(buf.n_written - int(round(lead_s * stream.info.sfreq)), buf.n_written - buf.n_available)
        expected_s = expected_s if np.isfinite(expected_s) else 60.0
        capacity = max(1, int(round((lead_s + expected_s + 5.0) * stream.info.sfreq)))
        self._data = np.empty((stream.info.n_chans, capacity), dtype=buf.dtype)  # pages touched as filled
        self._times = np.empty(capacity)
        self.n = 0  #: samples collected
        self.lost = 0

    def poll(self) -> None:
        res = self.stream.read_since(self.index)
        self.lost += res.n_lost
        self.index = res.next_index
        k = res.timestamps.size
        if not k:
            return
        if self.n + k > self._times.size:
            size = max(2 * self._times.size, self.n + k)
            data, times = np.empty((self._data.shape[0], size), dtype=self._data.dtype), np.empty(size)
            data[:, : self.n], times[: self.n] = self._data[:, : self.n], self._times[: self.n]
            self._data, self._times = data, times
        self._data[:, self.n : self.n + k] = res.data
        self._times[self.n : self.n + k] = res.timestamps
        self.n += k

    def recording(self, markers: list[Marker]) -> Recording:
        """The samples collected so far with ``markers``, as a :class:`Recording` (volts); its arrays
        are views of what was collected (later samples never change them)."""
        info = self.stream.info
        return Recording(
            path=Path(f"<session:{info.name}>"), data=self._data[:, : self.n], timestamps=self._times[: self.n],
            sfreq=info.sfreq, ch_names=info.ch_names, ch_types=info.ch_types, units=info.units,
            markers=tuple(markers),
        )


def calibration_quality(config: AppConfig, stream: Stream) -> CalibrationQuality:
    """The operator's running calibration check for ``config.paradigm`` on ``stream``: mu/beta ERD
    in the report's imagery window against its fixation baseline
    (:meth:`bci_app.report.erd.ErdWindows.for_paradigm`, computed by the same
    :func:`~bci_app.signal.quality.erd_percent`), and the artifact rejection training will apply
    on the base model's channels.
    Raises :class:`~bci_app.errors.CalibrationError` when the source cannot be checked."""
    from bci_app.report.erd import ErdWindows  # heavy (matplotlib, mne): loaded when a calibration starts

    p = config.paradigm
    meta = base_model_metadata(config.model.base)
    windows = ErdWindows.for_paradigm(p)  # the report's windows (relative to the cue): the same ERD
    return CalibrationQuality(
        stream.info.ch_names, stream.info.sfreq, p.classes,
        imagery=(p.cue_at_s + windows.imagery[0], p.cue_at_s + windows.imagery[1]),
        baseline=(p.cue_at_s + windows.baseline[0], p.cue_at_s + windows.baseline[1]),
        min_trials_per_class=min(5, p.trials_per_class),
        artifacts=config.preprocessing,
        artifact_channels=tuple(meta["preprocessing"]["ch_names"]),
    )


class TrialChecks:
    """The running quality check of each ended trial (:meth:`~bci_app.signal.quality.CalibrationQuality.trial_steps`),
    one step per :meth:`step`, oldest trial first: run whole at a trial's end, it held the UI thread
    3-6 ms with 64 channels in the frame that also handles the trial's markers. ``rejected(index)``
    for a trial it rejects, then ``checked()`` once each trial's check is complete."""

    def __init__(self, rejected: Callable[[int], None], checked: Callable[[], None]) -> None:
        self._pending: deque[tuple[int, Generator[None, None, bool]]] = deque()
        self._rejected, self._checked = rejected, checked

    def add(self, trial_index: int, steps: Generator[None, None, bool]) -> None:
        self._pending.append((trial_index, steps))

    def step(self) -> None:
        """One step of the oldest trial's check."""
        if not self._pending:
            return
        index, steps = self._pending[0]
        try:
            next(steps)
        except StopIteration as done:
            self._pending.popleft()
            if not done.value:
                self._rejected(index)
            self._checked()

    def finish(self) -> None:
        """Every pending check to its end (the calibration ends: its data hold every rejection)."""
        while self._pending:
            self.step()


class CalibrationRun:
    """One calibration at a time: the Graz paradigm on the session clock, every sample from its
    start (:class:`CalibrationTap`), its GDF markers, the running quality check (trials it rejects
    are marked 1023) and, when it ends, :attr:`data`: the calibration as a :class:`Recording`.

    ``record_marker(value, timestamp)`` writes each GDF code into the recording; ``on_event`` gets
    each paradigm event (the session's ``paradigm`` event)."""

    def __init__(self, hub: EventHub, record_marker: Callable[[str, float], None],
                 on_event: Callable[[ParadigmEvent], None]) -> None:
        self.paradigm: GrazParadigm | None = None
        self.data: Recording | None = None
        #: running quality (None when the source cannot be checked: see :attr:`quality_problem`)
        self.quality: CalibrationQuality | None = None
        self.quality_problem: str | None = None
        self._hub, self._record_marker, self._on_event = hub, record_marker, on_event
        self._checks = self._new_checks()
        self._tap: CalibrationTap | None = None
        self._stream: Stream | None = None
        self._markers: list[Marker] = []

    def prepare(self, config: AppConfig, clock: Callable[[], float], stream: Stream,
                subscribers: Sequence[Callable[[ParadigmEvent], None] | None], paradigm: Any = None) -> GrazParadigm:
        """Make the paradigm (``config.paradigm``; or take ``paradigm``, another program's cues:
        :class:`bci_app.paradigm.external_cues.ExternalCues`), start collecting and the quality check, and
        subscribe ``subscribers`` (``None`` skipped) before the run's own handler. Returns the
        paradigm, not started yet."""
        self.paradigm = paradigm if paradigm is not None else GrazParadigm(config.paradigm, clock)
        self._markers, self._stream, self._checks = [], stream, self._new_checks()
        self._tap = CalibrationTap(stream, expected_s=self.paradigm.duration_s)
        self.quality, self.quality_problem = None, None
        try:
            self.quality = calibration_quality(config, stream)
        except BCIError as exc:  # the check is advisory: say why it is missing
            self.quality_problem = f"Calibration quality unavailable: {exc}"
        for sub in subscribers:
            if sub is not None:
                self.paradigm.subscribe(sub)
        self.paradigm.subscribe(self._on_paradigm)
        return self.paradigm

    @staticmethod
    def problem(config: AppConfig, model_window: tuple[float, float] | None) -> str | None:
        """Why ``config.paradigm`` cannot calibrate the model (``model_window``: (seconds after the cue,
        length); ``None``: the configured base's): its window does not fit between the cue and the
        end of imagery (:func:`bci_app.paradigm.timing.check_model_window`); ``None`` when it can."""
        try:
            window = model_window or window_span(base_model_metadata(config.model.base))
            check_model_window(config.paradigm, *window)
        except BCIError as exc:
            return str(exc)
        return None

    @property
    def collecting(self) -> bool:
        return self._tap is not None

    def drop(self) -> None:
        """Forget a run whose paradigm could not start."""
        self.paradigm, self._tap = None, None

    def poll(self) -> bool:
        """A step of the ended trials' checks, then advance the paradigm and collect new samples; True
        when the paradigm has finished."""
        if self.paradigm is None:
            return False
        self._checks.step()  # before the paradigm: never in the update in which a trial ends
        self.paradigm.update()
        if self._tap is not None:
            try:
                self._tap.poll()
            except BCIError as exc:
                self._hub.error("calibration", str(exc), exc)
        return self.paradigm.finished

    def abort(self) -> None:
        if self.paradigm is not None:
            self.paradigm.abort()

    def finish(self) -> bool:
        """Keep the collected samples and markers as :attr:`data`; False when nothing was collecting.
        Lost samples are an ``error`` event."""
        tap, self._tap = self._tap, None
        if tap is None:
            return False
        self._checks.finish()
        tap.poll()
        self.data = tap.recording(list(self._markers))
        if tap.lost:
            self._hub.error("calibration", f"{tap.lost} samples were lost while calibrating (buffer overrun)")
        return True

    @property
    def completed(self) -> bool:
        """The paradigm ran to its end (not aborted)."""
        return self.paradigm is not None and self.paradigm.phase == "finished"

    def _on_paradigm(self, ev: ParadigmEvent) -> None:
        if ev.code is not None:
            self._markers.append(Marker(ev.timestamp, str(ev.code)))
            self._record_marker(str(ev.code), ev.timestamp)
        if ev.code == END_OF_TRIAL:
            self._add_quality_trial(ev)
        self._on_event(ev)

    def _add_quality_trial(self, ev: ParadigmEvent) -> None:
        quality, paradigm, stream = self.quality, self.paradigm, self._stream
        if quality is None or paradigm is None or stream is None or ev.label is None:
            return
        start = paradigm.trial_start_time(ev.trial_index)
        if start is not None:  # the trial's span (and the check's lead before it), not the whole buffer
            data, ts = stream.get_data(max(0.0, ev.timestamp - start) + quality.lookback_s + 1.0)
            self._checks.add(ev.trial_index, quality.trial_steps(ev.label, data, ts, start))

    def _new_checks(self) -> TrialChecks:
        """The checks of one run: a rejected trial gets GDF 1023 (into the recording and the cue stream),
        each checked trial a ``quality`` event (the summary so far)."""
        paradigm = self.paradigm
        return TrialChecks(lambda index: paradigm.mark_rejected(index),
                           lambda: self._hub.emit("quality", self.quality.summary()))
