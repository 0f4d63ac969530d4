"""Decoder models straight from a base, and the base's window timing.

Calibration itself (recordings -> prepared trials -> fine-tuning -> gate -> decoder model) is the one
:class:`calibration.job.CalibrationJob`; this module only holds what the online side needs without it.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from bci_app.online.decoder import DecoderModel
from bci_app.signal.preprocess import PreprocessingSpec


def base_decoder_model(model: nn.Module, meta: dict[str, Any], name: str = "base") -> DecoderModel:
    """A :class:`DecoderModel` for a base model loaded with ``load_base_model`` (no alignment)."""
    spec = PreprocessingSpec.from_dict(meta["preprocessing"]).with_alignment(None)
    return DecoderModel(model, spec, tuple(meta["classes"]), name=name,
                        metadata={"window": dict(meta.get("window", {}))})


def window_tmin(meta: dict[str, Any]) -> float:
    """Seconds from the cue to the start of the model's window (base metadata ``window.tmin_s``)."""
    return float(meta.get("window", {}).get("tmin_s", 0.5))
