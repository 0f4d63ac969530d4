"""LSL marker outlet for paradigm events: GDF codes as text (``"769"``) on a ``Markers`` stream."""

from __future__ import annotations

from bci_app.errors import StreamError
from bci_app.lsl_config import configure_lsl
from bci_app.paradigm.timing import ParadigmEvent


class LslMarkerOutlet:
    """A pylsl outlet: type ``Markers``, 1 string channel, irregular rate.

    Subscribe it to a paradigm: ``paradigm.subscribe(outlet)``; events without a GDF code are not
    sent. Timestamps are pushed as given (the paradigm's clock should be ``pylsl.local_clock``).
    """

    def __init__(self, name: str = "bci-app-markers", source_id: str = "bci-app-markers") -> None:
        configure_lsl()
        import pylsl

        info = pylsl.StreamInfo(name, "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, source_id)
        try:
            self._outlet = pylsl.StreamOutlet(info)
        except (RuntimeError, OSError) as exc:
            raise StreamError(f"cannot create LSL marker outlet {name!r}: {exc}") from exc
        self.name = name
        self.source_id = source_id

    def push(self, code: int | str, timestamp: float) -> None:
        """Send one marker ``str(code)`` stamped ``timestamp`` (LSL clock seconds)."""
        if self._outlet is None:
            raise StreamError(f"LSL marker outlet {self.name!r} is closed")
        self._outlet.push_sample([str(code)], float(timestamp))

    def __call__(self, event: ParadigmEvent) -> None:
        if event.code is not None:
            self.push(event.code, event.timestamp)

    def have_consumers(self) -> bool:
        return self._outlet is not None and self._outlet.have_consumers()

    def close(self) -> None:
        self._outlet = None

    def __enter__(self) -> LslMarkerOutlet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
