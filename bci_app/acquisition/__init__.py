"""Sources behind one ``Stream`` contract, the ring buffer, and recording."""

from bci_app.acquisition.base import Stream, StreamCounters, StreamEvent, StreamInfo, StreamState
from bci_app.acquisition.ringbuffer import ReadResult, RingBuffer

__all__ = ["ReadResult", "RingBuffer", "Stream", "StreamCounters", "StreamEvent", "StreamInfo", "StreamState"]
