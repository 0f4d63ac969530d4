"""From calibration data held in memory (the session's) to a fine-tuning job and a decoder model.

The same steps as ``bci-app calibrate`` (:func:`calibration.finetune.prepare_calibration`), on a
:class:`~bci_app.io.recording.Recording` built by the session instead of files, cut at the paradigm's
GDF cues; then the LoRA job (:func:`calibration.finetune.finetune`) as a generator the session runs
in a thread.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from bci_app.config import AppConfig, resolve_lora
from bci_app.io.recording import Recording
from bci_app.online.decoder import DecoderModel
from bci_app.signal.preprocess import PreprocessingSpec


@dataclass
class CalibrationJob:
    """``job`` yields :class:`calibration.finetune.Progress` and returns the FinetuneResult;
    ``cancel`` stops it between batches; ``to_model(result)`` gives the adapted DecoderModel."""

    job: Generator
    cancel: threading.Event
    model: nn.Module
    spec: PreprocessingSpec
    classes: tuple[str, ...]
    n_trials: int
    n_rejected: int
    name: str

    def to_model(self, result: Any) -> DecoderModel:
        meta = {"finetune": result.metrics() if hasattr(result, "metrics") else {}, "n_trials": self.n_trials}
        return DecoderModel(self.model, self.spec, self.classes, name=self.name, metadata=meta)


def base_decoder_model(model: nn.Module, meta: dict[str, Any], name: str = "base") -> DecoderModel:
    """A :class:`DecoderModel` for a base model loaded with ``load_base_model`` (no alignment)."""
    spec = PreprocessingSpec.from_dict(meta["preprocessing"]).with_alignment(None)
    return DecoderModel(model, spec, tuple(meta["classes"]), name=name)


def window_tmin(meta: dict[str, Any]) -> float:
    """Seconds from the cue to the start of the model's window (base metadata ``window.tmin_s``)."""
    return float(meta.get("window", {}).get("tmin_s", 0.5))


def calibration_job(
    recording: Recording, model: nn.Module, meta: dict[str, Any], config: AppConfig, *, name: str = "adapted",
    labels_override: np.ndarray | None = None,
) -> CalibrationJob:
    """Prepare the fine-tuning of ``model`` (a fresh base; adapters are added to it) on the GDF
    cues (769–772) of ``recording``. ``labels_override`` (tests: shuffled labels) replaces the
    labels of the clean trials. Raises :class:`CalibrationError` when too few clean trials remain."""
    from calibration.finetune import finetune, prepare_calibration

    data = prepare_calibration([recording], config, model=model, meta=meta, preset="gdf")
    y = data.y if labels_override is None else np.asarray(labels_override)
    cancel = threading.Event()
    resolved = resolve_lora(config.lora, len(y))
    gen = finetune(model, data.X, y, lora=resolved, config=config.finetune, cancel=cancel, classes=data.classes,
                   rejection_note=data.rejection_note(config))
    n_rejected = sum(data.rejected_per_class.values())
    return CalibrationJob(gen, cancel, model, data.spec, tuple(data.classes), int(len(y)), n_rejected, name)
