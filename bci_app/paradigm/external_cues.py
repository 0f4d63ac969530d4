"""Another program's cues drive the session: a Markers stream (PsychoPy, Psychtoolbox, your own code)
takes the place of the app's Graz paradigm.

:class:`ExternalCues` reads markers from a source (:class:`LslMarkerInlet`),
maps them to classes with the ``--events`` syntax (``T1=left_hand,T2=right_hand``) and emits the same
:class:`~bci_app.paradigm.timing.ParadigmEvent` records the paradigm does, on the markers' own timestamps:
a cue (its GDF code, 769-772: the *mirror* of the program's marker that the session records and
builds trials from) and, ``imagery_end_s - cue_at_s`` later, the end of the trial (800). So
``Session.start_calibration(paradigm=cues)`` calibrates from them and
``Session.start_online_trials(paradigm=cues)`` scores online trials from them, through the same code
as the app's own cues; the session publishes no cues of its own over them.

- Markers arriving late are placed at their timestamps (the session keeps every sample since the
  start); cues stamped before :meth:`ExternalCues.start` are counted in ``too_early`` and left out.
- Markers of no class in the mapping are counted per value in ``unknown`` (one warning per value).
- When the sender goes away, the run ends with phase ``cue stream lost`` (``finished`` is True, so a
  calibration ends with the cues received, and nothing is trained by itself).
- With ``trials_per_class``, the run finishes once every class has that many trials ended; without
  it, when the operator stops it (:meth:`stop`).

:class:`ExternalCueSource` is the operator's choice (a Markers stream and its mapping, checked when
made): the window's source panel, ``bci-app gui --cue-stream`` and scripts open their cues with it.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bci_app.errors import CalibrationError, ConfigError, StreamError
from bci_app.io.dataset_presets import DatasetPreset, parse_event_mapping
from bci_app.lsl_config import configure_lsl
from bci_app.paradigm.timing import ParadigmEvent, ParadigmState
from bci_app.types import Marker
from bci_app.vocabulary import CUE_CODES, END_OF_TRIAL, REJECTED

log = logging.getLogger(__name__)

__all__ = ["ExternalCueSource", "ExternalCues", "LslMarkerInlet"]

#: phases that end a run
_ENDED = ("finished", "aborted", "cue stream lost")


class ExternalCues:
    """Cues from ``source`` (``pull() -> list[Marker]``, ``lost``) mapped by ``events`` (``--events``
    text, a mapping or a :class:`~bci_app.io.dataset_presets.DatasetPreset`), timed by ``config`` (a
    :class:`~bci_app.config.ParadigmConfig`: ``cue_at_s`` before the cue is the trial's baseline,
    ``imagery_end_s - cue_at_s`` its imagery) on ``clock`` (the markers' clock: LSL seconds).
    ``record(value, timestamp)`` (e.g. ``session.record_marker``) gets every marker as received.
    Raises :class:`CalibrationError` for a class without a GDF cue code."""

    #: the other program sets the pace: the operator cannot pause it from here
    pausable = False

    def __init__(self, source: Any, events: str | Mapping[str, str] | Any, config: Any, clock: Callable[[], float], *,
                 trials_per_class: int | None = None,
                 record: Callable[[str, float], None] | None = None) -> None:
        if isinstance(events, str):
            events = parse_event_mapping(events)
        self.mapping = dict(events.labels_for(None) if isinstance(events, DatasetPreset) else events)
        no_code = sorted({c for c in self.mapping.values() if c not in CUE_CODES})
        if no_code:
            raise CalibrationError(f"classes {no_code} have no GDF cue code; external cues can drive "
                                   f"{', '.join(CUE_CODES)}")
        self.source, self.config, self.clock, self.record = source, config, clock, record
        self.classes = tuple(dict.fromkeys(self.mapping.values()))
        self.trials_per_class = trials_per_class
        self.imagery_s = max(float(config.imagery_end_s - config.cue_at_s), 0.1)
        self.cues: list[tuple[float, str]] = []  #: (timestamp, class) of every cue taken, in arrival order
        self.unknown: Counter[str] = Counter()
        self.too_early = 0
        self.beyond = 0  #: cues of a class that already had ``trials_per_class``
        self.completed: Counter[str] = Counter()
        self._rejected: list[int] = []
        self._ends: list[tuple[float, int]] = []  # (end time, trial index) not yet emitted
        self._subscribers: list[Callable[[ParadigmEvent], None]] = []
        self._phase = "idle"
        self._t0 = math.inf

    @classmethod
    def from_lsl(cls, name: str, events: str | Mapping[str, str] | Any, config: Any, clock: Callable[[], float], *,
                 timeout: float = 5.0, **kw: Any) -> ExternalCues:
        """Cues from the LSL Markers stream ``name`` (:class:`LslMarkerInlet`)."""
        return cls(LslMarkerInlet(name, timeout=timeout), events, config, clock, **kw)

    # -- the paradigm's interface (what the session and the online trials use) ---------------------
    def subscribe(self, callback: Callable[[ParadigmEvent], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def _emit(self, event: ParadigmEvent) -> None:
        for cb in list(self._subscribers):
            cb(event)

    def _enter(self, phase: str) -> None:
        self._phase = phase
        self._emit(ParadigmEvent(self.clock(), None, None, None, phase))

    @property
    def phase(self) -> str:
        return self._phase

    @property
    def finished(self) -> bool:
        return self._phase in _ENDED

    @property
    def duration_s(self) -> float:
        """Unknown ahead: the other program decides (``inf``)."""
        return math.inf

    def planned_cues(self) -> list[tuple[float, str]]:
        """None are known ahead."""
        return []

    @property
    def state(self) -> ParadigmState:
        """Snapshot for display, as the paradigm's: the latest trial whose imagery is not over (phase
        ``imagery``, its class), else the run's phase (``waiting for cues``, ``finished``, ...).
        ``n_trials``: the planned trials with ``trials_per_class``, else those cued so far;
        ``time_left_s`` is ``inf`` (the other program decides)."""
        open_ = [i for _, i in self._ends]
        current = max(open_) if open_ else None
        n = self.trials_per_class * len(self.classes) if self.trials_per_class is not None else len(self.cues)
        left = max(min(e for e, _ in self._ends) - self.clock(), 0.0) if self._ends else 0.0
        return ParadigmState(
            phase="imagery" if current is not None else self._phase, trial_index=current, n_trials=n,
            run_index=0, n_runs=1, label=self.cues[current][1] if current is not None else None,
            completed_per_class={c: self.completed[c] for c in self.classes}, rejected=tuple(self._rejected),
            phase_time_left_s=left, time_left_s=math.inf)

    def start(self, at: float | None = None) -> None:
        """Take cues stamped from ``at`` (default now) on."""
        self._t0 = self.clock() if at is None else float(at)
        self._enter("waiting for cues")

    def update(self) -> list[ParadigmEvent]:
        """Take the markers received, emit cues and the ends of trials whose imagery is over."""
        if self.finished or self._phase == "idle":
            return []
        out: list[ParadigmEvent] = []
        for m in sorted(self.source.pull(), key=lambda m: m.timestamp):
            out += self._take(m)
        now = self.clock()
        for end, i in sorted(e for e in self._ends if e[0] <= now):
            self._ends.remove((end, i))
            label = self.cues[i][1]
            self.completed[label] += 1
            out.append(ParadigmEvent(end, END_OF_TRIAL, i, label, "rest"))
            self._emit(out[-1])
        if self.trials_per_class is not None and not self._ends and \
                all(self.completed[c] >= self.trials_per_class for c in self.classes):
            self._enter("finished")
        elif getattr(self.source, "lost", False) and not self._ends:
            log.warning("external cues: the Markers stream went away after %d cue(s)", len(self.cues))
            self._enter("cue stream lost")
        return out

    def _take(self, m: Marker) -> list[ParadigmEvent]:
        value = m.value.strip()
        if self.record is not None:
            self.record(value, m.timestamp)
        label = self.mapping.get(value)
        if label is None:
            if value not in self.unknown:
                log.warning("external cues: marker %r means no class of %s; ignored", value, self.mapping)
            self.unknown[value] += 1
            return []
        if m.timestamp < self._t0:
            self.too_early += 1
            return []
        if self.trials_per_class is not None and sum(c == label for _, c in self.cues) >= self.trials_per_class:
            self.beyond += 1
            return []
        i = len(self.cues)
        self.cues.append((m.timestamp, label))
        self._ends.append((m.timestamp + self.imagery_s, i))
        ev = ParadigmEvent(m.timestamp, CUE_CODES[label], i, label, "cue")
        self._emit(ev)
        return [ev]

    def trial_start_time(self, trial_index: int) -> float | None:
        """``cue_at_s`` before the trial's cue (its baseline), None for an unknown trial."""
        if not 0 <= trial_index < len(self.cues):
            return None
        return self.cues[trial_index][0] - float(self.config.cue_at_s)

    def mark_rejected(self, trial_index: int) -> ParadigmEvent:
        """A 1023 (rejected) event stamped with the trial's start."""
        start = self.trial_start_time(trial_index)
        if start is None:
            raise CalibrationError(f"no external-cue trial {trial_index}")
        if trial_index not in self._rejected:
            self._rejected.append(trial_index)
        ev = ParadigmEvent(start, REJECTED, trial_index, self.cues[trial_index][1], self._phase)
        self._emit(ev)
        return ev

    def stop(self) -> None:
        """The operator ends the run: trials whose imagery is over count; it finishes normally."""
        if not self.finished:
            self._ends = []
            self._enter("finished")

    def abort(self) -> None:
        if not self.finished:
            self._ends = []
            self._enter("aborted")

    def close(self) -> None:
        if hasattr(self.source, "close"):
            self.source.close()


@dataclass(frozen=True)
class ExternalCueSource:
    """The operator's choice of another program's cues: the LSL ``Markers`` stream ``stream`` and
    ``events``, which of its markers means which class (``--events`` syntax:
    ``T1=left_hand,T2=right_hand``). Checked when made: :class:`ConfigError` for an empty stream
    name, a malformed mapping, an unknown class or one without a GDF cue code."""

    stream: str
    events: str

    def __post_init__(self) -> None:
        if not str(self.stream).strip():
            raise ConfigError("choose the LSL Markers stream of the stimulus program (it has no name here)")
        no_code = sorted(set(self.mapping().values()) - set(CUE_CODES))
        if no_code:
            raise ConfigError(f"cue markers: classes {no_code} have no GDF cue code; another program's cues can "
                              f"drive {', '.join(CUE_CODES)}")

    def mapping(self) -> dict[str, str]:
        """``{marker: class}`` (raises :class:`ConfigError` for a malformed mapping)."""
        return dict(parse_event_mapping(self.events).labels_for(None))

    @property
    def classes(self) -> tuple[str, ...]:
        """The classes the mapping names, in its order."""
        return tuple(dict.fromkeys(self.mapping().values()))

    def check_classes(self, classes: Sequence[str]) -> None:
        """Every class of the mapping is one of ``classes`` (the paradigm's, which the model decodes);
        :class:`ConfigError` naming the others."""
        extra = [c for c in self.classes if c not in classes]
        if extra:
            raise ConfigError(f"cue markers map to {extra}, which the calibration does not train (paradigm classes "
                              f"{list(classes)}); map the markers to those classes or change the paradigm's classes")

    def describe(self) -> str:
        """E.g. ``cues from 'psychopy-markers' (T1=left_hand, T2=right_hand)``."""
        return f"cues from {self.stream!r} ({', '.join(f'{k}={v}' for k, v in self.mapping().items())})"

    def open(self, config: Any, clock: Callable[[], float], *, record: Callable[[str, float], None] | None = None,
             trials_per_class: int | None = None, timeout: float = 5.0) -> ExternalCues:
        """:class:`ExternalCues` from the stream (blocks until it is found, at most ``timeout`` s;
        :class:`StreamError` naming the visible Markers streams otherwise), timed by ``config`` (a
        :class:`~bci_app.config.ParadigmConfig`, whose ``classes`` must hold the mapping's) on
        ``clock``; ``record`` (e.g. ``session.record_marker``) gets every marker as received."""
        self.check_classes(config.classes)
        return ExternalCues.from_lsl(self.stream, self.mapping(), config, clock, timeout=timeout,
                                     trials_per_class=trials_per_class, record=record)


class LslMarkerInlet:
    """Another program's LSL ``Markers`` stream (PsychoPy, Psychtoolbox, your own code) named ``name``,
    read without blocking; timestamps on this machine's LSL clock (the sender's clock offset applied).

    :meth:`pull` returns the markers that arrived since the last call; once the sender has gone,
    :attr:`lost` is True (the markers received before stay valid). Raises :class:`StreamError` naming
    the visible Markers streams when none is called ``name`` within ``timeout`` seconds.
    """

    def __init__(self, name: str, *, timeout: float = 5.0) -> None:
        configure_lsl()
        import pylsl  # heavy (the LSL library), and only after the machine-scope config

        from bci_app.acquisition.lsl import _describe, _lit, _type_is  # loads pylsl at its top

        self.name = name
        found = pylsl.resolve_bypred(f"{_type_is('markers')} and name={_lit(name)}", 1, timeout)
        if not found:
            visible = pylsl.resolve_bypred(_type_is("markers"), 0, min(timeout, 1.0))
            raise StreamError(f"no LSL Markers stream named {name!r} found within {timeout:g} s; visible Markers "
                              f"streams: {_describe(visible)}. Start the stimulus program first, or check its name.")
        self._inlet = pylsl.StreamInlet(found[0], max_buflen=360, recover=False,
                                        processing_flags=pylsl.proc_clocksync)
        try:
            self._inlet.open_stream(timeout=timeout)
            self._inlet.time_correction(timeout=timeout)
        except (pylsl.util.TimeoutError, pylsl.util.LostError) as exc:
            raise StreamError(f"LSL Markers stream {name!r} was found but could not be opened: {exc}") from exc
        self.lost = False

    def pull(self) -> list[Marker]:
        """Markers received since the last call (first channel of each sample), oldest first."""
        import pylsl

        out: list[Marker] = []
        if self._inlet is None or self.lost:
            return out
        while True:
            try:
                values, stamps = self._inlet.pull_chunk(timeout=0.0)
            except pylsl.util.LostError:
                self.lost = True
                log.warning("the LSL Markers stream %r went away", self.name)
                return out
            if not stamps:
                return out
            out += [Marker(float(t), str(v[0] if len(v) else "")) for v, t in zip(values, stamps)]

    def close(self) -> None:
        if self._inlet is not None:
            self._inlet.close_stream()
            self._inlet = None
