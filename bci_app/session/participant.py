"""What a participant's session keeps, done off the UI thread: after training, the adapter and the
calibration report go into the session folder; "continue a previous session" loads the latest
adapter of the participant, checked against the base and the headset's channels.

Both start on the session's training thread (:class:`~bci_app.session.training.TrainingRunner`): the
training job's ``to_model`` calls :func:`keep_outcome`, which has the report drawn once the model can
be installed; :func:`load_previous` is a job of its own. The report is drawn in a process of its
own (:mod:`bci_app.report.process`: its figures never hold the app's interpreter), waited for on a
``bci-report`` thread; reports are written one at a time, each after the one before (an online run
is added to the calibration report once that is written). Their results reach the session as a
``saved`` record through its inbox. :class:`ParticipantFiles` holds the folder and what it keeps.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bci_app.errors import BCIError, ModelError, ReportError
from bci_app.io.paradigm_file import save_paradigm
from bci_app.io.participant import SessionFolder, previous_adapters
from bci_app.models.adapters import read_adapter_metadata
from bci_app.online.calibrate import adapted_decoder_model
from bci_app.report.inputs import report_inputs
from bci_app.report.process import render_calibration_report, render_online_run
from bci_app.session.messages import Inbox, ReportFailed
from bci_app.vocabulary import normalize_ch_name

if TYPE_CHECKING:
    from bci_app.config import AppConfig
    from bci_app.io.participant import SessionFolder
    from bci_app.online.decoder import DecoderModel
    from bci_app.report.rendered import RenderedReport
    from bci_app.session.finishing import Finishing
    from bci_app.session.observers import EventHub

log = logging.getLogger(__name__)


@dataclass
class Saved:
    """What the session folder holds now: the adapter, the report (as drawn, its PNGs, its path);
    ``note`` and ``error``: why the report could not be written (the adapter is saved either way)."""

    adapter: Path | None = None
    folder: Path | None = None  #: the session folder it belongs to
    report: RenderedReport | None = None
    report_pngs: dict[str, bytes] = field(default_factory=dict)
    report_path: Path | None = None
    note: str = ""
    error: ReportError | None = None


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
                 started: Callable[[threading.Thread, Saved], None] | None = None) -> DecoderModel:
    """``to_model`` of the calibration job, on the training thread: prepare the decoder model (so
    installing it costs the UI thread nothing) and, with a participant folder, save the adapter there.
    Returns the decoder model at once, to be installed; the calibration report (seconds of figures)
    is drawn after it in a process of its own, waited for on a thread (handed to ``started`` with the
    :class:`Saved` it fills, so it can be waited for), which then ``post``-s what was saved, so the
    first adapted decision never waits for the report."""
    model = outcome.decoder_model.prepare(config.online.fast)
    if folder is None:
        return model
    saved = Saved(folder=folder.path)
    saved.adapter = outcome.save(folder.adapter_path)
    inputs = report_inputs(outcome)  # what the report needs, without torch: the outcome stays here
    writer = threading.Thread(target=_write_report, args=(inputs, folder, config, saved, post), name="bci-report",
                              daemon=True)
    writer.start()
    if started is not None:
        started(writer, saved)
    return model


def _write_report(inputs: Any, folder: SessionFolder, config: AppConfig, saved: Saved,
                  post: Callable[[Saved], None]) -> None:
    """Draw the calibration report of ``inputs`` into ``folder`` in a process of its own and ``post``
    ``saved`` with it (or with a note and the error saying why it could not be written: the adapter is
    saved either way)."""
    try:
        saved.report = render_calibration_report(inputs, folder.report_path, paradigm=config.paradigm,
                                                 preprocessing=config.preprocessing)
        saved.report_path = folder.report_path
        saved.report_pngs = saved.report.figure_pngs()
    except ReportError as exc:
        log.error("the calibration report could not be written: %s\n%s", exc, exc.details)
        saved.note, saved.error = f"the calibration report could not be written: {exc} (details in the log)", exc
    post(saved)


def add_online_run(saved: Saved, scores: dict, title: str) -> Saved:
    """Add an online run's confusion matrix to the report and save it again (drawn in a process of
    its own; call it on a worker thread). Raises :class:`ReportError`."""
    saved.report = render_online_run(saved.report, scores, title, saved.report_path)
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

    def __init__(self, hub: EventHub, inbox: Inbox, finishing: Finishing) -> None:
        self.folder: SessionFolder | None = None
        self.saved: Saved | None = None
        #: scored online runs added to the report in this session
        self.online_runs = 0
        self._hub, self._inbox, self._finishing = hub, inbox, finishing
        self._writers: list[threading.Thread] = []  # reports being written, one after the other
        self._drawing: list[threading.Thread] = []  # those of this session's folder
        self._latest: Saved | None = None  # the newest calibration report (being written or written)
        inbox.handle(FilesSaved, self._on_saved)
        inbox.handle(ReportFailed, self._on_failed)

    def start(self, directory: str | Path, participant: str) -> bool:
        """Open a new session folder for ``participant`` under ``directory``."""
        try:
            self.folder = SessionFolder.create(directory, participant)
        except (BCIError, OSError) as exc:
            self._hub.error("recording", f"cannot open the participant's folder: {exc}", exc)
            return False
        self.saved, self._latest, self.online_runs = None, None, 0
        self._drawing = []  # an earlier session's report may still be drawn: not this session's
        log.info("participant %s: files go to %s", self.folder.participant, self.folder.path)
        return True

    def track(self, writer: threading.Thread, saved: Saved | None = None) -> None:
        """A thread writing into the session folder, to be waited for by :meth:`wait_written`; with
        ``saved``, the calibration report it fills (online runs are added to it once it is written)."""
        self._writers = [t for t in self._writers if t.is_alive()] + [writer]
        self._drawing.append(writer)
        self._finishing.track("drawing the calibration report" if saved is not None
                              else "adding the online run to the report", writer)
        if saved is not None:
            self._latest = saved

    @property
    def drawing(self) -> bool:
        """A report of this session is being drawn (or an online run added to it): from the writer's
        start until the session has taken what it posted (the frame that shows the report)."""
        return bool(self._drawing)

    def _taken(self) -> None:
        """A writer's message was taken: the writers that have ended have all posted theirs."""
        self._drawing = [t for t in self._drawing if t.is_alive()]

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
        """Add a scored online run to the calibration report and save it again, on a worker thread,
        after the reports being written (the calibration report too, when it is not written yet)."""
        saved = self._latest or self.saved
        if saved is None or not score or not score.get("n_trials"):
            return
        self.online_runs += 1
        title = f"Online run {self.online_runs}"
        before = [t for t in self._writers if t.is_alive()]

        def work() -> None:
            for writer in before:  # one report at a time, in order
                writer.join()
            try:
                if saved.report is None:
                    raise ReportError(f"there is no calibration report to add {title} to ({saved.note or 'none written'})")
                self._inbox.post(FilesSaved(add_online_run(saved, score, title)))
            except ReportError as exc:
                log.error("%s could not be added to the report: %s\n%s", title, exc, exc.details)
                self._inbox.post(ReportFailed(exc))

        writer = threading.Thread(target=work, name="bci-report", daemon=True)
        writer.start()
        self.track(writer)

    def _on_failed(self, message: ReportFailed) -> None:
        self._taken()
        self._hub.error("online", f"the online run could not be added to the report: {message.error}", message.error)

    def _on_saved(self, message: FilesSaved) -> None:
        self._taken()
        here = self.folder.path if self.folder is not None else None
        if message.saved.folder is not None and message.saved.folder != here:  # the session before this one
            log.info("the report of the earlier session in %s is written", message.saved.folder)
            return
        self.saved = message.saved
        if message.saved.note:
            self._hub.error("training", message.saved.note, message.saved.error)
        self._hub.emit("saved", message.saved)


__all__ = ["ParticipantFiles", "Saved", "LoadedAdapter", "keep_outcome", "add_online_run", "check_adapter_fits", "load_previous"]
