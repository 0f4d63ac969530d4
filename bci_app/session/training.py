"""The session's training runner: one fine-tuning job at a time on a background thread.

A job is an iterator that yields progress records and *returns* its result (a generator such as
:meth:`calibration.job.CalibrationJob.run`). The runner iterates it on a thread named
``bci-finetune`` with torch limited to ``torch_threads`` and reports through ``post(kind, payload)``
(the session's inbox, delivered by ``Session.update`` in the caller's thread):

- ``("progress", record)`` for each record;
- ``("trained", (result, model))`` with ``model = to_model(result)``;
- ``("train-cancelled", TrainingCancelled)`` or ``("train-failed", exception)``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from bci_app.errors import TrainingCancelled

if TYPE_CHECKING:
    from bci_app.config import AppConfig
    from bci_app.types import Recording

log = logging.getLogger(__name__)

TrainingFactory = Callable[[Any], tuple[Iterator[Any], Callable[[Any], Any], "Callable[[], None] | None"]]
"""``factory(session) -> (job, to_model, cancel)``: a training job built from the session's
calibration data, the function turning its result into a ``DecoderModel``, and the job's cancel
callback (``Session.training_factory``; default ``Session.calibration_training``)."""


#: what the training thread imports on first use: the calibration job, the gate's cross-validation
#: (scikit-learn), the adapter files (safetensors), the report (MNE, matplotlib). An import holds
#: the interpreter for whole C steps, so one on the training thread stalled the window's timer
#: 150-550 ms (scikit-learn at the gate, MNE and matplotlib at the report): :func:`warm_up` imports
#: them where the app starts, before its window runs.
TRAINING_MODULES = (
    "calibration.job", "calibration.data", "calibration.epochs", "sklearn.model_selection", "safetensors.torch",
    "bci_app.models.adapters", "bci_app.online.calibrate", "bci_app.signal.repair", "bci_app.session.participant",
    "bci_app.report", "bci_app.report.figures", "matplotlib.figure", "matplotlib.backends.backend_agg",
    "matplotlib.pyplot", "PIL.Image",
    # MNE loads its submodules lazily, on first attribute access: these are the ones the report reaches
    "mne", "mne.filter", "mne.bem", "mne.baseline", "mne.channels.channels", "mne.channels.layout",
    "mne.time_frequency.tfr", "mne.time_frequency.spectrum", "mne.viz", "mne.viz.topomap",
)


def warm_up(modules: tuple[str, ...] = TRAINING_MODULES) -> float:
    """Import ``modules`` now (the app calls it at start-up, before its window shows), so the
    training thread imports nothing while the window runs. Returns the seconds it took."""
    import importlib
    import time

    t0 = time.perf_counter()
    for name in modules:
        module = importlib.import_module(name)
        if name == "PIL.Image":
            module.init()  # its image plugins load at the first save otherwise (the report's PNGs)
    return time.perf_counter() - t0


class TrainingRunner:
    """Runs one training job at a time (see module doc); ``post(kind, payload)`` must be thread-safe."""

    def __init__(self, post: Callable[[str, Any], None]) -> None:
        self._post = post
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._cancel_job: Callable[[], None] | None = None

    @property
    def running(self) -> bool:
        """A job was started and its end has not been taken with :meth:`ended` yet."""
        return self._thread is not None

    def start(self, job: Iterator[Any], to_model: Callable[[Any], Any], *, torch_threads: int,
              cancel: Callable[[], None] | None = None) -> None:
        """Start ``job`` on the training thread; ``cancel`` is called by :meth:`cancel` (e.g. the
        job's own cancel flag, checked between batches)."""
        import torch

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
                    self._post("progress", record)
                self._post("trained", (result, to_model(result)))
            except TrainingCancelled as exc:
                self._post("train-cancelled", exc)
            except Exception as exc:  # noqa: BLE001 - becomes an error event
                self._post("train-failed", exc)
            finally:
                close = getattr(job, "close", None)
                if close is not None:
                    try:
                        close()
                    except Exception:  # noqa: BLE001 - the job's own cleanup; logged
                        log.exception("closing the training job failed")

        self._thread = threading.Thread(target=run, name="bci-finetune", daemon=True)
        self._thread.start()

    def ended(self) -> None:
        """The session took the job's end event: a new job may start."""
        self._thread = None

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has ended (or none runs)."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def cancel(self) -> None:
        """Ask the job to stop between records (and through its own cancel callback)."""
        if self._thread is None:
            return
        self._cancel.set()
        if self._cancel_job is not None:
            self._cancel_job()


def calibration_trials(recording: Recording | None) -> int:
    """Cued trials in calibration data (GDF cue markers)."""
    from bci_app.events import count_cues

    return count_cues(m.value for m in recording.markers) if recording is not None else 0


def training_plan(config: AppConfig, recording: Recording | None) -> str:
    """What a calibration job on ``recording`` will adapt (the LoRA guide's summary), before it starts."""
    from bci_app.config import resolve_lora

    n = calibration_trials(recording)
    r = resolve_lora(config.lora, n)
    ft = config.finetune
    return (f"base model: {config.model.base}\ncalibration trials: {n}\nLoRA targets: {', '.join(r.target_modules)} "
            f"({r.reason}); rank {r.rank}, alpha {r.alpha:g}, dropout {r.dropout:g}\n"
            f"epochs ≤ {ft.max_epochs}, early stopping on {ft.monitor} (patience {ft.patience})")
