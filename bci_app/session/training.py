"""The session's training: one job at a time on a background thread, and what its end means.

A job is an iterator that yields progress records and *returns* its result (a generator such as
:meth:`calibration.job.CalibrationJob.run`). :class:`TrainingRunner` iterates it on a thread named
``bci-finetune`` with torch limited to ``torch_threads`` and posts typed messages to the session's
inbox (:mod:`bci_app.session.messages`), taken in the session's thread:

- :class:`~bci_app.session.messages.TrainingProgress` for each record (a ``progress`` event);
- :class:`~bci_app.session.messages.TrainingDone` with ``model = to_model(result)`` (installed
  through ``on_model``; :attr:`TrainingRunner.result` keeps the result);
- :class:`~bci_app.session.messages.TrainingStopped` when cancelled or failed (an ``error`` event).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from bci_app.config import resolve_lora
from bci_app.errors import CalibrationError, TrainingCancelled
from bci_app.session.messages import Inbox, TrainingDone, TrainingProgress, TrainingStopped
from bci_app.session.modes import Mode, ModeMachine
from bci_app.session.participant import FilesSaved, LoadedAdapter, Saved, keep_outcome
from bci_app.vocabulary import count_cues

if TYPE_CHECKING:
    from bci_app.config import AppConfig
    from bci_app.io.participant import SessionFolder
    from bci_app.online.decoder import DecoderModel
    from bci_app.session.finishing import Finishing
    from bci_app.session.observers import EventHub
    from bci_app.types import Recording

log = logging.getLogger(__name__)

TrainingFactory = Callable[[Any], tuple[Iterator[Any], Callable[[Any], Any], "Callable[[], None] | None"]]
"""``factory(session) -> (job, to_model, cancel)``: a training job built from the session's
calibration data, the function turning its result into a ``DecoderModel``, and the job's cancel
callback (``Session.training_factory``; default ``Session.calibration_training``)."""

Job = tuple[Iterator[Any], Callable[[Any], "DecoderModel"], Callable[[], None]]


#: what the training thread imports on first use: the calibration job, the gate's cross-validation
#: (scikit-learn), the adapter files (safetensors), what the report is drawn from (its inputs and
#: the process that draws it: the figures themselves, matplotlib and MNE's, are drawn in that
#: process and never imported here). An import holds the interpreter for whole C steps, so one on
#: the training thread stalled the window's timer 150-550 ms (scikit-learn at the gate, MNE and
#: matplotlib at the report when it was drawn here): :func:`warm_up` imports them where the app
#: starts, before its window runs.
TRAINING_MODULES = (
    "calibration.job", "calibration.prepare", "calibration.epochs", "sklearn.model_selection", "safetensors.torch",
    "bci_app.models.adapters", "bci_app.online.calibrate", "bci_app.signal.repair", "bci_app.session.participant",
    "bci_app.report.inputs", "bci_app.report.process", "bci_app.report.erd",
    # MNE loads its submodules lazily, on first attribute access: these are the ones preparation reaches
    "mne", "mne.filter", "mne.bem", "mne.baseline", "mne.channels.channels", "mne.channels.layout",
)


#: seconds a busy thread keeps the interpreter while another waits for it (Python's default: 5 ms).
#: The window's thread gives it up at each Qt call and takes it back dozens of times a frame; while a
#: thread runs Python (a recording parsed for a replay, a decoder built for an online start, the
#: training between torch calls) each take waits up to the whole interval. ``bench/switch_interval.py``
#: (64-channel view at 30 Hz, another thread running Python without pause): frame median 25 ms at
#: 1 ms, 14 ms at 0.2 ms; with the other thread busy 70 % of the time, 46 -> 4 frames in 455 over
#: 16 ms; busy 30 %, none either way; the busy thread loses about a tenth of its Python throughput.
SWITCH_INTERVAL_S = 0.0002


def warm_up(modules: tuple[str, ...] = TRAINING_MODULES) -> float:
    """Import ``modules`` now (the app calls it at start-up, before its window shows), so the
    training thread imports nothing while the window runs; then move every object made so far (the
    ~320 000 of torch, MNE, ...) into the garbage collector's permanent generation (``gc.freeze``):
    a full collection scanned them all holding the interpreter 180 ms, and work on the training
    thread (the report's figures, when they were drawn there) set one off now and then, stalling the
    window's timer 100-320 ms. The interpreter then switches threads every :data:`SWITCH_INTERVAL_S`.
    Returns the seconds it took."""
    import gc
    import importlib
    import sys
    import time

    sys.setswitchinterval(SWITCH_INTERVAL_S)
    t0 = time.perf_counter()
    for name in modules:
        importlib.import_module(name)
    gc.collect()
    gc.freeze()
    return time.perf_counter() - t0


class TrainingRunner:
    """Runs one training job at a time (see module doc) and moves ``modes`` into and out of
    ``training`` (back to ``idle`` when ``connected()`` is false by then). ``on_model(model)``
    installs a trained model; a job cancelled without waiting ends on its thread, tracked by
    ``finishing`` (it may be saving an adapter)."""

    def __init__(self, hub: EventHub, inbox: Inbox, modes: ModeMachine, *, connected: Callable[[], bool],
                 on_model: Callable[[DecoderModel], None], finishing: Finishing) -> None:
        self._hub, self._post, self._modes, self._finishing = hub, inbox.post, modes, finishing
        self._on_model, self._connected = on_model, connected
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._cancel_job: Callable[[], None] | None = None
        #: the last job's result; ``model_source``: "calibrated", or "loaded" for an earlier adapter
        self.result: Any = None
        self.model_source: str | None = None
        inbox.handle(TrainingProgress, lambda m: hub.emit("progress", m.record))
        inbox.handle(TrainingDone, self._done)
        inbox.handle(TrainingStopped, self._stopped)

    @property
    def running(self) -> bool:
        """A job was started and its end has not been taken with :meth:`ended` yet."""
        return self._thread is not None

    def start(self, job: Iterator[Any], to_model: Callable[[Any], Any], *, torch_threads: int,
              cancel: Callable[[], None] | None = None) -> bool:
        """Start ``job`` on the training thread (each record a ``progress`` event, ``to_model(result)``
        installed); ``cancel`` is called by :meth:`cancel` (e.g. the job's own cancel flag, checked
        between batches). An ``error`` event and False while a job runs or in a mode that cannot train."""
        if self.running:
            self._hub.error("training", "a training job is already running; cancel it first")
            return False
        if not self._modes.require("train", Mode.CONNECTED, Mode.ONLINE, Mode.IDLE):
            return False
        self._modes.begin_training()
        import torch  # heavy: loaded when the first job starts

        self._cancel.clear()
        self._cancel_job = cancel

        def run() -> None:
            torch.set_num_threads(torch_threads)
            try:
                while True:
                    if self._cancel.is_set():
                        raise TrainingCancelled("training was cancelled")
                    try:
                        record = next(job)
                    except StopIteration as stop:
                        result = stop.value
                        break
                    self._post(TrainingProgress(record))
                self._post(TrainingDone(result, to_model(result)))
            except TrainingCancelled as exc:
                self._post(TrainingStopped(exc, cancelled=True))
            except Exception as exc:  # noqa: BLE001 - becomes an error event
                self._post(TrainingStopped(exc, cancelled=False))
            finally:
                close = getattr(job, "close", None)
                if close is not None:
                    try:
                        close()
                    except Exception:  # noqa: BLE001 - the job's own cleanup; logged
                        log.exception("closing the training job failed")

        self._thread = threading.Thread(target=run, name="bci-finetune", daemon=True)
        self._thread.start()
        return True

    def _done(self, message: TrainingDone) -> None:
        self._thread = None
        self._modes.end_training(self._connected())
        self.result = message.result
        self.model_source = "loaded" if isinstance(message.result, LoadedAdapter) else "calibrated"
        self._on_model(message.model)

    def _stopped(self, message: TrainingStopped) -> None:
        self._thread = None
        self._modes.end_training(self._connected())
        if message.cancelled:
            self._hub.error("training", "training was cancelled; the previous model stays active", message.error)
        else:
            self._hub.error("training", f"training failed: {message.error}", message.error)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has ended (or none runs)."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def cancel(self, *, wait: bool = False) -> bool:
        """Ask the job to stop between records (and through its own cancel callback); ``wait``: join
        the thread (30 s at most), else it ends on its own, said by ``finishing`` as "stopping the
        training" (a disconnect while training joined it on the window's thread). True when a job
        was running and waited for."""
        if self._thread is None:
            return False
        self._cancel.set()
        if self._cancel_job is not None:
            self._cancel_job()
        if wait:
            self.join(timeout=30.0)
        else:
            self._finishing.track("stopping the training", self._thread)
        return wait


def calibration_training(sources: Sequence[Recording | None], config: AppConfig, channel_map: dict[str, str] | None,
                         folder: SessionFolder | None, inbox: Inbox,
                         started: Callable[[threading.Thread, Saved], None] | None = None) -> Job:
    """The :class:`calibration.job.CalibrationJob` on ``sources`` (the calibration and the cued
    online runs: GDF cues, the paradigm's classes and imagery period), as ``(job, to_model, cancel)``. Nothing runs
    here: loading the base, preparation, training and the gate happen on the training thread, where
    ``to_model`` also saves the adapter into ``folder`` and starts the report's own thread (drawn in a
    process of its own; a ``FilesSaved`` message once it is written; the thread and the ``Saved`` it fills
    are handed to ``started``)."""
    from calibration.job import CalibrationJob  # heavy (mne): loaded when the first training is built

    kept = [r for r in sources if r is not None]
    if not kept:
        raise CalibrationError("nothing to train on yet: run a calibration (or cued online trials) first")
    paradigm = config.paradigm  # training windows stay inside its imagery period
    job = CalibrationJob(kept, config, preset="gdf", classes=paradigm.classes, source_channel_map=channel_map,
                         imagery_s=paradigm.imagery_end_s - paradigm.cue_at_s)

    def to_model(outcome) -> DecoderModel:  # on the training thread: prepare, save the adapter, start the report
        return keep_outcome(outcome, folder, config, post=lambda saved: inbox.post(FilesSaved(saved)), started=started)

    return job.run(), to_model, job.cancel.set


def calibration_trials(recordings: Sequence[Recording | None]) -> int:
    """Cued trials in calibration data (GDF cue markers), over ``recordings`` (``None`` skipped)."""
    return sum(count_cues(m.value for m in r.markers) for r in recordings if r is not None)


def training_plan(config: AppConfig, recordings: Sequence[Recording | None]) -> str:
    """What a calibration job on ``recordings`` will adapt (the LoRA guide's summary), before it starts:
    :func:`~bci_app.config.resolve_lora` on the cued trials; the job resolves once more on the trials
    artifact rejection keeps, and its summary and adapter JSON give those values."""
    n = calibration_trials(recordings)
    r = resolve_lora(config.lora, n)
    ft = config.finetune
    return (f"base model: {config.model.base}\ncalibration trials: {n}\nLoRA targets: {', '.join(r.target_modules)} "
            f"({r.reason}); rank {r.rank}, alpha {r.alpha:g}, dropout {r.dropout:g}\n"
            f"epochs ≤ {ft.max_epochs}, early stopping on {ft.monitor} (patience {ft.patience})")
