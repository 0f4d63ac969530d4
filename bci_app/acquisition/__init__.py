"""Sources behind one ``Stream`` contract, the ring buffer, and LSL publishing.

Backends import their heavy dependency (pylsl, brainflow, mne) only when connecting.
"""

from bci_app.acquisition.base import (
    GAP_MARKER,
    Stream,
    StreamCounters,
    StreamEvent,
    StreamInfo,
    StreamState,
)
from bci_app.acquisition.brainflow import StreamBrainFlow
from bci_app.acquisition.file import StreamFile
from bci_app.acquisition.lsl import LslPlayer, StreamLSL
from bci_app.acquisition.ringbuffer import ReadResult, RingBuffer
from bci_app.acquisition.simulated import StreamSimulated  # noqa: F401  (simulated motor-imagery headset)

__all__ = [
    "GAP_MARKER",
    "LslPlayer",
    "ReadResult",
    "RingBuffer",
    "Stream",
    "StreamBrainFlow",
    "StreamCounters",
    "StreamEvent",
    "StreamFile",
    "StreamInfo",
    "StreamLSL",
    "StreamSimulated",
    "StreamState",
]
