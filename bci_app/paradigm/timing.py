"""Headless Graz motor-imagery paradigm driven by an injectable clock.

Trial timeline (seconds from trial start, defaults from BCI Competition IV 2a)::

    0            cue_at_s (2)     cue_at_s + cue_duration_s (3.25)     imagery_end_s (6)     + rest
    | fixation   | cue            | imagery (cue gone)                   | rest 1.5–3.5 s (random)
    768          769..772         781                                    800

GDF codes: 768 trial start (fixation cross, optional beep), 769/770/771/772 cue left/right/feet/
tongue, 781 at the end of the cue display, i.e. onset of the cue-free imagery ("feedback") period —
BCI IV 2a shows the cue for 1.25 s and the subject keeps imagining until 6 s; 2b's feedback
sessions mark that period with 781. 800 end of trial (imagery end). 1023 rejected trial, emitted by
:meth:`GrazParadigm.mark_rejected` with the *trial start* time (as in the BCI IV 2a files).

Event timestamps are schedule-exact: ``start time + scheduled offset + paused time before it``, not
the moment :meth:`GrazParadigm.update` happened to run. Pausing freezes the timeline; resuming
shifts everything after it by the paused duration. Runs of ``trials_per_run`` are separated by
breaks of ``break_s``. Phase-only changes (break, paused, finished, ...) are events with
``code=None``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bci_app.config import ParadigmConfig
from bci_app.errors import CalibrationError
from bci_app.vocabulary import CUE_CODES, END_OF_TRIAL, FEEDBACK_ONSET, REJECTED, TRIAL_START


@dataclass(frozen=True)
class ParadigmEvent:
    """timestamp: clock seconds; code: GDF code or None (phase change only); trial_index: 0-based
    trial (or None); label: class name of that trial (or None); phase: phase entered."""

    timestamp: float
    code: int | None
    trial_index: int | None
    label: str | None
    phase: str


@dataclass(frozen=True)
class ParadigmState:
    phase: str
    trial_index: int | None  #: 0-based current trial (None before the first / after the last)
    n_trials: int
    run_index: int  #: 0-based run
    n_runs: int
    label: str | None  #: class of the current trial
    completed_per_class: dict[str, int]  #: trials whose end (800) has been emitted
    rejected: tuple[int, ...]
    phase_time_left_s: float
    time_left_s: float  #: until the paradigm finishes (pauses excluded)


def short_paradigm(config, trials_per_class: int, seed: int, tmin: float, window_s: float):
    """The demo's shortened Graz timeline: 0.5 s fixation, cue, imagery long enough for the
    model's window (``tmin + window_s`` + 0.5 s), 0.5–1 s rest, no breaks."""
    return config.paradigm.model_copy(update={
        "trials_per_class": trials_per_class, "trials_per_run": 10_000, "cue_at_s": 0.5, "cue_duration_s": 0.5,
        "imagery_end_s": 0.5 + tmin + window_s + 0.5, "rest_min_s": 0.5, "rest_max_s": 1.0, "break_s": 0.0,
        "seed": seed,
    })


def planned_duration_s(config: ParadigmConfig) -> float:
    """How long the calibration of ``config`` takes (s, pauses excluded): its seeded schedule's end."""
    return GrazParadigm(config, clock=lambda: 0.0).duration_s


def check_model_window(config: ParadigmConfig, tmin_s: float, length_s: float) -> None:
    """Refuse a timeline whose trials cannot hold the model's window: it runs from ``tmin_s`` to
    ``tmin_s + length_s`` seconds after the cue and must end by the end of imagery
    (``imagery_end_s - cue_at_s`` after the cue), or no trial is ever decoded and every cued trial
    scores "undecided". Raises :class:`CalibrationError` naming both times and the fix."""
    imagery = float(config.imagery_end_s) - float(config.cue_at_s)
    end = float(tmin_s) + float(length_s)
    if end > imagery + 1e-9:
        raise CalibrationError(
            f"the model decodes a window from {tmin_s:g} s to {end:g} s after the cue, but the paradigm's imagery "
            f"ends {imagery:g} s after the cue (paradigm.imagery_end_s {config.imagery_end_s:g} s - cue_at_s "
            f"{config.cue_at_s:g} s), so no trial can be decoded; set paradigm.imagery_end_s to at least "
            f"{float(config.cue_at_s) + end:g} s")


def paradigm_problems(config: ParadigmConfig, *, decoded: Sequence[str], window: tuple[float, float]) -> list[str]:
    """Why ``config`` cannot calibrate a base that decodes the classes ``decoded`` in ``window``
    ((seconds after the cue, length)): classes the base does not decode, and the window refusal of
    :func:`check_model_window`. Empty when it can."""
    problems = []
    extra = [c for c in config.classes if c not in decoded]
    if extra:
        problems.append(f"the base model decodes {', '.join(decoded)}, not {', '.join(extra)}; choose among its "
                        "classes or a base that decodes them (model.base)")
    try:
        check_model_window(config, *window)
    except CalibrationError as exc:
        problems.append(str(exc))
    return problems


def describe_paradigm(config: ParadigmConfig) -> str:
    """E.g. ``40 trials (20 per class) in 2 runs with a 15 s break; about 6 min 20 s``."""
    n = len(config.classes) * config.trials_per_class
    runs = -(-n // config.trials_per_run)
    breaks = f" with a {config.break_s:g} s break" if runs > 1 and config.break_s > 0 else ""
    m, s = divmod(int(round(planned_duration_s(config))), 60)
    return (f"{n} trials ({config.trials_per_class} per class) in {runs} run{'s' if runs > 1 else ''}{breaks}; "
            f"about {m} min {s:02d} s")


def balanced_order(config: ParadigmConfig) -> list[str]:
    """Class of each trial: every class ``trials_per_class`` times, balanced within each run as far
    as the run length allows, shuffled with ``config.seed``."""
    rng = np.random.default_rng(config.seed)
    classes = list(config.classes)
    remaining = dict.fromkeys(classes, config.trials_per_class)
    total = len(classes) * config.trials_per_class
    order: list[str] = []
    while len(order) < total:
        n_run = min(config.trials_per_run, total - len(order))
        run: list[str] = []
        base = n_run // len(classes)
        for c in classes:
            take = min(base, remaining[c])
            run += [c] * take
            remaining[c] -= take
        while len(run) < n_run:  # the remainder goes to the classes with most left (random ties)
            most = max(remaining.values())
            pick = [c for c in classes if remaining[c] == most]
            c = pick[int(rng.integers(len(pick)))]
            run.append(c)
            remaining[c] -= 1
        order += [run[i] for i in rng.permutation(len(run))]
    return order


@dataclass(frozen=True)
class _Scheduled:
    offset: float  # timeline seconds from start (pauses excluded)
    code: int | None
    trial_index: int | None
    label: str | None
    phase: str


class GrazParadigm:
    """The Graz cue timeline. Call :meth:`start`, then :meth:`update` often (e.g. every frame).

    ``clock``: seconds, e.g. ``pylsl.local_clock`` live or a :class:`~bci_app.clocks.ManualClock` in tests.
    Observers (``subscribe``) are called synchronously from ``update``/``pause``/... in time order.
    Thread-safe: one lock guards the state.
    """

    def __init__(self, config: ParadigmConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self.order = balanced_order(config)
        self.n_trials = len(self.order)
        self.n_runs = -(-self.n_trials // config.trials_per_run)
        rng = np.random.default_rng([config.seed, 1])
        self.rest_s = rng.uniform(config.rest_min_s, config.rest_max_s, self.n_trials)
        self._schedule, self.trial_offsets = self._build_schedule()
        self._lock = threading.RLock()
        self._subscribers: list[Callable[[ParadigmEvent], None]] = []
        self._start: float | None = None
        self._paused_total = 0.0
        self._paused_at: float | None = None
        self._next = 0
        self._phase = "idle"
        self._trial: int | None = None
        self._completed = dict.fromkeys(config.classes, 0)
        self._rejected: list[int] = []
        self._trial_times: dict[int, float] = {}
        self._terminal: str | None = None

    # -- schedule --------------------------------------------------------------------------------
    def _build_schedule(self) -> tuple[list[_Scheduled], list[float]]:
        c = self.config
        events: list[_Scheduled] = []
        starts: list[float] = []
        t = 0.0
        for k, label in enumerate(self.order):
            if k > 0 and k % c.trials_per_run == 0 and c.break_s > 0:
                events.append(_Scheduled(t, None, None, None, "break"))
                t += c.break_s
            starts.append(t)
            events += [
                _Scheduled(t, TRIAL_START, k, label, "fixation"),
                _Scheduled(t + c.cue_at_s, CUE_CODES[label], k, label, "cue"),
                _Scheduled(t + min(c.cue_at_s + c.cue_duration_s, c.imagery_end_s), FEEDBACK_ONSET, k, label, "imagery"),
                _Scheduled(t + c.imagery_end_s, END_OF_TRIAL, k, label, "rest"),
            ]
            t += c.imagery_end_s + float(self.rest_s[k])
        events.append(_Scheduled(t, None, None, None, "finished"))
        return events, starts

    @property
    def duration_s(self) -> float:
        """Total timeline length without pauses, seconds."""
        return self._schedule[-1].offset

    # -- observers -------------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[ParadigmEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def _emit(self, event: ParadigmEvent) -> None:
        for cb in list(self._subscribers):
            cb(event)

    # -- control ---------------------------------------------------------------------------------
    def start(self, at: float | None = None) -> None:
        """Start the timeline at clock time ``at`` (default: now): the first trial's fixation is at
        ``at``; nothing is emitted before then. A start in the past is refused (its events would
        all come late)."""
        with self._lock:
            if self._start is not None:
                raise CalibrationError("the paradigm has already been started; create a new one to restart")
            now = float(self.clock())
            if at is not None and not (math.isfinite(at) and at >= now - 1e-9):
                raise CalibrationError(f"paradigm start time {at} is not a finite clock time at or after now ({now:.3f})")
            self._start = now if at is None else float(at)
            self._update_locked(now)

    def planned_cues(self) -> list[tuple[float, str]]:
        """``(clock time, label)`` of every cue not yet given, assuming no further pause (after
        :meth:`start`). A simulated user can plan its imagery from it."""
        with self._lock:
            if self._start is None:
                raise CalibrationError("the paradigm has not been started; its cue times are not known yet")
            return [(self._start + s.offset + self._paused_total, str(s.label))
                    for s in self._schedule[self._next:] if s.phase == "cue"]

    def update(self) -> list[ParadigmEvent]:
        """Advance to the clock's time and emit everything due. Returns the events emitted."""
        with self._lock:
            if self._start is None or self._terminal is not None or self._paused_at is not None:
                return []
            return self._update_locked(float(self.clock()))

    def _update_locked(self, now: float) -> list[ParadigmEvent]:
        emitted = []
        while self._next < len(self._schedule):
            s = self._schedule[self._next]
            ts = self._start + s.offset + self._paused_total
            if ts > now + 1e-12:
                break
            self._next += 1
            self._phase = s.phase
            if s.trial_index is not None:
                self._trial = s.trial_index
            if s.code == TRIAL_START:
                self._trial_times[s.trial_index] = ts
            if s.code == END_OF_TRIAL:
                self._completed[s.label] += 1
            if s.phase == "finished":
                self._terminal = "finished"
                self._trial = None
            ev = ParadigmEvent(ts, s.code, s.trial_index, s.label, s.phase)
            emitted.append(ev)
            self._emit(ev)
        return emitted

    def pause(self) -> None:
        """Freeze the timeline (events due until now are emitted first)."""
        with self._lock:
            if self._start is None or self._terminal is not None or self._paused_at is not None:
                return
            now = float(self.clock())
            self._update_locked(now)
            if self._terminal is not None:
                return
            self._paused_at = now
            self._resume_phase = self._phase
            self._phase = "paused"
            self._emit(ParadigmEvent(now, None, self._trial, self._label(), "paused"))

    def resume(self) -> None:
        """Continue; every later event shifts by the paused duration."""
        with self._lock:
            if self._paused_at is None:
                return
            now = float(self.clock())
            self._paused_total += now - self._paused_at
            self._paused_at = None
            self._phase = self._resume_phase
            self._emit(ParadigmEvent(now, None, self._trial, self._label(), self._phase))
            self._update_locked(now)

    def abort(self) -> None:
        """Stop for good; nothing more is emitted after the ``aborted`` event."""
        with self._lock:
            if self._terminal is not None:
                return
            now = float(self.clock())
            if self._start is not None and self._paused_at is None:
                self._update_locked(now)
                if self._terminal is not None:
                    return
            self._paused_at = None
            self._terminal = "aborted"
            self._phase = "aborted"
            self._emit(ParadigmEvent(now, None, self._trial, self._label(), "aborted"))

    def mark_rejected(self, trial_index: int) -> ParadigmEvent:
        """Emit GDF 1023 for a trial that has started, stamped with that trial's start time."""
        with self._lock:
            if trial_index not in self._trial_times:
                raise CalibrationError(
                    f"trial {trial_index} has not started yet; only started trials can be marked rejected"
                )
            if trial_index not in self._rejected:
                self._rejected.append(trial_index)
            ev = ParadigmEvent(
                self._trial_times[trial_index], REJECTED, trial_index, self.order[trial_index], self._phase
            )
            self._emit(ev)
            return ev

    # -- state -----------------------------------------------------------------------------------
    def _label(self) -> str | None:
        return None if self._trial is None else self.order[self._trial]

    @property
    def phase(self) -> str:
        return self._phase

    @property
    def finished(self) -> bool:
        return self._terminal is not None

    def trial_start_time(self, trial_index: int) -> float | None:
        """Clock time of a started trial's 768 marker (None if not started)."""
        return self._trial_times.get(trial_index)

    @property
    def state(self) -> ParadigmState:
        """Snapshot for display (does not advance the timeline)."""
        with self._lock:
            if self._start is None:
                elapsed = 0.0
            else:
                now = self._paused_at if self._paused_at is not None else float(self.clock())
                elapsed = now - self._start - self._paused_total
            if self._terminal is not None or self._next >= len(self._schedule):
                phase_left = total_left = 0.0
            else:
                phase_left = max(self._schedule[self._next].offset - elapsed, 0.0)
                total_left = max(self.duration_s - elapsed, 0.0)
            run = 0 if self._trial is None else self._trial // self.config.trials_per_run
            return ParadigmState(
                phase=self._phase,
                trial_index=self._trial,
                n_trials=self.n_trials,
                run_index=run,
                n_runs=self.n_runs,
                label=self._label(),
                completed_per_class=dict(self._completed),
                rejected=tuple(self._rejected),
                phase_time_left_s=phase_left,
                time_left_s=total_left,
            )
