"""Online decoding: sliding-window :class:`Decoder`, smoothing, prediction outputs (LSL, XDF).

- :mod:`bci_app.online.decoder`: :class:`Decoder`, :class:`DecoderModel`, :class:`Prediction`,
  :class:`Smoother` (decisions tied to sample indices; gaps and NaN handled; atomic hot swap).
- :mod:`bci_app.online.fast`: folded/traced ATCNet inference with the same outputs (within 1e-5).
- :mod:`bci_app.online.outputs`: :class:`PredictionOutlet` (LSL), :class:`RecorderSink` (XDF).
- :mod:`bci_app.online.runner`: :class:`DecoderRunner`, the live polling thread.
"""

from bci_app.online.decoder import Decoder, DecoderCounters, DecoderModel, Prediction, Smoother
from bci_app.online.outputs import PredictionOutlet, RecorderSink
from bci_app.online.runner import DecoderRunner

__all__ = [
    "Decoder", "DecoderCounters", "DecoderModel", "DecoderRunner", "Prediction", "PredictionOutlet",
    "RecorderSink", "Smoother",
]
