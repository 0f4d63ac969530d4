"""What a participant's session keeps, done off the UI thread: after training, the adapter and the
calibration report go into the session folder; "continue a previous session" loads the latest
adapter of the participant, checked against the base and the headset's channels.

Both run on the session's training thread (:class:`~bci_app.session.training.TrainingRunner`): the
training job's ``to_model`` calls :func:`keep_outcome`; :func:`load_previous` is a job of its own.
Their results reach the session as a ``saved`` record through its inbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bci_app.errors import ModelError

if TYPE_CHECKING:
    from bci_app.config import AppConfig
    from bci_app.io.participant import SessionFolder
    from bci_app.online.decoder import DecoderModel

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
class LoadedAdapter:
    """The result of :func:`load_previous`: which adapter, its metadata and its decoder model."""

    path: Path
    metadata: dict[str, Any]
    model: DecoderModel


def keep_outcome(outcome: Any, folder: SessionFolder | None, config: AppConfig, *,
                 post: Callable[[Saved], None]) -> DecoderModel:
    """``to_model`` of the calibration job, on the training thread: prepare the decoder model (so
    installing it costs the UI thread nothing), then, with a participant folder, save the adapter
    and the calibration report there and ``post`` what was saved. Returns the decoder model."""
    model = outcome.decoder_model.prepare(config.online.fast)
    if folder is None:
        return model
    from bci_app.report import write_calibration_report

    saved = Saved()
    saved.adapter = outcome.save(folder.adapter_path)
    try:
        saved.report = write_calibration_report(outcome, folder.report_path, paradigm=config.paradigm,
                                                preprocessing=config.preprocessing)
        saved.report_path = folder.report_path
        saved.report_pngs = saved.report.figure_pngs()
    except Exception as exc:  # noqa: BLE001 - the adapter is saved; the report's failure is said, not fatal
        log.exception("the calibration report could not be written")
        saved.note = f"the calibration report could not be written: {exc}"
    post(saved)
    return model


def add_online_run(saved: Saved, scores: dict, title: str) -> Saved:
    """Add an online run's confusion matrix to the report and save it again (worker thread)."""
    saved.report.add_scored_run(scores, title=title)
    saved.report.save(saved.report_path)
    saved.report_pngs = saved.report.figure_pngs()
    return saved


def check_adapter_fits(metadata: dict[str, Any], ch_names: Sequence[str], path: Path) -> None:
    """The adapter's channels (those its headset had) must be on this headset: ModelError naming
    the ones missing."""
    from bci_app.signal.channels import normalize_ch_name

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
    from bci_app.models.adapters import read_adapter_metadata
    from bci_app.online.calibrate import adapted_decoder_model

    yield from ()  # a job without progress records
    check_adapter_fits(read_adapter_metadata(path), ch_names, path)
    model, info = adapted_decoder_model(path)
    model.prepare(fast)
    return LoadedAdapter(Path(path), info, model)


__all__ = ["Saved", "LoadedAdapter", "keep_outcome", "add_online_run", "check_adapter_fits", "load_previous"]
