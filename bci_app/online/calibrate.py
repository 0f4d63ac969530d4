"""Decoder models straight from a base or from a saved adapter, (the window timing is :func:`bci_app.vocabulary.window_tmin`).

Calibration itself (recordings -> prepared trials -> fine-tuning -> gate -> decoder model) is the one
:class:`calibration.job.CalibrationJob`; this module only holds what the online side needs without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from bci_app.errors import ConfigError, ModelError
from bci_app.models.adapters import load_adapter, read_adapter_metadata
from bci_app.models.pretrained import load_base_model, restrict_classes
from bci_app.online.decoder import DecoderModel
from bci_app.signal.preprocess import PreprocessingSpec


def base_decoder_model(model: nn.Module, meta: dict[str, Any], name: str = "base") -> DecoderModel:
    """A :class:`DecoderModel` for a base model loaded with ``load_base_model`` (no alignment)."""
    spec = PreprocessingSpec.from_dict(meta["preprocessing"]).with_alignment(None)
    return DecoderModel(model, spec, tuple(meta["classes"]), name=name,
                        metadata={"window": dict(meta.get("window", {}))})


def adapted_decoder_model(adapter: str | Path) -> tuple[DecoderModel, dict[str, Any]]:
    """(DecoderModel, adapter metadata) from an adapter (``.safetensors`` + ``.json``) whose metadata
    names its base model (as saved by the calibration job)."""
    info = read_adapter_metadata(adapter)
    for key in ("base_model", "classes", "preprocessing"):
        if key not in info:
            raise ModelError(f"adapter {adapter} lacks {key!r} in its metadata; it was not saved by bci-app calibration")
    try:
        model, meta = load_base_model(info["base_model"])
        model, _ = restrict_classes(model, meta, info["classes"])
    except ModelError as exc:
        raise ModelError(f"adapter {adapter}: its base model and classes do not load: {exc}") from exc
    load_adapter(model, adapter)
    model.eval()
    try:
        spec = PreprocessingSpec.from_dict(info["preprocessing"])
    except ConfigError as exc:
        raise ModelError(f"adapter {adapter}: preprocessing in its metadata is invalid: {exc}") from exc
    return DecoderModel(model, spec, tuple(info["classes"]), name=Path(adapter).name), info
