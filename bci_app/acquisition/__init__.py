"""Sources behind one ``Stream`` contract, the ring buffer, and recording."""

from bci_app.acquisition.base import Stream, StreamCounters, StreamEvent, StreamInfo, StreamState
from bci_app.acquisition.ringbuffer import ReadResult, RingBuffer
from bci_app.acquisition.simulated import StreamSimulated  # noqa: F401  (simulated motor-imagery headset)

__all__ = ["ReadResult", "RingBuffer", "Stream", "StreamCounters", "StreamEvent", "StreamInfo", "StreamState"]
