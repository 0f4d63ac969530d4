"""The session's LSL ``Markers`` stream: the paradigm's GDF codes for LabRecorder and other programs
(calibration and cued online trials; trials the quality check rejects get 1023)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bci_app.errors import BCIError
from bci_app.paradigm.markers import LslMarkerOutlet

if TYPE_CHECKING:
    from bci_app.paradigm.markers import LslMarkerOutlet
    from bci_app.session.finishing import Finishing
    from bci_app.session.observers import EventHub

#: name of the LSL Markers stream the session publishes the paradigm's GDF codes on
CUE_STREAM = "bci-app-markers"


class CuePublisher:
    """Made on first use, once per session (``source_id`` unique to it); an ``error`` event when
    LSL cannot make it, and the cues then reach the recording only. It closes on a thread tracked
    by ``finishing`` (liblsl joins its I/O threads: 25-50 ms)."""

    def __init__(self, hub: EventHub, source_id: str, finishing: Finishing) -> None:
        self._hub, self._finishing = hub, finishing
        self.source_id = source_id
        self._outlet: LslMarkerOutlet | None = None

    def outlet(self) -> LslMarkerOutlet | None:
        """The outlet (made now when needed); ``None`` when it cannot be made."""
        if self._outlet is None:
            try:
                self._outlet = LslMarkerOutlet(CUE_STREAM, self.source_id)
            except BCIError as exc:
                self._hub.error("calibration", f"cues are not published over LSL: {exc}", exc)
                return None
        return self._outlet

    def close(self) -> None:
        if self._outlet is not None:
            self._finishing.start("closing the cue stream", self._outlet.close)
            self._outlet = None


__all__ = ["CUE_STREAM", "CuePublisher"]
