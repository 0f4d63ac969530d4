"""Online decoding: sliding-window :class:`Decoder`, smoothing, prediction outputs (LSL, XDF).

- :mod:`bci_app.online.decoder`: :class:`Decoder`, :class:`DecoderModel`, :class:`Prediction`,
  :class:`Smoother` (decisions tied to sample indices; gaps and NaN handled; atomic hot swap).
- :mod:`bci_app.online.fast`: folded/traced ATCNet inference with the same outputs (within 1e-5).
- :mod:`bci_app.online.outputs`: :class:`PredictionOutlet` (LSL), :class:`RecorderSink` (XDF).
- :mod:`bci_app.online.runner`: :class:`DecoderRunner`, the live polling thread.
"""

from __future__ import annotations

import importlib

#: public name -> its module; loaded on first use (PEP 562), so the Qt- and torch-free parts
#: (:mod:`bci_app.online.scoring`, the report's metrics) import without torch
_HOMES = {
    "Decoder": "decoder", "DecoderCounters": "decoder", "DecoderModel": "decoder", "Prediction": "decoder",
    "Smoother": "decoder", "PredictionOutlet": "outputs", "RecorderSink": "outputs", "DecoderRunner": "runner",
}

__all__ = [
    "Decoder", "DecoderCounters", "DecoderModel", "DecoderRunner", "Prediction", "PredictionOutlet",
    "RecorderSink", "Smoother",
]


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(f"bci_app.online.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'bci_app.online' has no attribute {name!r}")
