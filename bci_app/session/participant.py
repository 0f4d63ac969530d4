"""What a participant's session keeps, done off the UI thread: after training, the adapter and the
calibration report go into the session folder; "continue a previous session" loads the latest
adapter of the participant, checked against the base and the headset's channels.

Both start on the session's training thread (:class:`~bci_app.session.training.TrainingRunner`): the
training job's ``to_model`` calls :func:`keep_outcome`, which writes the report on a thread of its
own once the model can be installed; :func:`load_previous` is a job of its own.
Their results reach the session as a ``saved`` record through its inbox. :class:`ParticipantFiles`
holds the folder and what it keeps.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bci_app.errors import BCIError, ModelError
from bci_app.io.paradigm_file import save_paradigm
from bci_app.io.participant import SessionFolder, previous_adapters
from bci_app.models.adapters import read_adapter_metadata
from bci_app.online.calibrate import adapted_decoder_model
from bci_app.session.messages import Inbox, ReportFailed
from bci_app.vocabulary import normalize_ch_name

if TYPE_CHECKING:
    from bci_app.config import AppConfig
    from bci_app.io.participant import SessionFolder
    from bci_app.online.decoder import DecoderModel
    from bci_app.session.observers import EventHub

log = logging.getLogger(__name__)


@dataclass
class Saved:
    """What the session folder holds now: the adapter, the report (object, PNGs, path)."""

    adapter: Path | None = None
    report: Any = None
    report_pngs: dict[str, bytes] = field(default_factory=dict)
    report_path: Path | None = None
    note: str = ""


@dataclass(frozen=True)
class FilesSaved:
    """Message: the participant's folder got the adapter and/or report (``saved``)."""

    saved: Saved


@dataclass(frozen=True)
class LoadedAdapter:
    """The result of :func:`load_previous`: which adapter, its metadata and its decoder model."""

    path: Path
    metadata: dict[str, Any]
    model: DecoderModel


def keep_outcome(outcome: Any, folder: SessionFolder | None, config: AppConfig, *,
                 post: Callable[[Saved], None],
                 started: Callable[[threading.Thread], None] | None = None) -> DecoderModel:
    """``to_model`` of the calibration job, on the training thread: prepare the decoder model (so
    installing it costs the UI thread nothing) and, with a participant folder, save the adapter there.
    Returns the decoder model at once, to be installed; the calibration report (seconds of figures)
    is written after it on a thread of its own (handed to ``started``, so it can be waited for), which
    then ``post``-s what was saved, so the first adapted decision never waits for the report."""
    model = outcome.decoder_model.prepare(config.online.fast)
    if folder is None:
        return model
    saved = Saved()
    saved.adapter = outcome.save(folder.adapter_path)
    writer = threading.Thread(target=_write_report, args=(outcome, folder, config, saved, post), name="bci-report",
                              daemon=True)
    writer.start()
    if started is not None:
        started(writer)
    return model


def _write_report(outcome: Any, folder: SessionFolder, config: AppConfig, saved: Saved,
                  post: Callable[[Saved], None]) -> None:
    """Write the calibration report of ``outcome`` into ``folder`` and ``post`` ``saved`` with it (or
    with a note saying why it could not be written: the adapter is saved either way)."""
    from bci_app.report import write_calibration_report  # heavy (matplotlib, mne): loaded once a report is written

    try:
        saved.report = write_calibration_report(outcome, folder.report_path, paradigm=config.paradigm,
                                                preprocessing=config.preprocessing)
        saved.report_path = folder.report_path
        saved.report_pngs = saved.report.figure_pngs()
    except Exception as exc:  # noqa: BLE001 - the adapter is saved; the report's failure is said, not fatal
        log.exception("the calibration report could not be written")
        saved.note = f"the calibration report could not be written: {exc}"
    post(saved)


def add_online_run(saved: Saved, scores: dict, title: str) -> Saved:
    """Add an online run's confusion matrix to the report and save it again (worker thread)."""
    saved.report.add_scored_run(scores, title=title)
    saved.report.save(saved.report_path)
    saved.report_pngs = saved.report.figure_pngs()
    return saved


def check_adapter_fits(metadata: dict[str, Any], ch_names: Sequence[str], path: Path) -> None:
    """The adapter's channels (those its headset had) must be on this headset: ModelError naming
    the ones missing."""
    have = {normalize_ch_name(c) for c in ch_names}
    spec = metadata.get("preprocessing", {})
    wanted = [c for c in spec.get("ch_names", []) if c not in set(spec.get("missing", []))]
    missing = [c for c in wanted if normalize_ch_name(c) not in have]
    if missing:
        raise ModelError(f"the adapter {path} was calibrated with channels this headset lacks: {', '.join(missing)}; "
                         "map the channels as in that session, or calibrate again")


def load_previous(path: Path, ch_names: Sequence[str], fast: bool) -> Generator[Any, None, LoadedAdapter]:
    """A training-thread job (no progress records): check and load the adapter ``path`` for a
    headset with model-input channels ``ch_names``; returns :class:`LoadedAdapter` (model prepared)."""
    yield from ()  # a job without progress records
    check_adapter_fits(read_adapter_metadata(path), ch_names, path)
    model, info = adapted_decoder_model(path)
    model.prepare(fast)
    return LoadedAdapter(Path(path), info, model)


class ParticipantFiles:
    """The participant's session folder (:attr:`folder`, ``None``: nothing is kept by itself) and
    what it holds (:attr:`saved`): opened by :meth:`start`, filled on the training thread
    (:func:`keep_outcome`) and by :meth:`add_online_run` on a worker thread; both arrive as
    messages through ``inbox`` and become ``saved`` (or ``error``) events."""

    def __init__(self, hub: EventHub, inbox: Inbox) -> None:
        self.folder: SessionFolder | None = None
        self.saved: Saved | None = None
        #: scored online runs added to the report in this session
        self.online_runs = 0
        self._hub, self._inbox = hub, inbox
        self._writers: list[threading.Thread] = []  # reports being written (keep_outcome's threads)
        inbox.handle(FilesSaved, self._on_saved)
        inbox.handle(ReportFailed, lambda m: hub.error(
            "online", f"the online run could not be added to the report: {m.error}", m.error))

    def start(self, directory: str | Path, participant: str) -> bool:
        """Open a new session folder for ``participant`` under ``directory``."""
        try:
            self.folder = SessionFolder.create(directory, participant)
        except (BCIError, OSError) as exc:
            self._hub.error("recording", f"cannot open the participant's folder: {exc}", exc)
            return False
        self.saved, self.online_runs = None, 0
        log.info("participant %s: files go to %s", self.folder.participant, self.folder.path)
        return True

    def track(self, writer: threading.Thread) -> None:
        """A thread writing into the session folder, to be waited for by :meth:`wait_written`."""
        self._writers = [t for t in self._writers if t.is_alive()] + [writer]

    def wait_written(self, timeout: float | None = None) -> bool:
        """Wait for the reports being written (``timeout`` s each at most); True when none is left."""
        for writer in self._writers:
            writer.join(timeout)
        self._writers = [t for t in self._writers if t.is_alive()]
        return not self._writers

    def keep_paradigm(self, paradigm: Any) -> Path | None:
        """Write the paradigm set-up ``paradigm`` (a :class:`~bci_app.config.ParadigmConfig`) into the
        session folder as ``paradigm.yaml`` (``None`` without a participant, or with an ``error`` event
        when it cannot be written)."""
        if self.folder is None:
            return None
        try:
            return save_paradigm(self.folder.path, paradigm)
        except OSError as exc:
            self._hub.error("recording", f"the paradigm set-up could not be saved in {self.folder.path}: {exc}", exc)
            return None

    def recording_path(self, kind: str) -> Path | None:
        """Where the participant's ``kind`` recording goes (``None`` without a participant)."""
        return self.folder.recording_path(kind) if self.folder is not None else None

    def previous_adapter(self, directory: str | Path) -> Path | None:
        """The participant's latest adapter from an earlier session (None without one or no participant)."""
        if self.folder is None:
            return None
        earlier = [p for p in previous_adapters(directory, self.folder.participant) if p.parent != self.folder.path]
        return earlier[0] if earlier else None

    def previous_job(self, path: str | Path | None, directory: str | Path, ch_names: Sequence[str] | None,
                     fast: bool) -> Generator[Any, None, LoadedAdapter] | None:
        """The training-thread job loading the adapter ``path`` (default: the participant's latest under
        ``directory``) for a headset with model-input channels ``ch_names`` (``None``: not connected);
        ``None`` with an ``error`` event when there is none or no headset to check it against."""
        adapter = Path(path) if path is not None else self.previous_adapter(directory)
        if adapter is None:
            self._hub.error("training", "no earlier adapter of this participant to continue with; calibrate first")
            return None
        if ch_names is None:
            self._hub.error("training", "connect the headset before loading an adapter: its channels are checked")
            return None
        return load_previous(adapter, ch_names, fast)

    def add_online_run(self, score: dict | None) -> None:
        """Add a scored online run to the calibration report and save it again, on a worker thread."""
        saved = self.saved
        if saved is None or saved.report is None or not score or not score.get("n_trials"):
            return
        self.online_runs += 1
        title = f"Online run {self.online_runs}"

        def work() -> None:
            try:
                self._inbox.post(FilesSaved(add_online_run(saved, score, title)))
            except Exception as exc:  # noqa: BLE001 - becomes an error event
                self._inbox.post(ReportFailed(exc))

        threading.Thread(target=work, name="bci-report", daemon=True).start()

    def _on_saved(self, message: FilesSaved) -> None:
        self.saved = message.saved
        if message.saved.note:
            self._hub.error("training", message.saved.note)
        self._hub.emit("saved", message.saved)


__all__ = ["ParticipantFiles", "Saved", "LoadedAdapter", "keep_outcome", "add_online_run", "check_adapter_fits", "load_previous"]
